"""Cache an fp32 `save_pretrained` copy of a GGUF decoder (SmolLM2-135M-Instruct).

Reproduces: offline-assets.md §2.4. `save_pretrained` refuses a GGUF-loaded model ("quantized with
gguf and is not serializable"), so: load with `gguf_file=` (dequantises to fp32), delete
`quantization_config` from the config, build a fresh model with `from_config`, copy the state dict
(all keys match), and `save_pretrained` it together with the tokenizer. The copy is then reloaded
and its logits compared with the GGUF-loaded model's, so a broken cache never gets installed.

The weights carry the Q4 rounding noise of the GGUF file; reports must say so.
`torch` and `transformers` (and `gguf`, `accelerate`) are imported inside the functions only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thunlp_repro.shared.assets.errors import AssetBuildError, AssetIntegrityError
from thunlp_repro.shared.assets.quiet import quiet_progress_bars

RELOAD_TOLERANCE = 1e-5
CHECK_PROMPT = "The capital of France is"


def gguf_to_pretrained(folder: Path, gguf_name: str, out_dir: Path) -> dict[str, Any]:
    """Write an fp32 `save_pretrained` copy (model + tokenizer) of `folder/gguf_name` to `out_dir`.

    Args:
        folder: Folder holding the GGUF file.
        gguf_name: GGUF file name inside `folder`.
        out_dir: Destination folder (created).

    Returns:
        Facts for the manifest: architecture, parameter count, reload max abs diff.

    Raises:
        AssetBuildError: The fresh model's keys do not match the GGUF-loaded state dict.
        AssetIntegrityError: The saved copy does not reproduce the GGUF-loaded logits.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with quiet_progress_bars():
        loaded = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=gguf_name, dtype=torch.float32
        )
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_name)
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        result = fresh.load_state_dict(loaded.state_dict(), strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise AssetBuildError(
                f"GGUF state dict does not match {type(fresh).__name__}: "
                f"missing {result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]}"
            )
        if loaded.generation_config is not None:
            fresh.generation_config = loaded.generation_config
        fresh.eval()
        ids = tokenizer(CHECK_PROMPT, return_tensors="pt")
        with torch.no_grad():
            reference = loaded(**ids).logits
        architecture = type(fresh).__name__
        num_parameters = sum(p.numel() for p in fresh.parameters())
        out_dir.mkdir(parents=True, exist_ok=True)
        fresh.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
        del loaded, fresh

        reloaded = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32).eval()
        with torch.no_grad():
            diff = float((reloaded(**ids).logits - reference).abs().max())
    if not diff <= RELOAD_TOLERANCE:
        raise AssetIntegrityError(
            f"fp32 copy of {gguf_name} does not reproduce its logits: max abs diff {diff:.3g}"
        )
    return {
        "architecture": architecture,
        "num_parameters": num_parameters,
        "dtype": "float32",
        "reload_max_abs_diff": diff,
        "note": "dequantised from the GGUF file: weights carry its quantisation noise",
    }
