"""`thunlp-repro apet`: APET (Su et al., EMNLP 2023), issue #14 / apet.md §8.2.

Verbs: `train` (one cell), `sweep` (the study: E1-E3 cells, content-addressed, resumable,
`--profile smoke|quick|full`, `--max-minutes`, `--dry-run`), `analyze` (statistics and verdicts
from a results folder) and `report`. Only typer, the standard library and `cli.common` are
imported at module level.
"""

from __future__ import annotations

from pathlib import Path

import typer

from thunlp_repro.cli.common import (
    ConfigOpt,
    DryRunOpt,
    NameOpt,
    OverwriteOpt,
    ResumeOpt,
    RunDirOpt,
    SeedOpt,
    SetOpt,
    fail,
    handle_errors,
    overrides,
)

app = typer.Typer(
    help="APET (Su et al., EMNLP 2023): PET methods, arbitrary positions and budgets vs scale.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

PROFILE_NAMES = ("smoke", "quick", "full")
ApetPresetOpt = typer.Option(None, "--preset", "-p", help="smoke | quick | mini | paper")
ProfileOpt = typer.Option(None, "--profile", help="smoke | quick | full (full = preset mini)")
ResultsOpt = typer.Option(Path("results"), "--results", help="results root")
MaxMinutesOpt = typer.Option(
    None, "--max-minutes", help="probe 10 steps, project the wall time, refuse a longer plan"
)


def _preset(preset: str | None, profile: str | None) -> str:
    from thunlp_repro.apet.config import PROFILES
    from thunlp_repro.shared.config import list_presets

    if profile is not None and profile not in PROFILES:
        fail(f"unknown profile '{profile}'; accepted: {', '.join(PROFILE_NAMES)}")
    chosen = PROFILES[profile] if profile else (preset or "mini")
    if preset is not None and profile is not None and preset != chosen:
        fail(f"--preset {preset} and --profile {profile} disagree; accepted: one of them")
    known = list_presets("apet")
    if chosen not in known:
        fail(f"unknown preset '{chosen}'; accepted: {', '.join(known)}")
    return chosen


def _experiments(value: str | None) -> list[str] | None:
    if value is None:
        return None
    from thunlp_repro.apet.config import EXPERIMENTS, check_choice

    return [check_choice("experiment", e.strip(), EXPERIMENTS) for e in value.split(",")]


@app.command(rich_help_panel="Train")
@handle_errors
def train(
    preset: str | None = ApetPresetOpt,
    profile: str | None = ProfileOpt,
    config: Path | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
    seed: int | None = SeedOpt,
    name: str | None = NameOpt,
    run_dir: Path | None = RunDirOpt,
    resume: str | None = ResumeOpt,
    overwrite: bool = OverwriteOpt,
) -> None:
    """One cell: `--set cell.method=lora --set data.task=trec --set model.name=minilm-l6`."""
    chosen = _preset(preset, profile)
    from thunlp_repro.apet.experiments import resolve
    from thunlp_repro.apet.train import train_cell
    from thunlp_repro.shared.rundir import RunDir

    cfg = resolve(chosen, config, overrides(set_, seed))
    _check_names(cfg)
    run = RunDir.start("apet", cfg, name or f"cell-{chosen}", run_dir=run_dir,
                       resume=resume is not None, overwrite=overwrite)  # fmt: skip
    if resume is not None and run.results_path.is_file():
        typer.echo(f"{run.path}: finished already (results.json)")
        return
    rec = train_cell(cfg, run, chosen)
    typer.echo(f"{rec['describe']}\naccuracy {rec['accuracy']:.1f} (chance {rec['chance']:.1f})"
               f" in {rec['wall_s']:.1f} s -> {run.path}")  # fmt: skip


def _check_names(cfg: object) -> None:
    """Exit 2 with one line on an unknown model or task, before anything loads."""
    from thunlp_repro.apet.config import check_choice
    from thunlp_repro.shared.models import resolve_model
    from thunlp_repro.shared.tasks import TASKS

    resolve_model(cfg.model.name)  # type: ignore[attr-defined]
    check_choice("task", cfg.data.task, sorted(TASKS.keys()))  # type: ignore[attr-defined]
    for t in cfg.study.tasks:  # type: ignore[attr-defined]
        check_choice("task", t, sorted(TASKS.keys()))


@app.command(rich_help_panel="Train")
@handle_errors
def sweep(
    preset: str | None = ApetPresetOpt,
    profile: str | None = ProfileOpt,
    config: Path | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
    seed: int | None = SeedOpt,
    resume: str | None = ResumeOpt,
    overwrite: bool = OverwriteOpt,
    exp: str | None = typer.Option(None, "--exp", help="e1,e2,e3 (default: the preset's)"),
    results: Path = ResultsOpt,
    max_minutes: float | None = MaxMinutesOpt,
    dry_run: bool = DryRunOpt,
) -> None:
    """The study as content-addressed cells: finished cells are skipped, a killed sweep resumes.

    `--resume` is accepted for symmetry: a sweep always resumes its finished cells;
    `--overwrite` retrains them. `--seed N` runs the study with seeds [N] only.
    """
    chosen = _preset(preset, profile)
    exps = _experiments(exp)
    sets = list(set_ or [])
    if seed is not None:
        sets.append(f"study.seeds=[{seed}]")
    if dry_run:
        from thunlp_repro.apet.dryrun import paper_dry_run

        typer.echo(paper_dry_run(chosen, exps, config, sets).render())
        return
    if resume is not None and overwrite:
        fail("--resume and --overwrite exclude each other; accepted: one of them")
    from thunlp_repro.apet.experiments import resolve, run_study

    _check_names(resolve(chosen, config, sets))
    out = results / chosen / "apet"
    for path in run_study(chosen, exps, out, config_file=config, sets=sets, overwrite=overwrite,
                          max_minutes=max_minutes, echo=typer.echo):  # fmt: skip
        typer.echo(str(path))


@app.command(rich_help_panel="Evaluate")
@handle_errors
def analyze(
    preset: str | None = ApetPresetOpt,
    profile: str | None = ProfileOpt,
    results: Path = ResultsOpt,
) -> None:
    """Recompute statistics and verdicts from `results/<preset>/apet/*.json`; print verdicts."""
    chosen = _preset(preset, profile)
    from thunlp_repro.apet.report import study_summary
    from thunlp_repro.shared.io import atomic_write_json, read_json

    folder = results / chosen / "apet"
    docs = [read_json(p) for p in sorted(folder.glob("e*-*.json"))]
    if not docs:
        fail(f"no APET results in {folder}; accepted: a folder written by `apet sweep`", 1)
    recs = {str(sorted(r.items(), key=str)): r for d in docs for r in d["metrics"]["records"]}
    summary = study_summary(list(recs.values()), docs[-1].get("meta", {}))
    atomic_write_json(folder / "verdicts.json", summary["verdicts"])
    for v in summary["verdicts"]:
        typer.echo(f"{v['finding']:4s} ladder {v['ladder']}: {v['verdict']:15s} {v['statistic']}")


@app.command(rich_help_panel="Evaluate")
@handle_errors
def report(
    results: Path = ResultsOpt,
    out: Path = typer.Option(Path("reports"), "--out", help="reports folder"),
) -> None:
    """Write the shared report (reports/apet.md with its PNG figures) from the result JSONs."""
    from thunlp_repro.cli.main import register_experiments
    from thunlp_repro.shared.reporting.report import write_report

    register_experiments()
    for path in write_report(results, out):
        typer.echo(str(path))
