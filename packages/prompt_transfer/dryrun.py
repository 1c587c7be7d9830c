"""The paper preset's `--dry-run` plan: backbone, tasks, PT / matrix / TPT runs and cost.

Reproduces: prompt_transfer.md §3 (RoBERTa-base, 13 classification tasks, capped budget of
30,000 steps per task at batch 16, 3 seeds, max length 128, the 14 official TPT pairs) through
the shared `DryRunPlan` (issue #16). Names are resolved offline: the backbone with
`shared.models.resolve_model`, each task with the task registry (an unknown name is a one-line
usage error); nothing is downloaded and no weights are loaded. Costs are estimates [est.]:
PT runs the whole frozen backbone forward and backward, so its FLOPs are 6 x params x tokens of
the prompt-extended sequence, like fine-tuning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

OFFICIAL_TPT_PAIRS = (
    ("sst2", "imdb"), ("sst2", "laptop"), ("imdb", "movie-rationales"), ("laptop", "restaurant"),
    ("restaurant", "laptop"), ("movie-rationales", "imdb"), ("tweet-eval", "restaurant"),
    ("mnli", "snli"), ("qnli", "mnli"), ("snli", "mnli"), ("qqp", "mrpc"), ("mrpc", "qqp"),
    ("deontology", "justice"), ("justice", "deontology"),
)  # fmt: skip
"""(target, source) of the official TPT configs (§3.3) [repo]."""


def dry_run_plan(
    preset: str, config: Path | None = None, sets: list[str] | None = None, command: str = ""
) -> Any:
    """The validated plan of `thunlp-repro prompt-transfer all --preset <preset>`.

    Raises:
        UsageError / ConfigError: unknown backbone, task or preset key (exit 2).
    """
    from thunlp_repro.shared.config import load_config
    from thunlp_repro.shared.dryrun import (
        DryRunPlan,
        RunEntry,
        accelerate_for,
        model_entry,
        task_entry,
    )

    from .config import PromptTransferConfig

    rest, accel = accelerate_for("single_gpu", sets)
    cfg, _ = load_config(PromptTransferConfig, pipeline="prompt-transfer", preset=preset,
                         config_file=config, overrides=rest, quiet=True)  # fmt: skip
    notes: list[str] = []
    model = model_entry(cfg.model.name, f"frozen backbone, head {cfg.prompt.head}", notes=notes)
    datasets = [task_entry(t) for t in cfg.exp.tasks]
    p, tr = cfg.prompt, cfg.train
    _, tokens, micro = pt_cost(cfg)
    seeds = list(cfg.exp.seeds)
    runs = [
        RunEntry(f"PT {t} seed {s}", cfg.model.name, tr.max_steps, tokens, model.params,
                 key=f"prompt_transfer/{preset}-pt-{t}-s{s}", micro_batches=micro)
        for s in seeds for t in cfg.exp.tasks
    ]  # fmt: skip
    pairs = [(t, s) for t, s in OFFICIAL_TPT_PAIRS if t in cfg.exp.tasks and s in cfg.exp.tasks]
    runs += [
        RunEntry(f"TPT {t} <- {src} seed {s}", cfg.model.name, tr.max_steps, tokens,
                 model.params, key=f"prompt_transfer/{preset}-tpt-{t}-{src}-s{s}",
                 micro_batches=micro)
        for s in seeds for t, src in pairs
    ]  # fmt: skip
    project_models, project_runs = _project_plan(cfg, preset, notes)
    runs += project_runs
    n = len(cfg.exp.tasks)
    cells = n * (n + 2 * cfg.exp.random_draws) * (len(seeds) + 1)
    notes.append(f"prompt {p.length} trainable rows + mask slot ({p.mask_slot}), positions "
                 f"{p.positions}, init {p.init} (std {p.init_std}), LR {cfg.optim.lr} constant; "
                 f"dev every {tr.eval_every} steps on <= {cfg.data.dev_eval_size} "
                 "examples")  # fmt: skip
    notes.append(f"matrix: {cells} forward-only cells ({n} sources + {cfg.exp.random_draws} "
                 f"rand-init + {cfg.exp.random_draws} rand-uniform draws, x {n} targets, x "
                 f"{len(seeds)} test seeds + the seed-0 dev matrix), not counted in the "
                 "cost")  # fmt: skip
    notes.append(f"TPT: the {len(pairs)} official pairs (§3.3) plus s* from our dev matrix; "
                 "same LR, schedule and budget as vanilla, fresh optimiser")  # fmt: skip
    notes.append("tokens are an upper bound (steps x batch x (max_length + prompt region))")
    notes.append(
        "P0: `thunlp-repro prompt-transfer import-official --dir <task_prompt_emb>` "
        "scores the official released prompts (forward only, not counted)"
    )
    plan = DryRunPlan(
        "prompt_transfer", preset, command or f"thunlp-repro prompt-transfer all --preset {preset}",
        models=[model, *project_models], datasets=datasets, runs=runs, accelerate=accel,
        batch=(tr.global_batch_size, tr.micro_batch_size), precision=cfg.runtime.precision,
        notes=notes,
    )  # fmt: skip
    plan.validate()
    return plan


def pt_cost(cfg: Any) -> tuple[int, int, int]:
    """(steps, tokens, micro-batches) of one PT run of `cfg`: every step at the global batch,
    each sequence the max length plus the prompt region (n rows + the mask slot)."""
    tr = cfg.train
    seq = (cfg.data.max_length or 128) + cfg.prompt.length + 1
    micro = tr.max_steps * (tr.global_batch_size // tr.micro_batch_size)
    return tr.max_steps, tr.max_steps * tr.global_batch_size * seq, micro


def _project_plan(cfg: Any, preset: str, notes: list[str]) -> tuple[list[Any], list[Any]]:
    """The `project` stage's runs (§2.9): per pair A -> B, the PT runs of each backbone other
    than the study's on the eval tasks, task-tuning the projector through B (forward and
    backward of B at the projector's batch), and `tpt-model` (B's PT from g(P^A_t))."""
    from thunlp_repro.shared.dryrun import RunEntry, model_entry

    from .pipeline import Study

    pc, main = cfg.project, cfg.model.name
    if not pc.pairs:
        return [], []
    view = Study(cfg, Path("."))  # cfg_for only: no folder is opened, no backbone loaded
    seed, n_rows = pc.seed if pc.seed is not None else cfg.exp.seeds[0], cfg.prompt.length + 1
    models, runs, seen = {}, [], set()

    def pt_runs(name: str, tag: str) -> list[Any]:
        steps, tokens, micro = pt_cost(view.cfg_for(name))
        return [RunEntry(f"{tag} {name} {t} seed {seed}", name, steps, tokens,
                         models[name].params, key=f"prompt_transfer/{preset}-{tag}-{name}-{t}",
                         micro_batches=micro) for t in pc.eval_tasks]  # fmt: skip

    for pair in pc.pairs:
        a, b = pair.split("->")
        for name in (a, b):
            if name not in models:
                models[name] = model_entry(name, f"project pair {pair}", notes=notes)
        for name in (a, b):
            if name != main and name not in seen:
                seen.add(name)
                runs += pt_runs(name, "project PT")
        if "task" in pc.modes:
            tokens = pc.steps * pc.batch_size * ((view.cfg_for(b).data.max_length or 128) + n_rows)
            runs.append(RunEntry(f"projector {pair} task tuning", b, pc.steps, tokens,
                                 models[b].params, key=f"prompt_transfer/{preset}-proj-{pair}",
                                 micro_batches=pc.steps))  # fmt: skip
        if pc.tpt_model:
            runs += pt_runs(b, f"tpt-model {a} ->")
    notes.append(f"project: {len(pc.pairs)} pair(s) {', '.join(pc.pairs)}, seed {seed}, "
                 f"projector {pc.steps} steps at batch {pc.batch_size} (LR {pc.lr}), modes "
                 f"{', '.join(pc.modes)}; distance minimisation trains the projector alone "
                 "(not counted)")  # fmt: skip
    models.pop(main, None)
    return list(models.values()), runs
