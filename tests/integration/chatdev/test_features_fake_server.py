"""Official features end to end through the CLI, the real `openai` client and the fake HTTP
server: Art (pictures from `/v1/images/generations`, used by the program in the sandbox),
experiential co-learning memory (built by `build-memory` from an earlier run, embeddings from
`/v1/embeddings`, the shortcut in the prompt the server receives), human review from a file."""

from __future__ import annotations

import copy

import pytest
from typer.testing import CliRunner

from tests.unit.chatdev.test_art import WITH_PICTURES, art_script
from tests.unit.chatdev.test_company import ART_LOOP
from tests.unit.chatdev.trio import CHAIN, write_trio
from thunlp_repro.chatdev.art import is_png
from thunlp_repro.chatdev.fake_server import FakeOpenAIServer
from thunlp_repro.chatdev.scenarios import DICE, chatdev_script, render_files
from thunlp_repro.cli import chatdev as chatdev_cli
from thunlp_repro.shared.io import read_json

FAST = ["llm.backoff_base_s=0.01", "llm.max_attempts=3", "sandbox.timeout_s=3",
        "sandbox.grace_s=0.5", "protocol.default_turns=3", "llm.model=fake-model"]  # fmt: skip
TEST_LOOP = {"phase": "Test", "phaseType": "ComposedPhase", "cycleNum": 3, "Composition": [
    {"phase": "TestErrorSummary", "phaseType": "SimplePhase", "max_turn_step": 1,
     "need_reflect": "False"},
    {"phase": "TestModification", "phaseType": "SimplePhase", "max_turn_step": 1,
     "need_reflect": "False"}]}  # fmt: skip


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def _run(server, out, name, *extra):
    args = ["run", "--task", DICE.task, "--name", name, "--base-url", server.url, "--model",
            "fake-model", "--out", str(out), "--preset", "paper", *extra]  # fmt: skip
    for s in FAST:
        args += ["--set", s]
    return CliRunner().invoke(chatdev_cli.app, args)


def test_art_company_pictures_are_used_by_the_program(tmp_path):
    doc = copy.deepcopy(CHAIN)
    doc["chain"].insert(3, copy.deepcopy(ART_LOOP))
    doc["chain"].insert(5, copy.deepcopy(TEST_LOOP))
    doc["recruitments"] += ["Chief Creative Officer", "Software Test Engineer"]
    trio = write_trio(tmp_path / "Art", chain_doc=doc)
    with FakeOpenAIServer(art_script()) as server:
        done = _run(server, tmp_path, "art", "--config", str(trio), "--images-base-url", "llm")
        n_images = len(server.image_requests())
        integration = next(r for r in server.chat_requests()
                           if r["tags"]["phase"] == "ArtIntegration")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "picture dice_face.png: a white die showing six black dots" in done.stderr
    assert n_images == 2
    assert "background.png: a green felt table top" in integration["body"]["messages"][-1][
        "content"]  # fmt: skip
    path = tmp_path / "chatdev" / "art"
    assert is_png((path / "code" / "background.png").read_bytes())
    assert (path / "code" / "main.py").read_text() == WITH_PICTURES
    meta = read_json(path / "meta.json")
    # the program loads both pictures from its folder inside the sandbox, and runs
    assert meta["verdicts"] == ["ok"] and meta["final_verdict"] == "ok"
    assert meta["incorporated_images"] == ["dice_face.png", "background.png"]
    again = CliRunner().invoke(chatdev_cli.app, ["replay", str(path)])
    assert again.exit_code == 0 and "identical" in again.stderr, again.output


def test_memory_from_an_earlier_run_reaches_the_server(tmp_path):
    runner = CliRunner()
    with FakeOpenAIServer(chatdev_script(DICE, buggy=True)) as server:
        first = _run(server, tmp_path, "earlier")
        assert first.exit_code == 0, first.output
        memory = tmp_path / "memory.json"
        built = runner.invoke(chatdev_cli.app, [
            "build-memory", str(tmp_path / "chatdev" / "earlier"), "--out", str(memory),
            "--embedder", "openai:fake-embed", "--embed-base-url", server.url])  # fmt: skip
        assert built.exit_code == 0, built.output
        assert "2 experiences (1 shortcuts) from 1 project(s)" in built.stderr
        embeds = [r for r in server.requests if r["path"].endswith("/embeddings")]
        assert embeds and embeds[0]["body"]["model"] == "fake-embed"
        clash = runner.invoke(chatdev_cli.app, ["build-memory", str(tmp_path / "chatdev"),
                                                "--out", str(memory)])  # fmt: skip
        assert clash.exit_code == 2 and "--overwrite" in clash.stderr
        n_before = len(server.chat_requests())
        second = _run(server, tmp_path, "later", "--memory", str(memory),
                      "--set", "memory.min_similarity=0.3")  # fmt: skip
        assert second.exit_code == 0, second.output
        later = server.chat_requests()[n_before:]
    fix = next(r for r in later if r["tags"]["phase"] == "TestModification")
    prompt = fix["body"]["messages"][-1]["content"]
    assert "Solution that worked:" in prompt
    assert 'print("dice:", dice, "total:", sum(dice))' in prompt  # the earlier fix
    assert "totl(dice)" in prompt.split("Experience from earlier projects")[0]  # current code
    meta = read_json(tmp_path / "chatdev" / "later" / "meta.json")
    assert meta["switches"]["memory"] == str(memory)


def test_human_review_from_a_file(tmp_path):
    answers = tmp_path / "answers.txt"
    answers.write_text("Print the word dice in bold.\nKeep the total.\n\nend\n")
    bold = DICE.files["main.py"].replace('print("dice:"', 'print("**dice:**"')
    script = chatdev_script(DICE)
    script.add(render_files({"main.py": bold}), phase="CodeReviewHuman", role="assistant")
    with FakeOpenAIServer(script) as server:
        done = _run(server, tmp_path, "human", "--human", "review", "--human-input", str(answers))
        human = [r for r in server.chat_requests() if r["tags"]["phase"] == "CodeReviewHuman"]
    assert done.exit_code == 0, done.output
    assert "human review finished" in done.stderr
    assert len(human) == 1
    assert "Print the word dice in bold.\nKeep the total." in human[0]["body"]["messages"][-1][
        "content"]  # fmt: skip
    assert (tmp_path / "chatdev" / "human" / "code" / "main.py").read_text() == bold
