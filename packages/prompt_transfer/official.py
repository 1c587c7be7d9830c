"""Importer of the official released prompts, and gate P0 (our evaluator matches the official one).

Reproduces: prompt_transfer.md §2.5 ("Official-prompt importer"), §5.2 (gate P0) and §7 pitfall 1.
The official repository commits one trained prompt per task and backbone as
`task_prompt_emb/<Task>Prompt<Backbone>/task_prompt`, a `torch.save`d 100 × d tensor. On RoBERTa
and BERT the official forward overwrote row 0 with the `<mask>` embedding at every step, so that
row is dead: the importer drops it and keeps the 99 trained rows that our separate mask slot
expects (the paper preset's `prompt.length` 99). T5 prompts keep all 100 rows. The files are
read with `torch.load(weights_only=True)`, so a crafted pickle cannot run code.

`import_official` writes each prompt as our artefact (`artefacts.save_prompt`, the source file's
sha256 in its metadata) into `<study>/official/` and a `train` stage file with init `official`
and one pseudo-seed 0, so the unchanged `matrix` stage scores them. `p0` then compares the
relative matrix with the committed RoBERTa-base one (`reference/roberta_base_matrix.csv`).
That file carries relative scores, not accuracies, so P0's per-cell tolerances (1.0 point on
GLUE/SNLI targets, 3.0 on the rest) are applied to R (%); the group means must be within 2
points of the committed 80.8 (same family) / 56.6 (cross family).
"""

from __future__ import annotations

import hashlib
import pickle
import time
from pathlib import Path
from typing import Any

from thunlp_repro.shared.errors import UsageError

OFFICIAL_INIT = "official"
OFFICIAL_TASKS = {
    "imdb": "IMDB", "sst2": "SST2", "laptop": "laptop", "restaurant": "restaurant",
    "movie-rationales": "movierationales", "tweet-eval": "tweetevalsentiment", "mnli": "MNLI",
    "qnli": "QNLI", "snli": "snli", "deontology": "ethicsdeontology", "justice": "ethicsjustice",
    "qqp": "QQP", "mrpc": "MRPC",
}  # fmt: skip
"""Our task id -> the official folder prefix (`<prefix>Prompt<Backbone>`) [repo]."""
OFFICIAL_BACKBONES = {
    "roberta-base": "Roberta", "roberta-large": "RobertaLarge", "bert-base-uncased": "Bert",
    "t5-small": "T5Small", "t5-base": "T5", "t5-large": "T5Large", "t5-xxl": "T5XXL",
}  # fmt: skip
"""Our backbone name -> the official folder suffix [repo]."""
REFERENCE_COLUMNS = {
    "imdb": "IMDB", "sst2": "SST2", "laptop": "lapt", "restaurant": "rest",
    "movie-rationales": "movi", "tweet-eval": "twee", "mnli": "MNLI", "qnli": "QNLI",
    "snli": "SNLI", "deontology": "deon", "justice": "just", "qqp": "QQP", "mrpc": "MRPC",
}  # fmt: skip
"""Our task id -> its row / column name in the committed RoBERTa-base matrix."""
TIGHT_TARGETS = frozenset({"sst2", "mnli", "qnli", "snli", "qqp", "mrpc"})
"""GLUE and SNLI targets: the same public test data as the paper, so P0 allows 1.0 point."""
TOL_TIGHT, TOL_LOOSE, TOL_GROUP = 1.0, 3.0, 2.0
PAPER_SAME, PAPER_CROSS = 80.8, 56.6


def drops_row0(tag: str) -> bool:
    """RoBERTa and BERT prompts carry the dead mask row 0; T5 prompts do not (§7 pitfall 1)."""
    if tag.startswith(("Roberta", "Bert")):
        return True
    if tag.startswith("T5"):
        return False
    raise UsageError(f"unknown official backbone tag '{tag}'; accepted: Roberta*, Bert*, T5*")


def official_file(src: Path, task: str, tag: str, names: dict[str, str] | None = None) -> Path:
    """`<src>/<Task>Prompt<tag>/task_prompt` of one of our tasks.

    Raises:
        UsageError: a task without an official name, or no such file (the line lists what is there).
    """
    names = names or OFFICIAL_TASKS
    if task not in names:
        raise UsageError(
            f"task '{task}' has no official prompt name; accepted: {', '.join(sorted(names))}"
        )
    path = Path(src) / f"{names[task]}Prompt{tag}" / "task_prompt"
    if not path.is_file():
        found = sorted(p.parent.name for p in Path(src).glob(f"*Prompt{tag}/task_prompt"))
        raise UsageError(
            f"no official prompt for task '{task}' at {path}; found for {tag}: "
            f"{', '.join(found) or 'none'} (pass --tasks to import a subset)"
        )
    return path


def read_official(path: Path, tag: str, width: int, length: int) -> Any:
    """The trained rows of one official prompt file, float32 (row 0 dropped where it is dead).

    Raises:
        UsageError: not a tensor file, not n × `width`, or not `length` rows once row 0 is dropped.
    """
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{path} is not a readable torch tensor file ({first})") from None
    if not isinstance(obj, torch.Tensor):
        raise UsageError(f"{path} holds a {type(obj).__name__}, not a prompt tensor")
    t = obj.detach().to(torch.float32)
    if t.ndim == 3 and t.shape[0] == 1:  # some releases keep a batch axis
        t = t[0]
    if t.ndim != 2 or t.shape[1] != width:
        raise UsageError(
            f"{path} holds a tensor of shape {tuple(obj.shape)}; expected (n, {width}) for this "
            "backbone (a prompt of another width needs --projector)"
        )
    if drops_row0(tag):
        t = t[1:]
    if t.shape[0] != length:
        raise UsageError(
            f"{path} gives {t.shape[0]} trained rows, the study's prompt.length is {length}; "
            f"set --set prompt.length={t.shape[0]}"
        )
    return t.contiguous().clone()


def import_official(
    study: Any, src: str | Path, tag: str | None = None, names: dict[str, str] | None = None
) -> dict[str, Any]:
    """Import the study tasks' official prompts for its backbone; write the `train` stage file.

    Every file is read and checked before anything is written. Returns the stage document.
    """
    from .artefacts import save_prompt

    src = Path(src)
    if not src.is_dir():
        raise UsageError(f"--dir {src} is not a folder (expected the official task_prompt_emb/)")
    name = study.cfg.model.name
    tag = tag or OFFICIAL_BACKBONES.get(name)
    if tag is None:
        raise UsageError(
            f"backbone '{name}' has no official prompt folder suffix; pass --tag (accepted "
            f"backbones: {', '.join(OFFICIAL_BACKBONES)})"
        )
    t0, bb, p = time.time(), study.bb, study.cfg.prompt
    files = {t: official_file(src, t, tag, names) for t in study.tasks}
    tensors = {t: read_official(f, tag, bb.width, p.length) for t, f in files.items()}
    runs = {}
    for t, tensor in tensors.items():
        sha = hashlib.sha256(files[t].read_bytes()).hexdigest()
        meta = {**bb.info, "task": t, "seed": 0, "init": OFFICIAL_INIT,
                "config_hash": f"{OFFICIAL_INIT}:{sha[:16]}",
                "source_file": str(files[t]), "source_sha256": sha, "official_tag": tag,
                "dropped_rows": [0] if drops_row0(tag) else [], "mask_slot": p.mask_slot,
                "positions": p.positions}  # fmt: skip
        meta.pop("head_card", None)
        path = save_prompt(tensor, study.root / "official" / t, meta)
        runs[t] = {"0": {"prompt": str(path), "source_file": str(files[t]),
                         "source_sha256": sha}}  # fmt: skip
    doc = {
        "stage": "train",
        "init": OFFICIAL_INIT,
        "status": "ok",
        "runs": runs,
        "n_runs": len(runs),
        "n_planned": len(runs),
        "wall_s": time.time() - t0,
        "backbone": bb.info,
        "seeds": [0],
        "tasks": study.tasks,
        "family": study.family,
        "majority": {t: 100.0 * study.task(t).majority["test"] for t in study.tasks},
        "source_dir": str(src),
        "official_tag": tag,
    }
    study.write_stage("train", doc)
    return doc


def p0(matrix: dict[str, Any]) -> dict[str, str]:
    """Gate P0 from a finished matrix stage of imported official prompts (seed 0's test R)."""
    from .gates import FAIL, PASS, _gate
    from .report import reference_matrix
    from .transfer import group_mean, pairs

    shape = "our evaluator matches the official one"
    rt, rs, rv = reference_matrix()
    ref = {t: dict(zip(rs, row, strict=True)) for t, row in zip(rt, rv, strict=True)}
    tasks = [t for t in matrix["tasks"] if t in REFERENCE_COLUMNS]
    if not tasks:
        return _gate("P0", shape, FAIL, "no task of the committed RoBERTa-base matrix", "")
    rel, fam = matrix["per_seed"][str(matrix["seeds"][0])]["rel"], matrix["family"]
    worst, missed = 0.0, []
    for t in tasks:
        tol = TOL_TIGHT if t in TIGHT_TARGETS else TOL_LOOSE
        for s in tasks:
            d = abs(rel[t][s] - ref[REFERENCE_COLUMNS[t]][REFERENCE_COLUMNS[s]])
            worst = max(worst, d)
            if d > tol:
                missed.append(f"{t}<-{s} {d:.1f}")
    same = group_mean(rel, pairs(tasks, fam, "same"))
    cross = group_mean(rel, pairs(tasks, fam, "cross"))
    groups_ok = abs(same - PAPER_SAME) <= TOL_GROUP and abs(cross - PAPER_CROSS) <= TOL_GROUP
    n = len(tasks) ** 2
    value = (f"{n - len(missed)}/{n} cells within tolerance (worst {worst:.1f}); same {same:.1f}, "
             f"cross {cross:.1f} (paper {PAPER_SAME} / {PAPER_CROSS})")  # fmt: skip
    if missed:
        value += f"; off: {', '.join(missed[:5])}" + (" ..." if len(missed) > 5 else "")
    threshold = (f"each R within {TOL_TIGHT} (GLUE/SNLI targets) or {TOL_LOOSE}; groups within "
                 f"{TOL_GROUP}")  # fmt: skip
    status = PASS if not missed and groups_ok and len(tasks) == len(REFERENCE_COLUMNS) else FAIL
    if len(tasks) < len(REFERENCE_COLUMNS):
        value += f" [{len(tasks)} of the {len(REFERENCE_COLUMNS)} tasks; P0 needs all]"
    return _gate("P0", shape, status, value, threshold)


def gates(matrix: dict[str, Any] | None) -> list[dict[str, str]]:
    """The verdict lines of an imported-prompt study: P0 (the M gates judge our own PT)."""
    from .gates import NOT_RUN, _gate

    if matrix is None:
        return [_gate("P0", "our evaluator matches the official one", NOT_RUN, "matrix not run",
                      "")]  # fmt: skip
    return [p0(matrix)]
