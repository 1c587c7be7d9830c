"""Metrics on hand-made project folders with known answers, in both variants (chatdev.md §2.16,
§5.1 item 7): each flaw of the released script shows up under `compatible` and not under
`strict` — a to-do app, a `bypass` variable, an empty project, a missing entry point, an
interactive program, a program that hangs or crashes after the short run, the wrong task file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thunlp_repro.chatdev import metrics_executability as me
from thunlp_repro.chatdev.embedders import HashEmbedder
from thunlp_repro.chatdev.evaluate import EvalError, aggregate, evaluate_project, open_project
from thunlp_repro.chatdev.metrics_code import compat_strip_comments, strict_code_text
from thunlp_repro.chatdev.metrics_completeness import compat_completeness, strict_completeness
from thunlp_repro.chatdev.metrics_consistency import compat_consistency, strict_consistency
from thunlp_repro.chatdev.sandbox import SandboxSettings

TASK = "Build a to-do list app where the user adds tasks and marks them done."
FAST = SandboxSettings(timeout_s=1.5, grace_s=0.3)


@pytest.fixture(autouse=True)
def _short_compat_run(monkeypatch):
    """The released rule sleeps 3 s; the mechanism is the same with 1 s (keeps tests fast)."""
    monkeypatch.setattr(me, "COMPAT_TIMEOUT_S", 1.0)


def project(root: Path, files: dict[str, str], *, task: str | None = TASK,
            meta: dict | str | None = None) -> Path:  # fmt: skip
    """One of our project folders: code/, task.prompt, meta.json, meta.txt (task first)."""
    root.mkdir(parents=True)
    for rel, text in files.items():
        (root / "code" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "code" / rel).write_text(text)
    (root / "code").mkdir(exist_ok=True)
    if task is not None:
        (root / "task.prompt").write_text(task)
        (root / "meta.txt").write_text(f"Task:\n{task}\n\nRoster:\nCEO, Programmer\n")
    doc = {"task": task, "entry_point": "main.py" if "main.py" in files else None,
           "language": "Python", "status": "done"} if meta is None else meta  # fmt: skip
    (root / "meta.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return root


TODO_APP = {
    "todo_app.py": '"""The to-do list."""\n\n\nclass TodoList:\n    def __init__(self):\n'
    "        self.items = []\n\n    def add(self, item):\n        self.items.append(item)\n",
    "main.py": "from todo_app import TodoList\n\nt = TodoList()\nt.add('milk')\nprint(t.items)\n",
}


# ------------------------------------------------------------------------------ completeness
@pytest.mark.parametrize(
    ("name", "files", "compat", "strict"),
    [
        ("todo_app", TODO_APP, 0.0, 1.0),
        ("bypass", {"main.py": "bypass = True\nprint('compass', bypass)\n"}, 0.0, 1.0),
        ("except_pass", {"main.py": "try:\n    x = 1\nexcept ValueError:\n    pass\n"}, 0.0, 1.0),
        ("password_ok", {"main.py": "password = 'x'\nprint('passed', password)\n"}, 1.0, 1.0),
        ("pass_stub", {"main.py": "def play():\n    pass\n\nplay()\n"}, 0.0, 0.0),
        ("ellipsis_stub", {"main.py": 'def play():\n    """Play."""\n    ...\n'}, 1.0, 0.0),
        ("not_implemented", {"main.py": "def f():\n    raise NotImplementedError\n"}, 1.0, 0.0),
        ("todo_comment", {"main.py": "x = 1  # TODO: handle errors\nprint(x)\n"}, 0.0, 0.0),
        ("abstract_ok", {"main.py": "from abc import ABC, abstractmethod\n\n\nclass S(ABC):\n"
                         "    @abstractmethod\n    def area(self):\n        ...\n"}, 1.0, 1.0),
        ("syntax_error", {"main.py": "def broken(:\n    return 1\n"}, 1.0, 0.0),
        ("empty", {}, 1.0, 0.0),
        ("empty_branch", {"main.py": "def act(a):\n    if a == 'move':\n        # Implement "
                          "the movement here\n        pass\n    else:\n        print(a)\n"},
         0.0, 0.0),
        ("empty_class_ok", {"main.py": "class Quit(Exception):\n    pass\n"}, 0.0, 1.0),
    ],
)  # fmt: skip
def test_completeness_known_answers(tmp_path, name, files, compat, strict):
    folder = project(tmp_path / name, files)
    assert compat_completeness(folder)["value"] == compat
    got = strict_completeness(folder / "code")
    assert got["value"] == strict
    if strict == 0.0:
        assert got["placeholders"]  # every 0 says where


def test_strict_placeholder_locations_and_other_languages(tmp_path):
    folder = project(tmp_path / "p", {"main.py": "def a():\n    return 1\n\n\ndef b():\n    pass\n",
                                      "web/app.js": "// TODO wire the button\nlet x = 1;\n",
                                      "Main.java": "class M { void f() { throw new "
                                      "UnsupportedOperationException(); } }\n"})  # fmt: skip
    found = strict_completeness(folder / "code")["placeholders"]
    assert "main.py:5: placeholder body in b()" in found
    assert any(p.startswith("web/app.js:1: comment") for p in found)
    assert any(p.startswith("Main.java:1: stub") for p in found)


# ------------------------------------------------------------------------------ executability
def test_executability_runs_and_crashes(tmp_path):
    ok = project(tmp_path / "ok", TODO_APP)
    assert me.compat_executability(ok)["value"] == 1.0
    assert me.strict_executability(ok / "code", "main.py", "python", FAST)["verdict"] == "ok"
    crash = project(tmp_path / "crash", {"main.py": "print(undefined_name)\n"})
    assert me.compat_executability(crash)["value"] == 0.0
    got = me.strict_executability(crash / "code", "main.py", "python", FAST)
    assert (got["value"], got["verdict"], got["error_type"]) == (0.0, "crash", "NameError")


def test_missing_entry_point_counts_runnable_only_in_compat(tmp_path):
    folder = project(tmp_path / "noentry", {"app.py": "print('hello')\n"})
    compat = me.compat_executability(folder)
    assert compat["value"] == 1.0 and not compat["traceback"]  # "can't open file" has none
    strict = me.strict_executability(folder / "code", None, "python", FAST)
    assert (strict["value"], strict["verdict"]) == (0.0, "no_entry")


def test_wrong_folder_and_exit_without_traceback(tmp_path):
    sub = project(tmp_path / "sub", {"main.py": "raise SystemExit(open('nope').read())\n",
                                     "pkg/helper.py": "X = 1\n"})  # fmt: skip
    compat = me.compat_executability(sub)
    assert compat["ran_in"] == "code/pkg" and compat["value"] == 1.0  # runs main.py in pkg/
    assert me.strict_executability(sub / "code", "main.py", "python", FAST)["value"] == 0.0
    code3 = project(tmp_path / "exit3", {"main.py": "import sys\nsys.exit(3)\n"})
    assert me.compat_executability(code3)["value"] == 1.0
    got = me.strict_executability(code3 / "code", "main.py", "python", FAST)
    assert (got["value"], got["verdict"], got["exit_code"]) == (0.0, "crash", 3)


def test_waiting_programs_are_alive_busy_loops_hang(tmp_path):
    interactive = project(tmp_path / "ask", {"main.py": "name = input('name? ')\nprint(name)\n"})
    ticking = project(
        tmp_path / "tick", {"main.py": "import time\nwhile True:\n    time.sleep(0.1)\n"}
    )
    for folder in (interactive, ticking):
        assert me.compat_executability(folder)["value"] == 1.0
        got = me.strict_executability(folder / "code", "main.py", "python", FAST)
        assert (got["value"], got["verdict"]) == (1.0, "alive")
    spinning = project(tmp_path / "spin", {"main.py": "while True:\n    pass\n"})
    assert me.compat_executability(spinning)["value"] == 1.0  # the released rule's flaw
    got = me.strict_executability(spinning / "code", "main.py", "python", FAST)
    assert (got["value"], got["verdict"]) == (0.0, "hang")
    # with stdin closed, input() fails: the strict verdict names the error
    closed = SandboxSettings(timeout_s=1.5, grace_s=0.3, stdin="devnull")
    got = me.strict_executability(interactive / "code", "main.py", "python", closed)
    assert (got["verdict"], got["error_type"]) == ("crash", "EOFError")


def test_crash_after_the_short_run_is_caught_only_by_strict(tmp_path):
    late = project(tmp_path / "late", {"main.py": "import time\ntime.sleep(1.6)\n"
                                       "raise RuntimeError('late')\n"})  # fmt: skip
    assert me.compat_executability(late)["value"] == 1.0  # alive at the short limit
    got = me.strict_executability(late / "code", "main.py", "python",
                                  SandboxSettings(timeout_s=4, grace_s=0.3))  # fmt: skip
    assert (got["value"], got["verdict"]) == (0.0, "crash")


# ------------------------------------------------------------------------------ consistency
def test_comment_removal_rules():
    code = 'main.py\n```Python\n# header\nx = 1  # keep in compat\n"""doc\nstring"""\ny = 2\n```'
    stripped = compat_strip_comments(code)
    assert "# header" not in stripped and "keep in compat" in stripped and "doc" not in stripped
    strict = strict_code_text(
        {
            "main.py": '"""Module doc."""\n# c\nx = 1  # trailing\n\n'
            'def f():\n    """Doc."""\n    return "# not a comment"\n'
        }
    )
    assert strict == 'main.py\nx = 1\ndef f():\n    return "# not a comment"'


def test_consistency_task_sources(tmp_path):
    folder = project(tmp_path / "p", {"main.py": "tasks = []\nprint('add tasks, mark done')\n"})
    (folder / "code" / "requirements.txt").write_text("")
    emb = HashEmbedder()
    compat = compat_consistency(folder, emb)
    assert compat["task_source"] == "meta.txt"  # the first .txt, not the task
    strict = strict_consistency(folder / "code", TASK, emb)
    assert -1.0 <= strict["value"] <= 1.0 and strict["n_windows"] == 1
    same = project(tmp_path / "same", {"main.py": f"print({TASK!r})\n"})
    exact = f"main.py\nprint({TASK!r})"  # the strict code text itself: cosine 1
    assert strict_consistency(same / "code", exact, emb)["value"] == pytest.approx(1.0)
    assert strict_consistency(same / "code", TASK, emb)["value"] > 0.8
    assert compat_consistency(tmp_path / "same" / "code", emb)["value"] is None  # no .txt
    assert strict_consistency(project(tmp_path / "e", {}) / "code", TASK, emb)["value"] == 0.0


# ------------------------------------------------------------------------------ whole projects
def test_evaluate_project_both_variants_and_quality(tmp_path):
    folder = project(tmp_path / "todo", TODO_APP)
    record = evaluate_project(folder, embedder=HashEmbedder(), sandbox=FAST)
    c, s = record["compatible"], record["strict"]
    assert (c["completeness"], c["executability"]) == (0.0, 1.0)
    assert (s["completeness"], s["executability"]) == (1.0, 1.0)
    assert c["quality"] == 0.0
    assert s["quality"] == pytest.approx(s["consistency"])
    assert s["details"]["consistency"]["task_source"] == "task.prompt"
    assert c["details"]["consistency"]["task_source"] == "meta.txt"


def test_aggregate_quality_two_ways():
    records = [
        {"strict": {"completeness": 1.0, "executability": 1.0, "consistency": 0.5, "quality": 0.5}},
        {"strict": {"completeness": 0.0, "executability": 1.0, "consistency": 0.9, "quality": 0.0}},
        {"error": "bad metadata"},
    ]  # fmt: skip
    agg = aggregate(records, "strict")
    assert agg["n"] == 2
    assert agg["completeness"]["mean"] == 0.5 and agg["executability"]["mean"] == 1.0
    assert agg["quality_product_of_means"] == pytest.approx(0.5 * 1.0 * 0.7)
    assert agg["quality_mean_of_products"]["mean"] == pytest.approx(0.25)
    lo, hi = agg["completeness"]["ci95"]
    assert 0.0 < lo < 0.5 < hi < 1.0  # Wilson interval
    assert aggregate([], "strict")["quality_product_of_means"] is None


def test_warehouse_folder_reads_the_prompt_file(tmp_path):
    ware = tmp_path / "Dice_DefaultOrganization_20240101"
    ware.mkdir()
    (ware / "Dice.prompt").write_text("Roll two dice.")
    (ware / "meta.txt").write_text("Task:\nRoll two dice.\n")
    (ware / "main.py").write_text("import random\nprint(random.randint(1, 6))\n")
    view = open_project(ware)
    assert (view.layout, view.task, view.task_source) == ("plain", "Roll two dice.", "Dice.prompt")
    record = evaluate_project(ware, embedder=HashEmbedder(), sandbox=FAST)
    assert record["strict"]["executability"] == 1.0 and record["compatible"]["executability"] == 1.0


@pytest.mark.parametrize(
    ("meta", "message"),
    [("{not json", "meta.json is not valid JSON"), ("[1, 2]", "not an object"),
     (json.dumps({"task": 5}), "'task' is not text")],
)  # fmt: skip
def test_bad_metadata_is_a_clear_error(tmp_path, meta, message):
    folder = project(tmp_path / "bad", TODO_APP, meta=meta)
    with pytest.raises(EvalError, match="bad metadata") as err:
        evaluate_project(folder, embedder=HashEmbedder(), sandbox=FAST)
    assert message in str(err.value) and str(folder) in str(err.value)


def test_no_task_text_is_a_clear_error_for_strict_only(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "main.py").write_text("print(1)\n")
    with pytest.raises(EvalError, match="no task text"):
        evaluate_project(folder, embedder=HashEmbedder(), sandbox=FAST)
    got = evaluate_project(folder, embedder=HashEmbedder(), variants=("compatible",))
    assert got["compatible"]["executability"] == 1.0 and "strict" not in got
