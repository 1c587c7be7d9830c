"""Reference pipeline: fine-tune (or linear-probe) a registered model on a registered task.

It is no paper's experiment: it proves the shared core end to end on real data (model loading,
task registry, Engine, run folder, results, report), and is the template the paper pipelines
follow. Best dev checkpoint is kept; the test split is scored with it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from thunlp_repro.shared.config import (
    DataConfig,
    EvalConfig,
    ModelConfig,
    OptimConfig,
    RuntimeConfig,
    TrainConfig,
)
from thunlp_repro.shared.trainer.hooks import DataBundle, EngineHooks, LossOutput

logger = logging.getLogger(__name__)


@dataclass
class FinetuneConfig:
    """Config of the `finetune` reference pipeline."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    mode: Literal["full", "linear-probe"] = field(
        default="full", metadata={"help": "train everything, or only the classifier head"}
    )


def _encode(tokenizer: Any, examples: list[Any], max_length: int) -> list[dict[str, Any]]:
    texts = [e.text for e in examples]
    pairs = [e.text_pair for e in examples]
    enc = tokenizer(
        texts,
        pairs if any(p is not None for p in pairs) else None,
        truncation=True,
        max_length=max_length,
    )
    return [
        {"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
         "labels": examples[i].label}
        for i in range(len(examples))
    ]  # fmt: skip


def seeded_subset(examples: list[Any], limit: int, seed: int) -> list[Any]:
    """`limit` examples drawn without replacement by `seed`, in their original order.

    Splits may be stored grouped by class, so a plain prefix could hold a single class.
    """
    import random

    if limit >= len(examples):
        return examples
    keep = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in keep]


class FinetuneHooks(EngineHooks):
    """Engine hooks for sequence classification with a pooled linear head."""

    def __init__(self, cfg: FinetuneConfig) -> None:
        from thunlp_repro.shared.tasks import get_task

        self.cfg = cfg
        self.task = get_task(cfg.data.task)
        self.splits = self.task.load(split_seed=cfg.data.split_seed)
        limits = {"train": cfg.data.train_limit, "dev": cfg.data.eval_limit,
                  "test": cfg.data.eval_limit}  # fmt: skip
        for split, limit in limits.items():
            if limit:
                self.splits[split] = seeded_subset(self.splits[split], limit, cfg.data.split_seed)
        self.tokenizer: Any = None

    def build_model(self, cfg: FinetuneConfig) -> tuple[Any, Any]:
        from thunlp_repro.shared.models import load_model

        model, self.tokenizer = load_model(
            cfg.model.name,
            "sequence-classification",
            num_labels=len(self.task.labels),
            dtype=cfg.model.dtype,
            revision=cfg.model.revision,
        )
        if cfg.mode == "linear-probe":
            for p in model.backbone.parameters():
                p.requires_grad_(False)
            return model, list(model.classifier.parameters())
        return model, None

    def collate(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        labels = torch.tensor([r["labels"] for r in rows])
        feats = [{k: r[k] for k in ("input_ids", "attention_mask")} for r in rows]
        batch = self.tokenizer.pad(feats, return_tensors="pt")
        return {**batch, "labels": labels}

    def encoded(self, split: str) -> list[dict[str, Any]]:
        return _encode(self.tokenizer, self.splits[split], self.cfg.data.max_length)

    def build_data(self, cfg: FinetuneConfig) -> DataBundle:
        return DataBundle(
            train=self.encoded("train"), eval=self.encoded("dev"), collate_fn=self.collate
        )

    def compute_loss(self, batch: dict[str, Any], model: Any, state: Any) -> LossOutput:
        import torch

        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        loss = torch.nn.functional.cross_entropy(logits.float(), batch["labels"], reduction="sum")
        acc = (logits.argmax(-1) == batch["labels"]).float().mean().item()
        return LossOutput(loss_sum=loss, metrics={"accuracy": acc})

    def predict(self, model: Any, loader: Any, accelerator: Any) -> tuple[list[int], list[int]]:
        import torch

        preds, labels = [], []
        with torch.no_grad():
            for batch in loader:
                logits = model(
                    input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
                ).logits
                p, y = accelerator.gather_for_metrics((logits.argmax(-1), batch["labels"]))
                preds += p.tolist()
                labels += y.tolist()
        return preds, labels

    def evaluate(self, model: Any, loader: Any, accelerator: Any) -> dict[str, float]:
        from thunlp_repro.shared.metrics import accuracy, macro_f1

        preds, labels = self.predict(model, loader, accelerator)
        return {"accuracy": accuracy(preds, labels), "macro_f1": macro_f1(preds, labels)}


def majority_rate(examples: list[Any]) -> float:
    """Share of the most frequent label: the score of always guessing it."""
    counts: dict[int, int] = {}
    for e in examples:
        counts[e.label] = counts.get(e.label, 0) + 1
    return max(counts.values()) / len(examples)


def run_finetune(
    cfg: FinetuneConfig, run: Any, resume: str | None = None, preset: str = "custom"
) -> dict[str, Any]:
    """Train, pick the best dev step, score dev and test with it, write `results.json`.

    Returns:
        The results document's `metrics` section.
    """
    import torch

    from thunlp_repro.shared.assets import asset_fingerprints
    from thunlp_repro.shared.metrics import accuracy, bootstrap_ci, macro_f1
    from thunlp_repro.shared.tasks import split_fingerprint
    from thunlp_repro.shared.trainer import Engine
    from thunlp_repro.shared.trainer.export import load_trainable

    hooks = FinetuneHooks(cfg)
    engine = Engine(cfg, hooks, run)
    fit = engine.fit(resume=resume)
    model = engine.accelerator.unwrap_model(engine.model)
    if fit.best_dir is not None:
        load_trainable(model, fit.best_dir)
    model.eval()
    scores: dict[str, Any] = {}
    for split in ("dev", "test"):
        loader = engine.loader(hooks.encoded(split), cfg.eval.batch_size, hooks.collate, False)
        with torch.no_grad():
            preds, labels = hooks.predict(model, engine.accelerator.prepare(loader),
                                          engine.accelerator)  # fmt: skip
        low, high = bootstrap_ci(preds, labels, accuracy, seed=cfg.runtime.seed)
        scores[split] = {
            "accuracy": accuracy(preds, labels),
            "accuracy_ci95": [low, high],
            "macro_f1": macro_f1(preds, labels),
            "majority": majority_rate(hooks.splits[split]),
            "n": len(labels),
        }
    metrics = {
        "dev_accuracy": scores["dev"]["accuracy"],
        "test_accuracy": scores["test"]["accuracy"],
        "dev_majority": scores["dev"]["majority"],
        "test_majority": scores["test"]["majority"],
        "best_step": fit.state.best_step,
        "splits": scores,
        "per_eval": fit.state.history,
    }
    assets = asset_fingerprints([cfg.model.name, *hooks.task.assets])
    run.write_results(
        run_info={"paper": "finetune", "experiment": "reference", "table": "reference",
                  "preset": preset, "task": cfg.data.task,
                  "model": cfg.model.name, "mode": cfg.mode, "duration_s": fit.duration_s},
        config=cfg,
        metrics=metrics,
        eval_info={"batch_size": cfg.eval.batch_size, "dtype": cfg.model.dtype,
                   "device": fit.info["device"], "n_examples": {s: scores[s]["n"] for s in scores},
                   "split_sha256": split_fingerprint(hooks.splits),
                   "split_seed": cfg.data.split_seed},
        meta={"seeds": {"seed": cfg.runtime.seed, "data_seed": cfg.runtime.data_seed,
                        "split_seed": cfg.data.split_seed},
              "engine": fit.info, "assets": assets},
    )  # fmt: skip
    return metrics


# ------------------------------------------------------------------ registered experiment
REFERENCE_SEEDS = (0, 1)


def run_reference(preset: str, results_file: Any, overwrite: bool) -> None:
    """`finetune/reference`: the preset's fine-tune over seeds 0 and 1, aggregated.

    Each seed has its own run folder `runs/finetune/reference-<preset>-seed<k>`; a finished one
    is reused, an interrupted one resumes from its last checkpoint.
    """
    from thunlp_repro.shared.config import load_config, to_dict
    from thunlp_repro.shared.io import atomic_write_json, read_json
    from thunlp_repro.shared.metrics import mean_and_spread
    from thunlp_repro.shared.reporting.results import build_results
    from thunlp_repro.shared.rundir import RunDir

    per_seed = []
    for seed in REFERENCE_SEEDS:
        cfg, _ = load_config(FinetuneConfig, pipeline="finetune", preset=preset,
                             overrides=[f"runtime.seed={seed}"])  # fmt: skip
        name = f"reference-{preset}-seed{seed}"
        run, finished = RunDir.reuse_or_start("finetune", cfg, name, overwrite=overwrite)
        if not finished:
            run_finetune(cfg, run, resume="auto" if run.resumed else None, preset=preset)
        per_seed.append(read_json(run.results_path))

    metrics: dict[str, Any] = {"seeds": list(REFERENCE_SEEDS)}
    for key in ("dev_accuracy", "test_accuracy"):
        values = [r["metrics"][key] for r in per_seed]
        mean, std, n = mean_and_spread(values)
        metrics[key] = mean
        metrics[f"{key}_std"] = std
        metrics[f"{key}_per_seed"] = values
    for key in ("dev_majority", "test_majority"):
        metrics[key] = per_seed[0]["metrics"][key]
    first = per_seed[0]
    doc = build_results(
        run_info={"paper": "finetune", "experiment": "reference", "table": "reference",
                  "preset": preset, "model": first["run_info"]["model"],
                  "task": first["run_info"]["task"]},
        config=to_dict(cfg) | {"runtime": {**to_dict(cfg)["runtime"], "seed": None}},
        metrics=metrics,
        eval_info=first["eval_info"],
        meta={"seeds": list(REFERENCE_SEEDS), "runs": [r["meta"] for r in per_seed]},
    )  # fmt: skip
    atomic_write_json(results_file, doc)


def reference_section(results: list[dict[str, Any]], out_dir: Any) -> str:
    """Report section: dev/test accuracy (mean ± std over seeds) against the majority class."""
    from thunlp_repro.shared.reporting.tables import format_mean_std, markdown_table

    rows = []
    for r in sorted(results, key=lambda r: (r["run_info"]["task"], r["run_info"]["model"])):
        m, n = r["metrics"], len(r["metrics"]["seeds"])
        rows.append([
            r["run_info"]["task"], r["run_info"]["model"], r["config"].get("mode", "full"),
            format_mean_std(m["dev_accuracy"], m["dev_accuracy_std"], n), m["dev_majority"],
            format_mean_std(m["test_accuracy"], m["test_accuracy_std"], n), m["test_majority"],
        ])  # fmt: skip
    table = markdown_table(
        ["task", "model", "mode", "dev accuracy", "dev majority", "test accuracy",
         "test majority"], rows,
    )  # fmt: skip
    return (
        "### Reference fine-tune\n\n"
        "Not a paper result: it checks the shared core (models, tasks, Engine) end to end. "
        "Accuracy is mean ± sample std over seeds; majority is the score of always guessing "
        "the most frequent class.\n\n" + table + "\n"
    )


def reference_headlines(by_preset: dict[str, list[dict[str, Any]]]) -> list[Any]:
    """REPORT.md's core-check row: the reference fine-tune beats the majority class."""
    from thunlp_repro.shared.reporting.headline import Headline, table

    found = table(by_preset, "reference")

    def acc(r: dict | None) -> str:
        if r is None:
            return "not run"
        m = r["metrics"]
        return (f"test accuracy {m['test_accuracy']:.3f} (majority {m['test_majority']:.3f}, "
                f"{len(m['seeds'])} seeds)")  # fmt: skip

    quick = found["quick"]
    quick_ok = None
    if quick is not None:
        quick_ok = quick["metrics"]["test_accuracy"] >= quick["metrics"]["test_majority"] + 0.1
    return [Headline(
        "core check: MiniLM-L6 fine-tuned on sent-movie beats the majority class", "-",
        acc(found["mini"]), acc(quick), ">= majority + 0.10", quick_ok, "n/a (core check)",
        "finetune.md#reference-fine-tune",
    )]  # fmt: skip


# ------------------------------------------------------------------ dry run (paper scale)
FINETUNE_PAPER_MODELS = ("roberta-base", "FacebookAI/roberta-base")
"""The hub model configs/finetune/paper.yaml names (RoBERTa-base on SST-2)."""


def finetune_plan(cfg: FinetuneConfig, preset: str, accelerate: Any = None,
                  seeds: tuple[int, ...] | None = None, command: str = "") -> Any:  # fmt: skip
    """The dry-run plan of one fine-tune (or of `finetune/reference` with `seeds`): the model and
    task resolved offline, steps, an upper bound on tokens (padding is per batch, so fewer are
    processed), GPU hours [est.]."""
    from thunlp_repro.shared.dryrun import DryRunPlan, RunEntry, model_entry, task_entry

    notes: list[str] = []
    model = model_entry(cfg.model.name, "fine-tuned", FINETUNE_PAPER_MODELS, notes=notes)
    data = task_entry(cfg.data.task)
    tokens = cfg.train.max_steps * cfg.train.global_batch_size * cfg.data.max_length
    micro = cfg.train.max_steps * (cfg.train.global_batch_size // cfg.train.micro_batch_size)
    runs = [
        RunEntry(f"{cfg.data.task} seed {seed}", cfg.model.name, cfg.train.max_steps, tokens,
                 model.params, key=f"finetune/{preset}-{cfg.model.name}-{cfg.data.task}-s{seed}",
                 micro_batches=micro)
        for seed in (seeds or (cfg.runtime.seed,))
    ]  # fmt: skip
    notes.append(f"tokens are an upper bound (steps x {cfg.train.global_batch_size} examples x "
                 f"max_length {cfg.data.max_length}); evaluation every {cfg.train.eval_every} "
                 "steps is forward-only and not counted")  # fmt: skip
    return DryRunPlan(
        "finetune (reference pipeline)", preset,
        command or f"thunlp-repro finetune --preset {preset}", models=[model], datasets=[data],
        runs=runs, accelerate=accelerate, batch=(cfg.train.global_batch_size,
        cfg.train.micro_batch_size), precision=cfg.runtime.precision, notes=notes,
    )  # fmt: skip


def dry_run(preset: str, config: Any = None, sets: list[str] | None = None,
            seed: int | None = None) -> Any:  # fmt: skip
    """`thunlp-repro finetune --dry-run`: the validated plan (accelerate: single_gpu at the paper
    preset, cpu otherwise, unless `--set accelerate.config=NAME`)."""
    from thunlp_repro.shared.config import load_config
    from thunlp_repro.shared.dryrun import accelerate_for

    rest, accel = accelerate_for("single_gpu" if preset == "paper" else "cpu", sets)
    if seed is not None:
        rest.append(f"runtime.seed={seed}")
    cfg, _ = load_config(FinetuneConfig, pipeline="finetune", preset=preset, config_file=config,
                         overrides=rest, quiet=True)  # fmt: skip
    plan = finetune_plan(cfg, preset, accel)
    plan.validate()
    return plan


def reference_paper_plan() -> Any:
    """`finetune/reference` at the paper preset (two seeds), for `reproduce-all --dry-run`."""
    from thunlp_repro.shared.config import load_config
    from thunlp_repro.shared.dryrun import load_accelerate

    cfg, _ = load_config(FinetuneConfig, pipeline="finetune", preset="paper", quiet=True)
    plan = finetune_plan(
        cfg,
        "paper",
        load_accelerate("single_gpu"),
        REFERENCE_SEEDS,
        "thunlp-repro reproduce-all --profile paper --only finetune/reference",
    )
    plan.validate()
    return plan


def _register() -> None:
    from thunlp_repro.shared.experiments import EXPERIMENTS, Experiment, register_experiment
    from thunlp_repro.shared.reporting.report import REPORT_SECTIONS, register_section

    if "finetune/reference" not in EXPERIMENTS:
        register_experiment(Experiment(
            "finetune", "reference",
            "reference fine-tune of the preset's model and task over seeds 0 and 1",
            run_reference, profiles=("quick", "full", "paper"),
            minutes={"quick": 2.0, "full": 6.0}, paper_plan=reference_paper_plan,
        ))  # fmt: skip
    if "finetune" not in REPORT_SECTIONS:
        register_section("finetune")(reference_section)
    from thunlp_repro.shared.reporting.headline import register_headline

    register_headline("finetune")(reference_headlines)


_register()
