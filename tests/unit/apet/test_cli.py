"""`thunlp-repro apet`: exit code 2 with one line naming the bad value, the paper dry-run
validating every name offline, and the verbs' help."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from thunlp_repro.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["sweep", "--profile", "huge"], "unknown profile 'huge'"),
     (["sweep", "--preset", "tiny"], "unknown preset 'tiny'"),
     (["sweep", "--exp", "e1,e7"], "unknown experiment 'e7'"),
     (["train", "--preset", "smoke", "--set", "cell.method=loraa"], "unknown method 'loraa'"),
     (["train", "--preset", "smoke", "--set", "cell.pool=nowhere"], "unknown pool 'nowhere'"),
     (["train", "--preset", "smoke", "--set", "data.task=sst3"], "unknown task 'sst3'"),
     (["train", "--preset", "smoke", "--set", "model.name=minilm-l9"], "unknown model"),
     (["sweep", "--preset", "paper", "--dry-run", "--set", "study.paper_tasks=[mnli,xnli]"],
      "xnli"),
     (["sweep", "--preset", "paper"], "paper preset needs GPUs")],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(args, needle, tmp_path):
    res = runner.invoke(app, ["--runs-root", str(tmp_path), "apet", *args])
    assert res.exit_code == 2, res.output
    err = [x for x in res.output.splitlines() if x.startswith("error:")]
    assert len(err) == 1 and needle in err[0]
    assert "accepted" in err[0] or "known" in err[0]
    assert not (tmp_path / "apet").exists()  # nothing half-written


def test_paper_dry_run_prints_the_plan_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    res = runner.invoke(app, ["apet", "sweep", "--preset", "paper", "--dry-run", "--exp", "e3"])
    assert res.exit_code == 0, res.output
    out = res.output
    for name in ("bigscience/bloom-7b1", "google/t5-v1_1-xxl", "bert-large-uncased", "sst2",
                 "multi-news", "would download"):  # fmt: skip
        assert name in out
    assert "GPU-hours" in out and "steps per run 20000" in out


def test_help_of_every_verb():
    for verb in ("train", "sweep", "analyze", "report"):
        res = runner.invoke(app, ["apet", verb, "--help"])
        assert res.exit_code == 0 and "--" in res.output
    res = runner.invoke(app, ["apet", "sweep", "--help"])
    assert "--max-minutes" in res.output and "--profile" in res.output
