"""Registered experiment `prompt_transfer/transfer` for `reproduce-all` (conventions.md §2.11).

Reproduces: prompt_transfer.md §4.4 (train -> matrix -> indicators -> tpt -> ki-arm -> report on
the `mini` preset; the `project` stage of gates M8-M9 runs through `prompt-transfer project`)
and §5.1 (the gates, computed from the stage files). Profiles: `quick` runs the reduced
headline preset `configs/prompt_transfer/quick.yaml` (the within- vs cross-family gap of gate M2 on
MiniLM-L6, one seed, ~10 min on 2 cores); `full` runs `mini` with the committed record's head
(`RECORD_SETS`) and stages (`RECORD_STAGES`; the KI arm needs the KI zoo); `paper` is the GPU
preset, planned by
`thunlp-repro prompt-transfer all --preset paper --dry-run`. The experiment
writes `results/<preset>/prompt_transfer/transfer.json`; the study folder
`runs/prompt_transfer/<preset>/` keeps every content-addressed artefact, so a rerun skips
finished work. Register by importing this module (`cli/main.py::register_experiments`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MINUTES = {"quick": 11.5, "full": 310.0}
"""Minutes on 2 CPU cores: quick 11.3 measured idle with the mlm-adapt head; full is the record's
measured stages (train 72, matrix 35, indicators 4, TPT 54) plus the KI arm, not yet measured:
4 zoo encoders at MiniLM-L6's per-seed train (24 min) and matrix (12 min) cost, an upper bound."""

RECORD_STAGES = {"mini": ("train", "matrix", "indicators", "tpt", "ki-arm")}
"""The committed record's stages in §4.4's order (other presets: `HEADLINE_STAGES`); `project`
needs mpnet-base, an opt-in asset, so it runs through `prompt-transfer project`. `ki-arm` records
`not run` for a zoo encoder that is not built."""

RECORD_SETS = {"mini": ("prompt.head=mlm-adapt",)}
"""Overrides of the committed record: MiniLM-L6's restored head fails gate M1 (2 and 3 of the 6
quick tasks learned in two quick runs), so the record uses the spec's fallback head (§2.6); the
preset itself keeps `restored`, the head tried first. `quick` uses the same head when it is
installed (its 12-min build does not fit the quick budget) and says which head it used."""


def _sets(preset: str) -> list[str]:
    if preset != "quick":
        return list(RECORD_SETS.get(preset, ()))
    from thunlp_repro.shared.prerequisites import head_installed

    if head_installed("minilm-l6", adapt=True):
        logger.info("prompt_transfer quick: the record's head mlm-adapt is installed; using it")
        return list(RECORD_SETS["mini"])
    logger.warning("prompt_transfer quick: minilm-l6-mlm-adapt is not installed, so the restored "
                   "head is used (it fails M1 on MiniLM-L6); install it with: thunlp-repro assets "
                   "install minilm-l6-mlm-adapt")  # fmt: skip
    return []


def run_transfer(preset: str, results_file: Path, overwrite: bool) -> None:
    """Run the study of `preset` (skipping finished work) and write its results JSON."""
    from .gates import compute_gates, format_gates
    from .pipeline import HEADLINE_STAGES, STAGE_RUNNERS, make_study
    from .report import write_results_json, write_study_report

    study = make_study(preset, sets=_sets(preset))
    for stage in RECORD_STAGES.get(preset, HEADLINE_STAGES):
        doc = STAGE_RUNNERS[stage](study)
        logger.info("prompt_transfer %s: %s in %.0f s", stage, doc["status"], doc["wall_s"])
    gates = compute_gates(study.root, n_boot=study.cfg.exp.bootstrap)
    logger.info("prompt_transfer gates:\n%s", format_gates(gates))
    write_study_report(study.root, gates)
    root = Path(results_file).parents[2]
    path = write_results_json(study, gates, root)
    if path != Path(results_file):
        logger.warning("results written to %s, not %s", path, results_file)


def paper_plan() -> Any:
    """The paper preset's dry-run plan (`reproduce-all --profile paper --dry-run`)."""
    from .dryrun import dry_run_plan

    return dry_run_plan(
        "paper",
        command="thunlp-repro reproduce-all --profile paper --only prompt_transfer/transfer",
    )


def _register() -> None:
    from thunlp_repro.shared.experiments import EXPERIMENTS, Experiment, register_experiment

    if "prompt_transfer/transfer" not in EXPERIMENTS:
        register_experiment(Experiment(
            "prompt_transfer", "transfer",
            "prompt tuning, zero-shot transfer matrix and TPT on MiniLM-L6 (gates M1-M6)",
            run_transfer, needs=("assets/minilm-l6-mlm",),
            profile_needs={"full": ("assets/minilm-l6-mlm-adapt", "ki/zoo")},
            profiles=("quick", "full", "paper"), minutes=MINUTES, paper_plan=paper_plan,
        ))  # fmt: skip


_register()
