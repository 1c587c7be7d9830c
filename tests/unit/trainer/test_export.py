"""Trainable-only exports reload bit-exactly; eval does not depend on batch size."""

from __future__ import annotations

import json

import pytest
import torch

from thunlp_repro.shared.models import load_model
from thunlp_repro.shared.trainer.export import export_trainable, load_trainable


def test_export_round_trip_is_bit_exact(tmp_path):
    model, _ = load_model("tiny-bert", "sequence-classification", num_labels=2)
    for p in model.backbone.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        model.classifier.weight.normal_()
    export_trainable(model, tmp_path, meta={"backbone": "tiny-bert", "task": "x"})
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert set(meta["parameters"]) == {"classifier.weight", "classifier.bias"}
    assert meta["backbone"] == "tiny-bert"

    fresh, _ = load_model("tiny-bert", "sequence-classification", num_labels=2)
    loaded = load_trainable(fresh, tmp_path)
    assert loaded == ["classifier.bias", "classifier.weight"]
    assert torch.equal(fresh.classifier.weight, model.classifier.weight)
    assert torch.equal(fresh.classifier.bias, model.classifier.bias)


def test_export_with_wrong_shapes_is_refused(tmp_path):
    model, _ = load_model("tiny-bert", "sequence-classification", num_labels=2)
    export_trainable(model, tmp_path)
    other, _ = load_model("tiny-bert", "sequence-classification", num_labels=3)
    with pytest.raises(ValueError, match="shape of classifier"):
        load_trainable(other, tmp_path)


def test_classifier_eval_is_invariant_to_batch_size():
    model, tok = load_model("tiny-bert", "sequence-classification", num_labels=2)
    model.eval()
    texts = [f"sample text number {i} " + "word " * (i % 7) for i in range(8)]
    with torch.no_grad():
        one = torch.cat([model(**tok([t], return_tensors="pt")).logits for t in texts])
        eight = model(**tok(texts, padding=True, return_tensors="pt")).logits
    torch.testing.assert_close(one, eight, atol=1e-5, rtol=1e-4)
    assert torch.equal(one.argmax(-1), eight.argmax(-1))
