"""Transferability indicators (spec prompt_transfer.md §2.10).

Pure tensor functions: E_avg, E_tok, ON over layer windows, and Spearman rho (average ranks
for ties, no scipy) of an indicator matrix against a transfer matrix, pooled over ordered
off-diagonal pairs and per target (averaged over targets).
Activation collection and the stage runner are not here yet.
"""

from __future__ import annotations

import math

import torch


def e_avg(p: torch.Tensor, q: torch.Tensor) -> float:
    """Cosine of the mean-pooled prompts (n x d each)."""
    return float(torch.nn.functional.cosine_similarity(p.mean(0), q.mean(0), dim=0))


def e_tok(p: torch.Tensor, q: torch.Tensor) -> float:
    """Cosine of the flattened, token-aligned prompts."""
    return float(torch.nn.functional.cosine_similarity(p.reshape(-1), q.reshape(-1), dim=0))


def on_overlap(acts_p: list[torch.Tensor], acts_q: list[torch.Tensor], window: list[int]) -> float:
    """ON_W: cosine of binarised (a > 0) activations concatenated over the layers in ``window``."""
    bp = torch.cat([(acts_p[i] > 0).float() for i in window])
    bq = torch.cat([(acts_q[i] > 0).float() for i in window])
    denom = math.sqrt(float(bp.sum()) * float(bq.sum()))
    return float((bp * bq).sum()) / denom if denom > 0 else 0.0


def layer_windows(num_layers: int) -> dict[str, list[int]]:
    """All layers plus contiguous windows: 3 layers for 12, 2 for 6, single layers for 3."""
    size = {12: 3, 6: 2, 3: 1}.get(num_layers, 3)
    out = {"all": list(range(num_layers))}
    for start in range(0, num_layers, size):
        w = list(range(start, min(start + size, num_layers)))
        out[f"{w[0]}-{w[-1]}"] = w
    return out


def rank_average(x: list[float]) -> list[float]:
    """1-based ranks with ties given their average rank."""
    order = sorted(range(len(x)), key=lambda i: x[i])
    ranks = [0.0] * len(x)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and x[order[j + 1]] == x[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: list[float], y: list[float]) -> float:
    """Pearson correlation of average ranks; NaN when either side is constant."""
    rx, ry = rank_average(x), rank_average(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy) if vx > 0 and vy > 0 else float("nan")


def correlate(ind: list[list[float]], transfer: list[list[float]]) -> dict[str, float]:
    """Pooled rho over ordered off-diagonal (s, t) pairs; mean per-target rho (rows = sources)."""
    n = len(ind)
    xs = [ind[s][t] for s in range(n) for t in range(n) if s != t]
    ys = [transfer[s][t] for s in range(n) for t in range(n) if s != t]
    per = [
        spearman(
            [ind[s][t] for s in range(n) if s != t], [transfer[s][t] for s in range(n) if s != t]
        )
        for t in range(n)
    ]
    per = [r for r in per if not math.isnan(r)]
    return {"pooled": spearman(xs, ys), "per_target": sum(per) / len(per) if per else float("nan")}


def scatter_plot(xs: list[float], ys: list[float], rho: float, name: str, path: str) -> None:
    """One indicator-vs-transfer scatter with rho in the title (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.scatter(xs, ys, s=10)
    ax.set_xlabel(name)
    ax.set_ylabel("relative transfer R (%)")
    ax.set_title(f"{name}: Spearman rho = {rho:.2f}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
