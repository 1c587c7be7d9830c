"""Example, Task, the TASKS registry, cached deterministic splits, fingerprints and data cards.

Reproduces: prompt_transfer.md §4.2 (task table, label words, split sizes, "the data card lists the
majority-class rate of every split", "splits are seeded and deterministic"), offline-assets.md
"Task ids used by every pipeline" and §4 (record the split seed and the sha256 of the split
indices), conventions.md §2.3 (registries).

Nothing here imports torch, transformers or datasets.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.io import atomic_write_json
from thunlp_repro.shared.paths import home
from thunlp_repro.shared.registry import Registry
from thunlp_repro.shared.tasks.splitting import SPLITS, sha256_json

CACHE_FORMAT = 1


@dataclass(frozen=True)
class Example:
    """One labelled example.

    Attributes:
        text: The (first) text.
        label: Class index into `Task.labels` (-1 for generation tasks).
        text_pair: The second text of a pair task (premise/hypothesis, sentence pair), else None.
        target: The reference output of a generation task (QA answer, summary), else None.
    """

    text: str
    label: int
    text_pair: str | None = None
    target: str | None = None

    def to_row(self) -> list[Any]:
        """Compact JSON row ``[text, label, text_pair, target]`` (used by the split cache)."""
        return [self.text, self.label, self.text_pair, self.target]

    @classmethod
    def from_row(cls, row: list[Any]) -> Example:
        """Inverse of `to_row`."""
        return cls(row[0], int(row[1]), row[2], row[3] if len(row) > 3 else None)


Splits = dict[str, list[Example]]


@dataclass
class BuiltSplits:
    """What a task builder returns.

    Attributes:
        splits: ``{"train", "dev", "test"}`` -> examples.
        indices_sha256: sha256 of the split indices into the builder's canonical item list
            (source rows after filtering; premises/documents for synthetic tasks).
        meta: Source facts for the data card (rows read, rows after the filter, split mode, ...).
    """

    splits: Splits
    indices_sha256: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HubSpec:
    """How a `paper`-scale task loads from the Hugging Face hub with `datasets` (never in tests).

    Attributes:
        path: ``datasets`` name, e.g. ``"nyu-mll/glue"``.
        config: Its config, e.g. ``"mnli"``.
        text_fields: Column(s) of the text (one) or the text pair (two).
        label_field: Column of the class index (classification) or of the target (generation).
        class_names: The dataset's class names in label-index order, checked at load time.
        train_split: Split the train (and carved dev) examples come from.
        eval_split: Split reported on (our ``test``).
        dev_split: An official split used as dev; when None, dev is carved from train (seeded).
        dev_size: Size of the dev carve.
        revision: Pinned hub revision (None until pinned in the preset).
        drop_labels: Label values dropped (SNLI's -1).
        data_dir_format: For tasks read from local files (``"semeval14-xml"``), else None.
    """

    path: str | None
    config: str | None = None
    text_fields: tuple[str, ...] = ("sentence",)
    label_field: str = "label"
    class_names: tuple[str, ...] = ()
    train_split: str = "train"
    eval_split: str = "validation"
    dev_split: str | None = None
    dev_size: int = 1000
    revision: str | None = None
    drop_labels: tuple[int, ...] = ()
    data_dir_format: str | None = None


@dataclass(frozen=True)
class Task:
    """A registered task: its classes, verbalizer, metric, source and split sizes.

    Attributes:
        name: Registry key (lower-kebab), e.g. ``"sent-movie"``.
        family: ``"sentiment"``, ``"nli"``, ``"paraphrase"``, ``"question-type"``, ...
        labels: Class names, in label-index order.
        label_words: One verbalizer word per class (single tokens for MiniLM/MPNet; asserted at
            load time by `check_label_words`).
        metric: ``"accuracy"``, ``"macro-f1"``, ``"squad-f1"``, ``"rouge-l"``.
        scale: ``"mini"`` (offline asset) or ``"paper"`` (``datasets`` hub name).
        synthetic: True for the generated NLI/paraphrase tasks; shown as "(synthetic)".
        source: Where the data comes from, in words.
        max_text_tokens: Prompt-transfer's truncation for this task (other pipelines set theirs).
        split_sizes: ``(train, dev, test)`` at split seed 13. Train is what is left after dev and
            test, capped at 2,000 (smaller where the source is: `sent-amazon`, `sms`,
            `nli-dialog`); dev and test are exact. `paper` tasks: ``(0, dev carve, 0)``, the
            rest comes from the dataset.
        builder: ``"module:function"`` that builds the splits (mini tasks).
        assets: Offline asset ids the builder reads.
        pair: Examples carry `text_pair`.
        label_words_by: Alternative verbalizers by style, e.g. ``(("t5", (...)), ("apet", (...)))``.
        hub: Hub loading details for `paper`-scale tasks.
        notes: Free-text notes for the data card.
    """

    name: str
    family: str
    labels: tuple[str, ...]
    label_words: tuple[str, ...]
    metric: str
    scale: str
    synthetic: bool
    source: str
    max_text_tokens: int
    split_sizes: tuple[int, int, int]
    builder: str = ""
    assets: tuple[str, ...] = ()
    pair: bool = False
    label_words_by: tuple[tuple[str, tuple[str, ...]], ...] = ()
    hub: HubSpec | None = None
    notes: str = ""

    @property
    def num_classes(self) -> int:
        """Number of classes (0 for generation tasks)."""
        return len(self.labels)

    @property
    def display_name(self) -> str:
        """The name as tables and plots print it: synthetic tasks get " (synthetic)"."""
        return f"{self.name} (synthetic)" if self.synthetic else self.name

    def words(self, style: str = "default") -> tuple[str, ...]:
        """The label words of a verbalizer style (``"default"`` is `label_words`).

        Raises:
            UsageError: unknown style.
        """
        if style == "default":
            return self.label_words
        styles = dict(self.label_words_by)
        if style not in styles:
            known = ", ".join(["default", *styles])
            raise UsageError(f"task '{self.name}' has no '{style}' label words; known: {known}")
        return styles[style]

    def load(self, split_seed: int = 13, *, cache: bool = True, **kwargs: Any) -> Splits:
        """Build (or read from cache) the seeded, deterministic train/dev/test splits.

        Args:
            split_seed: The split seed (13 unless a preset says otherwise).
            cache: Read/write ``home()/tasks/<name>-<seed>.json`` (mini tasks only).
            **kwargs: Passed to the builder (e.g. ``data_dir`` for the SemEval tasks).

        Returns:
            ``{"train": [...], "dev": [...], "test": [...]}`` of `Example`.

        Raises:
            AssetMissingError: a needed offline asset is not installed.
        """
        built = build_splits(self, split_seed, cache=cache, **kwargs)
        return {s: list(built.splits[s]) for s in SPLITS}


TASKS: Registry[Task] = Registry("task")


def register_task(task: Task) -> Task:
    """Add `task` to `TASKS` under its name."""
    TASKS.add(task.name, task)
    return task


def get_task(name: str) -> Task:
    """The registered task called `name`.

    Raises:
        RegistryKeyError: unknown name; the message lists the known tasks and the closest one.
    """
    return TASKS.get(name)


def load_splits(name: str, split_seed: int = 13, **kwargs: Any) -> Splits:
    """``get_task(name).load(split_seed)``."""
    return get_task(name).load(split_seed, **kwargs)


def split_fingerprint(splits: Splits) -> str:
    """sha256 of the splits' content (split, text, text_pair, label, target), citable in results."""
    return sha256_json({s: [e.to_row() for e in splits.get(s, [])] for s in SPLITS})


# --------------------------------------------------------------------------------------- caching

_MEMO: dict[tuple[str, int, str], BuiltSplits] = {}
_CODE_HASH: str | None = None


def _code_hash() -> str:
    """sha256 of this package's .py and .yaml files: any change to a builder invalidates caches."""
    global _CODE_HASH
    if _CODE_HASH is None:
        h = hashlib.sha256()
        folder = Path(__file__).parent
        for p in sorted([*folder.glob("*.py"), *folder.glob("*.yaml")]):
            h.update(p.name.encode())
            h.update(p.read_bytes())
        _CODE_HASH = h.hexdigest()
    return _CODE_HASH


def cache_path(name: str, split_seed: int) -> Path:
    """Where a task's built splits are cached: ``home()/tasks/<name>-<seed>.json``."""
    return home() / "tasks" / f"{name}-{split_seed}.json"


def _resolve(spec: str) -> Callable[..., BuiltSplits]:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_splits(task: Task, split_seed: int = 13, *, cache: bool = True, **kwargs: Any):
    """Build a task's splits with provenance, through the in-process memo and the disk cache.

    Args:
        task: The task.
        split_seed: The split seed.
        cache: Use the disk cache (mini tasks without extra builder arguments).
        **kwargs: Passed to the builder.

    Returns:
        A `BuiltSplits`.
    """
    if task.scale == "paper":
        from thunlp_repro.shared.tasks.hub import build_hub_splits

        return build_hub_splits(task, split_seed, **kwargs)
    from thunlp_repro.shared.tasks.sources import source_signature

    signature = hashlib.sha256((source_signature(task.assets) + _code_hash()).encode()).hexdigest()
    memo_key = (task.name, split_seed, signature)
    use_cache = cache and not kwargs
    if use_cache and memo_key in _MEMO:
        return _MEMO[memo_key]
    path = cache_path(task.name, split_seed)
    if use_cache and path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if data and data.get("format") == CACHE_FORMAT and data.get("signature") == signature:
            built = BuiltSplits(
                splits={s: [Example.from_row(r) for r in data["splits"][s]] for s in SPLITS},
                indices_sha256=data["indices_sha256"],
                meta=data.get("meta", {}),
            )
            _MEMO[memo_key] = built
            return built
    built = _resolve(task.builder)(task, split_seed, **kwargs)
    built.meta.setdefault("split_seed", split_seed)
    built.meta["fingerprint"] = split_fingerprint(built.splits)
    if use_cache:
        atomic_write_json(
            path,
            {
                "format": CACHE_FORMAT,
                "task": task.name,
                "split_seed": split_seed,
                "signature": signature,
                "indices_sha256": built.indices_sha256,
                "meta": built.meta,
                "splits": {s: [e.to_row() for e in built.splits[s]] for s in SPLITS},
            },
        )
        _MEMO[memo_key] = built
    return built


# ------------------------------------------------------------------------------------ data card


def split_stats(examples: list[Example], labels: tuple[str, ...]) -> dict[str, Any]:
    """Count, per-class counts and majority-class rate of one split."""
    counts = Counter(e.label for e in examples)
    n = len(examples)
    per_class = {lab: counts.get(i, 0) for i, lab in enumerate(labels)}
    if n and labels:
        top = max(range(len(labels)), key=lambda i: (counts.get(i, 0), -i))
        majority = {"majority_class": labels[top], "majority_rate": counts.get(top, 0) / n}
    else:
        majority = {"majority_class": None, "majority_rate": None}
    return {"n": n, "class_counts": per_class, **majority}


def data_card(
    name: str, split_seed: int = 13, *, baselines: bool = True, **kwargs: Any
) -> dict[str, Any]:
    """The task's data card: provenance, per-split counts and majority-class rates.

    For synthetic tasks it adds the bag-of-words surface baselines (pair, and second text only; a
    cheap proxy for the hypothesis-only check). The MiniLM hypothesis-only fine-tuning value is
    filled in by `thunlp_repro.shared.tasks.hypcheck` when that run has been made.

    Args:
        name: Task name.
        split_seed: Split seed.
        baselines: Compute the surface baselines (synthetic tasks; a few seconds each).
        **kwargs: Passed to the builder.

    Returns:
        A JSON-serialisable dict.
    """
    task = get_task(name)
    built = build_splits(task, split_seed, **kwargs)
    splits = built.splits
    card: dict[str, Any] = {
        "task": task.name,
        "display_name": task.display_name,
        "family": task.family,
        "synthetic": task.synthetic,
        "scale": task.scale,
        "source": task.source,
        "labels": list(task.labels),
        "label_words": list(task.label_words),
        "metric": task.metric,
        "split_seed": split_seed,
        "split_sizes_spec": list(task.split_sizes),
        "indices_sha256": built.indices_sha256,
        "fingerprint": split_fingerprint(splits),
        "source_facts": {k: v for k, v in built.meta.items() if k != "fingerprint"},
        "splits": {s: split_stats(splits[s], task.labels) for s in SPLITS},
    }
    test = card["splits"]["test"]
    card["chance"] = {
        "majority_rate_test": test["majority_rate"],
        "uniform": 1 / task.num_classes if task.num_classes else None,
    }
    if task.synthetic:
        from thunlp_repro.shared.tasks.hypcheck import stored_result

        if baselines:
            from thunlp_repro.shared.tasks.surface import surface_baselines

            card["surface_baseline"] = surface_baselines(splits, task.num_classes)
        # the MiniLM-L6 second-text-only run (hypcheck.check_task); None until it has been run
        card["hypothesis_only_ft"] = stored_result(task.name, split_seed, card["fingerprint"])
    return card


# ---------------------------------------------------------------------------------- label words


def label_word_ids(task: Task, tokenizer: Any, style: str = "default") -> list[int]:
    """Token ids of the task's label words, each asserted to be a single token.

    A word counts as a single token if ``tokenizer.tokenize(word)`` or, for byte-level BPE
    vocabularies, ``tokenizer.tokenize(" " + word)`` gives exactly one token; the first that does
    is used.

    Args:
        task: The task.
        tokenizer: A Hugging Face tokenizer (anything with ``tokenize`` and
            ``convert_tokens_to_ids``).
        style: Verbalizer style (see `Task.words`).

    Returns:
        One id per class.

    Raises:
        UsageError: a word is not a single token (the message names it), or two words share an id.
    """
    ids: list[int] = []
    for word in task.words(style):
        pieces = tokenizer.tokenize(word)
        if len(pieces) != 1:
            spaced = tokenizer.tokenize(" " + word)
            if len(spaced) == 1:
                pieces = spaced
        unk = getattr(tokenizer, "unk_token", None)
        if len(pieces) != 1 or (unk is not None and pieces[0] == unk):
            raise UsageError(
                f"label word '{word}' of task '{task.name}' is not a single token for this "
                f"tokenizer (it splits into {pieces}); pick a single-token synonym"
            )
        ids.append(int(tokenizer.convert_tokens_to_ids(pieces[0])))
    if len(set(ids)) != len(ids):
        raise UsageError(f"label words of task '{task.name}' share a token id: {ids}")
    return ids


def check_label_words(task: Task, tokenizer: Any, style: str = "default") -> None:
    """Assert that each label word of `task` is one token of `tokenizer`.

    Raises:
        UsageError: names the first word that is not a single token.
    """
    label_word_ids(task, tokenizer, style)


# ------------------------------------------------------------------- builders for labelled text


def splits_from_items(
    task: Task,
    split_seed: int,
    examples: list[Example],
    *,
    groups: list[str] | None = None,
    mode: str = "auto",
    balanced_train: bool = False,
    meta: dict[str, Any] | None = None,
) -> BuiltSplits:
    """Split a labelled source with `split_indices` using the task's sizes.

    Items are keyed by their text (so the split does not depend on row order) and grouped by
    `groups` (default: the normalised text, so identical texts never straddle two splits).

    Args:
        task: The task (its name salts the hash; its `split_sizes` give the cap and sizes).
        split_seed: Split seed.
        examples: All labelled items after filtering, in source order.
        groups: Group key per item.
        mode: Dev/test draw: ``"auto"``, ``"balanced"`` or ``"stratified"``.
        balanced_train: Downsample train to equal class counts.
        meta: Source facts for the data card.

    Returns:
        A `BuiltSplits` whose `indices_sha256` covers indices into `examples`.
    """
    from thunlp_repro.shared.tasks.splitting import split_indices

    keys = [f"{e.text}\t{e.text_pair or ''}" for e in examples]
    if groups is None:
        groups = [" ".join(k.lower().split()) for k in keys]
    plan = split_indices(
        [e.label for e in examples],
        task.split_sizes,
        split_seed,
        num_classes=task.num_classes,
        keys=keys,
        groups=groups,
        mode=mode,
        balanced_train=balanced_train,
        salt=task.name,
    )
    info = dict(meta or {})
    info.update({"items": len(examples), "split_mode": plan.mode})
    return BuiltSplits(
        splits={s: [examples[i] for i in plan.indices[s]] for s in SPLITS},
        indices_sha256=plan.sha256,
        meta=info,
    )
