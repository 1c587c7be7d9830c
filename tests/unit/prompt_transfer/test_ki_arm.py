"""The `ki-arm` stage (prompt_transfer.md §4.3, §5.1 M10) on tiny BERTs standing in for the KI
zoo encoders: a built encoder gets its own train + matrix sub-study with one seed and a native
head, an unbuilt one is `not run` with the build command, an unknown name is bad input, the
report-only M10 line carries the arm, and a rerun reuses every finished run."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.unit.prompt_transfer.test_stages_tiny import TASKS, make, tiny_backbone, tiny_task
from thunlp_repro.prompt_transfer import ki_arm, pipeline
from thunlp_repro.prompt_transfer.gates import compute_gates
from thunlp_repro.prompt_transfer.report import write_study_report
from thunlp_repro.shared.errors import UsageError

BUILT, UNBUILT = "ki-mini-ladder-s", "ki-mini-ladder-m"


@pytest.fixture
def study(tmp_path, monkeypatch):
    monkeypatch.setenv("THUNLP_REPRO_HOME", str(tmp_path / "home"))  # an empty zoo
    s = make(tmp_path / "study", monkeypatch)
    s.cfg = replace(s.cfg, exp=replace(s.cfg.exp, ki_backbones=[BUILT, UNBUILT], seeds=[3, 4]))
    monkeypatch.setattr(pipeline, "load_backbone", lambda cfg: tiny_backbone(cfg.model.name, 1))
    monkeypatch.setattr(pipeline, "load_task", lambda name, tok, cfg: tiny_task(name, TASKS[name]))
    real = ki_arm.missing_reason
    monkeypatch.setattr(ki_arm, "missing_reason", lambda n: None if n == BUILT else real(n))
    return s


def test_missing_reason_names_the_build_and_refuses_unknown_names(tmp_path, monkeypatch):
    monkeypatch.setenv("THUNLP_REPRO_HOME", str(tmp_path))
    assert "thunlp-repro ki zoo build" in ki_arm.missing_reason(UNBUILT)
    with pytest.raises(UsageError, match="ki-mini-bogus"):
        ki_arm.missing_reason("ki-mini-bogus")


def test_ki_arm_runs_built_encoders_and_records_the_rest(study):
    doc = pipeline.run_ki_arm(study)
    assert doc["status"] == "ok" and doc["seed"] == 3
    built, unbuilt = doc["encoders"][BUILT], doc["encoders"][UNBUILT]
    assert unbuilt["status"] == "not run" and "ki zoo build" in unbuilt["reason"]
    sub = pipeline.Study(study.cfg, study.root / "ki-arm" / BUILT)
    train, matrix = sub.read_stage("train"), sub.read_stage("matrix")
    assert train["seeds"] == [3] and train["backbone"]["backbone"] == BUILT
    assert set(train["runs"]) == set(TASKS)
    summary = matrix["per_seed"]["3"]["summary"]
    assert built["same"] == summary["same"] and built["gap"] == summary["gap"]
    assert built["own_acc"] == {t: r["3"]["test_accuracy"] for t, r in train["runs"].items()}
    (m10,) = doc["gates"]
    assert m10["id"] == "M10" and f"KI arm: {BUILT} same {summary['same']:.1f}" in m10["value"]
    assert f"not run (zoo entry not built): {UNBUILT}" in m10["value"]
    gates = {g["id"]: g for g in compute_gates(study.root)}
    assert "KI arm" in gates["M10"]["value"]
    report = write_study_report(study.root, list(gates.values())).read_text()
    assert "### KI arm" in report and BUILT in report
    prompts = sorted((study.root / "ki-arm" / BUILT / "prompts").rglob("prompt.safetensors"))
    stamps = [p.stat().st_mtime_ns for p in prompts]
    again = pipeline.run_ki_arm(study)  # a rerun trains nothing again
    assert again["encoders"][BUILT]["same"] == built["same"]
    assert [p.stat().st_mtime_ns for p in prompts] == stamps


def test_unknown_encoder_fails_before_any_work(study):
    study.cfg = replace(study.cfg, exp=replace(study.cfg.exp, ki_backbones=["ki-mini-bogus"]))
    with pytest.raises(UsageError, match="ki-mini-bogus"):
        pipeline.run_ki_arm(study)
    assert not (study.root / "ki-arm").exists()


def test_a_checkpoint_folder_gets_a_sub_study_inside_the_study(study, tmp_path):
    ckpt = str(tmp_path / "elsewhere" / "export")
    sub = ki_arm.sub_study(study, ckpt)
    assert sub.root.parent == study.root / "ki-arm" and sub.root.name.startswith("export-")
    assert ki_arm.sub_study(study, BUILT).root == study.root / "ki-arm" / BUILT
