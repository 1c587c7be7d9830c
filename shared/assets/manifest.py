"""`MANIFEST.json` of an installed asset: what it was built from and the sha256 of every file.

Reproduces: offline-assets.md §8 ("Per-asset cache layout"). The manifest records the pinned
packages with their wheel sha256, the payload sha256 (checked against the Appendix), every file of
the asset folder with its size and sha256, the library versions used and the creation time.
`check_installed` re-hashes the folder against it to find corrupt or tampered assets.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import platform
from pathlib import Path
from typing import Any

from thunlp_repro.shared.assets.hashing import file_entry, sha256_bytes, sha256_file
from thunlp_repro.shared.assets.lock import normalize_requirement
from thunlp_repro.shared.assets.spec import AssetSpec

MANIFEST_NAME = "MANIFEST.json"
SCHEMA_VERSION = 1

# Libraries whose version can change a converted payload; recorded when installed.
LIBRARIES = (
    "torch",
    "transformers",
    "tokenizers",
    "safetensors",
    "accelerate",
    "gguf",
    "onnx",
    "onnxruntime",
    "numpy",
    "pip",
)


def library_versions() -> dict[str, str]:
    """Versions of python and the installed `LIBRARIES` (read from metadata, nothing imported)."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def list_files(root: Path) -> list[Path]:
    """Every file under `root` except the manifest itself, in sorted posix order."""
    files = [p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts]
    return sorted(
        (p for p in files if p.relative_to(root).as_posix() != MANIFEST_NAME),
        key=lambda p: p.relative_to(root).as_posix(),
    )


def content_digest(manifest: dict[str, Any]) -> str:
    """sha256 over an asset's (path, sha256) file list: stable across identical rebuilds."""
    lines = sorted(f"{f.get('path')} {f.get('sha256')}" for f in manifest.get("files", []))
    return sha256_bytes("\n".join(lines).encode("utf-8"))


def requirement_entries(spec: AssetSpec, assets_dir: Path) -> list[dict[str, str]]:
    """[{asset, content_sha256}] of the installed assets `spec` requires (for staleness checks)."""
    return [
        {"asset": dep, "content_sha256": content_digest(read_manifest(assets_dir / dep))}
        for dep in spec.requires
    ]


def build_manifest(
    spec: AssetSpec,
    root: Path,
    *,
    packages: list[dict[str, Any]],
    payloads: list[dict[str, Any]],
    info: dict[str, Any],
    builder: str,
    requires: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Assemble the manifest of a finished asset folder (hashes every file in it).

    Args:
        spec: The asset.
        root: The built folder.
        packages: [{requirement, file, sha256}] of the wheels read.
        payloads: [{name, path, bytes, sha256, catalogue}] checked by the builder.
        requires: [{asset, content_sha256}] of the required assets it was built from.
        info: Extra facts recorded by the builder (row counts, parity error, ...).
        builder: Qualified name of the builder function.

    Returns:
        The manifest dict (JSON-serialisable).
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "asset": spec.name,
        "kind": spec.kind,
        "revision": spec.revision,
        "builder": builder,
        "packages": packages,
        "requires": requires or [],
        "payloads": payloads,
        "files": [file_entry(root, p) for p in list_files(root)],
        "info": info,
        "libraries": library_versions(),
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def read_manifest(root: Path) -> dict[str, Any]:
    """Load `root/MANIFEST.json`.

    Raises:
        OSError, ValueError: missing or not valid JSON.
    """
    data = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def installed_bytes(manifest: dict[str, Any]) -> int:
    """Total size of the asset's files according to its manifest (no disk access)."""
    return sum(int(f.get("bytes", 0)) for f in manifest.get("files", []))


def check_installed(spec: AssetSpec, root: Path) -> list[str]:
    """Re-hash an installed asset against its manifest and the catalogue.

    Args:
        spec: The catalogue entry.
        root: The installed folder.

    Returns:
        Problems, one line each; empty when the asset is intact and up to date.
    """
    try:
        manifest = read_manifest(root)
    except (OSError, ValueError) as exc:
        return [f"{MANIFEST_NAME} unreadable: {exc}"]
    problems: list[str] = []
    if manifest.get("asset") != spec.name:
        problems.append(f"{MANIFEST_NAME} belongs to asset {manifest.get('asset')!r}")
    if manifest.get("revision", 1) != spec.revision:
        problems.append(
            f"stale: built by builder revision {manifest.get('revision')}, "
            f"catalogue is at revision {spec.revision}"
        )
    built = sorted(normalize_requirement(p["requirement"]) for p in manifest.get("packages", []))
    pinned = sorted(normalize_requirement(r) for r in spec.packages)
    if built != pinned:
        problems.append(
            f"stale: built from {', '.join(built) or 'no package'}, "
            f"catalogue pins {', '.join(pinned) or 'no package'}"
        )
    for dep in manifest.get("requires", []):
        try:
            current = content_digest(read_manifest(root.parent / str(dep.get("asset"))))
        except (OSError, ValueError):
            problems.append(f"stale: required asset {dep.get('asset')} is not installed")
            continue
        if current != dep.get("content_sha256"):
            problems.append(f"stale: required asset {dep.get('asset')} changed since this build")
    files = manifest.get("files")
    if not isinstance(files, list) or not files:
        return [*problems, f"{MANIFEST_NAME} lists no files"]
    actual: dict[str, str] = {}
    bad: set[str] = set()
    for entry in files:
        rel = str(entry.get("path", ""))
        path = root / rel
        if not rel or not path.is_file():
            problems.append(f"missing file {rel}")
            continue
        size = path.stat().st_size
        if size != entry.get("bytes"):
            problems.append(
                f"{rel}: {size} bytes, manifest says {entry.get('bytes')} (corrupt or tampered)"
            )
            continue
        actual[rel] = sha256_file(path)
        if actual[rel] != entry.get("sha256"):
            bad.add(rel)
            problems.append(f"{rel}: sha256 differs from the manifest (corrupt or tampered)")
    for payload in manifest.get("payloads", []):
        expected = spec.payloads.get(str(payload.get("name")))
        rel = payload.get("path")
        if expected is None:
            continue
        if payload.get("sha256") != expected:
            problems.append(f"payload {payload.get('name')}: sha256 differs from the catalogue")
        elif rel and rel in actual and rel not in bad and actual[rel] != expected:
            problems.append(f"{rel}: sha256 differs from the catalogue (corrupt or tampered)")
    return problems
