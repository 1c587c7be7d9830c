"""Hub corpora (ki.md §3.2, §3.7) offline: `datasets.load_dataset` is replaced by in-memory data.

Covers the fixed document hold-out, the token budget and source shares, `complete` / `concat`
packing, the memory-mapped cache (reuse, keys, interrupted builds), the errors (unknown name,
no `datasets`, offline hub) and the paper presets resolving the registered corpora.
"""

from __future__ import annotations

import sys

import datasets
import numpy as np
import pytest
import torch

from thunlp_repro.shared import corpora, corpora_hub
from thunlp_repro.shared.corpora import load_corpus, pack_corpus, pack_stats
from thunlp_repro.shared.corpora_hub import documents, held_out, pack_hub_domain
from thunlp_repro.shared.errors import ReproError, UsageError
from thunlp_repro.shared.models import tiny_tokenizer

from .hub_fakes import (
    TOY,
    TOY2,
    failing_rows,
    made_up_docs,
    rows,
    use_fake_hub,
)

BLOCK = 32


@pytest.fixture
def hub(monkeypatch, tmp_path):
    return use_fake_hub(monkeypatch, tmp_path)


def _split_docs(spec, src, split):
    return [d for d in documents(spec, src) if held_out(d, spec.holdout) == (split == "validation")]


def _complete_rows(docs, tok, block):
    out = []
    for d in docs:
        ids = tok(d, add_special_tokens=False)["input_ids"]
        for i in range(len(ids) // (block - 2)):
            body = ids[i * (block - 2) : (i + 1) * (block - 2)]
            out.append([tok.cls_token_id, *body, tok.sep_token_id])
    return out


# ----------------------------------------------------------------------------- registry


def test_registry_has_the_spec_datasets():
    reg = corpora_hub.HUB_CORPORA
    wb = reg.get("wb").sources
    assert (wb[0].dataset, wb[0].config) == ("wikimedia/wikipedia", "20231101.en")
    assert (wb[1].dataset, wb[1].revision) == ("bookcorpus/bookcorpus", "refs/convert/parquet")
    assert reg.get("cc-news").sources[0].dataset == "vblagoje/cc_news"
    assert {s.dataset for s in reg.get("reviews").sources} == {"McAuley-Lab/Amazon-Reviews-2023"}
    assert reg.get("bio").sources[0].text_fields == ("article",)
    assert reg.get("cs").sources[0].dataset == "ccdv/arxiv-summarization"
    fw = reg.get("fineweb-edu").sources[0]
    assert (fw.dataset, fw.config) == ("HuggingFaceFW/fineweb-edu", "sample-10BT")
    assert reg.get("wb").budget == 3_400_000_000 and reg.get("wb").holdout == 0.005
    assert corpora.domains("paper-all") == ("wb", "cc-news", "reviews", "bio", "cs")
    assert corpora.CORPORA.get("wb").source == "hub"


def test_held_out_is_a_fixed_fraction_of_documents():
    docs = made_up_docs(4000)
    flags = [held_out(d, 0.1) for d in docs]
    assert flags == [held_out(d, 0.1) for d in docs]  # no seed, no state
    assert 0.07 < sum(flags) / len(flags) < 0.13
    assert sum(held_out(d) for d in docs) < 0.02 * len(docs)  # default 0.5%


# ----------------------------------------------------------------------------- hold-out, packing


def test_train_and_validation_are_disjoint_deterministic_and_complete(hub, tok):
    train = pack_corpus("toy", tok, BLOCK, packing="complete")
    val = pack_corpus("toy", tok, BLOCK, split="validation", packing="complete")
    src = TOY.sources[0]
    tr_docs, va_docs = _split_docs(TOY, src, "train"), _split_docs(TOY, src, "validation")
    assert va_docs and not set(tr_docs) & set(va_docs)
    assert len(tr_docs) + len(va_docs) == 400
    assert train.dtype == torch.long and train.shape == (40, BLOCK)  # the budget: 40 blocks
    assert train.tolist() == _complete_rows(tr_docs, tok, BLOCK)[:40]  # never across documents
    assert val.shape == (4, BLOCK) and val.tolist() == _complete_rows(va_docs, tok, BLOCK)[:4]
    again = pack_hub_domain("toy", tok, BLOCK, cache=False)[0]
    assert torch.equal(again, train)  # same seeded stream order


def test_concat_blocks_are_full_and_follow_the_documents(hub, tok):
    blocks = pack_corpus("toy", tok, BLOCK, max_tokens=BLOCK * 12 + 5, packing="concat")
    assert blocks.shape == (12, BLOCK)  # budget // block
    flat = []
    for d in _split_docs(TOY, TOY.sources[0], "train"):
        flat += [*tok(d, add_special_tokens=False)["input_ids"], tok.sep_token_id]
    assert blocks.flatten().tolist() == flat[: 12 * BLOCK]
    assert tok.cls_token_id not in blocks.flatten().tolist()


def test_budget_is_shared_by_source_and_a_short_source_is_exhausted(hub, tok):
    blocks, meta = pack_hub_domain("toy2", tok, BLOCK, budget=BLOCK * 8)
    assert blocks.shape == (8, BLOCK) and [s["blocks"] for s in meta["sources"]] == [6, 2]
    assert blocks.numel() <= BLOCK * 8 and meta["tokens"] >= blocks.shape[0] * (BLOCK - 2)
    small = [c for c in hub.calls if c["path"] == "org/small"]
    assert small and all(c["revision"] == "refs/pr/1" for c in small)
    big, meta = pack_hub_domain("toy", tok, BLOCK, budget=BLOCK * 10**6)
    assert 0 < big.shape[0] < 10**6 and meta["sources"][0]["exhausted"] is True


def test_grouped_rows_make_one_document(hub, tok):
    src = TOY2.sources[1]
    docs = list(documents(TOY2, src))
    assert len(docs) == 100 and docs[0].count("\n") == 1  # 200 rows, 2 per document


def test_mixture_packs_each_domain(hub, tok):
    mix = pack_corpus("toy-mix", tok, BLOCK, max_tokens=BLOCK * 8, packing="complete")
    stats = pack_stats("toy-mix", tok, BLOCK, packing="complete")
    assert mix.shape == (8, BLOCK)  # 4 + 4
    assert set(stats) == {"toy", "toy2"}


# ----------------------------------------------------------------------------- cache


def test_cache_is_reused_memory_mapped_and_keyed(hub, tok, tmp_path):
    first = pack_corpus("toy", tok, BLOCK, packing="complete")
    n = len(hub.calls)
    second = pack_corpus("toy", tok, BLOCK, packing="complete")
    assert len(hub.calls) == n and torch.equal(first, second)  # no second load_dataset
    (folder,) = [p for p in (tmp_path / "home/corpora/hub").iterdir() if p.is_dir()]
    assert folder.name.startswith("toy-train-complete-b32-t1280-")
    on_disk = np.fromfile(folder / "blocks.bin", dtype="<i8").reshape(-1, BLOCK)
    assert np.array_equal(on_disk, second.numpy())
    if sys.platform == "linux":  # the rows are views of the file, not a copy in RAM
        assert str(folder / "blocks.bin") in open("/proc/self/maps").read()
    pack_corpus("toy", tok, 16, packing="complete")  # another block size
    assert len(hub.calls) > n
    n = len(hub.calls)
    tok2 = tiny_tokenizer()
    tok2.add_tokens(["zzzz"])  # one more token: another fingerprint
    pack_corpus("toy", tok2, BLOCK, packing="complete")
    assert len(hub.calls) > n


def test_an_interrupted_build_leaves_no_cache(hub, tok, tmp_path):
    docs = made_up_docs(400)
    hub.tables[("org/toy", "en", "train")] = failing_rows(docs, 150, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        pack_corpus("toy", tok, BLOCK, packing="complete")
    root = tmp_path / "home/corpora/hub"
    assert [p for p in root.iterdir() if p.is_dir()] == []
    hub.tables[("org/toy", "en", "train")] = failing_rows(docs, 150, RuntimeError("reset"))
    with pytest.raises(ReproError, match=r"corpus 'toy'.*org/toy \(en\).*reset"):
        pack_corpus("toy", tok, BLOCK, packing="complete")
    assert [p for p in root.iterdir() if p.is_dir()] == []
    hub.tables[("org/toy", "en", "train")] = rows(docs)
    assert pack_corpus("toy", tok, BLOCK, packing="complete").shape == (40, BLOCK)


def test_a_truncated_cache_is_rebuilt(hub, tok, tmp_path):
    pack_corpus("toy", tok, BLOCK, packing="complete")
    (folder,) = [p for p in (tmp_path / "home/corpora/hub").iterdir() if p.is_dir()]
    data = (folder / "blocks.bin").read_bytes()
    (folder / "blocks.bin").write_bytes(data[:100])
    n = len(hub.calls)
    assert pack_corpus("toy", tok, BLOCK, packing="complete").shape == (40, BLOCK)
    assert len(hub.calls) > n


# ----------------------------------------------------------------------------- errors


def test_unknown_corpus_lists_the_known_ones(hub, tok):
    with pytest.raises(UsageError) as err:
        pack_corpus("wikipedia", tok)
    msg = str(err.value)
    assert "\n" not in msg and "unknown corpus 'wikipedia'" in msg
    assert "wb" in msg and "general" in msg and "fineweb-edu" in msg


def test_missing_datasets_names_the_corpus_and_dataset(hub, tok, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ReproError, match=r"corpus 'toy' streams org/toy \(en\) with `datasets`"):
        pack_corpus("toy", tok, BLOCK)


def test_offline_hub_names_the_corpus_and_dataset(hub, tok, monkeypatch):
    def offline(path, name=None, **kw):
        raise ConnectionError(f"Couldn't reach '{path}' on the Hub (LocalEntryNotFoundError)\nmore")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(ReproError) as err:
        pack_corpus("bio", tok, BLOCK)
    msg = str(err.value)
    assert "\n" not in msg and "corpus 'bio'" in msg
    assert "ccdv/pubmed-summarization (document)" in msg and "HF_HUB_OFFLINE" in msg


def test_hub_corpora_are_not_loaded_as_documents(hub):
    with pytest.raises(UsageError, match="streams from the Hugging Face hub"):
        load_corpus("wb")


def test_bad_split_packing_and_budget(hub, tok):
    with pytest.raises(UsageError, match="split"):
        pack_hub_domain("toy", tok, split="test")
    with pytest.raises(UsageError, match="packing"):
        pack_hub_domain("toy", tok, packing="bogus")
    with pytest.raises(UsageError, match="less than one block"):
        pack_hub_domain("toy", tok, BLOCK, budget=BLOCK - 1)
    with pytest.raises(UsageError, match="mixture"):
        pack_hub_domain("paper-all", tok)


# ----------------------------------------------------------------------------- real registry


def test_registered_sources_are_loaded_as_declared(hub, tok):
    articles = made_up_docs(30, "article")
    for split in ("train", "validation", "test"):
        hub.tables[("ccdv/pubmed-summarization", "document", split)] = rows(articles, "article")
    blocks = pack_corpus("bio", tok, BLOCK, max_tokens=BLOCK * 10**4, packing="complete")
    assert 0 < blocks.shape[0] < 10**4  # all three splits read, then exhausted
    splits = [c["split"] for c in hub.calls if c["path"] == "ccdv/pubmed-summarization"]
    assert splits == ["train", "validation", "test"]
    hub.tables[("json", None, "train")] = [{"title": "good", "text": t} for t in articles]
    pack_corpus("reviews", tok, BLOCK, max_tokens=BLOCK * 4, packing="complete")
    call = next(c for c in hub.calls if c["path"] == "json")
    assert call["data_files"].startswith("hf://datasets/McAuley-Lab/Amazon-Reviews-2023/raw/")
    hub.tables[("wikimedia/wikipedia", "20231101.en", "train")] = rows(articles)
    hub.tables[("bookcorpus/bookcorpus", "plain_text", "train")] = rows(made_up_docs(600, "s"))
    wb = pack_corpus("wb", tok, BLOCK, max_tokens=BLOCK * 8, packing="complete")
    assert wb.shape[0] <= 8
    book = next(c for c in hub.calls if c["path"] == "bookcorpus/bookcorpus")
    assert book["revision"] == "refs/convert/parquet"


# ----------------------------------------------------------------------------- presets


@pytest.mark.parametrize("preset", ["paper", "paper-lite", "paper-gpt"])
def test_paper_presets_resolve_hub_corpora(preset):
    from thunlp_repro.ki.config import KIConfig
    from thunlp_repro.shared.config import load_config

    cfg, _ = load_config(KIConfig, pipeline="ki", preset=preset)
    for name in (cfg.data.corpus, cfg.exp.ood_corpus, cfg.exp.domain_corpus):
        assert corpora.CORPORA.get(name).source == "hub"
    if preset == "paper-gpt":
        assert (cfg.objective, cfg.data.corpus, cfg.data.block_size) == ("causal", "fineweb-edu",
                                                                          1024)  # fmt: skip
        assert cfg.gpt.kd == "full-live" and cfg.teacher.name == "HuggingFaceTB/SmolLM2-135M"
        assert cfg.stop_step() == round(0.44 * cfg.train.max_steps)
    else:
        assert (cfg.data.corpus, cfg.data.block_size) == ("wb", 512)


def test_the_gpt_experiment_resolves_paper_gpt():
    from thunlp_repro.ki.runs import make_cfg, variant

    assert variant("paper", "gpt") == "paper-gpt"
    assert make_cfg("paper", "gpt").model.arch == "llama-32x960"
