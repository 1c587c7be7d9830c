"""Paper-scale pre-training corpora streamed from the Hugging Face hub with `datasets`.

Reproduces: ki.md §3.2 (the five domains WB = `wikimedia/wikipedia` 20231101.en +
`bookcorpus/bookcorpus`, News, Reviews, BIO, CS by their `datasets` names; the roberta-base
tokenizer; each domain sampled to a token budget, default 3.4B; `complete`-style 512-token blocks;
a fixed 0.5% of documents held out for validation) and §3.7 (the GPT arm's
`HuggingFaceFW/fineweb-edu` `sample-10BT`, in 1,024-token `concat` blocks).

Usage (through `shared.corpora`, which dispatches every name registered here)::

    from thunlp_repro.shared.corpora import pack_corpus
    wb = pack_corpus("wb", roberta_tok, 512, packing="complete")        # memmap-backed LongTensor
    val = pack_corpus("wb", roberta_tok, 512, split="validation", packing="complete")

How a domain is built [ours]:

- **Stream.** Each source is opened with ``datasets.load_dataset(..., streaming=True)`` (revision
  pinned where set), its shards and a 10k-document buffer shuffled with a fixed seed, so the
  budget samples across the dataset, not its first shards. Rows are joined into documents
  (`group_rows` consecutive rows for sentence- or review-level datasets, whose rows are shorter
  than a block).
- **Hold-out.** A document is validation iff blake2b-64(text) / 2^64 < 0.005: fixed, seed-free,
  and identical documents always land on the same side. The train build skips held-out
  documents and vice versa, so the two splits are disjoint by construction.
- **Budget.** ``budget // block_size`` blocks per split (train: `max_tokens` or the corpus's
  `budget`; validation: its `val_budget`, since §3.3 needs only a fixed few hundred blocks), shared
  between sources by `share`. Streaming stops when a source has its blocks; a source that runs out
  first is recorded as ``exhausted`` (pubmed, arXiv and cc_news hold less than 3.4B tokens).
- **Packing.** As `shared.corpora.pack_documents`: ``complete`` = cls/bos + (block - 2) tokens of
  one document + sep/eos (RoBERTa's ``<s> … </s>``), never across documents, each document's tail
  dropped; ``concat`` = documents joined by sep/eos and cut into full blocks.

On-disk format: one folder per key under ``home()/corpora/hub/``, named
``<corpus>-<split>-<packing>-b<block>-t<budget>-<tokenizer fp[:12]>-<source sig[:8]>``, holding
``blocks.bin`` (raw little-endian int64, C order, shape ``[n, block]``: 8 bytes a token, so it is
memory-mapped straight into a LongTensor whose rows are views, shared between processes through
the page cache) and ``meta.json`` (the key, shape, per-source counts, `datasets` version). A build
writes ``.tmp-<key>-<pid>/`` and renames it into place, under an flock so DDP ranks build once; an
interrupted build removes its folder, so a cache is complete or absent. Importing this module
imports no torch, numpy or datasets.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from thunlp_repro.shared.errors import ReproError, UsageError
from thunlp_repro.shared.paths import home
from thunlp_repro.shared.registry import Registry

log = logging.getLogger(__name__)

#: Bump when streaming, hold-out or packing change: old caches are then never read.
HUB_FORMAT = 1
#: ki.md §3.2: "samples each domain to a token budget (default 3.4B, as in the repo)".
DEFAULT_BUDGET = 3_400_000_000
#: [ours] 2^21 held-out tokens per domain (4,096 blocks of 512): §3.3's validation needs 512.
VAL_BUDGET = 2**21
#: ki.md §3.2: "holds out a fixed 0.5% of documents for validation".
HOLDOUT = 0.005
SAMPLE_SEED = 0
DOC_BATCH = 256  # documents tokenised per call
SPLITS = ("train", "validation")
PACKINGS = ("concat", "complete")


@dataclass(frozen=True)
class HubSource:
    """One `datasets` source of a domain.

    Attributes:
        dataset: Hub id, e.g. ``"wikimedia/wikipedia"`` (named in every message).
        config: Its config, e.g. ``"20231101.en"``.
        splits: Hub splits read one after another.
        text_fields: Columns joined (blank line between) into a row's text.
        revision: Pinned revision (e.g. ``"refs/convert/parquet"`` for a script-era dataset).
        builder: A packaged builder (``"json"``) reading `data_files` instead of `dataset`'s
            loading script, which `datasets` >= 4 no longer runs.
        data_files: The hub files the builder reads (``hf://datasets/...``).
        group_rows: Consecutive rows joined (newline) into one document.
        share: This source's share of the domain's blocks.
        shuffle_buffer: Buffer of the seeded stream shuffle; 1 keeps row order (books).
    """

    dataset: str
    config: str | None = None
    splits: tuple[str, ...] = ("train",)
    text_fields: tuple[str, ...] = ("text",)
    revision: str | None = None
    builder: str | None = None
    data_files: str | None = None
    group_rows: int = 1
    share: float = 1.0
    shuffle_buffer: int = 10_000

    @property
    def label(self) -> str:
        return self.dataset + (f" ({self.config})" if self.config else "")


@dataclass(frozen=True)
class HubCorpus:
    """A registered hub corpus: a domain (with sources) or a mixture of domains (`members`)."""

    name: str
    description: str
    sources: tuple[HubSource, ...] = ()
    members: tuple[str, ...] = ()
    budget: int = DEFAULT_BUDGET
    val_budget: int = VAL_BUDGET
    holdout: float = HOLDOUT
    seed: int = SAMPLE_SEED
    notes: str = ""


HUB_CORPORA: Registry[HubCorpus] = Registry("hub corpus")


def _register(spec: HubCorpus) -> None:
    HUB_CORPORA.add(spec.name, spec, kind="mixture" if spec.members else "domain")


_AMAZON = "McAuley-Lab/Amazon-Reviews-2023"
_AMAZON_CATEGORIES = ("Books", "Electronics", "Home_and_Kitchen", "Clothing_Shoes_and_Jewelry")


def _amazon(category: str) -> HubSource:
    # the repo's loading script does not run in datasets >= 4: read its raw JSONL files instead
    return HubSource(
        _AMAZON, f"raw_review_{category}", text_fields=("title", "text"), builder="json",
        data_files=f"hf://datasets/{_AMAZON}/raw/review_categories/{category}.jsonl",
        group_rows=16, share=1 / len(_AMAZON_CATEGORIES),
    )  # fmt: skip


_register(HubCorpus(
    "wb", "ki.md §3.2 WB: English Wikipedia (20231101) 75% + BookCorpus 25% of the budget",
    sources=(
        HubSource("wikimedia/wikipedia", "20231101.en", share=0.75),
        HubSource("bookcorpus/bookcorpus", "plain_text", revision="refs/convert/parquet",
                  group_rows=256, share=0.25, shuffle_buffer=1),
    ),
    notes="BERT's ~2.5B : 0.8B word ratio; BookCorpus rows are sentences, 256 make a document",
))  # fmt: skip
_register(HubCorpus(
    "cc-news", "ki.md §3.2 News candidate: CC-News (708k articles, < 3.4B tokens)",
    sources=(HubSource("vblagoje/cc_news", "plain_text", text_fields=("title", "text")),),
))  # fmt: skip
_register(HubCorpus(
    "reviews", "ki.md §3.2 Reviews candidate: Amazon Reviews 2023, four large categories",
    sources=tuple(_amazon(c) for c in _AMAZON_CATEGORIES),
    notes="16 reviews (title + text) make a document; single reviews are shorter than a block",
))  # fmt: skip
_register(HubCorpus(
    "bio", "ki.md §3.2 BIO candidate: PubMed articles (ccdv/pubmed-summarization, all splits)",
    sources=(HubSource("ccdv/pubmed-summarization", "document",
                       ("train", "validation", "test"), ("article",)),),
))  # fmt: skip
_register(HubCorpus(
    "cs", "ki.md §3.2 CS candidate: arXiv articles (ccdv/arxiv-summarization, all splits)",
    sources=(HubSource("ccdv/arxiv-summarization", "document",
                       ("train", "validation", "test"), ("article",)),),
    notes="arXiv is wider than CS; the dataset has no category column to filter on",
))  # fmt: skip
_register(HubCorpus(
    "fineweb-edu", "ki.md §3.7 GPT arm: FineWeb-Edu sample-10BT",
    sources=(HubSource("HuggingFaceFW/fineweb-edu", "sample-10BT"),),
))  # fmt: skip
_register(HubCorpus(
    "paper-all", "ki.md §3.2 the release script's corpus_all reading: the five domains",
    members=("wb", "cc-news", "reviews", "bio", "cs"),
))  # fmt: skip


# ----------------------------------------------------------------------------- streaming


def _hub_error(spec: HubCorpus, src: HubSource, exc: BaseException) -> ReproError:
    flags = (os.environ.get(v, "").upper() for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
    offline = any(f in ("1", "ON", "YES", "TRUE") for f in flags)
    hint = " (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE is set; streaming needs the hub)"
    hint = hint if offline else ""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return ReproError(f"corpus '{spec.name}': cannot stream {src.label} from the Hugging Face "
                      f"hub{hint}: {type(exc).__name__}: {first}")  # fmt: skip


def _open(spec: HubCorpus, src: HubSource, split: str) -> Any:
    """The seeded, shuffled stream of one source split."""
    try:
        import datasets
    except ImportError as exc:
        raise ReproError(f"corpus '{spec.name}' streams {src.label} with `datasets`, which is "
                         "not installed (pip install datasets)") from exc  # fmt: skip
    kwargs: dict[str, Any] = {"split": split, "streaming": True}
    if src.revision:
        kwargs["revision"] = src.revision
    try:
        if src.builder:
            ds = datasets.load_dataset(src.builder, data_files=src.data_files, **kwargs)
        else:
            ds = datasets.load_dataset(src.dataset, src.config, **kwargs)
        if not isinstance(ds, datasets.IterableDataset):  # an in-memory Dataset (tests)
            ds = ds.to_iterable_dataset()
    except Exception as exc:  # offline, unknown id/config/split, no such revision
        raise _hub_error(spec, src, exc) from exc
    if src.shuffle_buffer > 1:
        ds = ds.shuffle(seed=spec.seed, buffer_size=src.shuffle_buffer)
    return ds


def _row_text(spec: HubCorpus, src: HubSource, row: dict[str, Any]) -> str:
    missing = [f for f in src.text_fields if f not in row]
    if missing:
        raise ReproError(f"corpus '{spec.name}': {src.label} has no column "
                         f"{', '.join(missing)}; columns: {', '.join(row)}")  # fmt: skip
    return "\n\n".join(str(row[f]).strip() for f in src.text_fields if row[f])


def documents(spec: HubCorpus, src: HubSource) -> Iterator[str]:
    """The source's documents in (seeded) stream order; rows grouped by `group_rows`."""
    for split in src.splits:
        it = iter(_open(spec, src, split))
        group: list[str] = []
        while True:
            try:
                row = next(it)
            except StopIteration:
                break
            except Exception as exc:  # a network or parquet error mid-stream
                raise _hub_error(spec, src, exc) from exc
            text = _row_text(spec, src, row)
            if not text:
                continue
            group.append(text)
            if len(group) >= src.group_rows:
                yield "\n".join(group)
                group = []
        if group:
            yield "\n".join(group)


def held_out(text: str, fraction: float = HOLDOUT) -> bool:
    """Whether a document is validation: a stable 64-bit hash of its text below `fraction`."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") < fraction * 2**64


# ----------------------------------------------------------------------------- packing


class _Packer:
    """Packs token lists into blocks and appends them to a raw int64 file, up to `limit`."""

    def __init__(self, fh: Any, tokenizer: Any, block_size: int, packing: str, limit: int):
        from thunlp_repro.shared.corpora import _special

        self.fh, self.block, self.packing, self.limit = fh, block_size, packing, limit
        self.sep = _special(tokenizer, "sep", "eos")
        self.cls = _special(tokenizer, "cls", "bos") if packing == "complete" else None
        self.carry: list[int] = []  # concat: tokens waiting for a full block
        self.blocks = self.tokens = self.kept = 0

    @property
    def full(self) -> bool:
        return self.blocks >= self.limit

    def add(self, docs_ids: list[list[int]]) -> None:
        import numpy as np

        rows = self._complete(docs_ids) if self.packing == "complete" else self._concat(docs_ids)
        rows = rows[: self.limit - self.blocks]
        if len(rows):
            self.fh.write(np.ascontiguousarray(rows, dtype="<i8").tobytes())
            self.blocks += len(rows)
            width = self.block - 2 if self.packing == "complete" else self.block
            self.kept += len(rows) * width - (0 if self.packing == "complete" else
                                              int((rows == self.sep).sum()))  # fmt: skip

    def _complete(self, docs_ids: list[list[int]]) -> Any:
        import numpy as np

        width, out = self.block - 2, []
        for ids in docs_ids:
            self.tokens += len(ids)
            n = len(ids) // width
            if n:
                body = np.asarray(ids[: n * width], dtype=np.int64).reshape(n, width)
                cls = np.full((n, 1), self.cls, dtype=np.int64)
                out.append(np.concatenate([cls, body, np.full((n, 1), self.sep)], axis=1))
        return np.concatenate(out) if out else np.zeros((0, self.block), dtype=np.int64)

    def _concat(self, docs_ids: list[list[int]]) -> Any:
        import numpy as np

        for ids in docs_ids:
            if ids:
                self.tokens += len(ids)
                self.carry.extend(ids)
                self.carry.append(self.sep)
        n = len(self.carry) // self.block
        rows = np.asarray(self.carry[: n * self.block], dtype=np.int64).reshape(n, self.block)
        self.carry = self.carry[n * self.block :]
        return rows


def _shares(spec: HubCorpus, n_blocks: int) -> list[int]:
    """Blocks per source: floor of each share, the remainder to the first sources."""
    total = sum(s.share for s in spec.sources)
    counts = [int(n_blocks * s.share / total) for s in spec.sources]
    for i in range(n_blocks - sum(counts)):
        counts[i % len(counts)] += 1
    return counts


def _build_source(
    spec: HubCorpus, src: HubSource, split: str, packer: _Packer, encode: Any
) -> dict[str, Any]:
    stats = {"source": src.label, "revision": src.revision, "documents": 0, "other_split": 0,
             "exhausted": True}  # fmt: skip
    batch: list[str] = []
    start = packer.blocks
    for doc in documents(spec, src):
        if held_out(doc, spec.holdout) != (split == "validation"):
            stats["other_split"] += 1
            continue
        batch.append(doc)
        stats["documents"] += 1
        if len(batch) >= DOC_BATCH:
            packer.add(encode(batch))
            batch = []
            if packer.full:
                stats["exhausted"] = False
                break
    if batch and not packer.full:
        packer.add(encode(batch))
        stats["exhausted"] = not packer.full
    stats["blocks"] = packer.blocks - start
    if stats["exhausted"]:
        log.warning("corpus %s: %s ran out after %d of %d %s blocks", spec.name, src.label,
                    stats["blocks"], packer.limit - start, split)  # fmt: skip
    return stats


def _encoder(tokenizer: Any) -> Any:
    """`shared.corpora._encode` with the tokenizer's plain backend copied once per build."""
    from thunlp_repro.shared.corpora import _encode, _plain_backend

    backend = _plain_backend(tokenizer)
    return lambda docs: _encode(docs, tokenizer, backend=backend)


def _write_build(
    spec: HubCorpus, tokenizer: Any, block_size: int, split: str, packing: str, n_blocks: int,
    tmp: Path,
) -> dict[str, Any]:  # fmt: skip
    encode = _encoder(tokenizer)
    sources, packers = [], []
    with open(tmp / "blocks.bin", "wb") as fh:
        for src, limit in zip(spec.sources, _shares(spec, n_blocks), strict=True):
            packer = _Packer(fh, tokenizer, block_size, packing, limit)
            if limit:
                sources.append(_build_source(spec, src, split, packer, encode))
            packers.append(packer)
            log.info("corpus %s %s: %s gave %d blocks", spec.name, split, src.label, packer.blocks)
        fh.flush()
        os.fsync(fh.fileno())
    tokens = sum(p.tokens for p in packers)
    return {
        "blocks": sum(p.blocks for p in packers),
        "tokens": tokens,
        "dropped_tokens": tokens - sum(p.kept for p in packers),
        "sources": sources,
    }


# ----------------------------------------------------------------------------- cache


def _signature(spec: HubCorpus) -> str:
    """Changes with the sources, hold-out or seed: a registry edit never reads an old cache."""
    body = {"format": HUB_FORMAT, "sources": [asdict(s) for s in spec.sources],
            "holdout": spec.holdout, "seed": spec.seed}  # fmt: skip
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class CacheKey:
    """Everything a cached build depends on."""

    corpus: str
    split: str
    packing: str
    block_size: int
    budget: int
    tokenizer: str
    signature: str
    format: int = HUB_FORMAT

    @property
    def folder(self) -> str:
        return (f"{self.corpus}-{self.split}-{self.packing}-b{self.block_size}-t{self.budget}-"
                f"{self.tokenizer[:12]}-{self.signature[:8]}")  # fmt: skip

    def fields(self) -> dict[str, Any]:
        return asdict(self)


def _load(final: Path, key: CacheKey) -> tuple[Any, dict[str, Any]] | None:
    """The memory-mapped blocks of a finished build, or None when it is absent or foreign."""
    import numpy as np
    import torch

    try:
        meta = json.loads((final / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("key") != key.fields():
        log.warning("hub corpus cache %s has another key; rebuilding", final.name)
        return None
    n, block = int(meta["blocks"]), key.block_size
    path = final / "blocks.bin"
    if not path.is_file() or path.stat().st_size != n * block * 8:
        log.warning("hub corpus cache %s is truncated; rebuilding", final.name)
        return None
    if n == 0:
        return torch.zeros((0, block), dtype=torch.long), meta
    # copy-on-write: a writable LongTensor view whose pages stay on disk until touched
    arr = np.memmap(path, dtype="<i8", mode="c", shape=(n, block))
    return torch.from_numpy(arr), meta


def _check(name: str, split: str, packing: str, block_size: int) -> HubCorpus:
    spec = HUB_CORPORA.get(name)
    if spec.members:
        raise UsageError(f"hub corpus '{name}' is a mixture of {', '.join(spec.members)}; "
                         "pack its domains")  # fmt: skip
    if split not in SPLITS:
        raise UsageError(f"unknown corpus split '{split}'; known: {', '.join(SPLITS)}")
    if packing not in PACKINGS:
        raise UsageError(f"unknown packing '{packing}'; known: {', '.join(PACKINGS)}")
    if block_size < (3 if packing == "complete" else 1):
        raise UsageError(f"block_size {block_size} is too small for packing '{packing}'")
    return spec


def pack_hub_domain(
    name: str,
    tokenizer: Any,
    block_size: int = 512,
    split: str = "train",
    budget: int | None = None,
    *,
    packing: str = "complete",
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Blocks of one hub domain split, built once and memory-mapped from the cache after.

    Args:
        name: A hub domain (`HUB_CORPORA`; not a mixture).
        tokenizer: A Hugging Face tokenizer (its fingerprint keys the cache).
        block_size: Tokens per block, special tokens included.
        split: ``"train"`` or ``"validation"`` (the held-out 0.5% of documents).
        budget: Token budget of the split (``budget // block_size`` blocks); None = the corpus's
            `budget` for train, its `val_budget` for validation.
        packing: ``"complete"`` or ``"concat"``.
        cache: Read and write the cache (False streams and packs into a temporary folder).
        cache_dir: Cache root; default ``home()/corpora/hub``.

    Returns:
        A LongTensor ``[n, block_size]`` (memory-mapped when cached) and the build's meta.

    Raises:
        RegistryKeyError: unknown corpus. UsageError: bad split, packing, block or budget.
        ReproError: `datasets` missing, the hub unreachable, or a source without its column.
    """
    from thunlp_repro.shared.corpora import tokenizer_fingerprint

    spec = _check(name, split, packing, block_size)
    if budget is None:
        budget = spec.budget if split == "train" else spec.val_budget
    if budget < block_size:
        raise UsageError(f"corpus '{name}': budget {budget} is less than one block of "
                         f"{block_size} tokens")  # fmt: skip
    key = CacheKey(name, split, packing, block_size, int(budget),
                   tokenizer_fingerprint(tokenizer), _signature(spec))  # fmt: skip
    root = Path(cache_dir) if cache_dir is not None else home() / "corpora" / "hub"
    root.mkdir(parents=True, exist_ok=True)
    final = root / key.folder
    if cache and (hit := _load(final, key)) is not None:
        return hit
    with open(root / f".{key.folder}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another rank may be building the same key
        if cache and (hit := _load(final, key)) is not None:
            return hit
        for stale in root.glob(f".tmp-{key.folder}-*"):  # left by a killed build
            shutil.rmtree(stale, ignore_errors=True)
        tmp = root / f".tmp-{key.folder}-{os.getpid()}"
        tmp.mkdir()
        try:
            meta = _build(spec, key, tokenizer, tmp)
            if not cache:
                return _read_uncached(tmp, key, meta)
            shutil.rmtree(final, ignore_errors=True)  # a foreign or truncated build
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # interrupted: no half cache
    hit = _load(final, key)
    assert hit is not None
    return hit


def _build(spec: HubCorpus, key: CacheKey, tokenizer: Any, tmp: Path) -> dict[str, Any]:
    log.info("corpus %s: building %s (%d tokens, %s, %d-token blocks) from the hub", spec.name,
             key.split, key.budget, key.packing, key.block_size)  # fmt: skip
    n_blocks = key.budget // key.block_size
    counts = _write_build(spec, tokenizer, key.block_size, key.split, key.packing, n_blocks, tmp)
    meta = {"key": key.fields(), **counts, "shape": [counts["blocks"], key.block_size],
            "dtype": "<i8", "domain": spec.name, "holdout": spec.holdout,
            "datasets_version": _datasets_version()}  # fmt: skip
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return meta


def _datasets_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("datasets")
    except PackageNotFoundError:
        return None


def _read_uncached(tmp: Path, key: CacheKey, meta: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    import numpy as np
    import torch

    raw = np.fromfile(tmp / "blocks.bin", dtype="<i8")
    return torch.from_numpy(raw.reshape(-1, key.block_size).copy()), meta
