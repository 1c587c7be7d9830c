"""Cross-check with PEFT SHiRA (apet.md §2.4, §2.8 test 7): same mask, same outputs and grads.

SHiRA needs exactly r·(in + out) coordinates per Linear, so the mask here is drawn per tensor
with our sampler at SHiRA's per-layer budget (r = 1) on the `linear` pool, and fed to both.
"""

from __future__ import annotations

import copy

import pytest
import torch

from tests.unit.apet._models import tiny
from thunlp_repro.apet.element import Selection, attach_delta, sample_indices
from thunlp_repro.apet.pools import pool_tensors

pytest.importorskip("peft.tuners.shira")


def test_shira_with_our_mask_matches_apet_element():
    from peft import ShiraConfig, get_peft_model

    model, batch = tiny()
    model.requires_grad_(False)
    twin = copy.deepcopy(model)
    offsets, masks = {}, {}
    for i, (name, w) in enumerate(pool_tensors(model, "linear")):
        k = w.shape[0] + w.shape[1]
        offsets[name] = torch.sort(sample_indices(w.numel(), k, seed=i)[0]).values
        mask = torch.zeros(w.numel())
        mask[offsets[name]] = 1
        masks[name.rpartition(".")[0]] = mask.view_as(w)
    named, _ = attach_delta(model, Selection(offsets, "blocks", 0, 0))

    by_module = {id(twin.get_submodule(n)): m for n, m in masks.items()}
    cfg = ShiraConfig(r=1, target_modules=sorted(masks))
    cfg.mask_fn = lambda base_layer, r, **kw: by_module[id(base_layer)]
    shira = get_peft_model(twin, cfg)
    proj = torch.randn(2, 6, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # the same non-zero delta on both sides
        for (name, d), (sname, s) in zip(
            named,
            sorted((n, p) for n, p in shira.named_parameters() if "shira_weight" in n),
            strict=True,
        ):
            assert name.rpartition(".")[0] in sname
            d.copy_(torch.linspace(-0.1, 0.1, d.numel()))
            s.copy_(d)
    out_a = model(**batch).last_hidden_state
    out_b = shira(**batch).last_hidden_state
    torch.testing.assert_close(out_a, out_b, rtol=1e-5, atol=1e-6)
    (out_a * proj).sum().backward()
    (out_b * proj).sum().backward()
    grads_b = sorted((n, p.grad) for n, p in shira.named_parameters() if "shira_weight" in n)
    for (_, d), (_, g) in zip(named, grads_b, strict=True):
        torch.testing.assert_close(d.grad, g, rtol=1e-5, atol=1e-6)
