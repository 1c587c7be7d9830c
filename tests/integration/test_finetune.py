"""`thunlp-repro finetune` end to end on real data: MiniLM-L6 on sent-movie (smoke preset)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.conftest import require_assets
from thunlp_repro.cli.main import app


@pytest.mark.assets
def test_finetune_smoke_beats_majority_and_writes_the_run_folder(run_root):
    require_assets("minilm-l6", "vader-movie")
    runner = CliRunner()
    args = ["--log-level", "WARNING", "finetune", "--preset", "smoke", "--name", "e2e"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    run = run_root / "finetune" / "e2e"
    assert str(run) in result.output
    for name in ("config.yaml", "command.txt", "env.json", "log.txt", "metrics.jsonl",
                 "results.json", "best/trainable.safetensors", "best/meta.json",
                 "checkpoints/step_00000040/train_state.json"):  # fmt: skip
        assert (run / name).is_file(), name
    results = json.loads((run / "results.json").read_text())
    m = results["metrics"]
    # Measured 0.72 dev / 0.70 test against 0.535 majority (seed 0); "clearly above" = +10 points.
    assert m["dev_accuracy"] >= m["dev_majority"] + 0.10
    assert m["test_accuracy"] >= m["test_majority"] + 0.10
    assert results["eval_info"]["split_sha256"] and results["meta"]["assets"]["minilm-l6"]
    assert results["run_info"]["preset"] == "smoke"

    again = runner.invoke(app, args)  # the folder exists: refused, nothing lost
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert (run / "results.json").is_file()
