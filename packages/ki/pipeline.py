"""One KI pre-training run on the shared Engine: teacher, scratch baseline or KI student.

`run_pretrain` trains through `KIHooks`, saves the final student as an HF folder in
`<run>/export/` (with `meta.json`), scores the teacher once on the same fixed validation set, and
writes `results.json` whose `metrics.evals` is the curve (PPL, FLOPs with and without the
teacher, wall-clock, α) every `train.eval_every` steps (ki.md §2.5, §2.6).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from thunlp_repro.shared.config import to_dict

logger = logging.getLogger(__name__)


def config_hash(cfg: Any) -> str:
    """sha256 (first 12 hex) of the resolved config: the run cache key.

    Only what can change a run's numbers is hashed, so a `--set` that one arm ignores does not
    retrain it. The `exp` block plans experiments (their arms become overrides of the run's own
    fields); the `gpt` block only matters to causal runs, and its top-k check settings only to
    the check run after training; a run without a teacher (`ki.schedule=none`) ignores the
    teacher, the KI block and how teacher logits travel. The checkpoint cadence does not change
    a run's numbers (a resumed run equals an uninterrupted one), so it is hashed at its defaults.
    Runs saved under older keys are still found (`runs.run_name`).
    """
    from thunlp_repro.shared.config import TrainConfig

    d = to_dict(cfg)
    d.pop("exp", None)
    d["train"].update(save_every=TrainConfig.save_every,
                      save_total_limit=TrainConfig.save_total_limit)  # fmt: skip
    if d.get("objective", "mlm") == "mlm":
        d.pop("gpt", None)
    gpt = d.get("gpt", {})
    for key in ("check_ks", "check_sequences", "check_seed"):
        gpt.pop(key, None)
    if d["ki"]["schedule"] == "none":
        del d["ki"], d["teacher"]
        for key in ("kd", "topk", "cache_batch"):
            gpt.pop(key, None)
    return dict_hash(d)


def dict_hash(d: dict[str, Any]) -> str:
    """sha256 (first 12 hex) of a resolved config's dict: the run and fine-tune cache keys."""
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def evaluate_model(hooks: Any, engine: Any, mlm: Any) -> dict[str, float]:
    """Own-MLM PPL of any masked LM (e.g. the teacher) on the run's fixed validation set."""
    import torch

    from thunlp_repro.ki.hooks import ppl_metrics, score_loader
    from thunlp_repro.ki.inheritance import masked_logits

    mlm = mlm.to(engine.accelerator.device).eval()
    loader = engine.eval_loader

    def fwd(ids: Any, sel: Any) -> Any:
        return masked_logits(mlm, ids, None, sel)

    with torch.no_grad():
        sums = score_loader(fwd, loader, engine.accelerator, hooks.vocab)
    return ppl_metrics(sums, hooks.val_keys, [vs.corpus for vs in hooks.val_sets])


def train_and_export(cfg: Any, hooks: Any, run: Any, resume: str | None) -> tuple[Any, Any, Any]:
    """Fit the student on the Engine and save it to `run.export_dir`: (engine, fit, student)."""
    from thunlp_repro.ki.hooks import save_hf
    from thunlp_repro.shared.trainer import Engine

    engine = Engine(cfg, hooks, run)
    hooks.bind(engine.state)
    fit = engine.fit(resume=resume)
    student = engine.accelerator.unwrap_model(engine.model).model
    save_hf(student, hooks.tokenizer, run.export_dir)
    return engine, fit, student


def run_metrics(
    cfg: Any, hooks: Any, fit: Any, student: Any, teacher_eval: dict[str, float]
) -> dict[str, Any]:
    """The `metrics` every KI run reports (MLM and causal): the PPL curve and final values,
    the schedule, the FLOP ledger at the last step and the wall clock."""
    from thunlp_repro.ki.archs import param_counts

    history = fit.state.history
    final = history[-1] if history else {}
    steps = cfg.train.max_steps
    wall = float(final.get("wall_s", 0.0))
    return {
        "final_ppl": final.get("ppl"),
        "final": {k: v for k, v in final.items() if k.startswith("ppl")},
        "best_ppl": fit.state.best_metric,
        "best_step": fit.state.best_step,
        "steps": steps,
        "stop_step": hooks.stop if hooks.schedule.needs_stop else None,
        "schedule": cfg.ki.schedule,
        "teacher_ppl": teacher_eval.get("ppl"),
        "teacher_eval": teacher_eval,
        "teacher_calls": hooks.teacher_calls,
        "student_params": param_counts(student),
        "flops_per_step": {"student": hooks.ledger.student, "teacher": hooks.ledger.teacher},
        "teacher_run_steps": hooks.ledger.teacher_steps,
        **hooks.ledger.at(steps),
        "wall_s": wall,
        "s_per_step": wall / steps if steps else None,
        "train_blocks": hooks.n_train_blocks,
        "evals": history,
    }


def run_pretrain(
    cfg: Any,
    run: Any,
    resume: str | None = None,
    preset: str = "custom",
    label: str = "pretrain",
    table: str = "pretrain",
) -> dict[str, Any]:
    """Train one run and write `results.json`; returns its `metrics` section.

    Causal configs (`objective: causal`, the GPT arm) go through `gpt_arm.run_causal`.
    """
    if cfg.objective == "causal":
        from thunlp_repro.ki.gpt_arm import run_causal

        return run_causal(cfg, run, resume=resume, preset=preset, label=label, table=table)
    from thunlp_repro.ki.archs import param_counts
    from thunlp_repro.ki.hooks import KIHooks
    from thunlp_repro.shared.assets import asset_fingerprints

    hooks = KIHooks(cfg)
    engine, fit, student = train_and_export(cfg, hooks, run, resume)
    teacher_eval: dict[str, float] = {}
    if hooks.teacher is not None:
        teacher_eval = evaluate_model(hooks, engine, hooks.teacher)
    metrics = run_metrics(cfg, hooks, fit, student, teacher_eval)
    metrics["teacher_params"] = param_counts(hooks.teacher) if hooks.teacher is not None else None
    steps = cfg.train.max_steps
    meta = {
        "arch": cfg.model.arch, "init": cfg.model.init, "tokenizer": cfg.data.tokenizer,
        "tokenizer_size": hooks.vocab, "config_hash": config_hash(cfg), "seed": cfg.runtime.seed,
        "steps": steps, "val_ppl": metrics["final"], "flops_train": metrics["flops_total"],
        "params": metrics["student_params"], "schedule": cfg.ki.schedule,
        "teacher": cfg.teacher.name if hooks.teacher is not None else None,
    }  # fmt: skip
    (run.export_dir / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    assets = asset_fingerprints([cfg.data.tokenizer, "shakespeare", "kjv", "movie-dialog",
                                 "bbc-news"])  # fmt: skip
    run.write_results(
        run_info={"paper": "ki", "experiment": label, "table": table, "preset": preset,
                  "duration_s": fit.duration_s, "status": "ok"},
        config=cfg,
        metrics=metrics,
        eval_info={"batch_size": cfg.eval.batch_size, "dtype": "float32",
                   "device": fit.info["device"], "n_examples": sum(
                       vs.n_blocks() for vs in hooks.val_sets),
                   "validation": "fixed masked set, seed 0"},
        meta={"seeds": {"seed": cfg.runtime.seed}, "engine": fit.info, "assets": assets,
              "config_hash": config_hash(cfg)},
    )  # fmt: skip
    logger.info(
        "ki %s: final ppl %.3f (teacher %s) in %.1f s",
        label,
        metrics["final_ppl"] or float("nan"),
        metrics["teacher_ppl"],
        fit.duration_s,
    )
    return metrics
