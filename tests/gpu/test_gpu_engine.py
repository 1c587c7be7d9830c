"""GPU checks (marker `gpu`): a bf16 Engine run and a one-GPU finetune smoke run."""

from __future__ import annotations

import json

import pytest
import torch

from tests.unit.trainer.test_engine import TokenRegression, _cfg
from thunlp_repro.shared.config import RuntimeConfig
from thunlp_repro.shared.rundir import RunDir
from thunlp_repro.shared.trainer import Engine

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_bf16_engine_run_on_gpu_learns_and_resumes(tmp_path):
    cfg = _cfg(save_every=5)
    cfg.runtime = RuntimeConfig(precision="bf16")
    engine = Engine(cfg, TokenRegression(dropout=0.0), RunDir.open("g", run_dir=tmp_path / "a"))
    result = engine.fit()
    assert engine.accelerator.device.type == "cuda"
    assert result.info["precision"] == "bf16"
    losses = [
        r["train/loss"]
        for r in RunDir.open("g", run_dir=tmp_path / "a", resume=True).read_metrics()
        if "train/loss" in r
    ]
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]


@pytest.mark.assets
def test_finetune_smoke_on_one_gpu(run_root):
    from typer.testing import CliRunner

    from tests.conftest import require_assets
    from thunlp_repro.cli.main import app

    require_assets("vader-movie")
    args = ["finetune", "--preset", "smoke", "--name", "gpu", "--set", "model.name=tiny-bert",
            "--set", "runtime.precision=bf16", "--set", "optim.lr=1e-3"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads((run_root / "finetune" / "gpu" / "results.json").read_text())
    assert doc["eval_info"]["device"].startswith("cuda")
    assert 0.0 <= doc["metrics"]["dev_accuracy"] <= 1.0
