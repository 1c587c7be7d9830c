"""`thunlp-repro prompt-transfer all --preset smoke` end to end (prompt_transfer.md §4.4 smoke,
issue #15): one shared run (module fixture, ~1.5 min on 2 cores with the smoke head cached, a few
more minutes when the 50k-token head is built first) checked for its artefacts, the printed gate
table, the results JSON and report, then a rerun that must skip every finished run and cell."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from tests.conftest import require_assets
from thunlp_repro.cli.main import app


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    require_assets("minilm-l6")
    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("pt-smoke")
    mp.setenv("THUNLP_REPRO_RUNS", str(tmp / "runs"))
    runner = CliRunner()
    args = ["prompt-transfer", "all", "--preset", "smoke", "--results", str(tmp / "results")]
    first = runner.invoke(app, args)
    study = tmp / "runs" / "prompt_transfer" / "smoke"
    mtimes = {p: p.stat().st_mtime_ns for p in study.rglob("*") if p.is_file()}
    second = runner.invoke(app, args)
    yield {"tmp": tmp, "study": study, "first": first, "second": second, "mtimes": mtimes}
    mp.undo()


def test_first_run_succeeds_and_prints_the_gate_table(smoke):
    res = smoke["first"]
    assert res.exit_code == 0, res.output
    out = res.output
    for gid in [f"M{i}" for i in range(1, 11)]:
        assert re.search(rf"^{gid}\s+(PASS|FAIL|report-only|not run)\s", out, re.M), gid
    assert "train: ok" in out and "matrix: ok" in out and "tpt: ok" in out


def test_artefacts_and_shapes(smoke):
    from thunlp_repro.prompt_transfer.artefacts import load_prompt

    study = smoke["study"]
    train = json.loads((study / "stages" / "train.json").read_text())
    tasks = ["sent-movie", "sent-amazon", "trec", "nli-news"]
    assert train["tasks"] == tasks and train["n_runs"] == 4
    for t in tasks:
        run = train["runs"][t]["0"]
        tensor, meta = load_prompt(run["prompt"])
        assert tuple(tensor.shape) == (20, 384)
        assert meta["task"] == t and meta["seed"] == 0 and meta["length"] == 20
        assert meta["head"] == "restored" and len(meta["head_sha256"]) == 64
        assert [p["step"] for p in run["curve"]] == [0, 10, 20, 30]
    matrix = json.loads((study / "stages" / "matrix.json").read_text())
    rel = matrix["per_seed"]["0"]["rel"]
    assert all(rel[t][t] == 100.0 for t in tasks)
    assert set(rel["trec"]) == {*tasks, "rand-init", "rand-uniform", "majority"}
    # 4 targets x (4 sources + 2 random) on test, again on dev
    assert len(list((study / "cells").glob("*.json"))) == 2 * 4 * 6
    tpt = json.loads((study / "stages" / "tpt.json").read_text())
    (row,) = tpt["rows"]
    assert row["target"] == "sent-amazon" and row["source"] == "sent-movie"
    assert all(c["equal"] for c in tpt["a0_checks"])  # a(0) = the zero-shot dev cell


def test_report_and_results_json(smoke):
    study, tmp = smoke["study"], smoke["tmp"]
    report = (study / "report" / "report.md").read_text()
    assert report.index("Verdicts") < report.index("transfer heat map")
    assert (study / "report" / "transfer_heatmap_minilm-l6.png").stat().st_size > 10_000
    assert (study / "report" / "tpt_curves_sent-amazon.png").is_file()
    assert "Wall time per stage" in report
    doc = json.loads((tmp / "results" / "smoke" / "prompt_transfer" / "transfer.json").read_text())
    assert doc["run_info"]["paper"] == "prompt_transfer"
    assert set(doc["metrics"]["gates"]) == {f"M{i}" for i in range(1, 11)}
    assert "gap" in doc["metrics"]["headline"]


def test_rerun_skips_finished_work(smoke):
    res = smoke["second"]
    assert res.exit_code == 0, res.output
    for p, mtime in smoke["mtimes"].items():
        if "prompts" in p.parts or "cells" in p.parts or "tpt" in p.parts:
            assert p.stat().st_mtime_ns == mtime, f"{p} was rewritten"
    assert "engine:" not in res.output  # no training run started
