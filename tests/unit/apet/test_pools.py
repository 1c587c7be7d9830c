"""Pools (apet.md §2.5, §2.8 test 6): live parameters only, thirds, slices, module filters."""

from __future__ import annotations

import pytest

from tests.unit.apet._models import tiny
from thunlp_repro.apet.pools import live_parameter_names, pool_size, pool_tensors
from thunlp_repro.shared.errors import UsageError


def _names(model, pool):
    return [n for n, _ in pool_tensors(model, pool)]


def test_live_pool_excludes_the_unused_pooler():
    model, _ = tiny()
    live = live_parameter_names(model)
    assert {"pooler.dense.weight", "pooler.dense.bias"}.isdisjoint(live)
    everything = _names(model, "all")
    assert everything == sorted(live)  # canonical order: sorted names
    assert "embeddings.word_embeddings.weight" in everything
    assert not any(n.startswith("pooler.") for n in everything)
    assert all(n.startswith("encoder.layer.") for n in _names(model, "layers"))


def test_pool_never_holds_a_parameter_without_gradient():
    model, _ = tiny()
    # cut one tensor out of the graph: an unused extra parameter is dead
    import torch

    model.encoder.layer[0].register_parameter("unused", torch.nn.Parameter(torch.ones(3)))
    assert "encoder.layer.0.unused" not in _names(model, "layers")


def test_thirds_partition_the_layers_pool():
    model, _ = tiny(layers=6)
    thirds = [set(_names(model, t)) for t in ("low", "mid", "high")]
    assert set().union(*thirds) == set(_names(model, "layers"))
    assert sum(len(t) for t in thirds) == len(_names(model, "layers"))
    assert all(n.startswith(("encoder.layer.0.", "encoder.layer.1.")) for n in thirds[0])
    assert all(n.startswith(("encoder.layer.4.", "encoder.layer.5.")) for n in thirds[2])


def test_slice_and_module_filters():
    model, _ = tiny(layers=3)
    assert all(n.startswith("encoder.layer.1.") for n in _names(model, "layers[1:2]"))
    mods = {m: set(_names(model, f"module={m}")) for m in ("attn", "ffn", "norm_bias")}
    assert set().union(*mods.values()) == set(_names(model, "layers"))  # a partition
    assert sum(map(len, mods.values())) == len(_names(model, "layers"))
    assert all("attention" in n and n.endswith(".weight") and "LayerNorm" not in n
               for n in mods["attn"])  # fmt: skip
    assert all(n.endswith(".bias") or "LayerNorm" in n for n in mods["norm_bias"])
    assert "encoder.layer.0.intermediate.dense.weight" in mods["ffn"]
    linear = _names(model, "linear")
    assert linear and all(n.endswith(".weight") and "LayerNorm" not in n for n in linear)
    assert pool_size(pool_tensors(model, "linear")) < pool_size(pool_tensors(model, "layers"))


@pytest.mark.parametrize("pool", ["everything", "layers[2:1]", "module=head", "layers[0:9]"])
def test_bad_pools_raise_one_line(pool):
    model, _ = tiny()
    with pytest.raises(UsageError) as err:
        pool_tensors(model, pool)
    msg = str(err.value)
    assert "\n" not in msg and pool in msg and "accepted" in msg
