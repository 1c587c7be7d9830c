"""write_report end to end on hand-written result files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thunlp_repro.shared.reporting import report as report_mod
from thunlp_repro.shared.reporting.plots import bar_plot
from thunlp_repro.shared.reporting.report import (
    REPORT_SECTIONS,
    generic_section,
    register_section,
    write_report,
)
from thunlp_repro.shared.reporting.results import build_results, load_results
from thunlp_repro.shared.reporting.tables import ComparisonRow, comparison_table


def _result(paper, preset, table, metrics, status="ok"):
    return build_results(
        {
            "paper": paper,
            "experiment": f"{table}-exp",
            "table": table,
            "preset": preset,
            "status": status,
            "created_at": "2024-01-01T00:00:00+00:00",
        },
        {"seed": 0},
        metrics,
    )


def _write(root: Path, result: dict) -> None:
    info = result["run_info"]
    path = root / info["preset"] / info["paper"] / f"{info['table']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))


@pytest.fixture
def results_root(tmp_path):
    root = tmp_path / "results"
    _write(root, _result("demo_generic", "mini", "t1", {"acc": 0.8123, "ppl": {"news": 12.0}}))
    _write(root, _result("demo_generic", "paper", "t1", {"acc": 0.9}, status="failed"))
    _write(root, _result("demo_custom", "mini", "t2", {"acc": 0.5}))
    _write(root, _result("demo_custom", "paper", "t2", {"acc": 0.88}))
    return root


@pytest.fixture
def custom_writer():
    calls = []

    def writer(results, out_dir):
        presets = {r["_source"]["preset"] for r in results}
        calls.append(presets)
        (preset,) = presets  # one preset per call: mini and paper never mixed
        acc = results[0]["metrics"]["acc"]
        bar_plot(["acc"], [acc], out_dir / "acc.png", ylabel="accuracy (fraction)")
        table = comparison_table(
            [ComparisonRow("acc", 0.9 if preset == "paper" else None, acc, 0.05, "[paper]")]
        )
        return f"### T2\n\n{table}\n\n![accuracy](acc.png)"

    register_section("demo_custom")(writer)
    yield calls
    REPORT_SECTIONS._entries.pop("demo_custom", None)
    REPORT_SECTIONS._meta.pop("demo_custom", None)


def test_write_report_end_to_end(results_root, tmp_path, custom_writer):
    reports = tmp_path / "reports"
    written = write_report(results_root, reports)
    assert written == [
        reports / "demo_custom.md",
        reports / "demo_generic.md",
        reports / "README.md",
        reports / "REPORT.md",
    ]
    assert custom_writer == [{"mini"}, {"paper"}]

    custom = (reports / "demo_custom.md").read_text()
    mini_part, paper_part = custom.split("## `paper` preset")
    assert "## `mini` preset" in mini_part
    assert "| acc | — | 0.500 | — | ±0.050 | — |" in mini_part
    assert "| acc | 0.900 [paper] | 0.880 | -0.020 | ±0.050 | ✓ |" in paper_part
    # figure links are rebased from out_dir to the markdown file's folder
    assert "![accuracy](demo_custom/mini/acc.png)" in mini_part
    assert "![accuracy](demo_custom/paper/acc.png)" in paper_part
    assert (reports / "demo_custom/mini/acc.png").is_file()
    assert (reports / "demo_custom/paper/acc.png").is_file()

    generic = (reports / "demo_generic.md").read_text()
    assert "No report section is registered for `demo_generic`" in generic
    g_mini, g_paper = generic.split("## `paper` preset")
    assert "| acc | 0.812 |" in g_mini and "| ppl.news | 12.000 |" in g_mini
    assert "0.900" not in g_mini and "Status: **failed**" in g_paper and "1 not ok" in g_paper
    assert not (reports / "demo_generic").exists()  # no figures -> no empty folders left

    index = (reports / "README.md").read_text()
    assert index.index("## `mini` preset") < index.index("## `paper` preset")
    assert "[demo_custom.md](demo_custom.md#mini-preset)" in index
    assert "[demo_generic.md](demo_generic.md#paper-preset)" in index
    assert str(tmp_path) not in index + custom + generic  # no absolute paths


def test_write_report_is_deterministic(results_root, tmp_path, custom_writer):
    def snapshot(folder: Path) -> dict[str, bytes]:
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.*")}

    write_report(results_root, tmp_path / "r1")
    write_report(results_root, tmp_path / "r2")
    first = snapshot(tmp_path / "r1")
    assert first == snapshot(tmp_path / "r2")
    write_report(results_root, tmp_path / "r1")  # rerun in place: same bytes
    assert snapshot(tmp_path / "r1") == first
    assert not [name for name in first if name.endswith(".tmp")]


def test_write_report_without_results(tmp_path):
    written = write_report(tmp_path / "none", tmp_path / "reports")
    assert written == [tmp_path / "reports/README.md", tmp_path / "reports/REPORT.md"]
    assert "_No headline results yet._" in (tmp_path / "reports/REPORT.md").read_text()
    assert "_No results found._" in written[0].read_text()


def test_missing_preset_section_and_generic_default(tmp_path):
    root = tmp_path / "results"
    _write(root, _result("demo_generic", "mini", "t1", {"acc": 0.5, "evals": [{"acc": 0.1}]}))
    write_report(root, tmp_path / "reports")
    text = (tmp_path / "reports/demo_generic.md").read_text()
    assert text.split("## `paper` preset")[1].strip() == "_No results._"
    section = generic_section(load_results(root), tmp_path)
    assert "evals" not in section and "### t1: t1-exp" in section


def test_register_section_refuses_duplicates():
    register_section("demo_dup")(lambda results, out_dir: "x")
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_section("demo_dup")(lambda results, out_dir: "y")
        register_section("demo_dup", replace=True)(lambda results, out_dir: "z")
        assert REPORT_SECTIONS.get("demo_dup")([], Path()) == "z"
    finally:
        REPORT_SECTIONS._entries.pop("demo_dup", None)
        REPORT_SECTIONS._meta.pop("demo_dup", None)


def test_section_writer_discovery_ignores_missing_packages_only():
    assert report_mod.section_writer("no_such_paper_xyz") is None


def test_a_run_in_another_root_is_reported_beside_the_committed_record(tmp_path):
    records, runs = tmp_path / "results", tmp_path / "elsewhere"
    _write(records, _result("demo_generic", "mini", "t1", {"acc": 0.5}))
    _write(records, _result("demo_generic", "quick", "t1", {"acc": 0.1}))
    _write(runs, _result("demo_generic", "quick", "t1", {"acc": 0.4}))
    write_report(runs, tmp_path / "alone")
    alone = (tmp_path / "alone/demo_generic.md").read_text()
    assert alone.split("## `mini` preset")[1].split("## ")[0].strip() == "_No results._"
    write_report(runs, tmp_path / "beside", record_root=records)
    text = (tmp_path / "beside/demo_generic.md").read_text()
    mini = text.split("## `mini` preset")[1].split("## `")[0]
    quick = text.split("## `quick` preset")[1].split("## `")[0]
    assert "0.5" in mini and "0.4" in quick and "0.1" not in quick  # the record's quick is not read
