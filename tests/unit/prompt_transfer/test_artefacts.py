"""Prompt artefacts (prompt_transfer.md §2.5): bit-exact export/reload with metadata, corrupt
and truncated files, and the backbone/width check."""

from __future__ import annotations

import json

import pytest
import torch

from thunlp_repro.prompt_transfer.artefacts import (
    META_FILE,
    PROMPT_FILE,
    check_compatible,
    content_key,
    load_prompt,
    save_prompt,
    tensor_sha256,
)
from thunlp_repro.shared.errors import UsageError

META = {"backbone": "minilm-l6", "backbone_sha256": "b" * 64, "head": "restored",
        "head_sha256": "h" * 64, "task": "sent-movie", "seed": 1, "config_hash": "c0ffee",
        "tokenizer": "tok1"}  # fmt: skip


def test_export_reload_is_bit_exact_with_metadata(tmp_path):
    p = torch.randn(20, 384, generator=torch.Generator().manual_seed(0)) * 1e-3
    p[0, 0] = float.fromhex("0x1.fffffep-127")  # a subnormal-ish value survives exactly
    path = save_prompt(torch.nn.Parameter(p.clone()), tmp_path / "export", META)
    assert path.name == PROMPT_FILE
    back, meta = load_prompt(tmp_path / "export")
    assert back.dtype == torch.float32 and torch.equal(back, p)
    assert back.numpy().tobytes() == p.numpy().tobytes()
    for k, v in META.items():
        assert meta[k] == v
    assert meta["length"] == 20 and meta["width"] == 384
    side = json.loads((tmp_path / "export" / META_FILE).read_text())
    assert side["seed"] == 1 and len(side["prompt_sha256"]) == 64
    # the content key is the tensor's: re-saving the reloaded prompt gives the same key
    assert side["prompt_sha256"] == tensor_sha256(p)
    save_prompt(back, tmp_path / "again", META)
    again = json.loads((tmp_path / "again" / META_FILE).read_text())
    assert again["prompt_sha256"] == side["prompt_sha256"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing", "no-meta"])
def test_corrupt_truncated_or_incomplete_files_are_usage_errors(tmp_path, damage):
    path = save_prompt(torch.zeros(3, 4), tmp_path, META)
    blob = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(blob[: len(blob) - 7])
    elif damage == "garbage":
        path.write_bytes(b"\x00" * 5)
    elif damage == "missing":
        path.unlink()
    else:
        from safetensors.torch import save_file

        save_file({"prompt": torch.zeros(3, 4)}, str(path), metadata={"task": '"x"'})
    with pytest.raises(UsageError, match="prompt file") as exc:
        load_prompt(path)
    assert "\n" not in str(exc.value)


def test_check_compatible():
    info = {**META, "width": 384}
    meta = {**META, "width": 384, "length": 20}
    check_compatible(meta, info)
    other = {**info, "backbone": "minilm-l3", "backbone_sha256": "x" * 64}
    with pytest.raises(UsageError, match="--projector"):
        check_compatible(meta, other)
    check_compatible(meta, other, allow_identity=True)  # same width and tokenizer
    wide = {**other, "width": 768, "tokenizer": "tok2"}
    with pytest.raises(UsageError, match="width 384.*width 768"):
        check_compatible(meta, wide, allow_identity=True)
    check_compatible(meta, wide, projector=True)


def test_content_key_is_order_independent():
    assert content_key({"a": 1, "b": [1, 2]}) == content_key({"b": [1, 2], "a": 1})
    assert content_key({"a": 1}) != content_key({"a": 2})
