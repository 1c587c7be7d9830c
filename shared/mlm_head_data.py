"""Restored-head data: the masking draw over the `head` corpus and the frozen-backbone states.

Reproduces: prompt_transfer.md §2.6, "Restored-head recipe", its corpus, masking and cache steps:
blocks of `[CLS]` + 126 + `[SEP]` with an equal share of the token budget per domain, drawn with
`mask_seed`; 15% of the non-special tokens of every block always replaced by the mask token; the
frozen backbone run once over the fixed draw, keeping the masked-position states in fp16.
`mlm_head_recipe.py` trains the head on them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.mlm_head import HeadRecipe

Progress = Callable[[str], None]
IGNORE = -100  # label of unmasked positions (cross-entropy's ignore_index)


# ------------------------------------------------------------------------------------ masking
def mask_blocks(
    blocks: torch.Tensor,
    *,
    mask_id: int,
    special_ids: Sequence[int],
    rate: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask round(rate · n) of the non-special tokens of every row, always with the mask token.

    The positions of each row are the `k` smallest of uniform draws from `generator`, so a fixed
    generator seed gives a fixed draw. Every row with an eligible token gets at least one mask.

    Args:
        blocks: Token ids [n, L].
        mask_id: The tokenizer's mask token id.
        special_ids: Ids never masked (`[CLS]`, `[SEP]`, `[PAD]`, ...).
        rate: Share of eligible tokens masked (spec 0.15).
        generator: Source of the draw.

    Returns:
        (input ids with the mask token at the chosen positions, labels: the original id there and
        -100 elsewhere).
    """
    if blocks.dim() != 2:
        raise UsageError(f"blocks must be [n, L], got shape {tuple(blocks.shape)}")
    blocks = blocks.long()
    specials = torch.tensor(sorted({int(i) for i in special_ids}), dtype=torch.long)
    eligible = ~torch.isin(blocks, specials)
    n_ok = eligible.sum(dim=1)
    k = torch.minimum((n_ok.double() * rate).round().long().clamp(min=1), n_ok)
    scores = torch.rand(blocks.shape, generator=generator, dtype=torch.float64)
    scores = scores.masked_fill(~eligible, 2.0)
    order = scores.argsort(dim=1)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(blocks.shape[1]).expand_as(order).contiguous())
    masked = rank < k[:, None]
    labels = torch.full_like(blocks, IGNORE)
    labels[masked] = blocks[masked]
    inputs = blocks.masked_fill(masked, int(mask_id))
    return inputs, labels


@dataclass
class MaskedCorpus:
    """The fixed masking draw: training and held-out blocks with their labels.

    Attributes:
        train_ids, train_labels: [n, L] masked inputs and labels (-100 = not masked).
        eval_ids, eval_labels: The same for the held-out split.
        stats: Blocks and tokens per split and domain.
    """

    train_ids: torch.Tensor
    train_labels: torch.Tensor
    eval_ids: torch.Tensor
    eval_labels: torch.Tensor
    stats: dict[str, Any]


def _draw_blocks(
    tokenizer: Any, recipe: HeadRecipe, split: str, tokens: int, seed: int
) -> tuple[torch.Tensor, dict[str, Any]]:
    """An equal share of `tokens` from each domain of the corpus split, sampled with `seed`."""
    from thunlp_repro.shared.corpora import domains, pack_corpus, sample_blocks

    doms = domains(recipe.corpus)
    n_blocks = tokens // recipe.block_size
    base, rest = divmod(n_blocks, len(doms))
    parts, stats = [], {}
    for i, dom in enumerate(doms):
        want = base + (1 if i < rest else 0)
        blocks = pack_corpus(
            dom, tokenizer, recipe.block_size, split, seed=0, packing="complete"
        )  # the corpus's own held-out split (seed 0), as every pipeline uses it
        picked = sample_blocks(blocks, want, seed=seed) if want else blocks[:0]
        parts.append(picked)
        stats[dom] = {"available_blocks": int(blocks.shape[0]), "blocks": int(picked.shape[0])}
    return torch.cat(parts, dim=0), stats


def masked_corpus(tokenizer: Any, recipe: HeadRecipe) -> MaskedCorpus:
    """The recipe's fixed masking draw over the `head` corpus (shared by every head variant).

    Block sample and masks depend only on the tokenizer, `tokens`, `eval_tokens`, `block_size`,
    `mask_rate` and `mask_seed`, never on the training `seed`.
    """
    specials = list(tokenizer.all_special_ids)
    out: dict[str, torch.Tensor] = {}
    stats: dict[str, Any] = {}
    for offset, (split, tokens) in enumerate(
        (("train", recipe.tokens), ("validation", recipe.eval_tokens))
    ):
        blocks, per_domain = _draw_blocks(tokenizer, recipe, split, tokens, recipe.mask_seed)
        gen = torch.Generator().manual_seed(recipe.mask_seed * 2 + offset)
        ids, labels = mask_blocks(
            blocks,
            mask_id=tokenizer.mask_token_id,
            special_ids=specials,
            rate=recipe.mask_rate,
            generator=gen,
        )
        key = "train" if split == "train" else "eval"
        out[f"{key}_ids"], out[f"{key}_labels"] = ids, labels
        stats[key] = {
            "blocks": int(blocks.shape[0]),
            "tokens": int(blocks.numel()),
            "masked": int((labels != IGNORE).sum()),
            "domains": per_domain,
        }
    return MaskedCorpus(stats=stats, **out)


# ------------------------------------------------------------------------------------ states
@dataclass
class MaskedStates:
    """Cached last-layer states of the frozen backbone at masked positions.

    Attributes:
        states: [N, d], fp16 (spec: "≈150k × d in fp16").
        targets: [N] original token ids.
    """

    states: torch.Tensor
    targets: torch.Tensor

    def __len__(self) -> int:
        return int(self.targets.shape[0])


@torch.no_grad()
def collect_states(
    backbone: nn.Module,
    input_ids: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int = 32,
    pad_id: int | None = None,
    dtype: torch.dtype = torch.float16,
    progress: Progress | None = None,
) -> MaskedStates:
    """Run the frozen backbone (eval mode) over masked blocks; keep the masked-position states.

    Args:
        backbone: An encoder returning `last_hidden_state`.
        input_ids: Masked inputs [n, L].
        labels: Labels [n, L] (-100 = not masked).
        batch_size: Blocks per forward.
        pad_id: Padding id excluded from attention (None: attend everywhere).
        dtype: Storage dtype of the states.
        progress: Called with a line about every 20% of the blocks.

    Returns:
        The states and their target ids, in block order.
    """
    was_training = backbone.training
    backbone.eval()
    states, targets = [], []
    n = int(input_ids.shape[0])
    step = max(1, n // 5)
    started = time.perf_counter()
    try:
        for i in range(0, n, batch_size):
            ids, lab = input_ids[i : i + batch_size], labels[i : i + batch_size]
            mask = torch.ones_like(ids) if pad_id is None else (ids != pad_id).long()
            hidden = backbone(input_ids=ids, attention_mask=mask).last_hidden_state
            sel = lab != IGNORE
            states.append(hidden[sel].to(dtype))
            targets.append(lab[sel])
            done = min(n, i + batch_size)
            if progress and (done // step != i // step or done == n):
                progress(f"states: {done}/{n} blocks, {time.perf_counter() - started:.0f} s")
    finally:
        backbone.train(was_training)
    dim = int(backbone.config.hidden_size)
    return MaskedStates(
        torch.cat(states) if states else torch.zeros(0, dim, dtype=dtype),
        torch.cat(targets) if targets else torch.zeros(0, dtype=torch.long),
    )
