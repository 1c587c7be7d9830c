"""Packing into fixed-length blocks, and the on-disk cache (hit, corruption, keys)."""

from __future__ import annotations

import pytest
import torch

from thunlp_repro.shared import corpora
from thunlp_repro.shared.corpora import (
    pack_corpus,
    pack_documents,
    pack_stats,
    sample_blocks,
    tokenizer_fingerprint,
)
from thunlp_repro.shared.errors import UsageError

DOCS = ["one two three.\nfour five", "six seven eight nine ten", "eleven"]


def test_concat_blocks_have_the_shape_and_separators(tok):
    blocks, stats = pack_documents(DOCS, tok, block_size=16, packing="concat")
    ids = [tok(d, add_special_tokens=False)["input_ids"] for d in DOCS]
    flat = [t for doc in ids for t in (*doc, tok.sep_token_id)]
    n = len(flat) // 16
    assert blocks.dtype == torch.long and blocks.shape == (n, 16)
    assert blocks.flatten().tolist() == flat[: n * 16]
    assert tok.cls_token_id not in blocks.tolist()[0]
    assert stats["tokens"] == sum(map(len, ids)) and stats["blocks"] == n
    assert stats["documents"] == 3


def test_complete_blocks_are_cls_body_sep_within_one_document(tok):
    doc = "abc defg hij klmno pq rstu vw xyz " * 3
    blocks, stats = pack_documents([doc, "short"], tok, block_size=10, packing="complete")
    body = tok(doc, add_special_tokens=False)["input_ids"]
    assert blocks.shape == (len(body) // 8, 10)
    assert (blocks[:, 0] == tok.cls_token_id).all() and (blocks[:, -1] == tok.sep_token_id).all()
    assert blocks[:, 1:-1].flatten().tolist() == body[: blocks.shape[0] * 8]
    short = len(tok("short", add_special_tokens=False)["input_ids"])
    assert stats["dropped_tokens"] == len(body) % 8 + short  # tails dropped, "short" never packed


def test_lines_are_encoded_like_the_whole_text(tok):
    from thunlp_repro.shared.corpora import _encode

    doc = "\n".join(f"line {i} has words." for i in range(100))
    assert _encode([doc], tok)[0] == tok(doc, add_special_tokens=False)["input_ids"]


def test_bad_arguments(tok, fake_corpora, tmp_path):
    with pytest.raises(UsageError, match="packing"):
        pack_documents(DOCS, tok, packing="bogus")
    with pytest.raises(UsageError, match="too small"):
        pack_documents(DOCS, tok, block_size=2, packing="complete")
    with pytest.raises(UsageError, match="split"):
        pack_corpus("alpha", tok, split="test", cache_dir=tmp_path)
    with pytest.raises(UsageError, match="max_tokens"):
        pack_corpus("alpha", tok, block_size=16, max_tokens=8, cache_dir=tmp_path)
    with pytest.raises(KeyError, match="did you mean 'alpha'"):
        pack_corpus("alpah", tok, cache_dir=tmp_path)


def test_pack_corpus_is_deterministic_and_cached(tok, fake_corpora, tmp_path, monkeypatch):
    a = pack_corpus("alpha", tok, block_size=32, cache_dir=tmp_path)
    files = list(tmp_path.glob("alpha-train-s0-concat-*-32.pt"))
    assert len(files) == 1
    fp = tokenizer_fingerprint(tok)
    assert fp[:16] in files[0].name and len(fp) == 64
    assert a.dtype == torch.long and a.shape[1] == 32 and a.shape[0] > 10

    def boom(*args, **kwargs):
        raise AssertionError("cache miss")

    monkeypatch.setattr(corpora, "pack_documents", boom)
    b = pack_corpus("alpha", tok, block_size=32, cache_dir=tmp_path)
    assert torch.equal(a, b) and b.dtype == torch.long


def test_default_cache_dir_and_uncached_path(tok, fake_corpora, tmp_path, monkeypatch):
    monkeypatch.setenv("THUNLP_REPRO_HOME", str(tmp_path / "home"))
    b = pack_corpus("alpha", tok, block_size=32, cache=False)
    assert not (tmp_path / "home").exists()
    a = pack_corpus("alpha", tok, block_size=32)
    assert torch.equal(a, b)
    assert len(list((tmp_path / "home" / "corpora").glob("alpha-train-s0-concat-*-32.pt"))) == 1


def test_corrupt_cache_is_rebuilt(tok, fake_corpora, tmp_path):
    a = pack_corpus("alpha", tok, block_size=32, cache_dir=tmp_path)
    (path,) = tmp_path.glob("alpha-*.pt")
    path.write_bytes(path.read_bytes()[:100])  # truncated
    assert torch.equal(pack_corpus("alpha", tok, block_size=32, cache_dir=tmp_path), a)
    path.write_bytes(b"not a torch file")
    assert torch.equal(pack_corpus("alpha", tok, block_size=32, cache_dir=tmp_path), a)
    torch.save({"blocks": torch.zeros(3, 7, dtype=torch.int32), "meta": {}}, path)  # foreign
    assert torch.equal(pack_corpus("alpha", tok, block_size=32, cache_dir=tmp_path), a)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files


def test_format_bump_invalidates_the_cache(tok, fake_corpora, tmp_path, monkeypatch):
    pack_corpus("alpha", tok, block_size=32, cache_dir=tmp_path)
    calls = []
    real = corpora.pack_documents
    monkeypatch.setattr(corpora, "pack_documents", lambda *a, **k: calls.append(1) or real(*a, **k))
    pack_corpus("alpha", tok, block_size=32, cache_dir=tmp_path)
    assert calls == []
    monkeypatch.setattr(corpora, "CORPUS_FORMAT", corpora.CORPUS_FORMAT + 1)
    pack_corpus("alpha", tok, block_size=32, cache_dir=tmp_path)
    assert calls == [1]


def test_another_tokenizer_never_reuses_a_cache(tok, fake_corpora, tmp_path):
    from thunlp_repro.shared.models import tiny_tokenizer

    other = tiny_tokenizer()
    assert tokenizer_fingerprint(other) == tokenizer_fingerprint(tok)
    other.add_tokens(["qu"])
    assert tokenizer_fingerprint(other) != tokenizer_fingerprint(tok)
    a = pack_corpus("alpha", tok, block_size=32, cache_dir=tmp_path)
    b = pack_corpus("alpha", other, block_size=32, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("alpha-train-*.pt"))) == 2
    assert not torch.equal(a[: len(b)], b[: len(a)])


def test_cache_key_has_split_seed_packing_and_block(tok, fake_corpora, tmp_path):
    pack_corpus("alpha", tok, block_size=32, cache_dir=tmp_path)
    pack_corpus("alpha", tok, block_size=32, seed=1, cache_dir=tmp_path)
    pack_corpus("alpha", tok, block_size=16, cache_dir=tmp_path)
    pack_corpus("alpha", tok, block_size=32, split="validation", cache_dir=tmp_path)
    pack_corpus("alpha", tok, block_size=32, packing="complete", cache_dir=tmp_path)
    pack_corpus("beta", tok, block_size=32, seed=5, cache_dir=tmp_path)
    names = sorted(p.name for p in tmp_path.glob("*.pt"))
    assert len(names) == 6
    assert any(n.startswith("beta-train-fixed-concat-") for n in names)


def test_mixture_stacks_domains_and_splits_the_budget(tok, fake_corpora, tmp_path):
    kw = {"block_size": 16, "cache_dir": tmp_path}
    a, b = pack_corpus("alpha", tok, **kw), pack_corpus("beta", tok, **kw)
    mix = pack_corpus("mix", tok, **kw)
    assert torch.equal(mix, torch.cat([a, b]))
    capped = pack_corpus("mix", tok, max_tokens=16 * 5 + 3, **kw)
    assert torch.equal(capped, torch.cat([a[:3], b[:2]]))
    stats = pack_stats("mix", tok, **kw)
    assert set(stats) == {"alpha", "beta"}
    assert stats["alpha"]["blocks"] == len(a) and stats["beta"]["words"] > 0


def test_sample_blocks_is_seeded():
    x = torch.arange(200).reshape(50, 4)
    a, b = sample_blocks(x, 10, seed=0), sample_blocks(x, 10, seed=0)
    assert torch.equal(a, b) and a.shape == (10, 4)
    assert not torch.equal(a, sample_blocks(x, 10, seed=1))
    assert sample_blocks(x, 99).shape == (50, 4)
