"""The Prompt Transferability report: verdicts, transfer heat map, grouped means, TPT, timings.

Reproduces: prompt_transfer.md §6 (R1 heat map with the seed-std panel and the committed
RoBERTa-base matrix beside it, R2 grouped summary with a paper column, R3 TPT curves and table,
R4 indicators and R5 projector (`report_sections.py`), R6 verdicts, R7 the run card's hardware
and wall time per stage). One renderer serves the study folder's own
report (`runs/prompt_transfer/<name>/report/report.md`) and the shared report's section
(`thunlp-repro report` -> `reports/prompt_transfer.md`), which reads the study's results JSON.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from thunlp_repro.shared.io import atomic_write_text, read_json
from thunlp_repro.shared.reporting.report import register_section

REFERENCE = Path(__file__).parent / "reference" / "roberta_base_matrix.csv"
REPORTED_STAGES = ("train", "matrix", "indicators", "tpt", "project", "ki-arm")
"""Stage files a report reads, in the order of their wall-time rows (pipeline.RUN_STAGES is
what `all` runs: `project` is not in it)."""
PAPER_BY_FAMILY = {  # RoBERTa-base, by target type: same / cross (random) [repo], spec §1
    "sentiment": "81 / 54 (39)",
    "nli": "77 / 46 (45)",
    "paraphrase": "80 / 62 (62)",
}
PAPER_GROUPS = {
    "same": (80.8, "[repo]"),
    "cross": (56.6, "[repo]"),
    "rand-uniform": (49.1, "[repo]"),
}


def _fmt(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "∞" if x > 0 else "-∞"  # steps ∞: never reached; speed-up ∞: reached at step 0
    if isinstance(x, bool) or (isinstance(x, int) and not isinstance(x, bool)):
        return str(x)
    return f"{x:.{digits}f}" if isinstance(x, float | int) else str(x)


def _unlearnt(train: dict[str, Any] | None) -> str:
    """Names the targets vanilla PT does not learn (M1): their TPT rows compare chance runs."""
    from .gates import m1

    if not train:
        return ""
    learned = m1(train)[1]
    missed = [t for t in train["tasks"] if t not in learned]
    if not missed:
        return ""
    return (
        f" Vanilla PT does not learn {', '.join(missed)} (gate M1), so their rows compare two "
        "chance-level runs and say nothing about TPT."
    )


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_fmt(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def reference_matrix() -> tuple[list[str], list[str], list[list[float]]]:
    """The committed RoBERTa-base matrix (targets, sources, values) [repo]."""
    lines = [ln for ln in REFERENCE.read_text().splitlines() if not ln.startswith("#")]
    rows = list(csv.reader(lines))
    return [r[0] for r in rows[1:]], rows[0][1:], [[float(v) for v in r[1:]] for r in rows[1:]]


def _heatmap(matrix: dict[str, Any], out: Path) -> Path:
    import numpy as np

    from thunlp_repro.shared.reporting.plots import pyplot, save_png

    tasks, seeds = matrix["tasks"], [str(s) for s in matrix["seeds"]]
    cols = [*tasks, "rand-init", "rand-uniform"]
    per = np.array(
        [[[matrix["per_seed"][s]["rel"][t][c] for c in cols] for t in tasks] for s in seeds]
    )
    mean, std = per.mean(0), per.std(0, ddof=1) if len(seeds) > 1 else np.zeros(per.shape[1:])
    rt, rs, rv = reference_matrix()
    with pyplot() as plt:
        fig, axes = plt.subplots(1, 3, figsize=(21, 6.5), dpi=100)
        panels = [
            (mean, f"ours: R (%), mean of {len(seeds)} seed(s)", tasks, cols),
            (std, "ours: std over seeds", tasks, cols),
            (np.array(rv), "paper: committed RoBERTa-base [repo]", rt, rs),
        ]
        for ax, (vals, title, rows, cs) in zip(axes, panels, strict=True):
            is_std = "std" in title
            im = ax.imshow(
                vals,
                cmap="viridis" if is_std else "RdBu_r",
                vmin=0 if is_std else 0,
                vmax=None if is_std else 200,
            )
            ax.set_xticks(range(len(cs)), cs, rotation=90, fontsize=7)
            ax.set_yticks(range(len(rows)), rows, fontsize=7)
            ax.set_xlabel("source prompt")
            ax.set_ylabel("target task")
            ax.set_title(title, fontsize=9)
            for i in range(len(rows)):
                for j in range(len(cs)):
                    ax.text(j, i, f"{vals[i][j]:.0f}", ha="center", va="center", fontsize=6)
            fig.colorbar(im, ax=ax, fraction=0.046)
        fam = matrix["family"]
        start = 0  # family blocks outlined on our mean panel
        for k in range(1, len(tasks) + 1):
            if k == len(tasks) or fam[tasks[k]] != fam[tasks[start]]:
                axes[0].add_patch(
                    plt.Rectangle(
                        (start - 0.5, start - 0.5),
                        k - start,
                        k - start,
                        fill=False,
                        lw=1.5,
                        ec="black",
                    )
                )
                start = k
        fig.tight_layout()
        path = save_png(fig, out / f"transfer_heatmap_{matrix.get('backbone', 'backbone')}.png")
        plt.close(fig)
    return path


def _tpt_plot(rows: list[dict[str, Any]], target: str, out: Path) -> Path:
    from thunlp_repro.shared.reporting.plots import line_plot

    series, bands = {}, {}
    picked = [r for r in rows if r["target"] == target]
    van = picked[0]["curve_vanilla"]
    arms = {"vanilla": [r["curve_vanilla"] for r in picked if r["arm"] == picked[0]["arm"]]}
    for r in picked:
        arms.setdefault(f"{r['arm']} ({r['source']})", []).append(r["curve_arm"])
    for label, curves in arms.items():
        steps = [p["step"] for p in curves[0]]
        ys = [[c[i]["accuracy"] for c in curves] for i in range(len(steps))]
        series[label] = (steps, [sum(y) / len(y) for y in ys])
        bands[label] = ([min(y) for y in ys], [max(y) for y in ys])
    best = max(p["accuracy"] for p in van)
    return line_plot(
        series,
        out / f"tpt_curves_{target}.png",
        "PT steps",
        "dev accuracy (%)",
        f"TPT on {target}",
        bands=bands,
        hlines={f"{x}% of best_pt": x / 100 * best for x in (90, 95, 100)},
    )


def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def render(doc: dict[str, Any], out: Path) -> str:
    """Markdown of a study document (`study_document`), figures and CSVs written to `out`."""
    from .tpt import median

    out.mkdir(parents=True, exist_ok=True)
    parts = [
        "### Verdicts (gates M1–M10, computed from the stage files)\n",
        _table(
            ["gate", "shape", "status", "measured", "threshold"],
            [[g["id"], g["shape"], g["status"], g["value"], g["threshold"]] for g in doc["gates"]],
        ),
    ]
    train, matrix, tpt = doc.get("train"), doc.get("matrix"), doc.get("tpt")
    if matrix:
        matrix = {**matrix, "backbone": (train or {}).get("backbone", {}).get("backbone", "bb")}
        heat = _heatmap(matrix, out)
        parts.append(
            f"\n![transfer heat map]({heat.name})\n\nTransfer heat map: R (%) of each source "
            "prompt (columns) on each target (rows), seed mean, family blocks outlined; beside "
            "it the std over seeds and the paper's committed RoBERTa-base matrix [repo] on the "
            "same scale.\n"
        )
    if train and train.get("init") == "official":
        parts.append(
            f"\nPrompts imported from the official release ({train['source_dir']}, tag "
            f"`{train['official_tag']}`, row 0 dropped where dead); their own-task accuracy is "
            "the matrix diagonal.\n"
        )
    elif train:
        head = train["backbone"]["head"]
        why = ""
        if head == "mlm-adapt":
            why = (" — the spec's fallback (§2.6) for a backbone whose restored head fails"
                   " gate M1")  # fmt: skip
        parts.append(
            f"\nBackbone `{train['backbone']['backbone']}`, head "
            f"`{head}` (sha256 {train['backbone']['head_sha256'][:12]}){why}; "
            f"seeds {train['seeds']}.\n\n### Own-prompt test accuracy (%)\n\n"
        )
        rows = []
        for t in train["tasks"]:
            accs = [v["test_accuracy"] for _, v in sorted(train["runs"][t].items())]
            steps = [v["best_step"] for _, v in sorted(train["runs"][t].items())]
            rows.append(
                [
                    t,
                    train["family"][t],
                    sum(accs) / len(accs),
                    ", ".join(f"{a:.1f}" for a in accs),
                    train["majority"][t],
                    ", ".join(map(str, steps)),
                ]
            )
        parts.append(_table(["task", "family", "mean", "per seed", "majority", "best step"], rows))
    if matrix:
        seeds = [str(s) for s in matrix["seeds"]]
        cols = [*matrix["tasks"], "rand-init", "rand-uniform", "majority"]
        for kind in ("acc", "rel", "f1"):
            _csv(
                out / f"matrix_{kind}.csv",
                ["seed", "target", *cols],
                [
                    [s, t, *[matrix["per_seed"][s][kind][t].get(c, "") for c in cols]]
                    for s in seeds
                    for t in matrix["tasks"]
                ],
            )
        g, summ = matrix["mean"]["groups"], matrix["mean"]["summary"]
        rows = []
        for k, ci in (
            ("same", "same_ci"),
            ("cross", "cross_ci"),
            ("gap", "gap_ci"),
            ("rand-init", None),
            ("rand-uniform", None),
            ("majority", None),
        ):
            paper = PAPER_GROUPS.get(k)
            ci_txt = f"{summ[ci][0]:.1f}..{summ[ci][1]:.1f}" if ci else "–"
            n = summ.get(f"n_{k}", len(matrix["tasks"])) if k in ("same", "cross") else "–"
            rows.append(
                [
                    k,
                    f"{g[k]['mean']:.1f} ± {g[k]['std']:.1f}",
                    ci_txt,
                    n,
                    f"{paper[0]} {paper[1]}" if paper else "–",
                ]
            )
        parts.append(
            "\n### Zero-shot transfer, relative score R (%), all tasks\n\n"
            "Mean ± std over seeds; CI: 95% bootstrap over targets of the seed-mean "
            "matrix. Paper column: RoBERTa-base, committed results [repo] (its random "
            "prompt is uniform). Gates M2–M4 use only the tasks that pass M1.\n\n"
        )
        parts.append(_table(["group", "ours", "CI", "pairs", "paper"], rows))
        fam_rows = [
            [f, v["same"], v["cross"], v["rand-init"], v["rand-uniform"],
             PAPER_BY_FAMILY.get(f, "–") + (" [repo]" if f in PAPER_BY_FAMILY else "")]
            for f, v in sorted(summ["by_family"].items())
        ]  # fmt: skip
        parts.append("\nBy target family (seed-mean matrix):\n\n")
        parts.append(
            _table(
                [
                    "target family",
                    "same",
                    "cross",
                    "rand-init",
                    "rand-uniform",
                    "paper same / cross (random)",
                ],
                fam_rows,
            )  # fmt: skip
        )
        parts.append(
            "\nRaw values per seed: `matrix_acc.csv`, `matrix_rel.csv`, `matrix_f1.csv` "
            "(macro-F1).\n"
        )
    if tpt:
        rows, csv_rows = [], []
        for t in sorted({r["target"] for r in tpt["rows"]}):
            for arm in ("tpt-task", "tpt-cross"):
                rr = [r for r in tpt["rows"] if r["target"] == t and r["arm"] == arm]
                if not rr:
                    continue
                sp = [r["speedup_95"] for r in rr]
                rows.append(
                    [
                        t,
                        arm,
                        rr[0]["source"],
                        median([r["steps_95_vanilla"] for r in rr]),
                        median([r["steps_95_arm"] for r in rr]),
                        median(sp),
                        f"{_fmt(min(sp), 2)}..{_fmt(max(sp), 2)}",
                        median([r["speedup_100"] for r in rr]),
                        sum(r["final_arm"] for r in rr) / len(rr),
                        sum(r["delta"] for r in rr) / len(rr),
                        "PDF",
                    ]
                )
            plot = _tpt_plot(tpt["rows"], t, out)
            parts_img = f"![TPT {t}]({plot.name})"
            csv_rows += [
                [
                    r["target"],
                    r["arm"],
                    r["source"],
                    r["seed"],
                    r["steps_90_arm"],
                    r["steps_95_arm"],
                    r["steps_100_arm"],
                    r["speedup_95"],
                    r["final_arm"],
                    r["final_vanilla"],
                ]
                for r in tpt["rows"]
                if r["target"] == t
            ]
            rows[-1].append(parts_img)
        for r in rows:
            if len(r) == 11:
                r.append("")
        _csv(
            out / "tpt.csv",
            [
                "target",
                "arm",
                "source",
                "seed",
                "steps_90",
                "steps_95",
                "steps_100",
                "speedup_95",
                "final",
                "final_vanilla",
            ],
            csv_rows,
        )
        checks = tpt.get("a0_checks", [])
        ok = sum(c["equal"] for c in checks)
        parts.append(
            "\n### TPT (same LR, schedule and budget as vanilla; fresh optimiser)\n\n"
            "Steps to 95% of vanilla's best dev score (median over seeds); speed-up "
            "= vanilla steps / arm steps; final = test accuracy of the best-dev "
            "checkpoint, Δ against vanilla. Steps ∞: the run never reaches 95%; speed-up ∞: "
            "the transferred prompt is there at step 0, before any update; speed-up 0: the arm "
            "never gets there. Sources s* come from the seed-0 dev "
            f"matrix. Consistency a(0) = dev-matrix cell: {ok}/{len(checks)}.{_unlearnt(train)}\n\n"
        )
        parts.append(
            _table(
                [
                    "target",
                    "arm",
                    "source",
                    "steps_95 vanilla",
                    "steps_95 arm",
                    "speedup_95",
                    "range",
                    "speedup_100",
                    "final",
                    "Δ",
                    "paper",
                    "curve",
                ],
                rows,
            )
        )
    if doc.get("indicators"):
        from .report_sections import render_indicators

        parts.append(render_indicators(doc["indicators"], out, _table, _csv))
    if doc.get("project"):
        from .report_sections import render_projector

        parts.append(render_projector(doc["project"], out, _table, _csv))
    if doc.get("ki-arm"):
        from .report_sections import render_ki_arm

        parts.append(render_ki_arm(doc["ki-arm"], _table))
    walls = [[s, doc[s]["wall_s"]] for s in REPORTED_STAGES if doc.get(s)]
    hw = doc.get("hardware", {})
    parts.append(
        f"\n### Wall time per stage\n\nHardware: {hw.get('cpu', '?')} "
        f"({hw.get('cores', '?')} cores), device {hw.get('device', 'cpu')}; "
        "the machine was shared with other jobs, so times are upper bounds.\n\n"
    )
    parts.append(_table(["stage", "wall s"], walls))
    return "".join(parts)


def study_document(root: Path, gates: list[dict[str, str]]) -> dict[str, Any]:
    """The stage files of a study folder plus gates and hardware, as one JSON-ready dict."""
    import os
    import platform

    doc: dict[str, Any] = {
        "gates": gates,
        "hardware": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "device": "cpu",
        },
    }
    for s in REPORTED_STAGES:
        path = root / "stages" / f"{s}.json"
        if path.is_file():
            stage = read_json(path)
            if stage.get("status") == "ok":
                if s == "matrix":  # keep the report's numbers, not per-example predictions
                    stage = {k: v for k, v in stage.items() if k != "dev"}
                doc[s] = stage
    return doc


def run_card(doc: dict[str, Any]) -> dict[str, Any]:
    """R7 `run_card.json`: versions, git state, seeds, backbone and head hashes with the head's
    gate numbers, the data card (sizes and majority rates), wall time per stage, dropout mode
    and the head actually used (a fallback such as `mlm-adapt` would show here)."""
    from thunlp_repro.shared import env

    train = doc.get("train") or {}
    bb = train.get("backbone", {})
    card: dict[str, Any] = {
        "packages": env.package_versions(),
        "git": env.git_state(),
        "hardware": env.hardware(),
        "seeds": train.get("seeds"),
        "backbone": {k: bb.get(k) for k in ("backbone", "backbone_sha256", "width", "layers")},
        "head": {k: bb.get(k) for k in ("head", "head_sha256")} | {"card": bb.get("head_card")},
        "data_card": {"majority_test": train.get("majority"), "family": train.get("family")},
        "wall_s": {s: doc[s]["wall_s"] for s in REPORTED_STAGES if doc.get(s)},
        "gates": {g["id"]: g["status"] for g in doc["gates"]},
    }
    return card


def write_study_report(root: str | Path, gates: list[dict[str, str]]) -> Path:
    """Write `root/report/report.md` with its figures and CSVs, and `run_card.json`."""
    from thunlp_repro.shared.io import atomic_write_json

    root = Path(root)
    doc = study_document(root, gates)
    atomic_write_json(root / "report" / "run_card.json", run_card(doc))
    md = "## Prompt Transferability study report\n\n" + render(doc, root / "report")
    return atomic_write_text(root / "report" / "report.md", md)


TABLE = "transfer"
"""The results file of a study: `results/<preset>/prompt_transfer/transfer.json`."""


def headline_numbers(doc: dict[str, Any], gates: list[dict[str, str]]) -> dict[str, Any]:
    """The headline's numbers: same vs cross-family R over all tasks (seed mean and per seed)
    and gate M2's verdict (which uses the tasks that pass M1)."""
    by = {g["id"]: g for g in gates}
    matrix = doc.get("matrix")
    if not matrix:
        return {"M2": by.get("M2", {}).get("status", "not run")}
    g = matrix["mean"]["groups"]
    out = {
        "same": g["same"]["mean"],
        "cross": g["cross"]["mean"],
        "gap": g["gap"]["mean"],
        "gap_per_seed": [matrix["per_seed"][str(s)]["summary"]["gap"] for s in matrix["seeds"]],
        "n_tasks": len(matrix["tasks"]),
        "scope": "all tasks",
    }
    m2 = by.get("M2", {}).get("numbers")
    if m2:  # the gate's own numbers: the tasks that pass M1
        out.update(same=m2["same"], cross=m2["cross"], gap=m2["gap"],
                   gap_per_seed=m2["gap_per_seed"], n_tasks=len(m2["tasks"]),
                   scope="tasks passing M1")  # fmt: skip
    out.update(
        rand_init=g["rand-init"]["mean"],
        all_tasks={"same": g["same"]["mean"], "cross": g["cross"]["mean"],
                   "gap": g["gap"]["mean"]},
        n_seeds=len(matrix["seeds"]), M1=by["M1"]["status"], M2=by["M2"]["status"],
    )  # fmt: skip
    return out


def write_results_json(study: Any, gates: list[dict[str, str]], root: str | Path) -> Path:
    """`<root>/<preset>/prompt_transfer/transfer.json` (conventions.md §2.8) from the stages."""
    from thunlp_repro.shared import env
    from thunlp_repro.shared.config import to_dict
    from thunlp_repro.shared.reporting.results import build_results, write_results

    doc = study_document(study.root, gates)
    walls = {s: doc[s]["wall_s"] for s in REPORTED_STAGES if doc.get(s)}
    res = build_results(
        run_info={"paper": "prompt_transfer", "experiment": "transferability", "table": TABLE,
                  "preset": study.preset, "status": "ok", "duration_s": sum(walls.values())},
        config=to_dict(study.cfg),
        metrics={"study": doc, "gates": {g["id"]: g for g in gates},
                 "headline": headline_numbers(doc, gates), "wall_s": walls},
        eval_info={"split": "test (matrix, finals); 200-example dev subset (selection)",
                   "batch_size": study.cfg.exp.eval_batch_size, "device": "cpu"},
        meta={"seeds": list(study.cfg.exp.seeds), "hardware": env.hardware(),
              "study_folder": str(study.root)},
    )  # fmt: skip
    return write_results(res, root)


@register_section("prompt_transfer")
def section(results: list[dict[str, Any]], out_dir: Path) -> str:
    """The shared report's section: one block per study results file."""
    parts = []
    for r in results:
        doc = r["metrics"]["study"]
        title = r["run_info"].get("table", "study")
        body = render(doc, out_dir).replace("### ", "#### ")
        parts.append(f"### `{title}`\n\n" + body)
    return "\n".join(parts)


def prompt_transfer_headlines(by_preset: dict[str, list[dict[str, Any]]]) -> list[Any]:
    """REPORT.md's row: same-family vs cross-family zero-shot transfer (gate M2, §5.1)."""
    from thunlp_repro.shared.reporting.headline import Headline, table

    found = table(by_preset, TABLE)

    def show(r: dict | None) -> str:
        if r is None:
            return "not run"
        h = r["metrics"]["headline"]
        if "gap" not in h:
            return "matrix not run"
        head = r.get("config", {}).get("prompt", {}).get("head", "?")
        return (f"same {h['same']:.1f} vs cross {h['cross']:.1f}, gap {h['gap']:.1f} "
                f"({h['n_tasks']} {h.get('scope', 'tasks')}, {h['n_seeds']} seed(s), "
                f"head {head})")  # fmt: skip

    mini, quick = found["mini"], found["quick"]
    verdict = "NOT TESTABLE"
    if mini is not None and "gap" in mini["metrics"]["headline"]:
        h = mini["metrics"]["headline"]
        verdict = (
            "REPRODUCED"
            if h["M2"] == "PASS"
            else "DIRECTION ONLY"
            if h["gap_per_seed"] and min(h["gap_per_seed"]) > 0
            else "NOT REPRODUCED"
        )
    quick_ok = None
    if quick is not None and "gap" in quick["metrics"]["headline"]:
        quick_ok = quick["metrics"]["headline"]["gap"] > 0
    return [Headline(
        "C1: zero-shot, prompts transfer to same-family tasks far better than to others "
        "(M2: gap >= 15 points of R)",
        "RoBERTa-base same 80.8 vs cross 56.6, gap 24.2 [repo]", show(mini), show(quick),
        "same direction: gap > 0", quick_ok, verdict, "prompt_transfer.md",
    )]  # fmt: skip


def _register_headline() -> None:
    from thunlp_repro.shared.reporting.headline import register_headline

    register_headline("prompt_transfer")(prompt_transfer_headlines)


_register_headline()
