"""The Engine under `accelerate launch` with 2 CPU processes (gloo) equals one process at the
same global batch (conventions.md §2.5); the shipped DeepSpeed and FSDP configs build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("ddp_tiny.py")
CONFIGS = ROOT / "shared" / "accelerate"


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", CI="true")
    env.pop("ACCELERATE_CONFIG_FILE", None)
    return env


def _launch(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=600)  # fmt: skip


def test_two_gloo_processes_match_one_at_the_same_global_batch(tmp_path):
    one = tmp_path / "one.json"
    two = tmp_path / "two.json"
    done = _launch([sys.executable, str(SCRIPT), str(one), "4"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    accelerate = Path(sys.executable).with_name("accelerate")
    # torchrun-style launch (`--multi_gpu` picks the launcher; the Engine's runtime.cpu makes
    # accelerate use MULTI_CPU with gloo): `--cpu` alone would need mpirun
    done = _launch([str(accelerate), "launch", "--multi_gpu", "--num_processes", "2",
                    "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                    "--main_process_port", "0", str(SCRIPT), str(two), "4"], tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    assert (a["world"], a["accum"]) == (1, 2) and (b["world"], b["accum"]) == (2, 1)
    assert len(a["losses"]) == len(b["losses"]) == 10
    torch.testing.assert_close(torch.tensor(b["losses"]), torch.tensor(a["losses"]),
                               rtol=1e-4, atol=1e-5)  # fmt: skip


@pytest.mark.parametrize("name", ["deepspeed_zero2", "deepspeed_zero3_offload", "fsdp"])
def test_shipped_distributed_configs_build(name):
    from accelerate.utils import DeepSpeedPlugin, FullyShardedDataParallelPlugin

    doc = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    if name.startswith("deepspeed"):
        ds = doc["deepspeed_config"]
        plugin = DeepSpeedPlugin(
            zero_stage=ds["zero_stage"],
            gradient_accumulation_steps=ds.get("gradient_accumulation_steps", 1),
            offload_optimizer_device=ds.get("offload_optimizer_device", "none"),
            offload_param_device=ds.get("offload_param_device", "none"),
        )
        assert plugin.deepspeed_config["zero_optimization"]["stage"] == ds["zero_stage"]
    else:
        fsdp = {k.removeprefix("fsdp_"): v for k, v in doc["fsdp_config"].items()}
        plugin = FullyShardedDataParallelPlugin(
            sharding_strategy=fsdp.get("sharding_strategy"),
            auto_wrap_policy=fsdp.get("auto_wrap_policy"),
            state_dict_type=fsdp.get("state_dict_type"),
        )
        assert plugin.sharding_strategy is not None
    assert doc["distributed_type"] in ("DEEPSPEED", "FSDP")
