"""`paper`-scale tasks: Hugging Face `datasets` names, label order checks, seeded dev carving.

Reproduces: prompt_transfer.md §3.2 (17 tasks, `datasets` names, eval splits, RoBERTa and T5 label
words, label order checked against the dataset's class names, SNLI label -1 dropped, SemEval-2014
laptop/restaurant from `--data-dir`), §7 #5 (dev carved from train where the official
validation/test set is reported on), apet.md §3.2 (APET's 11 tasks: ids, train−k / k / eval
splits, label words), ki.md §3.2 (GLUE downstream tasks).

`datasets` is imported only inside `build_hub_splits`, never at module import, and nothing here
runs in the tests (they stub `datasets.load_dataset`). Revisions are unpinned here; presets pin
them (`HubSpec.revision` is passed through when set).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.tasks.base import (
    BuiltSplits,
    Example,
    HubSpec,
    Task,
    register_task,
)
from thunlp_repro.shared.tasks.splitting import SPLITS, sha256_json, stable_order

_GLUE = "nyu-mll/glue"


def _cls(
    name: str,
    family: str,
    labels: tuple[str, ...],
    words: tuple[str, ...],
    hub: HubSpec,
    *,
    t5: tuple[str, ...] | None = None,
    apet: tuple[str, ...] | None = None,
    pair: bool = False,
    notes: str = "",
) -> None:
    by = tuple((k, v) for k, v in (("t5", t5 or words), ("apet", apet)) if v is not None)
    register_task(
        Task(
            name=name,
            family=family,
            labels=labels,
            label_words=words,
            metric="accuracy",
            scale="paper",
            synthetic=False,
            source=f"datasets: {hub.path}" + (f" ({hub.config})" if hub.config else "")
            if hub.path
            else "SemEval-2014 Task 4 XML from --data-dir",
            max_text_tokens=128,
            split_sizes=(0, hub.dev_size, 0),
            pair=pair,
            label_words_by=by,
            hub=hub,
            notes=notes,
        )
    )


def _gen(name: str, family: str, metric: str, hub: HubSpec, notes: str = "") -> None:
    register_task(
        Task(
            name=name,
            family=family,
            labels=(),
            label_words=(),
            metric=metric,
            scale="paper",
            synthetic=False,
            source=f"datasets: {hub.path}" + (f" ({hub.config})" if hub.config else ""),
            max_text_tokens=384,
            split_sizes=(0, hub.dev_size, 0),
            hub=hub,
            notes=notes,
        )
    )


# --- sentiment (prompt_transfer.md §3.2; apet.md §3.2) -----------------------------------------
_cls(
    "imdb",
    "sentiment",
    ("neg", "pos"),
    ("negative", "positive"),
    HubSpec(
        "stanfordnlp/imdb", text_fields=("text",), class_names=("neg", "pos"), eval_split="test"
    ),
    apet=("negative", "positive"),
)
_cls(
    "sst2",
    "sentiment",
    ("negative", "positive"),
    ("negative", "positive"),
    HubSpec(_GLUE, "sst2", class_names=("negative", "positive"), eval_split="validation"),
    apet=("negative", "positive"),
)
_cls(
    "rotten-tomatoes",
    "sentiment",
    ("neg", "pos"),
    ("negative", "positive"),
    HubSpec(
        "cornell-movie-review-data/rotten_tomatoes",
        text_fields=("text",),
        class_names=("neg", "pos"),
        eval_split="test",
        dev_split="validation",
    ),
    apet=("negative", "positive"),
)
_cls(
    "movie-rationales",
    "sentiment",
    ("NEG", "POS"),
    ("negative", "positive"),
    HubSpec(
        "movie_rationales",
        text_fields=("review",),
        class_names=("NEG", "POS"),
        eval_split="validation",
    ),
)
_cls(
    "tweet-eval",
    "sentiment",
    ("negative", "neutral", "positive"),
    ("negative", "moderate", "positive"),
    HubSpec(
        "cardiffnlp/tweet_eval",
        "sentiment",
        text_fields=("text",),
        class_names=("negative", "neutral", "positive"),
        eval_split="validation",
    ),
)
_ABSA = ("negative", "neutral", "positive", "conflict")
_ABSA_WORDS = ("negative", "moderate", "positive", "conflict")
for _n in ("laptop", "restaurant"):
    _cls(
        _n,
        "sentiment",
        _ABSA,
        _ABSA_WORDS,
        HubSpec(
            None,
            text_fields=("sentence", "aspect"),
            class_names=_ABSA,
            eval_split="test",
            data_dir_format="semeval14-xml",
        ),
        pair=True,
        notes="SemEval-2014 Task 4 aspect terms; pass data_dir= the folder with the official "
        "train and test XML files",
    )

# --- NLI ------------------------------------------------------------------------------------
_NLI = ("entailment", "neutral", "contradiction")
_cls(
    "mnli",
    "nli",
    _NLI,
    ("yes", "neutral", "no"),
    HubSpec(
        _GLUE,
        "mnli",
        text_fields=("premise", "hypothesis"),
        class_names=_NLI,
        eval_split="validation_matched",
    ),
    t5=("entailment", "neutral", "contradiction"),
    apet=("entailment", "neutral", "contradiction"),
    pair=True,
)
_cls(
    "snli",
    "nli",
    _NLI,
    ("yes", "neutral", "no"),
    HubSpec(
        "stanfordnlp/snli",
        text_fields=("premise", "hypothesis"),
        class_names=_NLI,
        eval_split="validation",
        drop_labels=(-1,),
    ),
    t5=("entailment", "neutral", "contradiction"),
    pair=True,
)
_NLI2 = ("entailment", "not_entailment")
_cls(
    "qnli",
    "nli",
    _NLI2,
    ("yes", "no"),
    HubSpec(_GLUE, "qnli", text_fields=("question", "sentence"), class_names=_NLI2),
    t5=("entailment", "contradiction"),
    apet=("entailment", "not_entailment"),
    pair=True,
)
_cls(
    "rte",
    "nli",
    _NLI2,
    ("yes", "no"),
    HubSpec(_GLUE, "rte", text_fields=("sentence1", "sentence2"), class_names=_NLI2, dev_size=250),
    apet=("entailment", "not_entailment"),
    pair=True,
)

# --- paraphrase -----------------------------------------------------------------------------
_cls(
    "mrpc",
    "paraphrase",
    ("not_equivalent", "equivalent"),
    ("false", "true"),
    HubSpec(
        _GLUE,
        "mrpc",
        text_fields=("sentence1", "sentence2"),
        class_names=("not_equivalent", "equivalent"),
        dev_size=400,
    ),
    apet=("not_equivalent", "equivalent"),
    pair=True,
)
_cls(
    "qqp",
    "paraphrase",
    ("not_duplicate", "duplicate"),
    ("false", "true"),
    HubSpec(
        _GLUE,
        "qqp",
        text_fields=("question1", "question2"),
        class_names=("not_duplicate", "duplicate"),
    ),
    apet=("not_duplicate", "duplicate"),
    pair=True,
)

# --- ethical judgement (label 0 = unacceptable; prompt_transfer.md §7 #3 on the official ids) --
_ETH = ("unacceptable", "acceptable")
_cls(
    "deontology",
    "ethics",
    _ETH,
    _ETH,
    HubSpec(
        "hendrycks/ethics", "deontology", text_fields=("scenario", "excuse"), eval_split="test"
    ),
    pair=True,
    notes="RoBERTa: the official code used fixed ids for an 'un...'-type token and "
    "'acceptable'; 'unacceptable' is not one BPE token (prompt_transfer.md §7 #3)",
)
_cls(
    "justice",
    "ethics",
    _ETH,
    _ETH,
    HubSpec("hendrycks/ethics", "justice", text_fields=("scenario",), eval_split="test"),
    notes="see deontology",
)

# --- generation (T5 only; Example.target holds the reference) --------------------------------
_gen(
    "squad",
    "qa",
    "squad-f1",
    HubSpec(
        "rajpurkar/squad",
        text_fields=("question", "context"),
        label_field="answers",
        eval_split="validation",
    ),
)
_gen(
    "nq-open",
    "qa",
    "squad-f1",
    HubSpec(
        "google-research-datasets/nq_open",
        text_fields=("question",),
        label_field="answer",
        eval_split="validation",
    ),
)
_gen(
    "samsum",
    "summarisation",
    "rouge-l",
    HubSpec(
        "Samsung/samsum",
        text_fields=("dialogue",),
        label_field="summary",
        eval_split="test",
        dev_split="validation",
    ),
)
_gen(
    "multi-news",
    "summarisation",
    "rouge-l",
    HubSpec(
        "alexfabbri/multi_news",
        text_fields=("document",),
        label_field="summary",
        eval_split="test",
        dev_split="validation",
    ),
)


# ------------------------------------------------------------------------------------- loading


def check_class_names(task: Task, names: list[str] | None) -> None:
    """Assert the dataset's class names match the task's label order (prompt_transfer.md §3.2).

    Raises:
        UsageError: the names differ (a remapped label order would silently swap verbalizers).
    """
    expected = task.hub.class_names if task.hub else ()
    if not expected or names is None:
        return
    norm = [re.sub(r"[^a-z]", "", n.lower()) for n in names]
    want = [re.sub(r"[^a-z]", "", n.lower()) for n in expected]
    if norm != want:
        raise UsageError(
            f"task '{task.name}': dataset class names {names} differ from the expected label "
            f"order {list(expected)}"
        )


def _to_example(task: Task, row: dict[str, Any]) -> Example:
    hub = task.hub
    assert hub is not None
    fields = [str(row[f]) for f in hub.text_fields]
    target = None
    label = -1
    if task.labels:
        label = int(row[hub.label_field])
    else:
        value = row[hub.label_field]
        if isinstance(value, dict):  # SQuAD: {"text": [...], "answer_start": [...]}
            value = value.get("text", [""])
        if isinstance(value, list):
            value = value[0] if value else ""
        target = str(value)
    return Example(
        text=fields[0],
        label=label,
        text_pair=fields[1] if len(fields) > 1 else None,
        target=target,
    )


def carve_dev(n: int, dev_size: int, seed: int, salt: str) -> tuple[list[int], list[int]]:
    """Seeded split of ``range(n)`` into (train, dev) indices, dev of `dev_size`, both sorted."""
    order = stable_order([str(i) for i in range(n)], salt, seed, "dev-carve")
    dev = sorted(order[:dev_size])
    taken = set(dev)
    return [i for i in range(n) if i not in taken], dev


def read_semeval14(path: Path) -> list[Example]:
    """Aspect-term examples (sentence, aspect) from a SemEval-2014 Task 4 XML file."""
    labels = {"negative": 0, "neutral": 1, "positive": 2, "conflict": 3}
    out: list[Example] = []
    for sent in ET.parse(path).getroot().iter("sentence"):
        text = (sent.findtext("text") or "").strip()
        for term in sent.iter("aspectTerm"):
            pol = term.get("polarity", "")
            if pol in labels:
                out.append(Example(text=text, text_pair=term.get("term", ""), label=labels[pol]))
    return out


def build_hub_splits(
    task: Task, split_seed: int = 13, *, data_dir: str | None = None, **_: Any
) -> BuiltSplits:
    """Load a `paper` task: train (minus a seeded dev carve, unless an official dev split is
    named), dev, and the reported split as ``test``.

    Args:
        task: A `paper`-scale task.
        split_seed: Seed of the dev carve.
        data_dir: Folder with the SemEval XML files (laptop, restaurant).

    Returns:
        A `BuiltSplits` (no disk cache: `datasets` keeps its own).

    Raises:
        UsageError: a SemEval task without `data_dir`, or a label-order mismatch.
    """
    hub = task.hub
    assert hub is not None
    if hub.data_dir_format == "semeval14-xml":
        if not data_dir:
            raise UsageError(f"task '{task.name}' needs data_dir= (the SemEval-2014 XML folder)")
        files = sorted(Path(data_dir).glob("*.xml"))
        kind = "Laptop" if task.name == "laptop" else "Restaurant"
        train_f = [f for f in files if kind.lower() in f.name.lower() and "train" in f.name.lower()]
        test_f = [f for f in files if kind.lower() in f.name.lower() and "test" in f.name.lower()]
        if not train_f or not test_f:
            raise UsageError(f"no {kind} train/test XML files in {data_dir}")
        full_train, test = read_semeval14(train_f[0]), read_semeval14(test_f[0])
        dev_rows = None
    else:
        from datasets import load_dataset

        kwargs = {"revision": hub.revision} if hub.revision else {}
        ds = load_dataset(hub.path, hub.config, **kwargs)
        feature = ds[hub.train_split].features.get(hub.label_field)
        check_class_names(task, getattr(feature, "names", None))

        def rows(split: str) -> list[Example]:
            out = []
            for r in ds[split]:
                if task.labels and int(r[hub.label_field]) in hub.drop_labels:
                    continue
                out.append(_to_example(task, r))
            return out

        full_train, test = rows(hub.train_split), rows(hub.eval_split)
        dev_rows = rows(hub.dev_split) if hub.dev_split else None
    if dev_rows is None:
        tr_idx, dev_idx = carve_dev(len(full_train), hub.dev_size, split_seed, task.name)
        train, dev = [full_train[i] for i in tr_idx], [full_train[i] for i in dev_idx]
    else:
        tr_idx, dev_idx = list(range(len(full_train))), []
        train, dev = full_train, dev_rows
    splits = {"train": train, "dev": dev, "test": test}
    meta = {
        "hub": hub.path,
        "config": hub.config,
        "revision": hub.revision,
        "eval_split": hub.eval_split,
        "dev": hub.dev_split or f"carved from {hub.train_split} (seeded)",
        "counts": {s: len(splits[s]) for s in SPLITS},
    }
    return BuiltSplits(splits, sha256_json({"train": tr_idx, "dev": dev_idx}), meta)
