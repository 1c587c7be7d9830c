"""Shared test setup: offline hub, two threads, seeded, and the `assets` skip/require rule."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _offline_and_seeded(monkeypatch):
    """Every test runs offline, on two threads, with fresh seeds and the default dtype."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import torch

    torch.set_num_threads(2)
    dtype = torch.get_default_dtype()
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(dtype)


def require_assets(*names: str) -> None:
    """Skip the calling test when an offline asset is missing; fail instead in CI.

    CI sets THUNLP_REPRO_REQUIRE_ASSETS=1 after `make assets`, so a missing install step
    turns into a red run rather than a silent skip.
    """
    from thunlp_repro.shared.assets import is_installed

    missing = [n for n in names if not is_installed(n)]
    if not missing:
        return
    msg = f"offline assets not installed: {', '.join(missing)} (run: thunlp-repro assets install)"
    if os.environ.get("THUNLP_REPRO_REQUIRE_ASSETS") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture
def run_root(tmp_path, monkeypatch):
    """A runs root inside tmp_path, also exported as THUNLP_REPRO_RUNS."""
    root = tmp_path / "runs"
    monkeypatch.setenv("THUNLP_REPRO_RUNS", str(root))
    return root


def pytest_addoption(parser):
    parser.addoption(
        "--update-expected",
        action="store_true",
        default=False,
        help="rewrite the hard-coded expected values of regression tests (deliberate only)",
    )


@pytest.fixture
def update_expected(request) -> bool:
    """True when the run was started with --update-expected."""
    return bool(request.config.getoption("--update-expected"))
