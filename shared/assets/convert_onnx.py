"""Convert the ONNX export of paraphrase-MiniLM-L3-v2 into a PyTorch `BertModel` folder.

Reproduces: offline-assets.md §2.2. The graph's 53 initialisers are read with `onnx.numpy_helper`:
the embedding, bias and LayerNorm tensors keep their PyTorch names under `model.0.auto_model.`;
the 18 anonymous `onnx::MatMul_<n>` weights are named by following each `MatMul` to the `Add` that
adds a named bias, and stored transposed (ONNX keeps in x out, `nn.Linear` keeps out x in). The
model is built without a pooler (the graph has none), loaded strictly, saved with
`save_pretrained`, and checked against onnxruntime (fail above 1e-5 max abs difference).

`onnx`, `onnxruntime`, `torch` and `transformers` are imported inside the functions only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thunlp_repro.shared.assets.errors import AssetBuildError, AssetIntegrityError
from thunlp_repro.shared.assets.quiet import quiet_progress_bars

if TYPE_CHECKING:
    import numpy as np

ONNX_PREFIX = "model.0.auto_model."
PARITY_TOLERANCE = 1e-5
PARITY_SENTENCES = (
    "A man is playing a guitar.",
    "The stock market fell sharply after the announcement of new tariffs.",
    "Write a function that returns the factorial of n.",
    "ok",
)


def onnx_bert_state_dict(model: Any, prefix: str = ONNX_PREFIX) -> dict[str, np.ndarray]:
    """PyTorch `BertModel` state dict (numpy arrays) from a sentence-transformers ONNX graph.

    Args:
        model: An `onnx.ModelProto`.
        prefix: Prefix of the named initialisers, stripped from the keys.

    Returns:
        {parameter name: array}, linear weights already transposed to out x in.

    Raises:
        AssetBuildError: An anonymous matrix whose consumer chain is not MatMul -> Add(bias).
    """
    from onnx import numpy_helper

    graph = model.graph
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    state: dict[str, np.ndarray] = {}
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        if init.name.startswith(prefix):
            state[init.name[len(prefix) :]] = array
            continue
        matmuls = [n for n in consumers.get(init.name, []) if n.op_type == "MatMul"]
        if len(matmuls) != 1:
            raise AssetBuildError(f"ONNX initialiser {init.name}: expected one MatMul consumer")
        product = matmuls[0].output[0]
        adds = [n for n in consumers.get(product, []) if n.op_type == "Add"]
        if len(adds) != 1:
            raise AssetBuildError(f"ONNX initialiser {init.name}: MatMul output has no single Add")
        bias = [name for name in adds[0].input if name != product]
        if len(bias) != 1 or not (bias[0].startswith(prefix) and bias[0].endswith(".bias")):
            raise AssetBuildError(f"ONNX initialiser {init.name}: Add has no named bias input")
        weight_name = bias[0][len(prefix) : -len(".bias")] + ".weight"
        state[weight_name] = array.T.copy()
    return state


def num_layers(state: dict[str, Any]) -> int:
    """Number of encoder layers present in a BERT state dict."""
    layers = {int(m.group(1)) for k in state if (m := re.match(r"encoder\.layer\.(\d+)\.", k))}
    return max(layers) + 1 if layers else 0


def build_bert(state: dict[str, np.ndarray], config_dir: Path) -> Any:
    """A pooler-less `BertModel` with `state` loaded strictly.

    Args:
        state: From `onnx_bert_state_dict`.
        config_dir: Folder with a BERT `config.json` of the same family (MiniLM-L6's); only the
            layer count is changed.

    Returns:
        The model, in eval mode.

    Raises:
        AssetBuildError: Missing or unexpected keys.
    """
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig.from_pretrained(config_dir, num_hidden_layers=num_layers(state))
    model = BertModel(config, add_pooling_layer=False)
    tensors = {k: torch.from_numpy(v.copy()) for k, v in state.items()}
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise AssetBuildError(f"ONNX weights do not fit BertModel: {exc}") from exc
    return model.eval()


def parity_max_abs_diff(
    model: Any,
    tokenizer: Any,
    onnx_bytes: bytes,
    sentences: tuple[str, ...] = PARITY_SENTENCES,
) -> float:
    """Max |PyTorch - onnxruntime| over the token states of the non-padding positions.

    Args:
        model: The converted `BertModel`.
        tokenizer: Its tokenizer.
        onnx_bytes: The serialised ONNX model.
        sentences: Inputs (different lengths, so padding is exercised).

    Returns:
        The maximum absolute difference of the last hidden states.
    """
    import numpy as np
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    hidden = model.config.hidden_size
    token_outputs = [
        o.name for o in session.get_outputs() if len(o.shape) == 3 and o.shape[-1] == hidden
    ]
    if len(token_outputs) != 1:
        raise AssetBuildError(f"ONNX graph: expected one token-state output, got {token_outputs}")
    enc = tokenizer(list(sentences), padding=True, return_tensors="np")
    feed = {i.name: enc[i.name].astype(np.int64) for i in session.get_inputs() if i.name in enc}
    (reference,) = session.run(token_outputs, feed)
    with torch.no_grad():
        ours = model(
            input_ids=torch.from_numpy(enc["input_ids"].astype(np.int64)),
            attention_mask=torch.from_numpy(enc["attention_mask"].astype(np.int64)),
        ).last_hidden_state.numpy()
    mask = enc["attention_mask"].astype(bool)
    return float(np.abs(ours[mask] - reference[mask]).max())


def convert_minilm_onnx(
    onnx_bytes: bytes,
    config_dir: Path,
    out_dir: Path,
    *,
    tolerance: float = PARITY_TOLERANCE,
) -> dict[str, Any]:
    """ONNX bytes -> `save_pretrained` folder in `out_dir`, checked against onnxruntime.

    The tokenizer files must already be in `out_dir` (they are MiniLM-L6's, copied as is).

    Args:
        onnx_bytes: The serialised ONNX model.
        config_dir: Folder holding MiniLM-L6's `config.json`.
        out_dir: Destination; receives `config.json` and `model.safetensors`.
        tolerance: Maximum allowed absolute difference to onnxruntime.

    Returns:
        Facts for the manifest: layers, parameters, parity max abs diff and tolerance.

    Raises:
        AssetIntegrityError: Parity error above `tolerance`.
    """
    import onnx
    from transformers import AutoTokenizer

    state = onnx_bert_state_dict(onnx.load_from_string(onnx_bytes))
    model = build_bert(state, config_dir)
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    diff = parity_max_abs_diff(model, tokenizer, onnx_bytes)
    if not diff <= tolerance:
        raise AssetIntegrityError(
            f"ONNX conversion parity check failed: max abs diff {diff:.3g} > {tolerance:g}"
        )
    with quiet_progress_bars():
        model.save_pretrained(out_dir)
    return {
        "num_hidden_layers": model.config.num_hidden_layers,
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "parity_max_abs_diff": diff,
        "parity_tolerance": tolerance,
        "onnx_initializers": len(state),
    }
