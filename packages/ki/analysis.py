"""Compute saved and acceptance verdicts (ki.md §2.5, §5).

Target P* = mean over scratch seeds of the final validation PPL. s_x = first step at which run x
reaches PPL ≤ P*, linearly interpolated in log-PPL between evaluations ("not reached" = None).
Step saving = 1 − s_KI / S; FLOP saving = 1 − F_KI(s_KI) / F_scratch(S) with and without the
teacher's forward; wall-clock saving likewise from measured seconds. Per KI seed, then mean ± sd.
"""

from __future__ import annotations

import math
from typing import Any


def crossing(curve: list[tuple[float, float]], target: float) -> float | None:
    """First x at which y ≤ target, interpolated linearly in log y between points; else None.

    Args:
        curve: (x, ppl) points sorted by x.
        target: The PPL to reach.
    """
    prev: tuple[float, float] | None = None
    for x, y in curve:
        if y <= target:
            if prev is None or prev[1] <= target:
                return float(x)
            lx0, ly0, ly1 = prev[0], math.log(prev[1]), math.log(y)
            frac = (ly0 - math.log(target)) / (ly0 - ly1)
            return lx0 + frac * (x - lx0)
        prev = (x, y)
    return None


def _interp(evals: list[dict[str, Any]], step: float, key: str) -> float:
    """Linear interpolation of `key` at fractional `step` (FLOPs and seconds are ~linear)."""
    pts = [(0.0, 0.0)] + [(float(e["step"]), float(e.get(key, 0.0))) for e in evals]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        if x0 <= step <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (step - x0) / (x1 - x0)
    return pts[-1][1]


def curve_of(result: dict[str, Any], key: str = "ppl") -> list[tuple[float, float]]:
    return [(float(e["step"]), float(e[key])) for e in result["evals"] if key in e]


def savings(
    scratch: list[dict[str, Any]], ki: list[dict[str, Any]], key: str = "ppl"
) -> dict[str, Any]:
    """Compute-saved summary of KI runs against scratch runs (their `metrics` sections)."""
    from thunlp_repro.shared.metrics import mean_and_spread

    finals = [curve_of(r, key)[-1][1] for r in scratch]
    target = sum(finals) / len(finals)
    S = float(scratch[0]["steps"])
    f_scratch = sum(r["evals"][-1]["flops_student"] for r in scratch) / len(scratch)
    w_scratch = sum(r["evals"][-1].get("wall_s", 0.0) for r in scratch) / len(scratch)
    # seconds compare only within one kind of device (None: a run saved before it was kept)
    same_device = len({r.get("device") for r in [*scratch, *ki]}) == 1
    per: list[dict[str, Any]] = []
    for r in ki:
        s = crossing(curve_of(r, key), target)
        row: dict[str, Any] = {"steps_to_target": s, "final_ppl": curve_of(r, key)[-1][1]}
        if s is not None:
            row["step_saving"] = 1 - s / S
            row["flop_saving_with_teacher"] = 1 - _interp(r["evals"], s, "flops_total") / f_scratch
            row["flop_saving_without_teacher"] = (
                1 - _interp(r["evals"], s, "flops_student") / f_scratch
            )
            if w_scratch > 0 and same_device:
                row["wall_saving"] = 1 - _interp(r["evals"], s, "wall_s") / w_scratch
        per.append(row)
    out: dict[str, Any] = {"target_ppl": target, "scratch_final_ppl": finals, "S": S,
                           "per_seed": per, "reached": sum(p["steps_to_target"] is not None
                                                           for p in per),
                           "same_device": same_device}  # fmt: skip
    for k in ("step_saving", "flop_saving_with_teacher", "flop_saving_without_teacher",
              "wall_saving", "steps_to_target"):  # fmt: skip
        vals = [p[k] for p in per if p.get(k) is not None]
        if len(vals) == len(per) and vals:
            m, sd, n = mean_and_spread(vals)
            out[k] = {"mean": m, "sd": sd, "min": min(vals), "max": max(vals), "n": n}
        else:
            out[k] = None
    return out


def mean_curve(results: list[dict[str, Any]], key: str = "ppl") -> list[dict[str, float]]:
    """Mean, min and max of `key` over runs at each shared eval step."""
    steps = sorted(set.intersection(*[{e["step"] for e in r["evals"]} for r in results]))
    out = []
    for st in steps:
        vals = [next(e[key] for e in r["evals"] if e["step"] == st) for r in results]
        out.append({"step": st, "mean": sum(vals) / len(vals), "min": min(vals),
                    "max": max(vals), "sd": _sd(vals)})  # fmt: skip
    return out


def step_lead(
    scratch: list[dict], ki: list[dict], at: float, key: str = "ppl"
) -> list[float | None]:
    """How many steps each KI run is ahead of scratch at step `at` (e.g. T).

    The KI run's PPL at `at` (log-linear between evaluations) is looked up on the mean scratch
    curve: the lead is the step where scratch first gets there, minus `at` (negative: behind;
    None: scratch never gets there). Beside the lead at P* (S - s_KI) it shows whether the
    saving is built while the teacher teaches or after T.
    """
    ref = [(p["step"], p["mean"]) for p in mean_curve(scratch, key)]
    out: list[float | None] = []
    for r in ki:
        s = crossing(ref, _log_interp(curve_of(r, key), at))
        out.append(None if s is None else s - at)
    return out


def _log_interp(curve: list[tuple[float, float]], x: float) -> float:
    """y at `x`, linear in log y between the points around it (clamped at the ends)."""
    for (x0, y0), (x1, y1) in zip(curve, curve[1:], strict=False):
        if x0 <= x <= x1:
            return math.exp(math.log(y0) + (math.log(y1) - math.log(y0)) * (x - x0) / (x1 - x0))
    return curve[0][1] if x < curve[0][0] else curve[-1][1]


def _sd(vals: list[float]) -> float:
    if len(vals) < 2:
        return 0.0
    m = sum(vals) / len(vals)
    return math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))


def no_fall_behind(scratch: list[dict], ki: list[dict], stop: int) -> dict[str, Any]:
    """M3: at every eval t ≥ T, mean PPL_KI ≤ mean PPL_scratch·1.01 + 2σ_t; final ≤ ·1.01."""
    a, b = mean_curve(ki), {p["step"]: p for p in mean_curve(scratch)}
    worst, ok = -math.inf, True
    for p in a:
        if p["step"] < stop or p["step"] not in b:
            continue
        q = b[p["step"]]
        sigma = math.sqrt((p["sd"] ** 2 + q["sd"] ** 2) / 2)
        bound = q["mean"] * 1.01 + 2 * sigma
        worst = max(worst, p["mean"] / q["mean"])
        ok &= p["mean"] <= bound
    final_ok = a[-1]["mean"] <= b[a[-1]["step"]]["mean"] * 1.01
    return {"ok": bool(ok and final_ok), "worst_ratio_after_T": worst, "final_ok": final_ok,
            "final_ki": a[-1]["mean"], "final_scratch": b[a[-1]["step"]]["mean"]}  # fmt: skip


def verdict(ok: bool | None, value: Any, threshold: str, reason: str = "") -> dict[str, Any]:
    status = "NOT TESTABLE" if ok is None else ("PASS" if ok else "FAIL")
    return {"status": status, "value": value, "threshold": threshold, "reason": reason}


def beats(a: list[float], b: list[float], margin: float = 0.0) -> bool:
    """ki.md §5.1 "A beats B": mean(a) − mean(b) exceeds max(margin, 2 × the pooled between-seed
    sd) of the two arms' per-seed values; a smaller difference is a tie."""
    pooled = math.sqrt((_sd(a) ** 2 + _sd(b) ** 2) / 2)
    return sum(a) / len(a) - sum(b) / len(b) > max(margin, 2 * pooled)


def seed_savings(sav: dict[str, Any]) -> list[float]:
    """Per-seed step savings from `savings`; a seed that never reached P* counts as 0."""
    return [p.get("step_saving") or 0.0 for p in sav["per_seed"]]


def step_saving_verdict(sav: dict[str, Any], threshold: str) -> dict[str, Any]:
    """M1 and M11 (ki.md §5.2): mean s_KI/S <= 0.80 and every seed <= 0.90, from `savings`.

    A seed that never reaches P* has s_KI/S > 1, so it fails the bound; the value is the mean
    s_KI/S over the seeds when all reached it.
    """
    per = [p["steps_to_target"] for p in sav["per_seed"]]
    missed = sum(s is None for s in per)
    step = sav["step_saving"]
    ok = not missed and step["mean"] >= 0.20 and all(s / sav["S"] <= 0.9 for s in per)
    reason = f"KI did not reach P* in {missed} of {len(per)} seeds" if missed else ""
    return verdict(ok, None if missed else 1 - step["mean"], threshold, reason)
