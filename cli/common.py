"""Options and helpers every CLI verb shares: --preset/--config/--set/--seed/--run-dir/--resume/
--overwrite, error reporting and logging set-up. Imports only typer and the standard library.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from thunlp_repro.shared.errors import ReproError

F = TypeVar("F", bound=Callable[..., Any])

PresetOpt = typer.Option("mini", "--preset", "-p", help="shipped preset: mini | paper | smoke")
ConfigOpt = typer.Option(None, "--config", "-c", help="YAML file layered over the preset")
SetOpt = typer.Option(None, "--set", "-s", help="override a key: --set train.max_steps=50 (repeat)")
SeedOpt = typer.Option(None, "--seed", help="shorthand for --set runtime.seed=N")
NameOpt = typer.Option(None, "--name", help="run name (default: <pipeline>-<time>-<sha>)")
RunDirOpt = typer.Option(
    None, "--run-dir", help="explicit run folder instead of runs/<pipeline>/<name>"
)
ResumeOpt = typer.Option(
    None, "--resume", help="continue a run: 'auto' (latest checkpoint) or a checkpoint path"
)
OverwriteOpt = typer.Option(False, "--overwrite", help="replace an existing run folder")
DryRunOpt = typer.Option(
    False, "--dry-run",
    help="print the plan (models, data, runs, steps, tokens, estimated cost; accelerate config "
    "checked, pick one with --set accelerate.config=NAME) and run nothing; never downloads",
)  # fmt: skip


def overrides(sets: list[str] | None, seed: int | None) -> list[str]:
    """The --set list with --seed folded in (seed last, so it wins)."""
    out = list(sets or [])
    if seed is not None:
        out.append(f"runtime.seed={seed}")
    return out


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error to stderr and exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn ReproError into a one-line message and its exit code (2 usage, 1 runtime)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ReproError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def setup_logging(level: str = "INFO") -> None:
    """Console logging for the project's loggers (library code never prints)."""
    root = logging.getLogger("thunlp_repro")
    if any(getattr(h, "_thunlp_console", False) for h in root.handlers):
        root.setLevel(level.upper())
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler._thunlp_console = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())


def existing_path(value: Path | None) -> Path | None:
    """Typer callback: a path that must exist."""
    if value is not None and not value.exists():
        raise typer.BadParameter(f"{value} does not exist")
    return value
