"""`thunlp-repro apet sweep --preset paper --dry-run`: the paper-scale plan (apet.md §3.1-§3.6).

Every hub id and task is validated offline (no weights are loaded, nothing is downloaded); the
run grid is the same cell expansion as the mini study over the paper models and the 11 tasks
(E3 on the 9 classification tasks only); cost = runs x steps x the preset's per-model seconds
per step [est.], and the shared FLOP model for the H100/A100 columns.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from thunlp_repro.apet.config import APETConfig
from thunlp_repro.shared.config import load_config

GENERATION_TASKS = ("nq-open", "samsum", "multi-news")
PARAMS = {  # public model sizes, for the FLOP estimate only [est.]
    "google/bert_uncased_L-2_H-128_A-2": 4_400_000,
    "google/bert_uncased_L-4_H-512_A-8": 28_800_000,
    "google/bert_uncased_L-12_H-768_A-12": 110_000_000,
    "google-bert/bert-large-uncased": 335_000_000,
    "bigscience/bloom-560m": 560_000_000, "bigscience/bloom-1b1": 1_100_000_000,
    "bigscience/bloom-7b1": 7_100_000_000, "google/t5-v1_1-small": 77_000_000,
    "google/t5-v1_1-base": 248_000_000, "google/t5-v1_1-xxl": 11_000_000_000,
}  # fmt: skip


def paper_dry_run(
    preset: str = "paper",
    experiments: list[str] | None = None,
    config_file: Path | None = None,
    sets: list[str] | None = None,
) -> Any:
    """The validated DryRunPlan of the paper preset (UsageError on any unknown name)."""
    from thunlp_repro.apet.sweep import plan_cells
    from thunlp_repro.shared.dryrun import (
        DryRunPlan,
        RunEntry,
        accelerate_for,
        model_entry,
        task_entry,
    )

    rest, accel = accelerate_for("single_gpu", sets)
    cfg, _ = load_config(APETConfig, pipeline="apet", preset=preset, config_file=config_file,
                         overrides=rest, quiet=True)  # fmt: skip
    st = cfg.study
    notes: list[str] = []
    families = st.paper_families or {"mini": st.ladder_r}
    tasks = st.paper_tasks or st.tasks
    models = [model_entry(m, f"{fam} backbone", tuple(PARAMS), PARAMS.get(m), notes)
              for fam, ms in families.items() for m in ms]  # fmt: skip
    datasets = [task_entry(t) for t in tasks]
    clf = [t for t in tasks if t not in GENERATION_TASKS]
    runs: list[RunEntry] = []
    per_exp = {}
    for exp in experiments or st.experiments:
        tasks_e = clf if exp == "e3" else tasks
        study = dataclasses.replace(st, tasks=tasks_e, e1_tasks=tasks_e)
        plan = plan_cells(dataclasses.replace(cfg, study=study),
                          [m for ms in families.values() for m in ms], [exp])  # fmt: skip
        cells = plan.unique()
        per_exp[exp] = len(cells)
        tr = cfg.train
        for c in cells:
            tokens = tr.max_steps * tr.global_batch_size * cfg.data.max_length
            runs.append(RunEntry(c.label(), c.model, tr.max_steps, tokens, PARAMS.get(c.model),
                                 key=c.label(), micro_batches=tr.max_steps))  # fmt: skip
    unique = {r.key: r for r in runs}.values()
    hours = sum(st.gpu_step_s.get(r.model, 0.1) * r.steps for r in unique)
    notes.append(
        "runs per experiment: "
        + ", ".join(f"{k} {v}" for k, v in per_exp.items())
        + f"; steps per run {cfg.train.max_steps}; preset per-step estimate "
        f"~{hours / 3600:,.1f} GPU-hours [est.] from study.gpu_step_s (default 0.1 s a step)"
    )
    plan = DryRunPlan("apet", preset, f"thunlp-repro apet sweep --preset {preset}",
                      models=models, datasets=datasets, runs=runs, accelerate=accel,
                      batch=(cfg.train.global_batch_size, cfg.train.micro_batch_size),
                      precision=cfg.runtime.precision, notes=notes)  # fmt: skip
    plan.validate()
    return plan
