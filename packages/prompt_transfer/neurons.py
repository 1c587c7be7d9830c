"""Activated neurons of a prompt: FFN activations at the mask slot, prompt-only input.

Reproduces: prompt_transfer.md §2.10 ("ON", steps 1-2, the paper code's
`activate_neuron_<Backbone>.py`): the input is the prompt region followed by the
begin-of-sequence token (`[CLS]` / `<s>`), no task text, batch 1; for every layer the FFN
intermediate output after its activation function (dense + GELU) is read at the mask slot.
Binarising (step 3) and comparing (step 4) are `indicators.on_overlap`. The variant
`on_input=task` reads the same slot over a batch of the target task's inputs instead and keeps
each neuron's fraction of active inputs (`active_fractions`).
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


def _hooked(model: Any, run: Any) -> list[torch.Tensor]:
    """Run `run()` with every layer's FFN output at the mask slot recorded, backbone in eval."""
    blocks, acts = ffn_blocks(model.mlm), []
    hooks = [b.register_forward_hook(lambda _m, _i, out: acts.append(out[:, model.mask_index]))
             for b in blocks]  # fmt: skip
    was_training = model.mlm.training
    model.mlm.eval()
    try:
        run()
    finally:
        for h in hooks:
            h.remove()
        model.mlm.train(was_training)
    return [a.detach().float().cpu() for a in acts]


@torch.no_grad()
def mask_slot_activations(model: Any, prompt: torch.Tensor, bos_id: int) -> list[torch.Tensor]:
    """a^l(P) in R^m for every layer l: the FFN activations at the mask slot (§2.10 step 2).

    Args:
        model: A `SoftPromptMLM` (its mask slot and position handling define the input).
        prompt: The n x d prompt.
        bos_id: The begin-of-sequence token that follows the prompt region.
    """

    def run() -> None:
        ids = torch.tensor([[int(bos_id)]], device=model.prompt.device)
        # token types only where the backbone has them (BERT, RoBERTa; not MPNet)
        types = torch.zeros_like(ids) if getattr(model.mlm.config, "type_vocab_size", 0) else None
        model.mlm.base_model(**model.embed(ids, torch.ones_like(ids), types, prompt))

    return [a[0] for a in _hooked(model, run)]


@torch.no_grad()
def active_fractions(model: Any, prompt: torch.Tensor, batch: dict[str, Any]) -> list[torch.Tensor]:
    """Per layer, the fraction of the batch's inputs on which each FFN neuron is active (a > 0)
    at the mask slot: the `on_input=task` variant of §2.10 (prompt followed by task text).

    Args:
        model: A `SoftPromptMLM`.
        prompt: The n x d prompt.
        batch: A padded batch of the target task's inputs (`data.collate`, labels dropped).
    """

    def run() -> None:
        inputs = model.embed(batch["input_ids"], batch["attention_mask"],
                             batch.get("token_type_ids"), prompt)  # fmt: skip
        model.mlm.base_model(**inputs)

    return [(a > 0).float().mean(0) for a in _hooked(model, run)]
