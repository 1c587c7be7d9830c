"""Launched by test_accelerate_ddp.py: the tiny classifier through the Engine, losses to JSON.

`python ddp_tiny.py OUT MICRO` (one process) or under `accelerate launch --num_processes 2`.
Dropout is off so both layouts see the same function (dropout masks are drawn per process).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from tests.unit.trainer.test_loss_regression import Cfg, TinyClassify
from thunlp_repro.shared.rundir import RunDir
from thunlp_repro.shared.trainer import Engine


class NoDropout(TinyClassify):
    find_unused_parameters = True  # the classifier's pooler is trainable but unused

    def build_model(self, cfg):
        model, head = super().build_model(cfg)
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        return model, head


def main(out: str, micro: int) -> None:
    cfg = Cfg()
    cfg.train.micro_batch_size = micro
    cfg.runtime.cpu = True  # with a launcher's ranks set, accelerate then picks MULTI_CPU (gloo)
    run = RunDir.open("ddp", run_dir=Path(out).parent / f"run-{Path(out).stem}")
    engine = Engine(cfg, NoDropout(), run)
    engine.fit()
    if engine.accelerator.is_main_process:
        losses = [r["train/loss"] for r in run.read_metrics() if "train/loss" in r]
        world = engine.accelerator.num_processes
        Path(out).write_text(json.dumps({"world": world, "accum": engine.accum, "losses": losses}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
