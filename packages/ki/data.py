"""KI data: the shared tokenizer, packed corpora, and the fixed masked validation set (ki.md §4.2,
§4.3, §2.5).

Training blocks come from `shared.corpora.pack_corpus(..., packing="complete")` ([CLS] + 126
tokens of one document + [SEP]). Validation uses `val_blocks` blocks per domain drawn once with
seed 0 and masked once with seed 0, so every run (teacher included) is scored on the identical
corrupted set. `load_blocks` is the one place blocks are read; tests replace it with fakes.

The GPT arm (§4.8) reads causal blocks through `load_causal_blocks` (`packing="concat"`, no
masking): a fixed training pool, unmasked validation blocks and the top-k check sequences.

At paper scale (§3.2, §3.7) `data.corpus` names a hub corpus of `shared.corpora_hub` (`wb`,
`paper-all`, `fineweb-edu`, ...): the same calls stream and cache it, validation comes from its
held-out 0.5% of documents, and memory-mapped blocks are never copied (`_rows`, `BlockRows`).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

from thunlp_repro.shared.errors import ReproError, UsageError

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
    try:
        return AutoTokenizer.from_pretrained(src.location)
    except OSError as exc:  # offline hub, unknown id, or an incomplete folder
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReproError(f"cannot load the tokenizer of '{name}' ({src.kind}): {first}") from None


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


def _rows(parts: dict[str, Any]) -> Any:
    """The domains' blocks as one sequence of rows, never copied (a memory-mapped hub cache of
    3.4B tokens must stay on disk): a single domain as is, several as a `BlockRows` view."""
    values = list(parts.values())
    return values[0] if len(values) == 1 else BlockRows(values)


class BlockRows:
    """The rows of several ``[n_i, S]`` block tensors as one sequence, without concatenating
    them: a mixture of memory-mapped hub domains (3.4B tokens each) stays on disk. With `rows`,
    a view of those rows only, in that order (the GPT arm's pool drawn from a hub split).
    Indexing with an int gives a row view; with a slice, a tensor or list of ints, a stacked
    copy of those rows."""

    def __init__(self, parts: list[Any], rows: Any = None) -> None:
        import bisect
        import itertools

        self.parts = parts
        self.rows = rows
        self.starts = [0, *itertools.accumulate(int(p.shape[0]) for p in parts)]
        self._find = functools.partial(bisect.bisect_right, self.starts)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), int(self.parts[0].shape[1]))

    def __len__(self) -> int:
        return self.starts[-1] if self.rows is None else len(self.rows)

    def __getitem__(self, index: Any) -> Any:
        import torch

        if isinstance(index, slice):
            index = range(*index.indices(len(self)))
        if isinstance(index, int):
            if not 0 <= index < len(self):
                raise IndexError(f"row {index} of {len(self)}")
            row = index if self.rows is None else int(self.rows[index])
            part = self._find(row) - 1
            return self.parts[part][row - self.starts[part]]
        return torch.stack([self[int(i)] for i in index])


def train_blocks(cfg: Any, tokenizer: Any, corpus: str | None = None) -> Any:
    """The training blocks of the run (all domains, in order), after fraction and token caps:
    a tensor for one domain, a `BlockRows` view over a mixture's domains."""
    corpus = corpus or cfg.data.corpus
    parts = load_blocks(
        corpus, tokenizer, cfg.data.block_size, "train", cfg.data.holdout_seed,
        cfg.data.max_train_tokens,
    )  # fmt: skip
    blocks = _rows(parts)
    if cfg.data.train_fraction < 1.0:
        from thunlp_repro.shared.corpora import sample_blocks

        n = max(1, int(round(cfg.data.train_fraction * blocks.shape[0])))
        blocks = sample_blocks(blocks, n, seed=cfg.data.holdout_seed)
    if blocks.shape[0] == 0:
        raise UsageError(f"corpus {corpus} gave no training blocks of {cfg.data.block_size}")
    return blocks


# ------------------------------------------------------------------------------ GPT arm (§4.8)
def load_causal_blocks(
    corpus: str, tokenizer: Any, block_size: int, split: str, seed: int, max_tokens: int | None
) -> dict[str, Any]:
    """Causal-LM blocks of each domain: documents joined by the tokenizer's sep/eos token and cut
    into `block_size` pieces (`packing="concat"`), {domain: LongTensor [n, block_size]}."""
    from thunlp_repro.shared.corpora import domains, pack_corpus

    out = {}
    for dom in domains(corpus):
        budget = None if max_tokens is None else max(block_size, max_tokens // len(domains(corpus)))
        out[dom] = pack_corpus(dom, tokenizer, block_size, split, seed, budget, packing="concat")
    return out


def causal_pool(cfg: Any, tokenizer: Any) -> Any:
    """The GPT arm's fixed training pool: `gpt.pool_blocks` blocks (default S x batch) drawn once
    from the training split with the holdout seed; each run shuffles it with its own seed."""
    import torch

    from thunlp_repro.shared.corpora import CORPORA, sample_blocks

    parts = load_causal_blocks(cfg.data.corpus, tokenizer, cfg.data.block_size, "train",
                               cfg.data.holdout_seed, cfg.data.max_train_tokens)  # fmt: skip
    blocks = _rows(parts)
    want = cfg.gpt.pool_blocks or cfg.train.max_steps * cfg.train.global_batch_size
    if blocks.shape[0] == 0:
        raise UsageError(f"corpus {cfg.data.corpus} gave no training block of "
                         f"{cfg.data.block_size} tokens")  # fmt: skip
    if blocks.shape[0] < want:
        logger.warning("GPT pool: only %d training blocks for the %d asked; runs will repeat them",
                       blocks.shape[0], want)  # fmt: skip
    if CORPORA.get(cfg.data.corpus).source != "hub":
        return sample_blocks(blocks, want, seed=cfg.data.holdout_seed)
    if want >= blocks.shape[0]:
        return blocks  # all of a memory-mapped split (§3.7): no RAM copy; runs shuffle it anyway
    # the rows sample_blocks would draw, as a view: a paper-scale pool stays on disk
    g = torch.Generator().manual_seed(cfg.data.holdout_seed)
    rows = torch.randperm(blocks.shape[0], generator=g)[:want]
    return BlockRows(blocks.parts if isinstance(blocks, BlockRows) else [blocks], rows)


def causal_validation(cfg: Any, tokenizer: Any) -> dict[str, Any]:
    """`data.val_blocks` validation blocks per domain, drawn once with seed 0: {domain: [n, S]}."""
    from thunlp_repro.shared.corpora import sample_blocks

    blocks = load_causal_blocks(cfg.data.corpus, tokenizer, cfg.data.block_size, "validation",
                                cfg.data.holdout_seed, None)  # fmt: skip
    out = {}
    for dom, b in blocks.items():
        if b.shape[0] == 0:
            raise UsageError(f"corpus {cfg.data.corpus}: domain {dom} has no validation block")
        out[dom] = sample_blocks(b, cfg.data.val_blocks, seed=VAL_SEED)
    return out


def check_sequences(cfg: Any, tokenizer: Any) -> Any:
    """The held-out sequences of the top-k check (ki.md §4.8): `gpt.check_sequences` validation
    blocks drawn with `gpt.check_seed`, LongTensor [n, S]."""
    from thunlp_repro.shared.corpora import sample_blocks

    blocks = load_causal_blocks(cfg.data.corpus, tokenizer, cfg.data.block_size, "validation",
                                cfg.data.holdout_seed, None)  # fmt: skip
    return sample_blocks(_rows(blocks), cfg.gpt.check_sequences, seed=cfg.gpt.check_seed)


def prepare_corpora(cfg: Any) -> list[str]:
    """Build (or find) every corpus cache a run of `cfg` reads, in this one process.

    Run it before `accelerate launch` at paper scale: a hub cache takes hours to stream, and
    otherwise rank 0 builds it while the other ranks wait on its lock. Returns a line per split.
    """
    tok = load_tokenizer(cfg.data.tokenizer)
    load = load_causal_blocks if cfg.objective == "causal" else load_blocks
    lines = []
    wanted = [(cfg.data.corpus, "train"), (cfg.data.corpus, "validation")]
    wanted += [(extra, "validation") for extra in cfg.data.extra_val]  # scored, never trained on
    for corpus, split in wanted:
        cap = cfg.data.max_train_tokens if split == "train" else None
        parts = load(corpus, tok, cfg.data.block_size, split, cfg.data.holdout_seed, cap)
        sizes = ", ".join(f"{dom} {int(b.shape[0]):,}" for dom, b in parts.items())
        lines.append(f"{corpus} {split}: {sizes} blocks of {cfg.data.block_size} tokens")
    return lines
