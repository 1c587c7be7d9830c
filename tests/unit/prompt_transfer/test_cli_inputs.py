"""Bad inputs of `thunlp-repro prompt-transfer` (issue #15): unknown task / backbone / stage, a
label word that is not one token, a prompt from another backbone or width, a corrupt or
truncated prompt file. Each exits 2 with one clear line and writes nothing."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from typer.testing import CliRunner

from tests.conftest import require_assets
from thunlp_repro.cli.main import app
from thunlp_repro.prompt_transfer.artefacts import save_prompt

SMOKE = ["prompt-transfer", "train", "--preset", "smoke"]


def _invoke(args):
    res = CliRunner().invoke(app, args)
    return res.exit_code, (res.output or "") + (res.stderr if res.stderr_bytes else "")


def _error_line(out: str) -> str:
    lines = [ln for ln in out.splitlines() if ln.strip() and not ln.startswith("INFO")]
    assert lines, out
    return lines[-1]


def test_unknown_stage_exits_2():
    code, out = _invoke(["prompt-transfer", "bogus-stage"])
    assert code == 2 and "bogus-stage" in out


def test_unknown_task_exits_2_and_writes_nothing(run_root):
    code, out = _invoke([*SMOKE, "--tasks", "sent-movie,sent-moive"])
    assert code == 2, out
    assert "sent-moive" in _error_line(out)
    assert not run_root.exists() or not any(run_root.rglob("*.json"))


def test_unknown_backbone_exits_2(run_root):
    code, out = _invoke([*SMOKE, "--backbone", "minilm-l66"])
    assert code == 2, out
    assert "minilm-l66" in _error_line(out)
    assert not any(run_root.rglob("stages/*.json")) if run_root.exists() else True


def test_paper_dry_run_validates_names_offline():
    code, out = _invoke(["prompt-transfer", "all", "--preset", "paper", "--dry-run"])
    assert code == 0, out
    assert "roberta-base" in out and "TPT sst2 <- imdb seed 0" in out
    # the project stage (§2.9): B's PT, the task-tuned projector through B, tpt-model
    assert "roberta-large: hub" in out and "project PT roberta-large qqp seed 0" in out
    assert "projector roberta-base->roberta-large task tuning roberta-large" in out
    assert "tpt-model roberta-base -> roberta-large mnli seed 0" in out
    code, out = _invoke(["prompt-transfer", "all", "--preset", "paper", "--dry-run", "--set",
                         "project.pairs=[roberta-base->robrta-large]"])  # fmt: skip
    assert code == 2 and "robrta-large" in _error_line(out)
    code, out = _invoke(["prompt-transfer", "all", "--preset", "paper", "--dry-run",
                         "--tasks", "mnli,mnlii"])  # fmt: skip
    assert code == 2 and "mnlii" in _error_line(out)


def test_label_word_that_is_not_one_token_names_word_and_pieces(monkeypatch):
    require_assets("minilm-l6")
    from thunlp_repro.prompt_transfer import data
    from thunlp_repro.prompt_transfer.config import PromptTransferConfig
    from thunlp_repro.shared import tasks
    from thunlp_repro.shared.errors import UsageError
    from thunlp_repro.shared.models import load_model

    _, tok = load_model("minilm-l6", "masked-lm")
    real = tasks.get_task("sms")
    fake = dataclasses.replace(real, label_words=("personal", "spam"))
    monkeypatch.setattr(tasks, "get_task", lambda name: fake)
    with pytest.raises(UsageError) as exc:
        data.load_task("sms", tok, PromptTransferConfig())
    msg = str(exc.value)
    assert "'spam'" in msg and "splits into" in msg and "\n" not in msg
    assert str(tok.tokenize("spam")) in msg


@pytest.fixture
def smoke_backbone_info():
    """The smoke backbone's identity, without training anything."""
    require_assets("minilm-l6")
    from thunlp_repro.prompt_transfer.pipeline import make_study

    return make_study("smoke").bb.info


@pytest.mark.parametrize("case", ["other-backbone", "other-width", "corrupt", "truncated"])
def test_bad_init_prompt_exits_2_and_overwrites_nothing(tmp_path, run_root, case,
                                                        smoke_backbone_info):  # fmt: skip
    info = smoke_backbone_info
    meta = {k: info[k] for k in ("backbone", "backbone_sha256", "head", "head_sha256",
                                 "tokenizer")}  # fmt: skip
    meta.update(task="sent-movie", seed=0, config_hash="x")
    width = 768 if case == "other-width" else info["width"]
    if case in ("other-backbone", "other-width"):
        meta.update(backbone="mpnet-base", backbone_sha256="0" * 64, head_sha256="1" * 64)
    path = save_prompt(torch.zeros(20, width), tmp_path / "p", meta)
    blob = path.read_bytes()
    if case == "corrupt":
        path.write_bytes(blob[:8] + b"{not json" + blob[17:])
    elif case == "truncated":
        path.write_bytes(blob[: len(blob) // 2])
    stage = run_root / "prompt_transfer" / "smoke" / "stages" / "train-from_prompt.json"
    stage.parent.mkdir(parents=True)
    stage.write_text('{"status": "ok", "finished": true}')
    code, out = _invoke([*SMOKE, "--init", f"from_prompt:{path}"])
    assert code == 2, out
    line = _error_line(out)
    if case.startswith("other"):
        assert "mpnet-base" in line and "--projector" in line
    else:
        assert "corrupt or truncated" in line
    assert stage.read_text() == '{"status": "ok", "finished": true}'  # nothing overwritten
    assert not (run_root / "prompt_transfer" / "smoke" / "prompts").exists()
