"""The pairwise judge (chatdev.md §2.16 "Win rates", paper Table 2): folder pairing and its
errors, the order swap, verdict parsing, agreement rule, totals, truncation, resume, per-task
errors, the report's T2 table, and the CLI end to end against the fake OpenAI server.

The projects and judge answers are our own toy texts; no model runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thunlp_repro.chatdev import pairwise as pw
from thunlp_repro.chatdev.fake_server import FakeOpenAIServer
from thunlp_repro.chatdev.report import load_pairwise, table2_markdown
from thunlp_repro.cli import chatdev as chatdev_cli
from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.llm.base import LLMError
from thunlp_repro.shared.llm.scripted import Fault, Script, ScriptCall, ScriptedLLM, count_tokens

SETTINGS = pw.JudgeSettings(model="judge-model")
TASKS = {
    "Games__Dice__00000001": "Write a dice game that rolls two dice.",
    "Games__Quiz__00000002": "Write a quiz with three questions.",
    "Tools__Timer__00000003": "Write a countdown timer for the terminal.",
    "Tools__Notes__00000004": "Write a note keeper that saves notes to a file.",
    "Tools__Units__00000005": "Write a unit converter for lengths.",
}


def project(root: Path, task: str, marker: str, *, status: str = "done",
            files: dict[str, str] | None = None) -> Path:  # fmt: skip
    """One of our project folders with `marker` in its code and manual."""
    code = root / "code"
    code.mkdir(parents=True)
    for rel, text in (files or {"main.py": f"print('{marker}')\n"}).items():
        (code / rel).parent.mkdir(parents=True, exist_ok=True)
        (code / rel).write_text(text)
    (code / "manual.md").write_text(f"# Manual\nRun main.py to see {marker}.\n")
    (root / "task.prompt").write_text(task)
    (root / "meta.json").write_text(json.dumps({"task": task, "status": status,
                                                "entry_point": "main.py"}))  # fmt: skip
    return root


def batches(tmp: Path, ids: list[str] | None = None) -> tuple[Path, Path]:
    """Two batch folders over the same tasks: A's code says ALPHA, B's says BETA."""
    for side, marker in (("a", "ALPHA"), ("b", "BETA")):
        (tmp / side / "logs").mkdir(parents=True)
        (tmp / side / "batch.json").write_text("{}")
        for tid in ids or TASKS:
            project(tmp / side / tid, TASKS[tid], f"{marker}-{tid}")
    return tmp / "a", tmp / "b"


def slots(call: ScriptCall) -> tuple[str, str]:
    """The user message's project A and project B sections."""
    text = call.messages[-1]["content"]
    a = text.split("# Project A\n", 1)[1].split("# Project B\n", 1)[0]
    b = text.split("# Project B\n", 1)[1].split("# How to decide", 1)[0]
    return a, b


def judge_by_task(call: ScriptCall) -> str | Fault:
    """A judge whose behaviour depends on the task: the outcomes we want to check."""
    text = call.messages[-1]["content"]
    slot_a, _ = slots(call)
    alpha_first = "ALPHA" in slot_a
    if "dice game" in text:  # consistently prefers ALPHA (side a)
        return f"ALPHA is complete.\nVERDICT: {'A' if alpha_first else 'B'}"
    if "quiz" in text:  # consistently prefers BETA (side b)
        return f"**Verdict:** {'B' if alpha_first else 'A'}"
    if "countdown" in text:  # always the first slot: position bias -> disagreement
        return "The first one.\nVERDICT: A"
    if "note keeper" in text:  # tie twice
        return "Both fine.\nverdict: tie."
    # one unparseable answer, one real verdict -> draw with "no verdict"
    return "I prefer the second project." if alpha_first else "VERDICT: B"


def run(a: Path, b: Path, tmp: Path, script: Script, **kw) -> pw.PairwiseResult:
    kw.setdefault("out", tmp / "pairwise.json")
    return pw.run_pairwise(a, b, settings=SETTINGS, client=ScriptedLLM(script), **kw)


# ------------------------------------------------------------------------------ parsing, rule
@pytest.mark.parametrize(
    ("text", "slot"),
    [
        ("Reasons.\nVERDICT: A", "A"),
        ("**Verdict:** b", "B"),
        ("verdict: tie.", "TIE"),
        ("VERDICT: Project B", "B"),
        ("VERDICT: A\nOn reflection...\nVERDICT: B", "B"),  # the last line counts
        ("<think>VERDICT: A</think>\nVERDICT: TIE", "TIE"),
        ("I prefer A.", None),
        ("VERDICT: A or B", None),
        ("VERDICT: C", None),
        ("", None),
    ],
)
def test_parse_verdict(text, slot):
    got, problem = pw.parse_verdict(text)
    assert got == slot
    assert (problem is None) == (slot is not None)


@pytest.mark.parametrize(
    ("first", "second", "outcome", "reason"),
    [
        ("a", "a", "a", "agree"),
        ("b", "b", "b", "agree"),
        ("a", "b", "draw", "disagree"),
        ("a", "tie", "draw", "disagree"),
        ("tie", "tie", "draw", "tie"),
        (None, "a", "draw", "no verdict"),
        (None, None, "draw", "no verdict"),
    ],
)
def test_combine(first, second, outcome, reason):
    assert pw.combine(first, second) == (outcome, reason)


def test_slot_verdicts_map_back_through_the_order():
    assert pw.prefers("ab", "A") == "a" and pw.prefers("ba", "A") == "b"
    assert pw.prefers("ba", "B") == "a" and pw.prefers("ba", "TIE") == "tie"
    assert pw.prefers("ab", None) is None


# ------------------------------------------------------------------------------ the run
def test_order_swap_puts_each_project_in_both_slots(tmp_path):
    a, b = batches(tmp_path, ["Games__Dice__00000001"])
    script = Script(default=judge_by_task)
    run(a, b, tmp_path, script)
    first, second = script.calls
    assert "ALPHA" in slots(first)[0] and "BETA" in slots(first)[1]
    assert "BETA" in slots(second)[0] and "ALPHA" in slots(second)[1]
    for call in (first, second):  # same requirement, manual and code in both asks
        assert "# Requirement\nWrite a dice game" in call.messages[-1]["content"]
        assert call.messages[0]["role"] == "system" and call.tags["phase"] == "PairwiseJudge"
    assert [c.tags["order"] for c in script.calls] == ["ab", "ba"]


def test_outcomes_totals_and_recorded_answers(tmp_path):
    a, b = batches(tmp_path)
    done = run(a, b, tmp_path, Script(default=judge_by_task), labels=("ChatDev", "Baseline"))
    doc = json.loads((tmp_path / "pairwise.json").read_text())
    assert doc == json.loads(json.dumps(done.doc))  # the file is the returned document
    got = {t: (r["outcome"], r["reason"]) for t, r in doc["tasks"].items()}
    assert got == {
        "Games__Dice__00000001": ("a", "agree"),
        "Games__Quiz__00000002": ("b", "agree"),
        "Tools__Timer__00000003": ("draw", "disagree"),
        "Tools__Notes__00000004": ("draw", "tie"),
        "Tools__Units__00000005": ("draw", "no verdict"),
    }
    t = doc["totals"]
    assert (t["n"], t["a_wins"], t["b_wins"], t["draws"]) == (5, 1, 1, 3)
    assert (t["a_win_pct"], t["b_win_pct"], t["draw_pct"]) == (20.0, 20.0, 60.0)
    assert t["draw_reasons"] == {"disagree": 1, "tie": 1, "no verdict": 1}
    assert t["no_verdict_answers"] == 1 and t["errors"] == 0
    # slot A chosen: dice 1 of 2, quiz 1 of 2, timer 2 of 2, units 0 of 1 -> 4 of 7
    assert t["slot_a_pct"] == round(100 * 4 / 7, 2)
    units = doc["tasks"]["Tools__Units__00000005"]["asks"]
    assert units[0]["raw"] == "I prefer the second project."
    assert units[0]["verdict_slot"] is None and "VERDICT" in units[0]["parse_error"]
    assert units[1]["verdict"] == "a"  # slot B in the swapped order is side a
    assert doc["labels"] == {"a": "ChatDev", "b": "Baseline"} and doc["finished"] is True
    assert doc["judge"]["model"] == "judge-model" and doc["config"]["temperature"] == 0.0
    assert doc["config"]["max_code_chars"] == 12_000 and doc["mode"] == "batch"
    assert doc["usage"]["calls"] == 10 and done.asked == 10 and done.reused == 0


def test_resume_reuses_answers_and_overwrite_asks_again(tmp_path):
    a, b = batches(tmp_path, ["Games__Dice__00000001", "Games__Quiz__00000002"])
    script = Script(default=judge_by_task)
    first = run(a, b, tmp_path, script)
    assert len(script.calls) == 4
    again = run(a, b, tmp_path, script)
    assert len(script.calls) == 4 and (again.asked, again.reused) == (0, 4)
    assert again.doc["totals"] == first.doc["totals"]
    # a changed project is asked again (its requests differ), the other pair is reused
    (a / "Games__Quiz__00000002" / "code" / "main.py").write_text("print('ALPHA v2')\n")
    changed = run(a, b, tmp_path, script)
    assert len(script.calls) == 6 and (changed.asked, changed.reused) == (2, 2)
    forced = run(a, b, tmp_path, script, overwrite=True)
    assert len(script.calls) == 10 and forced.asked == 4


def test_resume_after_a_failure_keeps_finished_pairs(tmp_path):
    a, b = batches(tmp_path, ["Games__Dice__00000001", "Games__Quiz__00000002"])
    down = Script(default=judge_by_task).prepend(Fault(503, "overloaded"), pattern="quiz")
    with pytest.raises(LLMError, match="503"):
        run(a, b, tmp_path, down)
    saved = json.loads((tmp_path / "pairwise.json").read_text())
    assert list(saved["tasks"]) == ["Games__Dice__00000001"] and saved["finished"] is False
    script = Script(default=judge_by_task)
    done = run(a, b, tmp_path, script)
    assert len(script.calls) == 2 and (done.asked, done.reused) == (2, 2)


def test_http_400_is_recorded_per_task_and_the_run_goes_on(tmp_path):
    a, b = batches(tmp_path, ["Games__Dice__00000001", "Games__Quiz__00000002"])
    script = Script(default=judge_by_task).prepend(Fault(400, "context too long"), pattern="quiz")
    done = run(a, b, tmp_path, script)
    quiz = done.doc["tasks"]["Games__Quiz__00000002"]
    assert quiz["outcome"] is None and "context too long" in quiz["error"]
    assert done.doc["totals"]["n"] == 1 and done.doc["totals"]["errors"] == 1


def test_limit_spreads_over_categories(tmp_path):
    a, b = batches(tmp_path)
    done = run(a, b, tmp_path, Script(default=judge_by_task), limit=2)
    assert sorted(done.doc["tasks"]) == ["Games__Dice__00000001", "Tools__Notes__00000004"]


# ------------------------------------------------------------------------------ pairing
def test_pairing_unpaired_unfinished_and_partial_leftovers(tmp_path):
    a, b = batches(tmp_path, ["Games__Dice__00000001", "Games__Quiz__00000002"])
    project(a / "Tools__Timer__00000003", TASKS["Tools__Timer__00000003"], "ALPHA")
    project(b / "Tools__Units__00000005", TASKS["Tools__Units__00000005"], "BETA")
    project(b / "Games__Dice__00000001.partial-1", TASKS["Games__Dice__00000001"], "OLD")
    (b / "Games__Quiz__00000002" / "meta.json").write_text(json.dumps({"status": "running"}))
    pairing = pw.pair_folders(a, b)
    assert [p.task_id for p in pairing.pairs] == ["Games__Dice__00000001"]
    assert pairing.only_a == ["Games__Quiz__00000002", "Tools__Timer__00000003"]
    assert pairing.only_b == ["Tools__Units__00000005"]
    assert pairing.unfinished == {"a": [], "b": ["Games__Quiz__00000002"]}
    done = run(a, b, tmp_path, Script(default=judge_by_task))
    assert done.doc["unpaired"]["only_b"] == ["Tools__Units__00000005"]


def test_unpaired_and_wrong_folders_give_clear_errors(tmp_path):
    a = tmp_path / "a"
    project(a / "Games__Dice__00000001", TASKS["Games__Dice__00000001"], "ALPHA")
    b = tmp_path / "b"
    project(b / "Games__Quiz__00000002", TASKS["Games__Quiz__00000002"], "BETA")
    with pytest.raises(UsageError, match=r"no task is in both batch folders.*paired by folder"):
        pw.pair_folders(a, b)
    single = a / "Games__Dice__00000001"
    with pytest.raises(UsageError, match=r"is a project folder but B_DIR .* is a batch folder"):
        pw.pair_folders(single, b)
    with pytest.raises(UsageError, match=r"B_DIR .*missing does not exist; expected two project"):
        pw.pair_folders(a, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="neither a project folder nor a batch folder"):
        pw.pair_folders(tmp_path / "empty", b)


def test_two_single_projects(tmp_path):
    a = project(tmp_path / "x" / "dice", TASKS["Games__Dice__00000001"], "ALPHA")
    b = project(tmp_path / "y" / "dice", TASKS["Games__Dice__00000001"], "BETA")
    done = run(a, b, tmp_path, Script(default=judge_by_task))
    assert done.doc["mode"] == "project" and done.doc["tasks"]["dice"]["outcome"] == "a"
    other = project(tmp_path / "z" / "quiz", TASKS["Games__Quiz__00000002"], "BETA")
    with pytest.raises(UsageError, match="different requirements"):
        run(a, other, tmp_path, Script(default=judge_by_task), overwrite=True)
    unfinished = project(tmp_path / "w" / "dice", TASKS["Games__Dice__00000001"], "BETA",
                         status="running")  # fmt: skip
    with pytest.raises(UsageError, match="not finished"):
        pw.pair_folders(a, unfinished)


# ------------------------------------------------------------------------------ truncation
def test_water_fill_and_cut():
    assert pw.water_fill({"a": 10, "b": 1000, "c": 1000}, 510) == {"a": 10, "b": 250, "c": 250}
    assert pw.water_fill({"a": 10}, 100) == {"a": 10}
    text = "".join(f"line {i}\n" for i in range(100))
    cut = pw.cut(text, 50)
    assert cut.startswith("line 0\n") and "[cut here:" in cut
    assert len(cut.split("[cut here")[0]) <= 50 and pw.cut("short", 50) == "short"


def test_long_projects_are_capped_the_same_way(tmp_path):
    big = {"main.py": "x = 1\n" * 5000, "util.py": "y = 2\n" * 10, "more.py": "z = 3\n" * 4000}
    settings = pw.JudgeSettings("m", max_code_chars=3000, max_manual_chars=10)
    side = pw.load_side(project(tmp_path / "p", "t", "M", files=big), settings)
    assert side.truncated and side.shown_chars <= 3010 and side.total_chars > 50_000
    assert side.text.index("### main.py") < side.text.index("### more.py")  # entry point first
    assert "y = 2\n" * 10 in side.text  # a short file is shown whole
    assert side.text.count("[cut here:") == 3  # main.py, more.py and the manual
    assert len(side.text) < 4000


# ------------------------------------------------------------------------------ report
def test_table2_beside_the_paper(tmp_path):
    a, b = batches(tmp_path, ["Games__Dice__00000001"])
    run(a, b, tmp_path, Script(default=judge_by_task), out=a / "pairwise-vs-b.json",
        labels=("ChatDev", "single-agent"))  # fmt: skip
    docs = load_pairwise([], [a])
    table = table2_markdown(docs)
    assert "ChatDev vs GPT-Engineer" in table and "22.50" in table and "88.00" in table
    row = next(ln for ln in table.splitlines() if "ChatDev vs single-agent" in ln)
    assert re.search(r"judge-model \(ours\) \| 0\.00 \| 100\.00 \| 0\.00 \| 1 \|", row)
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    with pytest.raises(UsageError, match="not a pairwise.json"):
        load_pairwise([bad], [])


# ------------------------------------------------------------------------------ CLI
@pytest.fixture
def _key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.mark.usefixtures("_key")
def test_cli_end_to_end_against_the_fake_server(tmp_path):
    a, b = batches(tmp_path, ["Games__Dice__00000001", "Games__Quiz__00000002"])
    out = tmp_path / "judged" / "pw.json"
    args = [
        "pairwise",
        str(a),
        str(b),
        "--judge",
        "fake-judge",
        "--out",
        str(out),
        "--label-a",
        "ChatDev",
        "--label-b",
        "Baseline",
        "--set",
        "llm.max_attempts=1",
    ]
    with FakeOpenAIServer(Script(default=judge_by_task)) as server:
        url = server.url
        done = CliRunner().invoke(chatdev_cli.app, [*args, "--base-url", url])
        sent = server.chat_requests()
        again = CliRunner().invoke(chatdev_cli.app, [*args, "--base-url", url])
        assert len(server.chat_requests()) == len(sent)  # the rerun sent nothing
    assert done.exit_code == 0, done.output
    assert "ChatDev vs Baseline" in done.stdout and "[2/2] Games__Quiz__00000002" in done.stderr
    assert again.exit_code == 0 and "0 requests sent, 4 answers reused" in again.stderr
    doc = json.loads(out.read_text())
    assert (doc["totals"]["a_wins"], doc["totals"]["b_wins"]) == (1, 1)
    assert doc["judge"]["base_url"] == url and doc["judge"]["backend"] == "openai"
    body = sent[0]["body"]
    assert body["model"] == "fake-judge" and body["temperature"] == 0.0
    assert body["max_tokens"] == 512
    # usage comes from the server (whitespace tokens): exact
    prompt = sum(count_tokens(m["content"]) for r in sent for m in r["body"]["messages"])
    assert doc["usage"]["prompt_tokens"] == prompt and doc["usage"]["estimated_calls"] == 0


@pytest.mark.usefixtures("_key")
def test_cli_folder_errors_are_one_line(tmp_path):
    a, _ = batches(tmp_path, ["Games__Dice__00000001"])
    args = ["pairwise", str(a), str(tmp_path / "nope"), "--judge", "j", "--base-url", "http://x/v1"]
    done = CliRunner().invoke(chatdev_cli.app, args)
    assert done.exit_code == 2 and "Traceback" not in done.output
    assert "B_DIR" in done.stderr and "does not exist" in done.stderr
    assert "two batch folders" in done.stderr
