"""Markdown tables: exact strings, the fixed float format, and the comparison Δ / ok logic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from thunlp_repro.shared.reporting.tables import (
    ComparisonRow,
    comparison_cells,
    comparison_rows,
    comparison_table,
    csv_table,
    format_float,
    format_interval,
    format_mean_std,
    format_value,
    markdown_table,
)


def test_markdown_table_exact_string():
    table = markdown_table(
        ["task", "acc", "n", "note"],
        [["sst-2", 0.8123, 872, None], ["a|b", 1.0, np.int64(3), "two\nlines"]],
        align=["l", "r", "r", None],
    )
    assert table == (
        "| task | acc | n | note |\n"
        "| :--- | ---: | ---: | --- |\n"
        "| sst-2 | 0.812 | 872 | — |\n"
        "| a\\|b | 1.000 | 3 | two lines |"
    )


def test_markdown_table_errors():
    with pytest.raises(ValueError, match="row 0"):
        markdown_table(["a", "b"], [[1]])
    with pytest.raises(ValueError, match="align"):
        markdown_table(["a"], [], align=["l", "r"])
    with pytest.raises(ValueError, match="alignment"):
        markdown_table(["a"], [], align=["x"])


def test_float_format():
    assert format_float(0.81234) == "0.812"
    assert format_float(-0.0001) == "-1.000e-04"
    assert format_float(-0.0) == "0.000"
    assert format_float(-0.0004999, digits=3) == "-4.999e-04"
    assert format_float(2.5e18) == "2.500e+18"
    assert format_float(0.0) == "0.000"
    assert format_float(0.012, signed=True) == "+0.012"
    assert format_float(0.0, signed=True) == "+0.000"
    assert format_float(math.nan) == "nan"
    assert format_float(math.inf) == "inf"
    assert format_value(True) == "yes"
    assert format_value(np.float32(0.5)) == "0.500"
    assert format_value("text") == "text"


def test_format_mean_std_and_interval():
    assert format_mean_std(0.812, 0.010, 2) == "0.812 ± 0.010 (n=2)"
    assert format_mean_std(0.812, 0.010) == "0.812 ± 0.010"
    assert format_mean_std(math.nan, math.nan, 0) == "—"
    assert format_interval(0.8, 0.82) == "[0.800, 0.820]"


def test_comparison_within_and_outside_tolerance():
    assert comparison_cells(ComparisonRow("sst-2", 0.9, 0.89, 0.02, "[paper]")) == [
        "sst-2",
        "0.900 [paper]",
        "0.890",
        "-0.010",
        "±0.020",
        "✓",
    ]
    assert comparison_cells(ComparisonRow("rte", 0.7, 0.75, 0.02, "repo"))[3:] == [
        "+0.050",
        "±0.020",
        "✗",
    ]


def test_comparison_bound_is_inclusive():
    # 0.7 - 0.65 is not exactly 0.05 in floats; a value at the bound still passes
    assert comparison_cells(ComparisonRow("x", 0.7, 0.65, 0.05))[-1] == "✓"


def test_comparison_missing_and_textual_paper_values():
    missing = comparison_cells(ComparisonRow("mnli", None, 0.8, 0.01, "[paper]"))
    assert missing == ["mnli", "—", "0.800", "—", "±0.010", "—"]
    words = comparison_cells({"setting": "E1", "paper": "KI faster", "ours": 0.3, "tag": "paper"})
    assert words == ["E1", "KI faster [paper]", "0.300", "—", "—", "—"]
    nan_paper = comparison_cells(ComparisonRow("x", math.nan, 0.5, 0.1))
    assert nan_paper[1] == "—" and nan_paper[-1] == "—"
    not_run = comparison_cells(ComparisonRow("y", 0.5, None, 0.1))
    assert not_run[2:] == ["—", "—", "±0.100", "—"]


def test_comparison_per_seed_values_and_relative_and_one_sided():
    seeds = comparison_cells(ComparisonRow("sst-2", 0.9, [0.88, 0.90], 0.02))
    assert seeds[2] == "0.890 ± 0.014 (n=2)"
    assert seeds[3] == "-0.010" and seeds[-1] == "✓"
    rel = comparison_cells(ComparisonRow("steps", 100.0, 96.0, 0.05, relative=True))
    assert rel[3:] == ["-4.000", "±5.0%", "✓"]
    higher = comparison_cells(ComparisonRow("acc", 0.5, 0.7, 0.01, direction="higher"))
    assert higher[4:] == ["≥ −0.010", "✓"]
    assert comparison_cells(ComparisonRow("acc", 0.5, 0.45, 0.01, direction="higher"))[-1] == "✗"
    lower = comparison_cells(ComparisonRow("ppl", 10.0, 9.0, 0.5, direction="lower"))
    assert lower[4:] == ["≤ +0.500", "✓"]
    assert comparison_cells(ComparisonRow("ppl", 10.0, 11.0, 0.5, direction="lower"))[-1] == "✗"


def test_comparison_rows_extras_and_sort():
    rows = comparison_rows(
        [ComparisonRow("b", 1.0, 1.0, extra={"n": 3}), ComparisonRow("a", None, 2.0)],
        extra_headers=["n"],
        sort=True,
    )
    assert [r[0] for r in rows] == ["a", "b"]
    assert rows[0][-1] == "—" and rows[1][-1] == "3"
    with pytest.raises(ValueError, match="unknown"):
        comparison_rows([{"setting": "x", "papr": 1.0}])


def test_comparison_table_exact_string():
    table = comparison_table(
        [ComparisonRow("sst-2", 0.9, 0.89, 0.02, "[paper]")], setting_header="task"
    )
    assert table == (
        "| task | paper | ours | Δ | tolerance | ok |\n"
        "| :--- | ---: | ---: | ---: | ---: | :---: |\n"
        "| sst-2 | 0.900 [paper] | 0.890 | -0.010 | ±0.020 | ✓ |"
    )


def test_csv_table():
    assert csv_table(["a", "b"], [[0.1, None], ["x,y", 2]]) == 'a,b\n0.1,\n"x,y",2\n'
    assert csv_table(["a"], [[0.12345]], digits=2) == "a\n0.12\n"
