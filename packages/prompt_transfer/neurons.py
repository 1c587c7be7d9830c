"""Activated neurons of a prompt: FFN activations at the mask slot, prompt-only input.

Reproduces: prompt_transfer.md §2.10 ("ON", steps 1-2, the paper code's
`activate_neuron_<Backbone>.py`): the input is the prompt region followed by the
begin-of-sequence token (`[CLS]` / `<s>`), no task text, batch 1; for every layer the FFN
intermediate output after its activation function (dense + GELU) is read at the mask slot.
Binarising (step 3) and comparing (step 4) are `indicators.on_overlap`.
"""

from __future__ import annotations

from typing import Any

import torch

from thunlp_repro.shared.errors import UsageError


def ffn_blocks(mlm: Any) -> list[torch.nn.Module]:
    """The per-layer FFN intermediate blocks of a BERT-style encoder (BERT, RoBERTa, MPNet).

    Raises:
        UsageError: the backbone has no `encoder.layer[i].intermediate` blocks.
    """
    layers = getattr(getattr(mlm.base_model, "encoder", None), "layer", None)
    if not layers or not all(hasattr(layer, "intermediate") for layer in layers):
        raise UsageError(
            f"{type(mlm).__name__} has no encoder.layer[i].intermediate FFN blocks; the ON "
            "indicator supports BERT-style encoders (BERT, RoBERTa, MPNet)"
        )
    return [layer.intermediate for layer in layers]


@torch.no_grad()
def mask_slot_activations(model: Any, prompt: torch.Tensor, bos_id: int) -> list[torch.Tensor]:
    """a^l(P) in R^m for every layer l: the FFN activations at the mask slot (§2.10 step 2).

    Args:
        model: A `SoftPromptMLM` (its mask slot and position handling define the input).
        prompt: The n x d prompt.
        bos_id: The begin-of-sequence token that follows the prompt region.
    """
    blocks, acts = ffn_blocks(model.mlm), []
    hooks = [b.register_forward_hook(lambda _m, _i, out: acts.append(out[0, model.mask_index]))
             for b in blocks]  # fmt: skip
    was_training = model.mlm.training
    model.mlm.eval()
    try:
        ids = torch.tensor([[int(bos_id)]], device=model.prompt.device)
        # token types only where the backbone has them (BERT, RoBERTa; not MPNet)
        types = torch.zeros_like(ids) if getattr(model.mlm.config, "type_vocab_size", 0) else None
        inputs = model.embed(ids, torch.ones_like(ids), types, prompt)
        model.mlm.base_model(**inputs)
    finally:
        for h in hooks:
            h.remove()
        model.mlm.train(was_training)
    return [a.detach().float().cpu() for a in acts]
