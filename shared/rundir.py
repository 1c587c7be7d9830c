"""Run folders: `runs/<pipeline>/<name>/` with config, command, env, log, metrics and results.

A folder that already holds a run is reused only with `resume` (continue it) or `overwrite`
(replace it); anything else is a clear error, so nothing is lost by accident (conventions.md §2.6).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thunlp_repro.shared import io
from thunlp_repro.shared.config import config_diff, to_dict, to_yaml
from thunlp_repro.shared.env import describe_env, git_state
from thunlp_repro.shared.errors import RunDirExistsError, UsageError
from thunlp_repro.shared.paths import runs_root

logger = logging.getLogger(__name__)


def default_run_name(experiment: str) -> str:
    """`<experiment>-<YYYYmmdd-HHMMSS>-<gitsha7>`."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    sha = (git_state().get("sha") or "nogit")[:7]
    return f"{experiment}-{stamp}-{sha}"


def launch_rank() -> tuple[int, str]:
    """(global rank, launch id) under a multi-process launcher; (-1, "") for a plain process."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return -1, ""
    launch = os.environ.get("TORCHELASTIC_RUN_ID") or os.environ.get("MASTER_PORT", "0")
    return int(os.environ.get("RANK", "0")), launch


def _wait_for(marker: Path, timeout_s: float = 300.0) -> None:
    """Block a non-zero rank until rank 0 has set the run folder up."""
    end = time.monotonic() + timeout_s
    while not marker.exists():
        if time.monotonic() > end:
            raise UsageError(f"rank 0 did not create the run folder {marker.parent} in "
                             f"{timeout_s:g} s")  # fmt: skip
        time.sleep(0.05)


@dataclass
class RunDir:
    """One run's folder and the files in it.

    Use `RunDir.open(...)`; it creates, resumes or replaces the folder by the rules above.
    """

    path: Path
    pipeline: str
    resumed: bool = False
    started: float = field(default_factory=time.time)

    @classmethod
    def open(
        cls,
        pipeline: str,
        name: str | None = None,
        *,
        root: str | Path | None = None,
        run_dir: str | Path | None = None,
        resume: bool = False,
        overwrite: bool = False,
    ) -> RunDir:
        """Create (or reuse, with `resume`/`overwrite`) a run folder.

        Args:
            pipeline: Pipeline name (the folder under the runs root).
            name: Run name; default `<pipeline>-<time>-<sha7>`.
            root: Runs root; default `$THUNLP_REPRO_RUNS` or `./runs`.
            run_dir: An explicit folder, instead of root/pipeline/name.
            resume: Continue the run in an existing folder.
            overwrite: Delete an existing folder and start afresh.

        Raises:
            RunDirExistsError: the folder holds a run and neither flag was given.
            UsageError: both flags, or resume of a folder that does not exist.
        """
        if resume and overwrite:
            raise UsageError("--resume and --overwrite exclude each other; pick one")
        if run_dir is not None:
            path = Path(run_dir)
        else:
            path = Path(root or runs_root()) / pipeline / (name or default_run_name(pipeline))
        rank, launch = launch_rank()
        if rank > 0:  # under `accelerate launch` only rank 0 creates, clears or checks the folder
            _wait_for(path / f".launch-{launch}")
            return cls(path=path, pipeline=pipeline, resumed=resume)
        occupied = path.exists() and any(p.name != f".launch-{launch}" for p in path.iterdir())
        if occupied and overwrite:
            shutil.rmtree(path)
            occupied = False
        elif occupied and not resume:
            raise RunDirExistsError(
                f"run folder {path} already exists; pass --resume auto to continue it "
                "or --overwrite to replace it"
            )
        path.mkdir(parents=True, exist_ok=True)
        (path / "checkpoints").mkdir(exist_ok=True)
        if rank == 0:
            (path / f".launch-{launch}").touch()
        return cls(path=path, pipeline=pipeline, resumed=occupied)

    @classmethod
    def start(
        cls,
        pipeline: str,
        cfg: Any,
        name: str | None = None,
        *,
        run_dir: str | Path | None = None,
        resume: bool = False,
        overwrite: bool = False,
    ) -> RunDir:
        """Open the folder (rules of `open`) and record the run: log, command, config, env."""
        run = cls.open(pipeline, name, run_dir=run_dir, resume=resume, overwrite=overwrite)
        if launch_rank()[0] > 0:
            return run
        run.attach_log()
        run.write_command()
        run.write_config(cfg)
        run.write_env()
        return run

    @classmethod
    def reuse_or_start(
        cls, pipeline: str, cfg: Any, name: str, *, overwrite: bool = False
    ) -> tuple[RunDir, bool]:
        """For experiment runners: reuse a finished run, resume an unfinished one, or start.

        Returns:
            The run and whether it is already finished (its `results.json` exists).
        """
        try:
            return cls.start(pipeline, cfg, name, overwrite=overwrite), False
        except RunDirExistsError:
            run = cls.open(pipeline, name, resume=True)
            if run.results_path.is_file():
                return run, True
            return cls.start(pipeline, cfg, name, resume=True), False

    # ---------------------------------------------------------------- files
    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def results_path(self) -> Path:
        return self.path / "results.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def export_dir(self) -> Path:
        return self.path / "export"

    def write_config(self, cfg: Any) -> None:
        """Save the resolved config; on resume, log how it differs from the saved one."""
        if self.resumed and self.config_path.is_file():
            import yaml

            saved = yaml.safe_load(self.config_path.read_text(encoding="utf-8")) or {}
            for change in config_diff(saved, to_dict(cfg)):
                logger.warning("resumed run's config differs: %s", change)
        io.atomic_write_text(self.config_path, to_yaml(cfg))

    def write_command(self, argv: list[str] | None = None) -> None:
        """Record how the run was started (argv and working directory)."""
        argv = list(sys.argv if argv is None else argv)
        line = f"cd {os.getcwd()} && {' '.join(argv)}\n"
        with open(self.path / "command.txt", "a", encoding="utf-8") as fh:
            fh.write(line)

    def write_env(self, **extra: Any) -> dict[str, Any]:
        """Write `env.json` (versions, git, hardware, plus run-specific extras)."""
        env = describe_env(**extra)
        io.atomic_write_json(self.path / "env.json", env)
        return env

    def attach_log(self, level: int = logging.INFO) -> logging.Handler:
        """Send the project's log records to `log.txt` as well (appends on resume)."""
        handler = logging.FileHandler(self.path / "log.txt", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(level)
        logging.getLogger("thunlp_repro").addHandler(handler)
        return handler

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one JSON line to `metrics.jsonl`."""
        with open(self.metrics_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True, default=float) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        """All records of `metrics.jsonl` (empty when none)."""
        if not self.metrics_path.is_file():
            return []
        lines = self.metrics_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def write_results(
        self,
        *,
        run_info: dict[str, Any],
        config: Any,
        metrics: dict[str, Any],
        eval_info: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Path:
        """Atomically write `results.json` with the sections of conventions.md §2.8.

        `run_info` needs paper, experiment, table and preset (the schema's required keys).
        """
        from thunlp_repro.shared.reporting.results import build_results

        info = {"duration_s": round(time.time() - self.started, 3), **run_info}
        cfg = config if isinstance(config, dict) else to_dict(config)
        doc = build_results(info, cfg, metrics, eval_info, meta)
        return io.atomic_write_json(self.results_path, doc)
