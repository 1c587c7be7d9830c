"""Batch runs against the scripted fake server (chatdev.md §2.17, `ci` tier): the concurrency
bound, the aggregate files, resume after a kill (through the CLI, killed with SIGKILL), the
per-task timeout, bad metadata in a task folder, and the existing-folder and config checks.

The task texts are our own (the scripted scenarios); no SRDD row is used.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from thunlp_repro.chatdev.batch import BatchOptions, run_batch, summarise_batch
from thunlp_repro.chatdev.config import load_chatdev_config
from thunlp_repro.chatdev.fake_server import FakeOpenAIServer
from thunlp_repro.chatdev.scenarios import DICE, TASKS, chatdev_script, render_files
from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.llm.scripted import Reply
from thunlp_repro.shared.srdd import load_srdd

FAST = ["llm.model=fake-model", "llm.backoff_base_s=0.01", "llm.max_attempts=2",
        "sandbox.timeout_s=2", "sandbox.grace_s=0.3", "protocol.default_turns=3",
        "protocol.cdh.enabled=false"]  # fmt: skip


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def write_tasks(path: Path, n: int = 3) -> Path:
    """A tiny SRDD-format CSV with our first `n` scripted tasks (two categories)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Name", "Description", "Category"])
        for i, task in enumerate(TASKS[:n]):
            writer.writerow(
                [task.title.replace(" ", "_"), task.task, "Games" if i == 0 else "Tools"]
            )
    return path


def _cfg(url: str, *sets: str):
    cfg, _ = load_chatdev_config(
        "paper", overrides=[*FAST, "llm.backend=openai", f"llm.base_url={url}", *sets]
    )
    return cfg


def _opts(**kw) -> BatchOptions:
    return BatchOptions(**{"embedder": "hash", "eval_timeout_s": 2, **kw})


def test_batch_concurrency_bound_outputs_and_resume(tmp_path):
    tasks = load_srdd(write_tasks(tmp_path / "tasks.csv"))
    script = chatdev_script(DICE)
    coding = render_files(DICE.files, "The files:")
    script.prepend(Reply(coding, delay_s=0.5), phase="Coding")  # overlapping tasks
    out = tmp_path / "batch"
    with FakeOpenAIServer(script) as server:
        done = run_batch(tasks, out=out, cfg=_cfg(server.url), options=_opts(concurrency=2),
                         preset="paper")  # fmt: skip
        n_calls = len(server.chat_requests())
        # every task is finished: a rerun skips all of them and calls nobody
        again = run_batch(None, out=out, cfg=_cfg(server.url), options=_opts(concurrency=2),
                          resume=True)  # fmt: skip
        assert len(server.chat_requests()) == n_calls
    assert sorted(done.ran) == sorted(t.task_id for t in tasks) and not done.timed_out
    assert sorted(again.skipped) == sorted(done.ran) and not again.ran
    # the bound: at no moment do more than 2 children run (child-side clocks)
    spans = [json.loads((out / "logs" / f"{t.task_id}.json").read_text()) for t in tasks]
    assert len({s["pid"] for s in spans}) == 3
    points = sorted([(s["t_start"], 1) for s in spans] + [(s["t_end"], -1) for s in spans])
    level, peak = 0, 0
    for _, step in points:
        level += step
        peak = max(peak, level)
    assert peak == 2
    # outputs
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 6 and {x["variant"] for x in lines} == {"compatible", "strict"}
    summary = json.loads((out / "results.json").read_text())["metrics"]
    assert summary["n_finished"] == 3 and summary["statuses"] == {"done": 3}
    assert summary["variants"]["strict"]["executability"]["mean"] == 1.0
    assert set(summary["per_category"]) == {"Games", "Tools"}
    assert summary["cost"]["n"] == 3 and summary["cost"]["total_tokens"] > 0
    assert "Coding" in summary["phase_totals"]
    text = (out / "summary.md").read_text()
    assert "## T1: the four metrics" in text and "## T3: cost profile per software" in text
    assert (out / "summary.csv").read_text().startswith("scope,variant,metric")
    meta = json.loads((out / tasks[0].task_id / "meta.json").read_text())
    assert meta["category"] == "Games" and meta["batch_config_hash"]
    # a snapshot of an unfinished batch counts only the finished tasks
    (out / tasks[2].task_id / "meta.json").unlink()
    partial = summarise_batch(out, _opts())
    assert (partial["n_finished"], partial["n_tasks"]) == (2, 3)
    assert json.loads((out / "results.json").read_text())["run_info"]["partial"] is True
    summarise_batch(out, _opts())  # idempotent
    # the report: our numbers beside the paper's Tables 1, 3, 4; results exported for the
    # shared report (results/<preset>/chatdev/table1.json)
    from thunlp_repro.chatdev.report import write_run_report

    report = write_run_report([out], tmp_path / "report", export_root=tmp_path / "results")
    body = report.read_text()
    for needed in (
        "0.560 [paper]",
        "22949.445 [paper]",
        "| <=Coding | 0.410 |",
        "fake-model",
        "embedder `hash`",
        "![metrics vs paper](plots/metrics.png)",
    ):
        assert needed in body, needed
    assert (tmp_path / "report" / "plots" / "per_category_quality.png").is_file()
    exported = json.loads((tmp_path / "results" / "paper" / "chatdev" / "table1.json").read_text())
    assert exported["run_info"]["table"] == "table1"


def test_batch_resume_after_kill_through_the_cli(tmp_path):
    csv_path = write_tasks(tmp_path / "tasks.csv", n=2)
    tasks = load_srdd(csv_path)
    slow_task = tasks[1]
    script = chatdev_script(DICE)
    script.prepend(Reply("unused", delay_s=60), phase="Coding", pattern=slow_task.description[:30],
                   times=1)  # fmt: skip
    out = tmp_path / "batch"
    with FakeOpenAIServer(script) as server:
        args = [sys.executable, "-m", "thunlp_repro", "chatdev", "batch", "--srdd", str(csv_path),
                "--out", str(out), "--base-url", server.url, "--preset", "paper",
                "--embedder", "hash", "--concurrency", "1", "-q"]  # fmt: skip
        for s in FAST:
            args += ["--set", s]
        proc = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # first task done, second one hanging in Coding
            if (out / tasks[0].task_id / "meta.json").is_file() and any(
                r["tags"].get("phase") == "Coding" and slow_task.description[:30]
                in r["body"]["messages"][-1]["content"] for r in server.chat_requests()
            ):  # fmt: skip
                break
            time.sleep(0.2)
        else:
            pytest.fail("the batch did not reach the second task")
        os.killpg(proc.pid, signal.SIGKILL)  # the whole batch, children included
        proc.wait()
        before = len(server.chat_requests())
        resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=120)
        after = server.chat_requests()[before:]
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not any(tasks[0].description[:30] in r["body"]["messages"][-1]["content"]
                   for r in after)  # the finished task was skipped  # fmt: skip
    assert (out / f"{slow_task.task_id}.partial-1" / "task.prompt").is_file()
    for task in tasks:
        assert json.loads((out / task.task_id / "meta.json").read_text())["status"] == "done"
    assert "ran 1, skipped 1" in resumed.stderr


def test_task_timeout_keeps_the_folder(tmp_path):
    tasks = load_srdd(write_tasks(tmp_path / "tasks.csv", n=1))
    script = chatdev_script(DICE)
    script.prepend(Reply("late", delay_s=30), phase="Coding")
    with FakeOpenAIServer(script) as server:
        done = run_batch(tasks, out=tmp_path / "b", cfg=_cfg(server.url, "llm.max_attempts=1"),
                         options=_opts(task_timeout_s=4))  # fmt: skip
    folder = tmp_path / "b" / tasks[0].task_id
    meta = json.loads((folder / "meta.json").read_text())
    assert done.timed_out == [tasks[0].task_id] and meta["status"] == "timeout"
    assert (folder / "task.prompt").read_text() == tasks[0].description
    record = json.loads((folder / "eval.json").read_text())  # evaluated by the parent
    assert record["strict"]["completeness"] == 0.0  # no code was written


def test_bad_metadata_and_folder_rules(tmp_path):
    tasks = load_srdd(write_tasks(tmp_path / "tasks.csv", n=1))
    out = tmp_path / "b"
    with FakeOpenAIServer(chatdev_script(DICE)) as server:
        cfg = _cfg(server.url)
        run_batch(tasks, out=out, cfg=cfg, options=_opts(evaluate=False))
        with pytest.raises(UsageError, match="--resume"):
            run_batch(tasks, out=out, cfg=cfg, options=_opts(evaluate=False))
        with pytest.raises(UsageError, match="another config"):
            run_batch(None, out=out, cfg=_cfg(server.url, "protocol.cdh.enabled=true"),
                      options=_opts(evaluate=False), resume=True)  # fmt: skip
        (out / tasks[0].task_id / "meta.json").write_text("{corrupt")  # a torn write
        done = run_batch(None, out=out, cfg=cfg, options=_opts(), resume=True)
    assert done.ran == [tasks[0].task_id]  # rerun, not a crash
    assert (out / f"{tasks[0].task_id}.partial-1" / "meta.json").read_text() == "{corrupt"
    assert json.loads((out / tasks[0].task_id / "eval.json").read_text())["strict"]


class _FakeLocalServer:
    """Stands in for `LocalServer`: a scripted fake OpenAI server per instance."""

    started: list[_FakeLocalServer] = []

    def __init__(self, model: str, **kwargs) -> None:
        self.kwargs = kwargs
        self.fake = FakeOpenAIServer(chatdev_script(DICE))
        self.stopped = False

    @property
    def base_url(self) -> str:
        return self.fake.url

    def start(self) -> _FakeLocalServer:
        self.fake.__enter__()
        _FakeLocalServer.started.append(self)
        return self

    def stop(self) -> None:
        self.stopped = True
        self.fake.__exit__(None, None, None)


def test_local_backend_starts_one_server_per_slot(tmp_path, monkeypatch):
    from thunlp_repro.chatdev import local_server

    monkeypatch.setattr(local_server, "LocalServer", _FakeLocalServer)
    _FakeLocalServer.started = []
    tasks = load_srdd(write_tasks(tmp_path / "tasks.csv"))
    cfg, _ = load_chatdev_config(
        "paper", overrides=[*FAST, "llm.backend=local", "llm.local_threads=1"]
    )
    out = tmp_path / "batch"
    done = run_batch(tasks, out=out, cfg=cfg, options=_opts(concurrency=2), preset="paper")
    servers = _FakeLocalServer.started
    assert len(servers) == 2 and all(s.stopped for s in servers)
    assert all(s.kwargs["n_threads"] == 1 for s in servers)
    # three tasks over two slots: both servers answered, every task finished
    assert all(s.fake.chat_requests() for s in servers)
    assert sorted(done.ran) == sorted(t.task_id for t in tasks)
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert len({e["base_url"] for e in events if e["event"] == "server"}) == 2
