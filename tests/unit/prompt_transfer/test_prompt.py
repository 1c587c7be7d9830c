"""Soft-prompt module (prompt_transfer.md §2.2, §2.5, §6 tests): mask slot, zero positions,
label-word scoring and loss by hand, gradients only on the prompt, init options."""

from __future__ import annotations

import pytest
import torch

from thunlp_repro.prompt_transfer.prompt import (
    SoftPromptMLM,
    labels_prompt,
    random_prompt,
    uniform_prompt,
    verbalized_loss,
    vocab_prompt,
)
from thunlp_repro.shared.errors import UsageError

MASK = 3


def tiny_mlm(model_type: str = "bert"):
    from transformers import BertConfig, BertForMaskedLM, RobertaConfig, RobertaForMaskedLM

    torch.manual_seed(0)
    kw = dict(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
              intermediate_size=32, max_position_embeddings=64)  # fmt: skip
    if model_type == "roberta":
        m = RobertaForMaskedLM(RobertaConfig(**kw, pad_token_id=1, type_vocab_size=1))
    else:
        m = BertForMaskedLM(BertConfig(**kw))
    return m.eval()


def batch():
    ids = torch.tensor([[2, 10, 11, 12, 5], [2, 13, 14, 5, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    types = torch.tensor([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]])
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def hand_inputs(mlm, prompt, b, offset=0, mask_first=True):
    """`inputs_embeds` built by hand: [mask, p_1..p_n] - E_pos, then the text embeddings."""
    emb = mlm.get_input_embeddings().weight
    pos = mlm.base_model.embeddings.position_embeddings.weight
    n = prompt.shape[0]
    rows = [emb[MASK][None], prompt] if mask_first else [prompt, emb[MASK][None]]
    region = torch.cat(rows) - pos[offset : offset + n + 1]
    text = emb[b["input_ids"]]
    B, L = b["input_ids"].shape
    inputs = torch.cat([region[None].expand(B, -1, -1), text], 1)
    am = torch.cat([torch.ones(B, n + 1, dtype=torch.long), b["attention_mask"]], 1)
    pid = (torch.arange(n + 1 + L) + offset)[None].expand(B, -1)
    tt = torch.cat([torch.zeros(B, n + 1, dtype=torch.long), b["token_type_ids"]], 1)
    return inputs, am, pid, tt


def test_mask_slot_is_position_zero_with_the_frozen_mask_embedding():
    mlm = tiny_mlm()
    p = random_prompt(4, 16, 0.02, 0)
    model = SoftPromptMLM(mlm, p, MASK)
    out = model.embed(**batch())
    pos = mlm.base_model.embeddings.position_embeddings.weight
    emb = mlm.get_input_embeddings().weight
    assert model.mask_index == 0 and model.region == 5
    assert torch.equal(out["inputs_embeds"][0, 0], emb[MASK] - pos[0])
    after = SoftPromptMLM(mlm, p, MASK, mask_slot="after_prompt")
    assert after.mask_index == 4


@pytest.mark.parametrize("model_type", ["bert", "roberta"])
def test_zero_position_trick_equals_hand_built_embedding_sum(model_type):
    """The embedding layer's output at prompt slots is LN(row + type) with no position vector,
    and text tokens get the positions they would have after the region (§2.5)."""
    mlm = tiny_mlm(model_type)
    p = random_prompt(3, 16, 0.5, 1)
    model = SoftPromptMLM(mlm, p, MASK)
    b = batch()
    if model_type == "roberta":
        b.pop("token_type_ids")
    inputs = model.embed(**b)
    embl = mlm.base_model.embeddings
    got = embl(inputs_embeds=inputs["inputs_embeds"], position_ids=inputs["position_ids"],
               token_type_ids=inputs.get("token_type_ids"))  # fmt: skip
    offset = 2 if model_type == "roberta" else 0
    assert inputs["position_ids"][0, 0].item() == offset
    tok0 = embl.token_type_embeddings.weight[0]
    wemb = mlm.get_input_embeddings().weight
    region = torch.cat([wemb[MASK][None], p])
    want_region = embl.LayerNorm(region + tok0)
    torch.testing.assert_close(got[0, :4], want_region, atol=1e-5, rtol=1e-5)
    # text token j sits at absolute position offset + 4 + j
    pos = embl.position_embeddings.weight
    want_text = embl.LayerNorm(wemb[b["input_ids"][0, 0]] + pos[offset + 4] + tok0)
    torch.testing.assert_close(got[0, 4], want_text, atol=1e-5, rtol=1e-5)


def test_label_word_scores_and_loss_equal_a_hand_computation():
    mlm = tiny_mlm()
    p = random_prompt(4, 16, 0.3, 2)
    model = SoftPromptMLM(mlm, p, MASK)
    b = batch()
    label_ids = torch.tensor([7, 21, 9])
    scores = model(b, label_ids)
    inputs, am, pid, tt = hand_inputs(mlm, p, b)
    with torch.no_grad():
        h = mlm.bert(inputs_embeds=inputs, attention_mask=am, position_ids=pid,
                     token_type_ids=tt).last_hidden_state[:, 0]  # fmt: skip
        z = mlm.cls(h)
    want = z[:, [7, 21, 9]]
    torch.testing.assert_close(scores.detach(), want, atol=1e-5, rtol=1e-5)
    y = torch.tensor([2, 0])
    hand = -(torch.log_softmax(want, -1)[0, 2] + torch.log_softmax(want, -1)[1, 0])
    torch.testing.assert_close(verbalized_loss(scores, y).detach(), hand, atol=1e-5, rtol=1e-5)
    # a prompt passed explicitly scores like a prompt set into the parameter
    other = random_prompt(4, 16, 0.3, 9)
    direct = model(b, label_ids, other).detach()
    model.set_prompt(other)
    torch.testing.assert_close(model(b, label_ids).detach(), direct)


def test_tied_readout_is_embedding_dot_hidden():
    mlm = tiny_mlm()
    p = random_prompt(2, 16, 0.3, 3)
    model = SoftPromptMLM(mlm, p, MASK, head="tied")
    b = batch()
    h = model.mask_hidden(b)
    want = h @ mlm.get_input_embeddings().weight.t()
    torch.testing.assert_close(model.vocab_logits(b), want)


def test_only_the_prompt_receives_gradients():
    mlm = tiny_mlm()
    model = SoftPromptMLM(mlm, random_prompt(4, 16, 0.02, 0), MASK)
    loss = verbalized_loss(model(batch(), torch.tensor([7, 8])), torch.tensor([0, 1]))
    loss.backward()
    assert model.prompt.grad is not None and model.prompt.grad.abs().sum() > 0
    trainable = [n for n, q in model.named_parameters() if q.requires_grad]
    assert trainable == ["prompt"]
    assert all(q.grad is None for n, q in model.named_parameters() if n != "prompt")


def test_width_mismatch_needs_a_projector():
    with pytest.raises(UsageError, match="needs a projector"):
        SoftPromptMLM(tiny_mlm(), torch.zeros(4, 8), MASK)


def test_init_options():
    a, b = random_prompt(5, 7, 0.02, 1), random_prompt(5, 7, 0.02, 1)
    assert torch.equal(a, b) and abs(a.std().item() - 0.02) < 0.01
    u = uniform_prompt(5, 7, 0)
    assert u.min() >= 0 and u.max() < 1
    emb = torch.arange(40 * 3, dtype=torch.float32).view(40, 3)
    lab = labels_prompt(emb, [4, 9], 5)
    assert torch.equal(lab, emb[[4, 9, 4, 9, 4]])
    rows, ids = vocab_prompt(emb, [[5, 5, 6, 7, 0], [5, 6, 8]], 3, seed=0, top=3, exclude={0})
    assert sorted(ids) == [5, 6, 7]  # the 3 most frequent non-special tokens
    assert torch.equal(rows, emb[ids])  # exact copies of vocabulary rows (pitfall 15)
    with pytest.raises(UsageError, match="distinct training tokens"):
        vocab_prompt(emb, [[5]], 3, seed=0)
