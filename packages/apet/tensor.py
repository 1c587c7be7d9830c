"""APET-tensor: the official code's module/tensor-level selection, defects fixed (apet.md §2.6).

Two candidate pools: *delta* items (one LoRA group per targeted projection per block, A + B; two
adapter groups per block, D, b_D, U, b_U) and *inner* items (every live backbone tensor,
embeddings included). Each pool gets ⌊L/2⌋; each is shuffled with a derived seed (§2.4, without
L: the repo's `L × seed` made seed 0 identical at every budget) and filled greedily first-fit,
where a group is taken only if the *whole* group fits (the repo checked only its first tensor).
Selected inner tensors get a dense zero-initialised ADD; only selected delta modules are built,
so unselected ones are bypassed by construction. The plan works on a meta-device backbone too,
so the count is known from the config before anything is built. Realised ≤ L; a plan that selects
nothing is refused (§2.8 test 5).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from thunlp_repro.apet.adapters import adapter_sites
from thunlp_repro.apet.budget import dims, is_dead_static
from thunlp_repro.apet.element import derived_seed
from thunlp_repro.apet.pools import block_of
from thunlp_repro.shared.errors import UsageError

if TYPE_CHECKING:
    from thunlp_repro.apet.methods import MethodSpec


@dataclass(frozen=True)
class Item:
    """One candidate: kind in {lora, adapter, inner}, the module/parameter name, its size."""

    kind: str
    name: str
    size: int


@dataclass
class TensorPlan:
    """The selection: LoRA modules, adapter sites and inner tensors, with the realised count."""

    lora: list[str]
    adapters: list[str]
    inner: list[str]
    budget: int
    realised: int
    seed: int


def lora_targets(backbone: nn.Module) -> list[str]:
    """Names of the Linear modules the LoRA baseline adapts, inside blocks (§2.3 targets)."""
    from thunlp_repro.apet.methods import lora_target_regex

    pattern = re.compile(lora_target_regex(backbone.config))
    return [n for n, m in backbone.named_modules()
            if isinstance(m, nn.Linear) and pattern.fullmatch(n) and block_of(n + ".")]  # fmt: skip


def _candidates(backbone: nn.Module, rank: int, bottleneck: int, live: set[str]) -> tuple:
    d = dims(backbone.config).d
    delta = [Item("lora", n, rank * (m.in_features + m.out_features))
             for n in lora_targets(backbone) for m in [backbone.get_submodule(n)]]  # fmt: skip
    delta += [Item("adapter", s, 2 * d * bottleneck + bottleneck + d)
              for s in adapter_sites(backbone)]  # fmt: skip
    inner = [Item("inner", n, p.numel()) for n, p in sorted(backbone.named_parameters())
             if n in live]  # fmt: skip
    return sorted(delta, key=lambda i: (i.kind, i.name)), inner


def _first_fit(items: list[Item], budget: int, seed: int) -> list[Item]:
    order = list(items)
    random.Random(seed).shuffle(order)
    taken, left = [], budget
    for item in order:
        if item.size <= left:  # the whole group must fit
            taken.append(item)
            left -= item.size
    return taken


def plan_tensor_selection(
    backbone: nn.Module, spec: MethodSpec, config: Any, live: set[str] | None = None
) -> TensorPlan:
    """Select tensors and delta modules for budget L (real or meta backbone).

    Raises:
        UsageError: the budget selects 0 parameters.
    """
    from thunlp_repro.apet.budget import option_int
    from thunlp_repro.apet.methods import model_id

    if live is None:
        live = {n for n, _ in backbone.named_parameters() if not is_dead_static(n)}
    rank, bottleneck = option_int(spec, "rank"), option_int(spec, "bottleneck")
    delta, inner = _candidates(backbone, rank, bottleneck, live)
    total = sum(i.size for i in delta + inner)
    if spec.budget > total:
        raise UsageError(
            f"apet-tensor: budget {spec.budget:,} is larger than its pools "
            f"({total:,} parameters); accepted: 1..{total}"
        )
    half = int(spec.budget) // 2
    key = {"model": model_id(config, spec), "granularity": "tensor", "s_pos": spec.seed}
    seed = derived_seed(**key)
    got_delta = _first_fit(delta, half, derived_seed(**key, half="delta"))
    got_inner = _first_fit(inner, half, derived_seed(**key, half="inner"))
    realised = sum(i.size for i in got_delta + got_inner)
    if realised == 0:
        smallest = min(i.size for i in delta + inner)
        raise UsageError(f"apet-tensor: budget {spec.budget} selects 0 parameters (each half "
                         f"{half} < smallest candidate {smallest}); accepted: a budget >= "
                         f"{2 * smallest}, or apet-element (exact at any budget)")  # fmt: skip
    return TensorPlan(
        lora=sorted(i.name for i in got_delta if i.kind == "lora"),
        adapters=sorted(i.name for i in got_delta if i.kind == "adapter"),
        inner=sorted(i.name for i in got_inner),
        budget=int(spec.budget),
        realised=realised,
        seed=seed,
    )


class DenseDelta(nn.Module):
    """Parametrization W -> W + Δ, dense Δ initialised to 0 (the original W is never written)."""

    def __init__(self, like: torch.Tensor) -> None:
        super().__init__()
        self.delta = nn.Parameter(torch.zeros(like.shape, device=like.device))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + self.delta.to(weight.dtype)


def attach_inner(
    backbone: nn.Module, names: list[str]
) -> tuple[list[tuple[str, nn.Parameter]], Callable[[], None]]:
    """A dense delta on each named tensor; returns (named Δ parameters, undo)."""
    targets = []
    for name in names:
        path, _, leaf = name.rpartition(".")
        targets.append((name, backbone.get_submodule(path) if path else backbone, leaf))
    named: list[tuple[str, nn.Parameter]] = []
    for name, module, leaf in targets:
        pm = DenseDelta(getattr(module, leaf))
        parametrize.register_parametrization(module, leaf, pm)
        named.append((name, pm.delta))

    def undo() -> None:
        for _, module, leaf in targets:
            parametrize.remove_parametrizations(module, leaf, leave_parametrized=False)

    return named, undo
