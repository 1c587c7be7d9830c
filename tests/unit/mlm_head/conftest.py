"""Fixtures of the restored-head tests: the tiny in-memory BERT and its tokenizer."""

from __future__ import annotations

import pytest

from tests.conftest import require_assets
from thunlp_repro.shared.mlm_head import CORPUS_ASSETS


@pytest.fixture
def tiny():
    """(tiny-bert encoder, tiny tokenizer): 2 layers × 32, character-level WordPiece vocab."""
    from thunlp_repro.shared.models import load_model

    model, tokenizer = load_model("tiny-bert", "encoder")
    model.requires_grad_(False)
    model.eval()
    return model, tokenizer


@pytest.fixture
def blocks(tiny):
    """Eight 24-token blocks in the corpus layout: [CLS] + 22 ids + [SEP] (ids from the text)."""
    import torch

    _, tok = tiny
    text = "the quick brown fox jumps over the lazy dog and keeps running far away " * 8
    ids = tok(text, add_special_tokens=False)["input_ids"]
    body = torch.tensor(ids[: 8 * 22]).view(8, 22)
    cls = torch.full((8, 1), tok.cls_token_id)
    sep = torch.full((8, 1), tok.sep_token_id)
    return torch.cat([cls, body, sep], dim=1)


@pytest.fixture(autouse=True)
def _restore_asset_registry():
    """Tests here register `NAME-mlm` specs; leave the global registry as each test found it."""
    from thunlp_repro.shared.assets import ASSETS

    entries, meta = dict(ASSETS._entries), dict(ASSETS._meta)
    yield
    ASSETS._entries.clear()
    ASSETS._entries.update(entries)
    ASSETS._meta.clear()
    ASSETS._meta.update(meta)


@pytest.fixture
def head_home(tmp_path, monkeypatch):
    """A private `$THUNLP_REPRO_HOME` whose dependency assets (and corpus cache) link to the real
    home's, so the derived asset is built into tmp_path without touching the installed ones."""
    require_assets("minilm-l3", *CORPUS_ASSETS)
    from thunlp_repro.shared.assets import asset_path
    from thunlp_repro.shared.paths import home

    real = home()
    private = tmp_path / "home"
    (private / "assets").mkdir(parents=True)
    for name in ("minilm-l3", *CORPUS_ASSETS):
        (private / "assets" / name).symlink_to(asset_path(name), target_is_directory=True)
    (real / "corpora").mkdir(parents=True, exist_ok=True)
    (private / "corpora").symlink_to(real / "corpora", target_is_directory=True)
    monkeypatch.setenv("THUNLP_REPRO_HOME", str(private))
    return private
