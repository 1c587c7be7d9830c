"""sha256 of files and streams, read in chunks so multi-GB payloads never sit in memory."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import IO

CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def copy_and_hash(src: IO[bytes], dest: IO[bytes]) -> tuple[str, int]:
    """Copy a binary stream into another one, hashing on the way.

    Returns:
        (hex sha256, number of bytes copied).
    """
    digest = hashlib.sha256()
    size = 0
    for block in iter(lambda: src.read(CHUNK), b""):
        digest.update(block)
        dest.write(block)
        size += len(block)
    return digest.hexdigest(), size


def file_entry(root: Path, path: Path) -> dict[str, object]:
    """Manifest entry of one file: posix path relative to `root`, bytes and sha256."""
    return {
        "path": path.relative_to(root).as_posix(),
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def copy_file(src: Path, dest: Path) -> None:
    """Copy one file, creating parent folders."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
