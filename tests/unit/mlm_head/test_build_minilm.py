"""End to end on the real MiniLM-L3 with a small token budget, through the asset installer.

Reproduces: prompt_transfer.md §2.6 (the recipe and its gate on a real frozen backbone) and
offline-assets.md §1 (`NAME-mlm` is a derived asset: a `save_pretrained` BertForMaskedLM folder
that `model_dir` resolves). The budget is 50k tokens instead of 1M, so the numbers are lower than
the report's; the gate must still pass.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.assets

SMALL = {"tokens": 50_000, "eval_tokens": 25_000}


def test_small_head_on_minilm_l3_installs_loads_and_beats_the_baselines(head_home):
    from transformers import AutoModelForMaskedLM, AutoTokenizer, BertForMaskedLM

    from thunlp_repro.shared.assets import install, model_dir, register_asset, verify
    from thunlp_repro.shared.mlm_head import (
        HEAD_CARD,
        HEAD_WEIGHTS,
        HeadRecipe,
        mlm_head_spec,
        read_head_card,
    )
    from thunlp_repro.shared.mlm_head_probes import rank_label_words
    from thunlp_repro.shared.mlm_head_recipe import _sha256

    register_asset(mlm_head_spec("minilm-l3", recipe=HeadRecipe(**SMALL)), replace=True)
    results = {r.name: r for r in install(["minilm-l3-mlm"])}
    assert results["minilm-l3-mlm"].status == "installed"
    assert results["minilm-l3"].status == "skipped"
    folder = model_dir("minilm-l3-mlm")
    assert folder == head_home / "assets" / "minilm-l3-mlm"
    assert verify(["minilm-l3-mlm"]) == {"minilm-l3-mlm": []}

    card = read_head_card("minilm-l3-mlm")
    m = card["metrics"]
    assert card["gate"]["passed"] is True
    assert m["head_top1"] > m["most_frequent_top1"] and m["head_top1"] > m["tied_top1"]
    assert card["data"]["train_tokens"] == (SMALL["tokens"] // 128) * 128
    assert card["data"]["eval_masked"] == m["n_eval"] > 2_000
    assert card["parity_max_abs_diff"] < 1e-4
    assert card["head_sha256"] == _sha256(folder / HEAD_WEIGHTS)
    assert card["seeds"] == {"mask_seed": 0, "seed": 0, "corpus_split_seed": 0}
    assert json.loads((folder / HEAD_CARD).read_text()) == card
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    assert manifest["info"]["head_top1"] == m["head_top1"]

    model = AutoModelForMaskedLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert isinstance(model, BertForMaskedLM)
    assert model.config.num_hidden_layers == 3
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    words = ("abbreviation", "description", "entity", "human", "location", "number")
    rows = rank_label_words(model, tokenizer, "this question asks for a [MASK].", words)
    assert sorted(r["word"] for r in rows) == sorted(words)
    assert all(1 <= r["vocab_rank"] <= tokenizer.vocab_size for r in rows)
    assert [p["template"] for p in card["probes"]][0] == "the movie was [MASK]."
