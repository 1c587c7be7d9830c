"""`incremental_develop: True` in a company config: refused without a base folder (never a
silent run on empty code), honoured with `--incremental DIR` (chatdev.md §2.15)."""

from __future__ import annotations

import copy

import pytest

from thunlp_repro.chatdev.company import load_company
from thunlp_repro.chatdev.pipeline import run_project
from thunlp_repro.chatdev.scenarios import DICE, chatdev_script, render_files
from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.llm.scripted import ScriptedLLM

from .conftest import fast_config
from .trio import CHAIN, write_trio


def _incremental_company(tmp_path):
    doc = copy.deepcopy(CHAIN)
    doc["incremental_develop"] = "True"
    return load_company(write_trio(tmp_path / "Incremental", chain_doc=doc))


def test_incremental_flag_without_base_folder_is_refused(tmp_path):
    company = _incremental_company(tmp_path)
    client = ScriptedLLM(chatdev_script(DICE))
    with pytest.raises(UsageError) as err:
        run_project(DICE.task, name="i", cfg=fast_config(), company=company, client=client,
                    root=tmp_path / "runs")  # fmt: skip
    message = str(err.value)
    assert "\n" not in message
    assert "incremental_develop: true" in message and "--incremental DIR" in message
    assert not (tmp_path / "runs" / "chatdev" / "i").exists() and not client.script.calls


def test_incremental_flag_with_base_folder_is_honoured(tmp_path):
    base = tmp_path / "base_code"
    base.mkdir()
    (base / "main.py").write_text(DICE.buggy["main.py"])
    script = chatdev_script(DICE)
    script.add(render_files(DICE.files, "Changed as requested:"), phase="ModificationRequest",
               role="assistant")  # fmt: skip
    client = ScriptedLLM(script)
    company = _incremental_company(tmp_path)
    result = run_project(DICE.task, name="i", cfg=fast_config(), client=client, incremental=base,
                         company=company, root=tmp_path / "runs")  # fmt: skip
    assert result.status == "done", result.reason
    phases = [c.tags["phase"] for c in client.script.calls]
    assert "Coding" not in phases and "ModificationRequest" in phases
    request = next(c for c in client.script.calls if c.tags["phase"] == "ModificationRequest")
    assert "totl(dice)" in request.last  # the existing code, not an empty tree
    assert (result.path / "base" / "main.py").read_text() == DICE.buggy["main.py"]
    assert (result.path / "code" / "main.py").read_text() == DICE.files["main.py"]
