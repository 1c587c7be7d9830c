"""Report figures: line and bar plots with the paper's values drawn beside ours.

Implements the plot rules of `conventions.md` §2.8: matplotlib with the Agg backend, PNG, a fixed
figure size and dpi, paper values as hollow markers on dashed lines (hollow, dashed-edge bars in
bar plots), axis labels with units. Output is byte-for-byte reproducible: matplotlib's default
style is forced (user rc files do not leak in), ``svg.hashsalt`` is fixed and the PNG metadata
that carries the matplotlib version ("Software") is dropped.

matplotlib is imported only inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from thunlp_repro.shared.io import atomic_write_bytes

FIGSIZE = (6.4, 4.0)
"""Figure size in inches."""

DPI = 100
"""Resolution of every PNG."""

PNG_METADATA: dict[str, Any] = {"Software": None}
"""PNG text chunks to write; None drops matplotlib's version string."""

_RC: dict[str, Any] = {
    "svg.hashsalt": "thunlp-repro",
    "figure.figsize": FIGSIZE,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": "small",
}

Series = Mapping[str, tuple[Sequence[float], Sequence[float]]]
"""label -> (x values, y values)."""


@contextmanager
def pyplot() -> Iterator[Any]:
    """Yield pyplot with the Agg backend and the report's fixed style."""
    import matplotlib

    matplotlib.use("Agg")  # before pyplot is imported: no display needed, same raster everywhere
    import matplotlib.pyplot as plt

    with matplotlib.rc_context():
        plt.style.use("default")
        matplotlib.rcParams.update(_RC)
        yield plt


def save_png(fig: Any, path: str | Path) -> Path:
    """Write a figure as a reproducible PNG, atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata=PNG_METADATA)
    return atomic_write_bytes(path, buf.getvalue())


def _finite_xy(xs: Sequence[Any], ys: Sequence[Any]) -> tuple[list[float], list[float]]:
    """Pairs with a finite y (None/NaN paper cells are left out)."""
    if len(xs) != len(ys):
        raise ValueError(f"x and y differ in length: {len(xs)} vs {len(ys)}")
    px, py = [], []
    for x, y in zip(xs, ys, strict=True):
        if y is None or (isinstance(y, float) and math.isnan(y)):
            continue
        px.append(float(x))
        py.append(float(y))
    return px, py


def line_plot(
    series: Series,
    path: str | Path,
    xlabel: str,
    ylabel: str,
    title: str = "",
    paper_series: Series | None = None,
    *,
    bands: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    hlines: Mapping[str, float] | None = None,
    vlines: Mapping[str, float] | None = None,
    logx: bool = False,
    logy: bool = False,
) -> Path:
    """Line plot of our series, with the paper's series as hollow markers on dashed lines.

    A paper series whose label equals one of ours gets the same colour, so the pair reads as
    "ours vs paper" for the same setting. Series are drawn in the given order.

    Args:
        series: Our curves, label -> (xs, ys).
        path: Output PNG path (written atomically; folders created).
        xlabel: x-axis label, with units (e.g. "steps", "FLOPs").
        ylabel: y-axis label, with units (e.g. "validation PPL").
        title: Figure title.
        paper_series: The paper's curves, label -> (xs, ys); None / NaN y values are skipped.
        bands: Shaded bands around our series, label -> (low ys, high ys) on that series' xs
            (e.g. min–max over seeds).
        hlines: Horizontal reference lines, label -> y (e.g. teacher PPL, chance level).
        vlines: Vertical reference lines, label -> x (e.g. the KI stop step T).
        logx: Log-scale x axis.
        logy: Log-scale y axis.

    Returns:
        The path written.

    Raises:
        ValueError: lengths of xs and ys (or of a band) differ, or a band has no series.
    """
    with pyplot() as plt:
        fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
        try:
            colors: dict[str, Any] = {}
            for label, (xs, ys) in series.items():
                px, py = _finite_xy(xs, ys)
                (line,) = ax.plot(px, py, marker="o", markersize=4, linestyle="-", label=label)
                colors[label] = line.get_color()
            for label, (lo, hi) in (bands or {}).items():
                if label not in series:
                    raise ValueError(f"band {label!r} has no series")
                xs = [float(x) for x in series[label][0]]
                if not len(xs) == len(lo) == len(hi):
                    raise ValueError(f"band {label!r} does not match its series' length")
                ax.fill_between(xs, list(lo), list(hi), color=colors[label], alpha=0.2, lw=0)
            for label, (xs, ys) in (paper_series or {}).items():
                px, py = _finite_xy(xs, ys)
                kw: dict[str, Any] = {"color": colors[label]} if label in colors else {}
                ax.plot(
                    px,
                    py,
                    marker="o",
                    markersize=6,
                    markerfacecolor="none",
                    linestyle="--",
                    label=f"{label} (paper)",
                    **kw,
                )
            for i, (label, y) in enumerate((hlines or {}).items()):
                ax.axhline(float(y), color="0.4", linestyle=[":", "-.", "--"][i % 3], label=label)
            for i, (label, x) in enumerate((vlines or {}).items()):
                ax.axvline(float(x), color="0.2", linestyle=[":", "-.", "--"][i % 3], label=label)
            if logx:
                ax.set_xscale("log")
            if logy:
                ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            if title:
                ax.set_title(title)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="best")
            fig.tight_layout()
            return save_png(fig, path)
        finally:
            plt.close(fig)


def bar_plot(
    categories: Sequence[str],
    values: Sequence[float] | Mapping[str, Sequence[float]],
    path: str | Path,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    *,
    errors: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    paper_values: Sequence[float | None] | Mapping[str, Sequence[float | None]] | None = None,
    horizontal: bool = False,
) -> Path:
    """Grouped bar plot per category; the paper's values as hollow, dashed-edge bars beside ours.

    Args:
        categories: Category names (x ticks), in display order.
        values: Our values per category, or several series: series label -> values.
        path: Output PNG path (written atomically; folders created).
        xlabel: Category-axis label.
        ylabel: Value-axis label, with units.
        title: Figure title.
        errors: Error-bar half-widths (e.g. std over seeds) for ``values``, same shape; None or
            NaN entries draw no bar.
        paper_values: The paper's values, one sequence (one hollow bar per category) or series
            label -> values; None / NaN entries are left out.
        horizontal: Horizontal bars (for long category names).

    Returns:
        The path written.

    Raises:
        ValueError: a sequence does not have one entry per category, or ``errors`` names a
            series that ``values`` lacks.
    """
    ours = dict(values) if isinstance(values, Mapping) else {"ours": values}
    errs = (
        dict(errors)
        if isinstance(errors, Mapping)
        else ({"ours": errors} if errors is not None else {})
    )
    if isinstance(paper_values, Mapping):
        paper = dict(paper_values)
    else:
        paper = {"paper": paper_values} if paper_values is not None else {}
    n = len(categories)
    for name, seq in [*ours.items(), *errs.items(), *paper.items()]:
        if len(seq) != n:
            raise ValueError(f"{name!r} has {len(seq)} values for {n} categories")
    for name in errs:
        if name not in ours:
            raise ValueError(f"errors for unknown series {name!r}")

    groups = len(ours) + len(paper)
    width = 0.8 / max(groups, 1)
    with pyplot() as plt:
        fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
        try:
            bar = ax.barh if horizontal else ax.bar
            pos = list(range(n))
            slot = 0
            colors: dict[str, Any] = {}

            def offsets() -> list[float]:
                return [p - 0.4 + width * (slot + 0.5) for p in pos]

            for name, seq in ours.items():
                ys = [math.nan if v is None else float(v) for v in seq]
                kw: dict[str, Any] = {}
                if name in errs:
                    e = [0.0 if v is None or math.isnan(float(v)) else float(v) for v in errs[name]]
                    kw = {"xerr" if horizontal else "yerr": e, "capsize": 3}
                bars = bar(offsets(), ys, width, label=name, **kw)
                colors[name] = bars.patches[0].get_facecolor() if bars.patches else "0.2"
                slot += 1
            for name, seq in paper.items():
                # a paper series named like one of ours takes its colour for the dashed edge
                edge = colors.get(name, "0.2")
                label = name if name == "paper" else f"{name} (paper)"
                ys = [math.nan if v is None else float(v) for v in seq]
                keep = [i for i, y in enumerate(ys) if not math.isnan(y)]
                xs = offsets()
                bar(
                    [xs[i] for i in keep],
                    [ys[i] for i in keep],
                    width,
                    label=label,
                    fill=False,
                    linestyle="--",
                    edgecolor=edge,
                )
                slot += 1
            if horizontal:
                ax.set_yticks(pos, list(categories))
                ax.set_ylabel(xlabel)
                ax.set_xlabel(ylabel)
                ax.invert_yaxis()
            else:
                rotate = n > 6  # long category lists: slanted labels
                ax.set_xticks(
                    pos,
                    list(categories),
                    rotation=30 if rotate else 0,
                    ha="right" if rotate else "center",
                )
                ax.set_xlabel(xlabel)
                ax.set_ylabel(ylabel)
            if title:
                ax.set_title(title)
            if groups > 1:
                ax.legend(loc="best")
            fig.tight_layout()
            return save_png(fig, path)
        finally:
            plt.close(fig)
