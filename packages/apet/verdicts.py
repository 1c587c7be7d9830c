"""Verdicts F1a-F3 per ladder from the study's records (apet.md §5.1 verdict rule, §5.2 shapes).

REPRODUCED: the point estimate satisfies the inequality and the 90% CI excludes the null;
DIRECTION ONLY: the point does, the CI does not; NOT REPRODUCED: the point is on the wrong side
of the null or equal to it; NOT TESTABLE: a precondition fails. Always computed, never typed.
"""

from __future__ import annotations

import math
from typing import Any

from thunlp_repro.apet import analysis as an

REPRODUCED, DIRECTION, NOT_REPRODUCED, NOT_TESTABLE = (
    "REPRODUCED", "DIRECTION ONLY", "NOT REPRODUCED", "NOT TESTABLE")  # fmt: skip

CLAIMS = {
    "F1a": "positions of tunable parameters matter less as the model grows",
    "F1b": "random positions (APET) approach the designed PET method at the same budget",
    "F1c": "structured placement matters less with scale (reported)",
    "F2a": "PET methods get closer to full fine-tuning with scale",
    "F2b": "fewer tunable parameters reach FT performance on larger models",
    "F3": "a similar parameter count beats random guess across tasks",
}
"""The paper's claim beside each finding (apet.md §1, [paper])."""


def rule(point: float, ci: tuple[float, float], null: float, want: str = "below") -> str:
    """The §5.1 verdict of a statistic that should lie below (or above) `null`."""
    if point is None or math.isnan(point):
        return NOT_TESTABLE
    sign = 1.0 if want == "below" else -1.0
    if not sign * (null - point) > 0:
        return NOT_REPRODUCED
    bound = ci[1] if want == "below" else ci[0]
    if math.isnan(bound):
        return DIRECTION
    return REPRODUCED if sign * (null - bound) > 0 else DIRECTION


def _row(finding: str, ladder: str, statistic: str, point: float, ci: tuple[float, float],
         verdict: str, note: str = "") -> dict[str, Any]:  # fmt: skip
    return {
        "finding": finding,
        "ladder": ladder,
        "statistic": statistic,
        "point": point,
        "ci90": list(ci),
        "verdict": verdict,
        "claim": CLAIMS[finding],
        "note": note,
    }


def _fmt(x: float) -> str:
    return "nan" if x is None or math.isnan(x) else f"{x:.2f}"


def ladder_verdicts(records: list[dict[str, Any]], ladder: str, models: list[str],
                    tasks: list[str], pools: list[str], draws: int = 2000,
                    seed: int = 0) -> list[dict[str, Any]]:  # fmt: skip
    """Every finding's row for one ladder (`models` small -> large, those with records)."""
    have = [m for m in models if an.select(records, model=m)]
    if len(have) < 2:
        why = f"fewer than 2 models of ladder {ladder} have results"
        return [_row(f, ladder, "-", math.nan, (math.nan, math.nan), NOT_TESTABLE, why)
                for f in CLAIMS]  # fmt: skip
    small, large = have[0], have[-1]
    out = []

    # F1a: σ_pos ratio, precondition σ_pos(small) > σ_train(small)
    ps, pl = an.position_cells(records, small, "pos"), an.position_cells(records, large, "pos")
    c = an.compare(an.sigma, ps, pl, "ratio", draws, seed)
    s_train = an.sigma(an.position_cells(records, small, "train"))
    pre = not math.isnan(c.small) and not math.isnan(s_train) and c.small > s_train
    v = rule(c.point, c.ci, 1.0) if pre else NOT_TESTABLE
    out.append(_row("F1a", ladder, f"σ_pos {_fmt(c.small)} → {_fmt(c.large)} (ratio)", c.point,
                    c.ci, v, "" if pre else f"σ_pos(small) {_fmt(c.small)} ≤ σ_train "
                    f"{_fmt(s_train)}: no position effect at the small end"))  # fmt: skip

    ms, ml = an.method_cells(records, small), an.method_cells(records, large)
    c = an.compare(an.delta_match, ms, ml, "diff", draws, seed)
    out.append(_row("F1b", ladder, f"Δ_match {_fmt(c.small)} → {_fmt(c.large)} (diff)", c.point,
                    c.ci, rule(c.point, c.ci, 0.0)))  # fmt: skip

    ss, sl = an.struct_cells(records, small, pools), an.struct_cells(records, large, pools)
    c = an.compare(an.r_struct, ss, sl, "diff", draws, seed)
    out.append(_row("F1c", ladder, f"R_struct {_fmt(c.small)} → {_fmt(c.large)} (diff)", c.point,
                    c.ci, rule(c.point, c.ci, 0.0)))  # fmt: skip

    c = an.compare(an.gap, ms, ml, "diff", draws, seed)
    pre = not math.isnan(c.small) and c.small >= 1.0
    out.append(_row("F2a", ladder, f"gap {_fmt(c.small)} → {_fmt(c.large)} (diff)", c.point, c.ci,
                    rule(c.point, c.ci, 0.0) if pre else NOT_TESTABLE,
                    "" if pre else f"gap(small) {_fmt(c.small)} < 1 point"))  # fmt: skip

    th = {m: {t: an.thresholds(records, m, t, max(draws // 2, 100), seed) for t in tasks}
          for m in have}  # fmt: skip
    out.append(_f2b(ladder, th[small], th[large]))
    out.append(_f3(ladder, th))
    return out


def _f2b(ladder: str, small: dict[str, Any], large: dict[str, Any]) -> dict[str, Any]:
    """T_high(large) < T_high(small) on >= 2 of 3 tasks and > on none; CI: interval-separated."""
    tasks = [t for t in small if small[t] and large.get(t)]
    finite = sum(1 for t in tasks if large[t]["high"].value is not None)
    stat = "; ".join(f"{t}: {small[t]['high'].label()} → {large[t]['high'].label()}" for t in tasks)
    if finite < 2:
        return _row(
            "F2b",
            ladder,
            stat or "-",
            math.nan,
            (math.nan, math.nan),
            NOT_TESTABLE,
            f"T_high finite on the large model for {finite} task(s), 2 needed",
        )
    lower = [t for t in tasks if large[t]["high"].log2 < small[t]["high"].log2]
    higher = [t for t in tasks if large[t]["high"].log2 > small[t]["high"].log2]
    need = min(2, len(tasks))
    point_ok = len(lower) >= need and not higher
    separated = [t for t in lower if large[t]["high_ci"][1] < small[t]["high_ci"][0]]
    verdict = NOT_REPRODUCED
    if point_ok:
        verdict = REPRODUCED if len(separated) >= need else DIRECTION
    return _row(
        "F2b",
        ladder,
        stat,
        float(len(lower) - len(higher)),
        (math.nan, math.nan),
        verdict,
        f"lower on {len(lower)}, higher on {len(higher)} of {len(tasks)} tasks",
    )


def _f3(ladder: str, th: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """spread_low <= 2 for every model; CI: the 90th percentiles' spread too."""
    parts, worst, worst_hi = [], -math.inf, -math.inf
    for model, by_task in th.items():
        rows = [r for r in by_task.values() if r]
        if not rows or any(r["low"].censor for r in rows):
            return _row(
                "F3",
                ladder,
                f"{model}: a T_low is censored or missing",
                math.nan,
                (math.nan, math.nan),
                NOT_TESTABLE,
                "T_low must be finite, uncensored",
            )
        sp = an.spread([r["low"].log2 for r in rows])
        hi = max(r["low_ci"][1] for r in rows) - min(r["low_ci"][0] for r in rows)
        parts.append(f"{model}: {sp:.1f}")
        worst, worst_hi = max(worst, sp), max(worst_hi, hi)
    verdict = rule(worst, (math.nan, worst_hi), 2.0 + 1e-9)
    return _row(
        "F3", ladder, "spread_low (log2) " + ", ".join(parts), worst, (math.nan, worst_hi), verdict
    )
