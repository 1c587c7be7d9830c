"""Shared prerequisites of the experiment DAG: artefacts several papers' experiments need.

`assets/<backbone>-mlm`: the restored MLM heads (prompt_transfer.md §2.6, offline-assets.md §1),
built once on the frozen backbone and installed as derived assets; prompt tuning through label
words needs them before it starts. Papers name these keys in their experiments' `needs`.
"""

from __future__ import annotations

from thunlp_repro.shared.experiments import Prerequisite, register_prerequisite

MLM_HEAD_MINUTES = {"minilm-l6": 6.0, "minilm-l3": 5.0, "mpnet-base": 40.0}
"""Estimated minutes to train each head with its default recipe on 2 CPU cores (L3 measured at
4.2 min, L6 about a minute more: shared/mlm_head.py `BACKBONES`)."""


def _head_installed(backbone: str) -> bool:
    from thunlp_repro.shared.assets import is_installed
    from thunlp_repro.shared.mlm_head import head_asset_name, register_mlm_heads

    register_mlm_heads()
    return is_installed(head_asset_name(backbone))


def _build_head(backbone: str) -> None:
    from thunlp_repro.shared.assets import install
    from thunlp_repro.shared.mlm_head import head_asset_name, register_mlm_heads

    register_mlm_heads()
    install([head_asset_name(backbone)])


def _register() -> None:
    for backbone, minutes in MLM_HEAD_MINUTES.items():
        register_prerequisite(Prerequisite(
            f"assets/{backbone}-mlm", f"restored MLM head of {backbone} (frozen backbone)",
            is_done=lambda b=backbone: _head_installed(b),
            build=lambda b=backbone: _build_head(b), minutes=minutes,
        ))  # fmt: skip


_register()
