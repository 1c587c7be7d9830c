"""Stage `project`: the cross-model projector pairs and the cross-depth check, gates M8-M10.

Reproduces: prompt_transfer.md §2.9 (both training modes, task tuning and distance
minimisation, evaluated on the training, held-out same-family and other-family targets with the
`rand-init` and identity references; `tpt-model` of §2.8 from the task-tuned projector) and
§4.3 (the mini pairs MiniLM-L6 -> MPNet and the cross-depth MiniLM-L3 -> MiniLM-L6 with the
identity matrices both ways; one seed). The stage is
scheduled apart from `all` (§4.4). A pair whose backbone or restored head is not installed
(MPNet is opt-in) is recorded `not run` with the reason, and its gates read `not run`.

The stage file `stages/project.json` holds every pair's numbers, the gates and the wall time. It
carries the key of the config and the train-stage prompts it read: a rerun with the same key whose
pairs all ran returns it unchanged; otherwise finished PT runs, projectors and cells are reused
(`project_pair.py`), so a killed stage resumes, and `--max-minutes` marks it `partial`.
"""

from __future__ import annotations

import time
from typing import Any

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.io import read_json

from .artefacts import content_key


def check_inputs(study: Any) -> tuple[dict[str, Any] | None, int]:
    """The train stage (when a pair uses the study backbone) and the seed, checked up front.

    Raises:
        UsageError: a missing train stage, a seed it lacks, eval tasks it has no prompt for,
            or training tasks of more than one family.
    """
    from thunlp_repro.shared.tasks import get_task

    pc, main = study.cfg.project, study.cfg.model.name
    seed = pc.seed if pc.seed is not None else study.cfg.exp.seeds[0]
    fams = {t: get_task(t).family for t in [*pc.eval_tasks, *pc.train_tasks]}
    if len({fams[t] for t in pc.train_tasks}) > 1:
        raise UsageError(
            "project.train_tasks must share one family (§2.9), got "
            + ", ".join(f"{t} ({fams[t]})" for t in pc.train_tasks)
        )
    if not any(main in p.split("->") for p in pc.pairs):
        return None, seed
    train = study.read_stage("train")
    missing = [t for t in pc.eval_tasks if str(seed) not in train["runs"].get(t, {})]
    if train.get("status") != "ok" or missing:
        what = f"no seed-{seed} prompt for {', '.join(missing)}" if missing else "it is partial"
        raise UsageError(
            f"project needs the train stage's {main} prompts of project.eval_tasks ({what}); "
            f"train tasks: {', '.join(train['runs'])}; rerun train or set project.eval_tasks"
        )
    return train, seed


def stage_key(study: Any, train: dict[str, Any] | None, seed: int) -> str:
    """Everything that determines the stage's numbers, without loading a backbone."""
    from thunlp_repro.shared.config import to_dict

    cfg = to_dict(study.cfg)
    used = {}
    if train is not None:
        used = {t: r[str(seed)]["prompt"] for t, r in train["runs"].items() if str(seed) in r}
    keep = ("model", "prompt", "data", "head_build", "optim", "train", "eval", "project")
    return content_key({"cfg": {k: cfg[k] for k in keep}, "tasks": study.tasks, "seed": seed,
                        "prompts": used, "bootstrap": study.cfg.exp.bootstrap})  # fmt: skip


def run_project(study: Any) -> dict[str, Any]:
    """Stage `project`: every pair of `project.pairs`, then gates M8, M9 and M10's part."""
    from .gates_m7_m10 import m8_m9, m10_project
    from .pipeline import progress
    from .project_pair import BudgetHit, run_pair

    t0 = time.time()
    train, seed = check_inputs(study)
    key = stage_key(study, train, seed)
    path = study.stage_path("project")
    if path.is_file():
        old = read_json(path)
        done = all(p.get("status") == "ok" for p in old.get("pairs", {}).values())
        if old.get("key") == key and old.get("status") == "ok" and done:
            return {**old, "reused": True}
    pairs, status = {}, "ok"
    bar = progress(len(study.cfg.project.pairs), "project")
    for pair in study.cfg.project.pairs:
        try:
            pairs[pair] = run_pair(study, pair, train, seed)
        except BudgetHit:
            pairs[pair] = {"pair": pair, "status": "partial", "reason": "--max-minutes reached"}
            status = "partial"
            break
        bar.update(1)
    bar.close()
    pc = study.cfg.project
    doc: dict[str, Any] = {
        "stage": "project", "status": status, "key": key, "seed": seed, "pairs": pairs,
        "gate_pair": pc.gate_pair, "train_tasks": list(pc.train_tasks),
        "eval_tasks": list(pc.eval_tasks), "modes": list(pc.modes),
    }  # fmt: skip
    if status == "ok":
        doc["gates"] = [*m8_m9(doc), m10_project(doc)]
    doc["wall_s"] = time.time() - t0
    study.write_stage("project", doc)
    return doc
