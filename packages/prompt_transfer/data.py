"""Task data for prompt tuning: the registry's splits, tokenised once, with the label-word ids.

Reproduces: prompt_transfer.md §4.2 (tasks, label words; "the loader re-asserts single-token
status"), §4.3 (a fixed 200-example dev subset for selection, the full test split for scores) and
§2.2 (no hard-text template: the text follows the prompt region as `[CLS] x [SEP]` or
`[CLS] x1 [SEP] x2 [SEP]`). Texts are truncated to the task's `max_text_tokens` (specials
included) unless `data.max_length` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thunlp_repro.shared.errors import UsageError


@dataclass
class TaskData:
    """One task's encoded splits and verbalizer for one tokenizer."""

    name: str
    family: str
    label_ids: list[int]
    splits: dict[str, list[dict[str, Any]]]
    majority: dict[str, float]
    display_name: str

    @property
    def num_classes(self) -> int:
        return len(self.label_ids)


_CACHE: dict[tuple[Any, ...], TaskData] = {}


def seeded_subset(rows: list[Any], limit: int | None, seed: int) -> list[Any]:
    """`limit` rows drawn without replacement by `seed`, kept in their original order."""
    import random

    if limit is None or limit >= len(rows):
        return rows
    keep = sorted(random.Random(seed).sample(range(len(rows)), limit))
    return [rows[i] for i in keep]


def _majority(rows: list[dict[str, Any]]) -> float:
    counts: dict[int, int] = {}
    for r in rows:
        counts[r["label"]] = counts.get(r["label"], 0) + 1
    return max(counts.values()) / len(rows) if rows else float("nan")


def encode(tokenizer: Any, examples: list[Any], max_length: int) -> list[dict[str, Any]]:
    """Tokenise examples into rows of input ids, token types and the label."""
    texts = [e.text for e in examples]
    pairs = [e.text_pair for e in examples]
    enc = tokenizer(
        texts,
        pairs if any(p is not None for p in pairs) else None,
        truncation=True,
        max_length=max_length,
    )
    rows = []
    for i, e in enumerate(examples):
        row = {"input_ids": enc["input_ids"][i], "label": int(e.label)}
        if "token_type_ids" in enc:
            row["token_type_ids"] = enc["token_type_ids"][i]
        rows.append(row)
    return rows


def load_task(name: str, tokenizer: Any, cfg: Any) -> TaskData:
    """Splits of task `name` encoded for `tokenizer` (cached per process).

    `dev` is the fixed selection subset (`data.dev_eval_size`), `test` the full test split (or
    `data.test_limit` of it), `train` all of train (or `data.train_limit`).

    Raises:
        UsageError: unknown task, or a label word that is not a single token (names the word and
            the tokens it splits into).
    """
    from thunlp_repro.shared.corpora import tokenizer_fingerprint
    from thunlp_repro.shared.tasks import get_task, label_word_ids

    d = cfg.data
    key = (
        name,
        tokenizer_fingerprint(tokenizer),
        d.split_seed,
        d.train_limit,
        d.dev_eval_size,
        d.test_limit,
        d.max_length,
        d.verbalizer,
    )
    if key in _CACHE:
        return _CACHE[key]
    task = get_task(name)
    if task.num_classes == 0:
        raise UsageError(
            f"task '{name}' is a generation task; prompt transfer on MLM backbones "
            "needs a classification task"
        )
    label_ids = label_word_ids(task, tokenizer, d.verbalizer)
    raw = task.load(split_seed=d.split_seed)
    limits = {"train": d.train_limit, "dev": d.dev_eval_size, "test": d.test_limit}
    max_len = d.max_length or task.max_text_tokens
    splits = {
        s: encode(tokenizer, seeded_subset(raw[s], limits[s], d.split_seed), max_len)
        for s in ("train", "dev", "test")
    }
    data = TaskData(
        name=name,
        family=task.family,
        label_ids=label_ids,
        splits=splits,
        majority={s: _majority(rows) for s, rows in splits.items()},
        display_name=task.display_name,
    )
    _CACHE[key] = data
    return data


def collate(tokenizer: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Pad a list of rows into a batch (dynamic padding to the longest row)."""
    import torch

    width = max(len(r["input_ids"]) for r in rows)
    pad = tokenizer.pad_token_id or 0
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    types = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n] = torch.tensor(r["input_ids"])
        mask[i, :n] = 1
        if "token_type_ids" in r:
            types[i, :n] = torch.tensor(r["token_type_ids"])
    batch = {
        "input_ids": ids,
        "attention_mask": mask,
        "labels": torch.tensor([r["label"] for r in rows]),
    }
    if "token_type_ids" in rows[0]:
        batch["token_type_ids"] = types
    return batch


def eval_batches(tokenizer: Any, rows: list[dict[str, Any]], batch_size: int):
    """Length-sorted batches (less padding); yields (original indices, batch)."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        yield idx, collate(tokenizer, [rows[i] for i in idx])
