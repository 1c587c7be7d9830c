"""The head's maths on the tiny model: tied decoder, shapes, masking, state cache, training.

Reproduces the invariants of prompt_transfer.md §2.6: z = E · LN(GELU(W h + b)) + β with E the
frozen input embeddings; 15% of non-special tokens, always the mask token; loss only at masked
positions; one fixed masking draw.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.mlm_head import HEAD_KEYS
from thunlp_repro.shared.mlm_head_data import IGNORE, MaskedStates, collect_states, mask_blocks
from thunlp_repro.shared.mlm_head_recipe import (
    MLMHead,
    evaluate_head,
    init_head,
    most_frequent_token,
    tied_logits,
    train_head,
)


def _mask(tok, blocks, seed=0, rate=0.15):
    gen = torch.Generator().manual_seed(seed)
    return mask_blocks(
        blocks, mask_id=tok.mask_token_id, special_ids=tok.all_special_ids, rate=rate, generator=gen
    )


def test_decoder_is_tied_to_the_embedding_tensor(tiny):
    model, _ = tiny
    head = init_head(model, seed=0)
    emb = model.get_input_embeddings().weight
    assert head.decoder.weight is emb
    assert head.decoder.weight.data_ptr() == emb.data_ptr()
    assert all(p is not emb for p in head.trainable_parameters())
    assert set(head.head_state_dict()) == set(HEAD_KEYS)
    with torch.no_grad():
        emb[3].add_(1.0)  # an edit of E shows in the decoder: it is the same tensor
    assert torch.equal(head.decoder.weight[3], emb[3])


def test_output_is_vocab_logits_and_matches_the_formula(tiny):
    model, tok = tiny
    head = init_head(model, seed=0)
    with torch.no_grad():
        head.bias.normal_()
    h = torch.randn(5, 7, model.config.hidden_size)
    z = head(h)
    assert z.shape == (5, 7, len(tok)) == (5, 7, model.config.vocab_size)
    emb = model.get_input_embeddings().weight
    t = F.layer_norm(
        F.gelu(h @ head.dense.weight.t() + head.dense.bias),
        (h.shape[-1],),
        head.layer_norm.weight,
        head.layer_norm.bias,
        eps=model.config.layer_norm_eps,
    )
    torch.testing.assert_close(z, t @ emb.t() + head.bias)
    torch.testing.assert_close(tied_logits(emb, h), h @ emb.t())


def test_init_is_seeded(tiny):
    model, _ = tiny
    a, b, c = init_head(model, 0), init_head(model, 0), init_head(model, 1)
    assert torch.equal(a.dense.weight, b.dense.weight)
    assert not torch.equal(a.dense.weight, c.dense.weight)
    assert torch.count_nonzero(a.bias) == 0


def test_masking_rate_always_mask_never_special(tiny, blocks):
    _, tok = tiny
    inputs, labels = _mask(tok, blocks)
    masked = labels != IGNORE
    # 15% of the 22 non-special tokens of each row, rounded: 3 per row.
    assert masked.sum(1).tolist() == [round(0.15 * 22)] * blocks.shape[0]
    assert (inputs[masked] == tok.mask_token_id).all()  # always [MASK], no 80/10/10
    assert torch.equal(labels[masked], blocks[masked])
    assert torch.equal(inputs[~masked], blocks[~masked])
    specials = torch.isin(blocks, torch.tensor(tok.all_special_ids))
    assert not (masked & specials).any()
    assert not masked[:, 0].any() and not masked[:, -1].any()


def test_masking_skips_padding_and_masks_at_least_one(tiny):
    _, tok = tiny
    row = [tok.cls_token_id, 10, 11, 12, tok.sep_token_id] + [tok.pad_token_id] * 5
    inputs, labels = _mask(tok, torch.tensor([row]))
    masked = labels != IGNORE
    assert int(masked.sum()) == 1 and masked[0, 1:4].any()


def test_masking_draw_is_deterministic(tiny, blocks):
    _, tok = tiny
    a, b, c = _mask(tok, blocks, seed=0), _mask(tok, blocks, seed=0), _mask(tok, blocks, seed=1)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


def test_masking_rejects_bad_shape(tiny):
    _, tok = tiny
    with pytest.raises(UsageError):
        _mask(tok, torch.tensor([1, 2, 3]))


def test_states_are_the_masked_positions_only(tiny, blocks):
    model, tok = tiny
    inputs, labels = _mask(tok, blocks)
    cache = collect_states(model, inputs, labels, batch_size=3, dtype=torch.float32)
    masked = labels != IGNORE
    assert len(cache) == int(masked.sum())
    assert torch.equal(cache.targets, blocks[masked])
    with torch.no_grad():
        full = model(input_ids=inputs, attention_mask=torch.ones_like(inputs)).last_hidden_state
    torch.testing.assert_close(cache.states, full[masked])
    half = collect_states(model, inputs, labels, batch_size=8)
    assert half.states.dtype == torch.float16  # the spec's fp16 cache


def test_loss_is_taken_only_at_masked_positions(tiny, blocks):
    """The cache holds masked positions only, so unmasked tokens cannot change the loss."""
    model, tok = tiny
    inputs, labels = _mask(tok, blocks)
    cache = collect_states(model, inputs, labels, dtype=torch.float32)
    head = init_head(model, 0)
    with torch.no_grad():
        loss = F.cross_entropy(head(cache.states), cache.targets)
        full = model(input_ids=inputs).last_hidden_state
        ref = F.cross_entropy(
            head(full).flatten(0, 1), labels.flatten(), ignore_index=IGNORE
        )  # the usual MLM loss with -100 outside the masks
    torch.testing.assert_close(loss, ref)


def _toy_states(n=512, dim=32, vocab=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    targets = torch.randint(0, vocab, (n,), generator=g)
    centres = torch.randn(vocab, dim, generator=g) * 3
    states = centres[targets] + 0.3 * torch.randn(n, dim, generator=g)
    return MaskedStates(states.half(), targets)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_training_learns_and_is_deterministic(tiny, dtype):
    model, _ = tiny
    data = _toy_states()
    runs = []
    for _ in range(2):
        head = init_head(model, 0)
        hist = train_head(head, data, epochs=3, batch_size=64, lr=1e-2, seed=0, matmul_dtype=dtype)
        runs.append(head.head_state_dict())
        assert hist[-1]["loss"] < hist[0]["loss"]
    for key in HEAD_KEYS:
        assert torch.equal(runs[0][key], runs[1][key])
    emb = model.get_input_embeddings().weight
    assert emb.requires_grad is False and emb.grad is None  # E untouched
    metrics = evaluate_head(head, data, most_frequent=most_frequent_token(data, head.vocab_size))
    assert metrics["head_top1"] > metrics["most_frequent_top1"]
    assert metrics["n_eval"] == len(data)


def test_training_leaves_the_embeddings_unchanged(tiny):
    model, _ = tiny
    emb = model.get_input_embeddings().weight
    before = emb.detach().clone()
    emb.requires_grad_(True)  # even if the caller left E trainable
    head = init_head(model, 0)
    train_head(head, _toy_states(n=128), epochs=1, batch_size=32, seed=0)
    assert torch.equal(emb, before) and emb.requires_grad is True


def test_head_state_round_trip(tiny):
    model, _ = tiny
    a, b = init_head(model, 0), init_head(model, 1)
    with torch.no_grad():
        a.bias.normal_()
    b.load_head_state_dict(a.head_state_dict())
    for key in HEAD_KEYS:
        assert torch.equal(a.get_parameter(key), b.get_parameter(key))
    with pytest.raises(UsageError):
        b.load_head_state_dict({"bias": a.bias})


def test_mlm_head_class_shapes():
    emb = torch.nn.Embedding(11, 8)
    head = MLMHead(emb, layer_norm_eps=1e-5)
    assert head.vocab_size == 11 and head.layer_norm.eps == 1e-5
    assert head(torch.randn(3, 8)).shape == (3, 11)
