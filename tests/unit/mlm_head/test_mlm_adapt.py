"""`mlm-adapt` (prompt_transfer.md §2.6, the M1 fallback) on the real MiniLM-L3, small budgets.

A 50k-token restored head is built into a private home, then adapted for 150 steps through the
asset installer. What must hold: only the top 2 layers and the head move (E and the lower layers
are bit-identical), the held-out masked top-1 beats the restored head's on the same draw (the
gate), the card records both, and `prompt.head=mlm-adapt` loads it as a backbone of its own hash.
"""

from __future__ import annotations

import pytest

from thunlp_repro.shared.errors import UsageError

pytestmark = pytest.mark.assets


def _install_small(steps: int = 150):
    from thunlp_repro.shared.assets import install, register_asset
    from thunlp_repro.shared.mlm_adapt import AdaptRecipe, mlm_adapt_spec
    from thunlp_repro.shared.mlm_head import HeadRecipe, mlm_head_spec

    register_asset(mlm_head_spec("minilm-l3", recipe=HeadRecipe(tokens=50_000, eval_tokens=25_000)),
                   replace=True)  # fmt: skip
    register_asset(mlm_adapt_spec("minilm-l3", AdaptRecipe(steps=steps)), replace=True)
    return {r.name: r.status for r in install(["minilm-l3-mlm-adapt"])}


def test_adapting_moves_only_the_top_layers_and_beats_the_restored_head(head_home):
    import torch
    from transformers import AutoModelForMaskedLM

    from thunlp_repro.shared.assets import model_dir
    from thunlp_repro.shared.mlm_head import read_head_card

    status = _install_small()
    assert status["minilm-l3-mlm"] == "installed" and status["minilm-l3-mlm-adapt"] == "installed"
    card = read_head_card("minilm-l3-mlm-adapt")
    m = card["metrics"]
    assert card["gate"]["passed"] is True and m["head_top1"] > m["restored_top1"] > 0
    assert card["adapt_recipe"]["top_layers"] == 2 and card["history"][-1]["step"] == 150
    assert card["backbone_sha256"] != read_head_card("minilm-l3-mlm")["backbone_sha256"]

    before = AutoModelForMaskedLM.from_pretrained(model_dir("minilm-l3-mlm")).state_dict()
    after = AutoModelForMaskedLM.from_pretrained(model_dir("minilm-l3-mlm-adapt")).state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved, "nothing was adapted"
    layers = {k.split(".")[3] for k in moved if k.startswith("bert.encoder.layer.")}
    assert layers == {"1", "2"}  # the top 2 of MiniLM-L3's 3 layers
    assert all(
        k.startswith(("bert.encoder.layer.1.", "bert.encoder.layer.2.", "cls.")) for k in moved
    )
    assert "bert.embeddings.word_embeddings.weight" not in moved


def test_prompt_transfer_loads_the_adapted_backbone_with_its_own_hash(head_home):
    from thunlp_repro.prompt_transfer.backbone import _CACHE, load_backbone
    from thunlp_repro.prompt_transfer.config import PromptTransferConfig

    _install_small(steps=150)
    cfg = PromptTransferConfig()
    cfg.model.name, cfg.prompt.head = "minilm-l3", "mlm-adapt"
    _CACHE.clear()
    adapted = load_backbone(cfg)
    cfg.prompt.head = "restored"
    cfg.head_build.use_asset = True
    restored = load_backbone(cfg)
    _CACHE.clear()
    assert adapted.head == "mlm-adapt" and adapted.width == restored.width == 384
    assert adapted.info["backbone_sha256"] != restored.info["backbone_sha256"]
    assert adapted.info["tokenizer"] == restored.info["tokenizer"]
    assert not any(p.requires_grad for p in adapted.mlm.parameters())


def test_missing_adapted_asset_is_a_one_line_usage_error(head_home):
    from thunlp_repro.prompt_transfer.backbone import _CACHE, load_backbone
    from thunlp_repro.prompt_transfer.config import PromptTransferConfig

    cfg = PromptTransferConfig()
    cfg.model.name, cfg.prompt.head = "minilm-l3", "mlm-adapt"
    _CACHE.clear()
    with pytest.raises(UsageError, match=r"assets install minilm-l3-mlm-adapt") as info:
        load_backbone(cfg)
    assert "\n" not in str(info.value)


def test_adapt_recipe_validation():
    from thunlp_repro.shared.mlm_adapt import AdaptRecipe, adapt_asset_name

    with pytest.raises(UsageError, match="must all be >= 1"):
        AdaptRecipe(steps=0)
    assert adapt_asset_name("minilm-l6") == "minilm-l6-mlm-adapt"
    with pytest.raises(UsageError, match="known backbones"):
        adapt_asset_name("bert-base")
