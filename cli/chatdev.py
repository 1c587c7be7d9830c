"""`thunlp-repro chatdev`: run a project, serve the local model, replay a project.

Module level imports only typer, the standard library and `cli.common`; the engine (and
`openai`) load inside the commands, so `thunlp-repro --help` stays fast.

Reproduces: chatdev.md §2.19 (CLI); the engine issue's `run`, `serve`, `replay`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from thunlp_repro.cli.common import (
    OverwriteOpt,
    PresetOpt,
    SetOpt,
    existing_path,
    handle_errors,
    setup_logging,
)

app = typer.Typer(
    help="ChatDev: communicative agents that write software (run, serve, replay).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _live_view(quiet: bool):
    """Print which phase and role is speaking, test verdicts and the final status (stderr)."""

    def show(event: dict[str, Any]) -> None:
        if quiet:
            return
        kind = event.get("event")
        where = event.get("phase") or ""
        if event.get("loop"):
            where = f"{event['loop']} #{event['cycle']} {where}"
        if kind == "item_start":
            typer.echo(f"== {event['item']}", err=True)
        elif kind == "speak":
            typer.echo(
                f"   [{where}] {event['speaker']} ({event['role']}) is speaking...", err=True
            )
        elif kind == "sandbox":
            result = event.get("result") or {}
            extra = f" ({result.get('error_type')})" if result.get("error_type") else ""
            typer.echo(f"   test run: {event['verdict']}{extra}", err=True)
        elif kind == "reflection":
            typer.echo(f"   reflection on {event['phase']}: {event.get('conclusion')}", err=True)
        elif kind == "format_failure":
            typer.echo(f"   {event['phase']}: no usable code ({event['problem']})", err=True)
        elif kind == "local_server":
            typer.echo(f"starting local llama.cpp server ({event['model']})...", err=True)
        elif kind == "chain_end":
            reason = f": {event['reason']}" if event.get("reason") else ""
            typer.echo(f"status: {event['status']}{reason}", err=True)

    return show


@app.command()
@handle_errors
def run(
    task: str = typer.Option(..., "--task", "-t", help="the customer's requirement"),
    name: str = typer.Option(..., "--name", "-n", help="project name (folder runs/chatdev/NAME)"),
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        callback=existing_path,
        help="company: a native YAML file or an official CompanyConfig folder (JSON trio)",
    ),  # fmt: skip
    local: bool = typer.Option(False, "--local", help="start a local llama.cpp server for the run"),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL"),
    model: str | None = typer.Option(None, "--model", "-m", help="model (Azure: deployment)"),
    provider: str | None = typer.Option(None, "--provider", help="openai | azure"),
    no_dehallucination: bool = typer.Option(
        False, "--no-dehallucination", help="turn communicative dehallucination off (\\CDH)"
    ),
    until: str | None = typer.Option(None, "--until", help="stop after this chain item"),
    no_roles: bool = typer.Option(False, "--no-roles", help="remove role prompts (\\Roles)"),
    git: bool = typer.Option(False, "--git", help="commit the code after every phase"),
    incremental: Path | None = typer.Option(
        None, "--incremental", callback=existing_path, help="continue from an existing code folder"
    ),
    preset: str = PresetOpt,
    settings: Path | None = typer.Option(
        None, "--settings", callback=existing_path, help="engine YAML layered over the preset"
    ),
    sets: list[str] | None = SetOpt,
    protocol: str = typer.Option("paper", "--protocol", help="paper | repo"),
    out: Path | None = typer.Option(None, "--out", help="replaces runs/chatdev/ as the root"),
    overwrite: bool = OverwriteOpt,
    allow_install: bool = typer.Option(
        False, "--allow-install", help="install requirements into a per-project venv for tests"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no live view"),
) -> None:
    """Run the chat chain on one task; prints the project folder's path at the end."""
    import sys

    from thunlp_repro.chatdev.config import load_chatdev_config
    from thunlp_repro.chatdev.pipeline import run_project
    from thunlp_repro.shared.errors import UsageError

    setup_logging("WARNING")
    if local and base_url:
        raise UsageError("--local and --base-url exclude each other; pick one")
    flags: list[str] = []
    if local:
        flags.append("llm.backend=local")
        if model:
            flags += [f"llm.local_model={model}", f"llm.model={model}"]
    elif base_url:
        flags += ["llm.backend=openai", f"llm.base_url={base_url}"]
    if model and not local:
        flags.append(f"llm.model={model}")
    if provider:
        flags.append(f"llm.provider={provider}")
    if no_dehallucination:
        flags.append("protocol.cdh.enabled=false")
    if until:
        flags.append(f"protocol.until={until}")
    if no_roles:
        flags.append("protocol.roles_in_prompts=false")
    if git:
        flags.append("project.git=true")
    if config is not None:
        flags.append(f"project.company={config}")
    if allow_install:
        flags.append("sandbox.install=venv")
    cfg, _ = load_chatdev_config(
        preset, str(settings) if settings else None, [*(sets or []), *flags], protocol
    )
    if local and cfg.llm.model != cfg.llm.local_model and not model:
        cfg.llm.model = cfg.llm.local_model  # the server's alias is the asset id
    result = run_project(
        task, name=name, cfg=cfg, root=out, overwrite=overwrite,
        incremental=incremental, on_event=_live_view(quiet), argv=sys.argv, preset=preset,
    )  # fmt: skip
    typer.echo(str(result.path))
    if result.status != "done":
        raise typer.Exit(1)


@app.command()
@handle_errors
def serve(
    model: str = typer.Option(
        "qwen-coder-1.5b", "--model", "-m", help="asset id (qwen-coder-1.5b | smollm2-135m) or GGUF"
    ),
    port: int = typer.Option(8000, "--port", help="port on 127.0.0.1 (0 = any free port)"),
    n_ctx: int = typer.Option(16384, "--n-ctx", help="context window"),
    threads: int = typer.Option(2, "--threads", help="CPU threads"),
) -> None:
    """Start llama-cpp-python's OpenAI-compatible server with an offline GGUF (Ctrl-C stops)."""
    from thunlp_repro.chatdev.local_server import LocalServer

    server = LocalServer(model, port=port or None, n_ctx=n_ctx, n_threads=threads)
    server.start()
    typer.echo(f"serving {server.alias} at {server.base_url}  (model name: {server.alias})")
    typer.echo(
        f"use: thunlp-repro chatdev run --base-url {server.base_url} --model {server.alias} ..."
    )
    try:
        while server.proc is not None and server.proc.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@app.command()
@handle_errors
def replay(
    project_dir: Path = typer.Argument(..., callback=existing_path, help="a recorded project"),
    out: Path | None = typer.Option(None, "--out", help="output folder (default PROJECT-replay)"),
    overwrite: bool = OverwriteOpt,
    rerun_tests: bool = typer.Option(
        False, "--rerun-tests", help="run the programs again instead of the recorded verdicts"
    ),
    lenient: bool = typer.Option(False, "--lenient", help="match requests by hash, any order"),
    quiet: bool = typer.Option(True, "--quiet/--verbose", help="live view off/on"),
) -> None:
    """Re-run a project from its transcript with no LLM; checks the files are identical."""
    from thunlp_repro.chatdev.pipeline import replay_project

    setup_logging("WARNING")
    done = replay_project(
        project_dir, out=out, overwrite=overwrite, rerun_tests=rerun_tests,
        mode="lenient" if lenient else "strict", on_event=_live_view(quiet),
    )  # fmt: skip
    if done.identical:
        typer.echo(f"identical: {done.llm_calls} recorded responses replayed, no LLM calls",
                   err=True)  # fmt: skip
    else:
        typer.echo("files differ: " + ", ".join(done.differences), err=True)
    typer.echo(str(done.result.path))
    if not done.identical or done.result.status != done.result.meta.get("status"):
        raise typer.Exit(1)
