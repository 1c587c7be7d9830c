"""Human-agent interaction: injectable answer sources, the HumanAgentInteraction loop, the
official Human config, `--human review`, replay of the answers (chatdev.md §2.12, §2.15)."""

from __future__ import annotations

import copy
import io
import json

import pytest

from thunlp_repro.chatdev.company import load_company
from thunlp_repro.chatdev.human import FileHuman, RecordedHuman, StreamHuman, finishes
from thunlp_repro.chatdev.pipeline import replay_project, run_project
from thunlp_repro.chatdev.scenarios import DICE, chatdev_script, render_files
from thunlp_repro.shared.errors import ReproError, UsageError
from thunlp_repro.shared.llm.scripted import ScriptedLLM
from thunlp_repro.shared.llm.transcript import read_transcript

from .conftest import fast_config
from .test_company import HUMAN_LOOP
from .trio import CHAIN, write_trio

BOLD = DICE.files["main.py"].replace('print("dice:"', 'print("**dice:**"')


def test_finish_words():
    assert finishes("") and finishes("  END ") and finishes("exit") and finishes(None)
    assert not finishes("please add colours") and not finishes("the end is near")


def test_stream_answers_like_the_console():
    out = io.StringIO()
    human = StreamHuman(io.StringIO("add a title\nand colours\n\nfix the total\n\nend\n"), out)
    assert human("round 1") == "add a title\nand colours"
    assert human("round 2") == "fix the total"
    assert human("round 3") == "end"
    assert human("round 4") == ""  # end of input
    assert "round 1" in out.getvalue()


def test_file_human_errors(tmp_path):
    with pytest.raises(UsageError, match="--human-input .*missing.txt: no such file"):
        FileHuman(tmp_path / "missing.txt")
    bad = tmp_path / "bin.txt"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UsageError, match="not UTF-8"):
        FileHuman(bad)


def test_recorded_human_runs_out():
    rec = RecordedHuman.from_events([{"event": "human_comment", "comment": "a"},
                                     {"event": "sandbox"}])  # fmt: skip
    assert rec("x") == "a"
    with pytest.raises(ReproError, match="human answer 1 was not recorded"):
        rec("x")


def _script():
    s = chatdev_script(DICE)
    s.add(render_files({"main.py": BOLD}, "Done as you asked:"), phase="CodeReviewHuman",
          role="assistant")  # fmt: skip
    return s


def _human_trio(tmp_path):
    doc = copy.deepcopy(CHAIN)
    doc["chain"].insert(4, copy.deepcopy(HUMAN_LOOP))  # after CodeReview, as the repo's Human
    return write_trio(tmp_path / "Human", chain_doc=doc)


def test_official_human_config_runs_the_review_loop(tmp_path):
    answers = iter(["Print the word dice in bold.", "end", "never asked"])
    shown: list[str] = []

    def human(text: str) -> str:
        shown.append(text)
        return next(answers)

    cfg = fast_config("protocol.until=HumanAgentInteraction")
    client = ScriptedLLM(_script(), model="fake-model")
    result = run_project(DICE.task, name="h", cfg=cfg, client=client, root=tmp_path / "runs",
                         company=load_company(_human_trio(tmp_path)), human=human)  # fmt: skip
    assert result.status == "done", result.reason
    assert len(shown) == 2 and "Review round 1 of 5" in shown[0] and "main.py" in shown[0]
    calls = [c for c in client.script.calls if c.tags["phase"] == "CodeReviewHuman"]
    assert len(calls) == 1  # 'end' finished the loop after one round
    assert '"Print the word dice in bold."' in calls[0].last
    assert (result.path / "code" / "main.py").read_text() == BOLD
    events = read_transcript(result.path / "events.jsonl")
    comments = [e["comment"] for e in events if e["event"] == "human_comment"]
    assert comments == ["Print the word dice in bold.", "end"]
    assert result.meta["cycles"]["HumanAgentInteraction"] == 1
    assert result.meta["switches"]["human_review"] is True
    # replay serves the recorded answers: no human needed, same code
    replayed = replay_project(result.path)
    assert replayed.identical, replayed.differences


def test_human_review_flag_inserts_the_loop_and_reads_a_file(tmp_path):
    answers = tmp_path / "answers.txt"
    answers.write_text("Print the word dice in bold.\n\n\n")  # second answer empty: finish
    cfg = fast_config("human.review=true", f"human.input_file={answers}",
                      "protocol.until=HumanAgentInteraction")  # fmt: skip
    client = ScriptedLLM(_script(), model="fake-model")
    result = run_project(DICE.task, name="f", cfg=cfg, client=client, root=tmp_path)
    assert result.status == "done", result.reason
    events = read_transcript(result.path / "events.jsonl")
    items = next(e["items"] for e in events if e["event"] == "chain_start")
    assert items[items.index("CodeReview") + 1] == "HumanAgentInteraction"
    assert [e["comment"] for e in events if e["event"] == "human_comment"] == [
        "Print the word dice in bold.", ""]  # fmt: skip
    assert (result.path / "code" / "main.py").read_text() == BOLD


def test_missing_answer_file_fails_before_the_folder(tmp_path):
    cfg = fast_config("human.review=true", f"human.input_file={tmp_path / 'nope.txt'}")
    with pytest.raises(UsageError, match="--human-input"):
        run_project(DICE.task, name="x", cfg=cfg, client=ScriptedLLM(_script()), root=tmp_path)
    assert not (tmp_path / "chatdev" / "x").exists()


def test_cli_human_value_is_checked():
    from thunlp_repro.cli.chatdev import human_overrides

    assert human_overrides("review", None) == ["human.review=true"]
    with pytest.raises(UsageError, match="--human clarify: expected review"):
        human_overrides("clarify", None)


def test_events_are_json(tmp_path):
    """The human_comment event is plain JSON (replay reads it back)."""
    cfg = fast_config("human.review=true", "protocol.until=HumanAgentInteraction")
    result = run_project(DICE.task, name="j", cfg=cfg, client=ScriptedLLM(_script()),
                         root=tmp_path, human=lambda shown: "")  # fmt: skip
    lines = (result.path / "events.jsonl").read_text().splitlines()
    finished = [json.loads(x) for x in lines if '"human_finished"' in x]
    assert finished and finished[0]["cycle"] == 1
