"""Trainable-only exports: PET weights, soft prompts, heads as safetensors plus JSON metadata.

A reload must be bit-exact (conventions.md §1.3: peft #2256/#2043 lost or changed prompts).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WEIGHTS = "trainable.safetensors"
META = "meta.json"


def trainable_state(model: Any) -> dict[str, Any]:
    """Name -> detached CPU tensor for every parameter that requires grad."""
    return {
        name: p.detach().to("cpu").contiguous()
        for name, p in model.named_parameters()
        if p.requires_grad
    }


def export_trainable(model: Any, out_dir: Path, meta: dict[str, Any] | None = None) -> Path:
    """Save the trainable parameters and `meta.json` into `out_dir` (created)."""
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = trainable_state(model)
    tmp = out_dir / f".{WEIGHTS}.tmp"
    save_file(state, str(tmp))
    tmp.replace(out_dir / WEIGHTS)
    info = {"parameters": {k: list(v.shape) for k, v in state.items()}, **(meta or {})}
    (out_dir / META).write_text(json.dumps(info, indent=2, sort_keys=True, default=str) + "\n")
    return out_dir / WEIGHTS


def load_trainable(model: Any, out_dir: Path) -> list[str]:
    """Load an export into `model` in place; returns the loaded names.

    Raises:
        ValueError: the export names a parameter the model lacks, or a shape differs.
    """
    import torch
    from safetensors.torch import load_file

    state = load_file(str(Path(out_dir) / WEIGHTS))
    params = dict(model.named_parameters())
    unknown = sorted(set(state) - set(params))
    if unknown:
        raise ValueError(f"export holds parameters the model lacks: {', '.join(unknown[:5])}")
    with torch.no_grad():
        for name, tensor in state.items():
            if params[name].shape != tensor.shape:
                raise ValueError(
                    f"shape of {name}: export {tuple(tensor.shape)} vs model "
                    f"{tuple(params[name].shape)}"
                )
            params[name].copy_(tensor.to(params[name].device, params[name].dtype))
    return sorted(state)
