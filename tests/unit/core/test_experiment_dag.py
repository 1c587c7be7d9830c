"""The experiment DAG behind `reproduce-all`: order, skips, profiles, errors, progress."""

from __future__ import annotations

import json

import pytest

import thunlp_repro.shared.experiments as ex
from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.registry import Registry


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(ex, "EXPERIMENTS", Registry("experiment"))
    monkeypatch.setattr(ex, "PREREQUISITES", Registry("prerequisite"))
    calls: list[str] = []

    def writer(key):
        def run(preset, target, overwrite):
            calls.append(f"{key}@{preset}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps({"preset": preset}))

        return run

    built = {"done": False}

    def build():
        calls.append("assets/head")
        built["done"] = True

    ex.register_prerequisite(ex.Prerequisite("assets/head", "a head", lambda: built["done"],
                                             build, minutes=3))  # fmt: skip
    ex.register_experiment(ex.Experiment("b", "train", "trains", writer("b/train"),
                                         needs=("assets/head",), profiles=("quick", "full"),
                                         minutes={"quick": 2, "full": 20}))  # fmt: skip
    ex.register_experiment(ex.Experiment("a", "uses", "uses b", writer("a/uses"),
                                         needs=("b/train",), profiles=("full",),
                                         minutes={"full": 5}))  # fmt: skip
    ex.register_experiment(ex.Experiment("c", "optional", "writes nothing",
                                         lambda p, t, o: calls.append("c"),
                                         profiles=("quick", "full")))  # fmt: skip
    return calls


def test_needs_run_first_and_finished_nodes_are_skipped(registry, tmp_path):
    nodes = ex.plan("full", root=tmp_path)
    assert [n.key for n in nodes] == ["assets/head", "b/train", "a/uses", "c/optional"]
    lines = []
    done = ex.execute(nodes, "full", echo=lines.append)
    assert registry == ["assets/head", "b/train@mini", "a/uses@mini", "c"]
    assert dict(done)["c/optional"] == "not run" and dict(done)["a/uses"] == "ran"
    assert (tmp_path / "mini" / "a" / "uses.json").is_file()
    assert lines[0].startswith("[1/4] assets/head: running (estimated 3 min")
    again = ex.plan("full", root=tmp_path)
    assert [n.action for n in again] == ["skip", "skip", "skip", "run"]
    assert [n.action for n in ex.plan("full", root=tmp_path, overwrite=True)][1:3] == ["run"] * 2


def test_quick_profile_writes_its_own_root_and_selects_headlines(registry, tmp_path):
    (tmp_path / "mini" / "b").mkdir(parents=True)
    record = tmp_path / "mini" / "b" / "train.json"
    record.write_text("committed")
    ex.reproduce("quick", root=tmp_path, echo=lambda _: None)
    assert "b/train@quick" in registry and not any(c.startswith("a/") for c in registry)
    assert record.read_text() == "committed"
    assert json.loads((tmp_path / "quick" / "b" / "train.json").read_text()) == {"preset": "quick"}


def test_cache_hits_leave_the_eta_alone(registry, tmp_path):
    # Every node here finishes at once, as nodes whose runs are cached do; the ETA of the rest
    # must stay at the estimates instead of collapsing to 0 min.
    lines = []
    ex.execute(ex.plan("full", root=tmp_path), "full", echo=lines.append)
    assert "[2/4] b/train: running (estimated 20 min; ETA for the rest 25 min)" in lines


def test_a_missing_prerequisite_is_built_only_for_an_experiment_that_runs(registry, tmp_path):
    (tmp_path / "mini" / "b").mkdir(parents=True)
    (tmp_path / "mini" / "b" / "train.json").write_text("{}")
    nodes = {n.key: n for n in ex.plan("full", root=tmp_path)}
    head = nodes["assets/head"]
    assert (head.action, head.minutes) == ("skip", 0.0) and "has its result" in head.why
    ex.execute(list(nodes.values()), "full", echo=lambda _: None)
    assert "assets/head" not in registry and "a/uses@mini" in registry
    assert ex.plan("full", root=tmp_path, overwrite=True)[0].action == "run"


def test_only_selects_a_node_and_its_needs(registry, tmp_path):
    nodes = ex.plan("full", only=["a/uses"], root=tmp_path)
    assert [n.key for n in nodes] == ["assets/head", "b/train", "a/uses"]
    text = ex.format_plan(nodes, "full")
    assert "~20 min" in text and "estimated total: ~28 min" in text


def test_profile_needs_join_only_their_profile(registry, tmp_path):
    ex.register_prerequisite(ex.Prerequisite("assets/adapt", "a record's head", lambda: False,
                                             lambda: registry.append("assets/adapt")))  # fmt: skip
    ex.register_experiment(ex.Experiment("d", "record", "", lambda *a: None,
                                         profile_needs={"full": ("assets/adapt",)},
                                         profiles=("quick", "full")))  # fmt: skip
    assert [n.key for n in ex.plan("full", only=["d/record"], root=tmp_path)] == [
        "assets/adapt", "d/record"]  # fmt: skip
    assert [n.key for n in ex.plan("quick", only=["d/record"], root=tmp_path)] == ["d/record"]


def test_bad_selections_name_what_is_known(registry, tmp_path):
    with pytest.raises(UsageError, match=r"unknown experiment\(s\) a/usez; known: a/uses, b/train"):
        ex.plan("full", only=["a/usez"], root=tmp_path)
    with pytest.raises(UsageError, match="unknown profile 'fast'; choose quick, full, paper"):
        ex.plan("fast", root=tmp_path)
    with pytest.raises(UsageError, match="not in the 'quick' profile"):
        ex.plan("quick", only=["a/uses"], root=tmp_path)


def test_cycles_and_dangling_needs_are_errors(registry, tmp_path):
    ex.register_experiment(ex.Experiment("d", "x", "", lambda *a: None, needs=("d/y",)))
    ex.register_experiment(ex.Experiment("d", "y", "", lambda *a: None, needs=("d/x",)))
    with pytest.raises(UsageError, match="cycle: d/x -> d/y -> d/x"):
        ex.plan("full", papers=["d"], root=tmp_path)
    ex.register_experiment(ex.Experiment("e", "x", "", lambda *a: None, needs=("ki/zoo",)))
    with pytest.raises(UsageError, match="needs 'ki/zoo'"):
        ex.plan("full", papers=["e"], root=tmp_path)


def test_every_registered_need_resolves():
    from thunlp_repro.cli.main import register_experiments

    register_experiments()
    for profile in ex.PROFILES:
        ex._order((e.key for e in ex.select(profile=profile)), profile)
    quick = {e.paper for e in ex.select(profile="quick")}
    assert {"finetune", "ki", "chatdev"} <= quick


def test_ladder_k_and_the_ki_arm_need_the_zoo_in_full_only():
    from thunlp_repro.cli.main import register_experiments

    register_experiments()
    for key in ("apet/e1-positions", "apet/e3-thresholds", "prompt_transfer/transfer"):
        assert ex._order([key], "full").index("ki/zoo") < ex._order([key], "full").index(key)
    assert "ki/zoo" not in ex._order(["apet/e3-thresholds", "prompt_transfer/transfer"], "quick")
