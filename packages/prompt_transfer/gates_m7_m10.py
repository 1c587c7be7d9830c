"""Gates M7-M10 of the mini preset, computed by the `indicators` and `project` stages.

Reproduces: prompt_transfer.md §5.1:
- M7: pooled rho(ON_all, R) >= max(rho(E_avg, R), rho(E_tok, R)) + 0.10 in >= 2 of 3 seeds (the
  share is scaled to the seeds run, as in `gates.py`), and the per-target rho points the same way
  (seed-mean per-target rho of ON_all above both embedding indicators).
- M8: the projector pair's held-out same-family targets reach mean R >= 70 and >= the target
  backbone's `rand-init` + 15, and its other-family targets stay within 10 points of `rand-init`.
- M9: on the held-out same-family targets, task tuning >= distance minimisation.
- M10 (report-only): ON by window, ON_raw, on_input=task, the cross-depth identity map vs the
  projector.
Each stage writes its lines into its stage file; `gates._merge_stage_gates` reads them.
"""

from __future__ import annotations

import math
from typing import Any

from .gates import (
    FAIL,
    M7_SHAPE,
    M8_SHAPE,
    M9_SHAPE,
    M10_SHAPE,
    NOT_RUN,
    PASS,
    REPORT,
    _gate,
    _share,
)


def _ge(a: float, b: float) -> bool:
    return not (math.isnan(a) or math.isnan(b)) and a >= b


def m7(doc: dict[str, Any]) -> dict[str, Any]:
    """Gate M7 from an indicators stage document (its per-seed and seed-mean correlations)."""
    seeds = list(doc["per_seed"])
    hits = []
    for s in seeds:
        rho = doc["per_seed"][s]["rho"]
        emb = max(rho["E_avg"]["pooled"], rho["E_tok"]["pooled"])
        hits.append(_ge(rho["ON_all"]["pooled"], emb + 0.10))
    mean = doc["mean"]
    on_pt = mean["ON_all"]["per_target"]["mean"]
    emb_pt = max(mean["E_avg"]["per_target"]["mean"], mean["E_tok"]["per_target"]["mean"])
    on_p = mean["ON_all"]["pooled"]["mean"]
    emb_p = max(mean["E_avg"]["pooled"]["mean"], mean["E_tok"]["pooled"]["mean"])
    need = _share(len(seeds), 2, 3)
    ok = sum(hits) >= need and on_pt > emb_pt
    return _gate(
        "M7",
        M7_SHAPE,
        PASS if ok else FAIL,
        f"pooled rho ON_all {on_p:.2f} vs max(E_avg, E_tok) {emb_p:.2f} (+0.10 met in "
        f"{sum(hits)}/{len(seeds)} seed(s)); per-target {on_pt:.2f} vs {emb_pt:.2f}",
        f"ON >= embeddings + 0.10 in >= {need} seed(s), per-target the same way",
    )


def m10_indicators(doc: dict[str, Any]) -> dict[str, Any]:
    """M10's indicator part: pooled rho of ON by layer window, ON_raw and on_input=task."""
    mean = doc["mean"]
    wins = [w for w in doc["windows"] if w != "all"]
    rhos = [mean[f"ON_{w}"]["pooled"]["mean"] for w in wins]
    upper = len(rhos) > 1 and _ge(rhos[-1], rhos[0])
    parts = ", ".join(f"{w} {r:.2f}" for w, r in zip(wins, rhos, strict=True))
    value = (
        f"ON by window pooled rho: {parts} (top window >= bottom: {'yes' if upper else 'no'}); "
        f"ON_raw {mean['ON_raw']['pooled']['mean']:.2f}; "
        f"on_input=task {mean['ON_task']['pooled']['mean']:.2f}"
    )
    return _gate("M10", M10_SHAPE, REPORT, value, "report-only")


def _group_mean(pair: dict[str, Any], values: dict[str, float], group: str) -> float:
    vals = [values[t] for t, g in pair["groups"].items() if g == group]
    return sum(vals) / len(vals) if vals else math.nan


def m8_m9(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Gates M8 and M9 from a project stage document (its `gate_pair`)."""
    pair = doc["pairs"].get(doc["gate_pair"], {})
    name = doc["gate_pair"]
    if pair.get("status") != "ok":
        why = f"{name}: {pair.get('reason', 'not run')}"
        return [_gate("M8", M8_SHAPE, NOT_RUN, why, ""), _gate("M9", M9_SHAPE, NOT_RUN, why, "")]
    modes, rand = pair["modes"], pair["rand_init"]
    out = []
    if "task" not in modes:
        out.append(_gate("M8", M8_SHAPE, NOT_RUN, f"{name}: task tuning not run", ""))
    else:
        r_h = _group_mean(pair, modes["task"]["R"], "held-out")
        q_h = _group_mean(pair, rand, "held-out")
        r_o = _group_mean(pair, modes["task"]["R"], "other")
        q_o = _group_mean(pair, rand, "other")
        ok = _ge(r_h, 70) and _ge(r_h, q_h + 15) and _ge(10, abs(r_o - q_o))
        out.append(_gate(
            "M8", M8_SHAPE, PASS if ok else FAIL,
            f"{name}: held-out same-family R {r_h:.1f} (rand-init {q_h:.1f}); other family "
            f"{r_o:.1f} (rand-init {q_o:.1f})",
            "held-out >= 70 and >= rand-init + 15; |other - rand-init| <= 10",
        ))  # fmt: skip
    if not {"task", "distance"} <= set(modes):
        out.append(_gate("M9", M9_SHAPE, NOT_RUN, f"{name}: needs both projector modes", ""))
    else:
        t_h = _group_mean(pair, modes["task"]["R"], "held-out")
        d_h = _group_mean(pair, modes["distance"]["R"], "held-out")
        out.append(_gate(
            "M9", M9_SHAPE, PASS if _ge(t_h, d_h) else FAIL,
            f"{name}: held-out same-family R task tuning {t_h:.1f} vs distance {d_h:.1f}",
            "task >= distance",
        ))  # fmt: skip
    return out


def m10_project(doc: dict[str, Any]) -> dict[str, Any]:
    """M10's projector part: the cross-depth identity map against the projector, and tpt-model's
    median speed-up to 95% of B's vanilla best (report-only)."""
    from .tpt import median

    parts, tpt = [], []
    for name, pair in doc["pairs"].items():
        if pair.get("status") != "ok":
            parts.append(f"{name} not run ({pair.get('reason', '')})")
            continue
        if pair.get("tpt_model"):
            sp = median([r["speedup_95"] for r in pair["tpt_model"].values()])
            tpt.append(f"{name} median speedup_95 {sp:.2f}")
        if pair.get("identity") is None or pair["source"] == pair["target"]:
            continue
        ident = _group_mean(pair, pair["identity"], "held-out")
        modes = pair["modes"]
        proj = ", ".join(f"{m} {_group_mean(pair, modes[m]['R'], 'held-out'):.1f}" for m in modes)
        mats = pair.get("identity_matrices", {})
        diag = ", ".join(f"{k} diagonal {v['diagonal']:.1f}" for k, v in mats.items())
        parts.append(f"cross-depth {name}: held-out R identity {ident:.1f} vs projector {proj}"
                     + (f"; identity matrices {diag}" if diag else ""))  # fmt: skip
    parts.append(f"tpt-model: {'; '.join(tpt)}" if tpt else "tpt-model not run")
    return _gate("M10", M10_SHAPE, REPORT, "; ".join(parts), "report-only")
