"""The frozen backbone and its one shared verbalizer head, identified by hashes.

Reproduces: prompt_transfer.md §2.6: every task of a backbone reads its label words through the
*same* frozen head, hashed into each prompt's metadata. `restored` uses the installed `NAME-mlm`
asset (`thunlp-repro assets mlm-head NAME`) when the preset keeps the asset recipe; a preset with
its own `head_build.tokens` (the smoke preset's 50k-token head) builds the head once with the
same shared recipe into `$THUNLP_REPRO_HOME/prompt_transfer/heads/<key>/` and reuses it.
`native` is the checkpoint's own MLM head (RoBERTa, BERT, the KI zoo), `tied` the parameter-free
z = E · h. `mlm-adapt` is the recorded fallback of gate M1: the installed `NAME-mlm-adapt` asset
(`thunlp-repro.shared.mlm_adapt`), whose adapted top layers make it the backbone for every task;
its hashes come from its card, so no prompt of the restored backbone is mistaken for one of it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thunlp_repro.shared.errors import UsageError

logger = logging.getLogger(__name__)

_CACHE: dict[tuple[Any, ...], Backbone] = {}


@dataclass
class Backbone:
    """A loaded masked-LM model, its tokenizer and the identity recorded in prompt metadata."""

    name: str
    head: str
    mlm: Any
    tokenizer: Any
    info: dict[str, Any]

    @property
    def width(self) -> int:
        return int(self.info["width"])


def _tensor_sha256(state: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()


def _head_state(mlm: Any) -> dict[str, Any]:
    module = getattr(mlm, "cls", None) or getattr(mlm, "lm_head", None)
    if module is None:
        return {}
    emb = id(mlm.get_input_embeddings().weight)
    return {k: v for k, v in module.state_dict(keep_vars=True).items() if id(v) != emb}


def _restored_dir(name: str, cfg: Any) -> tuple[Path, dict[str, Any]]:
    """The folder of the restored masked-LM for backbone `name` (installed or built here)."""
    from thunlp_repro.shared.assets import is_installed, model_dir
    from thunlp_repro.shared.mlm_head import read_head_card, register_mlm_heads
    from thunlp_repro.shared.paths import home

    register_mlm_heads()
    asset = f"{name}-mlm"
    hb = cfg.head_build
    if hb.tokens is None and hb.use_asset:
        if not is_installed(asset):
            raise UsageError(
                f"restored head '{asset}' is not installed; build it with "
                f"`thunlp-repro assets mlm-head {name}`"
            )
        folder = model_dir(asset)
        return folder, read_head_card(asset)
    from thunlp_repro.shared.mlm_head import HeadRecipe
    from thunlp_repro.shared.models import resolve_model

    from .artefacts import content_key

    recipe = HeadRecipe(
        tokens=hb.tokens or HeadRecipe.tokens, eval_tokens=hb.eval_tokens or HeadRecipe.eval_tokens
    )
    backbone_dir = Path(resolve_model(name).location)
    folder = home() / "prompt_transfer" / "heads" / f"{name}-{content_key(recipe.to_dict(), 12)}"
    if not (folder / "head_card.json").is_file():
        from thunlp_repro.shared.io import atomic_write_text
        from thunlp_repro.shared.mlm_head_recipe import build_restored_head

        logger.info(
            "head: building the restored head of %s (%d tokens) into %s",
            name,
            recipe.tokens,
            folder,
        )
        tmp = folder.with_name(folder.name + ".tmp")
        card = build_restored_head(
            backbone_dir,
            tmp,
            recipe=recipe,
            backbone_name=name,
            progress=logger.info,
            states_cache_dir=home() / "prompt_transfer" / "states",
        )
        atomic_write_text(tmp / "built.txt", "ok\n")
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        tmp.rename(folder)
        return folder, card
    return folder, read_head_card(folder)


def _adapted_dir(name: str) -> tuple[Path, dict[str, Any]]:
    """The installed `NAME-mlm-adapt` folder and its card (never built implicitly: ~10 min)."""
    from thunlp_repro.shared.assets import is_installed, model_dir
    from thunlp_repro.shared.mlm_adapt import adapt_asset_name
    from thunlp_repro.shared.mlm_head import read_head_card

    asset = adapt_asset_name(name)
    if not is_installed(asset):
        raise UsageError(
            f"head=mlm-adapt needs the asset '{asset}'; build it with "
            f"`thunlp-repro assets install {asset}` (it adapts {name}-mlm)"
        )
    return model_dir(asset), read_head_card(asset)


def load_backbone(cfg: Any) -> Backbone:
    """Load (once per process) the backbone of `cfg.model.name` with head `cfg.prompt.head`.

    Raises:
        UsageError: unknown model or head, or a missing head asset.
    """
    name, head = cfg.model.name, cfg.prompt.head
    key = (name, head, cfg.head_build.tokens, cfg.head_build.eval_tokens, cfg.head_build.use_asset)
    if key in _CACHE:
        return _CACHE[key]
    from thunlp_repro.shared.corpora import tokenizer_fingerprint
    from thunlp_repro.shared.models import load_model

    card: dict[str, Any] = {}
    if head in ("restored", "mlm-adapt") and not name.startswith("tiny-"):
        folder, card = _adapted_dir(name) if head == "mlm-adapt" else _restored_dir(name, cfg)
        mlm, tok = load_model(str(folder), "masked-lm")
    else:
        mlm, tok = load_model(name, "masked-lm")
    mlm.eval()
    for p in mlm.parameters():
        p.requires_grad_(False)
    if head == "tied":
        head_sha = "tied"
    else:
        head_sha = card.get("head_sha256") or _tensor_sha256(_head_state(mlm))
    if card.get("backbone_sha256"):
        backbone_sha = card["backbone_sha256"]
    else:
        state = {k: v for k, v in mlm.base_model.state_dict().items()}
        backbone_sha = _tensor_sha256(state)
    emb = mlm.get_input_embeddings().weight
    info = {
        "backbone": name,
        "backbone_sha256": backbone_sha,
        "head": head,
        "head_sha256": head_sha,
        "width": int(emb.shape[1]),
        "layers": int(mlm.config.num_hidden_layers),
        "tokenizer": tokenizer_fingerprint(tok),
        "head_card": {k: card[k] for k in ("metrics", "recipe", "gate") if k in card},
    }
    bb = Backbone(name=name, head=head, mlm=mlm, tokenizer=tok, info=info)
    _CACHE[key] = bb
    return bb
