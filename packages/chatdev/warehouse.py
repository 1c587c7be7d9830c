"""The official WareHouse layout: `<WareHouse>/<name>_<org>_<timestamp>/` from one of our runs.

The repo writes every project to `WareHouse/<name>_<org>_<%Y%m%d%H%M%S>/`, flat: the code files,
`requirements.txt`, `manual.md`, the three CompanyConfig files it ran with, `meta.txt`, the task
as `<name>.prompt` and the log `<name>_<org>_<timestamp>.log` [repo]. `export_warehouse` builds
that folder from a finished run folder (chatdev.md §2.15), so the official tools (the visualizer's
replay, the statistics, the evaluation script) can read our projects:

- the code tree of `code/` is copied as it is (subfolders kept; the repo's statistics count only
  top-level files, and so does our Software Info);
- the trio: the verbatim files of an imported CompanyConfig (`config/`), and for a built-in or
  native-YAML company the same company written as official JSON (`company_to_trio`), prompt
  lines split the way the repo's loader joins them back (pitfall #20);
- `meta.txt` with the repo's sections (Task, Config as `ChatEnvConfig.<flag>: True|False`,
  Roster, Modality, Ideas, Language, Code_Version, Proposed_images, Incorporated_images);
- the log (`official_log.render_log`) and our `transcript.jsonl` beside it. The file metrics of
  the Software Info block are taken before these two are written, as the repo computes them
  before it moves its log into the folder.

Reproduces: chatdev.md §2.12 (the trio keys), §2.15 (project output, `meta.txt`, `--org`).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

from thunlp_repro.chatdev import official_log
from thunlp_repro.shared.errors import UsageError

logger = logging.getLogger(__name__)

DEFAULT_ORG = "DefaultOrganization"
WAREHOUSE_DIR = "WareHouse"
TRIO = ("ChatChainConfig.json", "PhaseConfig.json", "RoleConfig.json")
_SKIP = {".git", "__pycache__", ".venv", "venv", "node_modules"}
#: Our extra file in the folder (beside the log), not counted by the metrics.
TRANSCRIPT = "transcript.jsonl"


def check_org(org: str) -> str:
    """`--org` must be usable inside one folder name.

    Raises:
        UsageError: empty, or holding a path separator or `..`.
    """
    if not org or not org.strip() or "/" in org or "\\" in org or org in (".", ".."):
        raise UsageError(f"--org {org!r}: give a non-empty name without '/' or '\\'")
    return org


def folder_name(name: str, org: str, timestamp: str) -> str:
    """`<name>_<org>_<timestamp>`, the repo's project folder (and log) name."""
    return "_".join([name, org, timestamp])


def timestamp_of(when: _dt.datetime | float) -> str:
    """The repo's `%Y%m%d%H%M%S` timestamp (local time for a POSIX time)."""
    if not isinstance(when, _dt.datetime):
        when = _dt.datetime.fromtimestamp(when)
    return when.strftime(official_log.TIMESTAMP_FORMAT)


# ------------------------------------------------------------------------------ the trio
def _bool(value: Any) -> str:
    return "True" if value else "False"


def _simple(step: Any) -> dict[str, Any]:
    return {"phase": step.phase, "phaseType": "SimplePhase", "max_turn_step": step.turns,
            "need_reflect": _bool(step.reflect)}  # fmt: skip


def company_to_trio(company: Any) -> dict[str, Any]:
    """The company as the repo's three JSON documents (keyed by file name).

    Prompts are stored as lists of lines the way the repo's loader joins them back: `"\\n\\n"`
    for phases used at the top level of the chain, `"\\n"` for phases used only inside loops;
    role prompts by `"\\n"`. Reading the result with `company.company_from_trio` gives the same
    prompts.
    """
    chain: list[dict[str, Any]] = []
    in_loop: set[str] = set()
    top: set[str] = set()
    for item in company.chain:
        if item.kind == "simple":
            step = item.steps[0]
            top.add(step.phase)
            chain.append(_simple(step))
        else:
            steps = []
            for step in item.steps:
                in_loop.add(step.phase)
                steps.append(_simple(step))
            chain.append({"phase": item.name, "phaseType": "ComposedPhase",
                          "cycleNum": item.cycles, "Composition": steps})  # fmt: skip
    chain_doc: dict[str, Any] = {"chain": chain, "recruitments": list(company.recruitments)}
    for key, value in company.flags.items():
        chain_doc[key] = _bool(value)
    chain_doc["background_prompt"] = company.background_prompt
    phases: dict[str, Any] = {}
    for name, spec in company.phases.items():
        joiner = "\n" if name in in_loop and name not in top else "\n\n"
        phases[name] = {
            "assistant_role_name": spec.assistant,
            "user_role_name": spec.instructor,
            "phase_prompt": spec.prompt.split(joiner),
        }
    roles = {name: text.split("\n") for name, text in company.roles.items()}
    return {"ChatChainConfig.json": chain_doc, "PhaseConfig.json": phases,
            "RoleConfig.json": roles}  # fmt: skip


# ------------------------------------------------------------------------------ meta.txt
def _count(value: Any) -> int:
    if isinstance(value, dict | list | tuple | set):
        return len(value)
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def meta_txt(meta: dict[str, Any], company: Any, task: str) -> str:
    """The repo's `meta.txt`: `<Section>:\\n<value>\\n\\n` for each section."""
    flags = dict(company.flags)
    config = [f"ChatEnvConfig.{k}: {_bool(v)}" for k, v in sorted(flags.items())]
    config.append(f"ChatEnvConfig.background_prompt: {company.background_prompt}")
    sections = [
        ("Task", task),
        ("Config", "\n".join(config)),
        ("Roster", ", ".join(company.recruitments)),
        ("Modality", meta.get("modality") or ""),
        ("Ideas", meta.get("ideas") or ""),
        ("Language", meta.get("language") or ""),
        ("Code_Version", str(float(meta.get("code_version") or 0))),
        ("Proposed_images", str(_count(meta.get("proposed_images")))),
        ("Incorporated_images", str(_count(meta.get("incorporated_images")))),
    ]
    return "".join(f"{name}:\n{value}\n\n" for name, value in sections)


# ------------------------------------------------------------------------------ export
def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def _copy_code(code: Path, target: Path) -> None:
    if not code.is_dir():
        return
    for path in sorted(code.rglob("*")):
        rel = path.relative_to(code)
        if any(part in _SKIP for part in rel.parts) or not path.is_file():
            continue
        out = target / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, out)


def export_warehouse(
    run_dir: str | Path,
    root: str | Path,
    *,
    org: str = DEFAULT_ORG,
    name: str | None = None,
    timestamp: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the WareHouse folder of a finished run.

    Args:
        run_dir: Our project folder (`code/`, `task.prompt`, `company.yaml`, `meta.json`,
            `transcript.jsonl`, `events.jsonl`).
        root: The WareHouse folder that receives `<name>_<org>_<timestamp>/`.
        org: The organisation (`--org`).
        name: Project name; default meta.json's `name`, else the folder name.
        timestamp: `%Y%m%d%H%M%S`; default the run's start time.
        overwrite: Replace an existing project folder of the same name.

    Returns:
        The project folder.

    Raises:
        UsageError: not a run folder, a bad org, or the target exists without `overwrite`.
    """
    import yaml

    from thunlp_repro.chatdev.company import company_from_native

    run_dir = Path(run_dir)
    check_org(org)
    for needed in ("task.prompt", "company.yaml", "meta.json"):
        if not (run_dir / needed).is_file():
            raise UsageError(f"{run_dir} is not a finished ChatDev run folder (no {needed})")
    meta = json.loads((run_dir / "meta.json").read_text(encoding="utf-8"))
    task = (run_dir / "task.prompt").read_text(encoding="utf-8")
    doc = yaml.safe_load((run_dir / "company.yaml").read_text(encoding="utf-8")) or {}
    company = company_from_native(doc, str(run_dir / "company.yaml"))
    name = safe_name(name or meta.get("name") or run_dir.name)
    started = official_log.to_datetime(meta.get("started_at")) or _dt.datetime.now()
    finished = official_log.to_datetime(meta.get("finished_at")) or started
    timestamp = timestamp or timestamp_of(started)
    base = folder_name(name, org, timestamp)
    folder = Path(root) / base
    if folder.exists() and any(folder.iterdir()):
        if not overwrite:
            raise UsageError(f"{folder} exists; pass --overwrite to replace it")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _copy_code(run_dir / "code", folder)
    generated = company_to_trio(company)
    for file in TRIO:
        original = run_dir / "config" / file
        if original.is_file():
            shutil.copy2(original, folder / file)
        else:
            text = json.dumps(generated[file], indent=4, ensure_ascii=False) + "\n"
            (folder / file).write_text(text, encoding="utf-8")
    (folder / "meta.txt").write_text(meta_txt(meta, company, task), encoding="utf-8")
    (folder / f"{name}.prompt").write_text(task, encoding="utf-8")
    info = official_log.folder_info(folder)
    engine = {}
    if (run_dir / "config.yaml").is_file():
        engine = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) or {}
    default_turns = int((engine.get("protocol") or {}).get("default_turns") or 10)
    records = _read_jsonl(run_dir / TRANSCRIPT)
    events = _read_jsonl(run_dir / "events.jsonl")
    log_path = folder / f"{base}.log"
    text = official_log.render_log(
        task=task,
        project_name=name,
        org=org,
        timestamp=timestamp,
        records=records,
        events=events,
        company=company,
        model=meta.get("model"),
        info=info,
        started=started,
        finished=finished,
        duration_s=float(meta.get("duration_s") or 0.0),
        log_path=str(log_path),
        config_paths={file: str(folder / file) for file in TRIO},
        marker=str((meta.get("switches") or {}).get("marker") or "<INFO>"),
        sampling={k: meta.get(k) for k in ("temperature", "top_p", "seed")},
        default_turns=default_turns,
    )
    log_path.write_text(text, encoding="utf-8")
    if (run_dir / TRANSCRIPT).is_file():
        shutil.copy2(run_dir / TRANSCRIPT, folder / TRANSCRIPT)
    return folder


def default_root(project_path: Path) -> Path:
    """The WareHouse beside the project folder (`runs/chatdev/WareHouse`, `<batch>/WareHouse`)."""
    return Path(project_path).parent / WAREHOUSE_DIR


def safe_name(name: str) -> str:
    """A project name as one path component (the repo uses `--name` verbatim)."""
    return re.sub(r"[\\/]", "_", name)
