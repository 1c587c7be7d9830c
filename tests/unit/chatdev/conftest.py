"""Helpers for the ChatDev unit tests: a fast scripted engine config."""

from __future__ import annotations

import pytest

from thunlp_repro.chatdev.config import ChatDevConfig, load_chatdev_config


def fast_config(*sets: str, preset: str | None = None) -> ChatDevConfig:
    """Default config tuned for tests: tiny backoff, short sandbox timeout, 3 discussion turns."""
    cfg, _ = load_chatdev_config(
        preset,
        overrides=[
            "llm.backend=scripted", "llm.model=fake-model", "llm.backoff_base_s=0.01",
            "llm.max_attempts=3", "sandbox.timeout_s=3", "sandbox.grace_s=0.5",
            "protocol.default_turns=3", *sets,
        ],
    )  # fmt: skip
    return cfg


@pytest.fixture
def cfg_factory():
    return fast_config
