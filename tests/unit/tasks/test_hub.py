"""`paper`-scale loading with a stubbed `datasets` (nothing is downloaded in tests)."""

from __future__ import annotations

import sys
import types

import pytest

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.tasks import load_splits
from thunlp_repro.shared.tasks.hub import carve_dev, read_semeval14


class _Feature:
    def __init__(self, names):
        self.names = names


class _Split(list):
    def __init__(self, rows, names):
        super().__init__(rows)
        self.features = {"label": _Feature(names)}


def _stub(monkeypatch, names, n_train=30, n_eval=8, seen=None):
    def load_dataset(path, config=None, **kwargs):
        if seen is not None:
            seen.append((path, config, kwargs))

        def rows(n, tag):
            return [
                {"premise": f"{tag} p{i}", "hypothesis": f"{tag} h{i}", "label": i % 3 - (i == 4)}
                for i in range(n)
            ]

        return {
            "train": _Split(rows(n_train, "tr"), names),
            "validation_matched": _Split(rows(n_eval, "va"), names),
            "validation": _Split(rows(n_eval, "va"), names),
        }

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))


def test_mnli_loads_with_dev_carved_from_train(monkeypatch):
    seen = []
    _stub(monkeypatch, ["entailment", "neutral", "contradiction"], n_train=1100, seen=seen)
    splits = load_splits("mnli", 13)
    assert seen[0][:2] == ("nyu-mll/glue", "mnli")
    assert len(splits["test"]) == 8
    assert (len(splits["train"]), len(splits["dev"])) == (100, 1000)  # train - 1k / 1k
    assert splits["train"][0].text_pair is not None


def test_label_order_mismatch_is_refused(monkeypatch):
    _stub(monkeypatch, ["contradiction", "neutral", "entailment"])
    with pytest.raises(UsageError, match="label order"):
        load_splits("mnli", 13)


def test_snli_drops_unlabelled_pairs(monkeypatch):
    _stub(monkeypatch, ["entailment", "neutral", "contradiction"])
    splits = load_splits("snli", 13)
    assert all(e.label >= 0 for s in splits.values() for e in s)


def test_carve_dev_is_seeded():
    a = carve_dev(100, 10, 13, "x")
    assert a == carve_dev(100, 10, 13, "x") and a != carve_dev(100, 10, 14, "x")
    assert len(a[1]) == 10 and not set(a[0]) & set(a[1])


def test_semeval_needs_data_dir_and_parses_aspects(tmp_path):
    with pytest.raises(UsageError, match="data_dir"):
        load_splits("laptop", 13)
    xml = (
        "<sentences><sentence id='1'><text>The screen is bright but the fan is loud.</text>"
        "<aspectTerms><aspectTerm term='screen' polarity='positive' from='4' to='10'/>"
        "<aspectTerm term='fan' polarity='negative' from='29' to='32'/></aspectTerms>"
        "</sentence></sentences>"
    )
    f = tmp_path / "Laptop_Train.xml"
    f.write_text(xml)
    ex = read_semeval14(f)
    assert [(e.text_pair, e.label) for e in ex] == [("screen", 2), ("fan", 0)]
