"""Method registry behaviour (apet.md §2.2, §2.8 tests 3 and 5; issue #14 bad input)."""

from __future__ import annotations

import pytest
import torch

from tests.unit.apet._models import hidden, tiny
from thunlp_repro.apet.methods import METHODS, MethodSpec, apply_method
from thunlp_repro.shared.errors import UsageError


def test_methods_tuple_is_the_contract():
    assert METHODS == ("prompt", "prefix", "lora", "adapter", "bitfit", "ft",
                       "apet-element", "apet-tensor")  # fmt: skip


@pytest.mark.parametrize("spec,exact", [
    (MethodSpec("lora", options={"rank": 2}), True),
    (MethodSpec("bitfit"), True),
    (MethodSpec("apet-element", budget=50), True),
    (MethodSpec("apet-element", budget=50, impl="gradmask"), True),
    (MethodSpec("adapter", options={"bottleneck": 4}), False),
], ids=lambda x: getattr(x, "method", ""))  # fmt: skip
def test_zero_start_and_bit_identical_remove(spec, exact):
    model, batch = tiny()
    base = hidden(model, batch)
    state = {n: t.clone() for n, t in model.state_dict().items()}
    h = apply_method(model, spec)
    out = hidden(h.model, batch)
    if exact:
        assert torch.equal(out, base)
    else:  # N(0, 0.01) adapters are close to, not exactly, the identity
        assert (out - base).norm() / base.norm() < 1e-2
    h.remove()
    assert model.state_dict().keys() == state.keys()
    assert all(torch.equal(model.state_dict()[n], t) for n, t in state.items())
    assert torch.equal(hidden(model, batch), base)


@pytest.mark.parametrize("method,options", [("lora", {"rank": 2}), ("prefix", {"length": 4}),
                                            ("prompt", {"length": 4})])  # fmt: skip
def test_remove_leaves_no_peft_state_so_the_next_build_is_clean(method, options, recwarn):
    model, _ = tiny()
    for _ in range(2):  # one backbone serves many cells (§4.6 "reuse")
        apply_method(model, MethodSpec(method, options=options)).remove()
        assert "peft_config" not in vars(model)
    assert not [w for w in recwarn if "second time" in str(w.message)]


def test_prompt_output_is_realigned_and_works_inside_pooled_classifier():
    from thunlp_repro.shared.models import PooledClassifier

    model, batch = tiny()
    clf = PooledClassifier(model, num_labels=3, pooling="mean").eval()
    head_flags = [p.requires_grad for p in clf.classifier.parameters()]
    h = apply_method(clf, MethodSpec("prompt", options={"length": 4}))
    assert h.model is clf and h.virtual_tokens == 4
    logits = h.model(**batch).logits
    assert logits.shape == (2, 3)
    assert [p.requires_grad for p in clf.classifier.parameters()] == head_flags
    std = h.trainable_parameters()[0].std().item()
    assert 0.05 < std < 0.2  # re-initialised N(0, 0.1), not PEFT's N(0, 1)
    h.remove()
    assert clf.backbone is model
    bare = apply_method(model, MethodSpec("prompt", options={"length": 4}))
    assert bare.model(**batch).last_hidden_state.shape[:2] == batch["input_ids"].shape
    bare.remove()


def test_build_is_seeded_and_leaves_global_rng_alone():
    model, _ = tiny()
    torch.manual_seed(123)
    expect = torch.rand(1)
    torch.manual_seed(123)
    h1 = apply_method(model, MethodSpec("lora", seed=5, options={"rank": 2}))
    a = {n: p.detach().clone() for n, p in h1.named_trainable().items()}
    assert torch.equal(torch.rand(1), expect)
    h1.remove()
    h2 = apply_method(model, MethodSpec("lora", seed=5, options={"rank": 2}))
    assert all(torch.equal(a[n], p) for n, p in h2.named_trainable().items())
    h2.remove()


BAD = [
    ("bert", MethodSpec("dora"), "dora"),
    ("bert", MethodSpec("apet-element", budget=10, pool="heads"), "heads"),
    ("bert", MethodSpec("apet-element", budget=10**9), "1,000,000,000"),
    ("bert", MethodSpec("apet-element", budget=0), "budget=0"),
    ("bert", MethodSpec("apet-element", budget=10, impl="sparse"), "sparse"),
    ("bert", MethodSpec("apet-tensor", budget=10), "selects 0 parameters"),
    ("bert", MethodSpec("apet-tensor", budget=10**9), "larger than"),
    ("bert", MethodSpec("prompt", options={"length": 40}), "length=40"),
    ("bert", MethodSpec("prefix", options={"length": 30, "max_seq_len": 32}), "length=30"),
    ("bert", MethodSpec("lora", options={"rank": 0}), "rank=0"),
    ("bert", MethodSpec("lora", options={"depth": 3}), "depth"),
    ("bert", MethodSpec("lora", budget=100), "budget=100"),
    ("mpnet", MethodSpec("prefix", options={"length": 2}), "mpnet"),
    ("llama", MethodSpec("bitfit"), "llama"),
]


@pytest.mark.parametrize("family,spec,needle", BAD, ids=[b[2] for b in BAD])
def test_bad_input_raises_one_line_usage_error(family, spec, needle):
    model, _ = tiny(family)
    before = {n: p.requires_grad for n, p in model.named_parameters()}
    with pytest.raises(UsageError) as err:
        apply_method(model, spec)
    msg = str(err.value)
    assert "\n" not in msg and needle in msg and "accepted" in msg, msg
    assert {n: p.requires_grad for n, p in model.named_parameters()} == before


def test_count_trainable_refuses_a_budget_larger_than_the_pool():
    from thunlp_repro.apet.budget import count_trainable

    model, _ = tiny()
    with pytest.raises(UsageError, match="larger than pool 'module=attn'"):
        count_trainable(model.config, MethodSpec("apet-element", budget=10**6, pool="module=attn"))


def test_gradmask_refuses_bf16_weights():
    model, _ = tiny()
    model.to(torch.bfloat16)
    with pytest.raises(UsageError, match="gradmask.*fp32"):
        apply_method(model, MethodSpec("apet-element", budget=10, impl="gradmask"))
    h = apply_method(model, MethodSpec("apet-element", budget=10))  # delta keeps fp32 deltas
    assert h.trainable_parameters()[0].dtype == torch.float32
    h.remove()


def test_unsupported_architecture_is_a_usage_error():
    from transformers import AutoModel, GPT2Config

    model = AutoModel.from_config(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50))
    with pytest.raises(UsageError, match="gpt2.*supported"):
        apply_method(model, MethodSpec("lora"))


def test_mpnet_supports_the_other_methods():
    model, batch = tiny("mpnet")
    for spec in (MethodSpec("lora", options={"rank": 2}), MethodSpec("adapter"),
                 MethodSpec("bitfit"), MethodSpec("apet-element", budget=64)):  # fmt: skip
        h = apply_method(model, spec)
        assert h.trainable_count == h.planned_count
        hidden(h.model, batch)
        h.remove()
