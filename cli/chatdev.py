"""`thunlp-repro chatdev`: run, serve, replay, view, batch, eval, pairwise (win rates), report,
sandbox-check, build-memory (experiential co-learning memory from earlier runs).

Module level imports only typer, the standard library and `cli.common`; the engine (and
`openai`) load inside the commands, so `thunlp-repro --help` stays fast.

Reproduces: chatdev.md §2.19 (CLI); the engine issue's `run`, `serve`, `replay`; §2.16 win
rates (`pairwise`); §2.15 (`--human review`, `--human-input`); ECL (Qian et al. 2023) memory
(`build-memory`, `--memory`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from thunlp_repro.cli.common import (
    DryRunOpt,
    OverwriteOpt,
    PresetOpt,
    SetOpt,
    existing_path,
    handle_errors,
    setup_logging,
)

app = typer.Typer(
    help="ChatDev: agents that write software (run, serve, replay, batch, eval, pairwise, report).",
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
        elif kind == "human_finished":
            typer.echo("   human review finished", err=True)
        elif kind == "image":
            typer.echo(f"   picture {event['name']}: {event.get('description')}", err=True)
        elif kind == "local_server":
            typer.echo(f"starting local llama.cpp server ({event['model']})...", err=True)
        elif kind == "chain_end":
            reason = f": {event['reason']}" if event.get("reason") else ""
            typer.echo(f"status: {event['status']}{reason}", err=True)

    return show


def switch_overrides(
    local: bool,
    base_url: str | None,
    model: str | None,
    no_dehallucination: bool,
    until: str | None,
    no_roles: bool,
) -> list[str]:
    """The backend and ablation switches of `run` and `batch` as `--set` overrides."""
    from thunlp_repro.shared.errors import UsageError

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
    if no_dehallucination:
        flags.append("protocol.cdh.enabled=false")
    if until:
        flags.append(f"protocol.until={until}")
    if no_roles:
        flags.append("protocol.roles_in_prompts=false")
    return flags


def human_overrides(human: str | None, human_input: Path | None) -> list[str]:
    """`--human` and `--human-input` as `--set` overrides."""
    from thunlp_repro.shared.errors import UsageError

    flags: list[str] = []
    if human is not None:
        if human != "review":
            raise UsageError(f"--human {human}: expected review (the code review by you)")
        flags.append("human.review=true")
    if human_input is not None:
        flags.append(f"human.input_file={human_input}")
    return flags


UnsafeSandboxOpt = typer.Option(
    False, "--unsafe-sandbox",
    help="run generated programs unisolated (as you) when no namespace sandbox works",
)  # fmt: skip


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
    human: str | None = typer.Option(
        None, "--human", help="review: you review the code in the terminal after CodeReview"
    ),
    human_input: Path | None = typer.Option(
        None,
        "--human-input",
        callback=existing_path,
        help="scripted human answers, typed as on the console (an empty line submits one)",
    ),  # fmt: skip
    memory: Path | None = typer.Option(
        None,
        "--memory",
        callback=existing_path,
        help="experience memory from earlier runs (chatdev build-memory); needed by with_memory",
    ),  # fmt: skip
    images_base_url: str | None = typer.Option(
        None,
        "--images-base-url",
        help="OpenAI-compatible images endpoint for the Art phases ('llm' = the LLM's server)",
    ),  # fmt: skip
    preset: str = PresetOpt,
    settings: Path | None = typer.Option(
        None, "--settings", callback=existing_path, help="engine YAML layered over the preset"
    ),
    sets: list[str] | None = SetOpt,
    protocol: str = typer.Option("paper", "--protocol", help="paper | repo"),
    out: Path | None = typer.Option(None, "--out", help="replaces runs/chatdev/ as the root"),
    org: str = typer.Option(
        "DefaultOrganization", "--org", help="organisation: WareHouse/NAME_ORG_TIMESTAMP"
    ),
    warehouse: Path | None = typer.Option(
        None, "--warehouse", help="WareHouse root (default: WareHouse/ beside the project folder)"
    ),
    overwrite: bool = OverwriteOpt,
    allow_install: bool = typer.Option(
        False, "--allow-install", help="install requirements into a per-project venv for tests"
    ),
    unsafe_sandbox: bool = UnsafeSandboxOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no live view"),
    dry_run: bool = DryRunOpt,
) -> None:
    """Run the chat chain on one task; prints the project folder's path at the end."""
    import sys

    from thunlp_repro.chatdev.config import load_chatdev_config
    from thunlp_repro.chatdev.pipeline import run_project

    setup_logging("WARNING")
    flags = switch_overrides(local, base_url, model, no_dehallucination, until, no_roles)
    if provider:
        flags.append(f"llm.provider={provider}")
    if git:
        flags.append("project.git=true")
    if config is not None:
        flags.append(f"project.company={config}")
    if allow_install:
        flags.append("sandbox.install=venv")
    if unsafe_sandbox:
        flags.append("sandbox.unsafe=true")
    flags += human_overrides(human, human_input)
    if memory is not None:
        flags.append(f"memory.path={memory}")
    if images_base_url:
        flags.append(f"images.base_url={images_base_url}")
    cfg, _ = load_chatdev_config(
        preset, str(settings) if settings else None, [*(sets or []), *flags], protocol
    )
    if local and cfg.llm.model != cfg.llm.local_model and not model:
        cfg.llm.model = cfg.llm.local_model  # the server's alias is the asset id
    if dry_run:
        from thunlp_repro.chatdev.dryrun import chatdev_plan

        typer.echo(
            chatdev_plan(
                cfg, preset, single_task=task, command=f"thunlp-repro chatdev run --preset {preset}"
            ).render()
        )
        return
    result = run_project(
        task, name=name, cfg=cfg, root=out, overwrite=overwrite,
        incremental=incremental, on_event=_live_view(quiet), argv=sys.argv, preset=preset,
        org=org, warehouse=warehouse,
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


@app.command()
@handle_errors
def view(
    run_dir: Path = typer.Argument(..., help="a project (run) folder"),
    out: Path | None = typer.Option(None, "--out", "-o", help="HTML file (default RUN/view.html)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing HTML file"),
) -> None:
    """Write one self-contained HTML page that replays the run phase by phase."""
    from thunlp_repro.chatdev.viewer import write_view

    setup_logging("WARNING")
    typer.echo(str(write_view(run_dir, out, overwrite=overwrite)))


# ------------------------------------------------------------------------------ evaluation
def _parse_variants(variant: str) -> tuple[str, ...]:
    from thunlp_repro.shared.errors import UsageError

    if variant == "both":
        return ("compatible", "strict")
    if variant not in ("compatible", "strict"):
        raise UsageError(f"--variant {variant}: expected compatible | strict | both")
    return (variant,)


def _fmt(x: Any) -> str:
    return "—" if x is None else f"{x:.4f}" if isinstance(x, float) else str(x)


@app.command("eval")
@handle_errors
def eval_(
    projects: list[Path] = typer.Argument(
        ..., help="project folders (ours, a repo WareHouse folder, or any folder of code)"
    ),
    variant: str = typer.Option("strict", "--variant", help="compatible | strict | both (shown)"),
    json_out: Path | None = typer.Option(
        None, "--json", help="write every project's values in both variants to this file"
    ),
    embedder: str = typer.Option(
        "minilm-l6", "--embedder", help="minilm-l6 | mpnet-base | openai:MODEL | hash | a folder"
    ),
    embed_base_url: str | None = typer.Option(
        None, "--embed-base-url", help="OpenAI-compatible embeddings endpoint"
    ),
    timeout_s: float = typer.Option(10.0, "--timeout-s", help="strict run time limit"),
    unsafe_sandbox: bool = UnsafeSandboxOpt,
) -> None:
    """Completeness, Executability, Consistency and Quality of project folders (ChatDev §4)."""
    from thunlp_repro.chatdev.embedders import build_embedder
    from thunlp_repro.chatdev.evaluate import EvalError, aggregate, evaluate_project
    from thunlp_repro.chatdev.sandbox import SandboxSettings
    from thunlp_repro.shared import io
    from thunlp_repro.shared.reporting.tables import markdown_table

    setup_logging("WARNING")
    shown = _parse_variants(variant)
    variants = ("compatible", "strict") if json_out else shown
    model = build_embedder(embedder, embed_base_url)
    records, failed = [], []
    for path in projects:
        try:
            records.append(
                evaluate_project(
                    path,
                    embedder=model,
                    variants=variants,
                    sandbox=SandboxSettings(timeout_s=timeout_s, unsafe=unsafe_sandbox),
                )
            )
        except EvalError as exc:
            failed.append(str(exc))
            records.append({"project": str(path), "error": str(exc)})
            typer.echo(f"error: {exc}", err=True)
    rows = []
    for r in records:
        for v in shown:
            if isinstance(r.get(v), dict):
                x = r[v]
                rows.append(
                    [
                        r.get("name"),
                        v,
                        *(
                            _fmt(x[m])
                            for m in ("completeness", "executability", "consistency", "quality")
                        ),
                    ]
                )
    typer.echo(markdown_table(["project", "variant", "completeness", "executability",
                               "consistency", "quality"], rows))  # fmt: skip
    for v in shown:
        agg = aggregate(records, v)
        if agg["n"]:
            typer.echo(
                f"\n{v} (n={agg['n']}, embedder {model.name}): completeness "
                f"{_fmt(agg['completeness']['mean'])}, executability "
                f"{_fmt(agg['executability']['mean'])}, consistency "
                f"{_fmt(agg['consistency']['mean'])}, quality "
                f"{_fmt(agg['quality_product_of_means'])}"
                f" (product of means) / {_fmt(agg['quality_mean_of_products']['mean'])} (mean of "
                "products)"
            )
    if json_out:
        io.atomic_write_json(
            json_out,
            {
                "embedder": model.name,
                "projects": records,
                "aggregate": {v: aggregate(records, v) for v in variants},
            },
        )
        typer.echo(f"wrote {json_out}", err=True)
    if failed:
        raise typer.Exit(1)


@app.command()
@handle_errors
def batch(
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="batch folder (one sub-folder per task); required unless --dry-run",
    ),
    srdd: str | None = typer.Option(
        None, "--srdd", help="SRDD CSV (else $SRDD_PATH, else ../shared/data/srdd/srdd.csv)"
    ),
    limit: int | None = typer.Option(
        None, "--limit", help="at most N tasks (round-robin over categories)"
    ),
    per_category: int | None = typer.Option(None, "--per-category", help="K tasks per category"),
    categories: list[str] | None = typer.Option(
        None, "--category", help="only this category (repeat)"
    ),
    tasks_file: Path | None = typer.Option(
        None, "--tasks", callback=existing_path, help="file of task ids or names, one a line"
    ),
    seed: int = typer.Option(0, "--seed", help="sampling seed"),
    concurrency: int = typer.Option(1, "--concurrency", "-j", help="tasks at once"),
    task_timeout_s: float | None = typer.Option(
        None, "--task-timeout-s", help="per task (default 1200 local, 1800 remote)"
    ),
    resume: bool = typer.Option(False, "--resume", help="continue an existing batch folder"),
    overwrite: bool = OverwriteOpt,
    retry_failed: bool = typer.Option(False, "--retry-failed", help="rerun error/timeout tasks"),
    local: bool = typer.Option(False, "--local", help="one local llama.cpp server for the batch"),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL"),
    model: str | None = typer.Option(None, "--model", "-m", help="model (Azure: deployment)"),
    until: str | None = typer.Option(
        None, "--until", help="Coding | CodeCompleteAll | CodeReview | Test (Table 4)"
    ),
    no_dehallucination: bool = typer.Option(False, "--no-dehallucination", help="\\CDH"),
    no_roles: bool = typer.Option(False, "--no-roles", help="\\Roles"),
    preset: str = PresetOpt,
    sets: list[str] | None = SetOpt,
    protocol: str = typer.Option("paper", "--protocol", help="paper | repo"),
    variant: str = typer.Option(
        "both", "--variant", help="metric variants: both | compatible | strict"
    ),
    embedder: str = typer.Option("minilm-l6", "--embedder", help="consistency embedder"),
    embed_base_url: str | None = typer.Option(None, "--embed-base-url", help="embeddings URL"),
    no_eval: bool = typer.Option(False, "--no-eval", help="run only, do not score"),
    org: str = typer.Option(
        "DefaultOrganization",
        "--org",
        help="organisation of OUT/WareHouse/NAME_ORG_TIMESTAMP ({category} = the SRDD category)",
    ),
    unsafe_sandbox: bool = UnsafeSandboxOpt,
    summarise: bool = typer.Option(
        False, "--summarise", help="only (re)write the aggregate of an existing batch folder"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress lines"),
    dry_run: bool = DryRunOpt,
) -> None:
    """Run SRDD tasks with bounded concurrency (resumable), score them, write the aggregate."""
    import sys

    from thunlp_repro.chatdev.batch import BatchOptions, run_batch
    from thunlp_repro.chatdev.config import load_chatdev_config
    from thunlp_repro.chatdev.report import ablation_label

    setup_logging("WARNING")
    if out is None and not dry_run:
        from thunlp_repro.shared.errors import UsageError

        raise UsageError("batch needs --out DIR (the batch folder)")
    flags = switch_overrides(local, base_url, model, no_dehallucination, until, no_roles)
    if unsafe_sandbox:
        flags.append("sandbox.unsafe=true")
    if summarise:
        from thunlp_repro.chatdev.batch import summarise_batch

        summarise_batch(out, BatchOptions(variants=_parse_variants(variant), embedder=embedder,
                                          embed_base_url=embed_base_url))  # fmt: skip
        typer.echo((out / "summary.md").read_text(encoding="utf-8"))
        return
    cfg, _ = load_chatdev_config(preset, None, [*(sets or []), *flags], protocol)
    if cfg.llm.backend == "local" and cfg.llm.model != cfg.llm.local_model and not model:
        cfg.llm.model = cfg.llm.local_model
    if dry_run:
        from thunlp_repro.chatdev.dryrun import chatdev_plan

        typer.echo(chatdev_plan(
            cfg, preset, command=f"thunlp-repro chatdev batch --preset {preset}", srdd=srdd,
            limit=limit, per_category=per_category, seed=seed, categories=categories,
            embedder=None if no_eval else embedder, concurrency=concurrency,
        ).render())  # fmt: skip
        return
    tasks, info = None, None
    if not (resume and (out / "batch.json").is_file()):
        from thunlp_repro.shared.srdd import load_srdd, select, srdd_info

        ids = None
        if tasks_file is not None:
            ids = [ln.split()[0] for ln in tasks_file.read_text(encoding="utf-8").splitlines()
                   if ln.strip() and not ln.startswith("#")]  # fmt: skip
        tasks = select(load_srdd(srdd), limit, per_category, seed, categories=categories,
                       ids=ids)  # fmt: skip
        info = srdd_info(srdd)
    timeout = task_timeout_s or (1200.0 if cfg.llm.backend == "local" else 1800.0)
    options = BatchOptions(
        concurrency=concurrency, task_timeout_s=timeout, variants=_parse_variants(variant),
        embedder=embedder, embed_base_url=embed_base_url, evaluate=not no_eval, org=org,
        retry_failed=retry_failed, eval_timeout_s=cfg.sandbox.timeout_s,
        unsafe_sandbox=cfg.sandbox.unsafe,
        label=ablation_label(cfg.protocol.until, cfg.protocol.cdh.enabled,
                             cfg.protocol.roles_in_prompts),
    )  # fmt: skip

    def progress(event: dict[str, Any]) -> None:
        if quiet:
            return
        kind = event["event"]
        if kind == "task_start":
            typer.echo(f"start {event['task_id']}", err=True)
        elif kind == "task_end":
            typer.echo(f"[{event['done']}/{event['total']}] {event['task_id']}: "
                       f"{event['status']} ({event['seconds']} s)", err=True)  # fmt: skip
        elif kind in ("skip", "timeout", "moved"):
            typer.echo(f"{kind} {event['task_id']}", err=True)
        elif kind == "server":
            typer.echo(f"local server {event['model']} at {event['base_url']}", err=True)

    done = run_batch(
        tasks,
        out=out,
        cfg=cfg,
        options=options,
        preset=preset,
        srdd=info,
        resume=resume,
        overwrite=overwrite,
        argv=sys.argv,
        on_event=progress,
    )
    typer.echo((out / "summary.md").read_text(encoding="utf-8"))
    typer.echo(f"ran {len(done.ran)}, skipped {len(done.skipped)} (finished earlier), "
               f"timed out {len(done.timed_out)}; folder {out}", err=True)  # fmt: skip


def _label(folder: Path, other: Path) -> str:
    """A side's default display name: its folder name (with the parent when both match)."""
    return folder.name if folder.name != other.name else f"{folder.parent.name}/{folder.name}"


@app.command()
@handle_errors
def pairwise(
    a_dir: Path = typer.Argument(..., help="side A: a project folder or a batch folder (ChatDev)"),
    b_dir: Path = typer.Argument(..., help="side B, same kind as A_DIR (e.g. the baseline)"),
    judge: str = typer.Option(
        ..., "--judge", "-j", help="judge model (paper: GPT-4); with --local an asset id or GGUF"
    ),
    local: bool = typer.Option(False, "--local", help="judge with a local llama.cpp server"),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL"),
    provider: str | None = typer.Option(None, "--provider", help="openai | azure"),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="pairwise.json path (default A_DIR/pairwise-vs-<B_DIR>.json)"
    ),
    label_a: str | None = typer.Option(None, "--label-a", help="name of side A in the tables"),
    label_b: str | None = typer.Option(None, "--label-b", help="name of side B in the tables"),
    limit: int | None = typer.Option(
        None, "--limit", help="judge at most N pairs (round-robin over categories)"
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="ask again even where OUT holds an answer"
    ),
    max_tokens: int = typer.Option(512, "--max-tokens", help="answer cap per request"),
    max_code_chars: int = typer.Option(
        12000, "--max-code-chars", help="source characters shown per project"
    ),
    max_manual_chars: int = typer.Option(
        3000, "--max-manual-chars", help="manual characters shown per project"
    ),
    preset: str | None = typer.Option(
        None,
        "--preset",
        "-p",
        help="backend settings preset (default: mini with --local, else paper)",
    ),
    sets: list[str] | None = SetOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress lines"),
) -> None:
    """Win rates (paper Table 2): an LLM judge compares A and B per task, both orders."""
    from thunlp_repro.chatdev.config import load_chatdev_config
    from thunlp_repro.chatdev.pairwise import (
        JudgeSettings,
        judge_client,
        pair_folders,
        run_pairwise,
    )
    from thunlp_repro.chatdev.report import table2_markdown

    setup_logging("WARNING")
    pair_folders(a_dir, b_dir)  # folder errors first, before a server starts
    flags = switch_overrides(local, base_url, judge, False, None, False)
    if not local and not base_url:
        flags.append("llm.backend=openai")  # the mini preset's default backend is local
    if provider:
        flags.append(f"llm.provider={provider}")
    cfg, _ = load_chatdev_config(preset or ("mini" if local else "paper"), None,
                                 [*(sets or []), *flags], "paper")  # fmt: skip
    # a local server answers to its alias: the asset id, or a GGUF file's stem
    model = Path(judge).stem if local and judge.endswith(".gguf") else judge
    settings = JudgeSettings(model=model, max_tokens=max_tokens, seed=cfg.llm.seed,
                             max_code_chars=max_code_chars,
                             max_manual_chars=max_manual_chars)  # fmt: skip
    target = out or a_dir / f"pairwise-vs-{b_dir.name}.json"
    labels = (label_a or _label(a_dir, b_dir), label_b or _label(b_dir, a_dir))

    def progress(event: dict[str, Any]) -> None:
        if quiet:
            return
        what = event["error"] or f"{event['outcome']} ({event['reason']})"
        cached = "" if event["asked"] == 2 else f", {2 - event['asked']} answer(s) reused"
        typer.echo(f"[{event['done']}/{event['total']}] {event['task_id']}: {what}{cached}",
                   err=True)  # fmt: skip

    with judge_client(cfg, log_dir=target.parent) as (client, info):
        done = run_pairwise(
            a_dir, b_dir, settings=settings, client=client, out=target, labels=labels,
            limit=limit, overwrite=overwrite, judge_info=info, on_event=progress,
        )  # fmt: skip
    totals = done.doc["totals"]
    typer.echo(table2_markdown([done.doc]))
    typer.echo(f"{labels[0]} wins {totals['a_wins']}, {labels[1]} wins {totals['b_wins']}, "
               f"draws {totals['draws']} of {totals['n']}; {done.asked} requests sent, "
               f"{done.reused} answers reused; wrote {target}", err=True)  # fmt: skip
    if totals["errors"]:
        typer.echo(f"{totals['errors']} task(s) not judged (see 'error' in {target}); a rerun "
                   "retries them", err=True)  # fmt: skip
        raise typer.Exit(1)


@app.command()
@handle_errors
def report(
    run_dirs: list[Path] = typer.Argument(..., help="batch folders (one per ablation row)"),
    out: Path = typer.Option(Path("reports/chatdev-run"), "--out", "-o", help="output folder"),
    export: Path | None = typer.Option(
        None, "--export", help="also copy results to EXPORT/<preset>/chatdev/<table>.json"
    ),
    pairwise_files: list[Path] | None = typer.Option(
        None, "--pairwise", help="a pairwise.json for T2 (repeat; pairwise*.json in RUN_DIRs too)"
    ),
) -> None:
    """Tables and plots for batch folders, beside the paper's Tables 1-4."""
    from thunlp_repro.chatdev.report import write_run_report

    setup_logging("WARNING")
    path = write_run_report(run_dirs, out, export_root=export, pairwise=pairwise_files)
    typer.echo(str(path))


@app.command("sandbox-check")
@handle_errors
def sandbox_check() -> None:
    """Which isolation generated programs get here (bubblewrap namespaces, or none); exit 1 if
    none works."""
    from thunlp_repro.chatdev.isolation import SandboxUnavailable, detect
    from thunlp_repro.chatdev.process_tree import Cgroup

    try:
        isolation = detect("auto")
    except SandboxUnavailable as exc:
        typer.echo(f"sandbox: none ({exc})")
        raise typer.Exit(1) from None
    group = Cgroup.create(1, 1 << 20)
    if group is not None:
        group.kill_and_remove()
    tree = "cgroup (pids, memory)" if group else "RLIMIT_NPROC + memory watchdog"
    typer.echo(f"sandbox: {isolation.name} ({isolation.detail}); tree limits: {tree}")


@app.command("build-memory")
@handle_errors
def build_memory(
    runs: list[Path] = typer.Argument(..., help="project folders, or batch folders holding them"),
    out: Path = typer.Option(..., "--out", "-o", help="the memory file to write (JSON)"),
    embedder: str = typer.Option(
        "minilm-l6", "--embedder", help="minilm-l6 | mpnet-base | openai:MODEL | hash | a folder"
    ),
    embed_base_url: str | None = typer.Option(
        None, "--embed-base-url", help="OpenAI-compatible embeddings endpoint"
    ),
    min_gain: float = typer.Option(
        0.0, "--min-gain", help="keep transitions whose quality gain exceeds this"
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing memory file"),
) -> None:
    """Mine earlier runs into an experience memory (ECL co-tracking + co-memorizing)."""
    from thunlp_repro.chatdev.memory import build_memory as _build
    from thunlp_repro.shared.errors import UsageError

    setup_logging("WARNING")
    if out.exists() and not overwrite:
        raise UsageError(f"{out} exists; pass --overwrite to replace it")
    doc = _build(list(runs), out, embedder_name=embedder, embed_base_url=embed_base_url,
                 min_gain=min_gain)  # fmt: skip
    shortcuts = sum(1 for e in doc["experiences"] if e["kind"] == "shortcut")
    typer.echo(
        f"{len(doc['experiences'])} experiences ({shortcuts} shortcuts) from "
        f"{len(doc['projects'])} project(s), embedder {doc['embedder']}",
        err=True,
    )
    typer.echo(str(out))
