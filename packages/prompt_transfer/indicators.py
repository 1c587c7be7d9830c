"""Transferability indicators (spec prompt_transfer.md §2.10).

Pure tensor functions: E_avg, E_tok, E_pair, Euclidean, ON over layer windows and its raw-cosine
variant ON_raw, and Spearman rho (average ranks for ties, no scipy) of an indicator matrix
against a transfer matrix, pooled over ordered off-diagonal pairs and per target (averaged over
targets), with a bootstrap CI that resamples targets. Activations come from `neurons.py`; the
stage runner is `indicator_stage.py`.
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


def e_pair(p: torch.Tensor, q: torch.Tensor) -> float:
    """Mean cosine over all token pairs (1/n^2) sum_ij cos(p_i, q_j)."""
    pn = torch.nn.functional.normalize(p, dim=-1)
    qn = torch.nn.functional.normalize(q, dim=-1)
    return float((pn @ qn.t()).mean())


def euclidean(p: torch.Tensor, q: torch.Tensor) -> float:
    """1 / (1 + ||vec(P) - vec(Q)||): a similarity, so larger means closer."""
    return 1.0 / (1.0 + float(torch.linalg.vector_norm(p.reshape(-1) - q.reshape(-1))))


def on_raw(acts_p: list[torch.Tensor], acts_q: list[torch.Tensor], window: list[int]) -> float:
    """ON_raw (the 2.0 form): cosine of the raw, non-binarised activations over ``window``."""
    ap = torch.cat([acts_p[i].float() for i in window])
    aq = torch.cat([acts_q[i].float() for i in window])
    return float(torch.nn.functional.cosine_similarity(ap, aq, dim=0))


def on_overlap(acts_p: list[torch.Tensor], acts_q: list[torch.Tensor], window: list[int]) -> float:
    """ON_W: cosine of binarised (a > 0) activations concatenated over the layers in ``window``."""
    bp = torch.cat([(acts_p[i] > 0).float() for i in window])
    bq = torch.cat([(acts_q[i] > 0).float() for i in window])
    denom = math.sqrt(float(bp.sum()) * float(bq.sum()))
    return float((bp * bq).sum()) / denom if denom > 0 else 0.0


def on_fraction(frac_p: list[torch.Tensor], frac_q: list[torch.Tensor], window: list[int]) -> float:
    """`on_input=task`: cosine of per-neuron active fractions over ``window`` (not ON itself)."""
    fp = torch.cat([frac_p[i].float() for i in window])
    fq = torch.cat([frac_q[i].float() for i in window])
    return float(torch.nn.functional.cosine_similarity(fp, fq, dim=0))


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


def _per_target(ind: list[list[float]], transfer: list[list[float]]) -> list[float]:
    """rho over the sources of each target t (column t without its diagonal), NaN kept."""
    n = len(ind)
    return [
        spearman(
            [ind[s][t] for s in range(n) if s != t], [transfer[s][t] for s in range(n) if s != t]
        )
        for t in range(n)
    ]


def correlate(ind: list[list[float]], transfer: list[list[float]]) -> dict[str, float]:
    """Pooled rho over ordered off-diagonal (s, t) pairs; mean per-target rho (rows = sources)."""
    n = len(ind)
    xs = [ind[s][t] for s in range(n) for t in range(n) if s != t]
    ys = [transfer[s][t] for s in range(n) for t in range(n) if s != t]
    per = [r for r in _per_target(ind, transfer) if not math.isnan(r)]
    return {"pooled": spearman(xs, ys), "per_target": sum(per) / len(per) if per else float("nan")}


def correlate_ci(
    ind: list[list[float]], transfer: list[list[float]], n_boot: int = 1000, seed: int = 0
) -> dict[str, list[float]]:
    """95% percentile CIs of the pooled and per-target rho, resampling targets (§2.10).

    A resample keeps every source and draws the targets (columns) with replacement; a target
    drawn twice contributes its pairs twice to the pooled rho.
    """
    import numpy as np

    n = len(ind)
    rng = np.random.default_rng(seed)
    pooled, per = [], []
    own = _per_target(ind, transfer)
    for _ in range(n_boot):
        pick = rng.integers(0, n, size=n).tolist()
        xs = [ind[s][t] for t in pick for s in range(n) if s != t]
        ys = [transfer[s][t] for t in pick for s in range(n) if s != t]
        pooled.append(spearman(xs, ys))
        vals = [own[t] for t in pick if not math.isnan(own[t])]
        per.append(sum(vals) / len(vals) if vals else float("nan"))

    def ci(stats: list[float]) -> list[float]:
        finite = [v for v in stats if not math.isnan(v)]
        if not finite:
            return [float("nan"), float("nan")]
        return [float(v) for v in np.quantile(finite, [0.025, 0.975])]

    return {"pooled_ci": ci(pooled), "per_target_ci": ci(per)}


def scatter_plot(
    xs: list[float],
    ys: list[float],
    rho: float,
    name: str,
    path: str,
    groups: list[str] | None = None,
) -> None:
    """One indicator-vs-transfer scatter with rho in the title, points coloured by ``groups``
    (e.g. same / cross family); the report's fixed style and dpi (shared.reporting.plots)."""
    from thunlp_repro.shared.reporting.plots import pyplot, save_png

    labels = groups or [""] * len(xs)
    with pyplot() as plt:
        fig, ax = plt.subplots(figsize=(4.5, 3.4))
        for g, colour in zip(sorted(set(labels)), ("tab:blue", "tab:orange", "tab:green"),
                             strict=False):  # fmt: skip
            idx = [i for i, lab in enumerate(labels) if lab == g]
            ax.scatter([xs[i] for i in idx], [ys[i] for i in idx], s=12, c=colour,
                       label=g or None)  # fmt: skip
        if groups:
            ax.legend()
        ax.set_xlabel(f"{name} (similarity)")
        ax.set_ylabel("relative transfer R (%)")
        ax.set_title(f"{name}: Spearman rho = {rho:.2f}", fontsize=9)
        fig.tight_layout()
        save_png(fig, path)
        plt.close(fig)
