"""Zero-shot cross-task transfer: relative scores, family grouping, bootstrap CIs, best sources.

Reproduces: prompt_transfer.md §2.7. For seed k, R_k(s→t) = 100 · A_t(P_s^k) / A_t(P_t^k) with
R_k(t→t) = 100; S_same = {(s, t): s ≠ t, fam(s) = fam(t)}, S_cross = {(s, t): fam(s) ≠ fam(t)}
(a task alone in its family counts only in `cross`); the 95% CI resamples *targets* (1,000 draws)
and recomputes the pair mean. Pure numpy: matrices are dicts `acc[target][source]`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Matrix = Mapping[str, Mapping[str, float]]


def relative(acc: Matrix, tasks: Sequence[str], columns: Sequence[str] = ()) -> dict[str, dict]:
    """R[t][s] = 100 · acc[t][s] / acc[t][t] for every task source s and extra column.

    Args:
        acc: Accuracies, `acc[target][source]`, including the diagonal.
        tasks: The source/target tasks.
        columns: Extra source columns (`rand-init`, `rand-uniform`, `majority`).
    """
    out: dict[str, dict[str, float]] = {}
    for t in tasks:
        own = acc[t][t]
        out[t] = {
            s: (100.0 * acc[t][s] / own if own > 0 else math.nan)
            for s in [*tasks, *columns]
            if s in acc[t]
        }
    return out


def pairs(tasks: Sequence[str], family: Mapping[str, str], kind: str) -> list[tuple[str, str]]:
    """Ordered (source, target) pairs of `kind` `same` or `cross`."""
    if kind not in ("same", "cross"):
        raise ValueError(f"kind must be same or cross, got {kind!r}")
    out = []
    for t in tasks:
        for s in tasks:
            if s == t:
                continue
            if (family[s] == family[t]) == (kind == "same"):
                out.append((s, t))
    return out


def group_mean(rel: Matrix, prs: Sequence[tuple[str, str]]) -> float:
    """Mean R over (source, target) pairs (nan when there are none)."""
    vals = [rel[t][s] for s, t in prs]
    return float(np.mean(vals)) if vals else math.nan


def column_mean(rel: Matrix, targets: Sequence[str], column: str) -> float:
    """Mean over targets of a reference column (`rand-init`, ...)."""
    vals = [rel[t][column] for t in targets if column in rel[t]]
    return float(np.mean(vals)) if vals else math.nan


def bootstrap_targets(
    rel: Matrix, prs: Sequence[tuple[str, str]], n: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95% percentile CI of the pair mean, resampling targets with replacement."""
    by_target: dict[str, list[float]] = {}
    for s, t in prs:
        by_target.setdefault(t, []).append(rel[t][s])
    targets = sorted(by_target)
    if not targets:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    stats = np.empty(n)
    for i in range(n):
        pick = rng.integers(0, len(targets), size=len(targets))
        vals = [v for j in pick for v in by_target[targets[j]]]
        stats[i] = np.mean(vals)
    lo, hi = np.quantile(stats, [0.025, 0.975])
    return float(lo), float(hi)


def gap_bootstrap(
    rel: Matrix, tasks: Sequence[str], family: Mapping[str, str], n: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95% CI of same − cross, resampling targets (only targets with a family partner count in
    `same`; every target counts in `cross`)."""
    same, cross = pairs(tasks, family, "same"), pairs(tasks, family, "cross")
    targets = sorted(set(tasks))
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n):
        pick = [targets[j] for j in rng.integers(0, len(targets), size=len(targets))]
        sv = [rel[t][s] for t in pick for s, tt in same if tt == t]
        cv = [rel[t][s] for t in pick for s, tt in cross if tt == t]
        if sv and cv:
            stats.append(np.mean(sv) - np.mean(cv))
    if not stats:
        return math.nan, math.nan
    lo, hi = np.quantile(stats, [0.025, 0.975])
    return float(lo), float(hi)


def best_sources(rel: Matrix, tasks: Sequence[str]) -> dict[str, str]:
    """argmax_{s ≠ t} R(s→t) per target (ties: the first in task order)."""
    out = {}
    for t in tasks:
        cands = [s for s in tasks if s != t]
        out[t] = max(cands, key=lambda s: (rel[t][s], -cands.index(s)))
    return out


def best_source_of_kind(
    rel: Matrix, tasks: Sequence[str], family: Mapping[str, str], target: str, kind: str
) -> str | None:
    """Best same-family (`same`) or cross-family (`cross`) source of `target` (None if none)."""
    cands = [s for s in tasks if s != target and (family[s] == family[target]) == (kind == "same")]
    if not cands:
        return None
    return max(cands, key=lambda s: (rel[target][s], -cands.index(s)))


def summarise(
    rel: Matrix,
    tasks: Sequence[str],
    family: Mapping[str, str],
    *,
    columns: Sequence[str] = ("rand-init", "rand-uniform", "majority"),
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Grouped means of one seed's R matrix: overall and per target family, with CIs."""
    same, cross = pairs(tasks, family, "same"), pairs(tasks, family, "cross")
    out: dict[str, Any] = {
        "same": group_mean(rel, same),
        "cross": group_mean(rel, cross),
        "n_same": len(same),
        "n_cross": len(cross),
        "same_ci": bootstrap_targets(rel, same, n_boot, seed),
        "cross_ci": bootstrap_targets(rel, cross, n_boot, seed),
        "gap_ci": gap_bootstrap(rel, tasks, family, n_boot, seed),
    }
    out["gap"] = out["same"] - out["cross"]
    for c in columns:
        out[c] = column_mean(rel, tasks, c)
    by_family: dict[str, Any] = {}
    for fam in sorted({family[t] for t in tasks}):
        targets = [t for t in tasks if family[t] == fam]
        by_family[fam] = {
            "same": group_mean(rel, [p for p in same if p[1] in targets]),
            "cross": group_mean(rel, [p for p in cross if p[1] in targets]),
            **{c: column_mean(rel, targets, c) for c in columns},
        }
    out["by_family"] = by_family
    return out
