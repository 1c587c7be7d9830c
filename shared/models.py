"""One entry point from a model name to (model, tokenizer) with the head asked for.

A name resolves, in order, to: a tiny model built from a config (`tiny-bert`, `tiny-llama`; for
tests, no files), an offline asset (`minilm-l6`, ...; installed by `thunlp-repro assets`), a
local folder, or a Hugging Face hub id (paper scale; needs the hub). Heads: `encoder` (bare),
`masked-lm`, `causal-lm`, and `sequence-classification`, which is our own linear head on
mean-pooled (encoders) or last-token (decoders) states: sentence-embedding checkpoints carry a
BERT pooler their objective never trained (MiniLM-L6) or none at all (MiniLM-L3), so we do not
classify through it (offline-assets.md §2.2, pitfall).
"""

from __future__ import annotations

import logging
import os
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.registry import Registry, did_you_mean

logger = logging.getLogger(__name__)

HEADS = ("encoder", "masked-lm", "causal-lm", "sequence-classification")

# Hub ids the papers use, so they resolve by their short name too (a name with '/' always does).
HUB_MODELS: Registry[str] = Registry("hub model")
for _id in (
    "bert-base-uncased", "bert-large-uncased", "roberta-base", "roberta-large", "t5-small",
    "t5-base", "t5-large", "google/t5-v1_1-base", "google/t5-v1_1-large", "gpt2",
    "sentence-transformers/all-MiniLM-L6-v2", "HuggingFaceTB/SmolLM2-135M-Instruct",
    "Qwen/Qwen2.5-Coder-1.5B-Instruct",
):  # fmt: skip
    HUB_MODELS.add(_id, _id)

# Model zoos that pipelines train (e.g. KI's teachers and students): name prefix -> lazy
# "module:function" returning the checkpoint folder (it raises with the build command if absent).
MODEL_ZOOS: Registry[Any] = Registry("model zoo")
MODEL_ZOOS.add("ki-mini-", "thunlp_repro.ki.zoo:zoo_path")

TINY_MODELS: Registry[dict[str, Any]] = Registry("tiny model")
TINY_MODELS.add("tiny-bert", {"family": "bert", "hidden": 32, "layers": 2, "heads": 2})
TINY_MODELS.add("tiny-llama", {"family": "llama", "hidden": 32, "layers": 2, "heads": 4})


@dataclass(frozen=True)
class ModelSource:
    """Where a model name points: kind is 'tiny', 'asset', 'local' or 'hub'."""

    name: str
    kind: str
    location: str


def known_model_names() -> list[str]:
    """Every name `load_model` resolves without a path or a slash."""
    from thunlp_repro.shared.assets import ASSETS

    assets = [k for k in ASSETS.keys() if ASSETS.get(k).kind == "model"]
    return sorted({*TINY_MODELS.keys(), *assets, *HUB_MODELS.keys()})


def resolve_model(name: str) -> ModelSource:
    """Resolve a model name (see the module docstring for the order).

    Raises:
        UsageError: the name is none of those; the message lists the known names.
        AssetMissingError: an asset that is not installed yet (names the install command).
    """
    if name in TINY_MODELS:
        return ModelSource(name, "tiny", name)
    for prefix in MODEL_ZOOS.keys():
        if name.startswith(prefix):
            return ModelSource(name, "local", str(MODEL_ZOOS.get(prefix)(name)))
    from thunlp_repro.shared.assets import ASSETS, model_dir

    if name in ASSETS and ASSETS.get(name).kind == "model":
        return ModelSource(name, "asset", str(model_dir(name)))
    if Path(name).expanduser().is_dir():
        return ModelSource(name, "local", str(Path(name).expanduser()))
    if name in HUB_MODELS or "/" in name:
        return ModelSource(name, "hub", HUB_MODELS.get(name) if name in HUB_MODELS else name)
    known = known_model_names()
    raise UsageError(
        f"unknown model '{name}'{did_you_mean(name, known)}; known: {', '.join(known)} "
        "(or a local folder, or a hub id like org/name)"
    )


# ------------------------------------------------------------------------------ tiny models
def tiny_tokenizer() -> Any:
    """A character-level WordPiece tokenizer built in memory (no files, fully deterministic)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab_list = specials + chars + [f"##{c}" for c in chars]
    vocab = {tok: i for i, tok in enumerate(vocab_list)}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=64))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )


def _tiny_config(name: str, vocab_size: int, pad_id: int) -> Any:
    spec = TINY_MODELS.get(name)
    h, n, heads = spec["hidden"], spec["layers"], spec["heads"]
    if spec["family"] == "bert":
        from transformers import BertConfig

        return BertConfig(
            vocab_size=vocab_size, hidden_size=h, num_hidden_layers=n, num_attention_heads=heads,
            intermediate_size=2 * h, max_position_embeddings=128, pad_token_id=pad_id,
        )  # fmt: skip
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size, hidden_size=h, num_hidden_layers=n, num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2), intermediate_size=2 * h,
        max_position_embeddings=128, pad_token_id=pad_id, tie_word_embeddings=True,
    )  # fmt: skip


# ------------------------------------------------------------------------------ heads
class PooledClassifier(nn.Module):
    """Linear classifier on pooled hidden states of any backbone.

    Encoders pool by the attention-masked mean, decoders by the last non-padding token.
    `forward` returns a transformers `SequenceClassifierOutput` (loss when labels are given).
    """

    def __init__(self, backbone: nn.Module, num_labels: int, pooling: str, dropout: float = 0.1):
        super().__init__()
        self.backbone = backbone
        self.config = backbone.config
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(backbone.config.hidden_size, num_labels)
        self.num_labels = num_labels

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        if attention_mask is None:
            attention_mask = torch.ones(hidden.shape[:2], device=hidden.device, dtype=torch.long)
        if self.pooling == "last":
            last = attention_mask.long().sum(dim=1).clamp(min=1) - 1
            return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> Any:
        from transformers.modeling_outputs import SequenceClassifierOutput

        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        logits = self.classifier(self.dropout(self.pool(out.last_hidden_state, attention_mask)))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.float(), labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)


def _is_decoder(config: Any) -> bool:
    return bool(getattr(config, "is_decoder", False)) or config.model_type in {
        "llama", "qwen2", "gpt2", "mistral", "gemma3", "gemma3_text", "smollm3",
    }  # fmt: skip


_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def load_model(
    name: str,
    head: str = "encoder",
    *,
    num_labels: int = 2,
    dtype: str = "float32",
    revision: str | None = None,
) -> tuple[nn.Module, Any]:
    """Load a model and its tokenizer with the head asked for.

    Args:
        name: A tiny-* name, an offline asset id, a local folder or a hub id.
        head: One of `encoder`, `masked-lm`, `causal-lm`, `sequence-classification`.
        num_labels: Classes of a `sequence-classification` head.
        dtype: Weights dtype.
        revision: Hub revision (hub ids only).

    Returns:
        (model, tokenizer).

    Raises:
        UsageError: unknown name or head, or a hub id while offline.
    """
    from transformers import (
        AutoConfig,
        AutoModel,
        AutoModelForCausalLM,
        AutoModelForMaskedLM,
        AutoTokenizer,
    )

    if head not in HEADS:
        raise UsageError(f"unknown head '{head}'{did_you_mean(head, list(HEADS))}; "
                         f"known: {', '.join(HEADS)}")  # fmt: skip
    source = resolve_model(name)
    torch_dtype = _DTYPES[dtype]
    auto = {
        "encoder": AutoModel,
        "masked-lm": AutoModelForMaskedLM,
        "causal-lm": AutoModelForCausalLM,
        "sequence-classification": AutoModel,
    }[head]
    if source.kind == "tiny":
        tokenizer = tiny_tokenizer()
        config = _tiny_config(name, len(tokenizer), tokenizer.pad_token_id)
        if head == "sequence-classification" and config.model_type == "llama":
            backbone = AutoModel.from_config(config)
        else:
            backbone = auto.from_config(config)
        backbone = backbone.to(torch_dtype)
    else:
        if source.kind == "hub" and os.environ.get("HF_HUB_OFFLINE") == "1":
            logger.info("HF_HUB_OFFLINE=1: loading %s from the local hub cache only", name)
        kwargs: dict[str, Any] = {"dtype": torch_dtype}
        if revision and source.kind == "hub":
            kwargs["revision"] = revision
        try:
            tokenizer = AutoTokenizer.from_pretrained(source.location, revision=revision)
            backbone = auto.from_pretrained(source.location, **kwargs)
        except OSError as exc:
            hint = " (HF_HUB_OFFLINE=1 is set)" if os.environ.get("HF_HUB_OFFLINE") == "1" else ""
            raise UsageError(f"cannot load model '{name}' from {source.location}{hint}: "
                             f"{str(exc).splitlines()[0]}") from exc  # fmt: skip
        if head == "masked-lm" and source.kind == "asset" and not name.endswith("-mlm"):
            config = AutoConfig.from_pretrained(source.location)
            logger.warning(
                "%s (%s) is a sentence-embedding checkpoint without a trained MLM head; "
                "use %s-mlm after `thunlp-repro assets mlm-head %s`",
                name, config.model_type, name, name,
            )  # fmt: skip
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if head == "sequence-classification":
        pooling = "last" if _is_decoder(backbone.config) else "mean"
        model = PooledClassifier(backbone, num_labels, pooling).to(torch_dtype)
        return model, tokenizer
    return backbone, tokenizer
