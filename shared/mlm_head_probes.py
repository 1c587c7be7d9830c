"""Restored-head probes: where a head ranks the label words in hand-written cloze templates.

Reproduces: the assets issue's "label-word ranking it gives on a few probes" for the restored MLM
heads (prompt_transfer.md §2.6): for each probe template with one mask, the rank of each label
word among the whole vocabulary, and the head's own top tokens there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.mlm_head import PROBES


# ------------------------------------------------------------------------------------ probes
@torch.no_grad()
def rank_label_words(
    model: nn.Module, tokenizer: Any, template: str, words: Sequence[str]
) -> list[dict[str, Any]]:
    """Score label words at the mask slot of a template through a masked-LM model.

    Args:
        model: A masked-LM model (its output has `.logits`), e.g. `load_model("minilm-l6-mlm",
            "masked-lm")[0]`.
        tokenizer: Its tokenizer.
        template: Text with exactly one `[MASK]` (or `{mask}`), e.g. "the movie was [MASK]."
        words: Label words; each must be a single token.

    Returns:
        One dict per word, best first: `word`, `token_id`, `logit`, `prob` (softmax over the full
        vocabulary) and `vocab_rank` (1 = the model's top token).

    Raises:
        UsageError: no single mask slot, or a word that is not one token.
    """
    text = _fill_mask(template, tokenizer)
    ids = []
    for word in words:
        piece = tokenizer(word, add_special_tokens=False)["input_ids"]
        if len(piece) != 1:
            raise UsageError(f"label word {word!r} is {len(piece)} tokens, not one")
        ids.append(int(piece[0]))
    enc = tokenizer(text, return_tensors="pt")
    where = (enc["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten()
    if len(where) != 1:
        raise UsageError(f"template {template!r} needs exactly one mask slot, has {len(where)}")
    was_training = model.training
    model.eval()
    try:
        logits = model(**enc).logits[0, int(where[0])].float()
    finally:
        model.train(was_training)
    probs = logits.softmax(-1)
    rows = [
        {
            "word": w,
            "token_id": i,
            "logit": float(logits[i]),
            "prob": float(probs[i]),
            "vocab_rank": int((logits > logits[i]).sum()) + 1,
        }
        for w, i in zip(words, ids, strict=True)
    ]
    return sorted(rows, key=lambda r: (-r["logit"], r["word"]))


def run_probes(
    model: nn.Module,
    tokenizer: Any,
    probes: Sequence[tuple[str, Sequence[str]]] = PROBES,
) -> list[dict[str, Any]]:
    """`rank_label_words` over several (template, words) probes, plus the model's top-5 tokens."""
    out = []
    was_training = model.training
    model.eval()
    try:
        for template, words in probes:
            ranking = rank_label_words(model, tokenizer, template, words)
            top5 = _top_tokens(model, tokenizer, template)
            out.append({"template": template, "ranking": ranking, "top5": top5})
    finally:
        model.train(was_training)
    return out


def _fill_mask(template: str, tokenizer: Any) -> str:
    mask = tokenizer.mask_token
    return template.replace("{mask}", mask).replace("[MASK]", mask)


@torch.no_grad()
def _top_tokens(model: nn.Module, tokenizer: Any, template: str, k: int = 5) -> list[str]:
    enc = tokenizer(_fill_mask(template, tokenizer), return_tensors="pt")
    where = int((enc["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten()[0])
    logits = model(**enc).logits[0, where]
    return tokenizer.convert_ids_to_tokens(logits.topk(k).indices.tolist())
