"""APET-element: exactly L random coordinates of the pool, trained as a sparse delta (apet.md §2.4).

Selection. The pool is ordered canonically (names sorted, tensors flattened row-major); a
`torch.Generator` seeded from SHA-256 of {model id, pool, s_pos} (never L, never `hash()`)
produces one index stream. For L <= N/2 the first L distinct indices of a block-wise uniform
int64 stream are kept (blocks of a fixed size, so the stream does not depend on L); above N/2 the
first L entries of `randperm(N)`. Either way mask(L) is a prefix of mask(L') for L < L' (nested).

`impl: delta` (default). Each selected tensor W gets a `torch.nn.utils.parametrize`
parametrization W' = W.flatten().index_add(0, idx, Δ).view_as(W) holding only its k selected
offsets (int64 buffer) and a k-element fp32 Δ initialised to 0. Why a parametrization rather than
a functional wrapper: it lives on the module, so any caller of the backbone (a pooled head, PEFT
wrapper, accelerate) sees W', `.to(device)` moves Δ with the model, and removing it with
`leave_parametrized=False` gives back the untouched W. Trainable memory, gradients and optimizer
state are O(L); the dense W' exists only transiently inside forward, like any activation.

`impl: gradmask` (baseline). The selected tensors themselves get requires_grad and a gradient hook
that multiplies by a dense 0/1 mask; with AdamW and weight decay 0 the unselected entries keep
m = v = 0 and move by exactly 0. Optimizer state is O(size of the selected tensors).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import parametrize

_BLOCK = 1 << 16  # draws per block; fixed so that the stream never depends on L


def derived_seed(**key: object) -> int:
    """First 8 bytes of SHA-256 over the canonical JSON of `key`, as a non-negative int63."""
    blob = json.dumps(key, sort_keys=True, separators=(",", ":")).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big") & ((1 << 63) - 1)


def sample_indices(n_pool: int, budget: int, seed: int) -> tuple[torch.Tensor, str]:
    """L distinct flat indices in [0, n_pool), in draw order; and the regime used.

    Raises:
        ValueError: budget outside 1..n_pool (callers turn this into a UsageError first).
    """
    if not 1 <= budget <= n_pool:
        raise ValueError(f"budget {budget} outside 1..{n_pool}")
    gen = torch.Generator().manual_seed(seed)
    if 2 * budget > n_pool:
        return torch.randperm(n_pool, generator=gen)[:budget], "randperm"
    drawn = torch.empty(0, dtype=torch.int64)
    while True:
        drawn = torch.cat([drawn, torch.randint(0, n_pool, (_BLOCK,), generator=gen)])
        uniq, inverse = torch.unique(drawn, return_inverse=True)
        if uniq.numel() >= budget:
            break
    # first occurrence of each value, in draw order: min position per unique value
    pos = torch.arange(drawn.numel())
    first = torch.full((uniq.numel(),), drawn.numel(), dtype=torch.int64)
    first.scatter_reduce_(0, inverse, pos, reduce="amin")
    order = torch.sort(first).values[:budget]
    return drawn[order], "blocks"


@dataclass
class Selection:
    """Per-tensor sorted int64 offsets of the selected coordinates (the saved mask)."""

    offsets: dict[str, torch.Tensor]
    regime: str
    pool_size: int
    seed: int

    @property
    def count(self) -> int:
        return sum(int(v.numel()) for v in self.offsets.values())

    def sha256(self) -> str:
        """Hash of the mask: names, then offsets as little-endian int64."""
        h = hashlib.sha256()
        for name in sorted(self.offsets):
            h.update(name.encode() + b"\0")
            h.update(self.offsets[name].to(torch.int64).numpy().astype("<i8").tobytes())
        return h.hexdigest()


def select(tensors: list[tuple[str, nn.Parameter]], budget: int, seed: int) -> Selection:
    """Map L sampled flat indices of the canonical pool to per-tensor offsets."""
    sizes = torch.tensor([p.numel() for _, p in tensors], dtype=torch.int64)
    ends = torch.cumsum(sizes, 0)
    flat, regime = sample_indices(int(ends[-1]), budget, seed)
    which = torch.searchsorted(ends, flat, right=True)
    starts = ends - sizes
    offsets: dict[str, torch.Tensor] = {}
    for i in torch.unique(which).tolist():
        local = flat[which == i] - starts[i]
        offsets[tensors[i][0]] = torch.sort(local).values
    return Selection(offsets, regime, int(ends[-1]), seed)


class SparseDelta(nn.Module):
    """Parametrization W -> W + scatter(Δ) on k fixed flat offsets; Δ starts at 0."""

    def __init__(self, offsets: torch.Tensor, device: torch.device) -> None:
        super().__init__()
        self.register_buffer("idx", offsets.to(device=device, dtype=torch.int64))
        self.delta = nn.Parameter(torch.zeros(offsets.numel(), device=device))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        flat = weight.flatten().index_add(0, self.idx, self.delta.to(weight.dtype))
        return flat.view_as(weight)


def attach_delta(
    backbone: nn.Module, selection: Selection
) -> tuple[list[tuple[str, nn.Parameter]], Callable[[], None]]:
    """Parametrize every selected tensor; returns (named Δ parameters, undo)."""
    named: list[tuple[str, nn.Parameter]] = []
    touched: list[tuple[nn.Module, str]] = []
    for name, offs in sorted(selection.offsets.items()):
        path, _, leaf = name.rpartition(".")
        module = backbone.get_submodule(path)
        weight = getattr(module, leaf)
        pm = SparseDelta(offs, weight.device)
        parametrize.register_parametrization(module, leaf, pm)
        touched.append((module, leaf))
        named.append((name, pm.delta))

    def undo() -> None:
        for module, leaf in touched:
            parametrize.remove_parametrizations(module, leaf, leave_parametrized=False)

    return named, undo


@dataclass
class _Masked:
    param: nn.Parameter
    offsets: torch.Tensor
    original: torch.Tensor  # the selected entries' checkpoint values (O(L)), for undo
    hook: object = field(default=None)


def attach_gradmask(
    backbone: nn.Module, selection: Selection
) -> tuple[list[tuple[str, nn.Parameter]], Callable[[], None]]:
    """Train the selected tensors in place with a dense 0/1 gradient mask; returns (params, undo).

    Undo restores the selected entries from an O(L) copy, so the backbone is bit-identical after.
    """
    params = dict(backbone.named_parameters())
    kept: list[_Masked] = []
    named: list[tuple[str, nn.Parameter]] = []
    for name, offs in sorted(selection.offsets.items()):
        p = params[name]
        offs = offs.to(p.device)
        mask = torch.zeros(p.numel(), dtype=p.dtype, device=p.device)
        mask[offs] = 1
        mask = mask.view_as(p)
        p.requires_grad_(True)
        rec = _Masked(p, offs, p.detach().flatten()[offs].clone())
        rec.hook = p.register_hook(lambda g, m=mask: g * m)
        kept.append(rec)
        named.append((name, p))

    def undo() -> None:
        with torch.no_grad():
            for rec in kept:
                rec.hook.remove()  # type: ignore[attr-defined]
                rec.param.requires_grad_(False)
                rec.param.view(-1)[rec.offsets] = rec.original

    return named, undo
