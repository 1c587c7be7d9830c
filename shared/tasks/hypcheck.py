"""The hypothesis-only check of the synthetic tasks: fine-tune MiniLM-L6 on the second text alone.

Reproduces: prompt_transfer.md §4.2 "Hypothesis-only check" ("a second-text-only fine-tuning run
on MiniLM-L6 must stay within chance + 10 points on every synthetic task; otherwise the generator
is fixed before any result is reported. The data card records the value"), apet.md §4.3 / §6 T5.

Chance is the majority-class share of the test split (apet.md §4.2). The run: the encoder with a
fresh linear head on the [CLS] state (``AutoModelForSequenceClassification``), full fine-tuning,
AdamW, a few epochs, the epoch with the best dev accuracy scored on test. It needs torch and
transformers (imported inside the functions); on 2 CPU cores one task takes several minutes.

`run_hypothesis_only` reads only its arguments (and the stdlib), so it can also run from this
file alone on a machine where the package is not installed.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MARGIN = 0.10


def run_hypothesis_only(
    splits: dict[str, Sequence[Any]],
    model_dir: str | os.PathLike[str],
    num_classes: int,
    *,
    epochs: int = 4,
    lr: float = 5e-5,
    batch_size: int = 32,
    max_len: int = 64,
    seed: int = 0,
    device: str | None = None,
    inputs: str = "second",
) -> dict[str, Any]:
    """Fine-tune on ``text_pair`` only; return dev/test accuracy, chance and the verdict.

    Args:
        splits: ``{"train", "dev", "test"}`` -> examples with ``text_pair`` and ``label``
            attributes, or ``[text, label, text_pair, ...]`` rows.
        model_dir: A Hugging Face model folder (MiniLM-L6: ``asset_path("minilm-l6")``).
        num_classes: C.
        epochs: Training epochs; the best dev epoch is kept.
        lr: AdamW learning rate.
        batch_size: Batch size.
        max_len: Truncation of the second text in tokens.
        seed: Torch seed.
        device: ``"cuda"``/``"cpu"`` (default: cuda if available).
        inputs: ``"second"`` (the check) or ``"pair"`` (both texts: a learnability reference).

    Returns:
        ``{"test_accuracy", "dev_accuracy", "best_epoch", "chance", "limit", "passes", ...}``.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    def rows(split: str) -> tuple[list[Any], list[int]]:
        texts: list[Any] = []
        labels = []
        for e in splits[split]:
            if isinstance(e, (list, tuple)):
                first, label, second = e[0], int(e[1]), e[2]
            else:
                first, label, second = e.text, int(e.label), e.text_pair
            if inputs == "pair":
                texts.append((first, second))
            else:
                texts.append(second if second is not None else first)
            labels.append(label)
        return texts, labels

    torch.manual_seed(seed)
    dev_name = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForSequenceClassification.from_pretrained(
        str(model_dir), num_labels=num_classes
    )
    model = model.float().to(dev_name)  # fp32 training even from a half-precision copy
    data = {s: rows(s) for s in ("train", "dev", "test")}

    def batches(split: str, shuffle: bool, epoch: int):
        texts, labels = data[split]
        order = list(range(len(texts)))
        if shuffle:
            g = torch.Generator().manual_seed(seed * 1000 + epoch)
            order = torch.randperm(len(texts), generator=g).tolist()
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            chunk = [texts[j] for j in idx]
            if inputs == "pair":
                args: tuple[Any, ...] = ([a for a, _ in chunk], [b for _, b in chunk])
            else:
                args = (chunk,)
            enc = tok(
                *args,
                padding=True,
                truncation=True,
                max_length=max_len,
                return_tensors="pt",
            ).to(dev_name)
            yield enc, torch.tensor([labels[j] for j in idx], device=dev_name)

    @torch.no_grad()
    def accuracy(split: str) -> float:
        model.eval()
        right = 0
        for enc, y in batches(split, False, 0):
            right += int((model(**enc).logits.argmax(-1) == y).sum())
        return right / len(data[split][1])

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    history = []
    best: tuple[float, float, int] = (-1.0, 0.0, 0)
    for epoch in range(1, epochs + 1):
        model.train()
        for enc, y in batches("train", True, epoch):
            loss = torch.nn.functional.cross_entropy(model(**enc).logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        dev, test = accuracy("dev"), accuracy("test")
        history.append({"epoch": epoch, "dev": dev, "test": test})
        if dev > best[0]:
            best = (dev, test, epoch)
    test_counts = Counter(data["test"][1])
    chance = max(test_counts.values()) / len(data["test"][1])
    return {
        "model": str(Path(model_dir).name),
        "input": "second text only" if inputs == "second" else "pair",
        "dev_accuracy": best[0],
        "test_accuracy": best[1],
        "best_epoch": best[2],
        "history": history,
        "chance": chance,
        "limit": chance + MARGIN,
        "passes": best[1] <= chance + MARGIN if inputs == "second" else None,
        "settings": {
            "epochs": epochs,
            "lr": lr,
            "batch_size": batch_size,
            "max_len": max_len,
            "seed": seed,
        },  # fmt: skip
    }


def result_path(name: str, split_seed: int) -> Path:
    """Where a task's check result is stored: ``home()/tasks/hypcheck-<name>-<seed>.json``."""
    from thunlp_repro.shared.paths import home

    return home() / "tasks" / f"hypcheck-{name}-{split_seed}.json"


def check_task(name: str, split_seed: int = 13, **kwargs: Any) -> dict[str, Any]:
    """Run the check for a registered synthetic task on the installed MiniLM-L6; store the result.

    The result is stored with the split fingerprint; `data_card` shows it while the fingerprint
    still matches.

    Raises:
        AssetMissingError: `minilm-l6` or the task's source is not installed.
    """
    from thunlp_repro.shared.assets import model_dir
    from thunlp_repro.shared.io import atomic_write_json
    from thunlp_repro.shared.tasks.base import get_task, split_fingerprint

    task = get_task(name)
    splits = task.load(split_seed)
    result = run_hypothesis_only(splits, model_dir("minilm-l6"), task.num_classes, **kwargs)
    result["fingerprint"] = split_fingerprint(splits)
    atomic_write_json(result_path(name, split_seed), result)
    return result


def stored_result(name: str, split_seed: int, fingerprint: str) -> dict[str, Any] | None:
    """A stored check result for these exact splits, or None."""
    path = result_path(name, split_seed)
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if data.get("fingerprint") == fingerprint else None
