"""APET pools: which backbone coordinates a random selection may touch (apet.md §2.5).

A pool is built from *live* parameters only, those that get a gradient in one probe backward pass
(so the BERT pooler, unused under mean pooling, is never in a pool). Accepted specs:
`layers` (default), `all`, `linear`, `low` / `mid` / `high` (thirds of the blocks), `layers[i:j]`
and `module=attn|ffn|norm_bias`. The pool's canonical order (names sorted, each tensor flattened
row-major) is what the samplers index into.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from thunlp_repro.shared.errors import UsageError

POOL_SPECS = ("layers", "all", "linear", "low", "mid", "high", "layers[i:j]",
              "module=attn", "module=ffn", "module=norm_bias")  # fmt: skip
_THIRDS = ("low", "mid", "high")
_MODULES = ("attn", "ffn", "norm_bias")
# `encoder.layer.3.` (BERT), `layers.3.` (Llama), `h.3.` (BLOOM), `encoder.block.3.` (T5)
_BLOCK = re.compile(r"^(?P<stack>(?:.*\.)?)(?:layer|layers|h|block)\.(?P<idx>\d+)\.")
_SLICE = re.compile(r"^layers\[(\d+):(\d+)\]$")


@dataclass(frozen=True)
class PoolSpec:
    """A parsed pool spec: kind in {layers, all, linear, slice, third, module}."""

    text: str
    kind: str
    lo: int = 0
    hi: int = 0
    arg: str = ""


def parse_pool(text: str) -> PoolSpec:
    """Parse a pool spec string.

    Raises:
        UsageError: not one of POOL_SPECS.
    """
    if text in ("layers", "all", "linear"):
        return PoolSpec(text, text)
    if text in _THIRDS:
        return PoolSpec(text, "third", arg=text)
    if text.startswith("module=") and text[7:] in _MODULES:
        return PoolSpec(text, "module", arg=text[7:])
    m = _SLICE.match(text)
    if m and int(m.group(1)) < int(m.group(2)):
        return PoolSpec(text, "slice", lo=int(m.group(1)), hi=int(m.group(2)))
    raise UsageError(f"unknown pool '{text}'; accepted: {', '.join(POOL_SPECS)} "
                     "(i < j, blocks i..j-1)")  # fmt: skip


def block_of(name: str) -> tuple[str, int] | None:
    """(stack, block index) of a parameter inside a transformer block, else None."""
    m = _BLOCK.match(name)
    return (m.group("stack"), int(m.group("idx"))) if m else None


def _owner(model: nn.Module, name: str) -> nn.Module:
    return model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model


def is_norm(model: nn.Module, name: str) -> bool:
    """LayerNorm / RMSNorm gains and biases (decided by the owning module's class)."""
    return "norm" in type(_owner(model, name)).__name__.lower()


def _is_attention(name: str) -> bool:
    return any(("attention" in part.lower() or "attn" in part.lower())
               for part in name.split(".")[:-1])  # fmt: skip


def probe_inputs(config: Any, device: torch.device) -> dict[str, torch.Tensor]:
    """A small fixed batch of token ids every backbone accepts (decoder ids for T5)."""
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1, min(int(config.vocab_size), 100), (2, 8), generator=gen).to(device)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if getattr(config, "is_encoder_decoder", False):
        batch["decoder_input_ids"] = ids
    return batch


def live_parameter_names(backbone: nn.Module) -> set[str]:
    """Names of the parameters that receive a (non-None) gradient in one probe backward.

    The loss is a fixed random projection of `last_hidden_state`, the only output our heads read
    (mean pooling), so parameters that feed other outputs only (the BERT pooler) are dead.
    Leaves requires_grad, grads and train/eval mode as they were.
    """
    params = dict(backbone.named_parameters())
    flags = {n: p.requires_grad for n, p in params.items()}
    was_training = backbone.training
    device = next(iter(params.values())).device
    try:
        backbone.eval()
        for p in params.values():
            p.requires_grad_(True)
            p.grad = None
        out = backbone(**probe_inputs(backbone.config, device)).last_hidden_state
        proj = torch.randn(out.shape, generator=torch.Generator().manual_seed(1)).to(out)
        (out * proj).sum().backward()
        return {n for n, p in params.items() if p.grad is not None}
    finally:
        for n, p in params.items():
            p.grad = None
            p.requires_grad_(flags[n])
        backbone.train(was_training)


def _n_blocks(names: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for n in names:
        b = block_of(n)
        if b:
            counts[b[0]] = max(counts.get(b[0], 0), b[1] + 1)
    return counts


def _in_pool(model: nn.Module, name: str, spec: PoolSpec, n_blocks: dict[str, int]) -> bool:
    if spec.kind == "all":
        return True
    blk = block_of(name)
    if blk is None:
        return False
    stack, idx = blk
    if spec.kind == "layers":
        return True
    if spec.kind == "linear":
        return isinstance(_owner(model, name), nn.Linear) and name.endswith(".weight")
    if spec.kind == "slice":
        return spec.lo <= idx < spec.hi
    if spec.kind == "third":  # block i is in third floor(3i / n): a partition of the blocks
        return _THIRDS[(3 * idx) // n_blocks[stack]] == spec.arg
    norm_or_bias = is_norm(model, name) or name.endswith(".bias")
    if spec.arg == "norm_bias":
        return norm_or_bias
    return not norm_or_bias and _is_attention(name) == (spec.arg == "attn")


def pool_tensors(
    backbone: nn.Module, pool: str, live: set[str] | None = None
) -> list[tuple[str, nn.Parameter]]:
    """The pool's tensors in canonical order (sorted by name).

    Args:
        backbone: The bare encoder/decoder (real or on the meta device).
        pool: A pool spec (POOL_SPECS).
        live: Live names; None runs the probe (or the static rule for a meta backbone).

    Raises:
        UsageError: bad spec, a block slice outside the model, or an empty pool.
    """
    from thunlp_repro.apet.budget import is_dead_static

    spec = parse_pool(pool)
    params = dict(backbone.named_parameters())
    if live is None:
        if next(iter(params.values())).is_meta:
            live = {n for n in params if not is_dead_static(n)}
        else:
            live = live_parameter_names(backbone)
    names = sorted(n for n in params if n in live)
    n_blocks = _n_blocks(names)
    if spec.kind == "slice" and spec.hi > min(n_blocks.values(), default=0):
        raise UsageError(f"pool '{pool}' is outside the model: it has "
                         f"{min(n_blocks.values(), default=0)} blocks; accepted: "
                         "layers[i:j] with 0 <= i < j <= blocks")  # fmt: skip
    chosen = [(n, params[n]) for n in names if _in_pool(backbone, n, spec, n_blocks)]
    if not chosen:
        raise UsageError(f"pool '{pool}' holds no live parameters on this model "
                         f"({len(n_blocks) and max(n_blocks.values())} blocks); accepted: "
                         f"{', '.join(POOL_SPECS)}")  # fmt: skip
    return chosen


def pool_size(tensors: list[tuple[str, nn.Parameter]]) -> int:
    """N_P: the number of scalar coordinates in the pool."""
    return sum(p.numel() for _, p in tensors)
