"""Cross-model prompt projector (spec prompt_transfer.md §2.9).

g(P) = LN_dB(reshape_{n x dB}(W2 tanh(W1 vec(P) + b1) + b2)), hidden width h (768 by default).
This file has the module, the distance-minimisation objective and a short trainer. Task tuning
(verbalized CE through the frozen target backbone) and the stage runner are not here yet.
"""

from __future__ import annotations

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
    opt = torch.optim.AdamW(proj.parameters(), lr=lr, eps=1e-6, weight_decay=0.0)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = distance_loss(proj, src, tgt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def projector_table(rows: list[dict]) -> str:
    """Markdown table; rows carry pair, mode, group (train/held-out/other) and R (%)."""
    lines = ["| pair | mode | group | R (%) |", "| --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['pair']} | {r['mode']} | {r['group']} | {r['R']:.1f} |")
    return "\n".join(lines)
