"""Trainable-parameter counts from a model config (apet.md §2.3 budget formulas, §4.5 mini budgets).

Every count here is computed *before* a method is built and must equal the realised count of the
built method (tests/unit/apet/test_budget.py). Closed formulas cover the PET baselines for the
families in §2.3 (BERT-like post-LN encoders, BLOOM, T5 v1.1) plus Llama-style decoders (our tiny
test model). FT and APET-tensor depend on every tensor shape, so they are counted on a meta-device
instance of the config (no memory, no weights; §2.6 "shapes from the config or meta-device init").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from thunlp_repro.shared.errors import UsageError

if TYPE_CHECKING:
    from thunlp_repro.apet.methods import MethodSpec

# model_type -> family; a family fixes the formulas and the module names the methods target.
FAMILIES: dict[str, str] = {
    "bert": "bert", "roberta": "bert", "xlm-roberta": "bert", "electra": "bert", "mpnet": "bert",
    "bloom": "bloom", "t5": "t5", "mt5": "t5",
    "llama": "llama", "qwen2": "llama", "mistral": "llama",
}  # fmt: skip

# PEFT prefix tuning feeds key/value prefixes through the backbone's cache argument; a backbone
# without one (MPNet) cannot take a prefix (apet.md §2.2: "a test decides support per backbone").
PREFIX_FAMILIES = ("bert", "bloom", "llama")
NO_PREFIX_TYPES = ("mpnet",)

DEFAULTS: dict[str, dict[str, Any]] = {
    "prompt": {"length": 20},  # mini default k = 20 (§4.5); paper k = 100
    "prefix": {"length": 10},
    "lora": {"rank": 8},  # alpha defaults to 2 * rank (alpha/r = 2, §2.1)
    "adapter": {"bottleneck": 24},
    "apet-tensor": {"rank": 8, "bottleneck": 24},  # the repo's LoRA r and adapter b (§2.1)
}


@dataclass(frozen=True)
class Dims:
    """The config numbers the formulas need (apet.md §2.1 notation)."""

    model_type: str
    family: str
    n_layers: int  # blocks per stack (T5: encoder blocks)
    n_dec_layers: int  # T5 decoder blocks, else 0
    d: int  # hidden size
    d_attn: int  # query/output inner size (n_heads * d_head)
    d_kv: int  # key/value inner size (smaller than d_attn with grouped-query attention)
    d_ff: int
    max_positions: int | None  # learned absolute positions, else None

    @property
    def n_blocks(self) -> int:
        return self.n_layers + self.n_dec_layers


def dims(config: Any) -> Dims:
    """Read the dimensions of a Hugging Face config.

    Raises:
        UsageError: the model type is not one APET supports.
    """
    mt = getattr(config, "model_type", "?")
    if mt not in FAMILIES:
        raise UsageError(f"model type '{mt}' is not supported by apet methods; "
                         f"supported: {', '.join(sorted(FAMILIES))}")  # fmt: skip
    fam = FAMILIES[mt]
    if fam == "t5":
        d_attn = config.num_heads * config.d_kv
        n_dec = config.num_decoder_layers or config.num_layers
        return Dims(mt, fam, config.num_layers, n_dec, config.d_model, d_attn, d_attn,
                    config.d_ff, None)  # fmt: skip
    if fam == "bloom":
        d = config.hidden_size
        return Dims(mt, fam, config.n_layer, 0, d, d, d, 4 * d, None)
    d = config.hidden_size
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or d // heads
    n_kv = getattr(config, "num_key_value_heads", None) or heads
    max_pos = getattr(config, "max_position_embeddings", None) if fam == "bert" else None
    return Dims(mt, fam, config.num_hidden_layers, 0, d, heads * head_dim, n_kv * head_dim,
                config.intermediate_size, max_pos)  # fmt: skip


# ------------------------------------------------------------------------------ formulas
def prompt_count(dm: Dims, length: int) -> int:
    """k·d: soft-prompt vectors prepended to the (encoder) input embeddings."""
    return length * dm.d


def prefix_count(dm: Dims, length: int) -> int:
    """k·2·n_L·d_kv: one key and one value prefix per layer (PEFT `PrefixEncoder`, no MLP)."""
    return length * 2 * dm.n_layers * dm.d_kv


def lora_count(dm: Dims, rank: int) -> int:
    """r·(in + out) per targeted projection; targets per family as in §2.3."""
    if dm.family == "bert":  # query, value: d -> d
        return dm.n_layers * 2 * rank * 2 * dm.d
    if dm.family == "bloom":  # fused query_key_value: d -> 3d (same count as q,v LoRA)
        return dm.n_layers * rank * (dm.d + 3 * dm.d)
    if dm.family == "t5":  # self-attention q, v in encoder and decoder
        return dm.n_blocks * 2 * rank * (dm.d + dm.d_attn)
    return dm.n_layers * rank * ((dm.d + dm.d_attn) + (dm.d + dm.d_kv))  # llama q_proj, v_proj


def adapter_count(dm: Dims, bottleneck: int) -> int:
    """Two bottleneck adapters per block: 2·(2·d·b + b + d) each block, T5 decoder included."""
    return dm.n_blocks * 2 * (2 * dm.d * bottleneck + bottleneck + dm.d)


def bitfit_count(dm: Dims) -> int:
    """Every live bias vector (names ending in `.bias`); 0 for bias-free families."""
    if dm.family == "bert":  # QKV 3d, attn out d, attn LN d, fc1 d_ff, fc2 d, out LN d; emb LN d
        return dm.n_layers * (7 * dm.d + dm.d_ff) + dm.d
    if dm.family == "bloom":  # 11d per block + embedding LN + final LN
        return dm.d * (11 * dm.n_layers + 2)
    return 0  # stock T5 and Llama have no biases


def meta_backbone(config: Any) -> Any:
    """The backbone built on the meta device: shapes and names, no memory."""
    import torch
    from transformers import AutoModel

    with torch.device("meta"):
        return AutoModel.from_config(config)


def is_dead_static(name: str) -> bool:
    """Parameters known to get no gradient under our heads (the BERT pooler: mean pooling).

    The live probe in pools.py decides at build time; this static rule lets the config-only count
    agree with it without a forward pass (a test checks that the two agree).
    """
    return name.startswith("pooler.")


def ft_count(config: Any) -> int:
    """Every live backbone parameter (full fine-tuning)."""
    model = meta_backbone(config)
    return sum(p.numel() for n, p in model.named_parameters() if not is_dead_static(n))


# ------------------------------------------------------------------------------ entry point
def option_int(spec: MethodSpec, key: str) -> int:
    """An integer size knob from spec.options, or the method default."""
    value = spec.options.get(key, DEFAULTS[spec.method][key])
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{spec.method}: option {key}={value!r} is invalid; "
                         "accepted: an integer >= 1")  # fmt: skip
    return value


def count_trainable(model_config: Any, spec: MethodSpec) -> int:
    """The trainable count of `spec` on a backbone with this config, before anything is built.

    Equals `apply_method(model, spec).trainable_count` (unit-tested per method). The frozen
    classification head counts 0 and a trainable head is reported separately (§4.4).

    Raises:
        UsageError: unknown method, a bad knob, or a method the architecture cannot take.
    """
    from thunlp_repro.apet.methods import validate_spec

    validate_spec(spec, model_config)
    dm = dims(model_config)
    m = spec.method
    if m == "prompt":
        return prompt_count(dm, option_int(spec, "length"))
    if m == "prefix":
        return prefix_count(dm, option_int(spec, "length"))
    if m == "lora":
        return lora_count(dm, option_int(spec, "rank"))
    if m == "adapter":
        return adapter_count(dm, option_int(spec, "bottleneck"))
    if m == "bitfit":
        return bitfit_count(dm)
    if m == "ft":
        return ft_count(model_config)
    if m == "apet-element":  # exact by construction; the pool must hold L coordinates
        from thunlp_repro.apet.pools import pool_size, pool_tensors

        n_pool = pool_size(pool_tensors(meta_backbone(model_config), spec.pool))
        if spec.budget > n_pool:
            raise UsageError(
                f"apet-element: budget {spec.budget:,} is larger than pool "
                f"'{spec.pool}' ({n_pool:,} parameters); accepted: 1..{n_pool}"
            )
        return int(spec.budget)
    from thunlp_repro.apet.tensor import plan_tensor_selection

    return plan_tensor_selection(meta_backbone(model_config), spec, model_config).realised


def spec_for_budget(model_config: Any, method: str, target: int, **fields: Any) -> MethodSpec:
    """A MethodSpec whose trainable count is nearest to `target` (ties: the smaller knob).

    prompt/prefix pick the length, lora the rank, adapter the bottleneck; apet-* take
    budget = target; bitfit and ft have no knob and are returned as they are.
    """
    from thunlp_repro.apet.methods import MethodSpec

    if method in ("apet-element", "apet-tensor"):
        return MethodSpec(method=method, budget=int(target), **fields)
    dm = dims(model_config)
    per_unit = {
        "prompt": ("length", prompt_count(dm, 1)),
        "prefix": ("length", prefix_count(dm, 1)),
        "lora": ("rank", lora_count(dm, 1)),
        "adapter": ("bottleneck", adapter_count(dm, 2) - adapter_count(dm, 1)),
    }
    if method not in per_unit:
        return MethodSpec(method=method, **fields)
    key, unit = per_unit[method]
    fixed = adapter_count(dm, 1) - unit if method == "adapter" else 0  # the d-sized biases
    lo = max(1, (target - fixed) // unit)
    best = min((lo, lo + 1), key=lambda k: (abs(fixed + k * unit - target), k))
    options = {**fields.pop("options", {}), key: int(best)}
    return MethodSpec(method=method, options=options, **fields)
