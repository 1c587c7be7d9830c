"""Model resolution and heads (shared/models.py)."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import require_assets
from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.models import PooledClassifier, load_model, resolve_model


@pytest.mark.parametrize(
    ("head", "cls_name"),
    [("encoder", "BertModel"), ("masked-lm", "BertForMaskedLM"),
     ("sequence-classification", "PooledClassifier")],
)  # fmt: skip
def test_tiny_bert_heads(head, cls_name):
    model, tok = load_model("tiny-bert", head, num_labels=3)
    assert type(model).__name__ == cls_name
    enc = tok(["a short text", "and another, longer one"], padding=True, return_tensors="pt")
    out = model(**enc)
    if head == "sequence-classification":
        assert out.logits.shape == (2, 3)
    elif head == "masked-lm":
        assert out.logits.shape[-1] == len(tok)


def test_tiny_llama_classifier_pools_the_last_real_token():
    model, tok = load_model("tiny-llama", "sequence-classification", num_labels=2)
    assert isinstance(model, PooledClassifier) and model.pooling == "last"
    model.eval()
    one = tok(["hello there"], return_tensors="pt")
    padded = tok(["hello there", "a much longer sentence here"], padding=True, return_tensors="pt")
    with torch.no_grad():
        alone = model(**one).logits[0]
        batched = model(**padded).logits[0]
    torch.testing.assert_close(alone, batched, atol=1e-5, rtol=1e-4)


def test_unknown_model_and_head_are_clear_errors():
    with pytest.raises(UsageError, match=r"unknown model 'minilm-l7'.*did you mean.*known: "):
        resolve_model("minilm-l7")
    with pytest.raises(UsageError, match="unknown head 'seq-cls'"):
        load_model("tiny-bert", "seq-cls")


def test_hub_ids_and_local_folders_resolve(tmp_path):
    assert resolve_model("roberta-base").kind == "hub"
    assert resolve_model("org/some-model").kind == "hub"
    assert resolve_model(str(tmp_path)).kind == "local"


@pytest.mark.assets
def test_offline_asset_loads_with_a_classification_head():
    require_assets("minilm-l6")
    source = resolve_model("minilm-l6")
    assert source.kind == "asset"
    model, tok = load_model("minilm-l6", "sequence-classification", num_labels=2)
    assert model.config.hidden_size == 384 and model.pooling == "mean"
    logits = model(**tok(["a fine film"], return_tensors="pt")).logits
    assert logits.shape == (1, 2)
