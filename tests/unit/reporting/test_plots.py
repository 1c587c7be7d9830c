"""Plots: PNGs are written, have the fixed size, carry no version metadata, and are reproducible."""

from __future__ import annotations

import struct

import pytest

from thunlp_repro.shared.reporting.plots import DPI, FIGSIZE, bar_plot, line_plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC
    return struct.unpack(">II", data[16:24])


def _line(path):
    return line_plot(
        {"KI": ([0, 100, 200], [40.0, 25.0, 18.0]), "scratch": ([0, 100, 200], [40.0, 30.0, 22.0])},
        path,
        xlabel="steps",
        ylabel="validation PPL",
        title="E1",
        paper_series={"KI": ([0, 100, 200], [38.0, None, 17.0]), "other": ([0, 200], [39.0, 20.0])},
        bands={"KI": ([39.0, 24.0, 17.0], [41.0, 26.0, 19.0])},
        hlines={"teacher PPL": 15.0},
        vlines={"T": 120},
        logy=True,
    )


def _bars(path):
    return bar_plot(
        ["completeness", "executability", "consistency"],
        {"ChatDev": [0.56, 0.88, 0.80], "single agent": [0.4, 0.6, 0.7]},
        path,
        xlabel="metric",
        ylabel="score (fraction)",
        title="T1",
        errors={"ChatDev": [0.02, 0.03, None]},
        paper_values={"ChatDev": [0.5600, None, 0.7912]},
    )


@pytest.mark.parametrize("make", [_line, _bars])
def test_png_written_with_fixed_size_and_no_software_chunk(tmp_path, make):
    path = make(tmp_path / "sub" / "fig.png")
    data = path.read_bytes()
    assert _png_size(data) == (round(FIGSIZE[0] * DPI), round(FIGSIZE[1] * DPI))
    assert b"Software" not in data and b"matplotlib" not in data.lower()
    assert not [p for p in path.parent.iterdir() if p.name != "fig.png"]  # no temp files left


@pytest.mark.parametrize("make", [_line, _bars])
def test_png_bytes_identical_across_writes(tmp_path, make):
    a = make(tmp_path / "a.png").read_bytes()
    b = make(tmp_path / "b.png").read_bytes()
    assert a == b


def test_bar_plot_single_series_horizontal_and_validation(tmp_path):
    path = bar_plot(
        ["ModuleNotFoundError", "NameError"],
        [45.0, 15.0],
        tmp_path / "errors.png",
        ylabel="share of failures (%)",
        paper_values=[45.76, 15.25],
        errors=[1.0, 2.0],
        horizontal=True,
    )
    assert path.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="categories"):
        bar_plot(["a", "b"], [1.0], tmp_path / "bad.png")
    with pytest.raises(ValueError, match="unknown series"):
        bar_plot(["a"], {"x": [1.0]}, tmp_path / "bad.png", errors={"y": [0.1]})


def test_line_plot_validation(tmp_path):
    with pytest.raises(ValueError, match="length"):
        line_plot({"a": ([1, 2], [1.0])}, tmp_path / "x.png", "steps", "loss (nats)")
    with pytest.raises(ValueError, match="no series"):
        line_plot(
            {"a": ([1, 2], [1.0, 2.0])},
            tmp_path / "x.png",
            "steps",
            "loss (nats)",
            bands={"b": ([0, 0], [1, 1])},
        )
