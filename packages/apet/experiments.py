"""The registered APET experiments `apet/<table>` (apet.md §4.7 E1-E3; §3.6 at paper scale).

`run_study` resolves the preset (plus `--config` / `--set`), finds which ladder models are on
disk (Ladder K is "not run" when the KI zoo is absent), expands the cells, runs the unfinished
ones and writes `results/<preset>/apet/<table>.json` with records, statistics and verdicts.
The quick profile runs E3 on L3 + L6; full runs E1-E3 (mini preset) on Ladder R and Ladder K,
so in `full` each needs the KI zoo (`ki/zoo`, loaded by name through `shared.models`). The
frozen-random head needs only the encoder assets (minilm-l3, minilm-l6), so no MLM-head
prerequisite is declared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from thunlp_repro.apet.config import APETConfig
from thunlp_repro.apet.sweep import TABLES, ladder_models, model_available, plan_cells, run_cells
from thunlp_repro.shared.config import load_config, to_dict
from thunlp_repro.shared.errors import UsageError

logger = logging.getLogger(__name__)

DESCRIPTIONS = {
    "e1-positions": "E1 positions: σ_pos vs σ_train, structured pools (F1a, F1c)",
    "e2-methods": "E2 PET methods, budget-matched APET and FT (F1b, F2a)",
    "e3-thresholds": "E3 log-spaced budget sweep: low/high thresholds (F2b, F3)",
}
MINUTES = {"e1-positions": {"full": 35.0}, "e2-methods": {"full": 124.0},
           "e3-thresholds": {"quick": 6.5, "full": 60.0}}  # fmt: skip
"""Minutes on 2 CPU cores: full as measured for the committed record (34.5 / 123.9 / 60.2); quick
estimated from the record's per-cell times for the 3-budget grid (7.5 measured on the 4-budget
one)."""


def resolve(preset: str, config_file: Path | None = None, sets: list[str] | None = None
            ) -> APETConfig:  # fmt: skip
    cfg, _ = load_config(APETConfig, pipeline="apet", preset=preset, config_file=config_file,
                         overrides=list(sets or []))  # fmt: skip
    if cfg.paper:
        raise UsageError(
            "the paper preset needs GPUs and hub weights; accepted here: "
            "--dry-run (prints the plan), or --preset smoke|quick|mini"
        )
    return cfg


def run_study(preset: str, experiments: list[str] | None, out_dir: Path, *,
              config_file: Path | None = None, sets: list[str] | None = None,
              overwrite: bool = False, max_minutes: float | None = None,
              runs: Path | None = None, echo: Callable[[str], None] = logger.info,
              available: Callable[[str], bool] = model_available) -> list[Path]:  # fmt: skip
    """Run (or resume) the study's cells and write its tables; returns the files written."""
    from thunlp_repro.shared.env import hardware
    from thunlp_repro.shared.paths import runs_root

    cfg = resolve(preset, config_file, sets)
    for lad in cfg.study.ladders:
        models = cfg.study.ladder_r if lad == "R" else cfg.study.ladder_k
        missing = [m for m in models if not available(m)]
        if missing:
            echo(
                f"ladder {lad}: {', '.join(missing)} not on disk; "
                + ("ladder K is not run" if lad == "K" else "those models are skipped")
            )
    ladders = ladder_models(cfg, available)
    if not ladders:
        raise UsageError("no ladder model is installed; accepted: run `thunlp-repro assets "
                         "install --group mini` first")  # fmt: skip
    models = list(dict.fromkeys(m for ms in ladders.values() for m in ms))
    plan = plan_cells(cfg, models, experiments)
    limit = max_minutes if max_minutes is not None else cfg.study.max_minutes
    records = run_cells(plan, preset=preset, base=list(sets or []), config_file=config_file,
                        runs=runs or runs_root(), max_minutes=limit, overwrite=overwrite,
                        echo=echo)  # fmt: skip
    meta = {"ladders": ladders, "tasks": cfg.study.tasks,
            "structured_pools": cfg.study.structured_pools, "bootstrap": cfg.study.bootstrap,
            "compare_bootstrap": cfg.study.compare_bootstrap, "config": to_dict(cfg),
            "hardware": _hw(hardware()), "user_settings": {"sets": list(sets or []),
            "config": str(config_file) if config_file else None}}  # fmt: skip
    from thunlp_repro.apet.sweep import write_tables

    return write_tables(plan, records, out_dir, preset, meta)


def _hw(info: dict[str, Any]) -> str:
    cpus = info.get("cpu_count") or info.get("cpus") or "?"
    gpus = info.get("gpus") or []
    return f"{cpus} CPU cores" + (f", {len(gpus)} GPU(s)" if gpus else "")


def _runner(table: str) -> Callable[[str, Path, bool], None]:
    exp = next(k for k, v in TABLES.items() if v == table)

    def run(preset: str, results_file: Path, overwrite: bool) -> None:
        run_study(preset, [exp], results_file.parent, overwrite=overwrite)

    return run


def paper_plan(table: str) -> Any:
    from thunlp_repro.apet.dryrun import paper_dry_run

    exp = next(k for k, v in TABLES.items() if v == table)
    return paper_dry_run("paper", [exp])


def _register() -> None:
    from functools import partial

    from thunlp_repro.apet import report
    from thunlp_repro.shared.experiments import EXPERIMENTS, Experiment, register_experiment
    from thunlp_repro.shared.reporting.headline import register_headline
    from thunlp_repro.shared.reporting.report import REPORT_SECTIONS, register_section

    for table, desc in DESCRIPTIONS.items():
        if f"apet/{table}" not in EXPERIMENTS:
            quick = ("quick",) if table == "e3-thresholds" else ()
            register_experiment(Experiment("apet", table, desc, _runner(table),
                                           profile_needs={"full": ("ki/zoo",)},
                                           profiles=(*quick, "full", "paper"),
                                           minutes=MINUTES[table],
                                           paper_plan=partial(paper_plan, table)))  # fmt: skip
    if "apet" not in REPORT_SECTIONS:
        register_section("apet")(report.render_section)
    register_headline("apet")(report.headlines)


_register()
