"""Batch runs over SRDD: bounded concurrency, one child process and one folder per task, a
per-task timeout, resume after a kill, evaluation in both metric variants, and the aggregate.

Layout of a batch folder (itself a shared run folder, chatdev.md §2.17)::

    batch.json      task list (ids, names, categories, descriptions), config hash, SRDD sha256
    config.yaml     the resolved engine config every task runs with
    events.jsonl    batch events: task_start / task_end / skip / timeout / moved / server
    logs/<id>.log   each child's log
    <task_id>/      a ChatDev project folder (chatdev.md §2.15) + eval.json (both variants)
    results.jsonl   one line per task and metric variant
    summary.md / summary.csv    aggregate (95% intervals), per category, verdicts, errors
    cost.json       the cost profile (Table 3) and per-phase totals
    results.json    the aggregate as a shared `results.json`

Resume: a task whose `meta.json` has a final status and the batch's config hash is skipped;
any other non-empty task folder is moved to `<id>.partial-<n>` and the task restarts
(`--retry-failed` also reruns `error` and `timeout`). With the local backend the batch starts
one llama.cpp server per concurrent task (llama-cpp-python's server answers one request at a
time, so tasks sharing one would only queue); each server uses `llm.local_threads` threads and
the GGUF is memory-mapped once by the OS.

Reproduces: ChatDev §4 (SRDD evaluation), Table 3 (cost per software); chatdev.md §2.17,
pitfall #17 (the repo starts all 1,200 runs at once).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thunlp_repro.shared import io
from thunlp_repro.shared.errors import UsageError

logger = logging.getLogger(__name__)

FINAL = ("done", "format_failure", "budget_exceeded", "timeout", "error")
RETRY_ON_REQUEST = ("error", "timeout")
TABLE3_KEYS = ("duration_s", "prompt_tokens", "completion_tokens", "total_tokens", "n_files",
               "n_files_repo", "n_lines", "n_lines_repo", "llm_calls", "cost_usd")  # fmt: skip


@dataclass
class BatchOptions:
    """How a batch runs and is evaluated.

    Attributes:
        concurrency: Tasks at once (each in its own process).
        task_timeout_s: Wall clock per task; on expiry the child is killed (status `timeout`).
        variants: Metric variants computed for every project.
        embedder: Consistency embedder name (`embedders.build_embedder`).
        embed_base_url: OpenAI-compatible embeddings endpoint (optional).
        evaluate: Score each project after it runs.
        retry_failed: Rerun tasks that ended in `error` or `timeout`.
        eval_timeout_s: Strict executability timeout.
        unsafe_sandbox: Score programs unisolated when no isolation works (`--unsafe-sandbox`).
        label: Table 4 row name (`ChatDev`, `<=Coding`, `\\CDH`, ...).
        mp_context: multiprocessing start method.
        org: Organisation of each task's WareHouse folder `<batch>/WareHouse/<id>_<org>_<ts>/`
            (`{category}` is replaced by the task's SRDD category, as the repo's batch script
            names its orgs `SRDD_<Category>`); None = no WareHouse folders.
    """

    concurrency: int = 1
    task_timeout_s: float = 1200.0
    variants: tuple[str, ...] = ("compatible", "strict")
    embedder: str = "minilm-l6"
    embed_base_url: str | None = None
    evaluate: bool = True
    retry_failed: bool = False
    eval_timeout_s: float = 10.0
    unsafe_sandbox: bool = False
    label: str = "ChatDev"
    mp_context: str = "spawn"
    org: str | None = "DefaultOrganization"

    def __post_init__(self) -> None:
        if self.org is not None:
            from thunlp_repro.chatdev.warehouse import check_org

            check_org(self.org.replace("{category}", "Category"))
        if self.concurrency < 1:
            raise UsageError("--concurrency must be >= 1")
        if self.task_timeout_s <= 0:
            raise UsageError("--task-timeout-s must be > 0")


@dataclass
class BatchResult:
    """What `run_batch` did."""

    path: Path
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def config_hash(cfg_yaml: str) -> str:
    """sha256 of the resolved config minus settings that cannot change a project's outputs
    (the server address, a local server's port, its RAM cache and start timeout)."""
    import yaml

    data = yaml.safe_load(cfg_yaml) or {}
    for key in ("base_url", "local_ram_cache", "local_start_timeout_s"):
        data.get("llm", {}).pop(key, None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _event(batch_dir: Path, kind: str, **data: Any) -> None:
    record = {"event": kind, "time": time.time(), **data}
    with open(batch_dir / "events.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, sort_keys=True, default=str) + "\n")


def read_meta(folder: Path) -> dict[str, Any] | None:
    """A task folder's meta.json, or None when missing or unreadable (with a warning)."""
    path = folder / "meta.json"
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        logger.warning("%s: unreadable meta.json (%s); the task is rerun", folder, exc)
        return None
    return meta if isinstance(meta, dict) else None


def _finished(folder: Path, chash: str, retry_failed: bool) -> bool:
    meta = read_meta(folder)
    if not meta or meta.get("status") not in FINAL or meta.get("batch_config_hash") != chash:
        return False
    return not (retry_failed and meta.get("status") in RETRY_ON_REQUEST)


def _move_aside(folder: Path) -> Path:
    n = 1
    while (target := folder.with_name(f"{folder.name}.partial-{n}")).exists():
        n += 1
    folder.rename(target)
    return target


# ------------------------------------------------------------------------------ the child
def _child(task: dict[str, Any], batch_dir: str, base_url: str | None, preset: str | None,
           opts: dict[str, Any], chash: str) -> None:  # fmt: skip
    """Run one task in a child process: the project, then its evaluation (eval.json)."""
    from thunlp_repro.chatdev.config import ChatDevConfig
    from thunlp_repro.chatdev.pipeline import build_client, run_project
    from thunlp_repro.shared.config import load_config

    batch = Path(batch_dir)
    (batch / "logs").mkdir(exist_ok=True)
    handler = logging.FileHandler(batch / "logs" / f"{task['task_id']}.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    started = time.time()
    cfg, _ = load_config(ChatDevConfig, config_file=batch / "config.yaml")
    client = build_client(cfg, base_url=base_url) if base_url else None
    folder = batch / task["task_id"]
    extra = {"task_id": task["task_id"], "category": task.get("category"),
             "srdd_name": task.get("name"), "batch": str(batch), "batch_config_hash": chash,
             "batch_label": opts.get("label")}  # fmt: skip
    org = opts.get("org")
    if org is not None:
        org = org.replace("{category}", str(task.get("category") or ""))
    result = run_project(task["description"], name=task["task_id"], cfg=cfg, client=client,
                         run_dir=folder, extra_meta=extra, preset=preset, org=org)  # fmt: skip
    if opts.get("evaluate", True):
        evaluate_folder(folder, opts)
    io.atomic_write_json(batch / "logs" / f"{task['task_id']}.json",
                         {"pid": os.getpid(), "t_start": started, "t_end": time.time(),
                          "status": result.status})  # fmt: skip


_EMBEDDERS: dict[tuple[str, str | None], Any] = {}


def evaluate_folder(folder: Path, opts: dict[str, Any]) -> dict[str, Any]:
    """Evaluate one task folder in the configured variants and write `eval.json`."""
    from thunlp_repro.chatdev.embedders import build_embedder
    from thunlp_repro.chatdev.evaluate import EvalError, evaluate_project
    from thunlp_repro.chatdev.sandbox import SandboxSettings

    key = (opts.get("embedder", "minilm-l6"), opts.get("embed_base_url"))
    try:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = build_embedder(key[0], key[1])
        record = evaluate_project(
            folder, embedder=_EMBEDDERS[key], variants=tuple(opts.get("variants", ())),
            sandbox=SandboxSettings(timeout_s=float(opts.get("eval_timeout_s", 10.0)),
                                    unsafe=bool(opts.get("unsafe_sandbox"))),
        )  # fmt: skip
    except (EvalError, UsageError, OSError) as exc:
        record = {"project": str(folder), "error": str(exc)}
    record["evaluated_at"] = time.time()
    io.atomic_write_json(folder / "eval.json", record)
    return record


# ------------------------------------------------------------------------------ the parent
def run_batch(
    tasks: list[Any] | None,
    *,
    out: str | Path,
    cfg: Any,
    options: BatchOptions,
    preset: str | None = None,
    srdd: dict[str, Any] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    argv: list[str] | None = None,
    on_event: Any = None,
) -> BatchResult:
    """Run (or continue) a batch and write its aggregate.

    Args:
        tasks: `SrddTask`s (or dicts with task_id, name, description, category); None on
            resume = the stored task list.
        out: The batch folder.
        cfg: The resolved `ChatDevConfig` every task uses.
        options: Concurrency, timeout, evaluation.
        preset: Preset name (recorded).
        srdd: `srdd_info` of the task file (path, sha256, rows).
        resume: Continue an existing batch folder.
        overwrite: Delete an existing batch folder first.
        argv: Command line (recorded).
        on_event: Callback for live progress (dict per event).

    Raises:
        UsageError: an existing folder without --resume/--overwrite, a config that differs
            from the stored one on resume, or no tasks.
    """
    import multiprocessing as mp

    from thunlp_repro.shared.config import to_yaml

    out = Path(out)
    batch_file = out / "batch.json"
    cfg_yaml = to_yaml(cfg)
    chash = config_hash(cfg_yaml)
    if out.exists() and any(out.iterdir()):
        if overwrite:
            shutil.rmtree(out)
        elif not resume:
            raise UsageError(f"{out} exists and is not empty; continue it with --resume or "
                             "replace it with --overwrite")  # fmt: skip
    if resume and batch_file.is_file():
        stored = io.read_json(batch_file)
        if stored.get("config_hash") != chash:
            raise UsageError(f"{out}: the batch was started with another config "
                             f"(hash {stored.get('config_hash')}, now {chash}); use the same "
                             "preset and switches, or --overwrite")  # fmt: skip
        task_list = stored["tasks"]
        srdd = srdd or stored.get("srdd")
        preset = preset or stored.get("preset")
    else:
        if not tasks:
            raise UsageError("no tasks selected")
        task_list = [_task_dict(t) for t in tasks]
    out.mkdir(parents=True, exist_ok=True)
    io.atomic_write_json(batch_file, {
        "tasks": task_list, "config_hash": chash, "preset": preset, "srdd": srdd,
        "label": options.label, "options": _opts(options),
    })  # fmt: skip
    io.atomic_write_text(out / "config.yaml", cfg_yaml)
    io.atomic_write_text(out / "command.txt", " ".join(argv or []) + "\n")
    result = BatchResult(out)
    todo: deque[dict[str, Any]] = deque()
    for task in task_list:
        folder = out / task["task_id"]
        if _finished(folder, chash, options.retry_failed):
            result.skipped.append(task["task_id"])
            _emit(out, on_event, "skip", task_id=task["task_id"])
            continue
        if folder.exists():
            moved = _move_aside(folder)
            _emit(out, on_event, "moved", task_id=task["task_id"], to=moved.name)
        todo.append(task)
    servers: list[Any] = []
    free_urls: deque[str | None] = deque([None] * options.concurrency)
    ctx = mp.get_context(options.mp_context)
    opts = _opts(options)
    running: dict[str, tuple[Any, float, dict[str, Any], str | None]] = {}
    try:
        if todo and cfg.llm.backend == "local":
            servers = _start_local_servers(cfg, min(options.concurrency, len(todo)), out)
            free_urls = deque(server.base_url for server in servers)
            for server in servers:
                _emit(out, on_event, "server", base_url=server.base_url,
                      model=cfg.llm.local_model)  # fmt: skip
        while todo or running:
            while todo and free_urls:
                task = todo.popleft()
                base_url = free_urls.popleft()
                args = (task, str(out), base_url, preset, opts, chash)
                proc = ctx.Process(target=_child, name=f"chatdev-{task['task_id']}", args=args)
                proc.start()
                running[task["task_id"]] = (proc, time.monotonic(), task, base_url)
                _emit(out, on_event, "task_start", task_id=task["task_id"], pid=proc.pid,
                      running=len(running))  # fmt: skip
            time.sleep(0.1)
            for tid in list(running):
                proc, started, task, base_url = running[tid]
                elapsed = time.monotonic() - started
                if proc.is_alive() and elapsed <= options.task_timeout_s:
                    continue
                if proc.is_alive():
                    proc.kill()
                    proc.join(10)
                    _mark_timeout(out / tid, task, chash, elapsed, options)
                    result.timed_out.append(tid)
                    _emit(out, on_event, "timeout", task_id=tid, after_s=round(elapsed, 1))
                else:
                    proc.join()
                    if read_meta(out / tid) is None:  # the child died before finishing
                        _mark_status(out / tid, task, chash, elapsed, "error",
                                     f"child exited with code {proc.exitcode}")  # fmt: skip
                del running[tid]
                free_urls.append(base_url)
                result.ran.append(tid)
                meta = read_meta(out / tid) or {}
                _emit(out, on_event, "task_end", task_id=tid, status=meta.get("status"),
                      seconds=round(elapsed, 1), done=len(result.ran) + len(result.skipped),
                      total=len(task_list))  # fmt: skip
    finally:
        for proc, *_ in running.values():  # interrupted: no orphans
            proc.kill()
            proc.join(5)
        for server in servers:
            server.stop()
    result.summary = write_aggregate(out, options, cfg=cfg, preset=preset, srdd=srdd,
                                     task_list=task_list)  # fmt: skip
    return result


def _start_local_servers(cfg: Any, count: int, out: Path) -> list[Any]:
    """`count` llama.cpp servers for the batch's slots; all are stopped if one fails."""
    from thunlp_repro.chatdev.local_server import LocalServer

    servers: list[Any] = []
    try:
        for slot in range(count):
            log = out / ("llama_server.log" if slot == 0 else f"llama_server.{slot}.log")
            servers.append(LocalServer(cfg.llm.local_model, n_ctx=cfg.llm.local_n_ctx,
                                       n_threads=cfg.llm.local_threads, seed=cfg.llm.seed,
                                       start_timeout_s=cfg.llm.local_start_timeout_s,
                                       ram_cache=cfg.llm.local_ram_cache,
                                       log_path=log).start())  # fmt: skip
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def summarise_batch(out: str | Path, options: BatchOptions) -> dict[str, Any]:
    """(Re)write the aggregate of an existing batch folder without running anything: the
    finished tasks so far (a batch still running, or killed, can be summarised).

    Raises:
        UsageError: `out` is not a batch folder.
    """
    from thunlp_repro.chatdev.config import ChatDevConfig
    from thunlp_repro.shared.config import load_config

    out = Path(out)
    if not (out / "batch.json").is_file() or not (out / "config.yaml").is_file():
        raise UsageError(f"{out} is not a batch folder (no batch.json / config.yaml)")
    stored = io.read_json(out / "batch.json")
    cfg, _ = load_config(ChatDevConfig, config_file=out / "config.yaml")
    if stored.get("label"):
        options.label = stored["label"]
    return write_aggregate(out, options, cfg=cfg, preset=stored.get("preset"),
                           srdd=stored.get("srdd"), task_list=stored["tasks"])  # fmt: skip


def _emit(out: Path, on_event: Any, kind: str, **data: Any) -> None:
    _event(out, kind, **data)
    if on_event:
        on_event({"event": kind, **data})


def _opts(options: BatchOptions) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(options)
    data["variants"] = list(options.variants)
    return data


def _task_dict(task: Any) -> dict[str, Any]:
    if isinstance(task, dict):
        return {k: task[k] for k in ("task_id", "name", "description", "category")}
    return {"task_id": task.task_id, "name": task.name, "description": task.description,
            "category": task.category}  # fmt: skip


def _mark_status(folder: Path, task: dict[str, Any], chash: str, elapsed: float, status: str,
                 reason: str) -> None:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "task.prompt").is_file():
        io.atomic_write_text(folder / "task.prompt", task["description"])
    meta = read_meta(folder) or {}
    meta.update({"status": status, "reason": reason, "task": task["description"],
                 "task_id": task["task_id"], "category": task.get("category"),
                 "srdd_name": task.get("name"), "batch_config_hash": chash,
                 "duration_s": round(elapsed, 3), "name": task["task_id"]})  # fmt: skip
    io.atomic_write_json(folder / "meta.json", meta)


def _mark_timeout(folder: Path, task: dict[str, Any], chash: str, elapsed: float,
                  options: BatchOptions) -> None:  # fmt: skip
    _mark_status(
        folder,
        task,
        chash,
        elapsed,
        "timeout",
        f"task timeout ({options.task_timeout_s:g} s); the child was killed",
    )


# ------------------------------------------------------------------------------ aggregate
def _mean(values: list[float]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def cost_profile(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """Table 3: mean duration, tokens, files and lines per software (and per-phase totals)."""
    rows = []
    for m in metas:
        tokens = m.get("tokens") or {}
        rows.append({
            "duration_s": m.get("duration_s"),
            "prompt_tokens": tokens.get("prompt_tokens"),
            "completion_tokens": tokens.get("completion_tokens"),
            "total_tokens": tokens.get("total_tokens"),
            "n_files": m.get("n_files"), "n_files_repo": m.get("n_files_repo"),
            "n_lines": m.get("n_lines"), "n_lines_repo": m.get("n_lines_repo"),
            "llm_calls": m.get("llm_calls"), "cost_usd": m.get("cost_usd"),
        })  # fmt: skip
    out: dict[str, Any] = {"n": len(rows)}
    for key in TABLE3_KEYS:
        out[key] = _mean([r[key] for r in rows])
    out["total_wall_s"] = sum(float(r["duration_s"] or 0) for r in rows)
    out["total_tokens_all"] = sum(int(r["total_tokens"] or 0) for r in rows)
    return out


def _phase_totals(batch: Path, ids: list[str]) -> dict[str, dict[str, float]]:
    totals: dict[str, dict[str, float]] = {}
    for tid in ids:
        path = batch / tid / "cost.json"
        if not path.is_file():
            continue
        try:
            by_phase = io.read_json(path).get("by_phase", {})
        except (json.JSONDecodeError, OSError):
            continue
        for phase, t in by_phase.items():
            agg = totals.setdefault(phase, {"llm_calls": 0, "total_tokens": 0})
            agg["llm_calls"] += int(t.get("llm_calls") or 0)
            agg["total_tokens"] += int(t.get("total_tokens") or 0)
    return dict(sorted(totals.items()))


def write_aggregate(
    batch: Path,
    options: BatchOptions,
    *,
    cfg: Any,
    preset: str | None,
    srdd: dict[str, Any] | None,
    task_list: list[dict[str, Any]],
) -> dict[str, Any]:
    """Evaluate projects lacking `eval.json`, then write results.jsonl, summary.md/.csv,
    cost.json and results.json; returns the summary dict."""
    from thunlp_repro.chatdev.evaluate import aggregate, flaw_audit, summarise_verdicts
    from thunlp_repro.shared.reporting.results import build_results

    opts = _opts(options)
    records, metas, lines = [], [], []
    for task in task_list:
        folder = batch / task["task_id"]
        meta = read_meta(folder)
        if meta is None:
            continue
        metas.append(meta)
        if not options.evaluate:
            continue
        ev_path = folder / "eval.json"
        record = None
        if ev_path.is_file():
            try:
                record = io.read_json(ev_path)
            except (json.JSONDecodeError, OSError):
                record = None
        if record is None or (not record.get("error") and any(
                v not in record for v in options.variants)):  # fmt: skip
            record = evaluate_folder(folder, opts)
        record.setdefault("task_id", task["task_id"])
        record["category"] = task.get("category")
        record["status"] = meta.get("status")
        records.append(record)
        for variant in options.variants:
            if isinstance(record.get(variant), dict):
                v = record[variant]
                lines.append({"task_id": task["task_id"], "category": task.get("category"),
                              "status": meta.get("status"), "variant": variant,
                              **{k: v[k] for k in ("completeness", "executability",
                                                   "consistency", "quality")}})  # fmt: skip
    io.atomic_write_text(
        batch / "results.jsonl", "".join(json.dumps(x, sort_keys=True) + "\n" for x in lines)
    )
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    for m in metas:
        statuses[m.get("status") or "?"] = statuses.get(m.get("status") or "?", 0) + 1
        et = m.get("first_error_type")
        if et:
            errors[et] = errors.get(et, 0) + 1
    summary: dict[str, Any] = {
        "label": options.label,
        "n_tasks": len(task_list),
        "n_finished": len(metas),
        "statuses": dict(sorted(statuses.items())),
        "first_error_types": dict(sorted(errors.items())),
        "variants": {v: aggregate(records, v) for v in options.variants},
        "per_category": _per_category(records, metas, options.variants),
        "verdicts": summarise_verdicts(records),
        "flaw_audit": flaw_audit(records),
        "eval_errors": {r.get("task_id"): r["error"] for r in records if r.get("error")},
        "cost": cost_profile(metas),
        "phase_totals": _phase_totals(batch, [t["task_id"] for t in task_list]),
        "embedder": options.embedder,
        "model": cfg.llm.model,
        "backend": cfg.llm.backend,
        "switches": {
            "dehallucination": cfg.protocol.cdh.enabled,
            "roles_in_prompts": cfg.protocol.roles_in_prompts,
            "until": cfg.protocol.until,
            "gui_design": cfg.protocol.gui_design,
        },  # fmt: skip
        "srdd": {k: (srdd or {}).get(k) for k in ("path", "sha256", "rows")},
    }
    io.atomic_write_json(
        batch / "cost.json", {"profile": summary["cost"], "by_phase": summary["phase_totals"]}
    )
    from thunlp_repro.chatdev.report import batch_summary_markdown, summary_csv

    io.atomic_write_text(batch / "summary.md", batch_summary_markdown(summary))
    io.atomic_write_text(batch / "summary.csv", summary_csv(summary))
    results = build_results(
        run_info={"paper": "chatdev", "experiment": "batch", "table": "batch",
                  "preset": preset or "custom",
                  "status": "ok" if len(metas) == len(task_list) else "failed",
                  "label": options.label, "partial": len(metas) < len(task_list),
                  "tasks_finished": len(metas), "tasks_total": len(task_list)},
        config={"engine": json.loads(json.dumps(_plain(cfg), default=str)), "batch": opts},
        metrics=_json_safe(summary),
        eval_info={"n_examples": len(metas), "srdd_sha256": (srdd or {}).get("sha256"),
                   "srdd_rows": (srdd or {}).get("rows")},
        meta={"model": cfg.llm.model, "backend": cfg.llm.backend, "seed": cfg.llm.seed},
    )  # fmt: skip
    io.atomic_write_json(batch / "results.json", results)
    return summary


def _plain(cfg: Any) -> dict[str, Any]:
    from thunlp_repro.shared.config import to_dict

    return to_dict(cfg)


def _json_safe(obj: Any) -> Any:
    """NaN -> None, recursively (results.json must be valid JSON)."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def _per_category(records: list[dict[str, Any]], metas: list[dict[str, Any]],
                  variants: tuple[str, ...]) -> dict[str, Any]:  # fmt: skip
    by_cat: dict[str, dict[str, Any]] = {}
    meta_by_id = {m.get("task_id"): m for m in metas}
    for m in metas:
        cat = m.get("category") or "?"
        entry = by_cat.setdefault(cat, {"n": 0, "tokens": [], "seconds": []})
        entry["n"] += 1
        entry["tokens"].append((m.get("tokens") or {}).get("total_tokens"))
        entry["seconds"].append(m.get("duration_s"))
    for r in records:
        cat = r.get("category") or (meta_by_id.get(r.get("task_id")) or {}).get("category") or "?"
        entry = by_cat.setdefault(cat, {"n": 0, "tokens": [], "seconds": []})
        for v in variants:
            if isinstance(r.get(v), dict):
                for metric in ("completeness", "executability", "consistency", "quality"):
                    entry.setdefault(f"{v}.{metric}", []).append(r[v][metric])
    out = {}
    for cat, entry in sorted(by_cat.items()):
        out[cat] = {k: (_mean(v) if isinstance(v, list) else v) for k, v in entry.items()}
    return out
