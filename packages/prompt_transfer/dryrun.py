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
    max_len = cfg.data.max_length or 128
    seq = max_len + p.length + 1
    tokens = tr.max_steps * tr.global_batch_size * seq
    micro = tr.max_steps * (tr.global_batch_size // tr.micro_batch_size)
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
    plan = DryRunPlan(
        "prompt_transfer", preset, command or f"thunlp-repro prompt-transfer all --preset {preset}",
        models=[model], datasets=datasets, runs=runs, accelerate=accel,
        batch=(tr.global_batch_size, tr.micro_batch_size), precision=cfg.runtime.precision,
        notes=notes,
    )  # fmt: skip
    plan.validate()
    return plan
