"""apet.md §5.1 statistics on synthetic curves with known answers."""

from __future__ import annotations

import math

import numpy as np

from thunlp_repro.apet import analysis as an

GRID = [2**k for k in range(4, 20, 2)]  # 16 .. 2^18


def curve(means: list[float], noise: float = 0.5, seeds: int = 3) -> dict[int, np.ndarray]:
    offs = np.linspace(-noise, noise, seeds)
    return {b: m + offs for b, m in zip(GRID, means, strict=True)}


def test_low_threshold_found_left_and_right_censored():
    # chance 50; rises above chance + 2 from 2^10 onward, with a noisy dip before it
    c = curve([50, 51, 53, 52, 60, 70, 80, 85])
    t = an.low_threshold(c, 50.0)
    assert (t.value, t.censor) == (2**12, "")
    assert math.log2(t.value) == 12 and t.label() == "4,096"
    left = an.low_threshold(curve([60] * 8), 50.0)
    assert left.censor == "left" and left.value == 16 and left.label() == "≤ 16"
    right = an.low_threshold(curve([50] * 8), 50.0)
    assert right.censor == "right" and right.value is None and right.log2 == math.inf
    assert right.label() == "> max B"


def test_low_threshold_respects_two_sigma():
    # mean 55 beats chance+2 but a seed spread of sd 5 needs > 10 points
    noisy = {b: np.array([50.0, 55.0, 60.0]) for b in GRID}
    assert an.low_threshold(noisy, 50.0).censor == "right"


def test_high_threshold_against_ft():
    # mu >= FT - 1 = 85 holds from 2^16 on (2^14 has 84), so T_high = 2^16
    t = an.high_threshold(curve([50, 55, 60, 70, 80, 84, 85.5, 86]), ft_mean=86.0)
    assert (t.value, t.censor) == (2**16, "")
    assert an.high_threshold(curve([50] * 8), ft_mean=86.0).censor == "right"


def test_threshold_interval_brackets_truth():
    rng = np.random.default_rng(0)
    c = {b: (50 if b < 2**10 else 75) + rng.normal(0, 1, 3) for b in GRID}
    lo, hi = an.threshold_interval(c, "low", 50.0, draws=300)
    assert lo <= 10 <= hi


def test_bootstrap_ci_covers_the_truth():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(40):
        x = rng.normal(3.0, 1.0, 30)
        lo, hi = an.bootstrap_ci_mean(x, draws=500, seed=int(rng.integers(1e6)))
        covered += lo <= 3.0 <= hi
    assert 30 <= covered <= 40  # nominal 90%


def _rec(model, task, method, acc, s_pos=1, s_data=1, match=None, pool="layers", budget=0):
    return {"model": model, "task": task, "method": method, "match": match, "pool": pool,
            "s_pos": s_pos, "s_data": s_data, "accuracy": acc, "chance": 50.0,
            "budget": budget, "budget_requested": budget, "head_params": 0,
            "model_params": 10}  # fmt: skip


def test_gap_delta_match_sigma_and_struct():
    recs = []
    for s in (1, 2, 3):
        recs += [_rec("m", "t", "ft", 90.0, s, s), _rec("m", "t", "lora", 80.0, s, s),
                 _rec("m", "t", "bitfit", 70.0, s, s),
                 _rec("m", "t", "apet-element", 75.0, s, s, match="lora"),
                 _rec("m", "t", "apet-element", 72.0, s, s, match="bitfit")]  # fmt: skip
    mc = an.method_cells(recs, "m")
    assert an.gap(mc) == 15.0  # (10 + 20) / 2
    assert an.delta_match(mc) == 3.5  # (5 + 2) / 2
    pos = [_rec("m", "t", "apet-element", a, p, 1, match="lora") for p, a in
           zip((1, 2, 3, 4, 5), (70.0, 72.0, 74.0, 76.0, 78.0), strict=True)]  # fmt: skip
    assert math.isclose(an.sigma(an.position_cells(pos, "m", "pos")), float(np.std(
        [70, 72, 74, 76, 78], ddof=1)))  # fmt: skip
    struct = [_rec("m", "t", "apet-element", a, 1, 1, match="lora", pool=p)
              for p, a in (("low", 60.0), ("high", 70.0), ("attn", 65.0))]  # fmt: skip
    assert an.r_struct(an.struct_cells(struct, "m", ["low", "high", "attn"])) == 10.0


def test_compare_diff_ci_excludes_zero_for_a_clear_drop():
    small = {("t", i): np.array([10.0, 11.0, 12.0]) for i in range(3)}
    large = {("t", i): np.array([2.0, 3.0, 4.0]) for i in range(3)}

    def mean_stat(cells):
        return float(np.mean([v.mean() for v in cells.values()]))

    c = an.compare(mean_stat, small, large, "diff", draws=500)
    assert math.isclose(c.point, -8.0)
    assert c.ci[1] < 0


def test_censor_reason_names_the_budget_that_breaks_the_rule():
    # beats chance from 2^12 on, but one wild seed at 2^18 (sd 6) right-censors T_low
    c = curve([50, 50, 50, 50, 60, 70, 80, 85])
    c[GRID[-1]] = np.array([50.0, 62.0, 56.0])
    assert an.low_threshold(c, 50.0).censor == "right"
    why = an.censor_reason(c, an.low_threshold(c, 50.0), "low", 50.0)
    assert "at L = 262,144" in why and "2σ = 12.0" in why and "L = 4,096 beats chance" in why
    flat = curve([60] * 8)
    assert an.censor_reason(flat, an.low_threshold(flat, 50.0), "low", 50.0).startswith(
        "low: μ beats chance by 10.0"
    )
    rising = curve([50, 55, 60, 70, 80, 84, 85.5, 86])
    assert an.censor_reason(rising, an.high_threshold(rising, 86.0), "high", 86.0) == ""
    low = curve([50] * 8)
    assert an.censor_reason(low, an.high_threshold(low, 86.0), "high", 86.0) == (
        "high: μ 50.0 at L = 262,144 < μ_FT − 1 = 85.0"
    )
