"""Run folders: contents, refusal to overwrite, resume and overwrite (conventions.md §2.6)."""

from __future__ import annotations

import json

import pytest
import yaml

from thunlp_repro.shared.errors import RunDirExistsError, UsageError
from thunlp_repro.shared.finetune import FinetuneConfig
from thunlp_repro.shared.rundir import RunDir


def test_run_folder_holds_config_env_command_and_results(run_root):
    run = RunDir.open("finetune", "r1")
    assert run.path == run_root / "finetune" / "r1"
    cfg = FinetuneConfig()
    run.write_config(cfg)
    run.write_command(["thunlp-repro", "finetune"])
    env = run.write_env(world_size=1)
    run.append_metrics({"step": 1, "train/loss": 0.5})
    info = {"paper": "finetune", "experiment": "x", "table": "t", "preset": "mini"}
    run.write_results(run_info=info, config=cfg, metrics={"acc": 0.9})

    assert yaml.safe_load(run.config_path.read_text())["train"]["max_steps"] == 100
    assert "thunlp-repro finetune" in (run.path / "command.txt").read_text()
    assert env["packages"]["torch"] and env["world_size"] == 1
    assert json.loads((run.path / "env.json").read_text())["hardware"]["cpu_count"] >= 1
    assert run.read_metrics() == [{"step": 1, "train/loss": 0.5}]
    results = json.loads(run.results_path.read_text())
    assert set(results) == {"schema_version", "run_info", "config", "metrics", "eval_info", "meta"}
    assert results["run_info"]["status"] == "ok" and results["metrics"] == {"acc": 0.9}
    assert not list(run.path.glob(".*.tmp"))  # atomic write left no temp file


def test_existing_folder_is_refused_without_a_flag(run_root):
    run = RunDir.open("finetune", "r2")
    info = {"paper": "finetune", "experiment": "x", "table": "t", "preset": "mini"}
    run.write_results(run_info=info, config={}, metrics={"keep": 1})
    with pytest.raises(RunDirExistsError, match="--resume auto.*--overwrite"):
        RunDir.open("finetune", "r2")
    resumed = RunDir.open("finetune", "r2", resume=True)
    assert resumed.resumed and resumed.results_path.is_file()  # nothing lost
    fresh = RunDir.open("finetune", "r2", overwrite=True)
    assert not fresh.results_path.exists()
    with pytest.raises(UsageError, match="exclude each other"):
        RunDir.open("finetune", "r2", resume=True, overwrite=True)


def test_default_name_has_time_and_sha(run_root):
    run = RunDir.open("finetune")
    assert run.path.parent == run_root / "finetune"
    assert run.path.name.startswith("finetune-")


def test_reuse_or_start_reuses_finished_and_resumes_unfinished(run_root):
    cfg = FinetuneConfig()
    run, finished = RunDir.reuse_or_start("finetune", cfg, "exp")
    assert not finished and run.config_path.is_file()
    again, finished = RunDir.reuse_or_start("finetune", cfg, "exp")
    assert not finished and again.resumed  # no results yet: resume
    info = {"paper": "finetune", "experiment": "x", "table": "t", "preset": "mini"}
    again.write_results(run_info=info, config=cfg, metrics={"acc": 1.0})
    done, finished = RunDir.reuse_or_start("finetune", cfg, "exp")
    assert finished and json.loads(done.results_path.read_text())["metrics"] == {"acc": 1.0}
