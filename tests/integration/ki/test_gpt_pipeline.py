"""The GPT arm end to end on the smoke preset (ki.md §4.8, §4.10): hooks in both KD modes, the
`ki/gpt` experiment, its report section, the `topk-check` CLI, and (slow) the real SmolLM2 check.

Corpora are replaced by synthetic blocks of the tiny tokenizer (`load_causal_blocks` is the one
place the arm reads blocks) and `THUNLP_REPRO_HOME` points into tmp_path, so the teacher cache of
these tests never touches the user's.
"""

from __future__ import annotations

import json
import zlib

import pytest
import torch
from typer.testing import CliRunner

from thunlp_repro.cli import ki as ki_cli
from thunlp_repro.ki import data as ki_data
from thunlp_repro.ki.config import KIConfig
from thunlp_repro.shared.config import load_config
from thunlp_repro.shared.rundir import RunDir

FAST = ["train.max_steps=8", "ki.stop_step=4", "train.eval_every=4", "train.log_every=1",
        "data.block_size=16", "data.val_blocks=4", "gpt.pool_blocks=32",
        "optim.warmup_ratio=0.0"]  # fmt: skip


@pytest.fixture(autouse=True)
def fake_blocks(monkeypatch, tmp_path):
    from thunlp_repro.shared.models import tiny_tokenizer

    n_tok = len(tiny_tokenizer())
    monkeypatch.setenv("THUNLP_REPRO_HOME", str(tmp_path / "home"))

    def load(corpus, tokenizer, block_size, split, seed, max_tokens):
        out = {}
        for dom in ("alpha", "beta"):
            g = torch.Generator().manual_seed(zlib.crc32(f"{corpus}|{split}|{dom}".encode()))
            n = 48 if split == "train" else 12
            # a learnable pattern (a noisy walk over the vocabulary) so PPL falls within steps
            steps = torch.randint(0, 3, (n, block_size), generator=g).cumsum(1)
            out[dom] = 5 + (steps + torch.randint(0, n_tok - 5, (n, 1), generator=g)) % (n_tok - 5)
        return out

    monkeypatch.setattr(ki_data, "load_causal_blocks", load)


def _cfg(*extra):
    return load_config(KIConfig, pipeline="ki", preset="smoke-gpt", overrides=[*FAST, *extra])[0]


def _engine(cfg, path, **kw):
    from thunlp_repro.ki.causal import CausalKIHooks
    from thunlp_repro.shared.trainer import Engine

    hooks = CausalKIHooks(cfg, **kw)
    engine = Engine(cfg, hooks, RunDir.open("ki", run_dir=path))
    hooks.bind(engine.state)
    return hooks, engine


def test_live_teacher_runs_only_before_T_and_stays_frozen(tmp_path):
    from thunlp_repro.ki.hooks import freeze_check

    cfg = _cfg("gpt.kd=full-live")
    hooks, engine = _engine(cfg, tmp_path / "live")
    fit = engine.fit()
    assert hooks.cache is None and hooks.teacher is not None
    assert hooks.teacher_calls == hooks.kd_calls == cfg.stop_step()  # α_t > 0 exactly for t < T
    freeze_check(hooks.teacher)
    last = fit.state.history[-1]
    assert last["flops_teacher"] == pytest.approx(hooks.ledger.teacher * cfg.stop_step())
    assert set(last) >= {"ppl", "ppl_alpha", "ppl_beta", "flops_total", "wall_s", "kd_calls"}


def test_cached_step_equals_live_topk_and_after_T_equals_scratch(tmp_path):
    from thunlp_repro.ki.causal import CausalKIHooks
    from thunlp_repro.ki.inheritance import teacher_topk, topk_kl
    from thunlp_repro.shared.trainer.state import TrainState

    ki = CausalKIHooks(_cfg())
    model, _ = ki.build_model(ki.cfg)
    assert ki.cache is not None and ki.cache.k == 32 and ki.cache.n_blocks == 32
    assert ki.cache_fill["fill_flops"] > 0 and ki.ledger.teacher > 0
    scratch = CausalKIHooks(_cfg("ki.schedule=none", "teacher.name=null"))
    model_s, _ = scratch.build_model(scratch.cfg)
    model_s.load_state_dict(model.state_dict())
    idx = torch.tensor([5, 17, 3, 30])
    batch = {"ids": ki.pool[idx], "idx": idx}
    got = ki.compute_loss(dict(batch), model.eval(), TrainState(step=1)).loss_sum
    # the same step with the live teacher's top-k (as cached: fp16 logits)
    from thunlp_repro.ki.causal import load_causal_teacher

    teacher = load_causal_teacher(ki.cfg.teacher.name, ki.tokenizer)
    V = ki.vocab
    with torch.no_grad():
        s = model(batch["ids"])[..., :V].reshape(-1, V)
        t = teacher(input_ids=batch["ids"]).logits[:, :-1, :V].reshape(-1, V)
    ids, vals, lse = teacher_topk(t, 32, 2.0)
    a = ki.alpha(1)
    nll = torch.nn.functional.cross_entropy(s, batch["ids"][:, 1:].reshape(-1), reduction="sum")
    kd = 4.0 * topk_kl(s, ids, vals.half().float(), lse, 2.0)[0].sum()
    torch.testing.assert_close(got.detach(), (1 - a) * nll + a * kd, rtol=1e-5, atol=1e-4)
    after = TrainState(step=ki.stop)
    calls = ki.kd_calls
    x = ki.compute_loss(dict(batch), model, after).loss_sum
    y = scratch.compute_loss(dict(batch), model_s.eval(), after).loss_sum
    assert torch.equal(x, y) and ki.kd_calls == calls and scratch.cache is None


def test_gpt_experiment_end_to_end_and_report(tmp_path, run_root, monkeypatch):
    from thunlp_repro.ki import experiments as ex
    from thunlp_repro.ki.report import ki_section
    from thunlp_repro.ki.runs import user_settings
    from thunlp_repro.shared.experiments import EXPERIMENTS
    from thunlp_repro.shared.io import read_json
    from thunlp_repro.shared.reporting.results import SOURCE_KEY

    assert "ki/gpt" in EXPERIMENTS
    out = tmp_path / "results" / "smoke" / "ki" / "gpt.json"
    with user_settings(None, FAST):
        ex.RUNNERS["gpt"]("smoke", out, False)
    doc = read_json(out)
    m = doc["metrics"]
    assert doc["run_info"]["table"] == "gpt"
    assert set(m["acceptance"]) == {"M16", "M17"}
    assert m["acceptance"]["M16"]["status"] in ("PASS", "FAIL")
    checks = m["topk_check"]["checks"]
    assert set(checks) == {"init", "mid-s0", "mid-s1"}
    assert [r["k"] for r in checks["init"]["rows"]] == [8, 16, 32, 64]
    assert m["acceptance"]["M17"]["value"]["k"] == 32
    assert m["teacher_ppl"] > 1 and m["cache"]["k"] == 32
    assert len(m["scratch"]) == len(m["ki"]) == 2
    assert all(r["teacher_calls"] == 0 and r["kd_calls"] == 4 for r in m["ki"])  # cached KD
    runs = sorted(p.name for p in (run_root / "ki").iterdir())
    assert len(runs) == 4 and all((run_root / "ki" / r / "export" / "meta.json").is_file()
                                  for r in runs)  # fmt: skip
    assert all((run_root / "ki" / r / "mid" / "config.json").is_file() for r in runs)
    assert len(list((tmp_path / "home" / "ki-topk").glob("*/meta.json"))) == 1  # one shared fill
    # the report renders its own causal section and figure
    text = ki_section([doc], tmp_path)
    assert "GPT arm" in text and "T6 top-k" in text
    assert (tmp_path / "f8.png").is_file() and (tmp_path / "f8-topk.png").is_file()
    assert "M16" in text and "M17" in text
    # a variant (gpt--NAME.json, run with --set) gets its own section and figure
    var = {**doc, "meta": {**doc.get("meta", {}), "user_settings": {"set": ["ki.temperature=1"]}},
           SOURCE_KEY: {"path": "results/smoke/ki/gpt--tau1.json"}}  # fmt: skip
    text = ki_section([doc, var], tmp_path)
    assert text.count("### GPT arm") == 2 and (tmp_path / "f8-topk--tau1.png").is_file()
    assert "### GPT arm, variant gpt (--set ki.temperature=1) (causal LM" in text
    # a second call reuses every finished run (and the cache)
    before = {r: (run_root / "ki" / r / "results.json").stat().st_mtime for r in runs}
    with user_settings(None, FAST):
        ex.RUNNERS["gpt"]("smoke", out, False)
    assert before == {r: (run_root / "ki" / r / "results.json").stat().st_mtime for r in runs}


def test_gpt_needs_a_causal_preset(tmp_path):
    from thunlp_repro.ki import experiments as ex
    from thunlp_repro.shared.errors import UsageError

    with pytest.raises(UsageError, match="causal preset mini-e3-gpt.yaml"):
        ex.RUNNERS["gpt"]("mini-e3", tmp_path / "x.json", False)


def test_gpt_at_paper_scale_offline_fails_with_one_line(tmp_path, monkeypatch):
    from thunlp_repro.ki import data as ki_data
    from thunlp_repro.ki import experiments as ex
    from thunlp_repro.shared.errors import ReproError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ki_data.load_tokenizer.cache_clear()
    with pytest.raises(ReproError, match="HuggingFaceTB/SmolLM2-135M") as info:
        ex.RUNNERS["gpt"]("paper", tmp_path / "x.json", False)
    assert "\n" not in str(info.value)


def test_cli_topk_check_and_pretrain(tmp_path, run_root):
    runner = CliRunner()
    sets = sum((["--set", s] for s in FAST), [])
    res = runner.invoke(ki_cli.app, ["topk-check", "--preset", "smoke-gpt", *sets, "--out",
                                     str(tmp_path / "k.json")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "smallest k with ratio >= 0.9" in res.output
    assert json.loads((tmp_path / "k.json").read_text())["configured_k"] == 32
    bad = runner.invoke(ki_cli.app, ["topk-check", "--preset", "smoke"])
    assert bad.exit_code != 0 and "causal preset" in bad.output
    res = runner.invoke(ki_cli.app, ["pretrain", "--preset", "smoke-gpt", "--name", "g", *sets])
    assert res.exit_code == 0, res.output
    assert (run_root / "ki" / "g" / "results.json").is_file()
    assert runner.invoke(ki_cli.app, ["compare", "-e", "gpt", "--help"]).exit_code == 0


@pytest.mark.slow
def test_real_smollm2_topk_check_on_8_sequences(monkeypatch):
    """The real teacher: tail mass and KL_k/KL_full for k in {32, ..., 4096} at init (≈1 min on
    2 idle cores: one SmolLM2 forward over 8 x 128 tokens)."""
    from tests.conftest import require_assets

    monkeypatch.undo()  # the real corpora and the user's cache home, not the fakes
    require_assets("smollm2-135m", "shakespeare", "kjv", "movie-dialog")
    from thunlp_repro.ki.gpt_arm import run_topk_check

    cfg = load_config(KIConfig, pipeline="ki", preset="mini-gpt")[0]
    res = run_topk_check(cfg, {"init": None})
    rows = res["checks"]["init"]["rows"]
    assert [r["k"] for r in rows][:4] == [32, 64, 128, 256]
    tails = [r["tail_mass"] for r in rows]
    ratios = [r["ratio"] for r in rows]
    assert tails == sorted(tails, reverse=True) and ratios == sorted(ratios)
    assert all(0 < r <= 1.001 for r in ratios)
    assert res["checks"]["init"]["kl_full_mean"] > 0
