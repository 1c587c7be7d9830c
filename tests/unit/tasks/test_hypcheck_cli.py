"""The hypothesis-only check (on a tiny model, hand-made pairs) and the `tasks` CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from thunlp_repro.cli.main import app
from thunlp_repro.shared.tasks.hypcheck import MARGIN, run_hypothesis_only

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_bert_dir(tmp_path_factory):
    """A tiny BERT classifier folder with the in-memory character tokenizer."""
    from transformers import BertConfig, BertForSequenceClassification

    from thunlp_repro.shared.models import tiny_tokenizer

    tok = tiny_tokenizer()
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                     pad_token_id=tok.pad_token_id)  # fmt: skip
    out = tmp_path_factory.mktemp("tiny-bert")
    BertForSequenceClassification(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def _splits(leak: bool):
    """Pairs whose first text holds the label; the second holds it only when `leak`."""

    def rows(n: int, offset: int):
        out = []
        for i in range(n):
            label = (i + offset) % 2
            second = ("zzz yes" if label else "qqq no") if leak else "same text"
            out.append([f"first {'good' if label else 'bad'} {i}", label, second])
        return out

    return {"train": rows(64, 0), "dev": rows(32, 1), "test": rows(32, 0)}


def test_a_leaking_second_text_fails_the_check(tiny_bert_dir):
    result = run_hypothesis_only(_splits(leak=True), tiny_bert_dir, 2, epochs=6, lr=3e-3,
                                 batch_size=16, device="cpu")  # fmt: skip
    assert result["chance"] == 0.5 and result["limit"] == pytest.approx(0.5 + MARGIN)
    assert result["test_accuracy"] > result["limit"] and result["passes"] is False


def test_an_uninformative_second_text_passes(tiny_bert_dir):
    result = run_hypothesis_only(_splits(leak=False), tiny_bert_dir, 2, epochs=2, lr=3e-3,
                                 batch_size=16, device="cpu")  # fmt: skip
    assert result["test_accuracy"] == pytest.approx(0.5) and result["passes"] is True
    assert len(result["history"]) == 2 and result["input"] == "second text only"


def test_tasks_list_marks_synthetic_and_filters_scale():
    out = runner.invoke(app, ["tasks", "list", "--scale", "mini"])
    assert out.exit_code == 0, out.output
    names = [line.split("\t")[0] for line in out.output.splitlines()]
    assert "nli-news (synthetic)" in names and "sent-movie" in names and len(names) == 11
    assert "sst2" not in names
    bad = runner.invoke(app, ["tasks", "list", "--scale", "huge"])
    assert bad.exit_code == 2 and "mini, paper, all" in bad.output


def test_tasks_check_refuses_non_synthetic_and_unknown_tasks():
    out = runner.invoke(app, ["tasks", "check", "trec"])
    assert out.exit_code == 2 and "not a synthetic task" in out.output
    unknown = runner.invoke(app, ["tasks", "card", "nli-newz"])
    assert unknown.exit_code == 2 and "nli-news" in unknown.output  # did you mean


@pytest.mark.assets
def test_tasks_card_writes_json(tmp_path):
    from tests.conftest import require_assets

    require_assets("trec")
    out = runner.invoke(app, ["tasks", "card", "trec", "--json", str(tmp_path / "card.json")])
    assert out.exit_code == 0, out.output
    card = json.loads((tmp_path / "card.json").read_text())
    assert card["task"] == "trec" and card["splits"]["test"]["n"] == 500
