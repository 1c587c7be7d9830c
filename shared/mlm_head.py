"""Restored MLM heads: the recipe's settings, its gate, and the `NAME-mlm` derived assets.

Reproduces: prompt_transfer.md §2.6 ("Backbones without an MLM head": the `restored` head
z = E · LN(GELU(W h + b)) + β, tied to the frozen input embeddings E, trained once per backbone on
the `head` corpus with the backbone frozen; 15% masking, always `[MASK]`; the masked-position states
of ~1M tokens cached, then 3 epochs on the cache; 0.3M tokens for MPNet; one fixed masking draw for
every head variant; the gate against the most-frequent-token baseline and the `tied` readout),
offline-assets.md §1 ("Derived assets: restored MLM heads", registered as `minilm-l6-mlm`,
`minilm-l3-mlm` and optionally `mpnet-base-mlm`) and apet.md §4.4 (`head: restored`).

This module imports no torch: it holds what the asset registry and the CLI need. The torch-level
recipe lives in `thunlp_repro.shared.mlm_head_recipe`; its public names are re-exported lazily, so
``from thunlp_repro.shared.mlm_head import rank_label_words`` works as well.

Usage::

    from thunlp_repro.shared.assets import install
    from thunlp_repro.shared.mlm_head import register_mlm_heads, read_head_card
    register_mlm_heads()
    install(["minilm-l6-mlm"])           # ~= `thunlp-repro assets mlm-head minilm-l6`
    model, tok = load_model("minilm-l6-mlm", "masked-lm")   # a BertForMaskedLM
    print(read_head_card("minilm-l6-mlm")["metrics"])

An installed `NAME-mlm` folder holds a complete `save_pretrained` folder of the family's masked-LM
class (`BertForMaskedLM`, `MPNetForMaskedLM`: backbone weights unchanged, the head in
`cls.predictions` / `lm_head` with the decoder tied to the word embeddings) plus the tokenizer,
`head.safetensors` (the head alone: `dense.*`, `layer_norm.*`, `bias`) and `head_card.json` (gate
numbers, token counts, seeds, times, probes, sha256 of the head).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thunlp_repro.shared.errors import ReproError, UsageError

if TYPE_CHECKING:  # the asset package is imported inside functions: its catalogue imports us
    from thunlp_repro.shared.assets.context import BuildContext
    from thunlp_repro.shared.assets.spec import AssetSpec

#: Bump when the recipe's output changes: installed heads then count as stale and are rebuilt.
HEAD_REVISION = 1
HEAD_CARD = "head_card.json"
HEAD_WEIGHTS = "head.safetensors"
#: Names of the head's tensors in `head.safetensors` (the decoder weight is E, not stored).
HEAD_KEYS: tuple[str, ...] = (
    "dense.weight",
    "dense.bias",
    "layer_norm.weight",
    "layer_norm.bias",
    "bias",
)
#: Assets whose texts the corpus reader needs: the corpus itself and the task texts it excludes
#: (prompt_transfer.md §2.6 "No text used by any task goes into the head corpus").
CORPUS_ASSETS: tuple[str, ...] = (
    "shakespeare",
    "kjv",
    "movie-dialog",
    "vader-movie",
    "vader-tweets",
    "vader-amazon",
    "vader-nyt",
    "trec",
    "sms-spam",
)

#: Label-word probes recorded in every head card and printed by `assets mlm-head`
#: (label words of prompt_transfer.md §4.2; every word is one WordPiece token).
PROBES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the movie was [MASK].", ("negative", "positive")),
    ("it was a [MASK] movie.", ("bad", "good")),
    ("i [MASK] this film.", ("hate", "love")),
    (
        "this question asks for a [MASK].",
        ("abbreviation", "description", "entity", "human", "location", "number"),
    ),
    (
        "this news story is about [MASK].",
        ("business", "entertainment", "politics", "sport", "tech"),
    ),
)


class HeadGateError(ReproError):
    """The restored head does not beat both baselines of the gate (prompt_transfer.md §2.6).

    A runtime failure (exit code 1); the asset installer passes it through unchanged.
    """


@dataclass(frozen=True)
class HeadRecipe:
    """Settings of one restored-head build (prompt_transfer.md §2.6; `[ours]` where unstated).

    Args:
        tokens: Corpus tokens (special tokens included) of the training draw; split evenly over the
            corpus domains (spec: ~1M; MPNet 0.3M).
        eval_tokens: Tokens of the held-out draw (the corpus's validation units) used by the gate.
        epochs: Passes over the cached states (spec: 3).
        batch_size: Cached states per head update [ours].
        lr: Peak AdamW learning rate, decayed linearly to 0 [ours].
        weight_decay: AdamW weight decay of the dense layer [ours].
        mask_rate: Share of non-special tokens replaced by the mask token (spec: 0.15, always mask).
        mask_seed: Seed of the fixed block sample and masking draw, shared by every head variant.
        seed: Seed of the head's initialisation and of the data order.
        block_size: Tokens per corpus block (`[CLS]` + 126 + `[SEP]`).
        forward_batch_size: Blocks per frozen-backbone forward while caching states.
        corpus: Corpus key (`thunlp_repro.shared.corpora.CORPORA`; spec: `head`).
        matmul_dtype: dtype of the vocabulary matmuls in training (`bfloat16` or `float32`) [ours].
    """

    tokens: int = 1_000_000
    eval_tokens: int = 100_000
    epochs: int = 3
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 0.01
    mask_rate: float = 0.15
    mask_seed: int = 0
    seed: int = 0
    block_size: int = 128
    forward_batch_size: int = 32
    corpus: str = "head"
    matmul_dtype: str = "bfloat16"

    def __post_init__(self) -> None:
        if self.block_size < 3:
            raise UsageError(f"block_size must be >= 3, got {self.block_size}")
        for name in ("tokens", "eval_tokens"):
            if getattr(self, name) < self.block_size:
                raise UsageError(
                    f"{name}={getattr(self, name)} is less than one block of {self.block_size}"
                )
        if not 0.0 < self.mask_rate < 1.0:
            raise UsageError(f"mask_rate must be in (0, 1), got {self.mask_rate}")
        if self.matmul_dtype not in ("bfloat16", "float32"):
            raise UsageError(f"matmul_dtype must be bfloat16 or float32, got {self.matmul_dtype!r}")
        if self.epochs < 0 or self.batch_size < 1 or self.forward_batch_size < 1:
            raise UsageError("epochs must be >= 0 and batch sizes >= 1")

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HeadRecipe:
        """Rebuild a recipe from `to_dict` output (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class HeadBackbone:
    """A backbone that gets a restored head.

    Args:
        name: Backbone asset id.
        tokens: Default training tokens.
        group: Install group of `NAME-mlm`.
        description: One line for `assets list`.
        license: Licence line of the derived asset.
    """

    name: str
    tokens: int
    group: str
    description: str
    license: str


#: Opt-in, measured on the 2-core machine: a 1M-token MiniLM-L3 head took 252 s at low load (97 s
#: states, 149 s for 3 epochs over 148k cached states) and MiniLM-L6 adds ~1 min of backbone pass;
#: both together are well over the ~3 min a `mini` install may add. Held-out masked top-1 at 1M
#: tokens: L3 9.76%, L6 10.36% vs 5.70% most-frequent (',') and 0.00% tied. A 50k-token head
#: (tests, the `smoke` preset) builds in ~20 s and reaches 8.2% vs 5.4%.
BACKBONES: dict[str, HeadBackbone] = {
    "minilm-l6": HeadBackbone(
        "minilm-l6", 1_000_000, "opt-in",
        "restored MLM head on frozen all-MiniLM-L6-v2, as BertForMaskedLM (derived)",
        "Apache-2.0 (backbone); head trained on public-domain / research-use text",
    ),
    "minilm-l3": HeadBackbone(
        "minilm-l3", 1_000_000, "opt-in",
        "restored MLM head on frozen paraphrase-MiniLM-L3-v2, as BertForMaskedLM (derived)",
        "Apache-2.0 (backbone); head trained on public-domain / research-use text",
    ),
    "mpnet-base": HeadBackbone(
        "mpnet-base", 300_000, "opt-in",
        "restored MLM head on frozen all-mpnet-base-v2, as MPNetForMaskedLM (derived)",
        "Apache-2.0 (backbone); head trained on public-domain / research-use text",
    ),
}  # fmt: skip


def head_asset_name(backbone: str) -> str:
    """`NAME-mlm` for a backbone asset id (a name already ending in `-mlm` is returned as is)."""
    return backbone if backbone.endswith("-mlm") else f"{backbone}-mlm"


def backbone_of(name: str) -> str:
    """The backbone id of `NAME` or `NAME-mlm`.

    Raises:
        UsageError: not a backbone that gets a restored head.
    """
    base = name[: -len("-mlm")] if name.endswith("-mlm") else name
    if base not in BACKBONES:
        raise UsageError(
            f"no restored MLM head for '{name}'; known backbones: {', '.join(BACKBONES)}"
        )
    return base


def default_recipe(backbone: str, tokens: int | None = None, seed: int = 0) -> HeadRecipe:
    """The recipe of `backbone`'s head: its default token budget unless `tokens` is given."""
    spec = BACKBONES[backbone_of(backbone)]
    budget = spec.tokens if tokens is None else int(tokens)
    return HeadRecipe(tokens=budget, eval_tokens=min(HeadRecipe.eval_tokens, budget), seed=seed)


class HeadBuilder:
    """Asset builder of `NAME-mlm`: runs the recipe into `ctx.out` and records the gate numbers.

    Args:
        backbone: Backbone asset id.
        recipe: The settings (default: `default_recipe(backbone)`).
    """

    def __init__(self, backbone: str, recipe: HeadRecipe | None = None) -> None:
        self.backbone = backbone_of(backbone)
        self.recipe = recipe or default_recipe(backbone)

    def __repr__(self) -> str:
        return (
            f"HeadBuilder({self.backbone!r}, tokens={self.recipe.tokens}, seed={self.recipe.seed})"
        )

    def __call__(self, ctx: BuildContext) -> None:
        from thunlp_repro.shared.assets.spec import ASSETS
        from thunlp_repro.shared.mlm_head_recipe import build_restored_head
        from thunlp_repro.shared.paths import home

        spec = ASSETS.get(self.backbone)
        folder = ctx.dependency(self.backbone)
        folder = folder / spec.hf_subdir if spec.hf_subdir else folder
        card = build_restored_head(
            folder,
            ctx.out,
            recipe=self.recipe,
            backbone_name=self.backbone,
            progress=ctx.log,
            states_cache_dir=home() / "mlm-states",
        )
        for key in ("head_top1", "tied_top1", "most_frequent_top1", "head_top5"):
            ctx.record(key, card["metrics"][key])
        ctx.record("train_tokens", card["data"]["train_tokens"])
        ctx.record("head_sha256", card["head_sha256"])
        ctx.record("seconds", card["timing"]["total_s"])


def mlm_head_spec(
    backbone: str,
    tokens: int | None = None,
    seed: int = 0,
    *,
    recipe: HeadRecipe | None = None,
) -> AssetSpec:
    """The `AssetSpec` of `NAME-mlm` for one backbone and recipe.

    Args:
        backbone: Backbone asset id (`minilm-l6`, `minilm-l3`, `mpnet-base`) or its `-mlm` name.
        tokens: Training-token budget (default: the backbone's, `BACKBONES`).
        seed: Seed of the head's init and data order.
        recipe: A full recipe (overrides `tokens` and `seed`).

    Returns:
        The spec (not registered; see `register_mlm_heads`).
    """
    from thunlp_repro.shared.assets.spec import AssetSpec

    base = backbone_of(backbone)
    info = BACKBONES[base]
    recipe = recipe or default_recipe(base, tokens, seed)
    return AssetSpec(
        name=head_asset_name(base),
        kind="model",
        group=info.group,  # type: ignore[arg-type]
        description=info.description,
        license=info.license,
        builder=HeadBuilder(base, recipe),
        requires=(base, *CORPUS_ASSETS),
        revision=HEAD_REVISION,
        install_hint=f"thunlp-repro assets mlm-head {base}",
    )


def register_mlm_heads(*, replace: bool = False) -> list[str]:
    """Register `minilm-l6-mlm`, `minilm-l3-mlm` and `mpnet-base-mlm` in `ASSETS` (idempotent).

    Args:
        replace: Re-register (default recipes) even when already registered.

    Returns:
        The asset ids.
    """
    return register_per_backbone(head_asset_name, mlm_head_spec, replace=replace)


def register_per_backbone(
    name_of: Callable[[str], str], spec_of: Callable[[str], Any], *, replace: bool = False
) -> list[str]:
    """Register `spec_of(base)` as `name_of(base)` for every backbone (idempotent); the ids."""
    from thunlp_repro.shared.assets.spec import ASSETS, register_asset

    names = []
    for base in BACKBONES:
        name = name_of(base)
        if replace or name not in ASSETS:
            register_asset(spec_of(base), replace=replace or name in ASSETS)
        names.append(name)
    return names


def read_head_card(name_or_dir: str | Path) -> dict[str, Any]:
    """The `head_card.json` of an installed head or of a built folder (path).

    A backbone id reads its restored head (`NAME` -> `NAME-mlm`); any other asset id (`NAME-mlm`,
    `NAME-mlm-adapt`) is read as it is.

    Raises:
        AssetMissingError: the asset is not installed.
        UsageError: the folder has no head card.
    """
    if isinstance(name_or_dir, Path) or "/" in str(name_or_dir):
        folder = Path(name_or_dir)
    else:
        from thunlp_repro.shared.assets.locate import asset_path

        name = str(name_or_dir)
        folder = asset_path(head_asset_name(name) if name in BACKBONES else name)
    path = folder / HEAD_CARD
    if not path.is_file():
        raise UsageError(f"{folder} has no {HEAD_CARD}; build it with thunlp-repro assets mlm-head")
    return json.loads(path.read_text(encoding="utf-8"))


def check_gate(metrics: dict[str, Any], *, backbone: str = "the backbone") -> None:
    """The gate of prompt_transfer.md §2.6: the head's held-out masked-token top-1 must beat both
    the most-frequent-token baseline and the parameter-free `tied` readout (strictly).

    Args:
        metrics: `head_top1`, `most_frequent_top1`, `tied_top1` (fractions).
        backbone: Name used in the message.

    Raises:
        HeadGateError: the head does not beat both; the message gives the three numbers and the
            fallback (`mlm-adapt`).
    """
    head = float(metrics["head_top1"])
    mf = float(metrics["most_frequent_top1"])
    tied = float(metrics["tied_top1"])
    if head > mf and head > tied:
        return
    raise HeadGateError(
        f"restored MLM head on {backbone} failed the gate (prompt_transfer.md §2.6): held-out "
        f"masked top-1 {head:.2%} does not beat both the most-frequent-token baseline {mf:.2%} "
        f"and the tied readout {tied:.2%}. The frozen backbone gives no usable head with this "
        "recipe: raise --tokens, or use the `mlm-adapt` head (top 2 layers updated by the same "
        "MLM run, prompt_transfer.md §2.6)"
    )


def with_recipe(spec: AssetSpec, **changes: Any) -> AssetSpec:
    """A copy of a head spec whose builder uses a changed recipe (`tokens=`, `seed=`, ...)."""
    builder = spec.builder
    if not isinstance(builder, HeadBuilder):
        raise UsageError(f"asset '{spec.name}' is not a restored MLM head")
    return replace(spec, builder=HeadBuilder(builder.backbone, replace(builder.recipe, **changes)))


_LAZY = {
    "MLMHead",
    "MaskedCorpus",
    "MaskedStates",
    "build_restored_head",
    "collect_states",
    "evaluate_head",
    "export_masked_lm",
    "fit_head",
    "init_head",
    "mask_blocks",
    "masked_corpus",
    "rank_label_words",
    "run_probes",
    "train_head",
}


def __getattr__(name: str) -> Any:  # PEP 562: the torch-level recipe, imported on first use
    if name in _LAZY:
        from thunlp_repro.shared import mlm_head_recipe

        return getattr(mlm_head_recipe, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
