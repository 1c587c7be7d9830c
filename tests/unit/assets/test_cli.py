"""`thunlp-repro assets` sub-app: list, install, verify, path; exit codes 0 / 1 / 2."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from thunlp_repro.cli import assets as cli
from thunlp_repro.shared.assets import ASSETS, AssetSpec

runner = CliRunner()


def build_toy(ctx):
    (ctx.out / "toy.txt").write_text("one\ntwo\n")


@pytest.fixture
def toy(home, monkeypatch):
    """A packageless asset `toy-data` added to the real registry for the duration of a test."""
    spec = AssetSpec(
        name="toy-data",
        kind="data",
        group="opt-in",
        description="two lines",
        license="CC0",
        builder=build_toy,
    )
    monkeypatch.setitem(ASSETS._entries, "toy-data", spec)
    monkeypatch.setitem(ASSETS._meta, "toy-data", {})
    return home


def root_app() -> typer.Typer:
    """The sub-app mounted like the root CLI will mount it."""
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Root."""

    app.add_typer(cli.app, name="assets")
    return app


def invoke(*args: str):
    return runner.invoke(root_app(), ["assets", *args])


def test_help_lists_the_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("list", "install", "verify", "path"):
        assert command in result.output


def test_list_shows_every_asset(toy):
    result = invoke("list")
    assert result.exit_code == 0, result.output
    for name in ("minilm-l6", "smollm2-135m", "qwen-coder-1.5b", "kjv", "toy-data"):
        assert name in result.output
    assert "opt-in" in result.output and "Apache-2.0" in result.output


def test_install_path_verify_round_trip(toy):
    result = invoke("install", "toy-data")
    assert result.exit_code == 0, result.output
    assert "installed" in result.stdout
    folder = toy / "assets" / "toy-data"
    assert (folder / "toy.txt").is_file()

    result = invoke("path", "toy-data")
    assert result.exit_code == 0 and result.stdout.strip() == str(folder)

    result = invoke("install", "toy-data")
    assert result.exit_code == 0 and "skipped" in result.stdout

    result = invoke("verify")
    assert result.exit_code == 0 and "ok   toy-data" in result.stdout

    (folder / "toy.txt").write_text("one\nTWO\n")
    result = invoke("verify", "toy-data")
    assert result.exit_code == 1
    assert "BAD  toy-data" in result.stdout and "toy.txt" in result.stdout

    result = invoke("list")
    assert "toy-data" in result.output

    result = invoke("install", "toy-data")
    assert result.exit_code == 0 and "rebuilt" in result.stdout
    assert invoke("verify", "toy-data").exit_code == 0

    result = invoke("install", "toy-data", "--force")
    assert result.exit_code == 0 and "rebuilt" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("path", "minilm-l7"), "did you mean 'minilm-l6'"),
        (("path", "toy-data"), "run: thunlp-repro assets install toy-data"),
        (("install",), "--group mini"),
        (("install", "--group", "tiny"), "unknown asset group 'tiny'"),
        (("install", "nope"), "known: "),
        (("verify", "nope"), "unknown asset 'nope'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(toy, args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_verify_not_installed_exits_1(toy):
    result = invoke("verify", "toy-data")
    assert result.exit_code == 1 and "not installed" in result.stdout


def test_verify_with_nothing_installed(toy):
    result = invoke("verify")
    assert result.exit_code == 0 and "no assets installed" in result.stdout


def test_build_failure_exits_1(toy, monkeypatch):
    def broken(ctx):
        raise RuntimeError("disk on fire")

    spec = AssetSpec(
        name="toy-data", kind="data", group="opt-in", description="", license="", builder=broken
    )
    monkeypatch.setitem(ASSETS._entries, "toy-data", spec)
    result = invoke("install", "toy-data")
    assert result.exit_code == 1
    assert "error: building asset 'toy-data' failed: RuntimeError: disk on fire" in result.stderr
