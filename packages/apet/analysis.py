"""Statistics of the APET study: thresholds with censoring, bootstrap intervals, σ_pos, σ_train,
Δ_match, R_struct, gap (apet.md §5.1).

Input is a list of cell records (one per trained run, as written by `sweep`): `model`, `task`,
`method`, `match` (apet-*: the method its budget copies), `budget` (L realised), `pool`,
`s_pos`, `s_data`, `accuracy` (points), `chance` (majority share of test, points). Everything
here is numpy only and pure, so it is tested on synthetic curves with known answers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from thunlp_repro.apet.config import MATCHED

Cells = dict[tuple, np.ndarray]
"""cell key -> per-seed accuracies (points); the unit that bootstrap resamples within."""


# ------------------------------------------------------------------ selecting records
def select(records: Iterable[dict[str, Any]], **where: Any) -> list[dict[str, Any]]:
    """Records whose fields equal `where` (a value may be a tuple/list/set of accepted ones)."""
    out = []
    for r in records:
        ok = True
        for k, v in where.items():
            got = r.get(k)
            if isinstance(v, tuple | list | set | frozenset):
                ok = got in v
            else:
                ok = got == v
            if not ok:
                break
        if ok:
            out.append(r)
    return out


def cells(records: Iterable[dict[str, Any]], key: tuple[str, ...]) -> Cells:
    """Group accuracies by the record fields in `key` (seed order kept, deterministic)."""
    grouped: dict[tuple, list[float]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.get("s_pos", 0), r.get("s_data", 0))):
        grouped[tuple(r.get(k) for k in key)].append(float(r["accuracy"]))
    return {k: np.asarray(v, dtype=float) for k, v in sorted(grouped.items(), key=str)}


def resample(table: Cells, rng: np.random.Generator) -> Cells:
    """One bootstrap draw: every cell's seeds resampled with replacement, independently."""
    return {k: v[rng.integers(0, len(v), len(v))] for k, v in table.items()}


def sd(values: np.ndarray) -> float:
    """Sample standard deviation (ddof = 1); 0 for a single value."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


# ------------------------------------------------------------------ thresholds (§5.1)
@dataclass(frozen=True)
class Threshold:
    """A threshold on the budget grid. `censor`: '' (found), 'left' (holds already at min B,
    shown '≤ min B') or 'right' (never holds, shown '> max B'); `value` is the grid point
    (min B when left-censored, None when right-censored)."""

    value: int | None
    censor: str

    @property
    def log2(self) -> float:
        """log2 of the value; +inf when right-censored (it compares above every grid point)."""
        return math.inf if self.value is None else math.log2(self.value)

    def label(self) -> str:
        if self.censor == "right":
            return "> max B"
        if self.censor == "left":
            return f"≤ {self.value:,}"
        return f"{self.value:,}"


def _threshold(grid: list[int], ok: list[bool]) -> Threshold:
    """Smallest grid point from which `ok` holds at every larger point too."""
    start = None
    for i in range(len(grid) - 1, -1, -1):
        if not ok[i]:
            break
        start = i
    if start is None:
        return Threshold(None, "right")
    return Threshold(grid[start], "left" if start == 0 else "")


def _beats_chance(v: np.ndarray, chance: float) -> bool:
    return float(np.mean(v)) - chance > max(2.0, 2.0 * sd(v))


def low_threshold(curve: dict[int, np.ndarray], chance: float) -> Threshold:
    """T_low: min L with μ(L') − chance > max(2, 2σ(L')) for all L' ≥ L on the grid."""
    grid = sorted(curve)
    return _threshold(grid, [_beats_chance(curve[b], chance) for b in grid])


def high_threshold(curve: dict[int, np.ndarray], ft_mean: float) -> Threshold:
    """T_high: min L with μ(L') ≥ μ_FT − 1 for all L' ≥ L on the grid."""
    grid = sorted(curve)
    ok = [float(np.mean(curve[b])) >= ft_mean - 1.0 for b in grid]
    return _threshold(grid, ok)


def censor_reason(curve: dict[int, np.ndarray], t: Threshold, kind: str, ref: float) -> str:
    """Why a threshold is censored, in the rule's own numbers ('' when it is found): for a
    right-censored T_low, the largest budget where μ − chance ≤ max(2, 2σ) (one noisy seed at
    the top censors it even when smaller budgets beat chance); for a right-censored T_high, μ at
    max B against μ_FT − 1; for a left-censored one, the margin already held at min B. `t` is
    the threshold of `kind` on `curve` against `ref` (chance, or μ_FT for `high`)."""
    grid = sorted(curve)
    mu = {b: float(np.mean(curve[b])) for b in grid}
    if t.censor == "left":
        margin = mu[grid[0]] - ref if kind == "low" else mu[grid[0]] - (ref - 1.0)
        what = "chance" if kind == "low" else "μ_FT − 1"
        return f"{kind}: μ beats {what} by {margin:.1f} already at L = {grid[0]:,}"
    if t.censor != "right":
        return ""
    if kind == "high":
        return f"high: μ {mu[grid[-1]]:.1f} at L = {grid[-1]:,} < μ_FT − 1 = {ref - 1.0:.1f}"
    b = max(x for x in grid if not _beats_chance(curve[x], ref))
    passes = [x for x in grid if x < b and _beats_chance(curve[x], ref)]
    note = f"low: μ − chance {mu[b] - ref:.1f} ≤ max(2, 2σ = {2 * sd(curve[b]):.1f}) at L = {b:,}"
    return note + (f" (L = {passes[0]:,} beats chance)" if passes else "")


def threshold_interval(curve: dict[int, np.ndarray], kind: str, ref: float | np.ndarray,
                       draws: int = 1000, seed: int = 0) -> tuple[float, float]:  # fmt: skip
    """10th-90th percentile of log2 T over `draws` seed resamples at every budget (and of the
    FT seeds for `high`, when `ref` is the FT accuracies). A right-censored draw counts as one
    grid step above max B, so the interval's top then reads "beyond the grid"."""
    rng = np.random.default_rng(seed)
    top = math.log2(max(curve)) + 2.0
    vals = []
    for _ in range(draws):
        c = {b: v[rng.integers(0, len(v), len(v))] for b, v in curve.items()}
        if kind == "low":
            t = low_threshold(c, float(ref))
        else:
            r = np.asarray(ref, dtype=float)
            t = high_threshold(c, float(np.mean(r[rng.integers(0, len(r), len(r))])))
        vals.append(top if t.value is None else math.log2(t.value))
    lo, hi = np.percentile(vals, [10, 90])
    return float(lo), float(hi)


# ------------------------------------------------------------------ per-model statistics
def e3_curve(records: list[dict[str, Any]], model: str, task: str) -> dict[int, np.ndarray]:
    """Accuracy per budget of the E3 sweep (APET-element, pool `layers`, unmatched)."""
    rows = select(records, model=model, task=task, method="apet-element", pool="layers",
                  match=None)  # fmt: skip
    rows = [r for r in rows if r["s_pos"] == r["s_data"]]
    return {k[0]: v for k, v in cells(rows, ("budget",)).items()}


def ft_values(records: list[dict[str, Any]], model: str, task: str) -> np.ndarray:
    return np.asarray([r["accuracy"] for r in select(records, model=model, task=task,
                                                     method="ft")], dtype=float)  # fmt: skip


def thresholds(records: list[dict[str, Any]], model: str, task: str, draws: int = 1000,
               seed: int = 0) -> dict[str, Any] | None:  # fmt: skip
    """T_low and T_high of one (model, task) with their bootstrap intervals (None: no sweep)."""
    curve = e3_curve(records, model, task)
    if not curve:
        return None
    chance = float(select(records, model=model, task=task)[0]["chance"])
    ft = ft_values(records, model, task)
    low = low_threshold(curve, chance)
    out: dict[str, Any] = {
        "model": model,
        "task": task,
        "chance": chance,
        "low": low,
        "low_ci": threshold_interval(curve, "low", chance, draws, seed),
    }
    if len(ft):
        out["high"] = high_threshold(curve, float(np.mean(ft)))
        out["high_ci"] = threshold_interval(curve, "high", ft, draws, seed)
    else:
        out["high"], out["high_ci"] = Threshold(None, "right"), (math.nan, math.nan)
    reasons = [censor_reason(curve, low, "low", chance)]
    if len(ft):
        reasons.append(censor_reason(curve, out["high"], "high", float(np.mean(ft))))
    out["note"] = "; ".join(r for r in reasons if r)
    return out


def spread(log2_values: list[float]) -> float:
    """max − min of log2 thresholds across tasks (inf when one is right-censored)."""
    return max(log2_values) - min(log2_values) if log2_values else math.nan


def position_cells(records: list[dict[str, Any]], model: str, kind: str) -> Cells:
    """E1 cells (task, matched method) -> accuracies across s_pos at s_data = 1 (`pos`), or
    across s_data at s_pos = 1 (`train`)."""
    rows = select(records, model=model, method="apet-element", pool="layers", match=MATCHED)
    if kind == "pos":
        rows = [r for r in rows if r["s_data"] == 1]
    else:
        rows = [r for r in rows if r["s_pos"] == 1]
    return cells(rows, ("task", "match"))


def sigma(table: Cells) -> float:
    """√(mean over cells of the across-seed variance) (σ_pos / σ_train)."""
    var = [sd(v) ** 2 for v in table.values() if len(v) > 1]
    return math.sqrt(float(np.mean(var))) if var else math.nan


def method_cells(records: list[dict[str, Any]], model: str) -> Cells:
    """E2 cells: (task, method, match) -> accuracies over the shared seeds s_pos = s_data."""
    rows = [r for r in select(records, model=model) if r["s_pos"] == r["s_data"]
            and r["pool"] == "layers"]  # fmt: skip
    return cells(rows, ("task", "method", "match"))


def delta_match(table: Cells) -> float:
    """Mean over tasks and the 4 matched methods of |μ(APET-element at L_m) − μ(m)|."""
    diffs = []
    for (task, method, match), v in table.items():
        if method == "apet-element" and match in MATCHED and (task, match, None) in table:
            diffs.append(abs(float(np.mean(v)) - float(np.mean(table[(task, match, None)]))))
    return float(np.mean(diffs)) if diffs else math.nan


def gap(table: Cells) -> float:
    """Mean over tasks and the 4 matched methods of μ_FT − μ(m)."""
    diffs = []
    for (task, method, _), v in table.items():
        if method in MATCHED and (task, "ft", None) in table:
            diffs.append(float(np.mean(table[(task, "ft", None)])) - float(np.mean(v)))
    return float(np.mean(diffs)) if diffs else math.nan


def struct_cells(records: list[dict[str, Any]], model: str, pools: Iterable[str]) -> Cells:
    rows = select(records, model=model, method="apet-element", match="lora", pool=tuple(pools))
    return cells([r for r in rows if r["s_data"] == 1], ("task", "pool"))


def r_struct(table: Cells) -> float:
    """Mean over tasks of (max − min over structured pools of μ)."""
    by_task: dict[str, list[float]] = defaultdict(list)
    for (task, _), v in table.items():
        by_task[task].append(float(np.mean(v)))
    spans = [max(v) - min(v) for v in by_task.values() if len(v) > 1]
    return float(np.mean(spans)) if spans else math.nan


# ------------------------------------------------------------------ comparisons
@dataclass(frozen=True)
class Comparison:
    """A statistic at the small and large end, their difference (or ratio) and its 90% CI."""

    small: float
    large: float
    point: float
    ci: tuple[float, float]
    kind: str  # diff | ratio


def compare(stat: Callable[[Cells], float], small: Cells, large: Cells, kind: str = "diff",
            draws: int = 2000, seed: int = 0) -> Comparison:  # fmt: skip
    """large − small (or large / small) with a percentile 90% CI over seed resamples."""

    def combine(a: float, b: float) -> float:
        if kind == "ratio":
            return b / a if a > 0 else math.nan
        return b - a

    s, lg = stat(small), stat(large)
    rng = np.random.default_rng(seed)
    vals = [combine(stat(resample(small, rng)), stat(resample(large, rng))) for _ in range(draws)]
    vals = [v for v in vals if not math.isnan(v)]
    lo, hi = np.percentile(vals, [5, 95]) if vals else (math.nan, math.nan)
    return Comparison(s, lg, combine(s, lg), (float(lo), float(hi)), kind)


def bootstrap_ci_mean(values: np.ndarray, draws: int = 2000, seed: int = 0,
                      level: float = 0.9) -> tuple[float, float]:  # fmt: skip
    """Percentile CI of the mean of `values` (used by tests and the report)."""
    rng = np.random.default_rng(seed)
    v = np.asarray(values, dtype=float)
    means = v[rng.integers(0, len(v), (draws, len(v)))].mean(axis=1)
    q = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [q, 100 - q])
    return float(lo), float(hi)
