"""APET report section rendered from a results JSON (apet.md §6): verdict table first, figures,
thresholds, methods with realised counts; headline verdict computed from the records."""

from __future__ import annotations

from thunlp_repro.apet import report
from thunlp_repro.apet.sweep import Cell, Plan, write_tables
from thunlp_repro.shared.io import read_json

from .test_verdicts import _ladder


def _write(tmp_path):
    recs = _ladder(10.0, 2.0)
    for r in recs:
        r.update(impl="delta", device="cpu", wall_s=1.0, train_s=0.8)
    cells = {Cell(r["model"], r["task"], r["method"], r["s_pos"], r["s_data"],
                  r["budget"] or None, r["match"]): r for r in recs}  # fmt: skip
    plan = Plan({"e3-thresholds": list(cells)})
    meta = {
        "ladders": {"R": ["s", "l"]},
        "tasks": ["a", "b", "c"],
        "structured_pools": [],
        "bootstrap": 100,
        "compare_bootstrap": 100,
        "hardware": "2 CPU cores",
    }
    write_tables(plan, cells, tmp_path / "res", "mini", meta)
    return tmp_path / "res"


def test_tables_files_and_section(tmp_path):
    out = _write(tmp_path)
    for name in ("e3-thresholds.json", "runs.jsonl", "summary.csv", "thresholds.csv",
                 "verdicts.json"):  # fmt: skip
        assert (out / name).is_file() and (out / name).stat().st_size > 0
    assert not list(out.glob("*.tmp*"))  # atomic writes leave nothing half-written
    doc = read_json(out / "e3-thresholds.json")
    md = report.render_section([doc], tmp_path / "fig")
    lines = md.splitlines()
    first_table = next(i for i, x in enumerate(lines) if x.startswith("| finding"))
    assert first_table < next(i for i, x in enumerate(lines) if x.startswith("![")), (
        "the verdict table comes first"
    )
    assert "| F2a | R |" in md and "**REPRODUCED**" in md and "| K |" in md  # K: not run
    assert (tmp_path / "fig" / "apet-mini-budget.png").stat().st_size > 1000
    assert (tmp_path / "fig" / "apet-mini-gap.png").is_file()
    assert "L realised" in md and "Hardware and wall time" in md and "2 CPU cores" in md
    rows = report.headlines({"mini": [doc], "quick": []})
    assert rows[0].verdict in ("REPRODUCED", "DIRECTION ONLY")
