"""APET-element invariants (apet.md §2.4, §2.8 tests 1, 2, 4, 7)."""

from __future__ import annotations

import pytest
import torch

from tests.unit.apet._models import hidden, tiny
from thunlp_repro.apet.element import sample_indices
from thunlp_repro.apet.methods import MethodSpec, apply_method, optimizer_state_bytes


def _spec(L, **kw):
    return MethodSpec("apet-element", budget=L, **kw)


@pytest.mark.parametrize("n,L", [(1000, 1), (1000, 500), (1000, 501), (1000, 1000), (10**6, 7)])
def test_sampler_exact_distinct_in_range(n, L):
    idx, regime = sample_indices(n, L, seed=5)
    assert idx.numel() == L == torch.unique(idx).numel()
    assert 0 <= int(idx.min()) and int(idx.max()) < n
    assert regime == ("randperm" if 2 * L > n else "blocks")


@pytest.mark.parametrize("n,small,large", [(10**6, 100, 200_000), (1000, 600, 1000)])
def test_sampler_nested_within_regime(n, small, large):
    a, _ = sample_indices(n, small, seed=9)
    b, _ = sample_indices(n, large, seed=9)
    assert torch.equal(a, b[:small])  # a prefix, hence a subset


def test_mask_is_deterministic_nested_and_seeded():
    model, _ = tiny()
    masks = {}
    for L, seed in [(50, 1), (100, 1), (50, 2)]:
        h = apply_method(model, _spec(L, seed=seed))
        masks[L, seed] = {k: set(v.tolist()) for k, v in h.mask_state().items()}
        assert h.trainable_count == L == sum(len(v) for v in masks[L, seed].values())
        h.remove()
    again = apply_method(model, _spec(50, seed=1))
    assert {k: set(v.tolist()) for k, v in again.mask_state().items()} == masks[50, 1]
    again.remove()
    for name, offs in masks[50, 1].items():  # mask(L) is a subset of mask(2L)
        assert offs <= masks[100, 1][name]
    assert masks[50, 1] != masks[50, 2]


def _train(model, batch, h, steps, lr=1e-2):
    opt = torch.optim.AdamW(h.trainable_parameters(), lr=lr, weight_decay=0.0)
    proj = torch.randn(2, 6, model.config.hidden_size, generator=torch.Generator().manual_seed(4))
    for _ in range(steps):
        opt.zero_grad()
        (h.model(**batch).last_hidden_state * proj).sum().backward()
        opt.step()
    return opt


def _effective_weights(model):
    return {n: t.detach().clone() for n, t in model.state_dict().items() if "original" not in n}


@pytest.mark.parametrize("impl", ["delta", "gradmask"])
def test_only_selected_entries_change_and_zero_start(impl):
    model, batch = tiny()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    base = hidden(model, batch)
    h = apply_method(model, _spec(64, impl=impl, seed=3))
    assert torch.equal(hidden(h.model, batch), base)  # zero start: bit-identical logits
    _train(model, batch, h, steps=3)
    assert not torch.equal(hidden(h.model, batch), base)
    mask = h.mask_state()
    # the effective weights the forward sees, by original name
    with torch.no_grad():
        eff = {n: getattr(model.get_submodule(n.rpartition(".")[0]), n.rpartition(".")[2])
               for n in before}  # fmt: skip
    changed = 0
    for name, w in eff.items():
        diff = (w.detach() != before[name]).flatten().nonzero().flatten()
        assert set(diff.tolist()) <= set(mask.get(name, torch.empty(0)).tolist()), name
        changed += diff.numel()
    assert changed > 0
    h.remove()  # frozen stays frozen: the backbone is bit-identical afterwards
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name]) and p.requires_grad  # flags restored too


def test_delta_and_gradmask_agree_after_20_steps():
    model, batch = tiny()
    outs, states = {}, {}
    for impl in ("delta", "gradmask"):
        h = apply_method(model, _spec(200, impl=impl, seed=1))
        opt = _train(model, batch, h, steps=20)
        outs[impl] = hidden(h.model, batch).detach()
        states[impl] = optimizer_state_bytes(opt)
        h.remove()
    torch.testing.assert_close(outs["delta"], outs["gradmask"], rtol=1e-4, atol=1e-5)
    assert states["delta"] < states["gradmask"]


def test_delta_is_o_of_L():
    model, batch = tiny()
    h = apply_method(model, _spec(100, seed=1))
    params = h.trainable_parameters()
    assert sum(p.numel() for p in params) == 100  # only the L-element deltas
    assert all(p.dtype == torch.float32 and p.dim() == 1 for p in params)
    opt = _train(model, batch, h, steps=1)
    # Adam: m and v of L floats each, plus one scalar step per tensor
    assert optimizer_state_bytes(opt) == 2 * 100 * 4 + len(params) * 4
    trainable_in_model = [p for p in h.model.parameters() if p.requires_grad]
    assert sum(p.numel() for p in trainable_in_model) == 100
    h.remove()


def test_trainable_state_roundtrip_bit_exact():
    model, batch = tiny()
    h = apply_method(model, _spec(80, seed=2))
    _train(model, batch, h, steps=2)
    state, out = h.state_dict_trainable(), hidden(h.model, batch)
    h.remove()
    h2 = apply_method(model, _spec(80, seed=2))
    h2.load_trainable(state)
    assert torch.equal(hidden(h2.model, batch), out)
    h2.remove()
