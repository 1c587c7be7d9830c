"""KI end to end on a tiny setup (ki.md §2.9 tests 2, 5, 6; resume; regression; CLI smoke).

Corpora are replaced by synthetic blocks of the tiny tokenizer (`load_blocks` is the one place
blocks are read), so the whole file runs in well under a minute on 2 cores.
"""

from __future__ import annotations

import hashlib
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

BASE = ["data.tokenizer=tiny", "data.block_size=16", "data.val_blocks=8", "model.arch=s-2x64",
        "teacher.name=random:t-1x32", "ki.stop_step=6", "train.max_steps=10",
        "train.global_batch_size=4", "train.micro_batch_size=4", "train.eval_every=5",
        "train.log_every=1", "optim.warmup_ratio=0.0"]  # fmt: skip


@pytest.fixture(autouse=True)
def fake_blocks(monkeypatch):
    from thunlp_repro.shared.models import tiny_tokenizer

    tok = tiny_tokenizer()

    def load(corpus, tokenizer, block_size, split, seed, max_tokens):
        g = torch.Generator().manual_seed(zlib.crc32(f"{corpus}|{split}".encode()))
        out = {}
        for _d, dom in enumerate(("alpha", "beta")):
            n = 40 if split == "train" else 12
            body = torch.randint(5, len(tok), (n, block_size - 2), generator=g)
            out[dom] = torch.cat([torch.full((n, 1), tok.cls_token_id), body,
                                  torch.full((n, 1), tok.sep_token_id)], 1)  # fmt: skip
        return out

    monkeypatch.setattr(ki_data, "load_blocks", load)


def _cfg(*extra):
    return load_config(KIConfig, overrides=[*BASE, *extra])[0]


def _run(cfg, path, resume=None):
    from thunlp_repro.ki.hooks import KIHooks
    from thunlp_repro.shared.trainer import Engine

    run = RunDir.open("ki", run_dir=path, resume=resume is not None)
    hooks = KIHooks(cfg)
    engine = Engine(cfg, hooks, run)
    hooks.bind(engine.state)
    fit = engine.fit(resume=resume)
    return hooks, engine, fit


def _hash(model):
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode() + v.cpu().numpy().tobytes())
    return h.hexdigest()


def test_frozen_teacher_same_input_and_no_teacher_after_T(tmp_path):
    from thunlp_repro.ki.hooks import KIHooks, build_teacher, freeze_check

    cfg = _cfg()
    teacher = build_teacher("random:t-1x32", ki_data.load_tokenizer("tiny"))
    before = _hash(teacher)
    calls = []
    real = teacher.forward

    hooks = KIHooks(cfg, teacher=teacher)
    from thunlp_repro.shared.trainer import Engine

    engine = Engine(cfg, hooks, RunDir.open("ki", run_dir=tmp_path / "r"))
    hooks.bind(engine.state)
    orig = hooks.compute_loss

    def spy(batch, model, state):
        out = orig(batch, model, state)
        calls.append((state.step, hooks.teacher_calls))
        if hooks.last_teacher_input is not None and state.step < cfg.stop_step():
            assert hooks.last_teacher_input is hooks.last_student_input  # same tensor object
        return out

    hooks.compute_loss = spy
    engine.fit()
    assert _hash(teacher) == before
    freeze_check(teacher)
    assert teacher.forward == real
    # the teacher ran exactly on steps t < T (α_t > 0), never after
    assert hooks.teacher_calls == cfg.stop_step()
    assert [c for s, c in calls if s >= cfg.stop_step()] == [cfg.stop_step()] * 4
    ids = torch.randint(5, 100, (2, 16))
    with torch.no_grad():
        assert torch.equal(teacher(input_ids=ids).logits, teacher(input_ids=ids).logits)


def test_after_T_loss_is_the_scratch_loss(tmp_path):
    from thunlp_repro.ki.hooks import KIHooks

    ki, scratch = KIHooks(_cfg()), KIHooks(_cfg("ki.schedule=none", "teacher.name=null"))
    model_ki, _ = ki.build_model(ki.cfg)
    model_s, _ = scratch.build_model(scratch.cfg)
    model_s.load_state_dict(model_ki.state_dict())
    from thunlp_repro.shared.trainer.state import TrainState

    state = TrainState(step=6)
    batch = {
        "ids": ki_data.load_blocks("x", None, 16, "train", 0, None)["alpha"][:4],
        "idx": torch.arange(4),
    }
    a = ki.compute_loss(dict(batch), model_ki.eval(), state).loss_sum
    b = scratch.compute_loss(dict(batch), model_s.eval(), state).loss_sum
    assert torch.equal(a, b)
    assert ki.teacher_calls == 0 and scratch.teacher is None


def test_resume_mid_inheritance_equals_uninterrupted(tmp_path):
    cfg = _cfg("train.save_every=3", "train.save_total_limit=5")
    _, eng_a, fit_a = _run(cfg, tmp_path / "a")
    import shutil

    # keep only the step-3 checkpoint (mid-inheritance: T = 6) and resume from it to the end
    (tmp_path / "c" / "checkpoints").mkdir(parents=True)
    shutil.copytree(tmp_path / "a" / "checkpoints" / "step_00000003",
                    tmp_path / "c" / "checkpoints" / "step_00000003")  # fmt: skip
    hooks_c, eng_c, fit_c = _run(cfg, tmp_path / "c", resume="auto")
    assert hooks_c.teacher_calls == 3  # steps 3, 4, 5 after resuming (α_t > 0 for t < 6)
    a = eng_a.accelerator.unwrap_model(eng_a.model).state_dict()
    c = eng_c.accelerator.unwrap_model(eng_c.model).state_dict()
    assert all(torch.allclose(a[k], c[k], atol=1e-6) for k in a)
    assert fit_c.final_eval["ppl"] == pytest.approx(fit_a.final_eval["ppl"], rel=1e-5)


def test_seeded_tiny_run_regression(tmp_path, update_expected):
    from thunlp_repro.ki.pipeline import run_pretrain

    run = RunDir.open("ki", run_dir=tmp_path / "reg")
    m = run_pretrain(_cfg(), run, preset="test")
    got = [round(e["ppl"], 4) for e in m["evals"]]
    path = __import__("pathlib").Path(__file__).with_name("expected_ki.json")
    if update_expected or not path.is_file():
        path.write_text(json.dumps({"ppl": got}) + "\n")
    expected = json.loads(path.read_text())["ppl"]
    torch.testing.assert_close(torch.tensor(got), torch.tensor(expected), rtol=1e-4, atol=0)
    assert m["teacher_calls"] == 6 and m["flops_teacher"] > 0
    assert (run.path / "export" / "config.json").is_file()
    assert (run.path / "export" / "meta.json").is_file()


def test_cli_pretrain_and_errors(run_root):
    runner = CliRunner()
    args = ["pretrain", "--preset", "smoke", "--name", "cli"] + sum(
        (["--set", s] for s in [*BASE, "train.max_steps=4", "ki.stop_step=2"]), []
    )
    res = runner.invoke(ki_cli.app, args)
    assert res.exit_code == 0, res.output
    run = run_root / "ki" / "cli"
    for name in ("config.yaml", "command.txt", "env.json", "log.txt", "metrics.jsonl",
                 "results.json", "export/config.json"):  # fmt: skip
        assert (run / name).is_file(), name
    bad = runner.invoke(ki_cli.app, ["pretrain", "--preset", "smoke", "--set",
                                     "ki.schedule=linear-decy"])  # fmt: skip
    assert bad.exit_code == 2 and "did you mean" in bad.output
    # experiment verbs layer --set over the preset for every run; a bad key fails before training
    bad = runner.invoke(ki_cli.app, ["compare", "--preset", "smoke", "--set", "exp.seedz=[0]"])
    assert bad.exit_code == 2 and "exp.seedz" in bad.output
    assert not list((run_root / "ki").glob("smoke-*"))
    for verb in ("pretrain", "compare", "sweep", "domain", "downstream", "report", "list"):
        assert runner.invoke(ki_cli.app, [verb, "--help"]).exit_code == 0
    assert "ki/e1-ki-vs-scratch" in runner.invoke(ki_cli.app, ["list"]).output


def test_every_preset_validates():
    from thunlp_repro.shared.config import list_presets

    for preset in list_presets("ki"):
        cfg, _ = load_config(KIConfig, pipeline="ki", preset=preset)
        assert cfg.train.max_steps >= 1
