"""Shared prerequisites of the experiment DAG: artefacts several papers' experiments need.

`assets/<backbone>-mlm`: the restored MLM heads (prompt_transfer.md §2.6, offline-assets.md §1),
built once on the frozen backbone and installed as derived assets; prompt tuning through label
words needs them before it starts. `assets/<backbone>-mlm-adapt`: the head and top layers adapted
by one MLM run (`shared/mlm_adapt.py`), gate M1's recorded fallback, built after the restored
head. Papers name these keys in their experiments' `needs`.
"""

from __future__ import annotations

from thunlp_repro.shared.experiments import Prerequisite, register_prerequisite

MLM_HEAD_MINUTES = {"minilm-l6": 6.0, "minilm-l3": 5.0, "mpnet-base": 40.0}
"""Estimated minutes to train each head with its default recipe on 2 CPU cores (L3 measured at
4.2 min, L6 about a minute more: shared/mlm_head.py `BACKBONES`)."""


MLM_ADAPT_MINUTES = {"minilm-l6": 12.0}
"""Minutes to build the adapted head on 2 CPU cores (L6 measured at 12 min, restored head cached);
only the backbones whose record uses it are registered."""


def _asset_name(backbone: str, adapt: bool) -> str:
    from thunlp_repro.shared.mlm_adapt import adapt_asset_name, register_mlm_adapt
    from thunlp_repro.shared.mlm_head import head_asset_name, register_mlm_heads

    register_mlm_heads()
    if adapt:
        register_mlm_adapt()
        return adapt_asset_name(backbone)
    return head_asset_name(backbone)


def head_installed(backbone: str, adapt: bool = False) -> bool:
    """Whether `backbone`'s restored head (or, with `adapt`, its mlm-adapt head) is installed."""
    from thunlp_repro.shared.assets import is_installed

    return is_installed(_asset_name(backbone, adapt))


def _build(backbone: str, adapt: bool = False) -> None:
    from thunlp_repro.shared.assets import install

    install([_asset_name(backbone, adapt)])


def _register() -> None:
    for backbone, minutes in MLM_HEAD_MINUTES.items():
        register_prerequisite(Prerequisite(
            f"assets/{backbone}-mlm", f"restored MLM head of {backbone} (frozen backbone)",
            is_done=lambda b=backbone: head_installed(b),
            build=lambda b=backbone: _build(b), minutes=minutes,
        ))  # fmt: skip
    for backbone, minutes in MLM_ADAPT_MINUTES.items():
        register_prerequisite(Prerequisite(
            f"assets/{backbone}-mlm-adapt", f"adapted MLM head of {backbone} (M1's fallback)",
            is_done=lambda b=backbone: head_installed(b, adapt=True),
            build=lambda b=backbone: _build(b, adapt=True), minutes=minutes,
        ))  # fmt: skip


_register()
