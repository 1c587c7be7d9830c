"""Experiential co-learning memory (ECL, Qian et al. 2023): trajectories rebuilt from a recorded
run, shortcuts scored by executability + task similarity, retrieval into the phase prompts,
errors, and replay without the memory file."""

from __future__ import annotations

import json

import pytest
import yaml

from thunlp_repro.chatdev.config import MemoryConfig
from thunlp_repro.chatdev.embedders import HashEmbedder
from thunlp_repro.chatdev.memory import (
    FORMAT,
    Memory,
    build_memory,
    compiles,
    query_for,
    render,
    shortcuts,
    trajectory,
)
from thunlp_repro.chatdev.pipeline import replay_project, run_project
from thunlp_repro.chatdev.scenarios import DICE, chatdev_script
from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.llm.scripted import ScriptedLLM

from .conftest import fast_config

SUMMARY = "main.py calls a name that does not exist"  # start of the scripted error summary
FIXED_LINE = 'print("dice:", dice, "total:", sum(dice))'


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory):
    """One recorded run: Coding writes a crashing program, the Test loop fixes it."""
    root = tmp_path_factory.mktemp("earlier")
    result = run_project(DICE.task, name="dice", cfg=fast_config(), root=root,
                         client=ScriptedLLM(chatdev_script(DICE, buggy=True)))  # fmt: skip
    assert result.status == "done" and result.meta["verdicts"] == ["crash", "ok"]
    return result.path


def test_compiles():
    assert compiles({"a.py": "x = 1\n", "b.txt": "not python ("})
    assert not compiles({"a.py": "def f(:\n"}) and not compiles({})


def test_trajectory_rebuilds_versions_and_instructions(earlier_run):
    traj = trajectory(earlier_run)
    assert [n.version for n in traj.nodes] == [0, 1, 2]
    assert traj.nodes[1].files == DICE.buggy and traj.nodes[2].files == DICE.files
    assert [n.verdict for n in traj.nodes] == [None, "crash", "ok"]
    assert [n.executable for n in traj.nodes] == [False, False, True]
    assert traj.phases == ["Coding", "TestModification"]
    assert traj.instructions[0] == DICE.task
    assert traj.instructions[1].startswith(SUMMARY)


def test_shortcuts_keep_improving_transitions(earlier_run):
    found = shortcuts(trajectory(earlier_run), HashEmbedder())
    kinds = {(e.source_version, e.target_version): e.kind for e in found}
    assert kinds == {(0, 2): "shortcut", (1, 2): "edge"}  # 0 -> 1 ends in a crash: dropped
    shortcut = next(e for e in found if e.kind == "shortcut")
    assert shortcut.instruction.startswith("1. " + DICE.task) and "\n2. " + SUMMARY in (
        shortcut.instruction)  # fmt: skip
    assert FIXED_LINE in shortcut.target_solution and shortcut.source_solution == ""
    assert all(e.gain > 0 for e in found)
    assert shortcuts(trajectory(earlier_run), HashEmbedder(), min_gain=5.0) == []


def test_build_and_retrieve(earlier_run, tmp_path):
    path = tmp_path / "memory.json"
    doc = build_memory([earlier_run.parent], path, embedder_name="hash")  # a batch-like folder
    assert doc["format"] == FORMAT and doc["embedder"] == "hash"
    assert json.loads(path.read_text())["projects"][0]["experiences"] == 2
    memory = Memory.load(path, MemoryConfig(top_k=2, min_similarity=0.3))
    got = memory.retrieve("solution", "main.py calls a name that does not exist; fix it")
    assert got and got[0].id.endswith("1->2") and FIXED_LINE in got[0].solution
    # the instructor side looks up by code: the crashing version's instruction is found
    buggy = trajectory(earlier_run).nodes[1].text()
    instr = memory.retrieve("instruction", buggy)
    assert [e.id.split(":")[-1] for e in instr] == ["1->2"] and instr[0].solution is None
    assert instr[0].similarity > 0.99
    # nothing close enough
    strict = Memory.load(path, MemoryConfig(min_similarity=0.99))
    assert strict.retrieve("solution", "draw a purple elephant on a canvas") == []
    text = render("solution", got[:1], max_chars=20)
    assert "Experience from earlier projects" in text and "[... truncated]" in text


def test_query_for_maps_phases_to_sides():
    values = {"task": "T", "comments": "C", "error_summary": "E", "codes": "K",
              "unimplemented_file": "a.py"}  # fmt: skip
    assert query_for("Coding", values) == ("solution", "T")
    assert query_for("TestModification", values) == ("solution", "E")
    assert query_for("CodeReviewHuman", values) == ("solution", "C")
    assert query_for("CodeComplete", values)[1].endswith("in a.py.")
    assert query_for("CodeReviewComment", values) == ("instruction", "K")
    assert query_for("Manual", values) is None
    assert query_for("TestModification", {**values, "error_summary": " "}) is None


def test_memory_file_errors(tmp_path, earlier_run):
    with pytest.raises(UsageError, match="memory file .* not found .*build-memory"):
        Memory.load(tmp_path / "none.json", MemoryConfig())
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(UsageError, match="not a thunlp-repro/chatdev-ecl-memory file"):
        Memory.load(bad, MemoryConfig())
    good = tmp_path / "m.json"
    build_memory([earlier_run], good, embedder_name="hash")
    with pytest.raises(UsageError, match="memory.embedder minilm-l6: .* built with hash"):
        Memory.load(good, MemoryConfig(embedder="minilm-l6"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no ChatDev project folder"):
        build_memory([tmp_path / "empty"], tmp_path / "x.json", embedder_name="hash")


def _memory_company(tmp_path):
    path = tmp_path / "ecl.yaml"
    path.write_text(yaml.safe_dump({"name": "ECL", "flags": {"with_memory": True}}))
    return path


def test_with_memory_needs_a_memory_file(tmp_path):
    cfg = fast_config(f"project.company={_memory_company(tmp_path)}")
    with pytest.raises(UsageError, match="with_memory: true but no memory file .*--memory FILE"):
        run_project(DICE.task, name="m", cfg=cfg, client=ScriptedLLM(chatdev_script(DICE)),
                    root=tmp_path)  # fmt: skip
    assert not (tmp_path / "chatdev" / "m").exists()


def test_retrieved_shortcut_reaches_the_prompts(earlier_run, tmp_path):
    memory_file = tmp_path / "memory.json"
    build_memory([earlier_run], memory_file, embedder_name="hash")
    cfg = fast_config(f"project.company={_memory_company(tmp_path)}",
                      f"memory.path={memory_file}", "memory.min_similarity=0.3")  # fmt: skip
    client = ScriptedLLM(chatdev_script(DICE, buggy=True), model="fake-model")
    result = run_project(DICE.task, name="again", cfg=cfg, client=client, root=tmp_path / "r")
    assert result.status == "done", result.reason
    calls = {c.tags["phase"]: c.last for c in client.script.calls}
    # the programmer fixing the crash sees the earlier fix (the current code still has `totl`)
    fix = calls["TestModification"]
    assert "Experience from earlier projects" in fix and "Solution that worked:" in fix
    assert FIXED_LINE in fix and SUMMARY in fix.split("Experience from earlier projects")[1]
    # Coding retrieves the shortcut whose path starts with the same task
    assert "1. " + DICE.task in calls["Coding"].split("Experience from earlier projects")[1]
    # the reviewer (instructor side) sees the instruction that fixed code like this
    assert "Instruction that helped:\n" + SUMMARY in calls["CodeReviewComment"]
    assert "Experience from earlier" not in calls["Manual"]
    assert result.meta["switches"]["memory"] == str(memory_file)
    # replay serves the recorded retrievals: the memory file is not needed any more
    memory_file.unlink()
    replayed = replay_project(result.path)
    assert replayed.identical, replayed.differences


def test_without_memory_prompts_are_unchanged(tmp_path):
    client = ScriptedLLM(chatdev_script(DICE, buggy=True), model="fake-model")
    run_project(DICE.task, name="plain", cfg=fast_config(), client=client, root=tmp_path)
    assert not any("Experience from earlier" in c.last for c in client.script.calls)
