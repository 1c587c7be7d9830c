"""Presets, protocol switches and import cost (conventions.md §2.2, §2.4; chatdev.md §2.18)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from thunlp_repro.chatdev.config import load_chatdev_config
from thunlp_repro.shared.config import list_presets
from thunlp_repro.shared.errors import ConfigError


@pytest.mark.parametrize("preset", ["mini", "paper", "smoke"])
def test_presets_validate(preset):
    cfg, _ = load_chatdev_config(preset)
    assert cfg.llm.temperature == 0.2 and cfg.protocol.cdh.enabled


def test_preset_list_and_mini_values():
    assert {"mini", "paper", "smoke"} <= set(list_presets("chatdev"))
    cfg, _ = load_chatdev_config("mini")
    assert cfg.llm.backend == "local" and cfg.llm.local_model == "qwen-coder-1.5b"
    assert cfg.protocol.default_turns == 3 and cfg.protocol.cycles["CodeCompleteAll"] == 3
    assert cfg.protocol.cdh.max_questions == 1 and "tkinter" in cfg.protocol.gui_framework_hint
    assert cfg.budget.max_total_tokens == 60000
    assert load_chatdev_config("smoke")[0].llm.local_model == "smollm2-135m"


def test_repo_protocol_and_overrides():
    cfg, _ = load_chatdev_config("paper", protocol="repo", overrides=["sandbox.timeout_s=4"])
    assert not cfg.protocol.cdh.enabled and cfg.protocol.stop_after_unchanged is None
    assert cfg.compat.parser == "repo" and cfg.sandbox.timeout_s == 4.0
    with pytest.raises(ConfigError, match="did you mean"):
        load_chatdev_config("paper", overrides=["protocol.markr=x"])


def test_cli_and_llm_imports_stay_light():
    code = (
        "import sys\n"
        "import thunlp_repro.cli.chatdev, thunlp_repro.shared.llm\n"
        "heavy = ('openai', 'torch', 'thunlp_repro.chatdev.pipeline')\n"
        "bad = [m for m in heavy if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
