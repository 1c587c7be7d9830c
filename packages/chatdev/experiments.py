"""ChatDev's registered experiments (`thunlp-repro reproduce-all`, `results/<preset>/chatdev/`).

- ``chatdev/ci``: the `ci` tier: a batch of our three scripted tasks against the fake
  OpenAI-compatible server (no model, hashed embeddings), through the real batch runner, the
  metrics and the aggregate; seconds.
- ``chatdev/table1``: the `mini-llm` tier's evaluation batch: one SRDD task from each of 20
  categories (`--per-category 1 --limit 20`, seed 0) with the local Qwen coder, both metric
  variants, MiniLM consistency, the cost profile (Tables 1 and 3). Needs llama-cpp-python, the
  `qwen-coder-1.5b` asset and SRDD; when one is missing it is skipped with a warning (nothing
  written). Without Xvfb the `mini-headless` preset is used (no GUI sentence). The batch folder
  is `runs/chatdev-batches/<preset>-table1` and is resumed when it exists.

Register by importing this module (`cli/main.py::register_experiments`).

Reproduces: ChatDev Tables 1 and 3; chatdev.md §5.1, §5.2 (M10), §2.17.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

BATCH_ROOT = Path("runs") / "chatdev-batches"


def _export(batch_dir: Path, target: Path, table: str) -> None:
    from thunlp_repro.shared import io

    result = io.read_json(batch_dir / "results.json")
    result["run_info"] = {**result["run_info"], "table": table}
    io.atomic_write_json(target, result)


def run_ci(preset: str, target: Path, overwrite: bool) -> None:
    """Scripted batch of three tasks against the fake server (the `ci` tier)."""
    import csv
    import os

    from thunlp_repro.chatdev.batch import BatchOptions, run_batch
    from thunlp_repro.chatdev.config import load_chatdev_config
    from thunlp_repro.chatdev.fake_server import FakeOpenAIServer
    from thunlp_repro.chatdev.scenarios import DICE, TASKS, chatdev_script
    from thunlp_repro.shared.srdd import load_srdd

    del overwrite
    work = Path(tempfile.mkdtemp(prefix="chatdev-ci-"))
    try:
        tasks_csv = work / "tasks.csv"
        with open(tasks_csv, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["Name", "Description", "Category"])
            for task in TASKS:
                writer.writerow([task.title.replace(" ", "_"), task.task, "Scripted"])
        os.environ.setdefault("OPENAI_API_KEY", "fake-key")
        with FakeOpenAIServer(chatdev_script(DICE, buggy=True)) as server:
            cfg, _ = load_chatdev_config("paper", overrides=[
                "llm.backend=openai", f"llm.base_url={server.url}", "llm.model=fake-model",
                "sandbox.timeout_s=3", "protocol.default_turns=3"])  # fmt: skip
            run_batch(
                load_srdd(tasks_csv),
                out=work / "batch",
                cfg=cfg,
                preset=preset,
                options=BatchOptions(concurrency=2, embedder="hash", eval_timeout_s=3),
            )
        _export(work / "batch", target, "ci")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_table1(preset: str, target: Path, overwrite: bool) -> None:
    """The stratified 20-task SRDD batch with the local Qwen coder (skipped when unavailable)."""
    from thunlp_repro.chatdev.batch import BatchOptions, run_batch
    from thunlp_repro.chatdev.config import load_chatdev_config
    from thunlp_repro.chatdev.local_server import llama_cpp_available
    from thunlp_repro.shared.assets import is_installed
    from thunlp_repro.shared.errors import UsageError
    from thunlp_repro.shared.srdd import load_srdd, select, srdd_info

    if preset != "mini":
        logger.warning("chatdev/table1 runs at the mini preset only (paper scale needs an API "
                       "key: use `thunlp-repro chatdev batch`); skipped")  # fmt: skip
        return
    missing = [n for n, ok in (("llama-cpp-python", llama_cpp_available()),
                               ("qwen-coder-1.5b", is_installed("qwen-coder-1.5b")),
                               ("minilm-l6", is_installed("minilm-l6"))) if not ok]  # fmt: skip
    try:
        tasks = select(load_srdd(), None, 1, 0)[:20] if not missing else []
        info = srdd_info() if not missing else None
    except UsageError as exc:
        missing.append(f"SRDD ({exc})")
    if missing:
        logger.warning("chatdev/table1 skipped: missing %s", ", ".join(missing))
        return
    chosen = "mini" if shutil.which("xvfb-run") else "mini-headless"
    cfg, _ = load_chatdev_config(chosen)
    out = BATCH_ROOT / f"{chosen}-table1"
    run_batch(tasks, out=out, cfg=cfg, options=BatchOptions(concurrency=1), preset="mini",
              srdd=info, resume=out.exists() and not overwrite, overwrite=overwrite)  # fmt: skip
    _export(out, target, "table1")


def _register() -> None:
    from thunlp_repro.shared.experiments import EXPERIMENTS, Experiment, register_experiment

    if "chatdev/ci" not in EXPERIMENTS:
        register_experiment(
            Experiment(
                "chatdev",
                "ci",
                "scripted 3-task batch against the fake server (ci tier)",
                run_ci,
                profiles=("quick", "full"),
                minutes={"quick": 1.0, "full": 1.0},
            )
        )
    if "chatdev/table1" not in EXPERIMENTS:
        from thunlp_repro.chatdev.dryrun import table1_paper_plan

        # At paper scale the node plans the full SRDD batch's API cost; running it is
        # `chatdev batch --preset paper` with the user's key (run_table1 says so and skips).
        register_experiment(Experiment(
            "chatdev", "table1", "20-task stratified SRDD batch with the local Qwen coder "
            "(Tables 1 and 3; mini-llm tier, skipped without the model)", run_table1,
            profiles=("full", "paper"), minutes={"full": 250.0},
            paper_plan=table1_paper_plan))  # fmt: skip


_register()
