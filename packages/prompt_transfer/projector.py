"""Cross-model prompt projector (spec prompt_transfer.md §2.9).

g(P) = LN_dB(reshape_{n x dB}(W2 tanh(W1 vec(P) + b1) + b2)), hidden width h (768 by default),
and its two objectives: task tuning (the paper's main one, official `train_cross.py`): each
example (x, y, s) of a balanced mixture of the training tasks is read by the frozen target
backbone B through g(P^A_s) and scored by the verbalized CE of §2.2 (the example's own label
words, or one softmax over the union of the training words); and distance minimisation,
mean_s ||g(P^A_s) - P^B_s||_F^2 / n. Both use AdamW with eps 1e-6 [repo]; only theta trains, and
the projected prompt stays in the graph (§7 pitfall 12). The stage runner is `project_stage.py`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

HIDDEN = 768


class Projector(nn.Module):
    """Maps an n x d_src prompt to an n x d_tgt prompt."""

    def __init__(self, n: int, d_src: int, d_tgt: int, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.n, self.d_src, self.d_tgt = n, d_src, d_tgt
        self.fc1 = nn.Linear(n * d_src, hidden)
        self.fc2 = nn.Linear(hidden, n * d_tgt)
        self.norm = nn.LayerNorm(d_tgt)

    def forward(self, prompt: torch.Tensor) -> torch.Tensor:
        flat = prompt.reshape(*prompt.shape[:-2], self.n * self.d_src)
        out = self.fc2(torch.tanh(self.fc1(flat)))
        return self.norm(out.reshape(*prompt.shape[:-2], self.n, self.d_tgt))


def distance_loss(proj: Projector, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """Mean over tasks of ||g(P^A_s) - P^B_s||_F^2 / n; src is T x n x dA, tgt is T x n x dB."""
    diff = proj(src) - tgt
    return (diff**2).sum(dim=(-2, -1)).mean() / proj.n


def train_distance(
    proj: Projector,
    src: torch.Tensor,
    tgt: torch.Tensor,
    steps: int = 200,
    lr: float = 5e-3,
) -> list[float]:
    """AdamW (eps 1e-6) on the distance objective; returns the loss per step."""
    return _fit(proj, lr, (lambda: distance_loss(proj, src, tgt) for _ in range(steps)))


def _fit(proj: Projector, lr: float, losses: Any) -> list[float]:
    """One AdamW (eps 1e-6 [repo]) step per loss closure yielded by `losses`; the loss values."""
    opt = torch.optim.AdamW(proj.parameters(), lr=lr, eps=1e-6, weight_decay=0.0)
    out = []
    for make_loss in losses:
        opt.zero_grad()
        loss = make_loss()
        loss.backward()
        opt.step()
        out.append(loss.item())
    return out


def balanced_mixture(splits: dict[str, list[Any]], seed: int) -> list[tuple[str, Any]]:
    """(task, row) pairs with every task subsampled (seeded) to the size of the smallest [repo]."""
    from .data import seeded_subset

    size = min(len(rows) for rows in splits.values())
    return [(t, r) for t in sorted(splits) for r in seeded_subset(splits[t], size, seed)]


def task_loss(
    proj: Projector,
    model: Any,
    sources: dict[str, torch.Tensor],
    rows: list[tuple[str, Any]],
    label_ids: dict[str, list[int]],
    collate: Callable[[list[Any]], dict[str, torch.Tensor]],
    union: list[int] | None = None,
) -> torch.Tensor:
    """Mean verbalized CE of one mixed batch: each task's rows read through g(P^A_task).

    Args:
        proj: The projector.
        model: A `SoftPromptMLM` around the frozen target backbone B.
        sources: P^A_s of each training task (n x d_A).
        rows: (task, encoded row) pairs.
        label_ids: Each task's label-word ids on B.
        collate: Pads a list of rows into a batch with `labels`.
        union: One softmax over these ids instead of each task's own words (`union` option).
    """
    from .prompt import verbalized_loss

    total = torch.zeros(())
    for task in sorted({t for t, _ in rows}):
        batch = collate([r for t, r in rows if t == task])
        labels = batch.pop("labels")
        ids = label_ids[task] if union is None else union
        if union is not None:
            labels = torch.tensor([union.index(label_ids[task][y]) for y in labels.tolist()])
        scores = model(batch, torch.tensor(ids), proj(sources[task]))
        total = total + verbalized_loss(scores, labels)
    return total / len(rows)


def train_task(
    proj: Projector,
    model: Any,
    sources: dict[str, torch.Tensor],
    mixture: list[tuple[str, Any]],
    label_ids: dict[str, list[int]],
    collate: Callable[[list[Any]], dict[str, torch.Tensor]],
    *,
    steps: int,
    batch_size: int,
    lr: float = 5e-3,
    seed: int = 0,
    union: list[int] | None = None,
) -> list[float]:
    """AdamW (eps 1e-6) on the task-tuning objective over a seeded pass order of `mixture`."""
    rng, order = random.Random(seed), []

    def batches():
        for _ in range(steps):
            batch = []
            while len(batch) < batch_size:
                if not order:  # a fresh seeded permutation per pass over the mixture
                    order.extend(range(len(mixture)))
                    rng.shuffle(order)
                batch.append(mixture[order.pop()])
            yield lambda b=batch: task_loss(proj, model, sources, b, label_ids, collate, union)

    return _fit(proj, lr, batches())


def projector_table(rows: list[dict]) -> str:
    """Markdown table; rows carry pair, mode, group (train/held-out/other) and R (%)."""
    lines = ["| pair | mode | group | R (%) |", "| --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['pair']} | {r['mode']} | {r['group']} | {r['R']:.1f} |")
    return "\n".join(lines)
