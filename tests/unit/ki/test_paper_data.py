"""KI's data layer on hub corpora (ki.md §3.2, §3.7), offline: `data.corpus` takes a hub name,
training blocks obey the token budget and stay memory-mapped, validation comes from the held-out
documents, and the GPT arm's pool and validation read `concat` blocks."""

from __future__ import annotations

import pytest
import torch

from thunlp_repro.ki.data import (
    causal_pool,
    causal_validation,
    load_blocks,
    train_blocks,
    validation_set,
)
from thunlp_repro.ki.masking import MaskSpec
from thunlp_repro.ki.runs import make_cfg
from thunlp_repro.shared.corpora import pack_corpus

from ..corpora.hub_fakes import use_fake_hub


@pytest.fixture
def hub(monkeypatch, tmp_path):
    return use_fake_hub(monkeypatch, tmp_path)


@pytest.fixture
def tok():
    from thunlp_repro.shared.models import tiny_tokenizer

    return tiny_tokenizer()


def test_mlm_blocks_and_validation_from_a_hub_corpus(hub, tok):
    cfg = make_cfg("smoke", "", ["data.corpus=toy", "data.block_size=32",
                                 "data.max_train_tokens=640"])  # fmt: skip
    blocks = train_blocks(cfg, tok)
    assert blocks.shape == (20, 32) and blocks.dtype == torch.long  # 640 // 32
    assert (blocks[:, 0] == tok.cls_token_id).all() and (blocks[:, -1] == tok.sep_token_id).all()
    spec = MaskSpec.from_tokenizer(tok)
    val = validation_set("toy", tok, 32, 3, cfg.data.holdout_seed, spec)
    assert list(val.inputs) == ["toy"] and val.targets["toy"].shape == (3, 32)
    held = pack_corpus("toy", tok, 32, split="validation", packing="complete")  # held-out docs
    assert {tuple(r) for r in val.targets["toy"].tolist()} <= {tuple(r) for r in held.tolist()}
    mix = load_blocks("toy-mix", tok, 32, "train", 0, 32 * 8)
    assert {k: v.shape[0] for k, v in mix.items()} == {"toy": 4, "toy2": 4}


def test_gpt_arm_reads_concat_blocks_of_a_hub_corpus(hub, tok):
    cfg = make_cfg("smoke", "gpt", ["data.corpus=toy", "data.block_size=32",
                                    "data.max_train_tokens=1280", "gpt.pool_blocks=16",
                                    "data.val_blocks=2"])  # fmt: skip
    pool = causal_pool(cfg, tok)
    assert pool.shape == (16, 32) and tok.cls_token_id not in pool[0:16].flatten().tolist()
    # a pool smaller than a hub split is a row view of the memory-mapped cache, not a copy
    from thunlp_repro.ki.data import BlockRows
    from thunlp_repro.ki.topk_cache import pool_fingerprint
    from thunlp_repro.shared.corpora import sample_blocks

    drawn = sample_blocks(pack_corpus("toy", tok, 32, max_tokens=1280, packing="concat"), 16)
    assert isinstance(pool, BlockRows) and torch.equal(pool[0:16], drawn)
    assert all(torch.equal(pool[i], drawn[i]) for i in range(16))
    assert pool_fingerprint(pool) == pool_fingerprint(drawn)  # the cache key reads the view
    whole = make_cfg(
        "smoke",
        "gpt",
        [
            "data.corpus=toy",
            "data.block_size=32",
            "data.max_train_tokens=1280",
            "gpt.pool_blocks=40",
        ],
    )
    split = pack_corpus("toy", tok, 32, max_tokens=1280, packing="concat")
    assert torch.equal(causal_pool(whole, tok), split)  # all of it: the cache itself, unshuffled
    val = causal_validation(cfg, tok)
    assert list(val) == ["toy"] and val["toy"].shape == (2, 32)


@pytest.mark.parametrize(("exp", "corpus"), [("", "wb"), ("e6", "bio"), ("gpt", "fineweb-edu")])
def test_paper_experiments_resolve_their_hub_corpora(exp, corpus):
    cfg = make_cfg("paper", exp)
    assert cfg.data.corpus == corpus
    assert cfg.optim.warmup_steps < cfg.train.max_steps and cfg.stop_step() < cfg.train.max_steps
    if exp == "e6":  # forgetting is scored on the pre-training corpus
        assert cfg.data.extra_val == ["wb"]


def test_paper_gpt_student_has_smollm2_360m_shape():
    from thunlp_repro.ki.archs import arch_config
    from thunlp_repro.shared.models import tiny_tokenizer

    c = arch_config("llama-32x960", tiny_tokenizer())
    shape = (c.num_hidden_layers, c.hidden_size, c.intermediate_size, c.num_attention_heads,
             c.num_key_value_heads, c.max_position_embeddings)  # fmt: skip
    assert shape == (32, 960, 2560, 15, 5, 8192)
    assert c.rope_parameters["rope_theta"] == 100000.0 and c.tie_word_embeddings


def test_a_mixture_is_a_row_view_equal_to_the_concatenation(hub, tok):
    from thunlp_repro.ki.data import BlockRows

    cfg = make_cfg("smoke", "", ["data.corpus=toy-mix", "data.block_size=32",
                                 "data.max_train_tokens=256"])  # fmt: skip
    blocks = train_blocks(cfg, tok)
    parts = load_blocks("toy-mix", tok, 32, "train", cfg.data.holdout_seed, 256)
    whole = torch.cat(list(parts.values()))
    assert isinstance(blocks, BlockRows) and blocks.shape == tuple(whole.shape)
    assert all(torch.equal(blocks[i], whole[i]) for i in range(len(blocks)))
    idx = torch.tensor([5, 0, 7])
    assert torch.equal(blocks[idx], whole[idx])
    with pytest.raises(IndexError):
        blocks[len(blocks)]
