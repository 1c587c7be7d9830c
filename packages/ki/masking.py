"""BERT-style masking for KI (ki.md §2.4): 15% selected; of those 10% kept, 10% random, 80% mask.

Targets are the original tokens at **all** selected positions. Random replacements are drawn from
the non-special tokens only, every sequence gets at least one selected position, and special
tokens ([CLS], [SEP], [PAD]) are never selected. Masks are a pure function of (seed, epoch, the
rows' dataset indices), so a resumed run masks exactly as an uninterrupted one, and the teacher
gets the very same corrupted tensor as the student (one call, one tensor object).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MaskSpec:
    """Selection rate, kept and random shares, and the ids involved."""

    rate: float
    keep: float
    random: float
    mask_id: int
    special_ids: tuple[int, ...]
    vocab_size: int

    @classmethod
    def from_tokenizer(
        cls, tokenizer: Any, rate: float = 0.15, keep: float = 0.1, random: float = 0.1
    ) -> MaskSpec:
        specials = tuple(sorted(set(tokenizer.all_special_ids)))
        mask_id = tokenizer.mask_token_id
        if mask_id is None:
            mask_id = tokenizer.unk_token_id
        return cls(rate, keep, random, int(mask_id), specials, len(tokenizer))


@functools.lru_cache(maxsize=8)
def _pool(vocab_size: int, special_ids: tuple[int, ...]) -> Any:
    """The non-special token ids, from which random replacements are drawn."""
    import torch

    keep = torch.ones(vocab_size, dtype=torch.bool)
    keep[list(special_ids)] = False
    return torch.nonzero(keep).flatten()


def mask_seed(seed: int, epoch: int, indices: Any) -> int:
    """A 63-bit generator seed from the run seed, the epoch and the rows' dataset indices."""
    import hashlib

    key = f"{seed}|{epoch}|{','.join(str(int(i)) for i in indices)}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little") >> 1


def mask_tokens(input_ids: Any, spec: MaskSpec, generator: Any) -> tuple[Any, Any]:
    """Corrupt `input_ids` and return (corrupted, select) with `select` a [B, S] bool tensor.

    Args:
        input_ids: [B, S] LongTensor of clean tokens.
        spec: Rates and ids.
        generator: A seeded `torch.Generator` (the only randomness used).

    Returns:
        The corrupted ids (a new tensor) and the selected positions. Targets are
        `input_ids[select]`.
    """
    import torch

    special = torch.zeros_like(input_ids, dtype=torch.bool)
    for sid in spec.special_ids:
        special |= input_ids == sid
    u = torch.rand(input_ids.shape, generator=generator)
    select = (u < spec.rate) & ~special
    # At least one selected position per sequence: the maskable position with the smallest u.
    empty = ~select.any(dim=1)
    if bool(empty.any()):
        masked_u = u.masked_fill(special, 2.0)
        first = masked_u.argmin(dim=1)
        rows = torch.nonzero(empty & (~special).any(dim=1)).flatten()
        select[rows, first[rows]] = True
    action = torch.rand(input_ids.shape, generator=generator)
    pool = _pool(spec.vocab_size, spec.special_ids).to(input_ids.dtype)
    rand_tok = pool[torch.randint(len(pool), input_ids.shape, generator=generator)]
    corrupted = input_ids.clone()
    to_mask = select & (action < 1.0 - spec.keep - spec.random)
    to_rand = select & (action >= 1.0 - spec.keep - spec.random) & (action < 1.0 - spec.keep)
    corrupted[to_mask] = spec.mask_id
    corrupted[to_rand] = rand_tok[to_rand]
    return corrupted, select


def mask_batch(input_ids: Any, spec: MaskSpec, seed: int, epoch: int, indices: Any) -> dict:
    """Mask a batch deterministically from (seed, epoch, indices); returns the model inputs."""
    import torch

    gen = torch.Generator().manual_seed(mask_seed(seed, epoch, indices))
    corrupted, select = mask_tokens(input_ids, spec, gen)
    return {"input_ids": corrupted, "select": select, "targets": input_ids[select]}
