"""`thunlp-repro ki`: knowledge-inheritance pre-training (ki.md §8.3).

Verbs: `pretrain` (one run: teacher, scratch baseline or KI student), `compare` (E1 KI vs
scratch; `--experiment e5|gpt`), `topk-check` (choosing k for the GPT arm's cache, §4.8),
`sweep` (E2 schedules; `--experiment e3|e4` teachers), `domain`
(E6), `downstream` (E7), `report`, `zoo build|list`, and `prepare-data` (corpus caches
before `accelerate launch`). Only typer, the standard library and
`cli.common` are imported at module level; the pipeline is imported inside the commands.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

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
    fail,
    handle_errors,
    overrides,
)

app = typer.Typer(
    help="Knowledge Inheritance (Qin et al., NAACL 2022): teacher -> student pre-training.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
zoo_app = typer.Typer(help="The KI model zoo (ki-mini-* names).", no_args_is_help=True)
app.add_typer(zoo_app, name="zoo", rich_help_panel="Utilities")

ResultsOpt = typer.Option(Path("results"), "--results", help="results root")
ExperimentOpt = typer.Option(None, "--experiment", "-e", help="experiment id (see --help)")
VariantOpt = typer.Option(
    None, "--variant", help="keep the table beside the preset's as <table>--NAME.json (a --set run)"
)


def _keep_other_tables(target: Path, given: dict) -> None:
    """A table is rebuilt from its cached runs freely, but not replaced by one made with other
    settings: the preset's table would be lost behind a departure from it."""
    from thunlp_repro.ki.runs import settings_flags
    from thunlp_repro.shared.io import read_json

    if not target.is_file():
        return
    stored = read_json(target).get("meta", {}).get("user_settings", {})
    if stored != given:
        show = [settings_flags(s) or "the preset as shipped" for s in (stored, given)]
        fail(f"{target} holds a table made with {show[0]}, not {show[1]}; pass --variant "
             "NAME (or --results DIR) to keep both")  # fmt: skip


def _experiment(preset: str, table: str, results: Path, overwrite: bool, config: Path | None,
                set_: list[str] | None, variant: str | None,
                runner: Callable | None = None, dry_run: str = "",
                parts: list[str] | None = None) -> Path | None:  # fmt: skip
    import re

    if dry_run:  # the verb's command line; print the plan (ki.md §3), train nothing
        from thunlp_repro.ki.dryrun import ki_plan

        typer.echo(ki_plan(preset, table, config, set_, parts, dry_run).render())
        return None
    from thunlp_repro.ki import experiments as ex
    from thunlp_repro.ki import runs
    from thunlp_repro.shared.experiments import results_file

    if variant is not None and not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,47}", variant):
        fail(f"--variant must be a short lower-case name ([a-z0-9._-], up to 48), got {variant!r}")
    # a variant sits beside the preset's table, and the report lists it under "Variants"
    target = results_file(preset, "ki", f"{table}--{variant}" if variant else table, results)
    with runs.user_settings(config, set_ or []):
        runs.make_cfg(preset)  # a bad key or value fails here, before any training
        if not overwrite:
            _keep_other_tables(target, runs.settings_meta().get("user_settings", {}))
        (runner or ex.RUNNERS[table])(preset, target, overwrite)
    typer.echo(str(target))
    return target


def _line(dry_run: bool, verb: str, preset: str, experiment: str | None = None) -> str:
    """The command a dry run describes ("" when not a dry run)."""
    if not dry_run:
        return ""
    return f"thunlp-repro ki {verb} --preset {preset}" + (f" -e {experiment}" if experiment else "")


@app.command(rich_help_panel="Train")
@handle_errors
def pretrain(
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
    """One pre-training run: a teacher or scratch baseline (ki.schedule=none) or a KI student."""
    if dry_run:
        from thunlp_repro.ki.dryrun import ki_plan

        typer.echo(
            ki_plan(
                preset,
                None,
                config,
                set_,
                seed=seed,
                command=f"thunlp-repro ki pretrain --preset {preset}",
            ).render()
        )
        return
    from thunlp_repro.ki.config import KIConfig
    from thunlp_repro.ki.pipeline import run_pretrain
    from thunlp_repro.shared.config import load_config
    from thunlp_repro.shared.rundir import RunDir

    cfg, _ = load_config(KIConfig, pipeline="ki", preset=preset, config_file=config,
                         overrides=overrides(set_, seed))  # fmt: skip
    run = RunDir.start("ki", cfg, name, run_dir=run_dir, resume=resume is not None,
                       overwrite=overwrite)  # fmt: skip
    m = run_pretrain(cfg, run, resume=resume, preset=preset)
    teacher = "" if m["teacher_ppl"] is None else f" (teacher {m['teacher_ppl']:.2f})"
    typer.echo(f"final validation PPL {m['final_ppl']:.2f}{teacher}; "
               f"FLOPs {m['flops_total']:.3e} ({m['flops_teacher']:.3e} teacher)")  # fmt: skip
    typer.echo(str(run.path))


@app.command(rich_help_panel="Reproduce")
@handle_errors
def compare(
    preset: str = PresetOpt,
    config: Path | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
    resume: str | None = ResumeOpt,
    experiment: str | None = ExperimentOpt,
    results: Path = ResultsOpt,
    variant: str | None = VariantOpt,
    overwrite: bool = OverwriteOpt,
    dry_run: bool = DryRunOpt,
) -> None:
    """E1 KI vs scratch over the preset's seeds (`-e e5`: generations; `-e gpt`: GPT arm)."""
    table = {None: "e1-ki-vs-scratch", "e1": "e1-ki-vs-scratch", "e5": "e5-generations",
             "gpt": "gpt"}.get(experiment)  # fmt: skip
    if table is None:
        fail(f"compare --experiment must be e1, e5 or gpt, got {experiment}")
    _experiment(preset, table, results, overwrite, config, set_, variant,
                dry_run=_line(dry_run, "compare", preset, experiment))  # fmt: skip


@app.command("topk-check", rich_help_panel="Evaluate")
@handle_errors
def topk_check(
    preset: str = typer.Option("mini-gpt", "--preset", "-p", help="a causal preset"),
    config: Path | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
    seed: int | None = SeedOpt,
    student: list[str] | None = typer.Option(
        None, "--student", help="checkpoint(s) to check besides a fresh student (folder or run)"
    ),
    out: Path | None = typer.Option(None, "--out", help="also write the numbers as JSON here"),
) -> None:
    """Choosing k (ki.md §4.8): tail mass and KL_k/KL_full on held-out sequences per k."""
    from thunlp_repro.ki.config import KIConfig
    from thunlp_repro.ki.gpt_arm import run_topk_check
    from thunlp_repro.shared.config import load_config
    from thunlp_repro.shared.io import atomic_write_json

    cfg, _ = load_config(KIConfig, pipeline="ki", preset=preset, config_file=config,
                         overrides=overrides(set_, seed))  # fmt: skip
    if cfg.objective != "causal":
        fail(f"topk-check needs a causal preset (mini-gpt, smoke-gpt); {preset} is "
             f"{cfg.objective}")  # fmt: skip
    students: dict[str, str | None] = {"init": None}
    students.update({s: s for s in student or []})
    res = run_topk_check(cfg, students)
    typer.echo("student\tk\ttail mass\tKL_k/KL_full\t(fp32 logits)")
    for name, check in res["checks"].items():
        for row in check["rows"]:
            typer.echo(f"{name}\t{row['k']}\t{row['tail_mass']:.4f}\t{row['ratio']:.4f}\t"
                       f"{row['ratio_fp32']:.4f}")  # fmt: skip
    typer.echo(f"smallest k with ratio >= 0.9 everywhere: {res['chosen_k']} "
               f"(configured {res['configured_k']})")  # fmt: skip
    if out is not None:
        atomic_write_json(out, res)
        typer.echo(str(out))


@app.command(rich_help_panel="Reproduce")
@handle_errors
def sweep(
    preset: str = PresetOpt,
    config: Path | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
    resume: str | None = ResumeOpt,
    experiment: str = typer.Option("e2", "--experiment", "-e", help="e2 | e3 | e4"),
    results: Path = ResultsOpt,
    variant: str | None = VariantOpt,
    overwrite: bool = OverwriteOpt,
    dry_run: bool = DryRunOpt,
) -> None:
    """E2 inheritance schedules, or the E3 / E4 teacher sweeps."""
    table = {"e2": "e2-schedule", "e3": "e3-teacher-arch", "e4": "e4-teacher-data"}.get(experiment)
    if table is None:
        fail(f"sweep --experiment must be e2, e3 or e4, got {experiment}")
    _experiment(preset, table, results, overwrite, config, set_, variant,
                dry_run=_line(dry_run, "sweep", preset, experiment))  # fmt: skip


@app.command(rich_help_panel="Reproduce")
@handle_errors
def domain(
    preset: str = PresetOpt,
    config: Path | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
    resume: str | None = ResumeOpt,
    results: Path = ResultsOpt,
    variant: str | None = VariantOpt,
    overwrite: bool = OverwriteOpt,
    dry_run: bool = DryRunOpt,
) -> None:
    """E6 domain adaptation: plain continued MLM vs KI from a domain (and a general) teacher."""
    _experiment(preset, "e6-domain", results, overwrite, config, set_, variant,
                dry_run=_line(dry_run, "domain", preset))  # fmt: skip


@app.command(rich_help_panel="Evaluate")
@handle_errors
def downstream(
    preset: str = PresetOpt,
    config: Path | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
    resume: str | None = ResumeOpt,
    results: Path = ResultsOpt,
    variant: str | None = VariantOpt,
    overwrite: bool = OverwriteOpt,
    part: list[str] | None = typer.Option(
        None, "--part", help="only these model groups: e1 (E1 arms + teacher), e5 (G3), e6"
    ),
    dry_run: bool = DryRunOpt,
) -> None:
    """E7: fine-tune the E1 and E5 students and the teacher on the preset's tasks, E6's arms on
    its domain task."""
    from functools import partial

    from thunlp_repro.ki import experiments as ex

    runner = partial(ex.run_e7, parts=part) if part else ex.run_e7
    _experiment(preset, "e7-downstream", results, overwrite, config, set_, variant, runner,
                dry_run=_line(dry_run, "downstream", preset), parts=part)  # fmt: skip


@app.command(rich_help_panel="Reproduce")
@handle_errors
def report(
    preset: str = PresetOpt,
    config: Path | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
    resume: str | None = ResumeOpt,
    results: Path = ResultsOpt,
    out: Path = typer.Option(Path("reports"), "--out", help="reports folder"),
) -> None:
    """Write the shared report (the KI section included) from the result JSONs."""
    from thunlp_repro.cli.main import register_experiments
    from thunlp_repro.shared.reporting.report import write_report

    register_experiments()  # every paper's section, as `thunlp-repro report` writes them

    for path in write_report(results, out):
        typer.echo(str(path))


@app.command("prepare-data", rich_help_panel="Utilities")
@handle_errors
def prepare_data(
    preset: str = PresetOpt,
    experiment: str | None = typer.Option(
        None, "--experiment", "-e", help="an experiment variant's corpora (e6, gpt, ...)"
    ),
) -> None:
    """Build the preset's corpus caches in one process; run it before `accelerate launch`."""
    from thunlp_repro.ki.data import prepare_corpora
    from thunlp_repro.ki.runs import make_cfg

    for line in prepare_corpora(make_cfg(preset, experiment or "")):
        typer.echo(line)


@app.command("list", rich_help_panel="Utilities")
@handle_errors
def list_() -> None:
    """Experiments, schedules and architectures of KI."""
    from thunlp_repro.ki.archs import ARCHS
    from thunlp_repro.ki.experiments import TABLES
    from thunlp_repro.ki.inheritance import SCHEDULES

    for key, desc in TABLES.items():
        typer.echo(f"experiment ki/{key}\t{desc}")
    for key in SCHEDULES.keys():
        typer.echo(f"schedule {key}\t{SCHEDULES.get(key).help}")
    for key in ARCHS.keys():
        a = ARCHS.get(key)
        typer.echo(f"arch {key}\t{a.family} {a.layers}x{a.hidden} (ffn {a.ffn}, heads {a.heads})")


@zoo_app.command("list")
@handle_errors
def zoo_list() -> None:
    """Zoo entries and whether they are built."""
    from thunlp_repro.ki.zoo import ZOO, is_built, zoo_location

    for key in ZOO.keys():
        state = "built" if is_built(key) else "missing"
        typer.echo(f"{key}\t{state}\t{ZOO.get(key).description}\t{zoo_location(key)}")


@zoo_app.command("build")
@handle_errors
def zoo_build(
    preset: str = PresetOpt,
    only: list[str] | None = typer.Option(None, "--only", help="build only these names"),
) -> None:
    """Train the missing runs (cached) and install the zoo entries."""
    from thunlp_repro.ki.zoo import build

    for name, path in build(preset, only):
        typer.echo(f"{name}\t{path}")
