"""Held-out splits by whole document: seeded, deterministic, disjoint; fixed splits honoured."""

from __future__ import annotations

import pytest

from thunlp_repro.shared.corpora import (
    corpus_dataset,
    domains,
    load_corpus,
    load_units,
    split_manifest,
)
from thunlp_repro.shared.errors import UsageError


def ids(name, split, seed=0):
    return [u.unit_id for u in load_units(name, split, seed)]


def test_seeded_holdout_is_disjoint_and_covers_everything(fake_corpora):
    train, val = ids("alpha", "train"), ids("alpha", "validation")
    assert len(val) == 2  # round(4% of 50)
    assert not set(train) & set(val)
    assert sorted(train + val) == [f"alpha-{i:03d}" for i in range(50)]
    assert train == sorted(train)  # source order kept


def test_holdout_is_deterministic_and_depends_on_the_seed(fake_corpora):
    assert ids("alpha", "validation", 0) == ids("alpha", "validation", 0)
    draws = {tuple(ids("alpha", "validation", s)) for s in range(5)}
    assert len(draws) > 1


def test_documents_are_whole_units(fake_corpora):
    units = {u.unit_id: u.text for u in load_units("alpha", "train")}
    docs = load_corpus("alpha", "train")
    assert docs == list(units.values())
    assert all(d.count("\n") == 5 for d in docs)


def test_fixed_split_is_used_and_excluded_units_never_appear(fake_corpora):
    assert ids("beta", "train", seed=3) == ["beta-000", "beta-001", "beta-002"]
    assert ids("beta", "validation", seed=7) == ["beta-003", "beta-004"]
    with pytest.raises(UsageError, match="split"):
        load_units("beta", "excluded")


def test_mixture_concatenates_member_domains(fake_corpora):
    assert domains("mix") == ("alpha", "beta") and domains("alpha") == ("alpha",)
    mix = load_units("mix", "validation")
    assert [u.domain for u in mix] == ["alpha", "alpha", "beta", "beta"]


def test_split_manifest_records_units_and_their_hash(fake_corpora):
    m = split_manifest("mix", seed=0)
    alpha = m["domains"]["alpha"]
    assert alpha["units"] == {"train": 48, "validation": 2}
    assert alpha["validation_units"] == sorted(ids("alpha", "validation"))
    assert len(alpha["validation_units_sha256"]) == 64
    assert alpha["stats"] == {"docs": 50}
    assert m["domains"]["beta"]["units"] == {"train": 3, "validation": 2}
    assert split_manifest("mix", seed=0) == m
    assert fake_corpora["alpha"].calls == 1  # the reader runs once per process


def test_corpus_dataset_columns(fake_corpora):
    ds = corpus_dataset("mix")
    assert set(ds) == {"train", "validation"}
    assert ds["validation"].column_names == ["text", "domain", "unit_id"]
    assert ds["validation"]["domain"] == ["alpha", "alpha", "beta", "beta"]


def test_the_registry_has_the_spec_corpora():
    from thunlp_repro.shared.corpora import CORPORA

    assert set(CORPORA.keys()) >= {"shakespeare", "kjv", "movie-dialog", "bbc-news", "general"}
    assert domains("general") == ("shakespeare", "kjv", "movie-dialog")
    assert domains("head") == ("shakespeare", "kjv", "movie-dialog")
    assert domains("news") == ("bbc-news",)
    assert CORPORA.meta("general") == {"kind": "mixture"}


def test_importing_corpora_imports_no_heavy_library():
    import subprocess
    import sys

    code = (
        "import sys; import thunlp_repro.shared.corpora; "
        "heavy = [m for m in ('torch', 'transformers', 'datasets') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
