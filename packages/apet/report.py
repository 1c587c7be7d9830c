"""APET's report section (apet.md §6): verdict table first (finding, ladder, statistic, 90% CI,
verdict, the paper's claim), then accuracy vs budget with thresholds marked, σ_pos vs size,
PET-FT gap vs size, the thresholds table and the methods table with realised trainable counts
next to L; hardware and wall time per table. Everything is computed from the results JSONs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from thunlp_repro.apet import analysis as an
from thunlp_repro.apet import verdicts as vd

TABLE_ORDER = ("e1-positions", "e2-methods", "e3-thresholds")


def _f(x: Any, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, float) and math.isinf(x):
        return "∞"
    return f"{x:.{nd}f}"


def _struct_note(pools: list[str]) -> str:
    """Which structured pools R_struct spans, and why a spec pool is left out (E1)."""
    from .config import STRUCTURED_POOLS

    left = [p for p in STRUCTURED_POOLS if p not in pools]
    note = f"R_struct spans the structured pools {', '.join(pools) or 'none'} at APET(LoRA)'s L."
    if "module=norm_bias" in left:
        note += (" `module=norm_bias` (LayerNorm parameters and biases: 14,976 on MiniLM-L3) is"
                 " left out: it cannot hold the LoRA-matched budget (36,864 on MiniLM-L3), and a"
                 " pool trained whole at a smaller L would mix placement with budget.")  # fmt: skip
    return note


def study_summary(records: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    """Every §5.1 statistic and the §5.2 verdicts from the cell records (JSON-ready)."""
    ladders: dict[str, list[str]] = meta.get("ladders", {})
    tasks: list[str] = meta.get("tasks") or sorted({r["task"] for r in records})
    pools: list[str] = meta.get("structured_pools", [])
    draws, seed = int(meta.get("bootstrap", 1000)), 0
    models = list(dict.fromkeys(r["model"] for r in records))
    th_rows = []
    for m in models:
        for t in tasks:
            th = an.thresholds(records, m, t, draws, seed)
            if th is None:
                continue
            th_rows.append({"model": m, "task": t, "chance": th["chance"],
                            "low": th["low"].label(), "low_value": th["low"].value,
                            "low_censor": th["low"].censor, "low_ci_log2": list(th["low_ci"]),
                            "high": th["high"].label(), "high_value": th["high"].value,
                            "high_censor": th["high"].censor,
                            "high_ci_log2": list(th["high_ci"]),
                            "note": th["note"]})  # fmt: skip
    per_model = []
    for m in models:
        mc = an.method_cells(records, m)
        params = next(r.get("model_params", 0) for r in records if r["model"] == m)
        per_model.append({
            "model": m, "model_params": params,
            "sigma_pos": an.sigma(an.position_cells(records, m, "pos")),
            "sigma_train": an.sigma(an.position_cells(records, m, "train")),
            "delta_match": an.delta_match(mc), "gap": an.gap(mc),
            "r_struct": an.r_struct(an.struct_cells(records, m, pools)),
        })  # fmt: skip
    methods = []
    for (model, task, method, match), v in an.cells(
            [r for r in records if r["s_pos"] == r["s_data"] and r["pool"] == "layers"],
            ("model", "task", "method", "match")).items():  # fmt: skip
        sel = an.select(records, model=model, task=task, method=method, match=match)
        methods.append({"model": model, "task": task, "method": method, "match": match,
                        "L_requested": sel[0]["budget_requested"],
                        "L_realised": sel[0]["budget"], "head_params": sel[0]["head_params"],
                        "mean": float(np.mean(v)), "sd": an.sd(v), "n": len(v)})  # fmt: skip
    verdict_rows = []
    compare_draws = int(meta.get("compare_bootstrap", 2000))
    for lad in ("R", "K"):
        if lad not in ladders:
            verdict_rows += [{"finding": f, "ladder": lad, "statistic": "not run", "point": None,
                              "ci90": [None, None], "verdict": vd.NOT_TESTABLE,
                              "claim": vd.CLAIMS[f], "note": f"ladder {lad} not run"}
                             for f in vd.CLAIMS]  # fmt: skip
            continue
        verdict_rows += vd.ladder_verdicts(records, lad, ladders[lad], tasks, pools,
                                           compare_draws, seed)  # fmt: skip
    return {
        "thresholds": th_rows,
        "per_model": per_model,
        "methods": methods,
        "verdicts": _jsonable(verdict_rows),
        "structured_pools": list(pools),
    }


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    return x


def _md(headers: list[str], rows: list[list[Any]]) -> str:
    from thunlp_repro.shared.reporting.tables import markdown_table

    return markdown_table(headers, rows)


def render_section(results: list[dict[str, Any]], out_dir: Path) -> str:
    """Markdown of one preset's APET results (figures written into `out_dir`)."""
    from thunlp_repro.apet import plots

    tables = {r["run_info"]["table"]: r for r in results if r["run_info"]["table"] in TABLE_ORDER}
    if not tables:
        return "_No APET results for this preset._\n"
    first = tables[sorted(tables)[-1]]
    recs: dict[str, dict[str, Any]] = {}
    for t in tables.values():
        for r in t["metrics"]["records"]:
            recs[str(sorted(r.items(), key=str))] = r
    records = list(recs.values())
    meta = first.get("meta", {})
    summary = study_summary(records, meta) if len(tables) > 1 else first["metrics"]
    preset = first["run_info"]["preset"]
    lines = [
        f"### APET — preset `{preset}`",
        "",
        "#### Verdicts (apet.md §5.2; computed from the records below)",
        "",
    ]
    rows = [[v["finding"], v["ladder"], v["statistic"], _f(v.get("point")),
             f"[{_f(v['ci90'][0])}, {_f(v['ci90'][1])}]", f"**{v['verdict']}**",
             v["claim"], v.get("note", "")] for v in summary["verdicts"]]  # fmt: skip
    lines += [_md(["finding", "ladder", "statistic (small → large)", "point", "90% CI",
                   "verdict", "paper's claim", "note"], rows), ""]  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    fig = plots.budget_curves(records, summary["thresholds"], out_dir / f"apet-{preset}-budget.png")
    pm = summary["per_model"]
    f2 = plots.by_size(
        {
            "σ_pos": [(p["model_params"], p["sigma_pos"]) for p in pm],
            "σ_train": [(p["model_params"], p["sigma_train"]) for p in pm],
        },
        "sd of accuracy (points)",
        out_dir / f"apet-{preset}-sigma-pos.png",
    )
    f3 = plots.by_size(_gap_series(summary["methods"], pm), "FT − PET (points)",
                       out_dir / f"apet-{preset}-gap.png")  # fmt: skip
    for title, path in (
        ("Accuracy vs budget (▲ T_low, ■ T_high; dashed: FT; dotted: chance)", fig),
        ("σ_pos and σ_train vs size", f2),
        ("PET − FT gap vs size", f3),
    ):
        if path is not None:
            lines += [f"#### {title}", "", f"![{title}]({path.name})", ""]
    lines += ["#### Thresholds (E3; interval: 10th–90th percentile of log2 T)", ""]
    rows = [[t["model"], t["task"], _f(t["chance"], 1), t["low"],
             f"[{_f(t['low_ci_log2'][0], 1)}, {_f(t['low_ci_log2'][1], 1)}]", t["high"],
             f"[{_f(t['high_ci_log2'][0], 1)}, {_f(t['high_ci_log2'][1], 1)}]",
             t.get("note", "")] for t in summary["thresholds"]]  # fmt: skip
    lines += [_md(["model", "task", "chance", "T_low", "log2 CI", "T_high", "log2 CI",
                   "censored because"], rows), ""]  # fmt: skip
    lines += ["#### Per-model statistics", ""]
    rows = [[p["model"], f"{p['model_params']:,}", _f(p["sigma_pos"]), _f(p["sigma_train"]),
             _f(p["delta_match"]), _f(p["r_struct"]), _f(p["gap"])] for p in pm]  # fmt: skip
    lines += [_md(["model", "params", "σ_pos", "σ_train", "Δ_match", "R_struct", "gap"], rows), ""]
    lines += [_struct_note(summary.get("structured_pools") or []), ""]
    lines += ["#### Methods (mean ± sd over seeds; L realised beside L requested)", ""]
    rows = [[m["model"], m["task"], m["method"] + (f" ({m['match']})" if m["match"] else ""),
             f"{m['L_requested']:,}", f"{m['L_realised']:,}", m["head_params"],
             f"{m['mean']:.1f} ± {m['sd']:.1f}", m["n"], "—"]
            for m in summary["methods"] if not (m["method"] == "apet-element"
                                                 and m["match"] is None)]  # fmt: skip
    lines += [_md(["model", "task", "method", "L requested", "L realised", "head params",
                   "accuracy", "seeds", "paper"], rows), ""]  # fmt: skip
    lines += ["#### Hardware and wall time per table", ""]
    rows = [
        [
            name,
            t["metrics"]["n_cells"],
            f"{t['metrics']['wall_s'] / 60:.1f}",
            ", ".join(t["eval_info"].get("device", [])),
            t.get("meta", {}).get("hardware", "—"),
        ]
        for name, t in sorted(tables.items())
    ]
    lines += [_md(["table", "cells", "cell wall time (min)", "device", "hardware"], rows), ""]
    return "\n".join(lines)


def _gap_series(methods: list[dict[str, Any]], per_model: list[dict[str, Any]]) -> dict:
    params = {p["model"]: p["model_params"] for p in per_model}
    ft: dict[tuple, float] = {(m["model"], m["task"]): m["mean"] for m in methods
                              if m["method"] == "ft"}  # fmt: skip
    acc: dict[tuple[str, str], list[float]] = defaultdict(list)
    for m in methods:
        if m["method"] in ("prompt", "bitfit", "lora", "adapter") and (m["model"], m["task"]) in ft:
            acc[(m["method"], m["model"])].append(ft[(m["model"], m["task"])] - m["mean"])
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (method, model), v in acc.items():
        out[method].append((params[model], float(np.mean(v))))
    return dict(out)


def headlines(by_preset: dict[str, list[dict[str, Any]]]) -> list[Any]:
    """REPORT.md row: F2b (the high threshold falls with size), verdict of the mini record."""
    from thunlp_repro.shared.reporting.headline import Headline, table

    found = table(by_preset, "e3-thresholds")

    def row(doc: dict | None) -> dict | None:
        if doc is None:
            return None
        return next((v for v in doc["metrics"]["verdicts"]
                     if v["finding"] == "F2b" and v["ladder"] == "R"), None)  # fmt: skip

    mini, quick = row(found["mini"]), row(found["quick"])
    verdict = mini["verdict"] if mini else "NOT TESTABLE"
    quick_ok = None if (mini is None or quick is None) else quick["verdict"] == mini["verdict"]
    return [Headline(
        "APET F2b: fewer tunable parameters reach FT on the larger model (Ladder R)",
        "T_high falls with size [unverified]",
        mini["statistic"] if mini else "not run", quick["statistic"] if quick else "not run",
        "same verdict as the record", quick_ok, verdict, "apet.md#apet--preset-mini",
    )]  # fmt: skip
