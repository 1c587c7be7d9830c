"""KI data: the shared tokenizer, packed corpora, and the fixed masked validation set (ki.md §4.2,
§4.3, §2.5).

Training blocks come from `shared.corpora.pack_corpus(..., packing="complete")` ([CLS] + 126
tokens of one document + [SEP]). Validation uses `val_blocks` blocks per domain drawn once with
seed 0 and masked once with seed 0, so every run (teacher included) is scored on the identical
corrupted set. `load_blocks` is the one place blocks are read; tests replace it with fakes.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

from thunlp_repro.shared.errors import UsageError

logger = logging.getLogger(__name__)

VAL_SEED = 0


@functools.lru_cache(maxsize=4)
def load_tokenizer(name: str) -> Any:
    """The shared tokenizer: `minilm-l6` (MiniLM's uncased WordPiece, 30,522), `tiny` (the
    project's tiny test tokenizer) or any model name `shared.models` resolves."""
    if name == "tiny":
        from thunlp_repro.shared.models import tiny_tokenizer

        return tiny_tokenizer()
    from transformers import AutoTokenizer

    from thunlp_repro.shared.models import resolve_model

    src = resolve_model(name)
    if src.kind == "tiny":
        from thunlp_repro.shared.models import tiny_tokenizer

        return tiny_tokenizer()
    return AutoTokenizer.from_pretrained(src.location)


def load_blocks(
    corpus: str, tokenizer: Any, block_size: int, split: str, seed: int, max_tokens: int | None
) -> dict[str, Any]:
    """Packed blocks of each domain of `corpus`: {domain: LongTensor [n, block_size]}."""
    from thunlp_repro.shared.corpora import domains, pack_corpus

    out = {}
    for dom in domains(corpus):
        budget = None if max_tokens is None else max(block_size, max_tokens // len(domains(corpus)))
        out[dom] = pack_corpus(dom, tokenizer, block_size, split, seed, budget, packing="complete")
    return out


@dataclass
class ValidationSet:
    """A fixed, pre-masked validation set of one corpus, kept per domain."""

    corpus: str
    inputs: dict[str, Any]  # domain -> corrupted ids [n, S]
    select: dict[str, Any]  # domain -> bool [n, S]
    targets: dict[str, Any]  # domain -> clean ids [n, S]

    def n_blocks(self) -> int:
        return sum(int(v.shape[0]) for v in self.inputs.values())


def validation_set(
    corpus: str, tokenizer: Any, block_size: int, n_per_domain: int, holdout_seed: int, spec: Any
) -> ValidationSet:
    """The fixed masked validation set (drawn and masked with seed 0)."""
    import torch

    from thunlp_repro.ki.masking import mask_tokens
    from thunlp_repro.shared.corpora import sample_blocks

    blocks = load_blocks(corpus, tokenizer, block_size, "validation", holdout_seed, None)
    inputs, select, targets = {}, {}, {}
    for dom, b in blocks.items():
        if b.shape[0] == 0:
            raise UsageError(f"corpus {corpus}: domain {dom} has no validation block")
        chosen = sample_blocks(b, n_per_domain, seed=VAL_SEED)
        gen = torch.Generator().manual_seed(VAL_SEED)
        inputs[dom], select[dom] = mask_tokens(chosen, spec, gen)
        targets[dom] = chosen
    return ValidationSet(corpus, inputs, select, targets)


def train_blocks(cfg: Any, tokenizer: Any, corpus: str | None = None) -> Any:
    """The training blocks of the run (all domains stacked), after fraction and token caps."""
    import torch

    corpus = corpus or cfg.data.corpus
    parts = load_blocks(
        corpus, tokenizer, cfg.data.block_size, "train", cfg.data.holdout_seed,
        cfg.data.max_train_tokens,
    )  # fmt: skip
    blocks = torch.cat(list(parts.values()), dim=0)
    if cfg.data.train_fraction < 1.0:
        from thunlp_repro.shared.corpora import sample_blocks

        n = max(1, int(round(cfg.data.train_fraction * blocks.shape[0])))
        blocks = sample_blocks(blocks, n, seed=cfg.data.holdout_seed)
    if blocks.shape[0] == 0:
        raise UsageError(f"corpus {corpus} gave no training blocks of {cfg.data.block_size}")
    return blocks
