"""`thunlp-repro tasks`: the shared task registry from the command line.

`list` shows every registered task (mini and paper scale), `card NAME` prints a task's data card
(provenance, per-split counts, majority rates, and for the synthetic tasks the surface baselines
and the hypothesis-only result), and `check NAME` runs the MiniLM-L6 hypothesis-only check of a
synthetic task and stores it where the data card finds it.

Reproduces: prompt_transfer.md §4.2 (task table; "Hypothesis-only check": second text alone,
within chance + 10 points, recorded in the data card); offline-assets.md "Task ids used by every
pipeline". Importing this module imports no torch.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from thunlp_repro.cli.common import fail, handle_errors

app = typer.Typer(
    help="The task registry: list tasks, print a data card, run the hypothesis-only check.",
    no_args_is_help=True,
)

SCALES = ("mini", "paper", "all")


@app.command("list")
@handle_errors
def list_tasks(
    scale: str = typer.Option("all", "--scale", help="mini | paper | all"),
) -> None:
    """One line per task: name, scale, family, classes -> label words, train/dev/test sizes."""
    from thunlp_repro.shared.tasks import TASKS

    if scale not in SCALES:
        fail(f"unknown --scale '{scale}'; choose {', '.join(SCALES)}")
    for key in TASKS.keys():
        task = TASKS.get(key)
        if scale != "all" and task.scale != scale:
            continue
        sizes = "/".join(str(n) for n in task.split_sizes)
        words = ",".join(task.label_words)
        typer.echo(f"{task.display_name}\t{task.scale}\t{task.family}\t{words}\t{sizes}")


@app.command("card")
@handle_errors
def card(
    name: str = typer.Argument(..., help="task name (thunlp-repro tasks list)"),
    split_seed: int = typer.Option(13, "--split-seed", help="split seed"),
    baselines: bool = typer.Option(
        True, "--baselines/--no-baselines", help="bag-of-words surface baselines (synthetic)"
    ),
    out: Path = typer.Option(None, "--json", help="also write the card to this JSON file"),
) -> None:
    """Print a task's data card (builds its splits on first use; mini tasks need their assets)."""
    from thunlp_repro.shared.io import atomic_write_json
    from thunlp_repro.shared.tasks import data_card

    result = data_card(name, split_seed, baselines=baselines)
    typer.echo(json.dumps(result, indent=1, sort_keys=True))
    if out is not None:
        atomic_write_json(out, result)


@app.command("check")
@handle_errors
def check(
    name: str = typer.Argument(..., help="a synthetic task: nli-news, nli-dialog, para-news, ..."),
    split_seed: int = typer.Option(13, "--split-seed", help="split seed"),
    epochs: int = typer.Option(4, "--epochs", help="fine-tuning epochs (best dev epoch kept)"),
    device: str = typer.Option(None, "--device", help="cpu | cuda (default: cuda if available)"),
) -> None:
    """Hypothesis-only check: fine-tune MiniLM-L6 on the second text alone; exit 1 if the test
    accuracy exceeds chance + 10 points (the generator then needs fixing)."""
    from thunlp_repro.shared.tasks import get_task
    from thunlp_repro.shared.tasks.hypcheck import check_task, result_path

    task = get_task(name)
    if not task.synthetic:
        fail(f"'{name}' is not a synthetic task; the check applies to synthetic pair tasks")
    result = check_task(name, split_seed, epochs=epochs, device=device)
    verdict = "PASS" if result["passes"] else "FAIL"
    typer.echo(
        f"{task.display_name}: second-text-only test accuracy {result['test_accuracy']:.3f} "
        f"(chance {result['chance']:.3f}, limit {result['limit']:.3f}) {verdict}"
    )
    typer.echo(str(result_path(name, split_seed)))
    if not result["passes"]:
        raise typer.Exit(1)
