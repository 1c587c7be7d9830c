"""One prompt-tuning run on the shared Engine: init, train, best-dev selection, test score, export.

Reproduces: prompt_transfer.md §2.5 (PT keys, `select=best_dev` with ties to the earlier step,
artefacts), §2.8 (TPT is the same run with `init=from_prompt`: fresh optimiser state, step 0, the
same LR, budget, evaluation schedule and data-order seed) and §4.3 (mini budget: dev every 25
steps on the fixed subset *plus step 0*). The Engine evaluates every `eval_every` steps; step 0 is
scored here before `fit` and seeds the Engine's best, so a transferred prompt that is already
best at step 0 is kept.

Resume: a run is one content-addressed folder `prompts/<task>-s<seed>-<init>-<key>/`; a finished
one (`results.json` + `export/prompt.safetensors`) is reused, an interrupted one is restarted
from step 0 (a 250-step run is shorter than the checkpoint bookkeeping it would need).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from thunlp_repro.shared.trainer.hooks import DataBundle, EngineHooks, LossOutput

from .artefacts import PROMPT_FILE, content_key, load_prompt, save_prompt
from .backbone import Backbone
from .data import TaskData, collate
from .evaluate import score
from .prompt import SoftPromptMLM, labels_prompt, random_prompt, verbalized_loss, vocab_prompt

logger = logging.getLogger(__name__)


def initial_prompt(cfg: Any, bb: Backbone, task: TaskData, seed: int) -> tuple[torch.Tensor, dict]:
    """The prompt a run starts from (§2.5 `init`) and a description for its metadata."""
    p, emb = cfg.prompt, bb.mlm.get_input_embeddings().weight
    kind, _, arg = p.init.partition(":")
    if kind == "random":
        return random_prompt(p.length, bb.width, p.init_std, seed), {"init": "random"}
    if kind == "labels":
        return labels_prompt(emb, task.label_ids, p.length), {"init": "labels"}
    if kind == "vocab":
        special = set(bb.tokenizer.all_special_ids)
        ids = [r["input_ids"] for r in task.splits["train"]]
        t, used = vocab_prompt(emb, ids, p.length, seed, p.vocab_top, special)
        return t, {"init": "vocab", "vocab_ids": used}
    from .artefacts import check_compatible

    tensor, meta = load_prompt(arg)
    check_compatible(meta, bb.info, allow_identity=p.allow_identity, source=f"init prompt {arg}")
    if tensor.shape[0] != p.length:
        from thunlp_repro.shared.errors import UsageError

        raise UsageError(
            f"init prompt {arg} has {tensor.shape[0]} rows, prompt.length is {p.length}"
        )
    src = {"task": meta["task"], "seed": meta["seed"], "sha256": meta.get("prompt_sha256")}
    return tensor, {"init": "from_prompt", "source": src}


def build_model(cfg: Any, bb: Backbone, prompt: torch.Tensor) -> SoftPromptMLM:
    """The soft-prompt model of `cfg.prompt` around the (shared, frozen) backbone."""
    model = SoftPromptMLM(
        bb.mlm,
        prompt,
        bb.tokenizer.mask_token_id,
        head=cfg.prompt.head,
        mask_slot=cfg.prompt.mask_slot,
        positions=cfg.prompt.positions,
    )
    model.set_backbone_mode(cfg.prompt.backbone_dropout)
    return model


class PTHooks(EngineHooks):
    """Engine hooks of vanilla PT and TPT: only the prompt trains, through the label words."""

    def __init__(
        self, cfg: Any, bb: Backbone, task: TaskData, prompt: torch.Tensor, meta: dict[str, Any]
    ) -> None:
        self.cfg, self.bb, self.task, self.init, self.meta = cfg, bb, task, prompt, meta
        self.model: SoftPromptMLM | None = None
        self.step0: dict[str, float] = {}
        self.engine: Any = None

    def build_model(self, cfg: Any) -> tuple[SoftPromptMLM, list[torch.nn.Parameter]]:
        self.model = build_model(cfg, self.bb, self.init)
        s0 = score(self.model, self.bb.tokenizer, self.task, "dev", cfg.eval.batch_size)
        self.step0 = {"accuracy": s0["accuracy"], "macro_f1": s0["macro_f1"]}
        if self.engine is not None:  # step 0 competes for best-dev (ties go to the earlier step)
            st = self.engine.state
            st.best_metric, st.best_step = self.step0["accuracy"], 0
            st.history.append({"step": 0, **self.step0})
            self.export(self.model, self.engine.run.path / "best")
        return self.model, [self.model.prompt]

    def build_data(self, cfg: Any) -> DataBundle:
        tok = self.bb.tokenizer
        return DataBundle(
            train=self.task.splits["train"],
            eval=self.task.splits["dev"],
            collate_fn=lambda rows: collate(tok, rows),
        )

    def compute_loss(self, batch: dict[str, Any], model: Any, state: Any) -> LossOutput:
        ids = torch.tensor(self.task.label_ids, device=batch["input_ids"].device)
        scores = model({k: v for k, v in batch.items() if k != "labels"}, ids)
        loss = verbalized_loss(scores, batch["labels"])
        acc = (scores.argmax(-1) == batch["labels"]).float().mean().item()
        return LossOutput(loss_sum=loss, metrics={"accuracy": acc})

    def count_items(self, batch: Any) -> int:
        return int(batch["labels"].shape[0])

    def evaluate(self, model: Any, loader: Any, accelerator: Any) -> dict[str, float]:
        s = score(model, self.bb.tokenizer, self.task, "dev", self.cfg.eval.batch_size)
        return {"accuracy": s["accuracy"], "macro_f1": s["macro_f1"]}

    def export(self, model: Any, out_dir: Path) -> None:
        step = self.engine.state.step if self.engine is not None else 0
        save_prompt(model.prompt, out_dir, {**self.meta, "step": step})


def run_key(cfg: Any, bb: Backbone, task: str, seed: int, init_desc: dict[str, Any]) -> str:
    """Content key of a PT run: everything that determines its prompt."""
    from thunlp_repro.shared.config import to_dict

    c = to_dict(cfg)
    return content_key(
        {
            "backbone": bb.info["backbone_sha256"],
            "head": bb.info["head_sha256"],
            "task": task,
            "seed": seed,
            "prompt": c["prompt"],
            "optim": c["optim"],
            "train": c["train"],
            "data": c["data"],
            "init": init_desc,
            "eval_bs": cfg.eval.batch_size,
        }
    )


def run_pt(
    cfg: Any,
    bb: Backbone,
    task: TaskData,
    seed: int,
    root: Path,
    *,
    tag: str = "pt",
    preset: str = "custom",
    before_new: Any = None,
) -> dict[str, Any]:
    """Train (or reuse) one prompt; return its `results.json` document.

    Args:
        cfg: The pipeline config (its `prompt.init` says how the run starts).
        bb: The loaded backbone.
        task: The encoded task.
        seed: Seed of the init, the data order and dropout.
        root: Folder holding the content-addressed run folders.
        tag: Short name of the arm in the folder name (`pt`, `tpt-task`, ...).
        preset: Recorded in `results.json`.
        before_new: Called before a run that is not finished yet starts (a budget check).
    """
    from thunlp_repro.shared import env
    from thunlp_repro.shared.config import to_dict
    from thunlp_repro.shared.io import read_json
    from thunlp_repro.shared.rundir import RunDir
    from thunlp_repro.shared.trainer import Engine

    cfg = replace(cfg, task=task.name, runtime=replace(cfg.runtime, seed=seed))
    prompt, init_desc = initial_prompt(cfg, bb, task, seed)
    key = run_key(cfg, bb, task.name, seed, init_desc)
    folder = root / f"{task.name}-s{seed}-{tag}-{key}"
    if (folder / "results.json").is_file() and (folder / "export" / PROMPT_FILE).is_file():
        return read_json(folder / "results.json")
    if before_new is not None:
        before_new()
    run = RunDir.open("prompt_transfer", run_dir=folder, overwrite=True)
    handler = run.attach_log()
    try:
        run.write_command()
        run.write_config(cfg)
        run.write_env()
        t0 = time.time()
        meta = {
            **{
                k: bb.info[k]
                for k in ("backbone", "backbone_sha256", "head", "head_sha256", "tokenizer")
            },
            "task": task.name,
            "seed": seed,
            "mask_slot": cfg.prompt.mask_slot,
            "prompt_positions": cfg.prompt.positions,
            "init": init_desc,
            "config_hash": key,
            "arm": tag,
        }
        hooks = PTHooks(cfg, bb, task, prompt, meta)
        engine = Engine(cfg, hooks, run)
        hooks.engine = engine
        fit = engine.fit()
        best, _ = load_prompt(run.path / "best")
        model = hooks.model
        assert model is not None
        test = score(model, bb.tokenizer, task, "test", cfg.eval.batch_size, best)
        wall = time.time() - t0
        st = fit.state
        best_dev = max(h["accuracy"] for h in st.history)
        final_meta = {
            **meta,
            "best_step": st.best_step,
            "best_dev": best_dev,
            "steps_run": st.step,
            "wall_s": round(wall, 2),
            "versions": env.package_versions(),
        }
        save_prompt(best, run.export_dir, final_meta)
        metrics = {
            "task": task.name,
            "seed": seed,
            "arm": tag,
            "best_step": st.best_step,
            "best_dev": best_dev,
            "test_accuracy": test["accuracy"],
            "test_macro_f1": test["macro_f1"],
            "test_majority": 100.0 * task.majority["test"],
            "curve": sorted(st.history, key=lambda h: h["step"]),
            "wall_s": round(wall, 2),
            "prompt": str(run.export_dir / PROMPT_FILE),
        }
        run.write_results(
            run_info={
                "paper": "prompt_transfer",
                "experiment": "pt",
                "table": "pt",
                "preset": preset,
                "task": task.name,
                "model": bb.name,
            },
            config=to_dict(cfg),
            metrics=metrics,
            eval_info={
                "batch_size": cfg.eval.batch_size,
                "device": fit.info["device"],
                "n_examples": {"dev": len(task.splits["dev"]), "test": test["n"]},
            },
            meta={"seeds": {"seed": seed}, "backbone": bb.info, "init": init_desc},
        )
        logger.info(
            "pt %s seed %d (%s): best dev %.1f at step %s, test %.1f (%.0f s)",
            task.name,
            seed,
            tag,
            best_dev,
            st.best_step,
            test["accuracy"],
            wall,
        )
        return read_json(run.results_path)
    finally:
        logging.getLogger("thunlp_repro").removeHandler(handler)
        handler.close()
