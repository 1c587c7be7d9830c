"""The `thunlp-repro` command: one Typer app, a sub-app per paper, shared utilities at the root.

Only typer, the standard library and torch-free modules are imported here: `thunlp-repro --help`
answers in about a second (a test checks that torch is not imported).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from thunlp_repro.cli import apet as apet_cli
from thunlp_repro.cli import assets as assets_cli
from thunlp_repro.cli import chatdev as chatdev_cli
from thunlp_repro.cli import ki as ki_cli
from thunlp_repro.cli import prompt_transfer as prompt_transfer_cli
from thunlp_repro.cli import tasks as tasks_cli
from thunlp_repro.cli.common import (
    ConfigOpt,
    DryRunOpt,
    NameOpt,
    OverwriteOpt,
    PresetOpt,
    ResumeOpt,
    RunDirOpt,
    SeedOpt,
    SetOpt,
    handle_errors,
    overrides,
    setup_logging,
)
from thunlp_repro.shared.config import PIPELINES, list_presets, load_config, to_yaml

# Pipelines' config classes, lazily ("module:Class"), so show-config imports only what it shows.
PIPELINES.add("finetune", "thunlp_repro.shared.finetune:FinetuneConfig")
PIPELINES.add("chatdev", "thunlp_repro.chatdev.config:ChatDevConfig")
PIPELINES.add("ki", "thunlp_repro.ki.config:KIConfig")
PIPELINES.add("apet", "thunlp_repro.apet.config:APETConfig")
PIPELINES.add("prompt-transfer", "thunlp_repro.prompt_transfer.config:PromptTransferConfig")

app = typer.Typer(
    name="thunlp-repro",
    help="Reproduce ChatDev, APET, Knowledge Inheritance and Prompt Transferability "
    "at two scales: mini (offline, CPU) and paper (hub models, GPUs).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold API keys
    add_completion=False,
)
app.add_typer(assets_cli.app, name="assets", rich_help_panel="Utilities")
app.add_typer(tasks_cli.app, name="tasks", rich_help_panel="Utilities")
app.add_typer(chatdev_cli.app, name="chatdev", rich_help_panel="Papers")
app.add_typer(ki_cli.app, name="ki", rich_help_panel="Papers")
app.add_typer(apet_cli.app, name="apet", rich_help_panel="Papers")
app.add_typer(prompt_transfer_cli.app, name="prompt-transfer", rich_help_panel="Papers")


@app.callback()
def root(
    log_level: str = typer.Option("INFO", "--log-level", help="DEBUG, INFO, WARNING or ERROR"),
    runs_root: Path | None = typer.Option(None, "--runs-root", help="root of run folders"),
) -> None:
    """Set logging and the runs root for every command."""
    setup_logging(log_level)
    if runs_root is not None:
        os.environ["THUNLP_REPRO_RUNS"] = str(runs_root)


def register_experiments() -> None:
    """Import the modules that register experiments (heavy imports stay inside their runs)."""
    import thunlp_repro.apet.experiments  # noqa: F401
    import thunlp_repro.chatdev.experiments  # noqa: F401
    import thunlp_repro.ki.experiments  # noqa: F401
    import thunlp_repro.prompt_transfer.experiments  # noqa: F401
    import thunlp_repro.shared.finetune  # noqa: F401
    import thunlp_repro.shared.prerequisites  # noqa: F401


@app.command(rich_help_panel="Utilities")
@handle_errors
def env(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Versions, devices and which offline assets are installed."""
    from thunlp_repro.shared.assets import ASSETS, is_installed
    from thunlp_repro.shared.env import describe_env
    from thunlp_repro.shared.paths import home

    info = describe_env()
    try:
        import torch

        info["torch_devices"] = {"cuda": torch.cuda.is_available(),
                                 "cuda_count": torch.cuda.device_count()}  # fmt: skip
    except ImportError:
        info["torch_devices"] = None
    info["asset_home"] = str(home())
    info["assets"] = {name: is_installed(name) for name in ASSETS.keys()}
    if as_json:
        typer.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    for section in ("packages", "git", "hardware", "torch_devices", "assets"):
        typer.echo(f"{section}:")
        for key, value in (info[section] or {}).items():
            typer.echo(f"  {key}: {value}")
    typer.echo(f"asset_home: {info['asset_home']}")


@app.command("show-config", rich_help_panel="Utilities")
@handle_errors
def show_config(
    pipeline: str = typer.Argument(..., help="pipeline name, e.g. finetune"),
    preset: str | None = typer.Option(None, "--preset", "-p", help="preset to start from"),
    config: Path | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
) -> None:
    """Print the resolved config of a pipeline without running anything."""
    cls = PIPELINES.get(pipeline)
    cfg, _log = load_config(
        cls, pipeline=pipeline, preset=preset, config_file=config, overrides=set_ or []
    )
    typer.echo(to_yaml(cfg), nl=False)


@app.command(rich_help_panel="Train")
@handle_errors
def finetune(
    preset: str = PresetOpt,
    config: Path | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
    seed: int | None = SeedOpt,
    name: str | None = NameOpt,
    run_dir: Path | None = RunDirOpt,
    resume: str | None = ResumeOpt,
    overwrite: bool = OverwriteOpt,
    dry_run: bool = DryRunOpt,
) -> None:
    """Fine-tune (or linear-probe) a registered model on a registered task (reference pipeline)."""
    from thunlp_repro.shared.finetune import FinetuneConfig, run_finetune
    from thunlp_repro.shared.rundir import RunDir

    if dry_run:
        from thunlp_repro.shared.finetune import dry_run as finetune_dry_run

        typer.echo(finetune_dry_run(preset, config, set_, seed).render())
        return
    cfg, _ = load_config(FinetuneConfig, pipeline="finetune", preset=preset, config_file=config,
                         overrides=overrides(set_, seed))  # fmt: skip
    run = RunDir.start("finetune", cfg, name, run_dir=run_dir, resume=resume is not None,
                       overwrite=overwrite)  # fmt: skip
    metrics = run_finetune(cfg, run, resume=resume, preset=preset)
    typer.echo(
        f"dev accuracy {metrics['dev_accuracy']:.4f} (majority {metrics['dev_majority']:.4f}), "
        f"test accuracy {metrics['test_accuracy']:.4f} (majority {metrics['test_majority']:.4f})"
    )
    typer.echo(str(run.path))


@app.command("list", rich_help_panel="Utilities")
@handle_errors
def list_(what: str = typer.Argument("experiments", help="experiments | presets | pipelines")):
    """List registered experiments, presets or pipelines."""
    from thunlp_repro.shared.experiments import EXPERIMENTS

    if what == "experiments":
        register_experiments()
        for key in EXPERIMENTS.keys():
            typer.echo(f"{key}\t{EXPERIMENTS.get(key).description}")
    elif what == "pipelines":
        for key in PIPELINES.keys():
            typer.echo(key)
    elif what == "presets":
        for key in PIPELINES.keys():
            typer.echo(f"{key}: {', '.join(list_presets(key)) or '(none)'}")
    else:
        from thunlp_repro.cli.common import fail

        fail(f"cannot list '{what}'; choose experiments, presets or pipelines")


RECORDS = Path("results")
"""The committed mini records: the headline table puts a run in another `--results` root beside
them."""


@app.command(rich_help_panel="Reproduce")
@handle_errors
def report(
    results: Path = typer.Option(Path("results"), "--results", help="results root"),
    out: Path = typer.Option(Path("reports"), "--out", help="reports folder"),
) -> None:
    """Write the shared report (reports/<paper>.md + PNG) from the result JSONs."""
    register_experiments()
    from thunlp_repro.shared.reporting.report import write_report

    for path in write_report(results, out, record_root=RECORDS):
        typer.echo(str(path))


@app.command("reproduce-all", rich_help_panel="Reproduce")
@handle_errors
def reproduce_all(
    profile: str = typer.Option(
        "quick", "--profile", help="quick (headlines retrained, ~30 min) | full (mini) | paper"
    ),
    paper: list[str] | None = typer.Option(None, "--paper", help="only these papers (repeat)"),
    only: list[str] | None = typer.Option(None, "--only", help="only this experiment (repeat)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the plan, run nothing"),
    overwrite: bool = typer.Option(False, "--overwrite", help="rerun experiments with results"),
    results: Path = typer.Option(Path("results"), "--results", help="results root"),
    out: Path = typer.Option(Path("reports"), "--out", help="reports folder"),
) -> None:
    """Run a profile's experiments in dependency order (skipping finished ones), then report."""
    register_experiments()
    from thunlp_repro.shared.experiments import execute, format_plan, plan
    from thunlp_repro.shared.reporting.report import write_report

    nodes = plan(profile, paper, only, overwrite=overwrite, root=results)
    typer.echo(format_plan(nodes, profile))
    if dry_run:
        return
    for key, status in execute(nodes, profile, overwrite=overwrite, echo=typer.echo):
        typer.echo(f"{key}: {status}")
    for path in write_report(results, out, record_root=RECORDS):
        typer.echo(str(path))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
