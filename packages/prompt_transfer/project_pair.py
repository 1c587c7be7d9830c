"""One backbone pair A -> B of the `project` stage: prompts, projectors, identity map, scores.

Reproduces: prompt_transfer.md §2.9 ("Evaluation": R_B(A -> B, t) = 100 A^B_t(g(P^A_t)) /
A^B_t(P^B_t) for every task with a source prompt on A, grouped into the training tasks,
held-out tasks of the training family and other-family tasks; reference rows B's `rand-init`
prompt and, when widths and tokenizers match, the identity map) and §4.3 (projector and
cross-depth: B's own prompts for the evaluated tasks; for a same-width pair the identity
transfer matrices A -> B and B -> A over every task).

Prompts of the study backbone come from the train stage at the project seed; prompts of any
other backbone are trained here (`project/prompts/`, content-addressed by `train.run_pt`), with
that backbone's `project.pt` overrides. Trained projectors are stored as safetensors in
`project/projectors/<key>` (weights first, then the JSON with the loss curve: the JSON marks a
finished one), and cells in `project/cells/`; a killed pair resumes from what exists.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from thunlp_repro.shared.io import atomic_write_bytes, atomic_write_json, read_json

from .artefacts import content_key, tensor_sha256

CELLS = "project/cells"


class BudgetHit(Exception):
    """`--max-minutes` ran out inside a pair; the stage is written as partial."""


def _go(study: Any) -> None:
    if not study.budget.allows():
        raise BudgetHit


def _acc(study: Any, prompt: Any, target: str, backbone: str) -> float:
    from .pipeline import cell

    sha = tensor_sha256(prompt)
    doc = cell(
        study, prompt, sha, target, "test", backbone, folder=CELLS, before_new=lambda: _go(study)
    )
    return doc["accuracy"]


def pt_on(study: Any, backbone: str, task: str, seed: int, train: dict[str, Any] | None):
    """P^X_task and its run metrics (dev curve, test accuracy): the train stage's on the study
    backbone, else a run trained (or reused) here from a random init."""
    from .artefacts import check_compatible, load_prompt
    from .train import run_pt

    if backbone == study.cfg.model.name:
        run = train["runs"][task][str(seed)]
        tensor, meta = load_prompt(run["prompt"])
        check_compatible(meta, study.bb.info, source=f"train-stage prompt of {task}")
        return tensor, run
    base = study.cfg_for(backbone)
    cfg = replace(base, prompt=replace(base.prompt, init="random"))
    res = run_pt(cfg, study.backbone(backbone), study.task(task, backbone), seed,
                 study.root / "project" / "prompts", tag="pt", preset=study.preset,
                 before_new=lambda: _go(study))  # fmt: skip
    return load_prompt(res["metrics"]["prompt"])[0], res["metrics"]


def prompts_on(
    study: Any, backbone: str, tasks: list[str], seed: int, train: dict[str, Any] | None
) -> dict[str, Any]:
    """P^X_t for every task (`pt_on`)."""
    return {t: pt_on(study, backbone, t, seed, train)[0] for t in tasks}


def tpt_model(
    study: Any, b: str, proj: Any, src: dict[str, Any], seed: int, train: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """`tpt-model` (§2.8): B's PT on each eval task initialised from g(P^A_t), same seed and
    budget as B's vanilla run, compared on the dev curves (speed-ups to 90/95/100%)."""
    import torch

    from .artefacts import PROMPT_FILE, save_prompt, tensor_sha256
    from .tpt import compare
    from .train import run_pt

    bb, base = study.backbone(b), study.cfg_for(b)
    keys = ("backbone", "backbone_sha256", "head", "head_sha256", "tokenizer")
    weights = content_key({k: tensor_sha256(v) for k, v in proj.state_dict().items()})
    out = {}
    for t in study.cfg.project.eval_tasks:
        with torch.no_grad():
            init = proj(src[t]).detach().contiguous()
        folder = study.root / "project" / "tpt-model-init" / f"{t}-{tensor_sha256(init)[:16]}"
        if not (folder / PROMPT_FILE).is_file():
            meta = {**{k: bb.info[k] for k in keys}, "task": t, "seed": seed, "arm": "projected",
                    "length": init.shape[0], "width": init.shape[1],
                    "config_hash": content_key({"projector": weights,
                                                "source": tensor_sha256(src[t])})}  # fmt: skip
            save_prompt(init, folder, meta)
        cfg = replace(base, prompt=replace(base.prompt, init=f"from_prompt:{folder}"))
        arm = run_pt(cfg, bb, study.task(t, b), seed, study.root / "project" / "prompts",
                     tag="tpt-model", preset=study.preset,
                     before_new=lambda: _go(study))["metrics"]  # fmt: skip
        van = pt_on(study, b, t, seed, train)[1]
        out[t] = {**compare(van["curve"], arm["curve"]), "final_arm": arm["test_accuracy"],
                  "final_vanilla": van["test_accuracy"]}  # fmt: skip
    return out


def _projector(
    study: Any, key: str, build: Any, train_fn: Any, label: dict[str, str]
) -> tuple[Any, dict[str, Any]]:
    """Load projector `key` if it was finished, else train it and store it."""
    from safetensors.torch import load, save

    folder = study.root / "project" / "projectors"
    weights, card = folder / f"{key}.safetensors", folder / f"{key}.json"
    proj = build()
    if card.is_file() and weights.is_file():
        proj.load_state_dict(load(weights.read_bytes()))
        return proj, read_json(card)
    _go(study)
    t0 = time.time()
    losses = train_fn(proj)
    state = {k: v.detach().contiguous() for k, v in proj.state_dict().items()}
    atomic_write_bytes(weights, save(state))
    info = {**label, "losses": losses, "steps": len(losses), "wall_s": time.time() - t0}
    atomic_write_json(card, info)
    return proj, info


def train_projectors(
    study: Any, a: str, b: str, src: dict[str, Any], own: dict[str, Any], seed: int
) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Each of `project.modes` trained (or reloaded): A's training-task prompts to B."""
    import torch

    from .projector import Projector, balanced_mixture, train_distance, train_task

    pc, bb_a, bb_b = study.cfg.project, study.backbone(a), study.backbone(b)
    n = study.cfg.prompt.length
    fit = pc.train_tasks

    def build() -> Projector:
        torch.manual_seed(seed)  # the same init for both modes
        return Projector(n, bb_a.width, bb_b.width, pc.hidden)

    c_b = study.cfg_for(b)
    base = {"pair": f"{a}->{b}", "a": bb_a.info["backbone_sha256"],
            "b": [bb_b.info["backbone_sha256"], bb_b.info["head_sha256"]],
            "src": {t: tensor_sha256(src[t]) for t in fit}, "n": n, "hidden": pc.hidden,
            "steps": pc.steps, "lr": pc.lr, "seed": seed,
            "slot": [c_b.prompt.mask_slot, c_b.prompt.positions]}  # fmt: skip
    out = {}
    for mode in pc.modes:
        if mode == "distance":
            s_t = torch.stack([src[t] for t in fit])
            o_t = torch.stack([own[t] for t in fit])
            key = content_key({**base, "mode": mode,
                               "own": {t: tensor_sha256(own[t]) for t in fit}})  # fmt: skip

            def fn(proj: Projector, s_t: Any = s_t, o_t: Any = o_t) -> list[float]:
                return train_distance(proj, s_t, o_t, steps=pc.steps, lr=pc.lr)
        else:
            from .data import collate

            tasks = {t: study.task(t, b) for t in fit}
            union = sorted({i for t in fit for i in tasks[t].label_ids})
            key = content_key({**base, "mode": mode, "batch": pc.batch_size,
                               "verbalizer": pc.verbalizer,
                               "data": [c_b.data.split_seed, c_b.data.train_limit,
                                        c_b.data.max_length, c_b.data.verbalizer]})  # fmt: skip
            model = study.model(b)
            tok = bb_b.tokenizer

            def fn(
                proj: Projector,
                tasks: Any = tasks,
                union: Any = union,
                model: Any = model,
                tok: Any = tok,
            ) -> list[float]:
                mix = balanced_mixture({t: d.splits["train"] for t, d in tasks.items()}, seed)
                return train_task(
                    proj, model, {t: src[t] for t in fit}, mix,
                    {t: d.label_ids for t, d in tasks.items()}, lambda rows: collate(tok, rows),
                    steps=pc.steps, batch_size=pc.batch_size, lr=pc.lr, seed=seed,
                    union=union if pc.verbalizer == "union" else None,
                )  # fmt: skip

        out[mode] = _projector(study, key, build, fn, {"pair": f"{a}->{b}", "mode": mode})
    return out


def identity_matrix(
    study: Any, x: str, y: str, px: dict[str, Any], py: dict[str, Any]
) -> dict[str, Any]:
    """R on Y of X's unchanged prompts, every source x target, with the diagonal's mean."""
    from .transfer import summarise

    tasks = study.tasks
    own = {t: _acc(study, py[t], t, y) for t in tasks}
    rel = {
        t: {s: (100.0 * _acc(study, px[s], t, y) / own[t] if own[t] > 0 else float("nan"))
            for s in tasks}
        for t in tasks
    }  # fmt: skip
    summ = summarise(rel, tasks, study.family, columns=(), n_boot=study.cfg.exp.bootstrap)
    diag = [rel[t][t] for t in tasks]
    return {"rel": rel, "diagonal": sum(diag) / len(diag), "same": summ["same"],
            "cross": summ["cross"]}  # fmt: skip


def run_pair(study: Any, pair: str, train: dict[str, Any] | None, seed: int) -> dict[str, Any]:
    """Projector modes, references and (same width) identity matrices of one pair A -> B."""
    from thunlp_repro.shared.errors import UsageError
    from thunlp_repro.shared.tasks import get_task

    from .pipeline import _random_prompts

    t0 = time.time()
    a, b = pair.split("->")
    pc = study.cfg.project
    try:  # a missing asset or head (MPNet is opt-in): the pair is recorded, not fatal
        bb_a, bb_b = study.backbone(a), study.backbone(b)
    except UsageError as exc:
        return {"pair": pair, "source": a, "target": b, "status": "not run", "reason": str(exc)}
    same_space = bb_a.width == bb_b.width and bb_a.info["tokenizer"] == bb_b.info["tokenizer"]
    matrices = same_space and a != b
    need = list(dict.fromkeys([*pc.eval_tasks, *(study.tasks if matrices else [])]))
    src = prompts_on(study, a, need, seed, train)
    own = prompts_on(study, b, need, seed, train)
    fam = {t: get_task(t).family for t in need}
    train_fam = fam[pc.train_tasks[0]]
    groups = {t: "train" if t in pc.train_tasks else "held-out" if fam[t] == train_fam
              else "other" for t in pc.eval_tasks}  # fmt: skip
    own_acc = {t: _acc(study, own[t], t, b) for t in pc.eval_tasks}

    def rel(prompts: dict[str, Any]) -> dict[str, float]:
        return {t: (100.0 * _acc(study, prompts[t], t, b) / own_acc[t] if own_acc[t] > 0
                    else float("nan")) for t in pc.eval_tasks}  # fmt: skip

    draws = _random_prompts(study, bb_b.width)["rand-init"]
    rand = {t: sum(100.0 * _acc(study, p, t, b) for p, _ in draws) / len(draws) / own_acc[t]
            if own_acc[t] > 0 else float("nan") for t in pc.eval_tasks}  # fmt: skip
    modes, projectors = {}, train_projectors(study, a, b, src, own, seed)
    for mode, (proj, info) in projectors.items():
        import torch

        with torch.no_grad():
            projected = {t: proj(src[t]) for t in pc.eval_tasks}
        modes[mode] = {"R": rel(projected), "loss_first": info["losses"][0],
                       "loss_last": info["losses"][-1], "steps": info["steps"],
                       "wall_s": info["wall_s"]}  # fmt: skip
    tpt = None
    if pc.tpt_model and "task" in projectors:  # the paper's projector is the task-tuned one
        tpt = tpt_model(study, b, projectors["task"][0], src, seed, train)
    doc = {
        "pair": pair, "source": a, "target": b, "status": "ok", "seed": seed,
        "widths": [bb_a.width, bb_b.width], "train_tasks": list(pc.train_tasks),
        "train_family": train_fam, "groups": groups, "own_acc": own_acc, "rand_init": rand,
        "identity": rel(src) if same_space else None, "modes": modes, "tpt_model": tpt,
    }  # fmt: skip
    if matrices:
        doc["identity_matrices"] = {
            f"{a}->{b}": identity_matrix(study, a, b, src, own),
            f"{b}->{a}": identity_matrix(study, b, a, own, src),
        }
    doc["wall_s"] = time.time() - t0
    return doc
