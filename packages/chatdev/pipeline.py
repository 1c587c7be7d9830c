"""Entry points: run one ChatDev project, and replay a project from its transcript.

`run_project` loads the company, opens the project folder, builds the LLM client (any
OpenAI-compatible server, a local llama.cpp server started for the run, or a given client),
runs the chain and always finishes the folder: code, docs, meta, cost and results are written
even when a budget cap, a format failure or an LLM error stops the chain.

`replay_project` re-runs a project from its `transcript.jsonl` (no LLM, no network) and its
recorded sandbox results, and compares the code trees: they must be identical.

The optional features are wired here: the human reviewer of `HumanAgentInteraction`
(`--human review`, `--human-input FILE`), the images endpoint of the Art phases, the
experiential co-learning memory (`with_memory`, `--memory FILE`), and incremental mode
(`incremental_develop` needs `--incremental DIR`). Replay serves the recorded human answers,
pictures and memory retrievals, so it needs none of them.

Reproduces: ChatDev §3 (the whole pipeline); chatdev.md §2.12-§2.15, §2.18; ECL (Qian et al.
2023) §2.3.
"""

from __future__ import annotations

import copy
import dataclasses
import filecmp
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thunlp_repro.chatdev.art import incorporated
from thunlp_repro.chatdev.chain import NO_IMAGES_ENDPOINT, ChainRunner, FormatFailure
from thunlp_repro.chatdev.chat import CallContext, Caller, Chat
from thunlp_repro.chatdev.codebook import Codebook
from thunlp_repro.chatdev.company import ChainItem, Company, StepSpec, company_from_native, validate
from thunlp_repro.chatdev.company import load_company as _load_company
from thunlp_repro.chatdev.config import ChatDevConfig
from thunlp_repro.chatdev.isolation import detect as detect_isolation
from thunlp_repro.chatdev.phases import ChatEnv
from thunlp_repro.chatdev.project import Project
from thunlp_repro.chatdev.sandbox import SandboxResult, SandboxSettings, run_program
from thunlp_repro.shared.config import load_config, to_dict, to_yaml
from thunlp_repro.shared.errors import ConfigError, ReproError, UsageError
from thunlp_repro.shared.llm.accounting import Budget, BudgetExceeded
from thunlp_repro.shared.llm.base import LLMClient, LLMError
from thunlp_repro.shared.llm.replay import ReplayLLM

logger = logging.getLogger(__name__)

FINAL_STATUSES = ("done", "format_failure", "budget_exceeded", "timeout", "error")


@dataclass
class ProjectResult:
    """What a run produced."""

    path: Path
    status: str
    reason: str | None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def code_dir(self) -> Path:
        return self.path / "code"


# ------------------------------------------------------------------------------ helpers
def apply_company_protocol(cfg: ChatDevConfig, protocol: dict[str, Any]) -> ChatDevConfig:
    """Layer a company file's `protocol:` section over the engine config (validated)."""
    if not protocol:
        return cfg
    import yaml

    data = to_dict(cfg)
    data["protocol"] = _deep_update(data["protocol"], protocol)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        yaml.safe_dump(data, fh)
    try:
        merged, _ = load_config(ChatDevConfig, config_file=fh.name)
    finally:
        Path(fh.name).unlink(missing_ok=True)
    return merged


def _deep_update(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_update(out[key], value)
        else:
            out[key] = value
    return out


HUMAN_LOOP = "HumanAgentInteraction"


def with_human_review(items: list[ChainItem], cycles: int = 5) -> list[ChainItem]:
    """Insert the HumanAgentInteraction loop after CodeReview (else before Test, else before
    the docs, else at the end); unchanged when the chain already has it (`--human review`)."""
    if any(item.name == HUMAN_LOOP for item in items):
        return items
    loop = ChainItem(HUMAN_LOOP, "loop", [StepSpec("CodeReviewHuman", 1, False)], cycles)
    names = [item.name for item in items]
    if "CodeReview" in names:
        at = names.index("CodeReview") + 1
    else:
        at = next((names.index(n) for n in ("Test", "EnvironmentDoc", "Manual") if n in names),
                  len(items))  # fmt: skip
    return [*items[:at], loop, *items[at:]]


def uses_handler(company: Company, items: list[ChainItem], names: tuple[str, ...]) -> bool:
    """Whether any step of `items` is handled by one of `names`."""
    for item in items:
        for step in item.steps:
            spec = company.phases.get(step.phase)
            if spec is not None and (spec.handler or step.phase) in names:
                return True
    return False


def chain_items(company: Company, incremental: bool) -> list[ChainItem]:
    """The chain to run; incremental mode replaces Coding by ModificationRequest (repo: skips
    Coding and starts from the existing code)."""
    items = list(company.chain)
    if not incremental:
        return items
    out = []
    for item in items:
        if item.name == "Coding":
            if "ModificationRequest" in company.phases:
                out.append(ChainItem("ModificationRequest", "simple",
                                     [StepSpec("ModificationRequest", 1, False)]))  # fmt: skip
            continue
        out.append(item)
    return out


def build_client(cfg: ChatDevConfig, base_url: str | None = None) -> LLMClient:
    """The OpenAI-compatible client for `cfg.llm` (a local server's URL given as `base_url`)."""
    from thunlp_repro.shared.llm import build_client as _build

    llm = cfg.llm
    local = base_url is not None and llm.backend == "local"
    return _build(
        "openai",
        model=llm.model,
        base_url=base_url or llm.base_url,
        provider=llm.provider,
        # a local server gets a dummy key, never the user's real one
        api_key_env="THUNLP_REPRO_LOCAL_LLM_KEY" if local else llm.api_key_env,
        default_api_key="local" if local else None,
        api_version=llm.api_version,
        timeout_s=llm.request_timeout_s,
        max_attempts=llm.max_attempts,
        backoff_base_s=llm.backoff_base_s,
        backoff_max_s=llm.backoff_max_s,
    )


class _RecordedTests:
    """Serves recorded sandbox results in order (replay)."""

    def __init__(self, results: list[dict[str, Any]]) -> None:
        self.results = list(results)
        self.position = 0

    def __call__(self) -> SandboxResult:
        if self.position >= len(self.results):
            raise ReproError(f"replay diverged: sandbox run {self.position} was not recorded")
        result = SandboxResult.from_dict(self.results[self.position])
        self.position += 1
        return result


class _ReplayClient:
    """ReplayLLM that turns "past the end" into the recorded budget stop."""

    name = "replay"

    def __init__(self, inner: ReplayLLM, budget_stop: str | None) -> None:
        self.inner = inner
        self.budget_stop = budget_stop

    def chat(self, request):  # noqa: ANN001, ANN201
        if self.budget_stop and self.inner.position >= len(self.inner.records):
            raise BudgetExceeded(f"{self.budget_stop} (replayed)")
        return self.inner.chat(request)

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------------ run
def run_project(
    task: str,
    *,
    name: str,
    cfg: ChatDevConfig,
    company: Company | None = None,
    client: LLMClient | None = None,
    root: str | Path | None = None,
    run_dir: str | Path | None = None,
    overwrite: bool = False,
    incremental: str | Path | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    recorded_tests: list[dict[str, Any]] | None = None,
    extra_meta: dict[str, Any] | None = None,
    argv: list[str] | None = None,
    preset: str | None = None,
    org: str | None = None,
    warehouse: str | Path | None = None,
    human: Callable[[str], str] | str | Path | None = None,
    make_image: Callable[[str, str], bytes] | None = None,
    memory: Any = None,
) -> ProjectResult:
    """Run the chat chain for one task and write the project folder.

    Args:
        task: The customer's requirement.
        name: Project name (folder `runs/chatdev/<name>/` unless `root`/`run_dir`).
        cfg: Engine settings.
        company: A loaded company; default: `cfg.project.company` (our Default when null).
        client: An LLM client; default: built from `cfg.llm` (a local server when backend is
            `local`, started and stopped here).
        root: Runs root (replaces `runs/`).
        run_dir: Explicit project folder.
        overwrite: Replace an existing non-empty folder.
        incremental: Existing code folder to continue from (copied to `base/` and `code/`).
        on_event: Live-view callback for every event (and a `speak` event before each call).
        recorded_tests: Replay: sandbox results to serve instead of running programs.
        extra_meta: Merged into meta.json.
        argv: Command line recorded in command.txt.
        preset: Name of the preset the config came from (recorded in meta and results).
        org: Organisation (`--org`): also write the official WareHouse folder
            `<warehouse>/<name>_<org>_<timestamp>/` (warehouse.py); None = do not.
        warehouse: WareHouse root; default `WareHouse/` beside the project folder.
        human: The reviewer of HumanAgentInteraction: a callable `(shown) -> answer` or a file
            of answers; default `human.input_file`, else the console.
        make_image: `(name, description) -> PNG bytes` for the Art phases; default: the
            `images` endpoint (none configured: the Art phases are skipped).
        memory: An experience memory (`memory.Memory` / `RecordedMemory`); default: loaded
            from `memory.path` (required when the company has `with_memory: true`).

    Returns:
        The folder, its final status and meta.

    Raises:
        UsageError / ConfigError: bad inputs (before anything runs).
    """
    if not task.strip():
        raise UsageError("the task text is empty")
    if org is not None:
        from thunlp_repro.chatdev.warehouse import check_org

        check_org(org)
    if company is None:
        company = _load_company(cfg.project.company,
                                ignore_unsupported=cfg.project.ignore_unsupported)  # fmt: skip
    cfg = apply_company_protocol(cfg, company.protocol)
    company = company.with_marker(cfg.protocol.marker, cfg.protocol.question_marker)
    if company.flags.get("incremental_develop") and incremental is None:
        raise UsageError(
            f"company '{company.name}' sets incremental_develop: true but no base folder was "
            "given; pass --incremental DIR (the existing code to continue) or set "
            "incremental_develop to false"
        )
    items = chain_items(company, incremental is not None)
    if cfg.human.review:
        items = with_human_review(items, cfg.human.cycles)
    names = [item.name for item in items]
    if cfg.protocol.until and cfg.protocol.until not in names:
        raise ConfigError(f"--until {cfg.protocol.until}: not a chain item; the chain is "
                          f"{' -> '.join(names)}")  # fmt: skip
    reviewer = None
    if any(item.name == HUMAN_LOOP for item in items):
        from thunlp_repro.chatdev.human import build_human

        reviewer = build_human(human if human is not None else cfg.human.input_file)
    if memory is None and (cfg.memory.path or company.flags.get("with_memory")):
        if not cfg.memory.path:
            raise UsageError(
                f"company '{company.name}' sets with_memory: true but no memory file was given; "
                "pass --memory FILE (built by `thunlp-repro chatdev build-memory RUN_DIR...`) "
                "or set with_memory to false"
            )
        from thunlp_repro.chatdev.memory import Memory

        memory = Memory.load(cfg.memory.path, cfg.memory)
    needs_art = uses_handler(company, items, ("ArtDesign", "ArtIntegration"))
    if client is None and cfg.llm.backend == "local":  # fail before creating the folder
        from thunlp_repro.chatdev.local_server import require_llama_cpp, resolve_gguf

        require_llama_cpp()
        resolve_gguf(cfg.llm.local_model)
    # generated code runs only isolated (or with --unsafe-sandbox): fail before the folder exists
    isolation = None if recorded_tests is not None else detect_isolation(
        cfg.sandbox.isolation, unsafe=cfg.sandbox.unsafe)  # fmt: skip
    git = cfg.project.git if cfg.project.git is not None else company.flags.get("git_management")
    started_wall = time.time()
    started = time.monotonic()
    project = Project.open(name, root=root, run_dir=run_dir, overwrite=overwrite, git=bool(git),
                           on_event=on_event)  # fmt: skip
    project.write_inputs(task, to_yaml(cfg), company)
    project.rundir.write_command(argv)
    env_json = project.rundir.write_env()
    server = None
    status, reason = "error", None
    env = ChatEnv(task=task, codebook=Codebook(parser=cfg.compat.parser),
                  code_dir=project.code_dir, max_images=cfg.images.max_images)  # fmt: skip
    image_maker = None
    runner: ChainRunner | None = None
    phase_times: list[dict[str, Any]] = []
    open_phases: dict[tuple, float] = {}

    def emit(kind: str, **data: Any) -> None:
        key = (data.get("phase"), data.get("loop"), data.get("cycle"))
        if kind == "phase_start":
            open_phases[key] = time.monotonic()
        elif kind == "phase_end" and key in open_phases:
            seconds = round(time.monotonic() - open_phases.pop(key), 3)
            phase_times.append({"phase": data.get("phase"), "loop": data.get("loop"),
                                "cycle": data.get("cycle"), "duration_s": seconds})  # fmt: skip
        project.event(kind, **data)

    def on_speak(ctx: CallContext, speaker: str, role: str) -> None:
        if on_event:
            on_event({"event": "speak", "phase": ctx.phase, "loop": ctx.loop, "cycle": ctx.cycle,
                      "speaker": speaker, "role": role})  # fmt: skip

    try:
        if client is None:
            if cfg.llm.backend == "local":
                from thunlp_repro.chatdev.local_server import LocalServer

                emit("local_server", model=cfg.llm.local_model)
                server = LocalServer(
                    cfg.llm.local_model, n_ctx=cfg.llm.local_n_ctx, n_threads=cfg.llm.local_threads,
                    seed=cfg.llm.seed, start_timeout_s=cfg.llm.local_start_timeout_s,
                    ram_cache=cfg.llm.local_ram_cache,
                    log_path=project.path / "llama_server.log",
                ).start()  # fmt: skip
                client = build_client(cfg, base_url=server.base_url)
            elif cfg.llm.backend in ("openai",):
                client = build_client(cfg)
            else:
                raise UsageError(f"backend '{cfg.llm.backend}' needs a client passed in "
                                 "(scripted) or `chatdev replay` (replay)")  # fmt: skip
        if needs_art and make_image is None:
            from thunlp_repro.chatdev.art import make_image_maker

            image_maker = make_image_maker(cfg.images, cfg.llm,
                                           server.base_url if server else None)  # fmt: skip
            make_image = image_maker
        budget = Budget(**dataclasses.asdict(cfg.budget))
        caller = Caller(client, cfg, project.transcript, budget, project_id=name, on_speak=on_speak)
        chat = Chat(company, cfg, caller, task)
        settings = SandboxSettings.from_config(cfg.sandbox)

        def live_tests() -> SandboxResult:
            language = env.language or "python"
            entry = env.codebook.entry_point() or env.codebook.entry_file
            return run_program(project.code_dir, entry, language, settings)

        tests_source = _RecordedTests(recorded_tests) if recorded_tests is not None else live_tests

        def run_tests() -> SandboxResult:
            result = tests_source()
            emit("sandbox", verdict=result.verdict, result=result.to_dict())
            return result

        runner = ChainRunner(company, cfg, chat, env, emit,
                             on_code_change=lambda msg: project.sync_code(env, msg),
                             run_tests=run_tests, human=reviewer, make_image=make_image,
                             memory=memory)  # fmt: skip
        if incremental is not None:
            skipped = project.load_incremental(Path(incremental), env)
            emit("incremental", source=str(incremental), files=sorted(env.codebook.files),
                 skipped=skipped)  # fmt: skip
        emit("chain_start", items=names, task=task)
        runner.run(items)
        if env.codebook.files:
            status = "done"
        else:
            status, reason = "format_failure", "the chain produced no code"
    except BudgetExceeded as exc:
        status, reason = "budget_exceeded", str(exc)
    except FormatFailure as exc:
        status, reason = "format_failure", str(exc)
    except LLMError as exc:
        status, reason = "error", str(exc)
    except KeyboardInterrupt:
        status, reason = "error", "interrupted"
        raise
    except ReproError as exc:
        status, reason = "error", str(exc)
    except Exception as exc:  # harness bug: keep the folder, record it, re-raise
        status, reason = "error", f"{exc.__class__.__name__}: {exc}"
        raise
    finally:
        if server is not None:
            server.stop()
        if client is not None and hasattr(client, "close"):
            client.close()
        if image_maker is not None:
            image_maker.close()
        emit("chain_end", status=status, reason=reason)
        stats = runner.stats if runner else None
        final = stats.final if stats else None
        meta = {
            "name": name,
            "preset": preset,
            "task_id": (extra_meta or {}).get("task_id"),
            "backend": getattr(client, "name", cfg.llm.backend) if client else cfg.llm.backend,
            "model": cfg.llm.model,
            "base_url": server.base_url if server else cfg.llm.base_url,
            "provider": cfg.llm.provider,
            "temperature": cfg.llm.temperature,
            "top_p": cfg.llm.top_p,
            "seed": cfg.llm.seed,
            "switches": {
                "dehallucination": cfg.protocol.cdh.enabled,
                "cdh_phases": cfg.protocol.cdh.phases,
                "roles_in_prompts": cfg.protocol.roles_in_prompts,
                "until": cfg.protocol.until,
                "git": bool(git),
                "incremental": str(incremental) if incremental is not None else None,
                "marker": cfg.protocol.marker,
                "parser": cfg.compat.parser,
                "stop_after_unchanged": cfg.protocol.stop_after_unchanged,
                "human_review": reviewer is not None,
                "memory": cfg.memory.path if memory is not None else None,
                "images_endpoint": (cfg.images.base_url if make_image is not None else None)
                if needs_art
                else None,
            },
            "proposed_images": dict(env.proposed_images),
            "images": dict(env.images),
            "incorporated_images": incorporated(env.images, env.codebook.files),
            "art_skipped": runner.art_skipped if runner else None,
            "company": {"name": company.name, "source": company.source},
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started_wall)),
            "duration_s": round(time.monotonic() - started, 3),
            "phase_timings": phase_times,
            "final_verdict": final.verdict if final else None,
            "verdicts": stats.verdicts if stats else [],
            "first_error_type": stats.first_error_type if stats else None,
            "cycles": stats.cycles if stats else {},
            "completed_items": stats.completed_items if stats else [],
            "reflections": stats.reflections if stats else 0,
            "cdh_questions": stats.cdh_questions if stats else 0,
            "format_retries": stats.format_retries if stats else 0,
            "format_failures": stats.format_failures if stats else [],
            "limits_enforced": final.limits_enforced if final else sys.platform != "win32",
            "network_isolated": final.network_isolated if final else False,
            "sandbox_isolation": isolation.to_dict() if isolation else {"name": "replayed"},
            "packages": {
                k: v
                for k, v in env_json.get("packages", {}).items()
                if k in ("openai", "llama-cpp-python")
            },  # fmt: skip
            "python": sys.version.split()[0],
            **(extra_meta or {}),
        }
        stamp = None
        if org is not None:
            from thunlp_repro.chatdev import warehouse as wh

            root_wh = Path(warehouse) if warehouse is not None else wh.default_root(project.path)
            stamp = wh.timestamp_of(started_wall)
            meta["warehouse"] = str(root_wh / wh.folder_name(wh.safe_name(name), org, stamp))
        doc = project.finalize(status=status, reason=reason, env=env, meta=meta, cfg=cfg,
                               company=company)  # fmt: skip
        project.close()
        if org is not None:
            try:
                wh.export_warehouse(project.path, root_wh, org=org, name=name, timestamp=stamp,
                                    overwrite=overwrite)  # fmt: skip
            except (OSError, ReproError) as exc:  # the run's own folder is complete already
                logger.warning("WareHouse folder not written: %s", exc)
    return ProjectResult(project.path, status, reason, doc)


# ------------------------------------------------------------------------------ replay
def load_project_inputs(project_dir: Path) -> tuple[str, ChatDevConfig, Company, dict[str, Any]]:
    """Task, engine config, company and meta saved in a project folder."""
    from thunlp_repro.shared import io

    for needed in ("task.prompt", "config.yaml", "company.yaml", "transcript.jsonl"):
        if not (project_dir / needed).is_file():
            raise UsageError(f"{project_dir} is not a ChatDev project folder (no {needed})")
    import yaml

    task = (project_dir / "task.prompt").read_text(encoding="utf-8")
    cfg, _ = load_config(ChatDevConfig, config_file=project_dir / "config.yaml")
    doc = yaml.safe_load((project_dir / "company.yaml").read_text(encoding="utf-8")) or {}
    company = company_from_native(doc, str(project_dir / "company.yaml"))
    validate(company, ignore_unsupported=True)
    meta_path = project_dir / "meta.json"
    meta = io.read_json(meta_path) if meta_path.is_file() else {}
    return task, cfg, company, meta


def compare_trees(a: Path, b: Path) -> list[str]:
    """Relative paths that differ between two trees (missing on one side, or other bytes)."""

    def files(root: Path) -> dict[str, Path]:
        if not root.is_dir():
            return {}
        return {p.relative_to(root).as_posix(): p for p in root.rglob("*")
                if p.is_file() and ".git" not in p.relative_to(root).parts}  # fmt: skip

    fa, fb = files(a), files(b)
    diffs = sorted(set(fa) ^ set(fb))
    for rel in sorted(set(fa) & set(fb)):
        if not filecmp.cmp(fa[rel], fb[rel], shallow=False):
            diffs.append(rel)
    return sorted(diffs)


@dataclass
class ReplayResult:
    """A replayed project and how its code tree compares with the original's."""

    result: ProjectResult
    differences: list[str]
    llm_calls: int

    @property
    def identical(self) -> bool:
        return not self.differences


def replay_project(
    project_dir: str | Path,
    *,
    out: str | Path | None = None,
    overwrite: bool = False,
    rerun_tests: bool = False,
    mode: str = "strict",
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> ReplayResult:
    """Re-run a project from its transcript (no LLM) and compare the code trees.

    Args:
        project_dir: The recorded project.
        out: Where the replay goes (default: `<project_dir>-replay` beside it).
        overwrite: Replace an existing output folder.
        rerun_tests: Execute the programs again instead of reusing the recorded verdicts.
        mode: "strict" (request hashes in order) or "lenient".
        on_event: Live-view callback.
    """
    from thunlp_repro.shared import io

    project_dir = Path(project_dir)
    task, cfg, company, meta = load_project_inputs(project_dir)
    cfg = dataclasses.replace(cfg, budget=dataclasses.replace(cfg.budget, max_wall_s=None))
    replay = ReplayLLM(project_dir / "transcript.jsonl", mode=mode)
    stop = meta.get("reason") if meta.get("status") == "budget_exceeded" else None
    client = _ReplayClient(replay, stop)
    from thunlp_repro.chatdev.art import RecordedImages
    from thunlp_repro.chatdev.human import RecordedHuman
    from thunlp_repro.chatdev.memory import RecordedMemory
    from thunlp_repro.shared.llm.transcript import read_transcript

    events = []
    if (project_dir / "events.jsonl").is_file():
        events = read_transcript(project_dir / "events.jsonl")
    recorded = None
    if not rerun_tests and events:
        recorded = [e["result"] for e in events if e.get("event") == "sandbox"]
    skipped = next((e.get("reason") for e in events if e.get("event") == "art_skipped"), None)
    images = None if skipped == NO_IMAGES_ENDPOINT else RecordedImages(project_dir / "code",
                                                                      skipped)  # fmt: skip
    memory = RecordedMemory(events)
    if not memory.records and not cfg.memory.path and not company.flags.get("with_memory"):
        memory = None
    incremental = project_dir / "base" if (project_dir / "base").is_dir() else None
    out_dir = Path(out) if out else project_dir.parent / f"{project_dir.name}-replay"
    result = run_project(
        task,
        name=meta.get("name") or project_dir.name,
        cfg=cfg,
        company=company,
        client=client,
        run_dir=out_dir,
        overwrite=overwrite,
        incremental=incremental,
        on_event=on_event,
        recorded_tests=recorded,
        extra_meta={"replay_of": str(project_dir), "task_id": meta.get("task_id")},
        preset=meta.get("preset"),
        human=RecordedHuman.from_events(events),
        make_image=images,
        memory=memory,
    )
    differences = compare_trees(project_dir / "code", out_dir / "code")
    io.atomic_write_json(out_dir / "replay.json", {"replay_of": str(project_dir),
                         "identical": not differences, "differences": differences,
                         "llm_calls_served": replay.position})  # fmt: skip
    return ReplayResult(result, differences, replay.position)
