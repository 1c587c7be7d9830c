"""The GPT arm's teacher cache: top-k teacher logits per next-token position (ki.md §4.8).

For every block of the fixed training pool and every next-token position i (0 .. S-2) the cache
holds the teacher's top-k ids K_i (uint16 while V <= 65,536, else int32), their logits (fp16) and
the fp32 full-vocabulary normaliser A_i = logsumexp(z_i / τ). From these `topk_kl` rebuilds
p_v = exp(z_v/τ − A_i) on K_i and the exact tail mass r_i = 1 − Σ_{K_i} p_v, so the KD term needs
no live teacher. At k = 128 that is 516 bytes per position.

Key: the teacher's identity, the tokenizer fingerprint, the pool fingerprint, k, τ, V, the
positions per block and the format version, hashed into the folder name under
`home()/ki-topk/<digest>/` (`meta.json`, `ids.npy`, `logits.npy`, `lse.npy`).

Writing is resumable and never half-visible: the arrays fill a `.partial-<digest>/` folder of
memory-mapped `.npy` files chunk by chunk, each chunk followed by an atomic `progress.json`; a
restarted fill continues after the last recorded chunk; the finished folder is renamed into place
in one step, so a reader finds either a complete cache or none. An flock keeps two processes from
filling the same key at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.io import atomic_write_json

logger = logging.getLogger(__name__)

FORMAT = 1
UINT16_LIMIT = 65_536


@dataclass(frozen=True)
class CacheKey:
    """Everything the cached numbers depend on."""

    teacher: str  # `teacher_identity`
    tokenizer: str  # shared.corpora.tokenizer_fingerprint
    pool: str  # `pool_fingerprint`
    k: int
    tau: float
    vocab: int
    positions: int  # next-token positions per block (S − 1)
    format: int = FORMAT

    def digest(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


def cache_root() -> Path:
    from thunlp_repro.shared.paths import home

    return home() / "ki-topk"


def pool_fingerprint(blocks: Any) -> str:
    """sha256 of the pool's token ids (int32) and shape: same blocks, same order, same key.

    Hashed a chunk of rows at a time, so a paper-scale pool (a memory-mapped split or a
    `BlockRows` view of one) is never copied whole into RAM.
    """
    import torch

    n, width = int(blocks.shape[0]), int(blocks.shape[1])
    h = hashlib.sha256(json.dumps([n, width]).encode())
    for start in range(0, n, 4096):
        chunk = blocks[start : start + 4096].to(dtype=torch.int32).contiguous()
        h.update(chunk.numpy().tobytes())
    return h.hexdigest()


def teacher_identity(name: str) -> str:
    """A teacher's identity without loading it: asset file hashes, a folder's weight hash, or the
    `random:<arch>` id with the transformers version that initialises it."""
    import transformers

    from thunlp_repro.shared.assets import ASSETS, asset_path, is_installed, read_manifest

    if name.startswith("random:"):
        return f"{name}|transformers-{transformers.__version__}"
    if name in ASSETS and is_installed(name):
        files = read_manifest(asset_path(name)).get("files", [])
        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        return f"asset:{name}|{digest}"
    from thunlp_repro.ki.hooks import resolve_checkpoint

    where = Path(resolve_checkpoint(name))
    if not where.is_dir():
        return f"hub:{name}"  # paper scale: a hub id (its revision is the hub's business)
    h = hashlib.sha256()
    for f in sorted(where.glob("*.safetensors")) + [where / "config.json"]:
        with open(f, "rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(1 << 22), b""):
                h.update(chunk)
    return f"folder:{where.resolve()}|{h.hexdigest()}"


def id_dtype(vocab: int) -> Any:
    import numpy as np

    return np.uint16 if vocab <= UINT16_LIMIT else np.int32


@dataclass
class TopkBatch:
    """Cached entries of some pool blocks, as torch tensors ready for `topk_kl`."""

    ids: Any  # int64 [B, P, k]
    logits: Any  # fp32 [B, P, k] (stored fp16)
    lse: Any  # fp32 [B, P]


class TopkCache:
    """A finished cache folder, memory-mapped for reading."""

    def __init__(self, path: Path) -> None:
        import numpy as np

        self.path = Path(path)
        meta_file = self.path / "meta.json"
        if not meta_file.is_file():
            raise UsageError(f"{self.path}: not a finished top-k cache (no meta.json)")
        self.meta: dict[str, Any] = json.loads(meta_file.read_text())
        self.ids = np.load(self.path / "ids.npy", mmap_mode="r")
        self.logits = np.load(self.path / "logits.npy", mmap_mode="r")
        self.lse = np.load(self.path / "lse.npy", mmap_mode="r")

    @property
    def key(self) -> CacheKey:
        return CacheKey(**self.meta["key"])

    @property
    def k(self) -> int:
        return int(self.ids.shape[-1])

    @property
    def n_blocks(self) -> int:
        return int(self.ids.shape[0])

    def nbytes(self) -> int:
        return int(self.ids.nbytes + self.logits.nbytes + self.lse.nbytes)

    def lookup(self, idx: Any) -> TopkBatch:
        """The entries of pool blocks `idx` (a sequence or 1-D tensor of pool indices)."""
        import numpy as np
        import torch

        rows = np.asarray(idx.tolist() if hasattr(idx, "tolist") else list(idx), dtype=np.int64)
        return TopkBatch(
            ids=torch.from_numpy(self.ids[rows].astype(np.int64)),
            logits=torch.from_numpy(self.logits[rows].astype(np.float32)),
            lse=torch.from_numpy(np.array(self.lse[rows], dtype=np.float32)),
        )


# ------------------------------------------------------------------------------ filling
def teacher_entries(teacher: Any, blocks: Any, k: int, tau: float, vocab: int) -> tuple:
    """Top-k ids, their logits and A = logsumexp(z/τ) at every next-token position of `blocks`
    ([B, S] on the teacher's device); logits are sliced to the tokenizer's width first."""
    import torch

    from thunlp_repro.ki.inheritance import teacher_topk

    with torch.no_grad():
        z = teacher(input_ids=blocks).logits[:, :-1, :vocab]
        return teacher_topk(z, k, tau)


def fill_cache(
    key: CacheKey,
    teacher: Any,
    pool: Any,
    batch_size: int = 8,
    root: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    extra_meta: dict[str, Any] | None = None,
) -> TopkCache:
    """Compute the cache of `key` for `pool` ([N, S]) with `teacher`, resuming a partial fill.

    `extra_meta` is stored in `meta.json` beside the key (e.g. the teacher's shape for FLOPs).

    Returns:
        The finished `TopkCache`.
    """
    import numpy as np
    from numpy.lib.format import open_memmap

    root = Path(root) if root is not None else cache_root()
    final = root / key.digest()
    n, positions = int(pool.shape[0]), int(pool.shape[1]) - 1
    if positions != key.positions or key.k > key.vocab:
        raise UsageError(
            f"top-k cache: the key wants k={key.k} <= V={key.vocab} and "
            f"{key.positions} positions per block; the pool has {positions}"
        )
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{key.digest()}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be filling the same key
        if (final / "meta.json").is_file():
            return TopkCache(final)
        part = root / f".partial-{key.digest()}"
        done = _resume_point(part, key, n)
        mode = "r+" if done > 0 else "w+"
        if done == 0:
            shutil.rmtree(part, ignore_errors=True)
            part.mkdir(parents=True)
        shapes = {"ids": ((n, positions, key.k), id_dtype(key.vocab)),
                  "logits": ((n, positions, key.k), np.float16),
                  "lse": ((n, positions), np.float32)}  # fmt: skip
        arrays = {
            name: open_memmap(part / f"{name}.npy", mode=mode, dtype=dt, shape=shape)
            for name, (shape, dt) in shapes.items()
        }
        device = next(teacher.parameters()).device
        t0, elapsed = time.perf_counter(), _elapsed(part)
        for start in range(done, n, batch_size):
            stop = min(start + batch_size, n)
            ids, vals, lse = teacher_entries(teacher, pool[start:stop].to(device), key.k,
                                             key.tau, key.vocab)  # fmt: skip
            arrays["ids"][start:stop] = ids.cpu().numpy().astype(arrays["ids"].dtype)
            arrays["logits"][start:stop] = vals.cpu().numpy().astype(np.float16)
            arrays["lse"][start:stop] = lse.cpu().numpy().astype(np.float32)
            for a in arrays.values():
                a.flush()
            spent = elapsed + time.perf_counter() - t0
            atomic_write_json(part / "progress.json", {"key": asdict(key), "done": stop,
                                                       "seconds": spent})  # fmt: skip
            if progress is not None:
                progress(stop, n)
        del arrays
        seconds = elapsed + time.perf_counter() - t0
        meta = {
            "key": asdict(key),
            "blocks": n,
            "positions": positions,
            "k": key.k,
            "fill_seconds": round(seconds, 3),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **(extra_meta or {}),
        }
        atomic_write_json(part / "meta.json", meta)
        (part / "progress.json").unlink(missing_ok=True)
        os.replace(part, final)
        logger.info("top-k cache %s: %d blocks x %d positions, k=%d, in %.1f s", final, n,
                    positions, key.k, seconds)  # fmt: skip
        return TopkCache(final)


def _resume_point(part: Path, key: CacheKey, n: int) -> int:
    """Blocks already written by an interrupted fill of the same key (0: start afresh)."""
    prog = part / "progress.json"
    if not prog.is_file():
        return 0
    try:
        state = json.loads(prog.read_text())
    except (OSError, json.JSONDecodeError):
        return 0
    if state.get("key") != asdict(key) or not all(
        (part / f"{a}.npy").is_file() for a in ("ids", "logits", "lse")
    ):
        return 0
    done = int(state.get("done", 0))
    if 0 < done < n:
        logger.info("top-k cache: resuming an interrupted fill at block %d of %d", done, n)
    return min(max(done, 0), n)


def _elapsed(part: Path) -> float:
    try:
        return float(json.loads((part / "progress.json").read_text()).get("seconds", 0.0))
    except (OSError, json.JSONDecodeError, ValueError):
        return 0.0


def find_cache(key: CacheKey, root: Path | None = None) -> TopkCache | None:
    """The finished cache of `key`, or None."""
    final = (Path(root) if root is not None else cache_root()) / key.digest()
    return TopkCache(final) if (final / "meta.json").is_file() else None


def ensure_cache(
    key: CacheKey,
    load_teacher: Callable[[], Any],
    pool: Any,
    batch_size: int = 8,
    root: Path | None = None,
    describe: Callable[[Any], dict[str, Any]] | None = None,
) -> TopkCache:
    """The cache of `key`, filled first (teacher loaded only then) when it does not exist;
    `describe(teacher)` adds entries to its `meta.json`."""
    hit = find_cache(key, root)
    if hit is not None:
        return hit
    teacher = load_teacher()
    logger.info("filling the top-k teacher cache (%d blocks, k=%d, tau=%g)", pool.shape[0],
                key.k, key.tau)  # fmt: skip
    extra = describe(teacher) if describe is not None else None
    return fill_cache(key, teacher, pool, batch_size, root, extra_meta=extra)
