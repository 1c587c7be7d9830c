"""Fixtures for the asset-system tests: a private asset home, fake wheels, a fake registry."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from thunlp_repro.shared.assets.lock import LockEntry


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """`$THUNLP_REPRO_HOME` inside tmp_path."""
    root = tmp_path / "home"
    monkeypatch.setenv("THUNLP_REPRO_HOME", str(root))
    return root


def make_wheel(folder: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    """Write a small wheel-like zip `{name}-{version}-py3-none-any.whl` holding `files`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in files.items():
            zf.writestr(member, data)
    return path


def lock_entry(wheel: Path, name: str, version: str) -> LockEntry:
    """Lock entry matching `wheel`'s real sha256."""
    return LockEntry(name, version, hashlib.sha256(wheel.read_bytes()).hexdigest())


class FakePip:
    """Stands in for `pip download`: copies files from a local "index" folder into `-d`.

    Records every command line and the requirement lines pip was given.
    """

    def __init__(self, index: Path, returncode: int = 0, stderr: str = "") -> None:
        self.index = index
        self.returncode = returncode
        self.stderr = stderr
        self.calls: list[list[str]] = []
        self.requirements: list[str] = []

    def __call__(self, cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
        cmd = list(cmd)
        self.calls.append(cmd)
        req_file = Path(cmd[cmd.index("-r") + 1])
        dest = Path(cmd[cmd.index("-d") + 1])
        lines = [ln for ln in req_file.read_text().splitlines() if ln.strip()]
        self.requirements.extend(lines)
        if self.returncode == 0:
            dest.mkdir(parents=True, exist_ok=True)
            for line in lines:
                name, _, rest = line.partition("==")
                version = rest.split()[0]
                for wheel in self.index.glob(f"{name.replace('-', '_')}-{version}-*.whl"):
                    shutil.copy(wheel, dest / wheel.name)
        return subprocess.CompletedProcess(cmd, self.returncode, "", self.stderr)


@pytest.fixture
def fake_pip_factory() -> Callable[..., FakePip]:
    """Build a `FakePip` for an index folder."""
    return FakePip
