"""The root CLI: help for every command, fast start (no torch on --help), clear errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from thunlp_repro.cli.main import app

runner = CliRunner()


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from thunlp_repro.cli.main import app; "
        "from typer.testing import CliRunner; r = CliRunner().invoke(app, ['--help']); "
        "assert r.exit_code == 0, r.output; "
        "heavy = [m for m in ('torch', 'transformers', 'openai', 'accelerate', 'matplotlib') "
        "if m in sys.modules]; print(heavy); assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_python_dash_m_runs_the_cli():
    done = subprocess.run(
        [sys.executable, "-m", "thunlp_repro", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "reproduce-all" in done.stdout


def _commands(group, prefix=()):
    import typer.main

    click_group = typer.main.get_command(group)
    out = []

    def walk(cmd, path):
        out.append(path)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, (*path, name))

    walk(click_group, tuple(prefix))
    return out


@pytest.mark.parametrize("path", _commands(app), ids=lambda p: " ".join(p) or "root")
def test_every_command_has_help(path):
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_show_config_applies_overrides_and_rejects_unknown_keys():
    ok = runner.invoke(app, ["show-config", "finetune", "--preset", "mini",
                             "--set", "train.max_steps=7"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "max_steps: 7" in ok.output
    bad = runner.invoke(app, ["show-config", "finetune", "--set", "train.max_step=7"])
    assert bad.exit_code == 2
    assert "unknown config key 'train.max_step'" in bad.output
    assert "Traceback" not in bad.output
    unknown = runner.invoke(app, ["show-config", "finetuen"])
    assert unknown.exit_code == 2 and "did you mean 'finetune'" in unknown.output


def test_list_and_env():
    listed = runner.invoke(app, ["list", "experiments"])
    assert listed.exit_code == 0 and "finetune/reference" in listed.output
    env = runner.invoke(app, ["env", "--json"])
    assert env.exit_code == 0 and '"packages"' in env.output
