"""`thunlp-repro apet sweep --preset smoke` end to end (apet.md §4.7 smoke; issue #14 step 2):
every cell trains on MiniLM-L3, the tables, CSVs and verdicts are written, realised budgets
equal §4.5's counts, a rerun skips every finished cell, and the report renders with figures."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.conftest import require_assets
from thunlp_repro.cli.main import app

pytestmark = pytest.mark.assets


def test_smoke_sweep_resume_analyze_report(tmp_path, monkeypatch):
    require_assets("minilm-l3", "vader-movie")
    monkeypatch.setenv("CI", "true")
    runner = CliRunner()
    base = ["--runs-root", str(tmp_path / "runs"), "apet"]
    res_root = tmp_path / "results"
    res = runner.invoke(app, [*base, "sweep", "--preset", "smoke", "--results", str(res_root)])
    assert res.exit_code == 0, res.output
    out = res_root / "smoke" / "apet"
    for name in ("e1-positions.json", "e2-methods.json", "e3-thresholds.json", "runs.jsonl",
                 "summary.csv", "thresholds.csv", "verdicts.json"):  # fmt: skip
        assert (out / name).is_file(), name
    runs = [json.loads(x) for x in (out / "runs.jsonl").read_text().splitlines()]
    assert len(runs) == 20
    by = {(r["method"], r["match"]): r for r in runs if r["pool"] == "layers"}
    # §4.5 MiniLM-L3 counts, realised = requested
    assert by[("lora", None)]["budget"] == 36_864 and by[("bitfit", None)]["budget"] == 13_056
    assert by[("adapter", None)]["budget"] == 113_040 and by[("prompt", None)]["budget"] == 7_680
    assert by[("apet-element", "bitfit")]["budget"] == 13_056
    assert all(r["budget"] == r["budget_requested"] for r in runs if r["method"] != "apet-tensor")
    assert all(0.0 <= r["accuracy"] <= 100.0 and r["final_loss"] is not None for r in runs)
    ft = by[("ft", None)]
    assert ft["accuracy"] > ft["chance"] + 5  # 30 FT steps learn sent-movie
    verdicts = json.loads((out / "verdicts.json").read_text())
    assert {v["verdict"] for v in verdicts} == {"NOT TESTABLE"}  # one model: plumbing only
    cells = list((tmp_path / "runs" / "apet" / "cells").iterdir())
    assert len(cells) == 20 and all((c / "config.yaml").is_file() for c in cells)

    stamps = {c.name: (c / "config.yaml").stat().st_mtime_ns for c in cells}
    # rerun: every cell is finished, nothing trains (no cell folder is rewritten)
    res = runner.invoke(app, [*base, "sweep", "--preset", "smoke", "--results", str(res_root)])
    assert res.exit_code == 0 and "20 finished, 0 to run" in res.output
    assert {c.name: (c / "config.yaml").stat().st_mtime_ns for c in cells} == stamps

    res = runner.invoke(app, [*base, "analyze", "--preset", "smoke", "--results", str(res_root)])
    assert res.exit_code == 0 and "F1a" in res.output
    res = runner.invoke(app, [*base, "report", "--results", str(res_root),
                              "--out", str(tmp_path / "reports")])  # fmt: skip
    assert res.exit_code == 0, res.output
    md = (tmp_path / "reports" / "apet.md").read_text()
    assert "### APET — preset `smoke`" in md and "| F3 | R |" in md
    assert list((tmp_path / "reports").rglob("apet-smoke-budget.png"))
