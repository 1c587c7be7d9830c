"""Bag-of-words logistic-regression surface baselines for the synthetic tasks (numpy only).

Reproduces: prompt_transfer.md §4.2 "Surface-cue baseline" (the data card reports a bag-of-words
logistic-regression score for each synthetic task) and a cheap lexical proxy of its
"Hypothesis-only check" (the MiniLM fine-tuning run itself is `hypcheck.py`).

Two views:

- ``pair``: binary features for the words of the first text (``p:w``), of the second text
  (``h:w``), the words only the second text has (``+w``) and only the first has (``-w``);
- ``second_text_only``: the words of the second text alone (what a hypothesis-only model sees).

Training: multinomial logistic regression, full-batch gradient descent with Adam, L2 picked on
dev from a small grid, scored on test. Deterministic (zero init, no sampling).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from thunlp_repro.shared.tasks.text import words

L2_GRID = (1e-4, 1e-3, 1e-2)
STEPS = 300
LR = 0.05
MIN_COUNT = 2


def pair_features(text: str, pair: str | None) -> list[str]:
    """Feature strings of the ``pair`` view."""
    a, b = set(words(text)), set(words(pair or ""))
    return (
        [f"p:{w}" for w in a]
        + [f"h:{w}" for w in b]
        + [f"+{w}" for w in b - a]
        + [f"-{w}" for w in a - b]
    )


def second_text_features(text: str, pair: str | None) -> list[str]:
    """Feature strings of the ``second_text_only`` view (the first text if there is no pair)."""
    return [f"h:{w}" for w in set(words(pair if pair is not None else text))]


class SparseBinary:
    """A binary feature matrix in CSR form with a bias column; products by `np.add.reduceat`.

    Args:
        rows: Feature strings per row.
        vocab: Feature -> column (features not in it are dropped).
    """

    def __init__(self, rows: Sequence[list[str]], vocab: dict[str, int]) -> None:
        bias = len(vocab)
        cols: list[int] = []
        ptr = [0]
        for feats in rows:
            cols.extend(sorted({vocab[f] for f in feats if f in vocab} | {bias}))
            ptr.append(len(cols))
        self.n, self.d = len(rows), bias + 1
        self.cols = np.asarray(cols, dtype=np.int64)
        self.ptr = np.asarray(ptr[:-1], dtype=np.int64)
        self.row_of = np.repeat(np.arange(self.n), np.diff(np.asarray(ptr)))
        order = np.argsort(self.cols, kind="stable")
        self._t_rows = self.row_of[order]
        self._t_cols, self._t_ptr = np.unique(self.cols[order], return_index=True)

    def matmul(self, w):
        """X @ w."""
        return np.add.reduceat(w[self.cols], self.ptr, axis=0)

    def rmatmul(self, g):
        """X.T @ g."""
        out = np.zeros((self.d, g.shape[1]), dtype=g.dtype)
        out[self._t_cols] = np.add.reduceat(g[self._t_rows], self._t_ptr, axis=0)
        return out


def train_logreg(x: SparseBinary, y, num_classes: int, l2: float, steps: int = STEPS):
    """Multinomial logistic regression by full-batch Adam; returns the weight matrix."""
    n = x.n
    w = np.zeros((x.d, num_classes), dtype=np.float64)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    onehot = np.eye(num_classes)[y]
    for t in range(1, steps + 1):
        z = x.matmul(w)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = x.rmatmul(p - onehot) / n + l2 * w
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w -= LR * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return w


def bow_accuracy(
    splits: dict[str, list[Any]],
    num_classes: int,
    featurize: Callable[[str, str | None], list[str]],
) -> dict[str, float]:
    """Train on train, choose L2 on dev, report dev and test accuracy.

    Args:
        splits: ``{"train", "dev", "test"}`` -> examples with ``text``, ``text_pair``, ``label``.
        num_classes: C.
        featurize: ``(text, text_pair) -> feature strings``.

    Returns:
        ``{"dev": acc, "test": acc, "l2": chosen}``.
    """
    feats = {s: [featurize(e.text, e.text_pair) for e in splits[s]] for s in splits}
    counts = Counter(f for row in feats["train"] for f in row)
    vocab = {f: i for i, f in enumerate(sorted(k for k, c in counts.items() if c >= MIN_COUNT))}
    xs = {s: SparseBinary(feats[s], vocab) for s in splits}
    ys = {s: np.array([e.label for e in splits[s]], dtype=np.int64) for s in splits}
    best: tuple[float, float, float] | None = None
    for l2 in L2_GRID:
        w = train_logreg(xs["train"], ys["train"], num_classes, l2)
        dev = float((xs["dev"].matmul(w).argmax(1) == ys["dev"]).mean())
        test = float((xs["test"].matmul(w).argmax(1) == ys["test"]).mean())
        if best is None or dev > best[0]:
            best = (dev, test, l2)
    assert best is not None
    return {"dev": best[0], "test": best[1], "l2": best[2]}


def surface_baselines(splits: dict[str, list[Any]], num_classes: int) -> dict[str, Any]:
    """Both views' test accuracies, with chance (majority share of test) for comparison."""
    test_labels = Counter(e.label for e in splits["test"])
    chance = max(test_labels.values()) / len(splits["test"]) if splits["test"] else None
    return {
        "model": "bag-of-words logistic regression (numpy), L2 chosen on dev",
        "pair": bow_accuracy(splits, num_classes, pair_features),
        "second_text_only": bow_accuracy(splits, num_classes, second_text_features),
        "chance": chance,
    }
