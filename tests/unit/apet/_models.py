"""Tiny backbones for the APET tests: built from configs, no files."""

from __future__ import annotations

import torch


def tiny(family: str = "bert", layers: int = 2):
    """A tiny random backbone (eval mode, dropout off) and a fixed batch for it."""
    from transformers import AutoModel, BertConfig, BloomConfig, LlamaConfig, MPNetConfig, T5Config

    torch.manual_seed(0)
    common = {"vocab_size": 60, "hidden_size": 16}
    cfg = {
        "bert": lambda: BertConfig(num_hidden_layers=layers, num_attention_heads=2,
                                   intermediate_size=32, max_position_embeddings=40, **common),
        "llama": lambda: LlamaConfig(num_hidden_layers=layers, num_attention_heads=4,
                                     num_key_value_heads=2, intermediate_size=32, **common),
        "bloom": lambda: BloomConfig(n_layer=layers, n_head=2, **common),
        "t5": lambda: T5Config(num_layers=layers, d_model=16, d_kv=4, num_heads=2, d_ff=32,
                               vocab_size=60, feed_forward_proj="gated-gelu"),
        "mpnet": lambda: MPNetConfig(num_hidden_layers=layers, num_attention_heads=2,
                                     intermediate_size=32, **common),
    }[family]()  # fmt: skip
    model = AutoModel.from_config(cfg).eval()
    ids = torch.randint(1, 60, (2, 6), generator=torch.Generator().manual_seed(3))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if cfg.is_encoder_decoder:
        batch["decoder_input_ids"] = ids
    return model, batch


def hidden(model, batch):
    return model(**batch).last_hidden_state
