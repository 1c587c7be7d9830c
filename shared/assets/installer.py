"""Install and verify assets: download, build in a staging folder, hash, then rename into place.

Reproduces: offline-assets.md §0 rule 2 and §8. Guarantees:

- **All or nothing.** A build runs in `.<id>.tmp-*` next to the final folder and is renamed to
  `assets/<id>/` only after its manifest is written; an interrupted install leaves no half asset
  (leftovers are removed by the next install of that asset).
- **Idempotent.** An installed asset whose files still match its manifest is skipped; `force`
  rebuilds it; a corrupt, tampered or stale one is rebuilt.
- **One builder at a time per asset**, across processes (a lock file next to the asset folders).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from thunlp_repro.shared.assets.context import BuildContext
from thunlp_repro.shared.assets.download import PipRunner, fetch
from thunlp_repro.shared.assets.errors import AssetBuildError
from thunlp_repro.shared.assets.locate import asset_dir, assets_root, is_installed, wheels_root
from thunlp_repro.shared.assets.lock import LockEntry, entries_for, load_lock
from thunlp_repro.shared.assets.manifest import (
    MANIFEST_NAME,
    build_manifest,
    check_installed,
    requirement_entries,
)
from thunlp_repro.shared.assets.spec import ASSETS, AssetSpec
from thunlp_repro.shared.errors import ReproError, UsageError
from thunlp_repro.shared.io import atomic_write_json
from thunlp_repro.shared.registry import Registry

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass
class InstallResult:
    """Outcome of installing one asset.

    Args:
        name: Asset id.
        status: `installed` (new), `rebuilt` (replaced a corrupt, stale or forced one) or
            `skipped` (already installed and verified).
        path: The asset folder.
        seconds: Wall time spent (download + build + hashing).
        problems: What made a rebuild necessary (empty for new or skipped assets).
    """

    name: str
    status: Literal["installed", "rebuilt", "skipped"]
    path: Path
    seconds: float
    problems: list[str] = field(default_factory=list)


def _names(names: str | Iterable[str] | None, registry: Registry[AssetSpec]) -> list[str]:
    if names is None:
        raise UsageError("name the assets to install (or use a group: mini, all)")
    items = [names] if isinstance(names, str) else list(names)
    for name in items:
        registry.get(name)  # unknown id -> RegistryKeyError listing the known ids
    return list(dict.fromkeys(items))


def _with_requirements(names: list[str], registry: Registry[AssetSpec]) -> list[str]:
    """`names` plus their `requires`, dependencies first (depth-first, cycles rejected)."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise UsageError(f"asset '{name}' requires itself (dependency cycle)")
        visiting.add(name)
        for dep in registry.get(name).requires:
            visit(dep)
        visiting.discard(name)
        order.append(name)

    for name in names:
        visit(name)
    return order


@contextlib.contextmanager
def _asset_lock(name: str) -> Iterator[None]:
    """Exclusive inter-process lock for building asset `name`."""
    root = assets_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{name}.lock", "a+b") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _clean_leftovers(name: str) -> None:
    """Remove staging, scratch and old folders left by an interrupted install of `name`."""
    root = assets_root()
    for kind in ("tmp", "work", "old"):
        for path in root.glob(f".{name}.{kind}-*"):
            log.info("removing leftover %s", path)
            shutil.rmtree(path, ignore_errors=True)


def _swap_into_place(staging: Path, final: Path) -> None:
    """Rename `staging` to `final`; an existing `final` is moved aside first, then deleted."""
    old: Path | None = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        os.replace(final, old / "asset")
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _normalise_permissions(root: Path) -> None:
    """Give the built tree the usual umask-based modes (mkdtemp/mkstemp create 0700/0600)."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o777 & ~umask)
        elif not path.stat().st_mode & 0o111:
            path.chmod(0o666 & ~umask)


def _builder_name(builder: object) -> str:
    module = getattr(builder, "__module__", "?")
    qualname = getattr(builder, "__qualname__", type(builder).__name__)
    return f"{module}:{qualname}"


def build_asset(
    spec: AssetSpec,
    *,
    lock: Mapping[str, LockEntry],
    registry: Registry[AssetSpec],
    progress: Progress | None = None,
    runner: PipRunner | None = None,
    fetched: Mapping[str, Path] | None = None,
) -> Path:
    """Download, build, hash and move one asset into place (no skip logic; caller holds the lock).

    `fetched` maps `name==version` to wheels already downloaded and verified in this run.

    Returns:
        The final asset folder.

    Raises:
        AssetError: Download, integrity or build failure; nothing is left half-installed.
    """
    if spec.builder is None:
        raise AssetBuildError(f"asset '{spec.name}' has no builder")
    entries = entries_for(spec.packages, lock)
    fetched = fetched or {}
    if all(e.requirement in fetched and fetched[e.requirement].is_file() for e in entries):
        wheels = {e.requirement: fetched[e.requirement] for e in entries}
    else:
        wheels = fetch(entries, wheels_root(), progress=progress, runner=runner)
    dependencies = {}
    for dep in spec.requires:
        if not is_installed(dep, registry=registry):
            raise AssetBuildError(f"asset '{spec.name}' needs '{dep}', which is not installed")
        dependencies[dep] = asset_dir(dep)

    final = asset_dir(spec.name)
    root = final.parent
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.name}.tmp-", dir=root))
    scratch = Path(tempfile.mkdtemp(prefix=f".{spec.name}.work-", dir=root))
    try:
        ctx = BuildContext(
            spec=spec,
            out=staging,
            scratch=scratch,
            wheels=wheels,
            dependencies=dependencies,
            progress=progress,
        )
        ctx.log("building")
        try:
            spec.builder(ctx)
        except ReproError:
            raise
        except Exception as exc:
            raise AssetBuildError(
                f"building asset '{spec.name}' failed: {type(exc).__name__}: {exc}"
            ) from exc
        ctx.log("hashing files")
        packages = [
            {"requirement": e.requirement, "file": wheels[e.requirement].name, "sha256": e.sha256}
            for e in entries
        ]
        manifest = build_manifest(
            spec,
            staging,
            packages=packages,
            payloads=ctx.payloads,
            info=ctx.info,
            builder=_builder_name(spec.builder),
            requires=requirement_entries(spec, root),
        )
        if not manifest["files"]:
            raise AssetBuildError(f"building asset '{spec.name}' produced no files")
        atomic_write_json(staging / MANIFEST_NAME, manifest)
        _normalise_permissions(staging)
        _swap_into_place(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return final


def install(
    names: str | Iterable[str] | None,
    force: bool = False,
    progress: Progress | None = None,
    *,
    registry: Registry[AssetSpec] | None = None,
    lock: Mapping[str, LockEntry] | None = None,
    runner: PipRunner | None = None,
) -> list[InstallResult]:
    """Install assets (and the assets they require), skipping those already installed and intact.

    Args:
        names: Asset ids (a single id is accepted too); use `group("mini")` for a group.
        force: Rebuild the named assets even when installed and intact (not their requirements).
        progress: Called with one-line status messages.
        registry: Asset registry (default `ASSETS`; tests pass their own).
        lock: Parsed lock (default: `assets.lock`).
        runner: Runs pip (tests replace it).

    Returns:
        One `InstallResult` per asset, dependencies first.

    Raises:
        RegistryKeyError: Unknown asset id.
        AssetError: The first asset that failed; assets installed before it stay installed.
    """
    reg = ASSETS if registry is None else registry
    wanted = _names(names, reg)
    lock = load_lock() if lock is None else lock
    order = _with_requirements(wanted, reg)
    # One pip call for every asset that is surely built (no manifest, or forced): pip's start-up
    # and the sdist metadata build are paid once. Corrupt assets found later fetch on their own.
    pending = [n for n in order if (force and n in wanted) or not is_installed(n, registry=reg)]
    entries = {e.requirement: e for n in pending for e in entries_for(reg.get(n).packages, lock)}
    fetched = (
        fetch(list(entries.values()), wheels_root(), progress=progress, runner=runner)
        if entries
        else {}
    )
    results = []
    for name in order:
        spec = reg.get(name)
        started = time.perf_counter()
        with _asset_lock(name):
            _clean_leftovers(name)
            final = asset_dir(name)
            problems: list[str] = []
            if (final / MANIFEST_NAME).is_file():
                problems = check_installed(spec, final)
                if not problems and not (force and name in wanted):
                    if progress:
                        progress(f"{name}: installed and verified, skipping")
                    results.append(
                        InstallResult(name, "skipped", final, time.perf_counter() - started)
                    )
                    continue
                if problems and progress:
                    progress(f"{name}: rebuilding ({'; '.join(problems[:3])})")
            existed = final.exists()
            build_asset(
                spec, lock=lock, registry=reg, progress=progress, runner=runner, fetched=fetched
            )
            status: Literal["installed", "rebuilt"] = "rebuilt" if existed else "installed"
            seconds = time.perf_counter() - started
            if progress:
                progress(f"{name}: {status} in {seconds:.1f} s")
            results.append(InstallResult(name, status, final, seconds, problems))
    return results


def verify(
    names: str | Iterable[str] | None = None,
    *,
    registry: Registry[AssetSpec] | None = None,
) -> dict[str, list[str]]:
    """Re-hash installed assets against their manifests and the catalogue.

    Args:
        names: Asset ids; None means every installed asset.
        registry: Asset registry (default `ASSETS`).

    Returns:
        {asset id: problems}; an empty list means intact. A named asset that is not installed
        gets the problem "not installed".

    Raises:
        RegistryKeyError: Unknown asset id.
    """
    reg = ASSETS if registry is None else registry
    if names is None:
        wanted = [n for n in reg.keys() if is_installed(n, registry=reg)]
    else:
        wanted = _names(names, reg)
    report: dict[str, list[str]] = {}
    for name in wanted:
        if not is_installed(name, registry=reg):
            report[name] = ["not installed"]
        else:
            report[name] = check_installed(reg.get(name), asset_dir(name))
    return report
