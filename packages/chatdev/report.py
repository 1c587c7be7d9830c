"""ChatDev's report: our batch numbers beside the paper's Tables 1, 3 and 4, per-category bars.

Three entry points:

- `batch_summary_markdown(summary)` / `summary_csv(summary)`: a batch folder's `summary.md` and
  `summary.csv` (written by `batch.write_aggregate`);
- `chatdev_section(results, out_dir)`: the shared report's section for one preset
  (`register_section("chatdev")`), from `results/<preset>/chatdev/*.json` (batch results);
- `write_run_report(batch_dirs, out)`: `thunlp-repro chatdev report RUN_DIR...` (report.md,
  tables/*.csv, plots/*.png), optionally exporting each batch's results.json to
  `results/<preset>/chatdev/<table>.json`; a T2 section when `pairwise*.json` files (from
  `chatdev pairwise`) are given or lie in the batch folders.

Tables (chatdev.md §6): T1 main (both variants, 95% intervals, the paper's three systems), T2
win rates (`table2_markdown`), T3 cost profile, T4 ablation (one batch per switch, labelled), T5
per category, T6 errors and verdicts, T7 per-phase totals, T8 flaw audit. Every table names the
model, backend, embedder, task count and metric variant.

Reproduces: ChatDev Tables 1-4; chatdev.md §6; conventions.md §2.8.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

from thunlp_repro.shared.reporting.headline import Headline, register_headline
from thunlp_repro.shared.reporting.headline import table as headline_table
from thunlp_repro.shared.reporting.report import register_section
from thunlp_repro.shared.reporting.tables import comparison_table, markdown_table

METRIC_NAMES = {"completeness": "Completeness", "executability": "Executability",
                "consistency": "Consistency"}  # fmt: skip
#: Column names of the per-variant cells (C, E, S, Q for each metric variant) in T4 and T5.
VARIANT_COLUMNS = [f"{m} {v}" for v in ("compat", "strict") for m in "CESQ"]
ABLATION_ORDER = ("ChatDev", "<=Coding", "<=Complete", "<=Review", "<=Testing", "\\CDH", "\\Roles")
UNTIL_LABELS = {"Coding": "<=Coding", "CodeCompleteAll": "<=Complete", "CodeReview": "<=Review",
                "Test": "<=Testing"}  # fmt: skip
LABEL_TABLES = {"ChatDev": "table1", "<=Coding": "table4-coding", "<=Complete": "table4-complete",
                "<=Review": "table4-review", "<=Testing": "table4-testing",
                "\\CDH": "table4-no-cdh", "\\Roles": "table4-no-roles"}  # fmt: skip


@functools.lru_cache(maxsize=1)
def paper_numbers() -> dict[str, Any]:
    """`paper_numbers.yaml` (values with source and tag)."""
    import yaml

    return yaml.safe_load((Path(__file__).parent / "paper_numbers.yaml").read_text("utf-8"))


def ablation_label(until: str | None, dehallucination: bool, roles: bool) -> str:
    """Table 4's row name for a set of switches (`ChatDev` when none is set)."""
    if until:
        return UNTIL_LABELS.get(until, f"<={until}")
    if not dehallucination:
        return "\\CDH"
    if not roles:
        return "\\Roles"
    return "ChatDev"


def _f(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, int | float):
        return f"{x:,.{digits}f}" if abs(x) >= 1000 else f"{x:.{digits}f}"
    return str(x)


def _ci(entry: dict[str, Any]) -> str:
    lo, hi = (entry.get("ci95") or [None, None])[:2]
    return "—" if lo is None or hi is None else f"[{_f(lo, 3)}, {_f(hi, 3)}]"


def _header(summary: dict[str, Any]) -> str:
    sw = summary.get("switches") or {}
    srdd = summary.get("srdd") or {}
    sha = (srdd.get("sha256") or "")[:12]
    return (f"Model `{summary.get('model')}` (backend `{summary.get('backend')}`), embedder "
            f"`{summary.get('embedder')}`, run `{summary.get('label')}`; "
            f"{summary.get('n_finished')} of {summary.get('n_tasks')} tasks finished "
            f"(statuses: {_kv(summary.get('statuses'))}); SRDD rows {srdd.get('rows')} sha256 "
            f"{sha or '—'}; switches: {_kv(sw)}.{_budget_note(summary)}")  # fmt: skip


def _budget_note(summary: dict[str, Any]) -> str:
    n = (summary.get("statuses") or {}).get("budget_exceeded")
    if not n:
        return ""
    return (
        f" {n} project(s) hit the preset's budget (tokens, calls or wall seconds): the chain"
        " stopped there and the project is scored as written by then."
    )


def _kv(d: dict[str, Any] | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in (d or {}).items()) or "—"


def table1_markdown(summary: dict[str, Any]) -> str:
    """T1: the four metrics in both variants beside the paper's ChatDev row (+ baselines)."""
    paper = paper_numbers()["table1"]
    chatdev = paper["rows"]["ChatDev"]
    tag = paper["tag"]
    goal = paper_numbers()["goals"]["quality_compatible_min"]
    rows = []
    for variant in ("compatible", "strict"):
        agg = (summary.get("variants") or {}).get(variant)
        if not agg:
            continue
        for metric, name in METRIC_NAMES.items():
            entry = agg.get(metric) or {}
            rows.append({"setting": f"{name} ({variant})", "paper": chatdev[metric], "tag": tag,
                         "ours": entry.get("mean"),
                         "extra": {"95% CI": _ci(entry), "n": entry.get("n")}})  # fmt: skip
        mop = agg.get("quality_mean_of_products") or {}
        rows.append(
            {
                "setting": f"Quality, product of means ({variant})",
                "paper": chatdev["quality"],
                "tag": tag,
                "ours": agg.get("quality_product_of_means"),
                "tolerance": round(chatdev["quality"] - goal, 4)
                if variant == "compatible"
                else None,
                "direction": "higher",
                "extra": {"95% CI": "—", "n": agg.get("n")},
            }
        )
        rows.append({"setting": f"Quality, mean of products ({variant})",
                     "paper": chatdev["quality"], "tag": tag, "ours": mop.get("mean"),
                     "extra": {"95% CI": _ci(mop), "n": mop.get("n")}})  # fmt: skip
    table = comparison_table(rows, extra_headers=["95% CI", "n"])
    base = markdown_table(
        ["system (paper, GPT-3.5, ada-002)", "Completeness", "Executability", "Consistency",
         "Quality"],
        [[k, v["completeness"], v["executability"], v["consistency"], v["quality"]]
         for k, v in paper["rows"].items()],
    )  # fmt: skip
    return (f"{table}\n\nThe tolerance on compatible Quality encodes our goal (≥ {goal}) for a "
            f"1.5B local model; the other rows have no gate (a different model and embedder: "
            f"consistency cosines are on another scale). Paper values {tag}, "
            f"{paper['source']}:\n\n{base}")  # fmt: skip


def table2_markdown(docs: list[dict[str, Any]]) -> str:
    """T2: our pairwise win rates (`pairwise.json` documents) below the paper's Table 2.

    Ours read "A vs B": A is the side in ChatDev's place, B the baseline's.
    """
    paper = paper_numbers()["table2"]
    rows = [[f"ChatDev vs {base}", f"{judge} {paper['tag']}", v["baseline_wins"],
             v["chatdev_wins"], v["draw"], "—", "—"]
            for judge, key in (("GPT-4", "gpt4"), ("human", "human"))
            for base, by_judge in paper["rows"].items() for v in [by_judge[key]]]  # fmt: skip
    for d in docs:
        t, lab = d.get("totals") or {}, d.get("labels") or {}
        rows.append([f"{lab.get('a')} vs {lab.get('b')}", f"{(d.get('judge') or {}).get('model')}"
                     " (ours)", t.get("b_win_pct"), t.get("a_win_pct"), t.get("draw_pct"),
                     t.get("n"), t.get("slot_a_pct")])  # fmt: skip
    headers = ["comparison (A vs B)", "judge", "B wins %", "A wins %", "draw %", "n",
               "slot-A picks %"]  # fmt: skip
    cells = [[_f(c, 2) if isinstance(c, float) or c is None else c for c in r] for r in rows]
    table = markdown_table(headers, cells)
    return (f"{table}\n\nPaper: {paper['source']}; {paper['note']}. Ours: each pair is asked "
            "twice with the projects swapped; slot-A picks % is how often an answer chose "
            "whichever project was shown first (50 = no position bias).")  # fmt: skip


def load_pairwise(paths: list[Path], batch_dirs: list[Path]) -> list[dict[str, Any]]:
    """`pairwise.json` documents: the given files, then `pairwise*.json` in the batch folders."""
    from thunlp_repro.shared import io
    from thunlp_repro.shared.errors import UsageError

    found = [Path(p) for p in paths]
    for d in batch_dirs:
        found += [p for p in sorted(Path(d).glob("pairwise*.json")) if p not in found]
    docs = []
    for path in found:
        if not path.is_file():
            raise UsageError(f"--pairwise {path}: no such file (write one with `chatdev pairwise`)")
        try:
            doc = io.read_json(path)
        except ValueError as exc:
            raise UsageError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(doc, dict) or doc.get("kind") != "chatdev-pairwise":
            raise UsageError(f"{path} is not a pairwise.json from `chatdev pairwise`")
        docs.append(doc)
    return docs


def table3_markdown(summary: dict[str, Any]) -> str:
    """T3: the cost profile per software beside the paper's ChatDev row."""
    p = paper_numbers()["table3"]
    chatdev = p["rows"]["ChatDev"]
    c = summary.get("cost") or {}
    rows = [
        {"setting": "duration (s)", "paper": chatdev["duration_s"], "ours": c.get("duration_s"),
         "tag": p["tag"]},
        {"setting": "#tokens", "paper": chatdev["total_tokens"], "ours": c.get("total_tokens"),
         "tag": p["tag"], "extra": {"detail": f"prompt {_f(c.get('prompt_tokens'), 1)}, "
                                              f"completion {_f(c.get('completion_tokens'), 1)}"}},
        {"setting": "#files (top-level .py, repo way)", "paper": chatdev["n_files"],
         "ours": c.get("n_files_repo"), "tag": p["tag"],
         "extra": {"detail": f"all files {_f(c.get('n_files'), 2)}"}},
        {"setting": "#lines (non-blank, top-level .py)", "paper": chatdev["n_lines"],
         "ours": c.get("n_lines_repo"), "tag": p["tag"],
         "extra": {"detail": f"all files {_f(c.get('n_lines'), 1)}"}},
        {"setting": "LLM calls", "paper": None, "ours": c.get("llm_calls")},
        {"setting": "USD", "paper": None, "ours": c.get("cost_usd"),
         "extra": {"detail": "null = unknown price (local model)"}},
    ]  # fmt: skip
    return (
        comparison_table(rows, extra_headers=["detail"])
        + f"\n\nAverages over {c.get('n')} finished tasks; paper values: {p['source']}."
    )


def table4_markdown(summaries: list[dict[str, Any]]) -> str:
    """T4: one row per ablation run (labelled batches), paper vs ours in both variants."""
    paper = paper_numbers()["table4"]["rows"]
    by_label = {s.get("label") or "ChatDev": s for s in summaries}
    if "ChatDev" in by_label and "<=Testing" not in by_label:
        by_label["<=Testing"] = by_label["ChatDev"]  # docs do not change any metric
    rows = []
    for label in ABLATION_ORDER:
        p = paper[label]
        s = by_label.get(label)
        cells = [label, *(p[m] for m in ("completeness", "executability", "consistency",
                                         "quality"))]  # fmt: skip
        for variant in ("compatible", "strict"):
            agg = ((s or {}).get("variants") or {}).get(variant) or {}
            cells += [(agg.get(m) or {}).get("mean") for m in METRIC_NAMES]
            cells.append(agg.get("quality_product_of_means"))
        cells.append((s or {}).get("n_finished"))
        rows.append(cells)
    headers = ["variant", "C paper", "E paper", "S paper", "Q paper", *VARIANT_COLUMNS, "n"]
    return (markdown_table(headers, rows) + "\n\nPaper values [paper], Table 4; ours: Q = "
            "product of means; `—` = that ablation has not been run (`thunlp-repro chatdev batch "
            "--until PHASE | --no-dehallucination | --no-roles`).")  # fmt: skip


def per_category_markdown(summary: dict[str, Any]) -> str:
    """T5: n, the four metrics (both variants), mean tokens and time per SRDD category."""
    keys = [f"{v}.{m}" for v in ("compatible", "strict") for m in (*METRIC_NAMES, "quality")]
    rows = [[cat, e.get("n"), *(e.get(k) for k in keys), e.get("tokens"), e.get("seconds")]
            for cat, e in (summary.get("per_category") or {}).items()]  # fmt: skip
    headers = ["category", "n", *VARIANT_COLUMNS, "tokens", "seconds"]
    return markdown_table(headers, rows)


def errors_markdown(summary: dict[str, Any]) -> str:
    """T6 (first test errors vs the paper's shares), strict verdicts, T7 phases, T8 flaw audit."""
    shares = paper_numbers()["table6"]["test_error_shares"]
    errors = summary.get("first_error_types") or {}
    total = sum(errors.values())
    kinds = sorted(set(errors) | set(shares))
    t6 = markdown_table(["error type at the first test run", "ours (count)", "ours (share)",
                         "paper share [paper]"],
                        [[k, errors.get(k, 0), (errors.get(k, 0) / total) if total else None,
                          shares.get(k)] for k in kinds])  # fmt: skip
    verdicts = markdown_table(
        ["strict verdict", "projects"], list((summary.get("verdicts") or {}).items())
    )
    phases = markdown_table(
        ["phase", "LLM calls", "tokens"],
        [
            [k, v["llm_calls"], v["total_tokens"]]
            for k, v in (summary.get("phase_totals") or {}).items()
        ],
    )
    audit = summary.get("flaw_audit") or {}
    t8 = (
        markdown_table(["reason the variants differ", "projects"], list(audit.items()))
        if audit
        else "_No project scores differently under the two variants._"
    )
    return (f"#### T6: errors at the first test run\n\n{t6}\n\n#### Final strict verdicts\n\n"
            f"{verdicts}\n\n#### T7: LLM calls and tokens per phase (all tasks)\n\n{phases}\n\n"
            f"#### T8: flaw audit (compatible vs strict)\n\n{t8}")  # fmt: skip


def batch_summary_markdown(summary: dict[str, Any]) -> str:
    """A batch folder's summary.md."""
    parts = [f"# ChatDev batch `{summary.get('label')}`", "", _header(summary), "",
             "## T1: the four metrics", "", table1_markdown(summary), "",
             "## T3: cost profile per software", "", table3_markdown(summary), "",
             "## T5: per category", "", per_category_markdown(summary), "",
             errors_markdown(summary).replace("#### ", "## ")]  # fmt: skip
    if summary.get("eval_errors"):
        parts += [
            "",
            "## Evaluation errors",
            "",
            markdown_table(["task", "error"], list(summary["eval_errors"].items())),
        ]
    return "\n".join(parts).rstrip() + "\n"


def summary_csv(summary: dict[str, Any]) -> str:
    """summary.csv: one row per (scope, variant, metric) with mean and 95% interval."""
    lines = ["scope,variant,metric,n,mean,ci_low,ci_high"]
    for variant, agg in (summary.get("variants") or {}).items():
        for metric in METRIC_NAMES:
            e = agg.get(metric) or {}
            lo, hi = (e.get("ci95") or [None, None])[:2]
            lines.append(f"all,{variant},{metric},{e.get('n')},{_f(e.get('mean'))},{_f(lo)},"
                         f"{_f(hi)}")  # fmt: skip
        lines.append(
            f"all,{variant},quality_product_of_means,{agg.get('n')},"
            f"{_f(agg.get('quality_product_of_means'))},,"
        )
        mop = agg.get("quality_mean_of_products") or {}
        lo, hi = (mop.get("ci95") or [None, None])[:2]
        lines.append(
            f"all,{variant},quality_mean_of_products,{mop.get('n')},"
            f"{_f(mop.get('mean'))},{_f(lo)},{_f(hi)}"
        )
    for cat, e in (summary.get("per_category") or {}).items():
        for key, value in e.items():
            if "." in key:
                variant, metric = key.split(".", 1)
                lines.append(f"{cat},{variant},{metric},{e.get('n')},{_f(value)},,")
    return "\n".join(lines).replace("—", "") + "\n"


def plots(summary: dict[str, Any], out_dir: Path) -> list[str]:
    """Metric bars (ours vs paper) and per-category quality bars; returns markdown image links."""
    from thunlp_repro.shared.reporting.plots import bar_plot

    links = []
    chatdev = paper_numbers()["table1"]["rows"]["ChatDev"]
    names = ["completeness", "executability", "consistency", "quality"]
    series = {}
    for variant, agg in (summary.get("variants") or {}).items():
        series[variant] = [(agg.get(m) or {}).get("mean") for m in names[:3]] + [
            agg.get("quality_product_of_means")
        ]
    if series:
        bar_plot([n.capitalize() for n in names],
                 {k: [math.nan if v is None else v for v in vals] for k, vals in series.items()},
                 out_dir / "metrics.png", ylabel="score (0-1)",
                 title="ChatDev metrics: ours vs paper (GPT-3.5)",
                 paper_values=[chatdev[n] for n in names])  # fmt: skip
        links.append("![metrics vs paper](metrics.png)")
    cats = summary.get("per_category") or {}
    if cats and series:
        names_c = sorted(cats)
        values = {v: [cats[c].get(f"{v}.quality") for c in names_c] for v in series}
        bar_plot(names_c, {k: [math.nan if x is None else x for x in vals]
                           for k, vals in values.items()},
                 out_dir / "per_category_quality.png", xlabel="SRDD category",
                 ylabel="quality (c·e·s, 0-1)", title="Quality per SRDD category",
                 horizontal=True)  # fmt: skip
        links.append("![quality per category](per_category_quality.png)")
    return links


def _summaries(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Batch summaries (results' metrics) with their `label` and `table`."""
    out = []
    for r in results:
        info = r.get("run_info") or {}
        if info.get("experiment") == "batch":
            metrics = dict(r.get("metrics") or {})
            metrics.setdefault("label", info.get("label"))
            metrics["table"] = info.get("table")
            out.append(metrics)
    return out


def _main(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The main batch: `table1`, else any full-chain batch, else the first."""
    for pick in (lambda s: s.get("table") == "table1",
                 lambda s: (s.get("label") or "ChatDev") == "ChatDev" and s.get("table") != "ci",
                 lambda s: True):  # fmt: skip
        found = [s for s in summaries if pick(s)]
        if found:
            return found[0]
    raise ValueError("no batch summaries")


@register_section("chatdev")
def chatdev_section(results: list[dict[str, Any]], out_dir: Path) -> str:
    """The shared report's ChatDev section for one preset (batch results only)."""
    summaries = _summaries(results)
    if not summaries:
        return "_No ChatDev batch results for this preset._"
    main = _main(summaries)
    parts = []
    if main.get("table") == "ci":
        parts += [
            "_Only the `ci` pipeline check ran for this preset: a scripted fake server "
            "answers, so these numbers test the harness, not a model._",
            "",
        ]
    elif any(s.get("table") == "ci" for s in summaries):
        ci = next(s for s in summaries if s.get("table") == "ci")
        parts += [
            f"The `ci` pipeline check (scripted fake server) finished "
            f"{ci.get('n_finished')}/{ci.get('n_tasks')} tasks; below: the model run.",
            "",
        ]
    ablations = [s for s in summaries if s.get("table") != "ci" or s is main]
    parts += [_header(main), "", "### T1: main metrics (paper Table 1)", "",
              table1_markdown(main), "", "### T3: cost profile (paper Table 3)", "",
              table3_markdown(main), "", "### T4: ablation (paper Table 4)", "",
              table4_markdown(ablations), "", "### T5: per category", "",
              per_category_markdown(main), "", errors_markdown(main)]  # fmt: skip
    try:
        links = plots(main, out_dir)
    except Exception as exc:  # noqa: BLE001 - a plot must never break the report
        links = [f"_plots failed: {exc}_"]
    if links:
        parts += ["", "### Plots", "", *links]
    return "\n".join(parts)


def write_run_report(batch_dirs: list[Path], out: Path, *, export_root: Path | None = None,
                     pairwise: list[Path] | None = None) -> Path:  # fmt: skip
    """`chatdev report`: report.md, tables/*.csv and plots/*.png for batch folders.

    Args:
        batch_dirs: Batch folders (each with results.json).
        out: Output folder.
        export_root: Also copy each batch's results.json to
            `<export_root>/<preset>/chatdev/<table>.json` (table from its label).
        pairwise: `pairwise.json` files for T2 (besides `pairwise*.json` in the batch folders).

    Returns:
        The report.md path.
    """
    from thunlp_repro.shared import io
    from thunlp_repro.shared.errors import UsageError

    results = []
    for d in batch_dirs:
        path = Path(d) / "results.json"
        if not path.is_file():
            raise UsageError(f"{d}: no results.json (is it a batch folder? run `chatdev batch`)")
        results.append(io.read_json(path))
    main = _main(_summaries(results))
    (out / "plots").mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    body = chatdev_section(results, out / "plots").replace("](", "](plots/")
    docs = load_pairwise(pairwise or [], batch_dirs)
    if docs:
        body += "\n\n### T2: win rates (paper Table 2)\n\n" + table2_markdown(docs)
    io.atomic_write_text(out / "report.md", "# ChatDev report\n\n" + body + "\n")
    io.atomic_write_text(out / "tables" / "summary.csv", summary_csv(main))
    if export_root is not None:
        for r in results:
            label = (r.get("run_info") or {}).get("label") or "ChatDev"
            r = dict(r)
            r["run_info"] = {**r["run_info"], "table": LABEL_TABLES.get(label, "batch")}
            preset = r["run_info"].get("preset") or "custom"
            io.atomic_write_json(Path(export_root) / preset / "chatdev" /
                                 f"{r['run_info']['table']}.json", r)  # fmt: skip
    return out / "report.md"


def chatdev_headlines(by_preset: dict[str, list[dict[str, Any]]]) -> list[Headline]:
    """REPORT.md's ChatDev row: Table 1's Quality of ChatDev (mini record: the local batch)."""
    rows = paper_numbers()["table1"]["rows"]
    paper_q = rows["ChatDev"]["quality"]
    best_baseline = max(row["quality"] for name, row in rows.items() if name != "ChatDev")
    record = headline_table(by_preset, "table1")["mini"]
    check = headline_table(by_preset, "ci")["quick"]
    mini, verdict = "not run", "NOT TESTABLE"
    if record is not None:
        v = record["metrics"]["variants"]
        compat = v["compatible"]["quality_product_of_means"]
        strict = v["strict"]["quality_product_of_means"]
        n = v["compatible"]["n"]
        mini = (f"{compat:.3f} compatible / {strict:.3f} strict ({n} SRDD tasks, "
                f"{record['metrics'].get('model', '?')})")  # fmt: skip
        verdict = (
            "REPRODUCED"
            if compat >= 0.9 * paper_q
            else "DIRECTION ONLY"
            if compat > best_baseline
            else "NOT REPRODUCED"
        )
    quick, quick_ok = "not run", None
    if check is not None:
        info = check["run_info"]
        quick = (f"pipeline check: {info.get('tasks_finished')}/{info.get('tasks_total')} tasks "
                 "finished (scripted server, no model)")  # fmt: skip
        quick_ok = info.get("tasks_finished") == info.get("tasks_total")
    return [Headline(
        "Table 1: Quality of ChatDev's software (completeness x executability x consistency)",
        f"{paper_q:.4f} (GPT-3.5); best baseline {best_baseline:.4f} [paper]", mini, quick,
        "every scripted task finishes; verdict: >= 90% of the paper's, or above its best "
        "baseline", quick_ok, verdict, "chatdev.md#t1-main-metrics-paper-table-1",
    )]  # fmt: skip


register_headline("chatdev")(chatdev_headlines)
