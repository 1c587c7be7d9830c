"""GPT arm pieces (ki.md §4.8, §2.9 tests 2, 10, 13): top-k KL on causal logits, the teacher
cache (round trip, key, resume), cached vs live KD, the tokenizer contract for causal teachers."""

from __future__ import annotations

import json

import pytest
import torch

from thunlp_repro.ki.archs import build_mlm
from thunlp_repro.ki.causal import causal_ki_loss_sum, load_causal_teacher
from thunlp_repro.ki.inheritance import kd_sum, teacher_topk, topk_kl
from thunlp_repro.ki.tokenizer_contract import TokenizerMismatchError
from thunlp_repro.ki.topk_cache import (
    CacheKey,
    fill_cache,
    find_cache,
    pool_fingerprint,
)
from thunlp_repro.ki.topk_check import choose_k, full_kl_per_position, topk_calibration
from thunlp_repro.shared.errors import ConfigError
from thunlp_repro.shared.models import tiny_tokenizer

TAU = 2.0


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def teacher(tok):
    torch.manual_seed(7)
    return build_mlm("llama-1x32", tok).eval().requires_grad_(False)


def _blocks(tok, n=6, s=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(5, len(tok), (n, s), generator=g)


def _key(tok, pool, k=8, tau=TAU):
    return CacheKey(teacher="random:llama-1x32|test", tokenizer="tiny", pool=pool_fingerprint(pool),
                    k=k, tau=tau, vocab=len(tok), positions=pool.shape[1] - 1)  # fmt: skip


def test_topk_kl_on_causal_logits_exact_at_V_and_below_otherwise(tok, teacher):
    torch.manual_seed(1)
    student = build_mlm("llama-1x64", tok).eval()
    ids = _blocks(tok, 3, 12)
    V = len(tok)
    with torch.no_grad():
        s = student(input_ids=ids).logits[:, :-1, :V].reshape(-1, V)
        t = teacher(input_ids=ids).logits[:, :-1, :V].reshape(-1, V)
    full = full_kl_per_position(s, t, TAU)
    assert full.sum().item() == pytest.approx(kd_sum(s, t, TAU).item() / TAU**2, rel=1e-5)
    kl_v, r_v = topk_kl(s, *teacher_topk(t, V, TAU), TAU)
    torch.testing.assert_close(kl_v, full, rtol=1e-4, atol=1e-6)
    assert r_v.abs().max().item() < 1e-5
    for k in (1, 8, 32, V - 1):
        kl, r = topk_kl(s, *teacher_topk(t, k, TAU), TAU)
        assert (kl <= full + 1e-5).all()
        assert ((r >= 0) & (r <= 1)).all()


def test_calibration_reports_tail_mass_and_ratio(tok, teacher):
    torch.manual_seed(2)
    student = build_mlm("llama-1x64", tok)
    res = topk_calibration(student, teacher, _blocks(tok, 4, 16), [4, 16, 64, 500], TAU, len(tok))
    rows = res["rows"]
    assert res["positions"] == 4 * 15
    assert [r["k_used"] for r in rows] == [4, 16, 64, len(tok)]  # k capped at V
    tails = [r["tail_mass"] for r in rows]
    assert tails == sorted(tails, reverse=True) and tails[-1] < 1e-3
    assert all(r["ratio_fp32"] <= 1 + 1e-5 for r in rows)
    assert rows[-1]["ratio_fp32"] == pytest.approx(1.0, abs=1e-4)
    checks = [
        {"rows": [{"k": 4, "ratio": 0.5}, {"k": 8, "ratio": 0.95}, {"k": 16, "ratio": 1}]},
        {"rows": [{"k": 4, "ratio": 0.9}, {"k": 8, "ratio": 0.85}, {"k": 16, "ratio": 1}]},
    ]
    assert choose_k(checks) == 16 and choose_k(checks[:1]) == 8


def test_cache_round_trip_and_key(tmp_path, tok, teacher):
    pool = _blocks(tok, 7, 16)
    key = _key(tok, pool)
    cache = fill_cache(key, teacher, pool, batch_size=3, root=tmp_path,
                       extra_meta={"teacher_shape": {"x": 1}})  # fmt: skip
    assert cache.ids.dtype.name == "uint16" and cache.logits.dtype.name == "float16"
    assert cache.lse.dtype.name == "float32" and cache.ids.shape == (7, 15, 8)
    assert cache.meta["teacher_shape"] == {"x": 1} and cache.key == key
    assert cache.nbytes() == 7 * 15 * (8 * 4 + 4)
    with torch.no_grad():
        z = teacher(input_ids=pool).logits[:, :-1, : len(tok)]
    ids, vals, lse = teacher_topk(z, 8, TAU)
    got = cache.lookup([4, 0, 6])
    sel = torch.tensor([4, 0, 6])
    assert torch.equal(got.ids, ids[sel])
    assert torch.equal(got.logits, vals[sel].half().float())
    torch.testing.assert_close(got.lse, lse[sel], rtol=0, atol=1e-6)
    # reopening finds the same folder; any change of k, tau or pool is another key
    assert find_cache(key, tmp_path).path == cache.path
    assert len({key.digest(), _key(tok, pool, k=4).digest(), _key(tok, pool, tau=1.0).digest(),
                _key(tok, pool[:6]).digest()}) == 4  # fmt: skip
    assert find_cache(_key(tok, pool, k=4), tmp_path) is None
    assert not list(tmp_path.glob(".partial-*"))


def test_cache_fill_resumes_and_is_never_half_visible(tmp_path, tok, teacher):
    pool = _blocks(tok, 8, 16, seed=3)
    key = _key(tok, pool)

    def stop_after_first(done, total):
        if done < total:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fill_cache(key, teacher, pool, batch_size=3, root=tmp_path / "a",
                   progress=stop_after_first)  # fmt: skip
    assert find_cache(key, tmp_path / "a") is None  # nothing visible under the final name
    part = tmp_path / "a" / f".partial-{key.digest()}"
    assert json.loads((part / "progress.json").read_text())["done"] == 3
    seen = []
    resumed = fill_cache(key, teacher, pool, batch_size=3, root=tmp_path / "a",
                         progress=lambda d, t: seen.append(d))  # fmt: skip
    assert seen == [6, 8]  # continued after the recorded chunk
    whole = fill_cache(key, teacher, pool, batch_size=8, root=tmp_path / "b")
    for name in ("ids", "logits", "lse"):
        assert (getattr(resumed, name) == getattr(whole, name)).all()
    with pytest.raises(Exception, match="positions per block"):
        fill_cache(_key(tok, pool[:, :10]), teacher, pool, root=tmp_path / "c")


def test_cached_kd_loss_equals_live_topk_loss(tmp_path, tok, teacher):
    pool = _blocks(tok, 4, 16, seed=5)
    cache = fill_cache(_key(tok, pool, k=8), teacher, pool, root=tmp_path)
    torch.manual_seed(3)
    student = build_mlm("llama-1x64", tok)
    V = len(tok)
    idx = torch.tensor([2, 0])
    s = student(input_ids=pool[idx]).logits[:, :-1, :V].reshape(-1, V)
    targets = pool[idx][:, 1:].reshape(-1)
    from thunlp_repro.ki.causal import flatten_topk

    cached, parts = causal_ki_loss_sum(s, targets, 0.4, TAU,
                                       topk=flatten_topk(cache.lookup(idx), "cpu"))  # fmt: skip
    with torch.no_grad():
        t = teacher(input_ids=pool[idx]).logits[:, :-1, :V].reshape(-1, V)
    ids, vals, lse = teacher_topk(t, 8, TAU)
    nll = torch.nn.functional.cross_entropy(s, targets, reduction="sum")
    live16 = 0.6 * nll + 0.4 * TAU**2 * topk_kl(s, ids, vals.half().float(), lse, TAU)[0].sum()
    live32 = 0.6 * nll + 0.4 * TAU**2 * topk_kl(s, ids, vals, lse, TAU)[0].sum()
    torch.testing.assert_close(cached, live16, rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(cached, live32, rtol=2e-3, atol=1e-3)  # fp16 storage only
    assert parts["n"] == 30 and 0 < parts["tail_sum"] < 30
    # alpha = 0 is bit-identical to the scratch NLL
    zero, _ = causal_ki_loss_sum(s, targets, 0.0, TAU, topk=flatten_topk(cache.lookup(idx), "cpu"))
    assert torch.equal(zero, nll)
    cached.backward()
    assert all(p.grad is not None for p in student.parameters() if p.requires_grad)


def test_causal_teacher_with_other_tokenizer_fails_clearly(tmp_path, tok):
    from thunlp_repro.ki.hooks import save_hf

    other = tiny_tokenizer()
    other.add_tokens(["zzzz"])
    torch.manual_seed(0)
    save_hf(build_mlm("llama-1x32", other), other, tmp_path / "t")
    with pytest.raises(TokenizerMismatchError, match="teacher tokenizer .* differ"):
        load_causal_teacher(str(tmp_path / "t"), tok)
    save_hf(build_mlm("llama-1x32", tok), tok, tmp_path / "ok")
    t = load_causal_teacher(str(tmp_path / "ok"), tok)
    assert not t.training and not any(p.requires_grad for p in t.parameters())


def test_causal_objective_needs_a_llama_arch():
    from thunlp_repro.ki.config import KIConfig
    from thunlp_repro.shared.config import load_config

    with pytest.raises(ConfigError, match="llama"):
        load_config(KIConfig, overrides=["objective=causal", "model.arch=s-2x64"])
    with pytest.raises(ConfigError, match="gpt.topk"):
        load_config(KIConfig, overrides=["gpt.topk=0"])
    cfg, _ = load_config(KIConfig, pipeline="ki", preset="mini-gpt")
    assert (cfg.objective, cfg.model.arch, cfg.gpt.topk, cfg.stop_step()) == (
        "causal", "llama-4x256", 128, 132)  # fmt: skip


def test_mlm_config_hash_ignores_the_gpt_block():
    from thunlp_repro.ki.config import KIConfig
    from thunlp_repro.ki.pipeline import config_hash
    from thunlp_repro.shared.config import load_config

    a = load_config(KIConfig, overrides=[])[0]
    b = load_config(KIConfig, overrides=["gpt.topk=64"])[0]
    c = load_config(KIConfig, overrides=["objective=causal", "model.arch=llama-1x64"])[0]
    d = load_config(KIConfig, overrides=["objective=causal", "model.arch=llama-1x64",
                                         "gpt.topk=64"])[0]  # fmt: skip
    assert config_hash(a) == config_hash(b)
    assert config_hash(c) != config_hash(d)


def test_llama_student_arch_matches_spec():
    from thunlp_repro.ki.archs import param_counts
    from thunlp_repro.ki.causal import CausalStudent

    class FakeTok:
        pad_token_id = 2

        def __len__(self):
            return 49_152

    m = build_mlm("llama-4x256", FakeTok())
    c = m.config
    assert (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.num_key_value_heads,
            c.intermediate_size, c.tie_word_embeddings) == (4, 256, 4, 2, 688, True)  # fmt: skip
    counts = param_counts(m)
    assert counts["total"] == pytest.approx(15.49e6, rel=2e-3)
    assert counts["non_embedding"] == pytest.approx(2.90e6, rel=2e-3)
    out = CausalStudent(build_mlm("llama-1x32", tiny_tokenizer()))(torch.zeros(2, 5).long())
    assert out.shape[:2] == (2, 4)
