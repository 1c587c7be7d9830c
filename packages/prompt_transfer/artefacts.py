"""Prompt artefacts: `prompt.safetensors` + `meta.json`, content keys, and checked loading.

Reproduces: prompt_transfer.md §2.5 ("Artefacts", "Loading a prompt") and conventions.md §2.6
(trainable-only exports reload bit-exactly). A prompt is an n × d float32 tensor; its metadata
names the backbone and head (with hashes), task, seed, length, init, mask slot, positions and
the config hash, and is embedded in the safetensors header as well as written beside it. Every
stage output is keyed by `content_key` of what determines it, so a rerun finds finished work.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.io import atomic_write_bytes, atomic_write_json

PROMPT_FILE = "prompt.safetensors"
META_FILE = "meta.json"
PROMPT_KEY = "prompt"
#: Metadata a prompt must carry to be loaded anywhere (§2.5).
REQUIRED_META = (
    "backbone",
    "backbone_sha256",
    "head",
    "head_sha256",
    "task",
    "seed",
    "length",
    "width",
    "config_hash",
)


def content_key(obj: Any, size: int = 16) -> str:
    """sha256 of the canonical JSON of `obj` (sorted keys), shortened to `size` hex digits."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:size]


def tensor_sha256(tensor: Any) -> str:
    """sha256 of a prompt's float32 C-order bytes: its content key (same as the matrix's)."""
    import torch

    t = tensor.detach().to("cpu", torch.float32).contiguous()
    return hashlib.sha256(t.numpy().tobytes()).hexdigest()


def save_prompt(prompt: Any, out_dir: str | Path, meta: dict[str, Any]) -> Path:
    """Write `prompt.safetensors` (n × d float32, metadata in the header) and `meta.json`.

    Both files are written atomically; `meta.json` also records `prompt_sha256`, the sha256 of
    the tensor's float32 bytes (`tensor_sha256`; the safetensors header's key order is not
    fixed, so the file bytes are not a content key).

    Returns:
        The prompt file.
    """
    import torch
    from safetensors.torch import save

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensor = prompt.detach().to("cpu", torch.float32).contiguous().clone()
    meta = {**meta, "length": int(tensor.shape[0]), "width": int(tensor.shape[1])}
    header = {k: json.dumps(v) for k, v in sorted(meta.items())}
    blob = save({PROMPT_KEY: tensor}, metadata=header)
    path = atomic_write_bytes(out / PROMPT_FILE, blob)
    atomic_write_json(out / META_FILE, {**meta, "prompt_sha256": tensor_sha256(tensor)})
    return path


def load_prompt(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Read a prompt file (or its folder) and its metadata.

    Raises:
        UsageError: missing, truncated or corrupt file, or metadata lacking a required key.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    p = Path(path)
    if p.is_dir():
        p = p / PROMPT_FILE
    if not p.is_file():
        raise UsageError(f"prompt file {p} does not exist")
    blob = p.read_bytes()
    try:
        tensors = load(blob)
        header_len = int.from_bytes(blob[:8], "little")
        header = json.loads(blob[8 : 8 + header_len]).get("__metadata__", {})
        meta = {k: json.loads(v) for k, v in header.items()}
    except (SafetensorError, ValueError, OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"prompt file {p} is corrupt or truncated ({exc}); retrain or re-export it"
        ) from None
    if PROMPT_KEY not in tensors or tensors[PROMPT_KEY].ndim != 2:
        raise UsageError(f"prompt file {p} holds no 2-D '{PROMPT_KEY}' tensor")
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise UsageError(f"prompt file {p} lacks metadata {', '.join(missing)}")
    return tensors[PROMPT_KEY], meta


def check_compatible(
    meta: dict[str, Any],
    backbone: dict[str, Any],
    *,
    allow_identity: bool = False,
    projector: bool = False,
    source: str = "prompt",
) -> None:
    """A prompt loads into a backbone only with the same weights and head, else needs a projector.

    `allow_identity` admits another backbone of the same width and tokenizer (L6 ↔ L3, §2.9);
    `projector` admits anything (the projector maps it).

    Raises:
        UsageError: one line naming both sides.
    """
    if projector:
        return
    same = (
        meta["backbone_sha256"] == backbone["backbone_sha256"]
        and meta["head_sha256"] == backbone["head_sha256"]
    )
    if same:
        return
    if (
        allow_identity
        and meta["width"] == backbone["width"]
        and meta.get("tokenizer") == backbone.get("tokenizer")
    ):
        return
    raise UsageError(
        f"{source} was trained on backbone {meta['backbone']} (width {meta['width']}, head "
        f"{meta['head']}), not {backbone['backbone']} (width {backbone['width']}, head "
        f"{backbone['head']}); pass --projector to map it (or --allow-identity for the same "
        "width and tokenizer)"
    )
