"""The phase machine with the in-process ScriptedLLM: turns, markers, reflection, CDH, re-asks,
ablation switches, budget and accounting (chatdev.md §2.5-§2.8, §2.13, §2.18)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from thunlp_repro.chatdev.chat import concludes, conclusion, is_question
from thunlp_repro.chatdev.pipeline import replay_project, run_project
from thunlp_repro.chatdev.scenarios import CONVERTER, DICE, chatdev_script
from thunlp_repro.shared.errors import ConfigError
from thunlp_repro.shared.io import read_json
from thunlp_repro.shared.llm.scripted import ScriptedLLM
from thunlp_repro.shared.llm.transcript import read_transcript

from .conftest import fast_config


def _run(tmp_path, script, *sets, task=DICE.task, name="p", **kw):
    cfg = fast_config(*sets)
    client = ScriptedLLM(script, model="fake-model")
    return run_project(task, name=name, cfg=cfg, client=client, root=tmp_path, **kw), client


def test_marker_rules():
    assert concludes("text\n**<INFO> Application.**\n\n", "<INFO>")
    assert not concludes("text\n**<INFO> Application.**\n\n", "<INFO>", "repo")
    assert concludes("a\n<INFO> Python", "<INFO>", "repo")
    assert not concludes("<INFO> early\nthen more talk", "<INFO>")
    assert conclusion("we agree\n<INFO> *Python*", "<INFO>") == "Python"
    assert is_question("<QUESTION> which module?", "<QUESTION>")
    assert is_question("Which module should I use?", "<QUESTION>")
    assert not is_question("main.py\n```python\nx = 1\n```\nOK?", "<QUESTION>")


def test_happy_path_files_and_outputs(tmp_path):
    result, _ = _run(tmp_path, chatdev_script(DICE))
    assert result.status == "done"
    code = result.path / "code"
    assert (code / "main.py").read_text() == DICE.files["main.py"]
    assert (code / "manual.md").read_text().startswith("# Dice Roller")
    assert (code / "requirements.txt").read_text() == ""
    for name in ("meta.json", "meta.txt", "config.yaml", "company.yaml", "transcript.jsonl",
                 "events.jsonl", "log.txt", "cost.json", "results.json", "task.prompt",
                 "env.json", "command.txt"):  # fmt: skip
        assert (result.path / name).is_file(), name
    meta = read_json(result.path / "meta.json")
    assert meta["modality"] == "application" and meta["language"] == "python"
    assert meta["final_verdict"] == "ok" and meta["entry_point"] == "main.py"
    assert meta["switches"]["dehallucination"] is True


def test_multi_turn_reflection_when_no_marker(tmp_path):
    result, client = _run(tmp_path, chatdev_script(DICE, no_marker=True))
    phases = [(c.tags["phase"], c.tags["role"]) for c in client.script.calls]
    da = [p for p in phases if p[0].startswith("DemandAnalysis")]
    # 3 turns x (assistant + instructor), then one Reflection call
    assert da == [("DemandAnalysis", "assistant"), ("DemandAnalysis", "instructor")] * 3 + [
        ("DemandAnalysis.Reflection", "reflection")
    ]
    assert result.meta["modality"] == "application" and result.meta["reflections"] == 1
    reflection = client.script.calls[6]
    assert "Chief Product Officer: I think a program" in reflection.last
    assert reflection.system.startswith("{chatdev_prompt}") is False
    assert "Chief Executive Officer (CEO)" in reflection.system


def _cdh_steps(path):
    return [(r["phase"], r["role"], r["cdh_step"]) for r in read_transcript(path)]


def test_dehallucination_on_changes_the_flow(tmp_path):
    result, client = _run(tmp_path, chatdev_script(CONVERTER, buggy=True, cdh_questions=True),
                          task=CONVERTER.task)  # fmt: skip
    steps = [s for s in _cdh_steps(result.path / "transcript.jsonl") if s[0] == "TestModification"]
    assert steps == [("TestModification", "assistant", "ask"),
                     ("TestModification", "instructor", "answer"),
                     ("TestModification", "assistant", "solve")]  # fmt: skip
    # the question reaches the instructor, who keeps its phase context (the prompt with the code)
    answer_call = next(
        c
        for c in client.script.calls
        if c.tags["phase"] == "TestModification" and c.tags["role"] == "instructor"
    )
    assert answer_call.messages[1]["role"] == "assistant"  # its own first turn: the phase prompt
    assert "Fixed files" not in answer_call.last and "Which module" in answer_call.last
    assert "<QUESTION>" in answer_call.messages[1]["content"]  # the CDH clause
    assert result.meta["cdh_questions"] == 1 and result.status == "done"


def test_dehallucination_off_has_no_questions(tmp_path):
    result, client = _run(tmp_path, chatdev_script(CONVERTER, buggy=True, cdh_questions=True),
                          "protocol.cdh.enabled=false", task=CONVERTER.task)  # fmt: skip
    steps = _cdh_steps(result.path / "transcript.jsonl")
    assert all(step is None for _, _, step in steps)
    prompts_seen = [c.messages[-1]["content"] for c in client.script.calls]
    assert not any("<QUESTION>" in p and "Before you write" in p for p in prompts_seen)
    # without CDH the scripted question is taken as the (code-less) answer -> re-asked
    assert result.meta["format_retries"] >= 1


def test_cdh_question_cap_nudges(tmp_path):
    script = chatdev_script(CONVERTER, buggy=True)
    script.prepend("<QUESTION> And what about the names?", phase="TestModification",
                   role="assistant", times=2)  # fmt: skip
    script.prepend("Use the names in the code.", phase="TestModification", role="instructor")
    result, client = _run(tmp_path, script, "protocol.cdh.max_questions=1", task=CONVERTER.task)
    tm = [c for c in client.script.calls if c.tags["phase"] == "TestModification"]
    assert [c.tags["role"] for c in tm] == ["assistant", "instructor", "assistant", "assistant"]
    assert "No more questions" in tm[3].last
    assert result.status == "done"


def test_reply_without_code_is_reasked_then_succeeds(tmp_path):
    result, client = _run(tmp_path, chatdev_script(DICE, broken_format=2))
    coding = [c for c in client.script.calls if c.tags["phase"] == "Coding"]
    assert len(coding) == 3 and "could not use your reply" in coding[1].last
    assert result.status == "done" and result.meta["format_retries"] == 2


def test_format_failure_is_clean(tmp_path):
    result, _ = _run(tmp_path, chatdev_script(DICE, broken_format=5))
    assert result.status == "format_failure" and "no usable code" in result.reason
    assert (result.path / "meta.json").is_file() and (result.path / "transcript.jsonl").is_file()


def test_path_escape_refused_and_noted(tmp_path):
    result, client = _run(tmp_path, chatdev_script(DICE, escape=True))
    assert result.status == "done"
    assert not (tmp_path / "chatdev" / "p" / "escape.py").exists()
    assert not (tmp_path / "escape.py").exists()
    assert sorted(p.name for p in (result.path / "code").iterdir()) == [
        "main.py", "manual.md", "requirements.txt"]  # fmt: skip
    later = [c for c in client.script.calls if c.tags["phase"] == "CodeReviewComment"]
    assert not later or "refused" not in later[0].last  # notes go to code-writing phases only


def test_code_complete_loop_fills_stubs(tmp_path):
    result, client = _run(tmp_path, chatdev_script(DICE, stub=True))
    phases = [c.tags["phase"] for c in client.script.calls]
    assert phases.count("CodeComplete") == 1  # one cycle, then nothing is left unimplemented
    assert result.meta["cycles"]["CodeCompleteAll"] == 1
    assert (result.path / "code" / "main.py").read_text() == DICE.files["main.py"]


def test_review_stops_after_unchanged_cycles(tmp_path):
    result, client = _run(tmp_path, chatdev_script(DICE, review_comments=5))
    phases = [c.tags["phase"] for c in client.script.calls]
    assert phases.count("CodeReviewComment") == 2  # stop_after_unchanged = 2
    assert phases.count("CodeReviewModification") == 2


def test_review_repo_compat_never_breaks(tmp_path):
    result, client = _run(tmp_path, chatdev_script(DICE), "compat.review_break=repo",
                          "protocol.stop_after_unchanged=null")  # fmt: skip
    phases = [c.tags["phase"] for c in client.script.calls]
    assert phases.count("CodeReviewComment") == 3 and phases.count("CodeReviewModification") == 3


def test_until_stops_after_item(tmp_path):
    result, client = _run(tmp_path, chatdev_script(DICE), "protocol.until=Coding")
    assert [c.tags["phase"] for c in client.script.calls] == [
        "DemandAnalysis", "LanguageChoose", "Coding"]  # fmt: skip
    assert result.status == "done" and not (result.path / "code" / "manual.md").exists()
    with pytest.raises(ConfigError, match="not a chain item"):
        _run(tmp_path, chatdev_script(DICE), "protocol.until=Nope", name="q")


def test_no_roles_uses_neutral_system_prompts(tmp_path):
    _, client = _run(tmp_path, chatdev_script(DICE), "protocol.roles_in_prompts=false")
    systems = {c.system for c in client.script.calls}
    assert all(s.startswith("You are a helpful assistant") for s in systems)
    assert not any("Programmer" in s or "ChatDev" in s for s in systems)


def test_budget_cap_stops_cleanly_and_keeps_code(tmp_path):
    result, client = _run(tmp_path, chatdev_script(DICE), "budget.max_llm_calls=3")
    assert result.status == "budget_exceeded" and "max_llm_calls" in result.reason
    assert len(client.script.calls) == 3
    assert (result.path / "code" / "main.py").is_file()  # Coding was call 3
    assert read_json(result.path / "meta.json")["status"] == "budget_exceeded"


def test_token_budget(tmp_path):
    result, client = _run(tmp_path, chatdev_script(DICE), "budget.max_total_tokens=500")
    assert result.status == "budget_exceeded" and len(client.script.calls) == 2


def test_accounting_sums_exactly(tmp_path):
    prices = "llm.prices={fake-model: {input_per_1m: 0.3, output_per_1m: 1.7}}"
    result, _ = _run(tmp_path, chatdev_script(CONVERTER, buggy=True, cdh_questions=True), prices,
                     task=CONVERTER.task)  # fmt: skip
    records = read_transcript(result.path / "transcript.jsonl")
    cost = read_json(result.path / "cost.json")
    total = cost["total"]
    assert total["total_tokens"] == sum(r["usage"]["total_tokens"] for r in records)
    assert total["llm_calls"] == len(records) == result.meta["llm_calls"]
    exact = sum(Decimal(repr(r["cost_usd"])) for r in records)
    assert Decimal(repr(total["cost_usd"])) == exact
    for group in ("by_phase", "by_role"):
        assert sum(g["total_tokens"] for g in cost[group].values()) == total["total_tokens"]
        assert sum(Decimal(repr(g["cost_usd"])) for g in cost[group].values()) == exact
    for r in records:  # cost = tokens x price, per call
        u = r["usage"]
        expected = (Decimal(u["prompt_tokens"]) * Decimal("0.3")
                    + Decimal(u["completion_tokens"]) * Decimal("1.7")) / 10**6  # fmt: skip
        assert abs(Decimal(repr(r["cost_usd"])) - expected) < Decimal("1e-10")


def test_unknown_price_is_null(tmp_path):
    result, _ = _run(tmp_path, chatdev_script(DICE))
    assert read_json(result.path / "cost.json")["total"]["cost_usd"] is None
    assert result.meta["cost_usd"] is None


def test_incremental_mode(tmp_path):
    base = tmp_path / "existing"
    (base / "pkg").mkdir(parents=True)
    (base / "main.py").write_text("print('old')\n")
    (base / "pkg" / "util.js").write_text("module.exports = 1;\n")
    (base / ".git").mkdir()
    script = chatdev_script(DICE)
    script.prepend("main.py\n```python\nprint('new')\n```", phase="ModificationRequest")
    result, client = _run(tmp_path, script, incremental=base)
    phases = [c.tags["phase"] for c in client.script.calls]
    assert "Coding" not in phases and "ModificationRequest" in phases
    request = next(c for c in client.script.calls if c.tags["phase"] == "ModificationRequest")
    assert "pkg/util.js" in request.last and "print('old')" in request.last
    assert (result.path / "base" / "main.py").read_text() == "print('old')\n"
    assert (result.path / "code" / "pkg" / "util.js").is_file()
    assert not (result.path / "base" / ".git").exists()


def test_git_mode_commits_per_phase(tmp_path):
    import shutil
    import subprocess

    if not shutil.which("git"):
        pytest.skip("git not installed")
    result, _ = _run(tmp_path, chatdev_script(CONVERTER, buggy=True), "project.git=true",
                     task=CONVERTER.task)  # fmt: skip
    log = subprocess.run(["git", "log", "--format=%s"], cwd=result.path / "code",
                         capture_output=True, text=True, check=True).stdout.split("\n")  # fmt: skip
    assert "Coding" in log and "Test #1: TestModification" in log and log[0].startswith("Final")


def test_replay_in_process(tmp_path):
    result, _ = _run(tmp_path, chatdev_script(CONVERTER, buggy=True, cdh_questions=True),
                     task=CONVERTER.task)  # fmt: skip
    replayed = replay_project(result.path)
    assert replayed.identical and replayed.result.status == "done"
    assert replayed.llm_calls == result.meta["llm_calls"]


def test_replay_of_a_budget_stop(tmp_path):
    result, _ = _run(tmp_path, chatdev_script(DICE), "budget.max_llm_calls=4")
    replayed = replay_project(result.path)
    assert replayed.identical and replayed.result.status == "budget_exceeded"


def test_context_overflow_stops_with_a_clear_error(tmp_path):
    result, _ = _run(tmp_path, chatdev_script(DICE), "llm.context_window=400")
    assert result.status == "error" and "context window" in result.reason
    assert "DemandAnalysis" in result.reason
