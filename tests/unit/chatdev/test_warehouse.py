"""The official WareHouse folder of a run (chatdev.md §2.15): name, layout, trio, meta.txt, --org.

`make_run` is shared with the official-log and viewer tests: one real project through the
`openai` client and the scripted fake HTTP server (buggy code fixed in Test, CDH questions,
Reflection in DemandAnalysis, one review comment).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from thunlp_repro.chatdev.company import company_from_native, company_from_trio
from thunlp_repro.chatdev.config import load_chatdev_config
from thunlp_repro.chatdev.fake_server import FakeOpenAIServer
from thunlp_repro.chatdev.pipeline import ProjectResult, run_project
from thunlp_repro.chatdev.scenarios import DICE, chatdev_script
from thunlp_repro.chatdev.warehouse import (
    DEFAULT_ORG,
    TRIO,
    check_org,
    company_to_trio,
    export_warehouse,
)
from thunlp_repro.shared.errors import UsageError

FAST = ["llm.backoff_base_s=0.01", "llm.max_attempts=3", "sandbox.timeout_s=3",
        "sandbox.grace_s=0.5", "protocol.default_turns=3", "llm.model=fake-model"]  # fmt: skip
SCRIPT = {"buggy": True, "cdh_questions": True, "no_marker": True, "review_comments": 1}


def make_run(root: Path, org: str | None = "ACME", *sets: str, **script: bool) -> ProjectResult:
    """One project from the fake server (default: the full scripted scenario), with --org."""
    with FakeOpenAIServer(chatdev_script(DICE, **(script or SCRIPT))) as server:
        cfg, _ = load_chatdev_config(
            "paper",
            overrides=[*FAST, "llm.backend=openai", f"llm.base_url={server.url}", *sets],
        )
        return run_project(DICE.task, name="dice", cfg=cfg, root=root, org=org)


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> ProjectResult:
    mp = pytest.MonkeyPatch()
    mp.setenv("OPENAI_API_KEY", "test-key")
    try:
        result = make_run(tmp_path_factory.mktemp("wh"))
    finally:
        mp.undo()
    assert result.status == "done", result.reason
    return result


def test_layout_and_name(run):
    folder = Path(run.meta["warehouse"])
    assert folder.parent == run.path.parent / "WareHouse"  # beside runs/chatdev/<name>
    match = re.fullmatch(r"(.+)_(.+)_(\d{14})", folder.name)
    assert match and match.group(1) == "dice" and match.group(2) == "ACME"
    started = run.meta["started_at"][:19].replace("-", "").replace("T", "").replace(":", "")
    assert match.group(3) == started  # %Y%m%d%H%M%S of the run's start
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([*TRIO, "dice.prompt", "main.py", "manual.md", "meta.txt",
                            "requirements.txt", f"{folder.name}.log",
                            "transcript.jsonl"])  # fmt: skip
    assert (folder / "main.py").read_bytes() == (run.code_dir / "main.py").read_bytes()
    assert (folder / "dice.prompt").read_text() == DICE.task
    copied = (folder / "transcript.jsonl").read_bytes()
    assert copied == (run.path / "transcript.jsonl").read_bytes()
    # the run folder itself is unchanged by the export (eval/replay see what they always saw)
    assert not (run.path / "WareHouse").exists()


def test_meta_txt_sections(run):
    text = (Path(run.meta["warehouse"]) / "meta.txt").read_text()
    sections = dict(re.findall(r"(?m)^(\w+):\n(.*?)\n\n", text, flags=re.S))
    assert list(sections) == ["Task", "Config", "Roster", "Modality", "Ideas", "Language",
                              "Code_Version", "Proposed_images", "Incorporated_images"]  # fmt: skip
    assert sections["Task"] == DICE.task
    assert float(sections["Code_Version"]) == run.meta["code_version"]
    assert sections["Language"] == "python" and sections["Modality"] == run.meta["modality"]
    assert "ChatEnvConfig.gui_design: True" in sections["Config"]
    assert sections["Roster"].startswith("Chief Executive Officer, Counselor")


def test_generated_trio_reads_back_as_the_same_company(run):
    folder = Path(run.meta["warehouse"])
    doc = yaml.safe_load((run.path / "company.yaml").read_text())
    ours = company_from_native(doc)
    back = company_from_trio(folder)
    assert [i.name for i in back.chain] == [i.name for i in ours.chain]
    assert [(s.phase, s.turns, s.reflect) for i in back.chain for s in i.steps] == [
        (s.phase, s.turns, s.reflect) for i in ours.chain for s in i.steps]  # fmt: skip
    for name, spec in ours.phases.items():
        assert back.phases[name].prompt == spec.prompt, name
        assert (back.phases[name].assistant, back.phases[name].instructor) == (
            spec.assistant, spec.instructor)  # fmt: skip
    assert back.roles == ours.roles and back.recruitments == ours.recruitments
    chain = json.loads((folder / "ChatChainConfig.json").read_text())
    assert chain["gui_design"] == "True" and chain["chain"][0]["phaseType"] == "SimplePhase"
    assert company_to_trio(ours)["PhaseConfig.json"].keys() == ours.phases.keys()


def test_imported_trio_is_copied_verbatim(tmp_path):
    from tests.unit.chatdev.trio import write_trio

    trio = write_trio(tmp_path / "TinyCo")
    result = make_run(tmp_path / "runs", "THUNLP", f"project.company={trio}", buggy=False)
    assert result.status == "done", result.reason
    folder = Path(result.meta["warehouse"])
    for name in TRIO:
        if (trio / name).is_file():
            assert (folder / name).read_bytes() == (trio / name).read_bytes()


def test_existing_target_and_bad_org(run, tmp_path):
    stamp = Path(run.meta["warehouse"]).name.rsplit("_", 1)[1]
    root = Path(run.meta["warehouse"]).parent
    with pytest.raises(UsageError, match="--overwrite"):
        export_warehouse(run.path, root, org="ACME", timestamp=stamp)
    again = export_warehouse(run.path, tmp_path, org=DEFAULT_ORG)
    assert again.name.startswith(f"dice_{DEFAULT_ORG}_")
    for bad in ("", "a/b", "..", "x\\y"):
        with pytest.raises(UsageError, match="--org"):
            check_org(bad)
    with pytest.raises(UsageError, match="not a finished ChatDev run folder"):
        export_warehouse(tmp_path, tmp_path / "wh")


def test_cli_run_org_and_warehouse_option(tmp_path):
    from thunlp_repro.cli import chatdev as chatdev_cli

    with FakeOpenAIServer(chatdev_script(DICE)) as server:
        args = ["run", "-t", DICE.task, "-n", "cli", "--base-url", server.url, "--out",
                str(tmp_path / "runs"), "-p", "paper", "--org", "SRDD_Game", "--warehouse",
                str(tmp_path / "WH"), "-q"]  # fmt: skip
        for s in FAST:
            args += ["--set", s]
        done = CliRunner().invoke(chatdev_cli.app, args)
    assert done.exit_code == 0, done.output
    folders = list((tmp_path / "WH").iterdir())
    assert len(folders) == 1 and re.fullmatch(r"cli_SRDD_Game_\d{14}", folders[0].name)
    assert (folders[0] / f"{folders[0].name}.log").is_file()
    bad = CliRunner().invoke(chatdev_cli.app, ["run", "-t", "x", "-n", "y", "--org", "a/b",
                                               "--out", str(tmp_path / "runs")])  # fmt: skip
    assert bad.exit_code == 2 and "--org" in bad.output
    assert not (tmp_path / "runs" / "chatdev" / "y").exists()  # refused before the folder exists


def test_batch_org_option_is_checked():
    from thunlp_repro.chatdev.batch import BatchOptions

    assert BatchOptions(org="SRDD_{category}").org == "SRDD_{category}"
    assert BatchOptions(org=None).org is None
    with pytest.raises(UsageError, match="--org"):
        BatchOptions(org="a/{category}")
