"""Made-up corpora registered in a private registry, so packing and splits run without assets."""

from __future__ import annotations

import pytest

from thunlp_repro.shared import corpora
from thunlp_repro.shared.corpora import CorpusSpec
from thunlp_repro.shared.corpora_sources import DomainData, Unit
from thunlp_repro.shared.registry import Registry

WORDS = "the quick brown fox jumps over a lazy dog while seven old owls sing softly".split()


def made_up_units(domain: str, n: int, lines: int = 6) -> list[Unit]:
    """`n` deterministic documents of invented text, `lines` lines each."""
    units = []
    for d in range(n):
        text = "\n".join(
            " ".join(WORDS[(d * 7 + ln * 3 + k) % len(WORDS)] for k in range(4 + (d + ln) % 5))
            + "."
            for ln in range(lines)
        )
        units.append(Unit(f"{domain}-{d:03d}", domain, text))
    return units


class Reader:
    """A domain reader that counts its calls."""

    def __init__(self, data: DomainData) -> None:
        self.data = data
        self.calls = 0

    def __call__(self) -> DomainData:
        self.calls += 1
        return self.data


@pytest.fixture
def fake_corpora(monkeypatch):
    """`CORPORA` replaced by: `alpha` (50 units, seeded 4% hold-out), `beta` (fixed split with an
    excluded unit), `mix` (alpha + beta). Returns the readers by name."""
    alpha_units = made_up_units("alpha", 50)
    beta_units = made_up_units("beta", 6)
    splits = ["train"] * 3 + ["validation"] * 2 + ["excluded"]
    fixed = {u.unit_id: s for u, s in zip(beta_units, splits, strict=True)}
    readers = {
        "alpha": Reader(DomainData(alpha_units, stats={"docs": 50})),
        "beta": Reader(DomainData(beta_units, fixed_split=fixed)),
    }
    reg: Registry[CorpusSpec] = Registry("corpus")
    reg.add("alpha", CorpusSpec("alpha", "made-up seeded domain", readers["alpha"]))
    reg.add("beta", CorpusSpec("beta", "made-up fixed domain", readers["beta"], seeded=False))
    reg.add("mix", CorpusSpec("mix", "alpha + beta", members=("alpha", "beta")))
    monkeypatch.setattr(corpora, "CORPORA", reg)
    return readers


@pytest.fixture
def tok():
    from thunlp_repro.shared.models import tiny_tokenizer

    return tiny_tokenizer()
