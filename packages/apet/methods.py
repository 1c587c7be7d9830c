"""The APET method registry: one spec in, one handle out (apet.md §2.2–2.6; issue #14 step 1).

Contract (used by the pipeline in config/train/sweep):

- `METHODS`: "prompt", "prefix", "lora", "adapter", "bitfit", "ft", "apet-element", "apet-tensor".
- `MethodSpec(method, budget=None, pool="layers", impl="delta", seed=0, options={})`.
  `budget` is L, the exact parameter count, for apet-element / apet-tensor only; other methods
  take their size knob in `options` ({"length": k} prompt/prefix, {"rank": r, "alpha": a} lora,
  {"bottleneck": b} adapter and apet-tensor's adapter groups). `seed` is the position seed s_pos;
  new modules (LoRA A, adapters, prompts) are initialised from `options["data_seed"]` (default:
  `seed`) in a forked RNG, so building never disturbs the caller's global RNG (§2.7).
  `pool` and `impl` ("delta" | "gradmask") apply to apet-element. Other options:
  `max_seq_len` (prompt/prefix: checked against the model's positions), `init_std` (prompt,
  default 0.1), `model_id` (the name the position seed hashes; default: the checkpoint's
  folder/hub name, else its architecture), `snapshot` (ft: keep a copy to restore, default True).
- `apply_method(model, spec) -> PetHandle`. `model` is a bare backbone (`load_model(name,
  head="encoder")`) or a `PooledClassifier`; the method acts on the backbone only and leaves the
  head's requires_grad as it was (a trainable head is the caller's, reported apart, §4.4).
  `handle.model` is what to call in forward: the model passed in (edited in place) except for
  prompt/prefix on a bare backbone, where it is a wrapper. Prompt outputs are realigned with the
  input tokens (the virtual positions are dropped from `last_hidden_state`), so mean pooling
  excludes them (§4.4).
- `PetHandle`: `.trainable_parameters()`, `.named_trainable()`, `.trainable_count` (realised),
  `.planned_count` (from the config, before building; equal by construction and checked),
  `.describe()` (the line printed before training), `.state_dict_trainable()` /
  `.load_trainable(sd)`, `.mask_state()` (apet-element offsets for `mask.safetensors`),
  `.mask_sha256`, `.optimizer_state_bytes(opt)`, and `.remove()`, which restores the backbone
  bit-identically so one loaded model serves many runs (§4.6 "reuse").
- `count_trainable(config, spec)` and `spec_for_budget(config, method, L)` live in budget.py.

PEFT implements prompt, prefix and LoRA (LoRA injected in place with `inject_adapter_in_model`,
no `task_type`, so PEFT never adds a head to `modules_to_save`, §7); adapters and BitFit are ours
(adapters.py), APET in element.py / tensor.py. Every bad input raises UsageError with one line.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from thunlp_repro.apet import budget as B
from thunlp_repro.apet.pools import parse_pool
from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.registry import did_you_mean

METHODS = ("prompt", "prefix", "lora", "adapter", "bitfit", "ft", "apet-element", "apet-tensor")
IMPLS = ("delta", "gradmask")
_APET = ("apet-element", "apet-tensor")
OPTIONS: dict[str, tuple[str, ...]] = {
    "prompt": ("length", "max_seq_len", "init_std", "data_seed"),
    "prefix": ("length", "max_seq_len", "data_seed"),
    "lora": ("rank", "alpha", "data_seed"),
    "adapter": ("bottleneck", "data_seed"),
    "bitfit": (),
    "ft": ("snapshot",),
    "apet-element": ("model_id",),
    "apet-tensor": ("rank", "alpha", "bottleneck", "model_id", "data_seed"),
}

# PEFT LoRA targets per family (§2.3), matched with re.fullmatch against module names.
_LORA_TARGETS = {
    "bert": r".*\.attention\.self\.(query|value)",
    "mpnet": r".*\.attention\.attn\.(q|v)",
    "bloom": r".*\.self_attention\.query_key_value",
    "t5": r".*\.SelfAttention\.(q|v)",
    "llama": r".*\.self_attn\.(q_proj|v_proj)",
}


@dataclass
class MethodSpec:
    """What to train; see the module docstring for every field and option."""

    method: str
    budget: int | None = None
    pool: str = "layers"
    impl: str = "delta"
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)


def lora_target_regex(config: Any) -> str:
    """The LoRA target pattern for this architecture (UsageError if unsupported)."""
    dm = B.dims(config)
    return _LORA_TARGETS["mpnet" if dm.model_type == "mpnet" else dm.family]


def model_id(config: Any, spec: MethodSpec) -> str:
    """The model name hashed into the position seed: stable across machines (never a path)."""
    if spec.options.get("model_id"):
        return str(spec.options["model_id"])
    name = str(getattr(config, "name_or_path", "") or "")
    if name and Path(name).expanduser().is_dir():
        return Path(name).name
    if name:
        return name
    dm = B.dims(config)
    return f"{dm.model_type}-{dm.n_blocks}x{dm.d}-v{config.vocab_size}"


def validate_spec(spec: MethodSpec, config: Any) -> None:
    """Reject bad input with one line naming the value and what is accepted."""
    m = spec.method
    if m not in METHODS:
        raise UsageError(f"unknown method '{m}'{did_you_mean(str(m), list(METHODS))}; "
                         f"accepted: {', '.join(METHODS)}")  # fmt: skip
    unknown = sorted(set(spec.options) - set(OPTIONS[m]))
    if unknown:
        raise UsageError(f"{m}: unknown option(s) {', '.join(unknown)}; accepted: "
                         f"{', '.join(OPTIONS[m]) or '(none)'}")  # fmt: skip
    dm = B.dims(config)
    if m in _APET:
        L = spec.budget
        if isinstance(L, bool) or not isinstance(L, int) or L < 1:
            raise UsageError(f"{m}: budget={L!r} is invalid; accepted: an integer L >= 1")
        if spec.impl not in IMPLS:
            raise UsageError(f"{m}: unknown impl '{spec.impl}'; accepted: {', '.join(IMPLS)}")
        if m == "apet-element":
            parse_pool(spec.pool)
    elif spec.budget is not None:
        raise UsageError(f"{m}: budget={spec.budget} is for apet-element/apet-tensor only; "
                         "accepted: budget=None with the size knob in options "
                         "(spec_for_budget picks it for a target count)")  # fmt: skip
    if m in ("prompt", "prefix"):
        if m == "prefix" and (dm.family not in B.PREFIX_FAMILIES
                              or dm.model_type in B.NO_PREFIX_TYPES):  # fmt: skip
            raise UsageError(f"prefix: PEFT prefix tuning does not support model type "
                             f"'{dm.model_type}'; accepted: "
                             f"{', '.join(t for t, f in B.FAMILIES.items() if f in B.PREFIX_FAMILIES and t not in B.NO_PREFIX_TYPES)}")  # noqa: E501  # fmt: skip
        k = B.option_int(spec, "length")
        seq = spec.options.get("max_seq_len", 1)
        if dm.max_positions is not None and k + seq > dm.max_positions:
            raise UsageError(f"{m}: length={k} with max_seq_len={seq} exceeds the model's "
                             f"{dm.max_positions} positions; accepted: length <= "
                             f"{dm.max_positions - seq}")  # fmt: skip
    if m == "bitfit" and B.bitfit_count(dm) == 0:
        raise UsageError(
            f"bitfit: model type '{dm.model_type}' has no bias parameters; "
            "accepted: a model with biases (bert, bloom)"
        )
    for key in ("rank", "bottleneck") if m == "apet-tensor" else ():
        B.option_int(spec, key)


# ------------------------------------------------------------------------------ the handle
@dataclass
class PetHandle:
    """A built method: what to call, what to optimise, and how to undo it."""

    spec: MethodSpec
    model: nn.Module
    planned_count: int
    named: list[tuple[str, nn.Parameter]]
    trainable_count: int
    detail: str = ""
    virtual_tokens: int = 0
    selection: Any = None  # element.Selection (apet-element)
    plan: Any = None  # tensor.TensorPlan (apet-tensor)
    undo: list[Callable[[], None]] = field(default_factory=list)

    @property
    def method(self) -> str:
        return self.spec.method

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Exactly the tensors the optimizer must see."""
        return [p for _, p in self.named]

    def named_trainable(self) -> dict[str, nn.Parameter]:
        return dict(self.named)

    @property
    def mask_sha256(self) -> str | None:
        return self.selection.sha256() if self.selection is not None else None

    def mask_state(self) -> dict[str, torch.Tensor]:
        """apet-element: tensor name -> sorted int64 offsets (empty for other methods)."""
        return dict(self.selection.offsets) if self.selection is not None else {}

    def describe(self) -> str:
        """One line printed before training: method, counts, and how they were obtained."""
        s = self.spec
        head = f"{s.method}: {self.trainable_count:,} trainable (planned {self.planned_count:,})"
        if s.method in _APET:
            head += f" | budget L={s.budget:,} | s_pos={s.seed}"
        return f"{head} | {self.detail}" if self.detail else head

    def state_dict_trainable(self) -> dict[str, torch.Tensor]:
        """Detached CPU copies of the trainable tensors, keyed by stable names."""
        return {n: p.detach().cpu().clone() for n, p in self.named}

    def load_trainable(self, state: dict[str, torch.Tensor]) -> None:
        """Load a `state_dict_trainable` back (same keys and shapes, else UsageError)."""
        mine = self.named_trainable()
        if set(state) != set(mine):
            diff = sorted(set(state) ^ set(mine))[:3]
            raise UsageError(f"trainable state does not match {self.method}: keys differ "
                             f"(e.g. {', '.join(diff)}); accepted: a state saved by the same "
                             "method spec")  # fmt: skip
        with torch.no_grad():
            for n, p in mine.items():
                if tuple(state[n].shape) != tuple(p.shape):
                    raise UsageError(f"trainable state '{n}' has shape {tuple(state[n].shape)}; "
                                     f"accepted: {tuple(p.shape)}")  # fmt: skip
                p.copy_(state[n].to(p.device, p.dtype))

    def optimizer_state_bytes(self, optimizer: torch.optim.Optimizer) -> int:
        return optimizer_state_bytes(optimizer)

    def remove(self) -> nn.Module:
        """Undo the method; returns the original model, bit-identical to before apply."""
        for step in reversed(self.undo):
            step()
        self.undo.clear()
        return self.model


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes held in the optimizer's per-parameter state tensors (Adam: m, v, step)."""
    return sum(v.numel() * v.element_size() for st in optimizer.state.values()
               for v in st.values() if torch.is_tensor(v))  # fmt: skip


# ------------------------------------------------------------------------------ builders
def _split(model: nn.Module) -> tuple[nn.Module, Callable[[nn.Module], None] | None]:
    """(backbone, setter for the backbone slot) for a PooledClassifier; (model, None) if bare."""
    inner = getattr(model, "backbone", None)
    if isinstance(inner, nn.Module) and hasattr(inner, "config"):
        return inner, lambda m: setattr(model, "backbone", m)
    return model, None


@contextlib.contextmanager
def _seeded(seed: int):
    """New-module init from s_data without touching the caller's RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _data_seed(spec: MethodSpec) -> int:
    return int(spec.options.get("data_seed", spec.seed))


def _snapshot(params: list[tuple[str, nn.Parameter]]) -> Callable[[], None]:
    saved = [(p, p.detach().clone()) for _, p in params]

    def undo() -> None:
        with torch.no_grad():
            for p, v in saved:
                p.copy_(v)
                p.requires_grad_(False)

    return undo


def _inject_lora(backbone: nn.Module, target: str, rank: int, alpha: int) -> Callable[[], None]:
    """PEFT LoRA on the modules matching `target`, in place; returns undo."""
    from peft import LoraConfig, inject_adapter_in_model
    from peft.tuners.lora import LoraLayer

    cfg = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=target)
    had_config = "peft_config" in vars(backbone)
    try:
        inject_adapter_in_model(cfg, backbone)
    except ValueError as exc:  # PEFT's NoMatchingPeftModuleError is a ValueError
        raise UsageError(f"lora: PEFT cannot target {target!r} on model type "
                         f"'{backbone.config.model_type}': {str(exc).splitlines()[0]}; "
                         f"accepted: {', '.join(sorted(B.FAMILIES))}") from exc  # fmt: skip
    wrapped = [(n, m) for n, m in backbone.named_modules() if isinstance(m, LoraLayer)]

    def undo() -> None:
        for name, layer in wrapped:
            parent_name, _, leaf = name.rpartition(".")
            parent = backbone.get_submodule(parent_name) if parent_name else backbone
            setattr(parent, leaf, layer.get_base_layer())
        if not had_config:  # else the next build sees "a model with PEFT" and warns
            vars(backbone).pop("peft_config", None)

    return undo


def _lora_params(backbone: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return [(n, p) for n, p in backbone.named_parameters() if "lora_" in n]


class DropVirtualTokens(nn.Module):
    """Calls a PEFT prompt-tuning model and drops the k prepended positions from its output."""

    def __init__(self, peft_model: nn.Module, k: int) -> None:
        super().__init__()
        self.peft = peft_model
        self.k = k
        self.config = peft_model.base_model.config

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        out = self.peft(*args, **kwargs)
        out["last_hidden_state"] = out["last_hidden_state"][:, self.k :]
        return out


def _build_prompt_or_prefix(backbone: nn.Module, spec: MethodSpec) -> tuple:
    from peft import PrefixTuningConfig, PromptTuningConfig, TaskType, get_peft_model

    k = B.option_int(spec, "length")
    t5 = {"num_transformer_submodules": 1} if B.dims(backbone.config).family == "t5" else {}
    if spec.method == "prompt":
        cfg = PromptTuningConfig(task_type=TaskType.FEATURE_EXTRACTION, num_virtual_tokens=k, **t5)
    else:
        cfg = PrefixTuningConfig(task_type=TaskType.FEATURE_EXTRACTION, num_virtual_tokens=k,
                                 prefix_projection=False, **t5)  # fmt: skip
    flags = {n: p.requires_grad for n, p in backbone.named_parameters()}
    peft_model = get_peft_model(backbone, cfg)
    emb = peft_model.prompt_encoder["default"].embedding.weight
    gen = torch.Generator().manual_seed(_data_seed(spec))
    with torch.no_grad():  # PEFT's RANDOM init is N(0, 1); the repo uses N(0, 0.1) for prompts
        std = float(spec.options.get("init_std", 0.1)) if spec.method == "prompt" else 1.0
        emb.copy_(torch.randn(emb.shape, generator=gen) * std)

    def undo() -> None:
        for n, p in backbone.named_parameters():
            p.requires_grad_(flags[n])

    # encoder-decoder: the prompt sits in the encoder; last_hidden_state is the decoder's
    drop = 0 if getattr(backbone.config, "is_encoder_decoder", False) else k
    wrapper = DropVirtualTokens(peft_model, drop) if spec.method == "prompt" else peft_model
    name = "prompt_embeddings" if spec.method == "prompt" else "prefix_embeddings"
    detail = f"PEFT {type(cfg).__name__} k={k}"
    return wrapper, [(name, emb)], undo, detail, k if spec.method == "prompt" else 0


def apply_method(model: nn.Module, spec: MethodSpec) -> PetHandle:
    """Build `spec` on `model`'s backbone; everything but the method's parameters is frozen.

    Raises:
        UsageError: bad spec (unknown method/pool/impl/option, budget larger than the pool or
            selecting 0 parameters, a prompt/prefix length the model cannot take, an
            architecture PEFT or our code does not support).
    """
    backbone, set_backbone = _split(model)
    planned = B.count_trainable(backbone.config, spec)  # validates first
    undo: list[Callable[[], None]] = []
    try:
        return _build(model, backbone, set_backbone, spec, planned, undo)
    except BaseException:
        for step in reversed(undo):  # a failed build leaves the model as it was
            step()
        raise


def _build(model, backbone, set_backbone, spec, planned, undo) -> PetHandle:
    from thunlp_repro.apet import adapters, element, tensor
    from thunlp_repro.apet.pools import live_parameter_names, pool_size, pool_tensors

    config = backbone.config
    flags = {n: p.requires_grad for n, p in backbone.named_parameters()}
    backbone.requires_grad_(False)
    undo.append(
        lambda: [p.requires_grad_(flags[n]) for n, p in backbone.named_parameters() if n in flags]
    )
    m = spec.method
    out_model, detail, virtual, selection, plan = model, "", 0, None, None
    gradmask_count = None

    if m in ("prompt", "prefix"):
        wrapper, named, step, detail, virtual = _build_prompt_or_prefix(backbone, spec)
        undo.append(step)
        if set_backbone is None:
            out_model = wrapper
        else:
            set_backbone(wrapper)
            undo.append(lambda: set_backbone(backbone))
    elif m == "lora":
        rank = B.option_int(spec, "rank")
        alpha = int(spec.options.get("alpha", 2 * rank))
        with _seeded(_data_seed(spec)):
            undo.append(_inject_lora(backbone, lora_target_regex(config), rank, alpha))
        named = _lora_params(backbone)
        detail = f"PEFT LoRA r={rank} alpha={alpha} on {lora_target_regex(config)}"
    elif m == "adapter":
        b = B.option_int(spec, "bottleneck")
        sites = adapters.adapter_sites(backbone)
        gen = torch.Generator().manual_seed(_data_seed(spec))
        named, step = adapters.attach_adapters(backbone, sites, b, gen)
        undo.append(step)
        detail = f"ours: {len(sites)} bottleneck adapters b={b}"
    elif m in ("bitfit", "ft"):
        live = live_parameter_names(backbone)
        if m == "bitfit":
            named = adapters.bitfit_parameters(backbone, live)
            if not named:
                raise UsageError(
                    f"bitfit: model type '{config.model_type}' has no bias "
                    "parameters; accepted: a model with biases (bert, bloom)"
                )
        else:
            named = [(n, p) for n, p in backbone.named_parameters() if n in live]
        if m == "bitfit" or spec.options.get("snapshot", True):
            undo.append(_snapshot(named))
        for _, p in named:
            p.requires_grad_(True)
        dead = sorted(set(flags) - live)
        detail = f"ours: {len(named)} tensors" + (f"; dead (not trained): {', '.join(dead)}"
                                                  if dead else "")  # fmt: skip
    elif m == "apet-element":
        tensors = pool_tensors(backbone, spec.pool)
        n_pool = pool_size(tensors)
        if spec.budget > n_pool:
            raise UsageError(
                f"apet-element: budget {spec.budget:,} is larger than pool "
                f"'{spec.pool}' ({n_pool:,} parameters); accepted: 1..{n_pool}"
            )
        if spec.impl == "gradmask" and any(p.dtype != torch.float32 for _, p in tensors):
            raise UsageError(
                "apet-element: impl 'gradmask' updates the weights in place and needs fp32 "
                "weights (bf16 rounds tiny updates away); accepted: impl 'delta', or fp32"
            )
        seed = element.derived_seed(model=model_id(config, spec), pool=spec.pool, s_pos=spec.seed)
        selection = element.select(tensors, spec.budget, seed)
        attach = element.attach_delta if spec.impl == "delta" else element.attach_gradmask
        named, step = attach(backbone, selection)
        undo.append(step)
        if spec.impl == "gradmask":
            gradmask_count = selection.count
        detail = (f"pool {spec.pool} N={n_pool:,} ({100 * spec.budget / n_pool:.4g}%) | "
                  f"impl {spec.impl} | {len(selection.offsets)} tensors | sampler "
                  f"{selection.regime} | mask {selection.sha256()[:12]}")  # fmt: skip
    else:  # apet-tensor
        live = live_parameter_names(backbone)
        plan = tensor.plan_tensor_selection(backbone, spec, config, live=live)
        named, step = tensor.attach_inner(backbone, plan.inner)
        undo.append(step)
        if plan.adapters:
            gen = torch.Generator().manual_seed(_data_seed(spec))
            b = B.option_int(spec, "bottleneck")
            ad_named, step = adapters.attach_adapters(backbone, plan.adapters, b, gen)
            named += ad_named
            undo.append(step)
        if plan.lora:
            rank = B.option_int(spec, "rank")
            alpha = int(spec.options.get("alpha", 2 * rank))
            target = "|".join(_escape(n) for n in plan.lora)
            with _seeded(_data_seed(spec)):
                undo.append(_inject_lora(backbone, f"(?:{target})", rank, alpha))
            named += _lora_params(backbone)
        for _, p in named:  # PEFT's injection froze everything that is not LoRA
            p.requires_grad_(True)
        detail = (
            f"{len(plan.lora)} LoRA + {len(plan.adapters)} adapter groups, "
            f"{len(plan.inner)} inner tensors | {plan.realised:,} of L={plan.budget:,}"
        )

    realised = gradmask_count if gradmask_count is not None else sum(p.numel() for _, p in named)
    handle = PetHandle(spec, out_model, planned, list(named), realised, detail, virtual,
                       selection, plan, undo)  # fmt: skip
    if realised != planned:
        raise RuntimeError(f"{m}: realised {realised} trainable parameters != planned {planned}")
    return handle


def _escape(name: str) -> str:
    import re

    return re.escape(name)


def spec_digest(spec: MethodSpec) -> str:
    """A short stable hash of a spec (for run keys and logs)."""
    text = repr((spec.method, spec.budget, spec.pool, spec.impl, spec.seed,
                 sorted(spec.options.items())))  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:12]
