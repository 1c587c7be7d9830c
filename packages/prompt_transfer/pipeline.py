"""The stages of `thunlp-repro prompt-transfer`: train, matrix, tpt (then gates and report).

Reproduces: prompt_transfer.md §4.4 (stage order `train → matrix → indicators → tpt → report`;
`project`, the §2.9 projector and cross-depth check, and `ki-arm`, the §4.3 KI encoders, are
scheduled separately), §2.7 (the full
source × target matrix with `rand-init`, `rand-uniform` and `majority` columns, per seed, plus the
seed-0 dev matrix that picks TPT sources, §7 pitfall 8) and §2.8 (TPT arms `tpt-task`,
`tpt-cross`; `vanilla` reuses the train stage's runs: same seeds, same logged curve).

State lives in one folder `runs/prompt_transfer/<name>/` (name defaults to the preset):
`prompts/` and `tpt/` hold content-addressed PT runs (`project/` and `indicators/` those of
their stages, `project_stage.py` and `indicator_stage.py`), `cells/` one JSON per matrix cell
keyed by (prompt sha256, target, split, backbone, head, data), `stages/<stage>.json` each
stage's summary with its wall time. A rerun skips finished work; a killed stage resumes at
the first unfinished run or cell. `--max-minutes` stops starting new work after the limit
and marks the stage `partial`.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.io import atomic_write_json, read_json

from .artefacts import content_key, load_prompt
from .backbone import Backbone, load_backbone
from .data import TaskData, load_task

logger = logging.getLogger(__name__)

RANDOM_COLUMNS = ("rand-init", "rand-uniform")
STAGES = ("train", "matrix", "indicators", "tpt", "project", "ki-arm", "report")
RUN_STAGES = ("train", "matrix", "indicators", "tpt")
"""What `all` runs before `report` (§4.4's default order; `project` is scheduled separately)."""
HEADLINE_STAGES = ("train", "matrix", "tpt")
"""What `reproduce-all`'s experiment runs: gates M1-M6 (the quick profile keeps its time)."""


class Budget:
    """`--max-minutes`: a wall-clock limit after which no new run or cell starts."""

    def __init__(self, minutes: float | None) -> None:
        self.deadline = None if minutes is None else time.time() + 60 * minutes
        self.hit = False

    def allows(self) -> bool:
        if self.deadline is not None and time.time() > self.deadline:
            self.hit = True
        return not self.hit


def progress(total: int, desc: str) -> Any:
    """A tqdm bar (done / total with ETA) on a terminal; a no-op object elsewhere (CI, logs)."""
    from tqdm.auto import tqdm

    off = not sys.stderr.isatty() or os.environ.get("CI", "").lower() == "true"
    return tqdm(
        total=total,
        desc=desc,
        unit="run" if desc != "matrix" else "cell",
        disable=off,
        dynamic_ncols=True,
    )


def make_study(
    preset: str,
    config: Path | None = None,
    sets: list[str] | None = None,
    name: str | None = None,
    minutes: float | None = None,
    root: Path | None = None,
) -> Study:
    """Load the preset (plus file and `--set` overrides) and open its study folder.

    The folder is `root`, else `runs/prompt_transfer/<name or preset>/` under the runs root.

    Raises:
        ConfigError / UsageError: bad preset, override, task or stage inputs (exit 2).
    """
    from thunlp_repro.shared.config import load_config
    from thunlp_repro.shared.paths import runs_root

    from .config import PromptTransferConfig

    cfg, _ = load_config(
        PromptTransferConfig,
        pipeline="prompt-transfer",
        preset=preset,
        config_file=config,
        overrides=list(sets or []),
    )
    folder = root or Path(runs_root()) / "prompt_transfer" / (name or preset)
    return Study(cfg, folder, preset=preset, budget=Budget(minutes))


class Study:
    """One study folder: the config, its backbones, the tasks and the stage files.

    The study backbone is `cfg.model.name`; the `project` stage (§2.9, §4.3 cross-depth) also
    opens other backbones through `backbone(name)`, each with its config view `cfg_for(name)`
    and its own tokenisation of the tasks (`task(name, backbone)`).
    """

    def __init__(
        self, cfg: Any, root: Path, preset: str = "custom", budget: Budget | None = None
    ) -> None:
        from thunlp_repro.shared.tasks import get_task

        self.cfg, self.root, self.preset = cfg, Path(root), preset
        self.budget = budget or Budget(None)
        for t in cfg.exp.tasks:
            get_task(t)  # unknown task: one clear line before any work
        self._backbones: dict[str, Backbone] = {}
        self._tasks: dict[tuple[str, str], TaskData] = {}
        self._models: dict[str, Any] = {}

    @property
    def bb(self) -> Backbone:
        return self.backbone()

    def backbone(self, name: str | None = None) -> Backbone:
        """The study backbone, or backbone `name` loaded with the same head recipe."""
        name = name or self.cfg.model.name
        if name not in self._backbones:
            self._backbones[name] = load_backbone(self.cfg_for(name))
        return self._backbones[name]

    def cfg_for(self, name: str) -> Any:
        """The config of backbone `name`: the study's, plus its `project.pt` PT overrides."""
        cfg = self.cfg
        if name == cfg.model.name:
            return cfg
        over = cfg.project.pt.get(name, {})
        train = replace(cfg.train, **{k: int(over[k]) for k in ("max_steps", "eval_every")
                                      if k in over})  # fmt: skip
        data, optim = cfg.data, cfg.optim
        if "max_length" in over:
            data = replace(data, max_length=int(over["max_length"]))
        if "lr" in over:
            optim = replace(optim, lr=float(over["lr"]))
        model = replace(cfg.model, name=name)
        return replace(cfg, model=model, train=train, data=data, optim=optim)

    def task(self, name: str, backbone: str | None = None) -> TaskData:
        backbone = backbone or self.cfg.model.name
        if (backbone, name) not in self._tasks:
            tok = self.backbone(backbone).tokenizer
            self._tasks[backbone, name] = load_task(name, tok, self.cfg_for(backbone))
        return self._tasks[backbone, name]

    @property
    def tasks(self) -> list[str]:
        return list(self.cfg.exp.tasks)

    @property
    def family(self) -> dict[str, str]:
        from thunlp_repro.shared.tasks import get_task

        return {t: get_task(t).family for t in self.tasks}

    def stage_path(self, stage: str) -> Path:
        return self.root / "stages" / f"{stage}.json"

    def read_stage(self, stage: str) -> dict[str, Any]:
        path = self.stage_path(stage)
        if not path.is_file():
            raise UsageError(
                f"stage '{stage}' has not run in {self.root}; run "
                f"`thunlp-repro prompt-transfer {stage}` first"
            )
        return read_json(path)

    def write_stage(self, stage: str, doc: dict[str, Any]) -> Path:
        return atomic_write_json(self.stage_path(stage), doc)

    def model(self, backbone: str | None = None) -> Any:
        """One soft-prompt model around a backbone, reused to score every prompt on it."""
        from .prompt import random_prompt
        from .train import build_model

        backbone = backbone or self.cfg.model.name
        if backbone not in self._models:
            bb, p = self.backbone(backbone), self.cfg.prompt
            model = build_model(
                self.cfg_for(backbone), bb, random_prompt(p.length, bb.width, p.init_std, 0)
            )
            model.eval()
            self._models[backbone] = model
        return self._models[backbone]


# ------------------------------------------------------------------------------------ train


def train_stage_name(init: str) -> str:
    """`train` for vanilla PT (`init=random`); `train-<kind>` for the other inits (§2.5)."""
    kind = init.split(":", 1)[0]
    return "train" if kind == "random" else f"train-{kind}"


def run_train(study: Study) -> dict[str, Any]:
    """Stage `train`: PT of every task × seed (§4.3), from the preset's `prompt.init`.

    Vanilla PT (`init=random`) is the stage `train` that the matrix and TPT read; another init
    (`vocab`, `labels`, `from_prompt:<file>`) writes its own stage file `train-<kind>.json`
    and never replaces the vanilla one. Every init is checked before the first run starts.
    """
    from .train import initial_prompt, run_pt

    t0 = time.time()
    cfg, out = study.cfg, {}
    stage = train_stage_name(cfg.prompt.init)
    tag = "pt" if stage == "train" else stage.removeprefix("train-")
    for name in study.tasks:  # bad inputs (a foreign or corrupt prompt) fail before any work
        initial_prompt(cfg, study.bb, study.task(name), cfg.exp.seeds[0])
    jobs = [(s, t) for s in cfg.exp.seeds for t in study.tasks]
    bar = progress(len(jobs), "train")
    done = 0
    for seed, name in jobs:
        if not study.budget.allows():
            break
        r = run_pt(cfg, study.bb, study.task(name), seed, study.root / "prompts",
                   tag=tag, preset=study.preset)  # fmt: skip
        m = r["metrics"]
        out.setdefault(name, {})[str(seed)] = {
            k: m[k]
            for k in (
                "best_step",
                "best_dev",
                "test_accuracy",
                "test_macro_f1",
                "test_majority",
                "curve",
                "wall_s",
                "prompt",
            )
        }
        done += 1
        bar.update(1)
    bar.close()
    doc = {
        "stage": stage,
        "init": cfg.prompt.init,
        "status": "ok" if done == len(jobs) else "partial",
        "runs": out,
        "n_runs": done,
        "n_planned": len(jobs),
        "wall_s": time.time() - t0,
        "backbone": study.bb.info,
        "seeds": list(cfg.exp.seeds),
        "tasks": study.tasks,
        "family": study.family,
        "majority": {t: 100.0 * study.task(t).majority["test"] for t in study.tasks},
    }
    study.write_stage(stage, doc)
    return doc


# ------------------------------------------------------------------------------------ matrix


def cell(
    study: Study,
    prompt: Any,
    prompt_sha: str,
    target: str,
    split: str,
    backbone: str | None = None,
    folder: str = "cells",
    before_new: Any = None,
) -> dict[str, Any]:
    """Score one prompt on one target split of a backbone (cached by content key in `folder`);
    `before_new` is called before a cell that is not cached is scored (a budget check)."""
    from .evaluate import score

    c, bb = study.cfg_for(backbone or study.cfg.model.name), study.backbone(backbone)
    key = content_key(
        {
            "prompt": prompt_sha,
            "target": target,
            "split": split,
            "backbone": bb.info["backbone_sha256"],
            "head": bb.info["head_sha256"],
            "data": [
                c.data.split_seed,
                c.data.dev_eval_size,
                c.data.test_limit,
                c.data.max_length,
                c.data.verbalizer,
            ],
            "slot": [c.prompt.mask_slot, c.prompt.positions],
        }
    )
    path = study.root / folder / f"{key}.json"
    if path.is_file():
        return read_json(path)
    if before_new is not None:
        before_new()
    task = study.task(target, backbone)
    s = score(study.model(backbone), bb.tokenizer, task, split, c.exp.eval_batch_size, prompt)
    doc = {"target": target, "split": split, "prompt_sha256": prompt_sha, **s}
    atomic_write_json(path, doc)
    return doc


def _random_prompts(study: Study, width: int | None = None) -> dict[str, list[tuple[Any, str]]]:
    """`rand-init` N(0, init_std²) and `rand-uniform` U[0, 1) prompts, `random_draws` each."""
    from .artefacts import tensor_sha256
    from .prompt import random_prompt, uniform_prompt

    p, d = study.cfg.prompt, width or study.bb.width
    out: dict[str, list[tuple[Any, str]]] = {c: [] for c in RANDOM_COLUMNS}
    for k in range(study.cfg.exp.random_draws):
        for col, t in (
            ("rand-init", random_prompt(p.length, d, p.init_std, 10_000 + k)),
            ("rand-uniform", uniform_prompt(p.length, d, 20_000 + k)),
        ):
            out[col].append((t, tensor_sha256(t)))
    return out


def _matrix(
    study: Study,
    prompts: dict[str, tuple[Any, str]],
    split: str,
    randoms: dict[str, list[tuple[Any, str]]],
    bar: Any,
) -> dict[str, Any] | None:
    """acc[target][source] and f1[target][source] for one seed's prompts on one split."""
    acc: dict[str, dict[str, float]] = {}
    f1: dict[str, dict[str, float]] = {}
    for t in study.tasks:
        acc[t], f1[t] = {}, {}
        for s, (tensor, sha) in prompts.items():
            if not study.budget.allows():
                return None
            r = cell(study, tensor, sha, t, split)
            acc[t][s], f1[t][s] = r["accuracy"], r["macro_f1"]
            bar.update(1)
        for col, draws in randoms.items():
            vals = []
            for tensor, sha in draws:
                if not study.budget.allows():
                    return None
                vals.append(cell(study, tensor, sha, t, split))
                bar.update(1)
            acc[t][col] = sum(v["accuracy"] for v in vals) / len(vals)
            f1[t][col] = sum(v["macro_f1"] for v in vals) / len(vals)
        maj = 100.0 * study.task(t).majority[split]
        acc[t]["majority"], f1[t]["majority"] = maj, math.nan
    return {"acc": acc, "f1": f1}


def _seed_prompts(
    study: Study, train: dict[str, Any], seed: int | str, tasks: list[str] | None = None
) -> dict[str, tuple[Any, str]]:
    """The trained prompt and its hash per task for one seed, checked against the backbone."""
    from .artefacts import check_compatible, tensor_sha256

    out = {}
    for t in study.tasks if tasks is None else tasks:
        run = train["runs"].get(t, {}).get(str(seed))
        if run is None:
            raise UsageError(f"no trained prompt for {t} seed {seed}; rerun the train stage")
        tensor, meta = load_prompt(run["prompt"])
        check_compatible(meta, study.bb.info, source=run["prompt"])
        out[t] = (tensor, tensor_sha256(tensor))
    return out


def run_matrix(study: Study) -> dict[str, Any]:
    """Stage `matrix`: test matrices per seed, the seed-0 dev matrix, grouped summaries."""
    from thunlp_repro.shared.metrics import mean_and_spread

    from .transfer import relative, summarise

    t0 = time.time()
    train = study.read_stage("train")
    seeds, n = list(study.cfg.exp.seeds), len(study.tasks)
    randoms = _random_prompts(study)
    per_prompt = n + 2 * study.cfg.exp.random_draws
    bar = progress(per_prompt * n * (len(seeds) + 1), "matrix")
    per_seed: dict[str, Any] = {}
    status = "ok"
    for i, seed in enumerate(seeds):
        prompts = _seed_prompts(study, train, seed)
        splits = ["test", "dev"] if i == 0 else ["test"]
        for split in splits:
            m = _matrix(study, prompts, split, randoms, bar)
            if m is None:
                status = "partial"
                break
            cols = [*RANDOM_COLUMNS, "majority"]
            m["rel"] = relative(m["acc"], study.tasks, cols)
            m["rel_f1"] = relative(m["f1"], study.tasks, RANDOM_COLUMNS)
            if split == "test":
                m["summary"] = summarise(
                    m["rel"], study.tasks, study.family, n_boot=study.cfg.exp.bootstrap, seed=seed
                )
                per_seed[str(seed)] = m
            else:
                dev = m
        if status != "ok":
            break
    bar.close()
    doc: dict[str, Any] = {
        "stage": "matrix",
        "status": status,
        "seeds": seeds,
        "tasks": study.tasks,
        "family": study.family,
        "per_seed": per_seed,
        "wall_s": time.time() - t0,
    }
    if status == "ok":
        doc["dev"] = dev
        keys = ["same", "cross", "gap", "rand-init", "rand-uniform", "majority"]
        mean = {}
        for k in keys:
            mu, sd, cnt = mean_and_spread([per_seed[str(s)]["summary"][k] for s in seeds])
            mean[k] = {"mean": mu, "std": sd, "n_seeds": cnt}
        rel_mean = {
            t: {
                c: sum(per_seed[str(s)]["rel"][t][c] for s in seeds) / len(seeds)
                for c in per_seed[str(seeds[0])]["rel"][t]
            }
            for t in study.tasks
        }
        doc["mean"] = {
            "groups": mean,
            "rel": rel_mean,
            "summary": summarise(
                rel_mean, study.tasks, study.family, n_boot=study.cfg.exp.bootstrap, seed=0
            ),
        }
    study.write_stage("matrix", doc)
    return doc


# ------------------------------------------------------------------------------------ TPT


def tpt_plan(study: Study, dev_rel: dict[str, dict[str, float]]) -> list[dict[str, str]]:
    """(target, arm, source) triples: best same-family source s* from the dev matrix (§2.8)."""
    from .transfer import best_source_of_kind

    fam, exp = study.family, study.cfg.exp
    partnered = [t for t in study.tasks if sum(fam[s] == fam[t] for s in study.tasks) > 1]
    targets = exp.tpt_targets if exp.tpt_targets is not None else partnered
    plan = []
    for t in targets:
        if t not in study.tasks:
            raise UsageError(f"tpt target '{t}' is not among exp.tasks: {', '.join(study.tasks)}")
        src = best_source_of_kind(dev_rel, study.tasks, fam, t, "same")
        if src is None:
            raise UsageError(f"tpt target '{t}' has no same-family source among exp.tasks")
        plan.append({"target": t, "arm": "tpt-task", "source": src})
    for t in exp.tpt_cross:
        if t not in study.tasks:
            raise UsageError(f"tpt_cross target '{t}' is not among exp.tasks")
        src = best_source_of_kind(dev_rel, study.tasks, fam, t, "cross")
        if src is not None:
            plan.append({"target": t, "arm": "tpt-cross", "source": src})
    return plan


def run_tpt(study: Study) -> dict[str, Any]:
    """Stage `tpt`: PT of each target initialised from its chosen source, same seed, same budget."""
    from .tpt import compare
    from .train import run_pt

    t0 = time.time()
    train, matrix = study.read_stage("train"), study.read_stage("matrix")
    if matrix["status"] != "ok":
        raise UsageError("the matrix stage is partial; finish it before tpt")
    plan = tpt_plan(study, matrix["dev"]["rel"])
    seeds = list(study.cfg.exp.seeds)
    bar = progress(len(plan) * len(seeds), "tpt")
    rows, status = [], "ok"
    for item in plan:
        for seed in seeds:
            if not study.budget.allows():
                status = "partial"
                break
            src_prompt = train["runs"][item["source"]][str(seed)]["prompt"]
            cfg = replace(
                study.cfg, prompt=replace(study.cfg.prompt, init=f"from_prompt:{src_prompt}")
            )
            r = run_pt(
                cfg,
                study.bb,
                study.task(item["target"]),
                seed,
                study.root / "tpt",
                tag=item["arm"],
                preset=study.preset,
            )["metrics"]
            van = train["runs"][item["target"]][str(seed)]
            cmp = compare(van["curve"], r["curve"])
            rows.append(
                {
                    **item,
                    "seed": seed,
                    **cmp,
                    "final_arm": r["test_accuracy"],
                    "final_vanilla": van["test_accuracy"],
                    "delta": r["test_accuracy"] - van["test_accuracy"],
                    "curve_arm": r["curve"],
                    "curve_vanilla": van["curve"],
                    "best_step_arm": r["best_step"],
                }
            )
            bar.update(1)
    bar.close()
    # consistency check (§2.8): a(0) of an arm equals the dev-matrix cell of its source (seed 0)
    checks = []
    for row in rows:
        if row["seed"] == seeds[0]:
            cell_acc = matrix["dev"]["acc"][row["target"]][row["source"]]
            checks.append(
                {
                    "target": row["target"],
                    "source": row["source"],
                    "a0": row["a0_arm"],
                    "dev_cell": cell_acc,
                    "equal": abs(row["a0_arm"] - cell_acc) < 1e-6,
                }
            )
    doc = {
        "stage": "tpt",
        "status": status,
        "plan": plan,
        "rows": rows,
        "a0_checks": checks,
        "seeds": seeds,
        "wall_s": time.time() - t0,
    }
    study.write_stage("tpt", doc)
    return doc


def run_indicators(study: Study) -> dict[str, Any]:
    """Stage `indicators` (§2.10): see `indicator_stage.run_indicators`."""
    from .indicator_stage import run_indicators as run

    return run(study)


def run_project(study: Study) -> dict[str, Any]:
    """Stage `project` (§2.9, §4.3 cross-depth): see `project_stage.run_project`."""
    from .project_stage import run_project as run

    return run(study)


def run_ki_arm(study: Study) -> dict[str, Any]:
    """Stage `ki-arm` (§4.3): see `ki_arm.run_ki_arm`."""
    from .ki_arm import run_ki_arm as run

    return run(study)


STAGE_RUNNERS = {
    "train": run_train,
    "matrix": run_matrix,
    "indicators": run_indicators,
    "tpt": run_tpt,
    "project": run_project,
    "ki-arm": run_ki_arm,
}
