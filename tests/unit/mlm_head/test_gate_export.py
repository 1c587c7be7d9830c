"""The gate, the masked-LM export, the label-word probe, and the asset/CLI wiring (tiny model).

Reproduces: prompt_transfer.md §2.6 (gate: beat the most-frequent-token baseline and the tied
readout, else fail) and offline-assets.md §1 (the `NAME-mlm` derived assets).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.mlm_head import (
    BACKBONES,
    CORPUS_ASSETS,
    HeadBuilder,
    HeadGateError,
    HeadRecipe,
    backbone_of,
    check_gate,
    default_recipe,
    head_asset_name,
    mlm_head_spec,
    register_mlm_heads,
    with_recipe,
)
from thunlp_repro.shared.mlm_head_data import MaskedStates
from thunlp_repro.shared.mlm_head_probes import rank_label_words, run_probes
from thunlp_repro.shared.mlm_head_recipe import export_masked_lm, fit_head, init_head


@pytest.mark.parametrize(
    ("head", "mf", "tied", "passes"),
    [
        (0.09, 0.07, 0.0, True),
        (0.07, 0.07, 0.0, False),  # a tie is not a win
        (0.05, 0.07, 0.0, False),
        (0.09, 0.07, 0.10, False),
    ],
)
def test_gate_needs_both_baselines_beaten(head, mf, tied, passes):
    metrics = {"head_top1": head, "most_frequent_top1": mf, "tied_top1": tied}
    if passes:
        check_gate(metrics)
        return
    with pytest.raises(HeadGateError, match="mlm-adapt") as info:
        check_gate(metrics, backbone="minilm-l6")
    assert f"{head:.2%}" in str(info.value) and "minilm-l6" in str(info.value)
    assert info.value.exit_code == 1


def test_fit_head_raises_when_the_head_loses(tiny):
    """Every target is the same token: the most-frequent baseline scores 100% and cannot lose."""
    model, _ = tiny
    g = torch.Generator().manual_seed(0)
    states = torch.randn(64, model.config.hidden_size, generator=g).half()
    data = MaskedStates(states, torch.full((64,), 7))
    recipe = HeadRecipe(tokens=128, eval_tokens=128, epochs=0, block_size=16)
    with pytest.raises(HeadGateError):
        fit_head(model, data, data, recipe, backbone_name="tiny-bert")
    _, metrics, history = fit_head(model, data, data, recipe, gate=False)
    assert metrics["most_frequent_top1"] == 1.0 and history == []


def _exported(tiny, tmp_path):
    model, tok = tiny
    head = init_head(model, 0)
    with torch.no_grad():
        head.bias.normal_(generator=torch.Generator().manual_seed(1))
        head.dense.weight.normal_(std=0.5)
    saved = export_masked_lm(model, head, tok, tmp_path / "mlm")
    return model, tok, head, saved


def test_export_is_a_tied_bert_for_masked_lm(tiny, tmp_path):
    from transformers import AutoModelForMaskedLM, BertForMaskedLM

    model, tok, head, _ = _exported(tiny, tmp_path)
    loaded = AutoModelForMaskedLM.from_pretrained(tmp_path / "mlm").eval()
    assert isinstance(loaded, BertForMaskedLM)
    assert loaded.cls.predictions.decoder.weight is loaded.bert.embeddings.word_embeddings.weight
    torch.testing.assert_close(
        loaded.bert.embeddings.word_embeddings.weight, model.get_input_embeddings().weight
    )
    ids = tok(["the lazy dog", "a quick fox"], return_tensors="pt", padding=True)
    with torch.no_grad():
        ref = head(model(**ids).last_hidden_state)
        got = loaded(**ids).logits
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    from thunlp_repro.shared.models import load_model

    again, tok2 = load_model(str(tmp_path / "mlm"), "masked-lm")
    assert isinstance(again, BertForMaskedLM) and len(tok2) == len(tok)


def test_rank_label_words(tiny, tmp_path):
    _, tok, _, saved = _exported(tiny, tmp_path)
    rows = rank_label_words(saved, tok, "the movie was [MASK].", ["a", "b", "z"])
    assert [r["word"] for r in rows] == sorted(
        ["a", "b", "z"], key=lambda w: -next(r["logit"] for r in rows if r["word"] == w)
    )
    logits = [r["logit"] for r in rows]
    assert logits == sorted(logits, reverse=True)
    assert all(1 <= r["vocab_rank"] <= len(tok) and 0 < r["prob"] < 1 for r in rows)
    assert rows[0]["vocab_rank"] < rows[-1]["vocab_rank"]
    same = rank_label_words(saved, tok, "the movie was {mask}.", ["a", "b", "z"])
    assert same == rows
    with pytest.raises(UsageError, match="not one"):
        rank_label_words(saved, tok, "the movie was [MASK].", ["ab"])
    with pytest.raises(UsageError, match="exactly one mask"):
        rank_label_words(saved, tok, "the movie was good.", ["a"])
    probes = run_probes(saved, tok, [("it is [MASK].", ("a", "b"))])
    assert probes[0]["template"] == "it is [MASK]." and len(probes[0]["top5"]) == 5


def test_recipe_validation_and_defaults():
    assert default_recipe("minilm-l6").tokens == 1_000_000
    assert default_recipe("mpnet-base").tokens == 300_000
    small = default_recipe("minilm-l3-mlm", tokens=50_000, seed=2)
    assert (small.tokens, small.eval_tokens, small.seed) == (50_000, 50_000, 2)
    assert HeadRecipe.from_dict({**small.to_dict(), "unknown": 1}) == small
    for bad in ({"tokens": 10}, {"mask_rate": 0.0}, {"matmul_dtype": "int8"}, {"epochs": -1}):
        with pytest.raises(UsageError):
            HeadRecipe(**bad)
    with pytest.raises(UsageError, match="known backbones"):
        backbone_of("bert-base-uncased")


def test_specs_and_registration(tmp_path, monkeypatch):
    from thunlp_repro.shared.assets import ASSETS, AssetMissingError, model_dir

    monkeypatch.setenv("THUNLP_REPRO_HOME", str(tmp_path / "home"))
    names = register_mlm_heads()
    assert names == ["minilm-l6-mlm", "minilm-l3-mlm", "mpnet-base-mlm"]
    assert register_mlm_heads() == names  # idempotent
    for base in BACKBONES:
        spec = ASSETS.get(head_asset_name(base))
        assert spec.kind == "model" and spec.group == "opt-in"
        assert spec.requires == (base, *CORPUS_ASSETS)
        assert isinstance(spec.builder, HeadBuilder) and spec.builder.backbone == base
        assert spec.install_command == f"thunlp-repro assets mlm-head {base}"
    with pytest.raises(AssetMissingError, match="assets mlm-head minilm-l6"):
        model_dir("minilm-l6-mlm")
    spec = with_recipe(mlm_head_spec("minilm-l3", tokens=20_000), seed=3)
    assert (spec.builder.recipe.tokens, spec.builder.recipe.seed) == (20_000, 3)


def test_importing_the_module_imports_no_torch():
    code = (
        "import sys; import thunlp_repro.shared.mlm_head as m; import thunlp_repro.cli.assets_mlm;"
        " m.register_mlm_heads(); assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_help_and_usage_error():
    import typer
    from typer.testing import CliRunner

    from thunlp_repro.cli.assets_mlm import mlm_head

    app = typer.Typer()
    app.command("mlm-head")(mlm_head)
    app.command("noop")(lambda: None)  # two commands, so `mlm-head` is a sub-command as in assets
    runner = CliRunner()
    out = runner.invoke(app, ["mlm-head", "--help"])
    assert out.exit_code == 0 and "--tokens" in out.output and "--force" in out.output
    bad = runner.invoke(app, ["mlm-head", "bert-base-uncased"])
    assert bad.exit_code == 2 and "known backbones" in bad.output
