"""Scoring a prompt on a task split through the frozen head (the matrix cells and dev curves).

Reproduces: prompt_transfer.md §2.7 ("Evaluation always uses t's template and t's label words";
accuracy, with macro-F1 as the secondary metric). Batches are length-sorted for less padding;
predictions come back in the split's order, so the result does not depend on the batch size.
The padded batches of a split are built once per task object and reused by every prompt.
"""

from __future__ import annotations

from typing import Any

import torch

from .data import TaskData, eval_batches


@torch.no_grad()
def predict(
    model: Any,
    tokenizer: Any,
    rows: list[dict[str, Any]],
    label_ids: list[int],
    batch_size: int = 64,
    prompt: torch.Tensor | None = None,
    batches: list[tuple[list[int], dict[str, torch.Tensor]]] | None = None,
) -> list[int]:
    """argmax over the label words at the mask slot, one prediction per row (in row order).

    The backbone is put in eval mode for the pass (no dropout at evaluation, also when
    `backbone_dropout=on` keeps it in train mode for PT) and restored afterwards.
    """
    device = model.prompt.device
    ids = torch.tensor(label_ids, device=device)
    preds = [0] * len(rows)
    was_training = model.mlm.training
    model.mlm.eval()
    try:
        for idx, batch in batches or eval_batches(tokenizer, rows, batch_size):
            batch = {k: v.to(device) for k, v in batch.items() if k != "labels"}
            scores = model(batch, ids, prompt)
            for i, p in zip(idx, scores.argmax(-1).tolist(), strict=True):
                preds[i] = p
    finally:
        model.mlm.train(was_training)
    return preds


def score(
    model: Any,
    tokenizer: Any,
    task: TaskData,
    split: str,
    batch_size: int = 64,
    prompt: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Accuracy and macro-F1 (in %) of a prompt on `task`'s split, with its predictions."""
    from thunlp_repro.shared.metrics import accuracy, macro_f1

    rows = task.splits[split]
    # a split's padded batches are built once and reused by every prompt scored on it (the
    # matrix scores 17 prompts per target), cached on the task object
    cache = task.__dict__.setdefault("_eval_batches", {})
    key = (split, batch_size, len(rows))
    if key not in cache:
        cache[key] = list(eval_batches(tokenizer, rows, batch_size))
    preds = predict(model, tokenizer, rows, task.label_ids, batch_size, prompt, cache[key])
    labels = [r["label"] for r in rows]
    classes = list(range(task.num_classes))
    return {
        "accuracy": 100.0 * accuracy(preds, labels),
        "macro_f1": 100.0 * macro_f1(preds, labels, classes),
        "n": len(rows),
        "preds": preds,
    }
