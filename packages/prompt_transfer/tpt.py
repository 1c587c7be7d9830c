"""TPT metrics from dev curves: steps to X% of vanilla's best, speed-ups, final scores.

Reproduces: prompt_transfer.md §2.8 ("Metrics"): `best_pt` is vanilla PT's best dev score within
the budget for the same seed; steps_X(run) is the first logged step with a(step) ≥ X/100 ·
best_pt (∞ if never reached); speedup_X = steps_X(vanilla) / steps_X(arm). A run that reaches X
at step 0 has speed-up ∞ (vanilla needs > 0 steps unless it is also at step 0, then 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

Curve = Sequence[dict[str, Any]]


def steps_to(curve: Curve, target: float, metric: str = "accuracy") -> float:
    """First logged step whose score reaches `target` (math.inf if none does)."""
    for point in sorted(curve, key=lambda p: p["step"]):
        if point[metric] >= target - 1e-9:
            return float(point["step"])
    return math.inf


def speedup(vanilla_steps: float, arm_steps: float) -> float:
    """steps_X(vanilla) / steps_X(arm), with 0/0 = 1 and x/0 = ∞ and ∞/∞ = nan."""
    if math.isinf(arm_steps):
        return math.nan if math.isinf(vanilla_steps) else 0.0
    if arm_steps == 0:
        return 1.0 if vanilla_steps == 0 else math.inf
    return vanilla_steps / arm_steps


def compare(
    vanilla: Curve, arm: Curve, levels: Sequence[int] = (90, 95, 100), metric: str = "accuracy"
) -> dict[str, Any]:
    """steps_X of both runs and the speed-ups at each level X of vanilla's best."""
    best = max(p[metric] for p in vanilla)
    out: dict[str, Any] = {
        "best_pt": best,
        "a0_arm": sorted(arm, key=lambda p: p["step"])[0][metric],
    }
    for x in levels:
        v, a = steps_to(vanilla, x / 100 * best, metric), steps_to(arm, x / 100 * best, metric)
        out[f"steps_{x}_vanilla"], out[f"steps_{x}_arm"] = v, a
        out[f"speedup_{x}"] = speedup(v, a)
    return out


def median(values: Sequence[float]) -> float:
    """Median that keeps ∞ (nan values are dropped)."""
    vals = sorted(v for v in values if not math.isnan(v))
    if not vals:
        return math.nan
    mid = len(vals) // 2
    if len(vals) % 2:
        return vals[mid]
    lo, hi = vals[mid - 1], vals[mid]
    return hi if math.isinf(hi) and math.isinf(lo) else (lo + hi) / 2
