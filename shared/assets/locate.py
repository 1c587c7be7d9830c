"""Where installed assets live, and the lookups code uses instead of site-packages paths.

Reproduces: offline-assets.md §0 rule 2: code asks the registry for an asset's folder and gets a
clear error naming the install command when it is missing. Nothing here hashes files (cheap);
`verify` does that.
"""

from __future__ import annotations

from pathlib import Path

from thunlp_repro.shared.assets.manifest import MANIFEST_NAME
from thunlp_repro.shared.assets.spec import ASSETS, AssetSpec
from thunlp_repro.shared.errors import AssetMissingError, UsageError
from thunlp_repro.shared.paths import home
from thunlp_repro.shared.registry import Registry


def assets_root() -> Path:
    """`$THUNLP_REPRO_HOME/assets`."""
    return home() / "assets"


def wheels_root() -> Path:
    """`$THUNLP_REPRO_HOME/wheels`, the cache of downloaded wheels and sdists."""
    return home() / "wheels"


def asset_dir(name: str) -> Path:
    """Folder of asset `name`, whether or not it is installed (no registry lookup)."""
    return assets_root() / name


def _spec(name: str, registry: Registry[AssetSpec] | None) -> AssetSpec:
    return (ASSETS if registry is None else registry).get(name)


def is_installed(name: str, *, registry: Registry[AssetSpec] | None = None) -> bool:
    """Whether asset `name` has a `MANIFEST.json` (cheap: no hashing; `verify` re-hashes).

    Raises:
        RegistryKeyError: Unknown asset id (the message lists the known ids).
    """
    _spec(name, registry)
    return (asset_dir(name) / MANIFEST_NAME).is_file()


def asset_path(name: str, *, registry: Registry[AssetSpec] | None = None) -> Path:
    """The installed folder of asset `name`.

    Raises:
        RegistryKeyError: Unknown asset id (the message lists the known ids).
        AssetMissingError: Not installed; the message names the install command.
    """
    spec = _spec(name, registry)
    path = asset_dir(name)
    if not (path / MANIFEST_NAME).is_file():
        raise AssetMissingError(f"asset '{name}' is not installed; run: {spec.install_command}")
    return path


def model_dir(name: str, *, registry: Registry[AssetSpec] | None = None) -> Path:
    """The transformers-loadable folder of model asset `name` (`asset_path / hf_subdir`).

    Raises:
        UsageError: `name` is not a model.
        AssetMissingError: Not installed.
    """
    spec = _spec(name, registry)
    if spec.kind != "model":
        raise UsageError(f"asset '{name}' is {spec.kind}, not a model")
    root = asset_path(name, registry=registry)
    return root / spec.hf_subdir if spec.hf_subdir else root


def gguf_path(name: str, *, registry: Registry[AssetSpec] | None = None) -> Path:
    """The GGUF file of a GGUF model asset.

    Raises:
        UsageError: The asset has no GGUF file.
        AssetMissingError: Not installed.
    """
    spec = _spec(name, registry)
    if not spec.gguf:
        raise UsageError(f"asset '{name}' has no GGUF file")
    return asset_path(name, registry=registry) / spec.gguf
