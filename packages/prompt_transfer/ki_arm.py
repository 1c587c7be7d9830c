"""Stage `ki-arm`: the transfer matrix on the KI zoo's encoders, with their native MLM heads.

Reproduces: prompt_transfer.md §4.3 ("KI arm: the matrix stage on the KI encoders, 1 seed; runs
only if their KI zoo entries exist"), §2.6 (`native` head: the zoo's BERT-style encoders keep
the MLM head they were pre-trained with, so this arm needs no restored head) and §5.1 (its
report-only part of M10). Each encoder of `exp.ki_backbones` that is built
(`thunlp-repro ki zoo build --preset mini`) gets a sub-study `<study>/ki-arm/<name>/` whose
`train` and `matrix` stages are the ordinary ones with `model.name=<name>`, `prompt.head=native`
and the one seed `exp.seeds[0]`, so a rerun skips finished runs and cells. An encoder that is
not built is recorded `not run` with the build command. The zoo loads by name through
`shared.models`; this package never imports the KI package.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any


def missing_reason(name: str) -> str | None:
    """None when zoo encoder `name` is on disk, else why not (the message names the build)."""
    from thunlp_repro.shared.errors import AssetMissingError
    from thunlp_repro.shared.models import resolve_model

    try:
        resolve_model(name)  # an unknown name raises a plain UsageError: bad input
    except AssetMissingError as exc:
        return str(exc)
    return None


def sub_study(study: Any, name: str) -> Any:
    """The study of one encoder: same tasks and PT recipe, native head, the first seed."""
    from .pipeline import Study

    cfg = study.cfg
    sub = replace(cfg, model=replace(cfg.model, name=name),
                  prompt=replace(cfg.prompt, head="native", init="random"),
                  exp=replace(cfg.exp, seeds=[cfg.exp.seeds[0]]))  # fmt: skip
    return Study(sub, study.root / "ki-arm" / folder_name(name), preset=study.preset,
                 budget=study.budget)  # fmt: skip


def folder_name(name: str) -> str:
    """A zoo name as it is; a checkpoint folder (absolute or with '/') as `<last part>-<hash>`,
    so the sub-study stays inside the study instead of joining onto the checkpoint's path."""
    import hashlib
    from pathlib import Path

    if "/" not in name and "\\" not in name:
        return name
    return f"{Path(name).name}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _summary(train: dict[str, Any], matrix: dict[str, Any]) -> dict[str, Any]:
    from .gates import m1

    seed = str(train["seeds"][0])
    own = {t: r[seed]["test_accuracy"] for t, r in train["runs"].items()}
    _, learned = m1(train)  # M1's rule: own-prompt test accuracy >= majority + 10
    s = matrix["per_seed"][seed]["summary"]
    return {"status": "ok", "backbone": train["backbone"], "own_acc": own,
            "majority": train["majority"], "learned": learned, "same": s["same"],
            "cross": s["cross"], "gap": s["gap"], "rand-init": s["rand-init"],
            "wall_s": train["wall_s"] + matrix["wall_s"]}  # fmt: skip


def m10_part(encoders: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The KI arm's report-only M10 line: same / cross / gap per encoder that ran."""
    from .gates import M10_SHAPE, REPORT, _gate

    ran = [f"{n} same {e['same']:.1f} / cross {e['cross']:.1f} (gap {e['gap']:.1f}, "
           f"{len(e['learned'])}/{len(e['own_acc'])} tasks learned)"
           for n, e in encoders.items() if e["status"] == "ok"]  # fmt: skip
    skipped = [n for n, e in encoders.items() if e["status"] == "not run"]
    value = "KI arm: " + ("; ".join(ran) if ran else "no encoder ran")
    if skipped:
        value += f"; not run (zoo entry not built): {', '.join(skipped)}"
    return _gate("M10", M10_SHAPE, REPORT, value, "report-only")


def run_ki_arm(study: Any) -> dict[str, Any]:
    """Stage `ki-arm`: train + matrix on every built KI encoder; the others are `not run`."""
    from .pipeline import run_matrix, run_train

    t0 = time.time()
    names = list(study.cfg.exp.ki_backbones)
    reasons = {n: missing_reason(n) for n in names}  # unknown names fail before any work
    encoders: dict[str, dict[str, Any]] = {}
    status = "ok"
    for name in names:
        if reasons[name] is not None:
            encoders[name] = {"status": "not run", "reason": reasons[name]}
            continue
        sub = sub_study(study, name)
        train = run_train(sub)
        matrix = run_matrix(sub) if train["status"] == "ok" else {"status": "partial"}
        if matrix["status"] != "ok":
            encoders[name] = {"status": "partial", "reason": "--max-minutes reached"}
            status = "partial"
            break
        encoders[name] = {**_summary(train, matrix), "folder": str(sub.root)}
    doc: dict[str, Any] = {"stage": "ki-arm", "status": status, "seed": study.cfg.exp.seeds[0],
                           "tasks": study.tasks, "encoders": encoders}  # fmt: skip
    if status == "ok":
        doc["gates"] = [m10_part(encoders)]
    doc["wall_s"] = time.time() - t0
    study.write_stage("ki-arm", doc)
    return doc
