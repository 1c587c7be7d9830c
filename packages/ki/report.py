"""The KI section of the shared report (ki.md §6): compute-saved tables, acceptance, plots.

Registered with `register_section("ki")`; `thunlp-repro report` imports this module on demand.
Tables follow conventions.md §2.8 (*setting | paper | ours | ...*); mini rows never carry a paper
number (the paper's numbers are [unverified], `paper_numbers.yaml`), so the paper column states
the claimed direction. Figures F1-F8 are drawn by `ki.plots`; the GPT arm's causal PPL has its
own figure (F8), never an axis shared with MLM PPLs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thunlp_repro.ki.analysis import step_lead
from thunlp_repro.ki.plots import diagnostics_figure, ppl_figure, teachers_figure, topk_figure
from thunlp_repro.ki.runs import settings_flags
from thunlp_repro.shared.reporting.headline import Headline, register_headline
from thunlp_repro.shared.reporting.headline import table as headline_table
from thunlp_repro.shared.reporting.report import REPORT_SECTIONS, register_section
from thunlp_repro.shared.reporting.results import SOURCE_KEY, split_variants
from thunlp_repro.shared.reporting.tables import format_float, markdown_table

PAPER_DIRECTION = {
    "e1-ki-vs-scratch": "KI faster; tens of % saved [unverified]",
    "e2-schedule": "decaying weight matters; never stopping caps the student [unverified]",
    "e3-teacher-arch": "better teacher helps more [unverified]",
    "e4-teacher-data": "less / out-of-domain teacher data helps less [unverified]",
    "e5-generations": "knowledge accumulates over generations [unverified]",
    "e6-domain": "domain teacher helps domain adaptation [unverified]",
    "e7-downstream": "better downstream at equal steps [unverified]",
    "gpt": "no GPT arm in the paper; ours, with the direction inverted (teacher > student)",
}


def _pct(x: Any) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _ms(d: dict | None, pct: bool = True) -> str:
    if not d:
        return "not reached"
    f = (lambda v: f"{100 * v:.1f}") if pct else (lambda v: f"{v:.0f}")
    unit = "%" if pct else ""
    return f"{f(d['mean'])}{unit} ± {f(d['sd'])} [{f(d['min'])}, {f(d['max'])}] (n={d['n']})"


def _ppl(d: dict) -> str:
    return f"{d['mean']:.2f} ± {d['sd']:.2f} [{d['min']:.2f}, {d['max']:.2f}] (n={d['n']})"


def _hardware(meta: dict) -> str:
    h = meta.get("hardware")
    if h is None:
        return meta.get("device", "hardware not recorded")
    return ", ".join(h["gpus"]) if h["gpus"] else f"CPU ({h['cpu_count']} cores)"


def _acc(cell: dict | None) -> str:
    return "—" if cell is None else f"{cell['mean']:.3f} ± {cell['sd']:.3f}"


def _savings_row(name: str, sav: dict) -> list[str]:
    return [name, format_float(sav["target_ppl"], 2), _ms(sav["steps_to_target"], pct=False),
            _ms(sav["step_saving"]), _ms(sav["flop_saving_with_teacher"]),
            _ms(sav["flop_saving_without_teacher"]),
            _ms(sav["wall_saving"]) if sav.get("same_device", True) else "— (other device)",
            ", ".join(format_float(p["final_ppl"], 2) for p in sav["per_seed"])]  # fmt: skip


SAV_HEAD = ["arm", "target P*", "steps to P*", "step saving", "FLOP saving (with teacher)",
            "FLOP saving (student only)", "wall-clock saving", "final PPL per seed"]  # fmt: skip


def _label(r: dict) -> str:
    """A result's table id, with the --set flags of a variant run (a departure from the preset)."""
    user = r.get("meta", {}).get("user_settings")
    table = r["run_info"]["table"]
    return f"{table} ({settings_flags(user)})" if user else table


def _rounded(value: Any) -> Any:
    """A measured value with its floats at 3 decimals, nested lists and dicts included."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def _acceptance(results: list[dict], extra: Sequence[list[str]] = ()) -> str:
    rows = list(extra)
    for r in results:
        for mid, v in sorted(r["metrics"].get("acceptance", {}).items()):
            val = v["value"]
            text = format_float(val, 3) if isinstance(val, float) else str(_rounded(val))
            text = text if len(text) <= 160 else text[:159] + "…"
            rows.append([mid, _label(r), text, v["threshold"], v["status"]])
    rows.sort(key=lambda row: int(row[0][1:]))
    return markdown_table(["id", "table", "measured", "threshold", "verdict"], rows)


def ki_section(results: list[dict[str, Any]], out_dir: Path) -> str:
    """Markdown of the KI section for one preset."""
    by, variants = split_variants(results)
    parts = ["Measured on the preset named above. PPL = exp(mean NLL per selected token) on the "
             "fixed masked validation set; savings are against the mean final PPL of the scratch "
             "seeds (P*), per KI seed, as mean ± sd [min, max]. FLOPs follow ki.md §2.6; the "
             "teacher's own pre-training is a sunk cost, reported separately."]  # fmt: skip
    shown = sorted(by.values(), key=_label) + variants
    where: dict[str, list[str]] = {}
    for r in shown:
        where.setdefault(_hardware(r.get("meta", {})), []).append(_label(r))
    parts.append("Hardware: " + "; ".join(f"{', '.join(t)}: {h}" for h, t in where.items())
                 + " (step and FLOP savings do not depend on it; wall-clock does).")  # fmt: skip
    for table, r in sorted(by.items()):
        if user := r.get("meta", {}).get("user_settings"):
            parts.append(f"**{table} departs from the preset:** {settings_flags(user)}")
    for r in shown:  # what whoever ran it recorded about the run (e.g. a shared machine)
        parts += [f"**{_label(r)}:** {note}" for note in r.get("meta", {}).get("notes", [])]
    if "e1-ki-vs-scratch" in by:
        m = by["e1-ki-vs-scratch"]["metrics"]
        sav = m["savings"]
        parts.append(
            "### T1 compute saved (E1)\n\nPaper: "
            + PAPER_DIRECTION["e1-ki-vs-scratch"]
            + "\n\n"
            + markdown_table(SAV_HEAD, [_savings_row("KI linear-decay", sav)])
        )
        nf = m["no_fall_behind"]
        parts.append(f"Teacher PPL {format_float(m['teacher_ppl'], 2)}; after T the worst "
                     f"KI/scratch PPL ratio is {format_float(nf['worst_ratio_after_T'], 3)}; "
                     f"final KI {format_float(nf['final_ki'], 2)} vs scratch "
                     f"{format_float(nf['final_scratch'], 2)}. Goal (issue) s_KI/S <= 70%: "
                     f"{m.get('goal_70pct_steps')}. Lead over the mean scratch curve at T, per "
                     f"seed: {_leads(m)} steps; at P* it is S - s_KI = "
                     f"{_leads_at_target(sav)} steps. {_teacher_cost(m)}")  # fmt: skip
        T = by["e1-ki-vs-scratch"]["config"]["ki"]["stop_step"]
        groups = {"scratch": m["scratch"], "KI": m["ki"]}
        hl = {"P*": sav["target_ppl"], "teacher": m["teacher_ppl"]}
        parts.append(ppl_figure(out_dir, "f1.png", "F1: E1 PPL vs steps", groups, vline=T,
                                hline=hl))  # fmt: skip
        parts.append(ppl_figure(out_dir, "f2.png", "F2: E1 PPL vs FLOPs and vs wall-clock",
                                groups, [("flops_total", "flops_student"), ("wall_s",)],
                                hline=hl))  # fmt: skip
        if m.get("diagnostics"):
            parts.append(diagnostics_figure(out_dir, m["diagnostics"], T))
    parts += [e2_section(r, out_dir) for r in shown if r["run_info"]["table"] == "e2-schedule"]
    for key, title in (("e3-teacher-arch", "T2 teacher variants (E3)"),
                       ("e4-teacher-data", "T2 teacher data (E4)")):  # fmt: skip
        if key not in by:
            continue
        m = by[key]["metrics"]
        rows = []
        for label, v in sorted(m["teachers"].items()):
            tp = v.get("teacher_params") or {}
            rows.append([label, v["arch"], v["corpus"], v["fraction"],
                         tp.get("non_embedding"), format_float(v["teacher_ppl"], 2),
                         _ms(v["savings"]["step_saving"]),
                         _ms(v["savings"]["flop_saving_with_teacher"]),
                         format_float(v["final_ppl"], 2)])  # fmt: skip
        parts.append(
            f"### {title}\n\nPaper: {PAPER_DIRECTION[key]}\n\n"
            + markdown_table(
                [
                    "teacher",
                    "arch",
                    "data",
                    "fraction",
                    "non-emb params",
                    "teacher PPL",
                    "student step saving",
                    "FLOP saving",
                    "student final PPL",
                ],
                rows,
            )
        )
    sweeps = {k: by[k]["metrics"]["teachers"] for k in ("e3-teacher-arch", "e4-teacher-data")
              if k in by}  # fmt: skip
    if sweeps:
        parts.append(teachers_figure(out_dir, sweeps))
    parts += [e5_section(r, out_dir) for r in shown if r["run_info"]["table"] == "e5-generations"]
    if "e6-domain" in by:
        m = by["e6-domain"]["metrics"]
        rows = [_savings_row(k, v) for k, v in sorted(m["savings_news"].items())]
        acc = by.get("e7-downstream", {}).get("metrics", {}).get("accuracy", {})
        task = by["e6-domain"]["config"]["exp"].get("domain_task", "bbc")
        fin = [[a, format_float(v["news"], 2), format_float(v["general"], 2),
                _acc(acc.get(f"e6-{a}", {}).get(task))]
               for a, v in sorted(m["final"].items())]  # fmt: skip
        parts.append(
            "### T3 domain adaptation (E6, news PPL; savings vs plain continued MLM)"
            "\n\n"
            + markdown_table(SAV_HEAD, rows)
            + "\n\n"
            + markdown_table(
                ["arm", "final news PPL", "final general PPL", f"{task} accuracy (E7)"], fin
            )  # fmt: skip
        )
        T = by["e6-domain"]["config"]["ki"]["stop_step"]
        parts.append(ppl_figure(out_dir, "f7.png", "F7: E6 news PPL", m["runs"], vline=T))
        parts.append(ppl_figure(out_dir, "f7-general.png", "F7: E6 general PPL (forgetting)",
                                m["runs"], vline=T, y="ppl_general"))  # fmt: skip
    if "e7-downstream" in by:
        m = by["e7-downstream"]["metrics"]["accuracy"]
        tasks = sorted({t for v in m.values() for t in v})
        rows = [[arm] + [_acc(m[arm].get(t)) for t in tasks] for arm in sorted(m)]
        parts.append(
            "### T4 downstream (E7, test accuracy)\n\n"
            + markdown_table(["checkpoint", *tasks], rows)
        )
    parts += [gpt_section(r, out_dir) for r in shown if r["run_info"]["table"] == "gpt"]
    if rows := [_variant_row(r) for r in variants if "savings" in r["metrics"]]:
        parts.append("### Variants (a table run again with --set; savings against its own P*)\n\n"
                     + markdown_table(["run", "teacher PPL", *SAV_HEAD[1:],
                                       "lead at T (steps)", "teacher pre-training / scratch run"],
                                      rows))  # fmt: skip
    budget, m18 = _time_budget(shown, by.get("e1-ki-vs-scratch"))
    parts.append("### T7 acceptance\n\n" + _acceptance(results, [m18]))
    parts.append(budget)
    parts.append("### T8 provenance\n\n" + _provenance(shown))
    return "\n\n".join(parts)


E1_BUDGET_MIN = 45  # M18: E1 end to end on 2 cores


def _time_budget(shown: list[dict], e1_result: dict | None) -> tuple[str, list[str]]:
    """T9 and M18: each table's training time, summed over its runs' timed training steps.

    Runs record the time of their training steps (resumes included), not evaluation or data
    preparation, so every sum is a lower bound of the end-to-end time: M18 can FAIL on it but
    cannot PASS, and fine-tunes (E7) are not timed at all."""
    rows, seen, e1 = [], set(), None
    total: dict[str, float] = {}  # per hardware: minutes of every run, each once
    for r in shown:
        runs = {_run_key(m): m for m in _run_metrics(r["metrics"])}
        minutes = sum(m.get("wall_s") or 0.0 for m in runs.values()) / 60
        new = [k for k in runs if k not in seen]
        seen.update(new)
        hw = _hardware(r.get("meta", {}))
        total[hw] = total.get(hw, 0.0) + sum(runs[k].get("wall_s") or 0.0 for k in new) / 60
        rows.append([_label(r), len(runs), len(new), f"{minutes:.1f}", hw])
        if r is e1_result:
            e1 = (minutes, hw, _on_two_cores(r.get("meta", {})))
    head = ["table", "runs", "first trained here", "training minutes", "hardware"]
    text = ("### T9 time budget (M18)\n\nTraining-step time of each table's runs (a run shared "
            "by several tables counts in each; evaluation and fine-tunes are not timed, so "
            "these are lower bounds). All tables' runs, each once: "
            + "; ".join(f"{m:.1f} min on {hw}" for hw, m in total.items() if hw.startswith("CPU"))
            + " (runs on other hardware: see the table).\n\n"
            + markdown_table(head, rows))  # fmt: skip
    thr = f"E1 end to end <= {E1_BUDGET_MIN} min on 2 cores"
    if e1 is None:
        return text, ["M18", "e1-ki-vs-scratch", "E1 not run", thr, "NOT TESTABLE"]
    minutes, hw, two_cores = e1
    over = two_cores and minutes > E1_BUDGET_MIN  # a lower bound can only fail
    return text, ["M18", "e1-ki-vs-scratch", f">= {minutes:.1f} min ({hw})", thr,
                  "FAIL" if over else "NOT TESTABLE"]  # fmt: skip


def _variant_row(r: dict) -> list[str]:
    m = r["metrics"]
    return [_label(r), format_float(m.get("teacher_ppl"), 2) if m.get("teacher_ppl") else "—",
            *_savings_row("", m["savings"])[1:], _leads(m), _teacher_share(m)]  # fmt: skip


def _teacher_cost(m: dict) -> str:
    """The teacher's own pre-training, a sunk cost kept out of the savings (ki.md §2.6)."""
    if (share := _teacher_share(m)) == "—":
        return ""
    t = m["teacher"]
    return (
        f"Teacher pre-training (sunk, not in the savings): {t['steps']} steps, "
        f"{t['flops_total']:.3e} FLOPs, {share} of one scratch run's FLOPs."
    )


def _teacher_share(m: dict) -> str:
    """Teacher pre-training FLOPs over one scratch run's, or "—" (e.g. a hub teacher, which the
    GPT arm names by a string)."""
    t, scratch = m.get("teacher"), m.get("scratch") or []
    if not isinstance(t, dict) or not t.get("flops_total") or not scratch:
        return "—"
    return f"{t['flops_total'] / (sum(r['flops_total'] for r in scratch) / len(scratch)):.0%}"


def _leads(m: dict) -> str:
    """Each KI seed's lead over scratch at T in steps (analysis.step_lead), from stored curves."""
    if not m.get("scratch") or not m.get("ki") or m["ki"][0].get("stop_step") is None:
        return "—"
    leads = step_lead(m["scratch"], m["ki"], m["ki"][0]["stop_step"])
    return ", ".join("never" if x is None else f"{x:+.0f}" for x in leads)


def _leads_at_target(sav: dict) -> str:
    """Each KI seed's lead when it reaches P*: S - s_KI steps."""
    at = [p["steps_to_target"] for p in sav["per_seed"]]
    return ", ".join("never" if s is None else f"{sav['S'] - s:+.0f}" for s in at)


def _run_metrics(node: Any) -> list[dict]:
    """Every run's metrics inside a result's metrics (any dict with an eval curve and steps)."""
    if isinstance(node, dict):
        if "evals" in node and "steps" in node:
            return [node]
        return [r for v in node.values() for r in _run_metrics(v)]
    if isinstance(node, list):
        return [r for v in node for r in _run_metrics(v)]
    return []


def _run_key(m: dict) -> Any:
    """A run's identity across tables: its folder name (an unnamed run is its own)."""
    return m.get("run") or id(m)


def _on_two_cores(meta: dict) -> bool:
    h = meta.get("hardware")
    return bool(h) and not h["gpus"] and h["cpu_count"] == 2


def _provenance(results: list[dict]) -> str:
    """T8: one row per run (a run shared by several experiments is listed once)."""
    rows, seen = [], set()
    for r in results:
        table = _label(r)
        for m in _run_metrics(r["metrics"]):
            key = _run_key(m)
            if key in seen:
                continue
            seen.add(key)
            rows.append([table, m.get("run", "not recorded"), m.get("seed", "—"), m["steps"],
                         m.get("stop_step") or "—", m.get("schedule", "—"),
                         format_float(m.get("teacher_ppl"), 2) if m.get("teacher_ppl") else "—",
                         m.get("device") or "—", format_float(m.get("s_per_step"), 3),
                         format_float(m.get("wall_s"), 0)])  # fmt: skip
    head = ["first table", "run folder (…-config hash)", "seed", "S", "T", "schedule",
            "teacher PPL", "device", "s/step", "train wall s"]  # fmt: skip
    return markdown_table(head, rows)


def _titled(result: dict[str, Any], base: str) -> tuple[str, str]:
    """(heading, figure-file suffix): `base` and "" for the preset's own result; for a variant
    (a result file `<table>--NAME.json`), `base, variant <table and flags>` and `--NAME`."""
    name = Path(result.get(SOURCE_KEY, {}).get("path", "")).stem.partition("--")[2]
    return (f"{base}, variant {_label(result)}", f"--{name}") if name else (base, "")


def e2_section(result: dict[str, Any], out_dir: Path) -> str:
    """E2 (ki.md §3.2): a savings row per schedule arm and F3; a variant gets its own."""
    m = result["metrics"]
    title, suffix = _titled(result, "E2 inheritance schedule")
    rows = [_savings_row(k, v) for k, v in sorted(m["arms"].items())]
    teacher = next(iter(m["runs"].values()))[0].get("teacher_ppl")
    text = (
        f"### {title}\n\nPaper: {PAPER_DIRECTION['e2-schedule']}\n\n"
        f"{markdown_table(SAV_HEAD, rows)}\n\nEvery arm learns from the same teacher (PPL "
        f"{format_float(teacher, 2)}) and is measured against the same scratch runs."
    )
    groups = {"scratch": m["scratch"], **m["runs"]}
    target = next(iter(m["arms"].values()))["target_ppl"]  # every arm shares scratch's P*
    figure = ppl_figure(out_dir, f"f3{suffix}.png", f"F3: {title}", groups,
                        [("step",), ("flops_total",)], vline=result["config"]["ki"]["stop_step"],
                        hline={"P*": target})  # fmt: skip
    return f"{text}\n\n{figure}"


def e5_section(result: dict[str, Any], out_dir: Path) -> str:
    """T5 (ki.md §3.5): the generations, G3's savings and F6, with M12's control when run."""
    m = result["metrics"]
    title, suffix = _titled(result, "T5 generations (E5)")
    gens = [[g["generation"], g["arch"], _ppl(g["final_ppl"]),
             _ms(g["step_saving"]) if "step_saving" in g else "—"]
            for g in m.get("generations", [])]  # fmt: skip
    head = ["generation", "model", "final PPL", "step saving vs same-size scratch"]
    text = (
        f"### {title}\n\n"
        + (markdown_table(head, gens) + "\n\n" if gens else "")
        + markdown_table(SAV_HEAD, [_savings_row("G3 chained from G2-KI", m["savings"])])
    )
    groups = {"G3 scratch": m["scratch"], "G3 chained from G2-KI": m["chain"]}
    if m.get("control"):
        groups["G3 from G2-scratch (control)"] = m["control"]
    g2 = [r["teacher_ppl"] for r in m["chain"]]  # each seed's G2 teacher, as E1's F1 shows it
    hl = {"P*": m["savings"]["target_ppl"], "teacher (G2 KI)": sum(g2) / len(g2)}
    figure = ppl_figure(out_dir, f"f6{suffix}.png", _titled(result, "F6: E5 generation 3")[0],
                        groups,
                        vline=result["config"]["ki"]["stop_step"], hline=hl)  # fmt: skip
    return f"{text}\n\n{figure}"


def gpt_section(result: dict[str, Any], out_dir: Path) -> str:
    """The GPT arm (ki.md §4.8): T1 row, F8 on its own causal-PPL axis, and T6 (top-k)."""
    m = result["metrics"]
    sav = m["savings"]
    cfg = result["config"]
    title, suffix = _titled(result, "GPT arm")
    parts = [
        f"### {title} (causal LM, SmolLM2 tokenizer; ki.md §4.8)\n\nPaper: "
        + PAPER_DIRECTION["gpt"]
        + ". Causal PPL is per next token with SmolLM2's tokenizer: not comparable to any MLM "
        "PPL above.\n\n" + markdown_table(SAV_HEAD, [_savings_row(f"KI from {m['teacher']}", sav)])
    ]
    cache = m.get("cache") or {}
    fill = cache.get("fill_flops")
    parts.append(
        f"Teacher {m['teacher']} causal PPL {format_float(m['teacher_ppl'], 2)} on the same "
        f"validation blocks. Teacher cache: k={cache.get('k')}, {cache.get('blocks')} blocks, "
        f"{(cache.get('bytes') or 0) / 1e6:.1f} MB, filled once in "
        f"{format_float(cache.get('fill_seconds'), 1)} s and "
        f"{'—' if fill is None else f'{fill:.3e}'} FLOPs (a one-off shared by every seed; the "
        "FLOP saving with teacher charges each update its share). Measured s/step: scratch "
        f"{format_float(m['scratch_s_per_step'], 3)}, KI {format_float(m['ki_s_per_step'], 3)}."
    )
    parts.append("Notes: " + "; ".join(m.get("notes", [])) + ".")
    T = cfg["ki"]["stop_step"]
    groups = {"scratch": m["scratch"], "KI (cached top-k)": m["ki"]}
    hl = {"P*": sav["target_ppl"]}
    if m.get("teacher_ppl"):
        hl["teacher"] = m["teacher_ppl"]
    parts.append(ppl_figure(out_dir, f"f8{suffix}.png", f"F8: {title}, causal PPL vs steps",
                            groups, vline=T, hline=hl,
                            ylabel="validation causal perplexity (SmolLM2 tokens)"))  # fmt: skip
    names = list(m["topk_check"]["checks"])
    parts.append(topk_figure(out_dir, f"f8-topk{suffix}.png", f"F8: {title}, top-k calibration",
                             m["t6_topk"], names))  # fmt: skip
    rows = []
    for row in m["t6_topk"]:
        step_s = row["s_per_step"]
        rows.append([row["k"]]
                    + [format_float(row["tail_mass"][n], 4) for n in names]
                    + [format_float(row["ratio"][n], 3) for n in names]
                    + [f"{row['cache_bytes'] / 1e6:.1f} MB",
                       "—" if step_s is None else format_float(step_s, 3)])  # fmt: skip
    head = (["k"] + [f"tail mass ({n})" for n in names] + [f"KL_k/KL_full ({n})" for n in names]
            + ["cache size", "KI s/step"])  # fmt: skip
    chk = m["topk_check"]
    trained_k = m["acceptance"]["M17"]["value"]["k"]
    parts.append(
        f"#### T6 top-k ({chk['sequences']} held-out sequences of {chk['block_size']} tokens)"
        f"\n\n{markdown_table(head, rows)}\n\nSmallest k with KL_k/KL_full >= 0.9 at every "
        f"checked student: {chk['chosen_k']} (trained with k = {trained_k})."
    )
    return "\n\n".join(parts)


if "ki" not in REPORT_SECTIONS:
    register_section("ki")(ki_section)


def ki_headlines(by_preset: dict[str, list[dict[str, Any]]]) -> list[Headline]:
    """REPORT.md's KI row: E1's step saving to scratch's final PPL (ki.md §5.1, M1)."""
    found = headline_table(by_preset, "e1-ki-vs-scratch")

    def saving(r: dict | None) -> str:
        if r is None:
            return "not run"
        s = r["metrics"]["savings"]
        if s.get("step_saving") is None:  # the KI student never reached scratch's final PPL
            return f"target PPL not reached ({s.get('reached', 0)} seed(s) reached it)"
        flops = (s.get("flop_saving_with_teacher") or {}).get("mean")
        return f"{_ms(s['step_saving'])} of the steps; {_pct(flops)} of the FLOPs with the teacher"

    mini, quick = found["mini"], found["quick"]
    verdict = "NOT TESTABLE"
    if mini is not None:
        per_seed = [p["step_saving"] for p in mini["metrics"]["savings"]["per_seed"]]
        m1 = mini["metrics"]["acceptance"]["M1"]["status"]
        verdict = (
            "REPRODUCED"
            if m1 == "PASS"
            else "DIRECTION ONLY"
            if per_seed and min(per_seed) > 0
            else "NOT REPRODUCED"
        )
    quick_ok = None
    if quick is not None:
        step = quick["metrics"]["savings"]["step_saving"]
        quick_ok = step is not None and step["mean"] > 0
    return [Headline(
        "E1: a student with KI reaches scratch's final PPL in fewer steps (M1: <= 80% of them)",
        "'tens of percent' of compute saved [unverified]", saving(mini), saving(quick),
        "same direction: saving > 0", quick_ok, verdict, "ki.md#t1-compute-saved-e1",
    )]  # fmt: skip


register_headline("ki")(ki_headlines)
