"""Benchmarks run offline on two threads, like the tests."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _two_threads():
    import torch

    torch.set_num_threads(2)
    torch.manual_seed(0)
