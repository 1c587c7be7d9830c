"""The project folder: code tree, docs, transcript, events, log, meta, cost, git and incremental.

Layout (a shared run folder, chatdev.md §2.15): `code/` (source tree, `requirements.txt`,
`manual.md`), `task.prompt`, `meta.json`, `meta.txt`, `config.yaml` (resolved engine config),
`company.yaml` (resolved native company), `config/` (verbatim trio files), `transcript.jsonl`,
`events.jsonl`, `log.txt`, `cost.json`, `results.json`, `env.json`, and `base/` in incremental
mode. Git mode commits each code-changing step in `code/` through argument lists (never a
shell, never a submodule).

Reproduces: chatdev.md §2.15; pitfalls #14-#16, #18.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from thunlp_repro.chatdev.phases import ChatEnv
from thunlp_repro.shared import io
from thunlp_repro.shared.llm.accounting import totals, totals_by
from thunlp_repro.shared.llm.pricing import model_info
from thunlp_repro.shared.llm.transcript import TranscriptWriter
from thunlp_repro.shared.rundir import RunDir

logger = logging.getLogger(__name__)
_readable = logging.getLogger("thunlp_repro.chatdev.dialogue")  # log.txt only (no console)

SKIP_DIRS = (".git", "__pycache__", ".venv", "venv", "node_modules")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "ChatDev",
    "GIT_AUTHOR_EMAIL": "chatdev@localhost",
    "GIT_COMMITTER_NAME": "ChatDev",
    "GIT_COMMITTER_EMAIL": "chatdev@localhost",
}


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


class Project:
    """One project's folder and its writers.

    Args:
        rundir: The shared run folder.
        git: Commit every code-changing step in `code/`.
        on_event: Live-view callback, receives every event dict.
    """

    def __init__(
        self, rundir: RunDir, git: bool = False, on_event: Callable[[dict], None] | None = None
    ) -> None:
        self.rundir = rundir
        self.path = rundir.path
        self.code_dir = self.path / "code"
        self.code_dir.mkdir(parents=True, exist_ok=True)
        for name in ("transcript.jsonl", "events.jsonl"):
            (self.path / name).unlink(missing_ok=True)
        self.transcript = TranscriptWriter(self.path / "transcript.jsonl")
        self.events: list[dict[str, Any]] = []
        self.on_event = on_event
        self.git = git and shutil.which("git") is not None
        if git and not self.git:
            logger.warning("git mode requested but git is not installed; skipped")
        self._git_ready = False
        self._log_handler = rundir.attach_log()
        self._log_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S%z")
        )
        _readable.propagate = False
        _readable.setLevel(logging.INFO)
        _readable.addHandler(self._log_handler)

    @classmethod
    def open(
        cls,
        name: str,
        *,
        root: str | Path | None = None,
        run_dir: str | Path | None = None,
        overwrite: bool = False,
        git: bool = False,
        on_event: Callable[[dict], None] | None = None,
    ) -> Project:
        """Create the folder (an existing non-empty one needs `overwrite`)."""
        rundir = RunDir.open("chatdev", name, root=root, run_dir=run_dir, overwrite=overwrite)
        shutil.rmtree(rundir.checkpoints, ignore_errors=True)  # ChatDev keeps state elsewhere
        return cls(rundir, git=git, on_event=on_event)

    def close(self) -> None:
        logging.getLogger("thunlp_repro").removeHandler(self._log_handler)
        logging.getLogger("thunlp_repro.chatdev.dialogue").removeHandler(self._log_handler)
        self._log_handler.close()

    # ------------------------------------------------------------------ events
    def event(self, kind: str, **data: Any) -> dict[str, Any]:
        """Append one event to events.jsonl (and the log and live view)."""
        record = {"seq": len(self.events), "event": kind, "time": _now(), **data}
        self.events.append(record)
        with open(self.path / "events.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True, default=str) + "\n")
        if kind not in ("code_update",):
            brief = {k: v for k, v in data.items() if k not in ("diff", "result", "conclusion")}
            _readable.info("%s %s", kind, json.dumps(brief, ensure_ascii=False, default=str))
        if self.on_event:
            self.on_event(record)
        return record

    # ------------------------------------------------------------------ inputs
    def write_inputs(self, task: str, cfg_yaml: str, company: Any) -> None:
        io.atomic_write_text(self.path / "task.prompt", task)
        io.atomic_write_text(self.path / "config.yaml", cfg_yaml)
        io.atomic_write_text(self.path / "company.yaml", company.to_yaml())
        if company.originals:
            for name, text in company.originals.items():
                io.atomic_write_text(self.path / "config" / name, text)

    def load_incremental(self, source: Path, env: ChatEnv) -> list[str]:
        """Copy an existing tree into `base/` and the codebook (whole tree, any language)."""
        if not source.is_dir():
            from thunlp_repro.shared.errors import UsageError

            raise UsageError(f"--incremental folder not found: {source}")
        base = self.path / "base"
        if base.resolve() != source.resolve():
            shutil.rmtree(base, ignore_errors=True)
            shutil.copytree(
                source, base,
                ignore=shutil.ignore_patterns(*SKIP_DIRS),
            )  # fmt: skip
        skipped = env.codebook.load_tree(base)
        req = base / "requirements.txt"
        if req.is_file():
            from thunlp_repro.chatdev.codebook import clean_requirements

            env.requirements, _ = clean_requirements(req.read_text(encoding="utf-8"))
            env.requirements_set = True
        self.sync_code(env, "Base (incremental)")
        return skipped

    # ------------------------------------------------------------------ code
    def sync_code(self, env: ChatEnv, message: str | None = None) -> None:
        """Write the codebook and docs into `code/`; commit in git mode."""
        env.codebook.write(self.code_dir)
        if env.requirements_set:
            text = "\n".join(env.requirements) + ("\n" if env.requirements else "")
            (self.code_dir / "requirements.txt").write_text(text, encoding="utf-8")
        if env.manual is not None:
            (self.code_dir / "manual.md").write_text(env.manual, encoding="utf-8")
        if message and self.git:
            self.commit(message)

    def _git(self, *args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, **GIT_ENV}
        return subprocess.run(["git", *args], cwd=self.code_dir, env=env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip

    def commit(self, message: str) -> None:
        """One commit of the code tree (`git init` on first use)."""
        if not self._git_ready:
            self._git("init", "-q")
            self._git("config", "commit.gpgsign", "false")
            self._git_ready = True
        self._git("add", "-A")
        done = self._git("commit", "-q", "--allow-empty", "-m", message)
        if done.returncode != 0:
            logger.warning("git commit failed: %s", done.stderr.strip())

    # ------------------------------------------------------------------ outputs
    def finalize(
        self,
        *,
        status: str,
        reason: str | None,
        env: ChatEnv,
        meta: dict[str, Any],
        cfg: Any,
        company: Any,
    ) -> dict[str, Any]:
        """Write code, docs, meta.json, meta.txt, cost.json and results.json."""
        self.sync_code(env, f"Final v{env.codebook.version}" if env.codebook.files else None)
        records = self.transcript.records
        total = totals(records)
        price = model_info(cfg.llm.model, cfg.llm.prices)
        cost = {
            "total": total,
            "by_phase": totals_by(records, "phase"),
            "by_role": totals_by(records, "speaker"),
            "model": cfg.llm.model,
            "prices_per_1m": {
                "input": price.get("input_per_1m"),
                "output": price.get("output_per_1m"),
                "date": price.get("price_date"),
            },
            "cost_known": total["cost_usd"] is not None,
        }
        io.atomic_write_json(self.path / "cost.json", cost)
        files = sorted(env.codebook.files)
        lines_all = sum(len([ln for ln in c.splitlines() if ln.strip()])
                        for c in env.codebook.files.values())  # fmt: skip
        py_top = [p for p in files if p.endswith(".py") and "/" not in p]
        lines_py = sum(len([ln for ln in env.codebook.files[p].splitlines() if ln.strip()])
                       for p in py_top)  # fmt: skip
        doc = {
            "status": status,
            "reason": reason,
            "task": env.task,
            "modality": env.modality,
            "language": env.language,
            "entry_point": env.codebook.entry_point(),
            "code_version": env.codebook.version,
            "files": files,
            "n_files": len(files),
            "n_files_repo": len(py_top),
            "n_lines": lines_all,
            "n_lines_repo": lines_py,
            "requirements": env.requirements,
            "tokens": {k: total[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")},
            "cost_usd": total["cost_usd"],
            "llm_calls": total["llm_calls"],
            "finished_at": _now(),
            **meta,
        }
        io.atomic_write_json(self.path / "meta.json", doc)
        io.atomic_write_text(self.path / "meta.txt", _meta_txt(doc, company))
        self.rundir.write_results(
            run_info={"paper": "chatdev", "experiment": "project", "table": "project",
                      "preset": meta.get("preset") or "custom", "status":
                      "ok" if status == "done" else "failed", "project_status": status},
            config=cfg,
            metrics={
                "total_tokens": total["total_tokens"], "cost_usd": total["cost_usd"],
                "llm_calls": total["llm_calls"], "n_files": len(files), "n_lines": lines_all,
                "final_verdict": meta.get("final_verdict"), "duration_s": meta.get("duration_s"),
            },
            meta={"model": cfg.llm.model, "backend": meta.get("backend"), "seed": cfg.llm.seed},
        )  # fmt: skip
        return doc


def _meta_txt(doc: dict[str, Any], company: Any) -> str:
    """Repo-style meta.txt sections, for tools that expect them."""
    sections = [
        ("Task", doc["task"]),
        ("Config", f"ChatDev company {company.name} ({company.source})"),
        ("Roster", ", ".join(company.recruitments)),
        ("Modality", doc.get("modality") or ""),
        ("Ideas", ""),
        ("Language", doc.get("language") or ""),
        ("Code_Version", str(float(doc.get("code_version") or 0))),
        ("Proposed_images", str(len(doc.get("proposed_images") or {}))),
        ("Incorporated_images", str(len(doc.get("incorporated_images") or []))),
    ]
    return "\n\n".join(f"{name}:\n{value}" for name, value in sections) + "\n"
