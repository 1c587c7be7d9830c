"""The KI report's figures (ki.md §6.1), drawn from the curves stored in result files.

PPL figures show each arm's mean over seeds with its min–max band, T as a vertical line on step
axes, the target P* (dotted) and the teacher's PPL (dash-dot) as horizontal lines, on a log y
axis. Figures use the shared report style (`shared.reporting.plots`: Agg, fixed size,
reproducible PNG bytes). Each function writes one PNG into the report folder and returns its
Markdown image link.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thunlp_repro.ki.analysis import mean_curve
from thunlp_repro.shared.reporting.plots import DPI, FIGSIZE, pyplot, save_png

X_LABELS = {
    "step": "optimizer steps",
    "flops_total": "training FLOPs (teacher counted)",
    "flops_student": "training FLOPs (student only)",
    "wall_s": "training wall-clock (s)",
}


def ppl_figure(
    out_dir: Path,
    name: str,
    title: str,
    groups: dict[str, list[dict]],
    panels: Sequence[tuple[str, ...]] = (("step",),),
    *,
    vline: float | None = None,
    hline: dict[str, float] | None = None,
    ylabel: str = "validation MLM perplexity",
    y: str = "ppl",
) -> str:
    """PPL curves of run groups (label -> runs' metrics), one panel per tuple of x keys
    (`X_LABELS`): the first key drawn solid, a second one dashed in the same colour."""
    with pyplot() as plt:
        fig, axes = plt.subplots(1, len(panels), squeeze=False, dpi=DPI,
                                 figsize=(FIGSIZE[0] * len(panels), FIGSIZE[1]))  # fmt: skip
        for ax, keys in zip(axes[0], panels, strict=True):
            for x, style in zip(keys, ("-", "--"), strict=False):
                _seed_bands(ax, groups, x, y, style)
            if vline is not None and keys[0] == "step":
                ax.axvline(vline, color="grey", ls="--", lw=0.8, label="T")
            for label, value in (hline or {}).items():
                ax.axhline(value, color="black", ls=":" if label == "P*" else "-.", lw=0.8,
                           label=label)  # fmt: skip
            ax.set_yscale("log")
            if hline and "P*" in hline:  # the first evaluations' PPL would flatten the end game
                ax.set_ylim(top=2 * hline["P*"])
            dashed = f"; dashed: {X_LABELS[keys[1]]}" if len(keys) > 1 else ""
            ax.set_xlabel(X_LABELS[keys[0]] + dashed, fontsize=8)
            ax.set_ylabel(ylabel)
            ax.legend(fontsize=7)
        return _save(plt, fig, out_dir / name, title)


def _seed_bands(ax: Any, groups: dict[str, list[dict]], x: str, y: str, style: str) -> None:
    """Each group's mean line and min–max band over its runs (`analysis.mean_curve`), at the
    evaluations all share; a non-step x is the runs' mean there (FLOPs, seconds)."""
    for i, (label, runs) in enumerate(sorted(groups.items())):
        ys = mean_curve(runs, y)
        xs = [p["step"] for p in ys] if x == "step" else [p["mean"] for p in mean_curve(runs, x)]
        solid = style == "-"  # a dashed twin shares its solid line's legend entry
        ax.plot(xs, [p["mean"] for p in ys], ls=style, color=f"C{i}",
                label=f"{label} (n={len(runs)})" if solid else None)  # fmt: skip
        ax.fill_between(xs, [p["min"] for p in ys], [p["max"] for p in ys], color=f"C{i}",
                        alpha=0.2 if solid else 0.08, lw=0)  # fmt: skip


def diagnostics_figure(out_dir: Path, d: dict[str, list[float]], T: float) -> str:
    """F4: α_t, L_MLM and L_KD of E1's first KI seed against steps."""
    with pyplot() as plt:
        fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
        ax.plot(d["step"], d["mlm"], label="L_MLM (train)")
        kd = [(s, v) for s, v, a in zip(d["step"], d["kd"], d["alpha"], strict=True) if a > 0]
        if kd:
            ax.plot(*zip(*kd, strict=True), label="L_KD = τ²·KL (train, while α > 0)")
        ax.set_xlabel("optimizer steps")
        ax.set_ylabel("loss (nats per masked token)")
        ax.axvline(T, color="grey", ls="--", lw=0.8, label="T")
        right = ax.twinx()
        right.plot(d["step"], d["alpha"], color="black", lw=0.8, label="α_t")
        right.set_ylabel("α_t")
        lines, more = ax.get_legend_handles_labels(), right.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7)
        return _save(plt, fig, out_dir / "f4.png", "F4: E1 KI run diagnostics (seed 0)")


def teachers_figure(out_dir: Path, sweeps: dict[str, dict]) -> str:
    """F5: student step saving against teacher PPL, one labelled point per E3/E4 teacher."""
    with pyplot() as plt:
        fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
        for table, rows in sorted(sweeps.items()):
            for label, v in sorted(rows.items()):
                step = v["savings"]["step_saving"]
                y = 0.0 if step is None else 100 * step["mean"]
                ax.scatter([v["teacher_ppl"]], [y], marker="o" if step else "x",
                           color="C0" if table.startswith("e3") else "C1")  # fmt: skip
                ax.annotate(label, (v["teacher_ppl"], y), fontsize=6, rotation=45,
                            xytext=(2, 2), textcoords="offset points")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("teacher validation PPL (E3 blue, E4 orange)")
        ax.set_ylabel("student step saving (%); x: P* not reached")
        return _save(plt, fig, out_dir / "f5.png", "F5: teacher quality vs student saving (E3, E4)")


def topk_figure(out_dir: Path, name: str, title: str, rows: list[dict], students: list[str]) -> str:
    """F8's top-k calibration: tail mass and KL_k/KL_full against k, per checked student."""
    with pyplot() as plt:
        fig, (tail, ratio) = plt.subplots(1, 2, figsize=(2 * FIGSIZE[0], FIGSIZE[1]), dpi=DPI)
        ks = [r["k"] for r in rows]
        for student in students:
            tail.plot(ks, [r["tail_mass"][student] for r in rows], marker="o", label=student)
            ratio.plot(ks, [r["ratio"][student] for r in rows], marker="o", label=student)
        ratio.axhline(0.9, color="black", ls=":", lw=0.8, label="M17 bound 0.9")
        for ax, ylabel in ((tail, "mean teacher tail mass outside the top k"),
                           (ratio, "KL_k / KL_full")):  # fmt: skip
            ax.set_xscale("log", base=2)
            ax.set_xlabel("k (cached teacher logits per position)")
            ax.set_ylabel(ylabel)
            ax.legend(fontsize=7)
        return _save(plt, fig, out_dir / name, title)


def _save(plt: Any, fig: Any, path: Path, title: str) -> str:
    fig.suptitle(title)
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)
    return f"![{title}]({path.name})"
