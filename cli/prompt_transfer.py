"""`thunlp-repro prompt-transfer`: soft-prompt tuning and its transferability (spec §6).

Verbs: `train` (PT of every task x seed; `--init` for vocab / labels / from_prompt), `matrix`
(zero-shot transfer matrix with random baselines), `indicators` (E_avg, E_tok, ON, ... against
the matrix, gates M7/M10), `tpt` (transferred-prompt initialisation vs vanilla), `project`
(cross-model projector pairs and the cross-depth identity check, gates M8-M10), `ki-arm` (the
matrix on the KI zoo's encoders, M10's KI part), `report` (gates
M1-M10 computed from the stage files, the study report and, with `--results`, the results JSON),
`all` (§4.4's default order: train -> matrix -> indicators -> tpt -> report; `project` is
scheduled separately, as the spec says; `--dry-run` prints the plan), `import-official` (the
official released prompts scored by our matrix stage, gate P0). Every verb works on one study
folder `runs/prompt_transfer/<name>/` (name: `--name`, default the preset) whose artefacts are
content-addressed: a rerun skips finished work and a killed stage resumes. Bad inputs (unknown
task, backbone or stage, a label word that is not one token, a foreign or corrupt prompt file)
exit 2 with one line before anything is written. Only typer, the standard library and
`cli.common` are imported at module level.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from thunlp_repro.cli.common import ConfigOpt, DryRunOpt, PresetOpt, SetOpt, handle_errors

app = typer.Typer(
    help="Prompt Transferability (Su et al., NAACL 2022): soft prompts, transfer, TPT.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

SeedsOpt = typer.Option(None, "--seeds", help="comma-separated seeds (default: the preset's)")
TasksOpt = typer.Option(None, "--tasks", help="comma-separated task ids (default: the preset's)")
BackboneOpt = typer.Option(None, "--backbone", help="backbone model name (default: the preset's)")
StudyOpt = typer.Option(None, "--name", help="study folder name (default: the preset name)")
MinutesOpt = typer.Option(None, "--max-minutes", help="start no new run or cell after N minutes")
OverwriteStage = typer.Option(
    False, "--overwrite", help="discard this stage's finished artefacts and redo them"
)
ResultsOpt = typer.Option(
    None, "--results", help="also write <results>/<preset>/prompt_transfer/transfer.json"
)
InitOpt = typer.Option(
    None, "--init", help="train: random | vocab | labels | from_prompt:<prompt.safetensors>"
)
IdentityOpt = typer.Option(
    False, "--allow-identity", help="from_prompt: admit a backbone of the same width/tokenizer"
)


def _ints(text: str) -> list[int]:
    from thunlp_repro.shared.errors import UsageError

    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--seeds takes comma-separated integers, got {text!r}") from None


def _study(
    preset: str,
    config: Path | None,
    set_: list[str] | None,
    seeds: str | None,
    tasks: str | None,
    backbone: str | None,
    name: str | None,
    minutes: float | None,
    init: str | None = None,
    allow_identity: bool = False,
) -> Any:
    from thunlp_repro.prompt_transfer.pipeline import make_study

    sets = list(set_ or [])
    if seeds is not None:
        sets.append(f"exp.seeds=[{','.join(map(str, _ints(seeds)))}]")
    if tasks is not None:
        sets.append(f"exp.tasks=[{tasks}]")
    if backbone is not None:
        sets.append(f"model.name={backbone}")
    if init is not None:
        sets.append(f"prompt.init={init}")
    if allow_identity:
        sets.append("prompt.allow_identity=true")
    return make_study(preset, config, sets, name, minutes)


def _discard(study: Any, stage: str) -> None:
    """`--overwrite`: remove one stage's file and the artefacts only it owns."""
    import shutil

    from thunlp_repro.prompt_transfer.pipeline import train_stage_name

    if stage == "train":
        name = train_stage_name(study.cfg.prompt.init)
        tag = "pt" if name == "train" else name.removeprefix("train-")
        for run in (study.root / "prompts").glob(f"*-s*-{tag}-*"):
            shutil.rmtree(run)
        study.stage_path(name).unlink(missing_ok=True)
        return
    folder = {"matrix": "cells", "tpt": "tpt", "indicators": "indicators",
              "project": "project", "ki-arm": "ki-arm"}.get(stage)  # fmt: skip
    if folder and (study.root / folder).exists():
        shutil.rmtree(study.root / folder)
    study.stage_path(stage).unlink(missing_ok=True)


def _echo_stage(doc: dict[str, Any]) -> None:
    reused = " (finished earlier; reused)" if doc.get("reused") else ""
    typer.echo(f"{doc['stage']}: {doc['status']} in {doc['wall_s']:.0f} s{reused}")


def _run(stage: str, study: Any, overwrite: bool, results: Path | None = None) -> Any:
    from thunlp_repro.prompt_transfer import pipeline
    from thunlp_repro.prompt_transfer.summary import echo_summary

    stages = list(pipeline.RUN_STAGES) if stage == "all" else [stage]
    for s in stages:
        if overwrite:
            _discard(study, s)
        doc = pipeline.STAGE_RUNNERS[s](study)
        _echo_stage(doc)
        echo_summary(doc, typer.echo)
        if doc["status"] != "ok":
            typer.echo(f"{s} is partial (--max-minutes); rerun to continue", err=True)
            raise typer.Exit(1)
    if stage == "all":
        _report(study, results)
    typer.echo(str(study.root))
    return study


def _report(study: Any, results: Path | None = None) -> None:
    from thunlp_repro.prompt_transfer.gates import compute_gates, format_gates
    from thunlp_repro.prompt_transfer.report import write_results_json, write_study_report

    gates = compute_gates(study.root, n_boot=study.cfg.exp.bootstrap)
    typer.echo("gates (prompt_transfer.md §5.1):")
    typer.echo(format_gates(gates))
    path = write_study_report(study.root, gates)
    typer.echo(f"report: {path}")
    if results is not None:
        typer.echo(f"results: {write_results_json(study, gates, results)}")


def _command(stage: str, doc: str) -> None:
    def command(
        preset: str = PresetOpt,
        config: Path | None = ConfigOpt,
        set_: list[str] | None = SetOpt,
        seeds: str | None = SeedsOpt,
        tasks: str | None = TasksOpt,
        backbone: str | None = BackboneOpt,
        name: str | None = StudyOpt,
        max_minutes: float | None = MinutesOpt,
        overwrite: bool = OverwriteStage,
    ) -> None:
        study = _study(preset, config, set_, seeds, tasks, backbone, name, max_minutes)
        _run(stage, study, overwrite)

    command.__doc__ = doc
    app.command(stage, rich_help_panel="Train")(handle_errors(command))


_command("matrix", "Zero-shot transfer matrix (test, per seed; dev for seed 0) with baselines.")
_command("tpt", "TPT: PT initialised from the best same-family (and cross-family) source.")
_command(
    "indicators",
    "Transferability indicators (E_avg, E_tok, ON by layer window, ...) vs the matrix's R.",
)
_command(
    "project",
    "Cross-model projector (task tuning, distance) and the cross-depth identity check.",
)
_command("ki-arm", "The transfer matrix on the KI zoo's encoders (native heads, 1 seed).")


@app.command("train", rich_help_panel="Train")
@handle_errors
def train(
    preset: str = PresetOpt,
    config: Path | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
    seeds: str | None = SeedsOpt,
    tasks: str | None = TasksOpt,
    backbone: str | None = BackboneOpt,
    name: str | None = StudyOpt,
    max_minutes: float | None = MinutesOpt,
    overwrite: bool = OverwriteStage,
    init: str | None = InitOpt,
    allow_identity: bool = IdentityOpt,
) -> None:
    """Prompt tuning of every task x seed through the shared frozen head (vanilla: random)."""
    study = _study(preset, config, set_, seeds, tasks, backbone, name, max_minutes, init,
                   allow_identity)  # fmt: skip
    _run("train", study, overwrite)


DirOpt = typer.Option(..., "--dir", help="the official repo's task_prompt_emb/ folder")
OfficialStudyOpt = typer.Option(None, "--name", help="study folder (default <preset>-official)")
TagOpt = typer.Option(
    None, "--tag", help="official backbone suffix (Roberta, RobertaLarge, Bert, T5, ...)"
)


@app.command("import-official", rich_help_panel="Evaluate")
@handle_errors
def import_official(
    src: Path = DirOpt,
    tag: str | None = TagOpt,
    preset: str = typer.Option("paper", "--preset", "-p", help="preset whose backbone and tasks"),
    config: Path | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
    tasks: str | None = TasksOpt,
    backbone: str | None = BackboneOpt,
    name: str | None = OfficialStudyOpt,
    overwrite: bool = OverwriteStage,
) -> None:
    """Gate P0: import the official released prompts (row 0 dropped) and score their matrix."""
    from thunlp_repro.prompt_transfer import pipeline
    from thunlp_repro.prompt_transfer.gates import compute_gates, format_gates
    from thunlp_repro.prompt_transfer.official import import_official as run_import
    from thunlp_repro.shared.errors import UsageError

    study = _study(preset, config, set_, "0", tasks, backbone, name or f"{preset}-official", None)
    if study.stage_path("train").is_file():
        old = study.read_stage("train")
        if old.get("init") != "official" or old.get("source_dir") != str(src):
            if not overwrite:
                raise UsageError(
                    f"{study.root} already holds prompts from {old.get('source_dir') or 'PT'}; "
                    "pass --overwrite to replace them or --name for another study"
                )
        if overwrite:
            _discard(study, "matrix")
    doc = run_import(study, src, tag)
    typer.echo(f"imported {doc['n_runs']} official {doc['official_tag']} prompt(s) into "
               f"{study.root / 'official'}")  # fmt: skip
    _echo_stage(pipeline.run_matrix(study))
    typer.echo(format_gates(compute_gates(study.root, n_boot=study.cfg.exp.bootstrap)))


@app.command("all", rich_help_panel="Reproduce")
@handle_errors
def all_(
    preset: str = PresetOpt,
    config: Path | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
    seeds: str | None = SeedsOpt,
    tasks: str | None = TasksOpt,
    backbone: str | None = BackboneOpt,
    name: str | None = StudyOpt,
    max_minutes: float | None = MinutesOpt,
    overwrite: bool = OverwriteStage,
    results: Path | None = ResultsOpt,
    dry_run: bool = DryRunOpt,
) -> None:
    """train -> matrix -> indicators -> tpt -> gates and report (spec §4.4), skipping finished
    work; `project` runs separately."""
    if dry_run:
        from thunlp_repro.prompt_transfer.dryrun import dry_run_plan

        sets = list(set_ or [])
        if seeds is not None:
            sets.append(f"exp.seeds=[{','.join(map(str, _ints(seeds)))}]")
        if tasks is not None:
            sets.append(f"exp.tasks=[{tasks}]")
        if backbone is not None:
            sets.append(f"model.name={backbone}")
        typer.echo(dry_run_plan(preset, config, sets).render())
        return
    study = _study(preset, config, set_, seeds, tasks, backbone, name, max_minutes)
    _run("all", study, overwrite, results)


@app.command("report", rich_help_panel="Evaluate")
@handle_errors
def report(
    preset: str = PresetOpt,
    config: Path | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
    name: str | None = StudyOpt,
    results: Path | None = ResultsOpt,
) -> None:
    """Gates M1-M10 and the study report (report/report.md + PNGs) from the stage files."""
    study = _study(preset, config, set_, None, None, None, name, None)
    _report(study, results)
