"""`BuildContext`: what a builder gets to build one asset folder.

A builder is `builder(ctx) -> None`. It reads the verified wheels (`ctx.wheel`), writes files into
`ctx.out` (a staging folder that becomes the asset folder only when everything succeeded), uses
`ctx.scratch` for temporary files, checks payloads against the catalogue (`ctx.payload`) and records
facts for the manifest (`ctx.record`). Derived assets (e.g. a trained MLM head) read their inputs
with `ctx.dependency("minilm-l6")`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thunlp_repro.shared.assets.errors import AssetBuildError, AssetIntegrityError
from thunlp_repro.shared.assets.hashing import sha256_file
from thunlp_repro.shared.assets.lock import normalize_requirement
from thunlp_repro.shared.assets.spec import AssetSpec

log = logging.getLogger(__name__)


@dataclass
class BuildContext:
    """Inputs and bookkeeping of one asset build.

    Args:
        spec: The asset being built.
        out: Staging folder; becomes `$THUNLP_REPRO_HOME/assets/<id>/` on success.
        scratch: Temporary folder, deleted after the build.
        wheels: {`name==version`: verified wheel/sdist path} for `spec.packages`.
        dependencies: {asset id: installed folder} for `spec.requires`.
        progress: Optional callable receiving one-line status messages.
    """

    spec: AssetSpec
    out: Path
    scratch: Path
    wheels: dict[str, Path] = field(default_factory=dict)
    dependencies: dict[str, Path] = field(default_factory=dict)
    progress: Callable[[str], None] | None = None
    payloads: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def wheel(self, requirement: str) -> Path:
        """Path of the downloaded, hash-checked file of `requirement` (`name==version`).

        Raises:
            AssetBuildError: `requirement` is not one of the spec's packages.
        """
        key = normalize_requirement(requirement)
        for req, path in self.wheels.items():
            if normalize_requirement(req) == key:
                return path
        raise AssetBuildError(
            f"asset '{self.spec.name}' reads {requirement}, which is not in its packages"
        )

    def dependency(self, name: str) -> Path:
        """Installed folder of a required asset (declared in `spec.requires`).

        Raises:
            AssetBuildError: `name` is not in `spec.requires`.
        """
        if name not in self.dependencies:
            raise AssetBuildError(f"asset '{self.spec.name}' does not declare requires={name!r}")
        return self.dependencies[name]

    def payload(
        self,
        name: str,
        path: Path,
        *,
        sha256: str | None = None,
        size: int | None = None,
    ) -> str:
        """Check a payload file against the catalogue hash and record it in the manifest.

        Args:
            name: Payload name, the key of `spec.payloads` (usually the file name).
            path: The file, inside `out` (kept) or `scratch` (consumed by a conversion).
            sha256: Hash already computed while copying (avoids a second read).
            size: Size in bytes, if known.

        Returns:
            The payload's sha256.

        Raises:
            AssetIntegrityError: The hash differs from `spec.payloads[name]`.
        """
        digest = sha256 or sha256_file(path)
        nbytes = size if size is not None else path.stat().st_size
        expected = self.spec.payloads.get(name)
        if expected is not None and digest != expected:
            raise AssetIntegrityError(
                f"asset '{self.spec.name}': payload {name} has sha256 {digest}, "
                f"the catalogue expects {expected}"
            )
        try:
            rel: str | None = path.relative_to(self.out).as_posix()
        except ValueError:
            rel = None
        self.payloads.append(
            {
                "name": name,
                "path": rel,
                "bytes": nbytes,
                "sha256": digest,
                "catalogue": expected is not None,
            }
        )
        return digest

    def record(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable fact under `info` in the manifest (row counts, parity...)."""
        self.info[key] = value

    def log(self, message: str) -> None:
        """Report progress (to the `progress` callable and the logger)."""
        log.info("%s: %s", self.spec.name, message)
        if self.progress:
            self.progress(f"{self.spec.name}: {message}")
