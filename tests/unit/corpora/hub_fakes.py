"""Offline stand-ins for the hub: a recording `datasets.load_dataset` and made-up hub corpora.

Nothing here touches the network: `FakeLoad` answers from in-memory `datasets.Dataset` objects
(or generators, to fail mid-stream) and `install_toys` registers small corpora in both registries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import datasets

from thunlp_repro.shared import corpora, corpora_hub
from thunlp_repro.shared.corpora import CorpusSpec
from thunlp_repro.shared.corpora_hub import HubCorpus, HubSource
from thunlp_repro.shared.registry import Registry

WORDS = "the quick brown fox jumps over a lazy dog while seven old owls sing softly".split()


def made_up_docs(n: int, tag: str = "doc", start: int = 0) -> list[str]:
    """`n` distinct deterministic documents of 30-300 characters."""
    out = []
    for i in range(start, start + n):
        k = 5 + (i * 7) % 45
        out.append(f"{tag} {i} " + " ".join(WORDS[(i + j * 3) % len(WORDS)] for j in range(k)))
    return out


class FakeLoad:
    """`datasets.load_dataset` replacement: ``tables[(path, config, split)]`` is a list of rows, or
    a zero-argument callable yielding rows (streamed through `IterableDataset.from_generator`)."""

    def __init__(self, tables: dict[tuple[str, str | None, str], Any]) -> None:
        self.tables = tables
        self.calls: list[dict[str, Any]] = []

    def __call__(self, path: str, name: str | None = None, **kw: Any) -> Any:
        self.calls.append({"path": path, "name": name, **kw})
        assert kw.get("streaming") is True, "hub corpora must stream"
        table = self.tables[(path, name, kw["split"])]
        if callable(table):
            return datasets.IterableDataset.from_generator(table)
        return datasets.Dataset.from_list(table)


def rows(docs: list[str], field: str = "text") -> list[dict[str, str]]:
    return [{field: d, "id": str(i)} for i, d in enumerate(docs)]


def failing_rows(docs: list[str], after: int, exc: BaseException) -> Callable[[], Iterator]:
    """A generator factory that yields `after` rows, then raises `exc`."""

    def gen() -> Iterator[dict[str, str]]:
        for i, d in enumerate(docs):
            if i == after:
                raise exc
            yield {"text": d, "id": str(i)}

    return gen


TOY = HubCorpus(
    "toy", "one made-up source, 20% held out",
    sources=(HubSource("org/toy", "en", shuffle_buffer=50),),
    holdout=0.2, budget=32 * 40, val_budget=32 * 4,
)  # fmt: skip
TOY2 = HubCorpus(
    "toy2", "two made-up sources, 3:1",
    sources=(HubSource("org/big", share=0.75), HubSource("org/small", revision="refs/pr/1",
                                                         group_rows=2, share=0.25)),
    holdout=0.2, budget=32 * 8, val_budget=32 * 2,
)  # fmt: skip
TOY_MIX = HubCorpus("toy-mix", "toy + toy2", members=("toy", "toy2"))


def install_toys(monkeypatch: Any) -> None:
    """Register TOY, TOY2 and TOY_MIX in `HUB_CORPORA` and `CORPORA` (copies, restored after)."""
    hub_reg: Registry[HubCorpus] = Registry("hub corpus")
    reg: Registry[CorpusSpec] = Registry("corpus")
    for key in corpora_hub.HUB_CORPORA.keys():
        hub_reg.add(key, corpora_hub.HUB_CORPORA.get(key))
    for key in corpora.CORPORA.keys():
        reg.add(key, corpora.CORPORA.get(key))
    for spec in (TOY, TOY2, TOY_MIX):
        hub_reg.add(spec.name, spec)
        reg.add(spec.name, CorpusSpec(spec.name, spec.description, members=spec.members,
                                      seeded=False, source="hub"))  # fmt: skip
    monkeypatch.setattr(corpora_hub, "HUB_CORPORA", hub_reg)
    monkeypatch.setattr(corpora, "CORPORA", reg)


def toy_tables(n_toy: int = 400) -> dict[tuple[str, str | None, str], Any]:
    return {
        ("org/toy", "en", "train"): rows(made_up_docs(n_toy)),
        ("org/big", None, "train"): rows(made_up_docs(200, "big")),
        ("org/small", None, "train"): rows(made_up_docs(200, "small")),
    }


def use_fake_hub(monkeypatch: Any, tmp_path: Any) -> FakeLoad:
    """Toy corpora registered, `datasets.load_dataset` faked, caches under `tmp_path`."""
    monkeypatch.setenv("THUNLP_REPRO_HOME", str(tmp_path / "home"))
    install_toys(monkeypatch)
    fake = FakeLoad(toy_tables())
    monkeypatch.setattr(datasets, "load_dataset", fake)
    return fake
