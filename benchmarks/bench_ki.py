"""A KI training step against a plain MLM step of the same student, in the same run.

The ratio KI step / plain step is the teacher forward's overhead (plus the KL); both are timed
interleaved on the Engine so machine load hits them alike. Student s-4x256 with a t-2x128
teacher at 16 x 128 tokens (the mini shapes, ki.md §4.6), random weights, synthetic tokens.
Recorded in `benchmark.extra_info`, never a gate (the CI box is shared).
"""

from __future__ import annotations

import copy
import statistics
import time

import pytest
import torch

from thunlp_repro.ki import data as ki_data
from thunlp_repro.ki.config import KIConfig
from thunlp_repro.shared.config import load_config
from thunlp_repro.shared.rundir import RunDir
from thunlp_repro.shared.trainer import Engine

BATCH, SEQ = 16, 128


def _engine(tmp_path, name, schedule):
    from thunlp_repro.ki.hooks import KIHooks

    sets = ["data.tokenizer=minilm-l6", f"ki.schedule={schedule}", "train.max_steps=100000",
            "ki.stop_step=100000", "train.eval_every=0", "model.arch=s-4x256"]  # fmt: skip
    sets.append("teacher.name=random:t-2x128" if schedule != "none" else "teacher.name=null")
    cfg, _ = load_config(KIConfig, overrides=sets)
    hooks = KIHooks(cfg)
    engine = Engine(cfg, hooks, RunDir.open("bench", run_dir=tmp_path / name))
    hooks.bind(engine.state)
    engine.setup()
    return engine


@pytest.mark.benchmark(group="ki-step")
def test_ki_step_vs_plain_mlm_step(benchmark, tmp_path, monkeypatch):
    from thunlp_repro.shared.assets import is_installed

    if not is_installed("minilm-l6"):
        pytest.skip("needs the minilm-l6 tokenizer: thunlp-repro assets install minilm-l6")
    tok = ki_data.load_tokenizer("minilm-l6")
    g = torch.Generator().manual_seed(0)
    blocks = torch.randint(1000, len(tok), (64, SEQ), generator=g)
    blocks[:, 0], blocks[:, -1] = tok.cls_token_id, tok.sep_token_id
    monkeypatch.setattr(ki_data, "load_blocks",
                        lambda *a, **k: {"synthetic": blocks})  # fmt: skip
    plain, ki = _engine(tmp_path, "plain", "none"), _engine(tmp_path, "ki", "constant-half")
    batch = {"ids": blocks[:BATCH], "idx": torch.arange(BATCH)}

    def step(engine):
        engine.train_step([copy.copy(batch)], want_metrics=False)

    for _ in range(2):
        step(plain)
        step(ki)
    t_plain, t_ki = [], []
    for _ in range(8):
        t = time.perf_counter()
        step(plain)
        t_plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        step(ki)
        t_ki.append(time.perf_counter() - t)
    ratio = statistics.median(t_ki) / statistics.median(t_plain)
    benchmark.extra_info.update({
        "plain_step_median_s": statistics.median(t_plain),
        "ki_step_median_s": statistics.median(t_ki),
        "ratio_ki_over_plain": ratio,
        "samples_per_s_plain": BATCH / statistics.median(t_plain),
        "samples_per_s_ki": BATCH / statistics.median(t_ki),
        "flop_ratio_model": 1 + ki.hooks.ledger.teacher / ki.hooks.ledger.student,
    })  # fmt: skip
    print(f"\nKI/plain step time ratio {ratio:.3f} (FLOP model "
          f"{1 + ki.hooks.ledger.teacher / ki.hooks.ledger.student:.3f}); plain "
          f"{BATCH / statistics.median(t_plain):.1f} samples/s, KI "
          f"{BATCH / statistics.median(t_ki):.1f} samples/s")  # fmt: skip
    benchmark.pedantic(lambda: step(ki), rounds=3, iterations=1)
