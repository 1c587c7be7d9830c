"""Where the project keeps things outside the repository: asset cache, default runs root."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """Asset and derived-model cache: `$THUNLP_REPRO_HOME`, default `~/.cache/thunlp-repro`."""
    return Path(os.environ.get("THUNLP_REPRO_HOME", Path.home() / ".cache" / "thunlp-repro"))


def runs_root() -> Path:
    """Default root of run folders: `$THUNLP_REPRO_RUNS`, else `./runs`."""
    return Path(os.environ.get("THUNLP_REPRO_RUNS", "runs"))
