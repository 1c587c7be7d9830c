"""What a run ran on: package versions, git state, hardware. Written to `env.json` of every run.

Reads versions through importlib.metadata so nothing heavy is imported just to describe it.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGES = (
    "torch", "transformers", "accelerate", "peft", "datasets", "tokenizers", "safetensors",
    "openai", "typer", "numpy", "onnxruntime", "llama-cpp-python", "deepspeed", "tensorboard",
)  # fmt: skip


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each package, None when absent."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state(cwd: str | Path | None = None) -> dict[str, Any]:
    """The repository's commit and whether the work tree has uncommitted changes."""
    cwd = Path(cwd or Path(__file__).resolve().parent)

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    sha = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"sha": sha, "dirty": bool(status) if status is not None else None}


def hardware() -> dict[str, Any]:
    """CPU count and, if torch is already imported, the GPUs it sees."""
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "gpus": [],
    }
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def describe_env(**extra: Any) -> dict[str, Any]:
    """Everything `env.json` holds; `extra` adds run-specific fields (world size, assets)."""
    return {"packages": package_versions(), "git": git_state(), "hardware": hardware(), **extra}
