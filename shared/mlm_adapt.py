"""`mlm-adapt`: the restored head and the encoder's top layers, adapted by one masked-LM run.

Reproduces: prompt_transfer.md §2.6 (`head: mlm-adapt`, the recorded fallback of gate M1, §5.1):
"like `restored`, but the top 2 layers are also updated by the same MLM run. After that run the
adapted model *is* the backbone for every task, indicator and projector." The restored head
plateaus low because a frozen sentence-encoder state at the mask slot carries little token
identity; letting the top layers move is the cheapest way to put it back.

Registered as the derived asset `NAME-mlm-adapt` (built from the installed `NAME-mlm`, opt-in):
a complete masked-LM `save_pretrained` folder (top layers and head changed, everything else and E
bit-identical) with `head.safetensors` and `head_card.json` in the `NAME-mlm` card format, so
every reader of a restored head reads this one too.

[ours] where the spec is silent: a warm start from the restored head (the head the §2.6 gate
already accepted), the recipe's fixed masking draw (the same draw as every head variant), E
frozen (prompts, vocabulary inits and label words keep their meaning), AdamW with a linear decay
over `steps` (≈1,000, the spec's calibrate budget) at lr 1e-4 for the layers and 1e-3 for the head,
8 blocks of 128 tokens a step. Its gate: held-out masked top-1 must beat the restored head's on
the same draw, or adapting changed nothing worth a new backbone.

Usage::

    thunlp-repro assets install minilm-l6-mlm-adapt     # needs minilm-l6-mlm (built first)
    # then prompt.head=mlm-adapt in a prompt-transfer preset
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thunlp_repro.shared.errors import ReproError, UsageError
from thunlp_repro.shared.mlm_head import (
    BACKBONES,
    CORPUS_ASSETS,
    HEAD_CARD,
    HEAD_WEIGHTS,
    backbone_of,
    head_asset_name,
    read_head_card,
)

if TYPE_CHECKING:
    from thunlp_repro.shared.assets.context import BuildContext
    from thunlp_repro.shared.assets.spec import AssetSpec

#: Bump when the adaptation's output changes: installed folders then count as stale.
ADAPT_REVISION = 1
ADAPT_SUFFIX = "-mlm-adapt"


@dataclass(frozen=True)
class AdaptRecipe:
    """Settings of one `mlm-adapt` run (prompt_transfer.md §2.6; [ours] where unstated).

    Args:
        top_layers: Encoder layers that train, counted from the top (spec: 2).
        steps: Optimiser steps (spec: ≈1,000).
        batch_blocks: Corpus blocks of the fixed draw per step.
        layer_lr: Peak AdamW lr of the top layers; head_lr: of the head. Both decay linearly to 0.
        weight_decay: AdamW weight decay (matrices only).
        seed: Seed of the data order.
    """

    top_layers: int = 2
    steps: int = 1000
    batch_blocks: int = 8
    layer_lr: float = 1e-4
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        if self.top_layers < 1 or self.steps < 1 or self.batch_blocks < 1:
            raise UsageError("mlm-adapt: top_layers, steps and batch_blocks must all be >= 1")


def adapt_asset_name(backbone: str) -> str:
    """`NAME-mlm-adapt` for a backbone asset id."""
    return f"{backbone_of(backbone)}{ADAPT_SUFFIX}"


def _top_layers(model: Any, n: int) -> list[Any]:
    layers = list(model.base_model.encoder.layer)
    if n > len(layers):
        raise UsageError(f"mlm-adapt: top_layers={n}, but the encoder has {len(layers)} layers")
    return layers[-n:]


def _head_module(model: Any) -> Any:
    return getattr(model, "cls", None) or model.lm_head


def _masked_top1(model: Any, ids: Any, labels: Any, batch: int = 32) -> float:
    """Held-out masked-token top-1 of a masked-LM model over the fixed draw."""
    import torch

    hits = total = 0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(ids), batch):
            lab = labels[i : i + batch]
            logits = model(input_ids=ids[i : i + batch]).logits[lab != -100]
            hits += int((logits.argmax(-1) == lab[lab != -100]).sum())
            total += int((lab != -100).sum())
    return hits / max(1, total)


def adapt(model: Any, draw: Any, recipe: AdaptRecipe, progress: Any = None) -> list[dict]:
    """Train the top layers and the head of `model` (a masked-LM) on the fixed draw, in place.

    Only the masked positions go through the head (the loss is taken there, over the full
    vocabulary); the frozen lower layers build no autograd graph.

    Returns:
        Loss records every 100 steps (`step`, `loss` mean since the last record, `seconds`).
    """
    import torch
    from torch.nn import functional as F

    from thunlp_repro.shared.seeding import seed_everything

    seed_everything(recipe.seed)
    model.requires_grad_(False)
    layers = [p for layer in _top_layers(model, recipe.top_layers) for p in layer.parameters()]
    emb = model.get_input_embeddings().weight
    head = [p for p in _head_module(model).parameters() if p is not emb]
    for p in (*layers, *head):
        p.requires_grad_(True)

    def groups(params: list[Any], lr: float) -> list[dict[str, Any]]:
        decay = [p for p in params if p.ndim > 1]
        rest = [p for p in params if p.ndim <= 1]
        return [{"params": decay, "lr": lr, "weight_decay": recipe.weight_decay},
                {"params": rest, "lr": lr, "weight_decay": 0.0}]  # fmt: skip

    opt = torch.optim.AdamW(groups(layers, recipe.layer_lr) + groups(head, recipe.head_lr))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1.0 - s / recipe.steps))
    gen = torch.Generator().manual_seed(recipe.seed)
    order = torch.randperm(len(draw.train_ids), generator=gen)
    model.train()
    history, running, started, cursor = [], 0.0, time.perf_counter(), 0
    for step in range(1, recipe.steps + 1):
        if cursor + recipe.batch_blocks > len(order):  # next epoch over the draw
            order, cursor = torch.randperm(len(draw.train_ids), generator=gen), 0
        idx = order[cursor : cursor + recipe.batch_blocks]
        cursor += recipe.batch_blocks
        ids, labels = draw.train_ids[idx], draw.train_labels[idx]
        hidden = model.base_model(input_ids=ids).last_hidden_state[labels != -100]
        loss = F.cross_entropy(_head_module(model)(hidden), labels[labels != -100])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running += float(loss.detach())
        if step % 100 == 0 or step == recipe.steps:
            span = 100 if step % 100 == 0 else step % 100
            rec = {"step": step, "loss": running / span,
                   "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
            history.append(rec)
            running = 0.0
            if progress is not None:
                progress(f"mlm-adapt step {step}/{recipe.steps}: loss {rec['loss']:.3f}, "
                         f"{rec['seconds']:.0f} s")  # fmt: skip
    model.eval()
    model.requires_grad_(False)
    return history


def build_adapted(restored_dir: str | Path, out_dir: str | Path, *,
                  recipe: AdaptRecipe | None = None, backbone_name: str | None = None,
                  progress: Any = None, gate: bool = True) -> dict[str, Any]:  # fmt: skip
    """Adapt the restored masked-LM folder `restored_dir` into `out_dir`; returns the card.

    Raises:
        HeadGateError: `gate` is on and the adapted model does not beat the restored head on
            the held-out draw (nothing is written then).
    """
    import safetensors.torch
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from thunlp_repro.shared.assets.manifest import library_versions
    from thunlp_repro.shared.mlm_head import HeadGateError, HeadRecipe
    from thunlp_repro.shared.mlm_head_data import masked_corpus
    from thunlp_repro.shared.mlm_head_recipe import FAMILY_HEAD_KEYS, _sha256, _weights_sha256

    recipe = recipe or AdaptRecipe()
    restored_dir, out_dir = Path(restored_dir), Path(out_dir)
    base_card = read_head_card(restored_dir)
    head_recipe = HeadRecipe.from_dict(base_card["recipe"])
    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(restored_dir)
    model = AutoModelForMaskedLM.from_pretrained(restored_dir, dtype=torch.float32)
    draw = masked_corpus(tokenizer, head_recipe)  # the same draw as the restored head's
    before = _masked_top1(model, draw.eval_ids, draw.eval_labels)
    emb_before = model.get_input_embeddings().weight.detach().clone()
    history = adapt(model, draw, recipe, progress)
    after = _masked_top1(model, draw.eval_ids, draw.eval_labels)
    if not torch.equal(emb_before, model.get_input_embeddings().weight):
        raise ReproError("mlm-adapt changed the frozen input embeddings")
    name = backbone_name or base_card.get("backbone", restored_dir.name)
    if progress is not None:
        progress(f"mlm-adapt gate: held-out top-1 {after:.2%} vs restored {before:.2%}")
    if gate and not after > before:
        raise HeadGateError(f"mlm-adapt of {name}: held-out masked top-1 {after:.2%} does not "
                            f"beat the restored head's {before:.2%}")  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    family = FAMILY_HEAD_KEYS[model.config.model_type]
    head_state = {ours: model.get_parameter(theirs).detach().float().contiguous().clone()
                  for ours, theirs in family.items()}  # fmt: skip
    safetensors.torch.save_file(head_state, str(out_dir / HEAD_WEIGHTS))
    card = {
        "format": 1,
        "backbone": name,
        "head": f"mlm-adapt: the restored head and the top {recipe.top_layers} layers adapted",
        "backbone_sha256": _weights_sha256(out_dir),  # the adapted model is the backbone now
        "restored_from": {
            "backbone_sha256": base_card.get("backbone_sha256"),
            "head_sha256": base_card.get("head_sha256"),
        },
        "masked_lm_class": type(model).__name__,
        "head_sha256": _sha256(out_dir / HEAD_WEIGHTS),
        "recipe": head_recipe.to_dict(),
        "adapt_recipe": asdict(recipe),
        "metrics": {**base_card.get("metrics", {}), "restored_top1": before, "head_top1": after},
        "gate": {
            "passed": after > before,
            "rule": "held-out masked top-1 after adapting > the restored head's",
        },
        "history": history,
        "timing": {
            "total_s": round(time.perf_counter() - t0, 1),
            "threads": torch.get_num_threads(),
        },
        "versions": library_versions(),
    }
    (out_dir / HEAD_CARD).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card


class AdaptBuilder:
    """Asset builder of `NAME-mlm-adapt`: adapts the installed `NAME-mlm` into `ctx.out`."""

    def __init__(self, backbone: str, recipe: AdaptRecipe | None = None) -> None:
        self.backbone = backbone_of(backbone)
        self.recipe = recipe or AdaptRecipe()

    def __repr__(self) -> str:
        return f"AdaptBuilder({self.backbone!r}, steps={self.recipe.steps})"

    def __call__(self, ctx: BuildContext) -> None:
        card = build_adapted(ctx.dependency(head_asset_name(self.backbone)), ctx.out,
                             recipe=self.recipe, backbone_name=self.backbone,
                             progress=ctx.log)  # fmt: skip
        for key in ("head_top1", "restored_top1"):
            ctx.record(key, card["metrics"][key])
        ctx.record("seconds", card["timing"]["total_s"])


def mlm_adapt_spec(backbone: str, recipe: AdaptRecipe | None = None) -> AssetSpec:
    """The (unregistered) `AssetSpec` of `NAME-mlm-adapt`."""
    from thunlp_repro.shared.assets.spec import AssetSpec

    base = backbone_of(backbone)
    info = BACKBONES[base]
    return AssetSpec(
        name=adapt_asset_name(base), kind="model", group="opt-in",
        description=f"mlm-adapt of {base}: restored head + top 2 layers adapted by MLM (derived)",
        license=info.license, builder=AdaptBuilder(base, recipe),
        requires=(head_asset_name(base), *CORPUS_ASSETS), revision=ADAPT_REVISION,
        install_hint=f"thunlp-repro assets install {adapt_asset_name(base)}",
    )  # fmt: skip


def register_mlm_adapt(*, replace: bool = False) -> list[str]:
    """Register `NAME-mlm-adapt` for every backbone that has a restored head (idempotent)."""
    from thunlp_repro.shared.mlm_head import register_per_backbone

    return register_per_backbone(adapt_asset_name, mlm_adapt_spec, replace=replace)
