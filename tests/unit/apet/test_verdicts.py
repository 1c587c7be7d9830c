"""Verdict mapping (apet.md §5.1) and F1a-F3 on synthetic two-model ladders (§5.2)."""

from __future__ import annotations

import math

import numpy as np

from thunlp_repro.apet import verdicts as vd


def test_rule_cases():
    assert vd.rule(-3.0, (-5.0, -1.0), 0.0) == vd.REPRODUCED
    assert vd.rule(-3.0, (-5.0, 1.0), 0.0) == vd.DIRECTION
    assert vd.rule(0.0, (-1.0, 1.0), 0.0) == vd.NOT_REPRODUCED
    assert vd.rule(2.0, (1.0, 3.0), 0.0) == vd.NOT_REPRODUCED
    assert vd.rule(0.5, (0.3, 0.8), 1.0) == vd.REPRODUCED  # a ratio below 1
    assert vd.rule(math.nan, (0, 0), 0.0) == vd.NOT_TESTABLE


def _ladder(gap_small: float, gap_large: float, noise: float = 0.3) -> list[dict]:
    recs = []
    offs = np.linspace(-noise, noise, 3)
    grid = [2**k for k in (4, 6, 8, 10, 12, 14)]
    for model, g, pos_sd in (("s", gap_small, 4.0), ("l", gap_large, 1.0)):
        for task in ("a", "b", "c"):
            for i, s in enumerate((1, 2, 3)):
                base = {"model": model, "task": task, "pool": "layers", "s_pos": s, "s_data": s,
                        "chance": 50.0, "budget": 0, "budget_requested": 0, "head_params": 0,
                        "model_params": 1}  # fmt: skip
                recs.append({**base, "method": "ft", "match": None, "accuracy": 90 + offs[i]})
                for m in ("prompt", "bitfit", "lora", "adapter"):
                    recs.append({**base, "method": m, "match": None,
                                 "accuracy": 90 - g + offs[i]})  # fmt: skip
                    recs.append({**base, "method": "apet-element", "match": m,
                                 "accuracy": 90 - g - g / 2 + offs[i]})  # fmt: skip
                for j, b in enumerate(grid):  # high threshold one grid step lower when large
                    acc = 50 + 40 * min(1.0, (j + 1) / (4 if model == "s" else 3))
                    recs.append({**base, "method": "apet-element", "match": None, "budget": b,
                                 "accuracy": acc + offs[i]})  # fmt: skip
            for d in (2, 3):  # training noise at s_pos = 1: small against the position effect
                recs.append({**base, "s_pos": 1, "s_data": d, "method": "apet-element",
                             "match": "lora", "accuracy": 90 - 1.5 * g + 0.2 * d})  # fmt: skip
            for p in (2, 3, 4, 5):
                recs.append({**base, "s_pos": p, "s_data": 1, "method": "apet-element",
                             "match": "lora", "accuracy": 80 + pos_sd * (p - 3)})  # fmt: skip
    return recs


def test_synthetic_ladder_reproduces_f1b_f2a_f2b():
    rows = {
        r["finding"]: r
        for r in vd.ladder_verdicts(
            _ladder(10.0, 2.0), "R", ["s", "l"], ["a", "b", "c"], [], draws=300
        )
    }
    assert rows["F2a"]["verdict"] == vd.REPRODUCED and rows["F2a"]["point"] == -8.0
    assert rows["F1b"]["verdict"] == vd.REPRODUCED
    assert rows["F2b"]["verdict"] in (vd.REPRODUCED, vd.DIRECTION)
    assert rows["F1a"]["verdict"] == vd.REPRODUCED and rows["F1a"]["point"] < 1
    assert rows["F1c"]["verdict"] == vd.NOT_TESTABLE  # no structured pools in the records


def test_wrong_direction_and_preconditions():
    rows = {
        r["finding"]: r
        for r in vd.ladder_verdicts(
            _ladder(3.0, 6.0), "R", ["s", "l"], ["a", "b", "c"], [], draws=200
        )
    }
    assert rows["F2a"]["verdict"] == vd.NOT_REPRODUCED
    small_gap = {r["finding"]: r for r in vd.ladder_verdicts(_ladder(0.5, 0.2), "R",
                 ["s", "l"], ["a", "b", "c"], [], draws=100)}  # fmt: skip
    assert small_gap["F2a"]["verdict"] == vd.NOT_TESTABLE
    one = vd.ladder_verdicts(_ladder(3.0, 6.0), "K", ["s"], ["a"], [], draws=50)
    assert {r["verdict"] for r in one} == {vd.NOT_TESTABLE}
