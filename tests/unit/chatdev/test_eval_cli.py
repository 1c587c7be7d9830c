"""`thunlp-repro chatdev eval`: tables, `--json` with both variants, a bad folder among good
ones, embedders (hash, an OpenAI-compatible endpoint, MiniLM when installed), the report."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.unit.chatdev.test_eval_metrics import TASK, TODO_APP, project
from thunlp_repro.chatdev import metrics_executability as me
from thunlp_repro.chatdev.embedders import build_embedder
from thunlp_repro.cli import chatdev as chatdev_cli
from thunlp_repro.shared.errors import UsageError


@pytest.fixture(autouse=True)
def _short_compat_run(monkeypatch):
    monkeypatch.setattr(me, "COMPAT_TIMEOUT_S", 1.0)


def test_eval_cli_json_and_bad_folder(tmp_path):
    good = project(tmp_path / "todo", TODO_APP)
    bad = project(tmp_path / "bad", TODO_APP, meta="{broken")
    out = tmp_path / "metrics.json"
    done = CliRunner().invoke(
        chatdev_cli.app,
        ["eval", str(good), str(bad), "--embedder", "hash", "--json", str(out), "--timeout-s", "2"],
    )
    assert done.exit_code == 1  # a bad folder fails the command, not the others
    assert "bad metadata" in done.stderr and "Traceback" not in done.output
    assert "| todo | strict | 1.0000 | 1.0000 |" in done.stdout
    data = json.loads(out.read_text())
    first = data["projects"][0]
    assert first["compatible"]["completeness"] == 0.0 and first["strict"]["completeness"] == 1.0
    assert data["projects"][1]["error"].endswith("not valid JSON (Expecting property name "
                                                 "enclosed in double quotes: line 1 column 2 "
                                                 "(char 1))")  # fmt: skip
    assert data["aggregate"]["strict"]["n"] == 1


def test_openai_compatible_embeddings_endpoint(tmp_path, monkeypatch):
    from thunlp_repro.chatdev.fake_server import FakeOpenAIServer, embed
    from thunlp_repro.chatdev.metrics_consistency import strict_consistency
    from thunlp_repro.shared.llm.scripted import Script

    monkeypatch.setenv("OPENAI_API_KEY", "k")
    folder = project(tmp_path / "p", TODO_APP)
    with FakeOpenAIServer(Script()) as server:
        emb = build_embedder("openai:text-embedding-ada-002", base_url=server.url)
        got = strict_consistency(folder / "code", TASK, emb)
        paths = [r["path"] for r in server.requests]
    assert paths and all(p.endswith("/embeddings") for p in paths)
    assert emb.name == "openai:text-embedding-ada-002"
    assert got["value"] == pytest.approx(
        strict_consistency(folder / "code", TASK, build_embedder("hash"))["value"], abs=1e-9
    )
    assert len(embed("x")) == 64


def test_unknown_embedder():
    with pytest.raises(UsageError, match="unknown embedder"):
        build_embedder("word2vec")


@pytest.mark.assets
def test_minilm_ranks_matching_code_higher(tmp_path):
    from tests.conftest import require_assets
    from thunlp_repro.chatdev.metrics_consistency import strict_consistency

    require_assets("minilm-l6")
    emb = build_embedder("minilm-l6")
    match = project(tmp_path / "m", TODO_APP)
    other = project(tmp_path / "o", {"main.py": "import math\n\n\ndef area(r):\n    return "
                                     "math.pi * r * r\n\n\nprint(area(2.0))\n"})  # fmt: skip
    a = strict_consistency(match / "code", TASK, emb)["value"]
    b = strict_consistency(other / "code", TASK, emb)["value"]
    assert a > b + 0.15


def test_ablation_labels_and_table4_layout():
    from thunlp_repro.chatdev.report import ablation_label, table4_markdown

    assert ablation_label(None, True, True) == "ChatDev"
    assert ablation_label("CodeCompleteAll", True, True) == "<=Complete"
    assert ablation_label(None, False, True) == "\\CDH"
    assert ablation_label(None, True, False) == "\\Roles"

    def summary(label, c):
        agg = {"completeness": {"mean": c}, "executability": {"mean": 1.0},
               "consistency": {"mean": 0.5}, "quality_product_of_means": c * 0.5}  # fmt: skip
        return {"label": label, "n_finished": 4, "variants": {"compatible": agg, "strict": agg}}

    table = table4_markdown([summary("ChatDev", 0.75), summary("\\CDH", 0.25)])
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:9]}
    assert list(rows) == ["ChatDev", "<=Coding", "<=Complete", "<=Review", "<=Testing",
                          "\\CDH", "\\Roles"]  # fmt: skip
    assert "| 0.750 | 1.000 | 0.500 | 0.375 |" in rows["<=Testing"]  # = the full chain
    assert "| 0.250 | 1.000 | 0.500 | 0.125 |" in rows["\\CDH"]
    assert rows["\\Roles"].count("—") == 9  # not run


def test_report_header_says_when_projects_hit_the_budget():
    from thunlp_repro.chatdev.report import _header

    base = {"model": "m", "backend": "local", "n_tasks": 2, "n_finished": 2}
    assert "budget" not in _header({**base, "statuses": {"done": 2}})
    text = _header({**base, "statuses": {"budget_exceeded": 1, "done": 1}})
    assert "1 project(s) hit the preset's budget" in text and "scored as written" in text
