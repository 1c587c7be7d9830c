"""APET-tensor (apet.md §2.6, §2.8 test 5): whole groups, ≤ L, derived seeds, empty refused."""

from __future__ import annotations

import pytest
import torch

from tests.unit.apet._models import hidden, tiny
from thunlp_repro.apet.budget import count_trainable
from thunlp_repro.apet.methods import MethodSpec, apply_method
from thunlp_repro.apet.tensor import Item, _first_fit, plan_tensor_selection
from thunlp_repro.shared.errors import UsageError


def _spec(L, seed=1):
    return MethodSpec("apet-tensor", budget=L, seed=seed, options={"rank": 2, "bottleneck": 3})


def test_first_fit_takes_whole_groups_only():
    items = [Item("lora", "a", 9), Item("adapter", "b", 5), Item("lora", "c", 4)]
    for seed in range(20):
        taken = _first_fit(items, 10, seed)
        assert sum(i.size for i in taken) <= 10
        # the repo's bug: checking only a group's first tensor could overshoot the half
        assert all(i in items for i in taken)


@pytest.mark.parametrize("L", [600, 2000, 5000])
def test_plan_is_at_most_L_deterministic_and_matches_the_config_count(L):
    model, _ = tiny()
    plan = plan_tensor_selection(model, _spec(L), model.config)
    assert 0 < plan.realised <= L
    again = plan_tensor_selection(model, _spec(L), model.config)
    assert (plan.lora, plan.adapters, plan.inner) == (again.lora, again.adapters, again.inner)
    assert count_trainable(model.config, _spec(L)) == plan.realised
    other = plan_tensor_selection(model, _spec(L, seed=2), model.config)
    assert L == 600 or (plan.lora, plan.adapters, plan.inner) != (
        other.lora, other.adapters, other.inner)  # fmt: skip


def test_selected_modules_train_and_unselected_are_bypassed():
    model, batch = tiny()
    base = hidden(model, batch)
    h = apply_method(model, _spec(4000))
    assert h.trainable_count <= 4000 and h.plan.realised == h.trainable_count
    n_sites = len(h.plan.adapters)
    # only the selected adapters exist; the rest of the 4 sites carry none
    carried = [n for n, _ in model.named_modules() if n.endswith("pet_adapter")]
    assert len(carried) == n_sites
    if not n_sites:
        assert torch.equal(hidden(h.model, batch), base)  # LoRA B = 0 and inner Δ = 0
    h.remove()
    assert torch.equal(hidden(model, batch), base)


def test_budget_that_selects_nothing_is_refused():
    # every candidate is larger than L/2 (the repo's 4096 on bloom-7b1, §7 #1)
    model, _ = tiny()
    with pytest.raises(UsageError, match="selects 0 parameters"):
        apply_method(model, _spec(20))
