"""Architecture presets of the model ladders (ki.md §3.1 paper, §4.4 mini ladder, §4.10 smoke).

Each id names a BERT-style post-LN masked LM (`BertForMaskedLM`, tied decoder, GELU) at mini and
smoke scale, or a RoBERTa encoder (`RobertaForMaskedLM`) at paper scale. `build_mlm` instantiates
one from its config with the tokenizer's vocabulary and special ids, randomly initialised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thunlp_repro.shared.registry import Registry


@dataclass(frozen=True)
class Arch:
    """One architecture: family, layers x hidden (FFN, heads) and positions."""

    family: str  # "bert" | "roberta" | "llama"
    layers: int
    hidden: int
    ffn: int
    heads: int
    positions: int = 128
    kv_heads: int | None = None
    rope_theta: float = 10000.0  # llama only

    @property
    def shape(self) -> str:
        return f"{self.layers}x{self.hidden}"


ARCHS: Registry[Arch] = Registry("ki arch")

_MINI = {
    # id: (layers, hidden, ffn, heads); ki.md §4.4
    "t-2x64": (2, 64, 256, 2),
    "t-1x128": (1, 128, 512, 2),
    "t-2x128": (2, 128, 512, 2),
    "t-4x96": (4, 96, 384, 2),
    "t-4x128": (4, 128, 512, 2),
    "t-2x192": (2, 192, 768, 3),
    "s-4x256": (4, 256, 1024, 4),
    "s-6x384": (6, 384, 1536, 12),
    # smoke (ki.md §4.10)
    "t-1x32": (1, 32, 128, 2),
    "s-2x64": (2, 64, 256, 2),
}
for _k, (_l, _h, _f, _n) in _MINI.items():
    ARCHS.add(_k, Arch("bert", _l, _h, _f, _n, positions=128))

_PAPER = {
    # ki.md §3.1 (fork's registered archs)
    "roberta_base": (12, 768, 3072, 12),
    "roberta_base_plus": (18, 864, 3600, 12),
    "roberta_medium": (6, 768, 3072, 12),
    "roberta_large": (24, 1024, 4096, 16),
    "roberta_4layer": (4, 768, 3072, 12),
    "roberta_8layer": (8, 768, 3072, 12),
    "roberta_9layer": (9, 768, 3072, 12),
    "roberta_10layer": (10, 768, 3072, 12),
    "roberta_embed_dim_192": (12, 192, 3072, 12),
    "roberta_embed_dim_384": (12, 384, 3072, 12),
    "roberta_embed_dim_576": (12, 576, 3072, 12),
    "roberta_9_576": (9, 576, 3072, 12),
}
for _k, (_l, _h, _f, _n) in _PAPER.items():
    ARCHS.add(_k, Arch("roberta", _l, _h, _f, _n, positions=514))

# GPT-style arm (ki.md §4.8, §4.10)
ARCHS.add("llama-4x256", Arch("llama", 4, 256, 688, 4, positions=128, kv_heads=2))
ARCHS.add("llama-1x64", Arch("llama", 1, 64, 128, 2, positions=128, kv_heads=1))
ARCHS.add("llama-1x32", Arch("llama", 1, 32, 64, 2, positions=128, kv_heads=1))
# ki.md §3.7 paper-scale student: the shape of HuggingFaceTB/SmolLM2-360M (32 x 960, FFN 2560, 15
# heads / 5 KV heads, 8192 positions, RoPE theta 100,000, tied embeddings)
ARCHS.add(
    "llama-32x960",
    Arch("llama", 32, 960, 2560, 15, positions=8192, kv_heads=5, rope_theta=100000.0),
)


def arch_config(arch_id: str, tokenizer: Any, dropout: float = 0.1) -> Any:
    """A transformers config for `arch_id` sized to `tokenizer` (vocabulary and special ids)."""
    a = ARCHS.get(arch_id)
    vocab = len(tokenizer)
    if a.family == "bert":
        from transformers import BertConfig

        return BertConfig(
            vocab_size=vocab, hidden_size=a.hidden, num_hidden_layers=a.layers,
            num_attention_heads=a.heads, intermediate_size=a.ffn, hidden_act="gelu",
            max_position_embeddings=a.positions, pad_token_id=tokenizer.pad_token_id,
            hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
            tie_word_embeddings=True,
        )  # fmt: skip
    if a.family == "roberta":
        from transformers import RobertaConfig

        return RobertaConfig(
            vocab_size=vocab, hidden_size=a.hidden, num_hidden_layers=a.layers,
            num_attention_heads=a.heads, intermediate_size=a.ffn,
            max_position_embeddings=a.positions, pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
            type_vocab_size=1, layer_norm_eps=1e-5,
        )  # fmt: skip
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab, hidden_size=a.hidden, num_hidden_layers=a.layers,
        num_attention_heads=a.heads, num_key_value_heads=a.kv_heads or a.heads,
        intermediate_size=a.ffn, max_position_embeddings=a.positions,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True, rope_theta=a.rope_theta,
    )  # fmt: skip


def build_mlm(arch_id: str, tokenizer: Any, dropout: float = 0.1) -> Any:
    """A randomly initialised masked LM (or causal LM for llama archs) of `arch_id`."""
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    config = arch_config(arch_id, tokenizer, dropout)
    auto = AutoModelForCausalLM if ARCHS.get(arch_id).family == "llama" else AutoModelForMaskedLM
    return auto.from_config(config)


def param_counts(model: Any) -> dict[str, int]:
    """Total and non-embedding parameters (non-emb keeps the MLM head transform and output bias;
    ki.md §4.4). Tied decoder weights are counted once."""
    seen: set[int] = set()
    total = emb = 0
    for name, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        if "embeddings" in name or "embed_tokens" in name or name.endswith("lm_head.weight"):
            emb += p.numel()
    return {"total": total, "non_embedding": total - emb}
