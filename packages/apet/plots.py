"""APET report figures (apet.md §6 plots 1, 3, 4): accuracy vs budget with thresholds marked,
σ_pos vs size, PET-FT gap vs size. matplotlib Agg, PNG, fixed size and dpi (conventions §2.8).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

SIZE, DPI = (6.4, 4.0), 100


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def budget_curves(records: list[dict[str, Any]], thresholds: list[dict[str, Any]],
                  out: Path) -> Path | None:  # fmt: skip
    """Accuracy vs log2 L, one panel per task, one line per model (±1 sd), chance and FT lines,
    markers at T_low (triangle) and T_high (square)."""
    from thunlp_repro.apet import analysis as an

    tasks = sorted({r["task"] for r in records if r["method"] == "apet-element"
                    and r["match"] is None})  # fmt: skip
    if not tasks:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(tasks), figsize=(SIZE[0] * max(1, len(tasks)) / 1.6, SIZE[1]),
                             squeeze=False, dpi=DPI)  # fmt: skip
    models = list(dict.fromkeys(r["model"] for r in records))
    for ax, task in zip(axes[0], tasks, strict=True):
        for i, model in enumerate(models):
            curve = an.e3_curve(records, model, task)
            if not curve:
                continue
            xs = sorted(curve)
            mu = np.array([np.mean(curve[b]) for b in xs])
            sdv = np.array([an.sd(curve[b]) for b in xs])
            lx = np.log2(xs)
            color = f"C{i}"
            ax.plot(lx, mu, "-o", color=color, label=model, ms=3)
            ax.fill_between(lx, mu - sdv, mu + sdv, color=color, alpha=0.2)
            ft = an.ft_values(records, model, task)
            if len(ft):
                ax.axhline(float(np.mean(ft)), color=color, ls="--", lw=0.8)
            for t in thresholds:
                if t["model"] == model and t["task"] == task:
                    for key, mk in (("low_value", "^"), ("high_value", "s")):
                        if t.get(key):
                            y = float(np.mean(curve[t[key]]))
                            ax.plot(math.log2(t[key]), y, mk, color=color, ms=9, mfc="none")
        chance = next(r["chance"] for r in records if r["task"] == task)
        ax.axhline(chance, color="grey", ls=":", lw=1, label="chance")
        ax.set_title(task)
        ax.set_xlabel("log2 tunable parameters L")
        ax.set_ylabel("test accuracy (points)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def by_size(points: dict[str, list[tuple[float, float]]], ylabel: str, out: Path) -> Path | None:
    """A statistic vs log10 model parameters, one line per series ({name: [(params, y)]})."""
    points = {k: [(x, y) for x, y in v if not math.isnan(y)] for k, v in points.items()}
    points = {k: v for k, v in points.items() if v}
    if not points:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=SIZE, dpi=DPI)
    for name, pts in sorted(points.items()):
        pts = sorted(pts)
        ax.plot([math.log10(x) for x, _ in pts], [y for _, y in pts], "-o", label=name)
    ax.set_xlabel("log10 model parameters")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
