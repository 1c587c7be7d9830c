"""Registry, Task API, caching, fingerprints, data cards and label-word checks (no assets)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from thunlp_repro.shared.errors import RegistryKeyError, UsageError
from thunlp_repro.shared.tasks import (
    TASKS,
    Example,
    Task,
    build_splits,
    cache_path,
    check_label_words,
    get_task,
    label_word_ids,
    split_fingerprint,
)
from thunlp_repro.shared.tasks.base import splits_from_items

MINI = [
    "sent-movie", "sent-tweet", "sent-amazon", "sent-nyt", "nli-news", "nli-dialog",
    "para-news", "para-dialog", "trec", "bbc", "sms",
]  # fmt: skip


def test_every_spec_task_id_is_registered_with_consistent_fields():
    for name in MINI:
        t = get_task(name)
        assert t.scale == "mini" and t.builder and t.assets
        assert len(t.labels) == len(t.label_words) == t.num_classes >= 2
        assert t.split_sizes[1:] in ((500, 500), (450, 450), (200, 200))
        assert t.split_sizes[0] <= 2000
    assert {n for n in TASKS if get_task(n).synthetic} == {
        "nli-news", "nli-dialog", "para-news", "para-dialog"
    }  # fmt: skip
    assert get_task("nli-news").display_name == "nli-news (synthetic)"
    assert get_task("sms").label_words == ("personal", "junk")
    assert get_task("mnli").scale == "paper" and get_task("mnli").hub is not None


def test_unknown_task_lists_known_and_suggests():
    with pytest.raises(RegistryKeyError) as err:
        get_task("sent-movei")
    msg = str(err.value)
    assert "sent-movie" in msg and "known:" in msg and "trec" in msg


def test_words_by_style():
    mnli = get_task("mnli")
    assert mnli.words() == ("yes", "neutral", "no")
    assert mnli.words("t5") == ("entailment", "neutral", "contradiction")
    with pytest.raises(UsageError, match="no 'roberta' label words"):
        mnli.words("roberta")


def test_import_pulls_no_heavy_modules():
    code = (
        "import sys, thunlp_repro.shared.tasks as t; "
        "bad = [m for m in ('torch', 'transformers', 'datasets', 'numpy') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


class _Tok:
    """A stand-in tokenizer: a tiny vocabulary, whole words or '##' pieces."""

    unk_token = "[UNK]"
    vocab = {"[UNK]": 0, "yes": 1, "no": 2, "neutral": 3, "posi": 4, "##tive": 5, "negative": 6}

    def tokenize(self, text: str) -> list[str]:
        w = text.strip()
        if w in self.vocab:
            return [w]
        if w == "positive":
            return ["posi", "##tive"]
        return ["[UNK]"]

    def convert_tokens_to_ids(self, tok: str) -> int:
        return self.vocab[tok]


def test_check_label_words_names_the_bad_word():
    assert label_word_ids(get_task("nli-news"), _Tok()) == [1, 3, 2]
    with pytest.raises(UsageError, match="'positive'"):
        check_label_words(get_task("sent-movie"), _Tok())
    with pytest.raises(UsageError, match="'abbreviation'"):
        check_label_words(get_task("trec"), _Tok())  # unknown word -> [UNK] is refused too


# ---- builders, caching and cards on a toy task whose rows we made up -------------------------

TOY_ROWS = [(f"toy sentence number {i} about {'cats' if i % 3 else 'dogs'}", i % 3 == 0)
            for i in range(120)]  # fmt: skip


def toy_builder(task: Task, split_seed: int, **_):
    examples = [Example(text=t, label=int(y)) for t, y in TOY_ROWS]
    examples.append(Example(text=TOY_ROWS[0][0], label=1))  # an exact duplicate: one group
    return splits_from_items(task, split_seed, examples, meta={"source_rows": len(examples)})


TOY = Task(
    name="toy-task",
    family="test",
    labels=("other", "dogs"),
    label_words=("no", "yes"),
    metric="accuracy",
    scale="mini",
    synthetic=False,
    source="made up in the test",
    max_text_tokens=16,
    split_sizes=(50, 20, 20),
    builder="tests.unit.tasks.test_registry:toy_builder",
)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("THUNLP_REPRO_HOME", str(tmp_path))
    from thunlp_repro.shared.tasks import base

    base._MEMO.clear()
    return tmp_path


def test_toy_splits_sizes_balance_determinism_and_cache(home):
    built = build_splits(TOY, 13)
    sizes = {s: len(v) for s, v in built.splits.items()}
    assert sizes == {"train": 50, "dev": 20, "test": 20}
    assert sum(e.label for e in built.splits["test"]) == 10  # balanced
    path = cache_path("toy-task", 13)
    assert path.is_file()
    from thunlp_repro.shared.tasks import base

    base._MEMO.clear()
    again = build_splits(TOY, 13)  # from the disk cache
    assert again.splits == built.splits and again.indices_sha256 == built.indices_sha256
    fresh = build_splits(TOY, 13, cache=False)
    assert split_fingerprint(fresh.splits) == split_fingerprint(built.splits)
    other = build_splits(TOY, 14, cache=False)
    assert split_fingerprint(other.splits) != split_fingerprint(built.splits)
    # the duplicate pair sits in one split
    dup = TOY_ROWS[0][0]
    assert sum(any(e.text == dup for e in v) for v in built.splits.values()) == 1


def test_data_card_counts_and_majority(home, monkeypatch):
    from thunlp_repro.shared.tasks import base

    monkeypatch.setattr(base, "get_task", lambda name: TOY)
    card = base.data_card("toy-task", 13)
    assert card["splits"]["test"]["n"] == 20
    assert card["splits"]["test"]["majority_rate"] == 0.5
    assert card["chance"]["uniform"] == 0.5
    assert card["fingerprint"] == split_fingerprint(build_splits(TOY, 13).splits)
    assert card["source_facts"]["split_mode"] == "balanced"


def test_fingerprint_depends_on_content():
    a = {"train": [Example("x", 0)], "dev": [], "test": [Example("y", 1)]}
    b = {"train": [Example("x", 1)], "dev": [], "test": [Example("y", 1)]}
    assert split_fingerprint(a) == split_fingerprint(dict(a))
    assert split_fingerprint(a) != split_fingerprint(b)
