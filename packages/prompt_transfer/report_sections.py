"""The report's indicator (R4) and projector (R5) sections, from the stage documents.

Reproduces: prompt_transfer.md §6 R4 (`indicators.md/.csv` + scatter: Spearman rho pooled and
per target with CI and seed std for every indicator, the paper column holding the committed
RoBERTa-base embedding rho [repo] and "PDF" for ON, the scatter of ON and E_avg against R
coloured by same / cross family) and R5 (`projector.md/.csv`: the target tasks in their three
groups with B's own-prompt accuracy, `rand-init` R, identity R, task-tuning R and
distance-minimisation R; the committed RoBERTa-base -> large sentiment values [repo] as the
paper column; `tpt-model`'s speed-up to 95% of B's vanilla best and its final test accuracy),
and the KI arm (§4.3: the matrix's group means on each KI zoo encoder, native head, 1 seed).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

PAPER_RHO = {  # RoBERTa-base, committed prompts with row 0 excluded, pooled / per-target [repo]
    "E_tok": "0.30 / 0.33 [repo]",
    "E_pair": "0.05 / 0.39 [repo]",
    "E_avg": "0.18 / 0.40 [repo]",
    "Euclidean": "0.28 / -0.05 [repo]",
    "oracle": "0.54 / 0.59 [repo]",
}
PAPER_PROJECTOR = "RoBERTa-base -> large: sentiment 61-90 (laptop 6), NLI 44-62 [repo]"
GROUP_ORDER = {"train": 0, "held-out": 1, "other": 2}

Table = Callable[[list[str], list[list[Any]]], str]
Csv = Callable[[Path, list[str], list[list[Any]]], None]


def _ms(cell: dict[str, Any]) -> str:
    mu, sd = cell["mean"], cell["std"]
    return "–" if math.isnan(mu) else f"{mu:.2f} ± {sd:.2f}"


def _ci(per_seed: dict[str, Any], name: str, form: str) -> str:
    lo, hi = next(iter(per_seed.values()))["rho"][name][f"{form}_ci"]
    return "–" if math.isnan(lo) else f"{lo:.2f}..{hi:.2f}"


def render_indicators(doc: dict[str, Any], out: Path, table: Table, csv: Csv) -> str:
    """R4: the rho table, `indicators.csv` and the two scatter PNGs written to `out`."""
    from .indicator_stage import draw_scatters

    plots = draw_scatters(doc, out)
    names = list(doc["mean"])
    first = next(iter(doc["per_seed"]))
    rows = [
        [n, _ms(doc["mean"][n]["pooled"]), _ci(doc["per_seed"], n, "pooled"),
         _ms(doc["mean"][n]["per_target"]), _ci(doc["per_seed"], n, "per_target"),
         PAPER_RHO.get(n, "PDF" if n.startswith("ON") else "–")]
        for n in names
    ]  # fmt: skip
    csv(out / "indicators.csv", ["seed", "indicator", "pooled", "per_target"],
        [[s, n, d["rho"][n]["pooled"], d["rho"][n]["per_target"]]
         for s, d in doc["per_seed"].items() for n in names])  # fmt: skip
    imgs = " ".join(f"![{k} scatter]({p.name})" for k, p in plots.items())
    return (
        "\n### Transferability indicators (Spearman rho against R)\n\n"
        f"{len(doc['pairs'])} ordered off-diagonal pairs of {len(doc['tasks'])} tasks per seed, "
        f"{len(doc['seeds'])} seed(s); mean ± std over seeds; CI: 95% bootstrap over targets "
        f"(seed {first}). ON uses the prompt-only input at the mask slot; windows "
        f"{', '.join(w for w in doc['windows'] if w != 'all')}. Paper column: RoBERTa-base "
        "pooled / per-target [repo]; ON values are read from the PDF.\n\n"
        + table(["indicator", "pooled rho", "CI", "per-target rho", "CI", "paper"], rows)
        + f"\n{imgs}\n\nScatter: every seed's pairs, coloured by same / cross family.\n"
    )


def render_projector(doc: dict[str, Any], out: Path, table: Table, csv: Csv) -> str:
    """R5: one table per pair (targets by group), `projector.csv`, and the pairs not run."""
    from .projector import projector_table

    parts = ["\n### Cross-model projector and cross-depth check (R on the target backbone)\n\n"
             f"Seed {doc['seed']}; training tasks {', '.join(doc['train_tasks'])}. R = 100 · "
             "accuracy of the mapped prompt / the target backbone's own prompt (test). "
             f"Paper: {PAPER_PROJECTOR}. tpt-model: B's PT initialised from the task-tuned "
             "g(P^A_t), speed-up to 95% of B's vanilla best dev score (same seed, budget)."
             "\n"]  # fmt: skip
    csv_rows, summary = [], []
    for name, pair in doc["pairs"].items():
        if pair["status"] != "ok":
            parts.append(f"\n`{name}`: {pair['status']} ({pair.get('reason', '')}).\n")
            continue
        modes, tpt = list(pair["modes"]), pair.get("tpt_model") or {}
        rows = []
        for t in sorted(pair["groups"], key=lambda t: (GROUP_ORDER[pair["groups"][t]], t)):
            ident = pair["identity"][t] if pair["identity"] else None
            vals = [pair["modes"][m]["R"][t] for m in modes]
            arm = tpt.get(t, {})
            rows.append([t, pair["groups"][t], pair["own_acc"][t], pair["rand_init"][t],
                         ident, *vals, arm.get("speedup_95"), arm.get("final_arm")])  # fmt: skip
            csv_rows.append([name, *rows[-1]])
        for group in GROUP_ORDER:
            ts = [t for t, g in pair["groups"].items() if g == group]
            for m in modes:
                if ts:
                    r = sum(pair["modes"][m]["R"][t] for t in ts) / len(ts)
                    summary.append({"pair": name, "mode": m, "group": group, "R": r})
        losses = ", ".join(f"{m} {v['loss_first']:.3f} -> {v['loss_last']:.3f} in {v['steps']} "
                           "steps" for m, v in pair["modes"].items())  # fmt: skip
        parts.append(f"\n`{name}` (widths {pair['widths'][0]} -> {pair['widths'][1]}; "
                     f"projector loss {losses}; {pair['wall_s']:.0f} s):\n\n")  # fmt: skip
        parts.append(table(["target", "group", "own acc", "rand-init R", "identity R",
                            *[f"{m} R" for m in modes], "tpt-model speedup_95",
                            "tpt-model test acc"], rows))  # fmt: skip
        for k, m in pair.get("identity_matrices", {}).items():
            parts.append(f"\nIdentity matrix {k}: diagonal {m['diagonal']:.1f}, same-family "
                         f"{m['same']:.1f}, cross-family {m['cross']:.1f}.\n")  # fmt: skip
    if summary:
        parts.append("\nGroup means:\n\n" + projector_table(summary) + "\n")
    csv(out / "projector.csv",
        ["pair", "target", "group", "own_acc", "rand_init_R", "identity_R",
         *[f"{m}_R" for m in doc["modes"]], "tpt_model_speedup_95", "tpt_model_test_acc"],
        csv_rows)  # fmt: skip
    return "".join(parts)


def render_ki_arm(doc: dict[str, Any], table: Table) -> str:
    """The KI arm: one row per KI zoo encoder (group means of its own matrix, or why not run)."""
    rows = []
    for name, e in doc["encoders"].items():
        if e["status"] != "ok":
            rows.append([name, "–", e["status"], "–", "–", "–", "–", "–"])
            continue
        bb = e["backbone"]
        rows.append([name, f"{bb['layers']} x {bb['width']}", "ok",
                     f"{len(e['learned'])}/{len(e['own_acc'])}", e["same"], e["cross"], e["gap"],
                     e["rand-init"]])  # fmt: skip
    missing = [e["reason"] for e in doc["encoders"].values() if e["status"] == "not run"]
    note = f" Not run: {missing[0]}" if missing else ""
    headers = ["encoder", "layers x width", "status", "learned", "same R", "cross R", "gap",
               "rand-init R"]  # fmt: skip
    return (
        "\n### KI arm: the transfer matrix on the KI zoo's encoders\n\n"
        f"Native MLM heads, seed {doc['seed']}, the study's tasks and PT recipe; R (%) group "
        "means of each encoder's own test matrix; learned: own-prompt accuracy >= majority + 10."
        f"{note}\n\n" + table(headers, rows)
    )
