"""Our two non-PEFT baselines: bottleneck adapters and BitFit (apet.md §2.2).

PEFT 0.21 has neither: it has no Houlsby/Pfeiffer bottleneck adapter, and LoRA's `bias="all"`
trains biases only together with LoRA. Adapter: two per block, h <- h + U·gelu_new(D h + b_D) +
b_U, D ∈ R^{b×d}, U ∈ R^{d×b}, weights N(0, 0.01), biases 0. Each adapter is a forward hook on the
module whose output is the residual stream after that sublayer (BERT `attention.output` /
`output` after their residual add and LayerNorm; BLOOM `self_attention` / `mlp`, which add the
residual inside; T5 `layer.0` / `layer.-1`). Llama adds its residual outside the sublayer
modules, so there the adapter acts on the sublayer output before the add (a documented deviation;
same count). The adapter is registered as a child of the hooked module so `.to()` moves it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch
from torch import nn

from thunlp_repro.apet.budget import dims

# family -> (regex of the after-attention module, regex of the after-FFN module)
ADAPTER_SITES: dict[str, tuple[str, str]] = {
    "bert": (r"layer\.\d+\.attention(\.output)?", r"layer\.\d+\.output"),
    "bloom": (r"h\.\d+\.self_attention", r"h\.\d+\.mlp"),
    "t5": (r"block\.\d+\.layer\.0", r"block\.\d+\.layer\.(1|2)"),
    "llama": (r"layers\.\d+\.self_attn", r"layers\.\d+\.mlp"),
}


class Bottleneck(nn.Module):
    """x + U·gelu_new(D x + b_D) + b_U, applied to the first element of a module's output."""

    def __init__(self, d: int, b: int, generator: torch.Generator, std: float = 0.01) -> None:
        super().__init__()
        self.down = nn.Linear(d, b)
        self.up = nn.Linear(b, d)
        with torch.no_grad():
            for lin in (self.down, self.up):
                lin.weight.copy_(torch.randn(lin.weight.shape, generator=generator) * std)
                lin.bias.zero_()
        self.enabled = True  # explicit bypass flag (§2.6), never inferred from requires_grad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        h = nn.functional.gelu(self.down(x.to(self.down.weight.dtype)), approximate="tanh")
        return x + self.up(h).to(x.dtype)


def _hook(module: nn.Module, args: object, output: object) -> object:
    adapter = module.pet_adapter
    if isinstance(output, tuple):
        return (adapter(output[0]), *output[1:])
    return adapter(output)


def adapter_sites(backbone: nn.Module) -> list[str]:
    """Module names that carry an adapter, in model order: two per block.

    The T5 FFN site is the last sublayer of a block (layer.1 in the encoder, layer.2 in the
    decoder); the decoder's cross-attention gets none (two per block, §2.3).
    """
    fam = dims(backbone.config).family
    attn_re, ffn_re = (re.compile(rf"(^|.*\.){r}$") for r in ADAPTER_SITES[fam])
    names = [n for n, _ in backbone.named_modules()]
    sites: list[str] = []
    for n in names:
        if attn_re.match(n):
            # BERT: prefer `attention.output` (after the add) when it exists, else `attention`
            if n.endswith(".attention") and f"{n}.output" in names:
                continue
            sites.append(n)
        elif ffn_re.match(n):
            if fam == "t5" and n.endswith(".layer.1") and f"{n[:-1]}2" in names:
                continue  # decoder layer.1 is cross-attention
            sites.append(n)
    return sites


def attach_adapters(
    backbone: nn.Module, sites: list[str], bottleneck: int, generator: torch.Generator
) -> tuple[list[tuple[str, nn.Parameter]], Callable[[], None]]:
    """Insert one Bottleneck per site; returns (named adapter parameters, undo)."""
    d = dims(backbone.config).d
    ref = next(backbone.parameters())
    named: list[tuple[str, nn.Parameter]] = []
    undo_steps: list[Callable[[], None]] = []
    for site in sites:
        module = backbone.get_submodule(site)
        adapter = Bottleneck(d, bottleneck, generator).to(ref.device)
        module.add_module("pet_adapter", adapter)
        handle = module.register_forward_hook(_hook)
        named += [(f"{site}.pet_adapter.{n}", p) for n, p in adapter.named_parameters()]

        def undo(m: nn.Module = module, h: object = handle) -> None:
            h.remove()  # type: ignore[attr-defined]
            del m.pet_adapter

        undo_steps.append(undo)

    def undo_all() -> None:
        for step in undo_steps:
            step()

    return named, undo_all


def bitfit_parameters(backbone: nn.Module, live: set[str]) -> list[tuple[str, nn.Parameter]]:
    """Live parameters whose name *ends in* `.bias` (never a substring match, §7 #10)."""
    return [(n, p) for n, p in backbone.named_parameters() if n.endswith(".bias") and n in live]
