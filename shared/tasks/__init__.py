"""The shared task registry: every pipeline's tasks, labels, label words and seeded splits.

Reproduces: prompt_transfer.md §4.2 (mini tasks), §3.2 (paper tasks), apet.md §3.2 / §4.2,
offline-assets.md "Task ids used by every pipeline".

Importing this package registers all tasks; it imports no torch, transformers or datasets.
"""

from __future__ import annotations

from thunlp_repro.shared.tasks import bbc, hub, sentiment, sms, synthetic, trec  # noqa: F401
from thunlp_repro.shared.tasks.base import (
    TASKS,
    BuiltSplits,
    Example,
    HubSpec,
    Task,
    build_splits,
    cache_path,
    check_label_words,
    data_card,
    get_task,
    label_word_ids,
    load_splits,
    split_fingerprint,
)

__all__ = [
    "TASKS",
    "BuiltSplits",
    "Example",
    "HubSpec",
    "Task",
    "build_splits",
    "cache_path",
    "check_label_words",
    "data_card",
    "get_task",
    "label_word_ids",
    "load_splits",
    "split_fingerprint",
]
