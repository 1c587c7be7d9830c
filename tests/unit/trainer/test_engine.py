"""Engine mechanics: resume equivalence, grad-accumulation equivalence, item normalisation."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch
from torch import nn

from thunlp_repro.shared.config import EvalConfig, OptimConfig, RuntimeConfig, TrainConfig
from thunlp_repro.shared.errors import ConfigError
from thunlp_repro.shared.rundir import RunDir
from thunlp_repro.shared.trainer import DataBundle, Engine, EngineHooks, LossOutput


@dataclass
class TinyConfig:
    train: TrainConfig = field(default_factory=TrainConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    eval: EvalConfig = field(default_factory=lambda: EvalConfig(metric="neg_mse"))
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)


class TokenRegression(EngineHooks):
    """A per-token regression with a variable number of valid tokens per row and dropout.

    Items are valid tokens, so the loss must be normalised by the window's token count.
    """

    def __init__(self, n: int = 20, dropout: float = 0.1, stop_at: int | None = None):
        gen = torch.Generator().manual_seed(123)
        self.x = torch.randn(n, 5, 4, generator=gen)
        self.y = torch.randn(n, 5, generator=gen)
        lengths = torch.randint(1, 6, (n,), generator=gen)
        self.mask = torch.arange(5)[None, :] < lengths[:, None]
        self.dropout, self.stop_at = dropout, stop_at

    def build_model(self, cfg):
        model = nn.Sequential(
            nn.Linear(4, 16), nn.Tanh(), nn.Dropout(self.dropout), nn.Linear(16, 1)
        )
        return model, None

    def build_data(self, cfg):
        rows = list(range(len(self.x)))
        collate = lambda idx: {  # noqa: E731
            "x": self.x[idx],
            "y": self.y[idx],
            "mask": self.mask[idx],
        }
        return DataBundle(train=rows, eval=rows, collate_fn=collate)

    def count_items(self, batch):
        return int(batch["mask"].sum())

    def compute_loss(self, batch, model, state):
        pred = model(batch["x"]).squeeze(-1)
        err = ((pred - batch["y"]) ** 2) * batch["mask"]
        return LossOutput(loss_sum=err.sum())

    def evaluate(self, model, loader, accelerator):
        total, items = 0.0, 0
        for batch in loader:
            total += float(self.compute_loss(batch, model, None).loss_sum)
            items += self.count_items(batch)
        return {"neg_mse": -total / items}

    def on_step_end(self, state, metrics):
        if self.stop_at is not None and state.step == self.stop_at:
            raise KeyboardInterrupt  # simulate a kill after this step


def _cfg(**train) -> TinyConfig:
    cfg = TinyConfig()
    cfg.train = TrainConfig(
        **{
            "global_batch_size": 8,
            "micro_batch_size": 4,
            "max_steps": 12,
            "eval_every": 4,
            "log_every": 1,
            **train,
        }
    )
    cfg.optim = OptimConfig(lr=1e-2, scheduler="linear", warmup_steps=2)
    return cfg


def _weights(engine: Engine) -> dict[str, torch.Tensor]:
    model = engine.accelerator.unwrap_model(engine.model)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resume_mid_epoch_equals_uninterrupted_run(tmp_path):
    # 20 rows, 8 per step: epochs end mid-step, and the checkpoint at step 5 is mid-epoch.
    straight = Engine(_cfg(), TokenRegression(), RunDir.open("t", run_dir=tmp_path / "a"))
    res_a = straight.fit()

    run_b = RunDir.open("t", run_dir=tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        Engine(_cfg(save_every=5), TokenRegression(stop_at=7), run_b).fit()
    assert (run_b.checkpoints / "step_00000005" / "train_state.json").is_file()
    resumed = Engine(
        _cfg(save_every=5), TokenRegression(), RunDir.open("t", run_dir=tmp_path / "b", resume=True)
    )
    res_b = resumed.fit(resume="auto")

    assert res_b.state.step == res_a.state.step == 12
    wa, wb = _weights(straight), _weights(resumed)
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=0, atol=1e-6)
    assert res_b.final_eval["neg_mse"] == pytest.approx(res_a.final_eval["neg_mse"], abs=1e-6)
    assert res_b.state.epoch == res_a.state.epoch
    assert res_b.state.items_seen == res_a.state.items_seen


@pytest.mark.parametrize("micro", [1, 4])
def test_grad_accumulation_matches_one_big_batch(tmp_path, micro):
    # Global batch 8 as micro 8 x accum 1, micro 4 x accum 2, micro 1 x accum 8: same update.
    def one_step(micro_batch: int, where: str):
        cfg = _cfg(micro_batch_size=micro_batch, max_steps=1, eval_every=0)
        cfg.optim = OptimConfig(lr=1e-2, scheduler="constant", grad_clip=None)
        engine = Engine(
            cfg, TokenRegression(n=8, dropout=0.0), RunDir.open("t", run_dir=tmp_path / where)
        )
        engine.fit()
        return _weights(engine)

    ref, other = one_step(8, "ref"), one_step(micro, f"m{micro}")
    for key in ref:
        torch.testing.assert_close(other[key], ref[key], rtol=0, atol=1e-6)


def test_checkpoint_rotation_keeps_newest(tmp_path):
    run = RunDir.open("t", run_dir=tmp_path / "r")
    Engine(_cfg(save_every=2, save_total_limit=2), TokenRegression(), run).fit()
    names = sorted(p.name for p in run.checkpoints.iterdir())
    assert names == ["step_00000010", "step_00000012"]
    assert (run.path / "best" / "trainable.safetensors").is_file()
    records = run.read_metrics()
    assert [r["step"] for r in records if "train/loss" in r] == list(range(1, 13))
    assert any("eval/neg_mse" in r for r in records)


def test_indivisible_batch_and_fp16_on_cpu_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="multiple of"):
        _cfg(global_batch_size=6, micro_batch_size=4)
    cfg = _cfg()
    cfg.runtime = RuntimeConfig(precision="fp16", cpu=True)
    with pytest.raises(ConfigError, match="fp16"):
        Engine(cfg, TokenRegression(), RunDir.open("t", run_dir=tmp_path / "x"))
