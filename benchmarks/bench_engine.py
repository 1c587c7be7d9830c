"""The Engine's training step against a bare PyTorch loop: same model, batch and optimizer.

Goal (foundation issue): engine step time / bare step time <= 1.05. Both are timed in the same
run, interleaved, so machine load affects them alike; the ratio of medians is printed and stored
in the benchmark JSON (`extra_info`). Recorded, never a gate: the CI box is shared.
"""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import dataclass, field

import pytest
import torch

from thunlp_repro.shared.config import EvalConfig, OptimConfig, RuntimeConfig, TrainConfig
from thunlp_repro.shared.rundir import RunDir
from thunlp_repro.shared.trainer import DataBundle, Engine, EngineHooks, LossOutput

BATCH, SEQ, VOCAB = 16, 64, 1000


@dataclass
class BenchConfig:
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            global_batch_size=BATCH, micro_batch_size=BATCH, max_steps=10**6, eval_every=0
        )
    )
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-4, scheduler="linear"))
    eval: EvalConfig = field(default_factory=EvalConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)


def _model() -> torch.nn.Module:
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=VOCAB,
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=1024,
        max_position_embeddings=128,
    )
    return BertForSequenceClassification(cfg)


class ClassifyHooks(EngineHooks):
    def __init__(self, model: torch.nn.Module, rows: list[dict]):
        self.m, self.rows = model, rows

    def build_model(self, cfg):
        return self.m, None

    def build_data(self, cfg):
        return DataBundle(train=self.rows, collate_fn=collate)

    def compute_loss(self, batch, model, state):
        logits = model(input_ids=batch["input_ids"]).logits
        return LossOutput(
            torch.nn.functional.cross_entropy(logits, batch["labels"], reduction="sum")
        )


def collate(rows):
    return {k: torch.stack([r[k] for r in rows]) for k in rows[0]}


def _rows(n: int = 64) -> list[dict]:
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, VOCAB, (n, SEQ), generator=gen)
    labels = torch.randint(0, 2, (n,), generator=gen)
    return [{"input_ids": ids[i], "labels": labels[i]} for i in range(n)]


@pytest.mark.benchmark(group="engine-step")
def test_engine_step_vs_bare_pytorch(benchmark, tmp_path):
    rows = _rows()
    batch = collate(rows[:BATCH])
    engine_model, bare_model = _model(), _model()

    engine = Engine(
        BenchConfig(),
        ClassifyHooks(engine_model, rows),
        RunDir.open("bench", run_dir=tmp_path / "run"),
    )
    engine.setup()
    device = engine.accelerator.device
    bare_model.to(device)
    batch = {k: v.to(device) for k, v in batch.items()}

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    from transformers import get_scheduler

    bare_opt = torch.optim.AdamW(
        [
            {"params": [p for p in bare_model.parameters() if p.ndim >= 2], "weight_decay": 0.01},
            {"params": [p for p in bare_model.parameters() if p.ndim < 2], "weight_decay": 0.0},
        ],
        lr=1e-4,
    )
    bare_sched = get_scheduler("linear", bare_opt, 0, 10**6)

    def bare_step():
        bare_model.train()
        logits = bare_model(input_ids=batch["input_ids"]).logits
        loss = torch.nn.functional.cross_entropy(logits, batch["labels"], reduction="sum") / BATCH
        loss.backward()
        torch.nn.utils.clip_grad_norm_(bare_model.parameters(), 1.0)
        bare_opt.step()
        bare_sched.step()
        bare_opt.zero_grad(set_to_none=True)

    def engine_step():
        engine.train_step([copy.copy(batch)], want_metrics=False)

    for _ in range(3):  # warm-up both
        bare_step()
        engine_step()
    bare_t, engine_t = [], []
    for _ in range(15):  # interleaved, so drift in machine load hits both alike
        sync()
        t = time.perf_counter()
        bare_step()
        sync()
        bare_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        engine_step()
        sync()
        engine_t.append(time.perf_counter() - t)
    ratio = statistics.median(engine_t) / statistics.median(bare_t)
    benchmark.extra_info.update(
        {
            "bare_step_median_s": statistics.median(bare_t),
            "engine_step_median_s": statistics.median(engine_t),
            "ratio_engine_over_bare": ratio,
            "goal": "<= 1.05",
            "device": str(device),
            "samples_per_s_engine": BATCH / statistics.median(engine_t),
        }
    )
    print(
        f"\nengine/bare step time ratio: {ratio:.3f} (goal <= 1.05); "
        f"engine {statistics.median(engine_t) * 1e3:.1f} ms, "
        f"bare {statistics.median(bare_t) * 1e3:.1f} ms per step"
    )
    benchmark.pedantic(engine_step, rounds=10, iterations=1)
