"""End to end through the real `openai` client and the scripted fake HTTP server (`ci` tier,
chatdev.md §5.1): the three scripted tasks, record/replay with zero HTTP calls, retries inside a
run, the CLI, and an official trio company."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from thunlp_repro.chatdev.config import load_chatdev_config
from thunlp_repro.chatdev.fake_server import FakeOpenAIServer
from thunlp_repro.chatdev.pipeline import replay_project, run_project
from thunlp_repro.chatdev.scenarios import CONVERTER, DICE, TASKS, chatdev_script
from thunlp_repro.cli import chatdev as chatdev_cli
from thunlp_repro.shared.io import read_json
from thunlp_repro.shared.llm.scripted import Fault

FAST = ["llm.backoff_base_s=0.01", "llm.max_attempts=3", "sandbox.timeout_s=3",
        "sandbox.grace_s=0.5", "protocol.default_turns=3", "llm.model=fake-model"]  # fmt: skip


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def _cfg(url, *sets):
    cfg, _ = load_chatdev_config(
        "paper", overrides=[*FAST, "llm.backend=openai", f"llm.base_url={url}", *sets]
    )
    return cfg


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.task_id)
def test_scripted_tasks_full_chain_and_replay(tmp_path, task):
    with FakeOpenAIServer(chatdev_script(task, buggy=True, cdh_questions=True)) as server:
        result = run_project(task.task, name=task.task_id, cfg=_cfg(server.url), root=tmp_path)
        n_http = len(server.chat_requests())
    assert result.status == "done", result.reason
    code = result.path / "code"
    for path, content in task.files.items():
        assert (code / path).read_text() == content  # the crash was fixed in the Test loop
    assert result.meta["verdicts"] == ["crash", "ok"] and result.meta["final_verdict"] == "ok"
    assert result.meta["first_error_type"] in ("NameError", "ImportError", "TypeError")
    assert result.meta["sandbox_isolation"]["name"] == "bwrap" and result.meta["network_isolated"]
    assert (code / "manual.md").is_file() and (code / "requirements.txt").is_file()
    assert result.meta["llm_calls"] == n_http == len(result.path.joinpath(
        "transcript.jsonl").read_text().splitlines())  # fmt: skip
    tags = [r["tags"]["phase"] for r in server.chat_requests()]
    assert tags[:3] == ["DemandAnalysis", "LanguageChoose", "Coding"]
    # replay: byte-identical code and docs, zero HTTP calls (the server is gone)
    replayed = replay_project(result.path)
    assert replayed.identical, replayed.differences
    assert replayed.result.meta["final_verdict"] == "ok"
    assert replayed.result.meta["tokens"] == result.meta["tokens"]


def test_retries_inside_a_run_are_one_record(tmp_path):
    script = chatdev_script(DICE)
    script.prepend(Fault(429, "rate", retry_after=0), phase="Coding", times=1)
    script.prepend(Fault(500, "oops"), phase="Manual", times=1)
    with FakeOpenAIServer(script) as server:
        result = run_project(DICE.task, name="r", cfg=_cfg(server.url), root=tmp_path)
    assert result.status == "done"
    records = [json.loads(x) for x in (result.path / "transcript.jsonl").read_text().splitlines()]
    attempts = {r["phase"]: r["attempts"] for r in records}
    assert attempts["Coding"] == 2 and attempts["Manual"] == 2 and attempts["DemandAnalysis"] == 1
    assert len(server.chat_requests()) == len(records) + 2


def test_llm_error_keeps_outputs(tmp_path):
    script = chatdev_script(DICE)
    script.prepend(Fault(500, "down"), phase="CodeReviewComment")
    with FakeOpenAIServer(script) as server:
        result = run_project(DICE.task, name="e", cfg=_cfg(server.url), root=tmp_path)
    assert result.status == "error" and "HTTP 500" in result.reason
    assert (result.path / "code" / "main.py").is_file()
    last = json.loads((result.path / "transcript.jsonl").read_text().splitlines()[-1])
    assert last["error"] and last["response"] is None


def test_official_trio_company_runs(tmp_path):
    from tests.unit.chatdev.trio import write_trio

    trio = write_trio(tmp_path / "TinyCo")
    with FakeOpenAIServer(chatdev_script(DICE)) as server:
        result = run_project(DICE.task, name="t", root=tmp_path / "runs",
                             cfg=_cfg(server.url, f"project.company={trio}"))  # fmt: skip
        coding = next(r for r in server.chat_requests() if r["tags"]["phase"] == "Coding")
    assert result.status == "done"
    assert coding["body"]["messages"][-1]["content"].startswith("Task: " + DICE.task)
    assert "Tiny Co builds small tools" in coding["body"]["messages"][0]["content"]
    assert (result.path / "config" / "ChatChainConfig.json").is_file()
    assert result.meta["company"]["name"] == "TinyCo"
    assert replay_project(result.path).identical


def test_cli_run_and_replay(tmp_path):
    runner = CliRunner()
    with FakeOpenAIServer(chatdev_script(CONVERTER, buggy=True)) as server:
        args = ["run", "--task", CONVERTER.task, "--name", "cli", "--base-url", server.url,
                "--model", "fake-model", "--out", str(tmp_path), "--preset", "paper",
                "--no-dehallucination", "--git"]  # fmt: skip
        for s in FAST:
            args += ["--set", s]
        done = runner.invoke(chatdev_cli.app, args)
    assert done.exit_code == 0, done.output
    path = tmp_path / "chatdev" / "cli"
    assert done.stdout.strip().splitlines()[-1] == str(path)
    assert "[Coding] Programmer (assistant) is speaking" in done.stderr
    assert "test run: crash" in done.stderr and "status: done" in done.stderr
    meta = read_json(path / "meta.json")
    assert meta["switches"]["dehallucination"] is False and meta["switches"]["git"] is True
    again = runner.invoke(chatdev_cli.app, ["replay", str(path)])
    assert again.exit_code == 0, again.output
    assert "identical" in again.stderr
    assert again.stdout.strip() == str(tmp_path / "chatdev" / "cli-replay")
    # an existing folder is never reused silently
    clash = runner.invoke(chatdev_cli.app, ["replay", str(path)])
    assert clash.exit_code == 2 and "--overwrite" in clash.stderr


def test_cli_budget_stop_exit_code(tmp_path):
    with FakeOpenAIServer(chatdev_script(DICE)) as server:
        args = ["run", "-t", DICE.task, "-n", "b", "--base-url", server.url, "--out",
                str(tmp_path), "-p", "paper", "--set", "budget.max_llm_calls=2"]  # fmt: skip
        for s in FAST:
            args += ["--set", s]
        done = CliRunner().invoke(chatdev_cli.app, args)
    assert done.exit_code == 1 and "status: budget_exceeded" in done.stderr
    assert read_json(tmp_path / "chatdev" / "b" / "meta.json")["status"] == "budget_exceeded"


def test_cli_usage_errors(tmp_path):
    runner = CliRunner()
    done = runner.invoke(chatdev_cli.app, ["run", "-t", "x", "-n", "y", "--local",
                                           "--base-url", "http://x/v1"])  # fmt: skip
    assert done.exit_code == 2 and "exclude each other" in done.stderr
    for command in ("run", "serve", "replay"):
        assert runner.invoke(chatdev_cli.app, [command, "--help"]).exit_code == 0


def test_cli_local_without_llama_cpp_is_one_line(tmp_path, monkeypatch):
    from thunlp_repro.chatdev import local_server

    if local_server.llama_cpp_available():
        pytest.skip("llama-cpp-python is installed")
    done = CliRunner().invoke(
        chatdev_cli.app, ["run", "-t", "x", "-n", "l", "--local", "--out", str(tmp_path)]
    )
    assert done.exit_code == 2 and "pip install 'thunlp-repro[local-llm]'" in done.stderr
    assert not (tmp_path / "chatdev" / "l").exists()
