"""Step checkpoints: `checkpoints/step_00001000/` with accelerate state and `train_state.json`.

Rotation keeps the newest `total_limit`; `--resume auto` picks the newest complete one. A
checkpoint is written into a temp folder and renamed, so a crash never leaves a half one.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from thunlp_repro.shared.errors import UsageError

_STEP = re.compile(r"^step_(\d{8})$")


def step_dir(root: Path, step: int) -> Path:
    """The folder of the checkpoint at `step`."""
    return Path(root) / f"step_{step:08d}"


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints under `root`, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [
        p for p in root.iterdir() if _STEP.match(p.name) and (p / "train_state.json").is_file()
    ]
    return sorted(found, key=lambda p: int(_STEP.match(p.name).group(1)))  # type: ignore[union-attr]


def resolve_resume(resume: str | None, root: Path) -> Path | None:
    """Turn `--resume auto|PATH` into a checkpoint folder (None: start fresh).

    `auto` with no checkpoint yet starts fresh, so `--resume auto` is always safe to pass.
    """
    if resume is None:
        return None
    if resume == "auto":
        found = list_checkpoints(root)
        return found[-1] if found else None
    path = Path(resume)
    if not (path / "train_state.json").is_file():
        raise UsageError(f"--resume {resume}: not a checkpoint folder (no train_state.json)")
    return path


def rotate(root: Path, total_limit: int) -> None:
    """Delete all but the newest `total_limit` checkpoints and any unfinished temp folders."""
    for tmp in Path(root).glob(".tmp-step_*"):
        shutil.rmtree(tmp, ignore_errors=True)
    for old in list_checkpoints(root)[:-total_limit]:
        shutil.rmtree(old, ignore_errors=True)
