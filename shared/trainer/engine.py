"""The Engine: one training loop on accelerate for every pipeline of the four papers.

Features: `global_batch_size` / `micro_batch_size` with derived gradient accumulation; loss
normalised by the item count of the whole accumulated batch (so 8x1 == 4x2); mixed precision;
gradient clipping; LR warm-up and schedules; eval every N steps keeping the best; checkpoints every
N steps with rotation; `--resume auto|PATH` continuing mid-epoch with the same result as an
uninterrupted run; seeding; a progress bar; `metrics.jsonl`; tensorboard on request.

Resume semantics: a checkpoint holds model, optimizer, scheduler, RNG states and `TrainState`
(step, epoch, position in the epoch). The data order of epoch e is a permutation seeded by
(data_seed, e), so resuming skips exactly the micro-batches already consumed.

Conventions: conventions.md §2.5. We own the accumulation loop (no_sync on all but the last
micro-batch) instead of `accelerator.accumulate`, because that scales each micro-loss by 1/k and
cannot normalise by the items of the whole window.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Sampler

from thunlp_repro.shared.errors import ConfigError
from thunlp_repro.shared.rundir import RunDir
from thunlp_repro.shared.seeding import seed_everything
from thunlp_repro.shared.trainer import checkpoint as ckpt
from thunlp_repro.shared.trainer.hooks import DataBundle, EngineHooks
from thunlp_repro.shared.trainer.state import TrainState

logger = logging.getLogger(__name__)


class EpochSampler(Sampler[int]):
    """A random permutation per epoch, seeded by (seed, epoch): the same order on every resume."""

    def __init__(self, size: int, seed: int, shuffle: bool = True) -> None:
        self.size, self.seed, self.shuffle, self.epoch = size, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.size))
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.size, generator=gen).tolist())

    def __len__(self) -> int:
        return self.size


@dataclass
class FitResult:
    """What `Engine.fit` returns."""

    state: TrainState
    final_eval: dict[str, float] = field(default_factory=dict)
    best_dir: Path | None = None
    duration_s: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


def _progress_enabled(is_main: bool) -> bool:
    return is_main and sys.stderr.isatty() and os.environ.get("CI", "").lower() != "true"


class Engine:
    """Trains a model through a pipeline's hooks.

    Args:
        cfg: A pipeline config with `train`, `optim`, `eval` and `runtime` blocks.
        hooks: The pipeline's `EngineHooks`.
        run: The run folder (config, metrics, checkpoints, best export).
    """

    def __init__(self, cfg: Any, hooks: EngineHooks, run: RunDir) -> None:
        self.cfg, self.hooks, self.run = cfg, hooks, run
        self.accelerator = self._make_accelerator()
        self.state = TrainState()

    # ------------------------------------------------------------------ set-up
    def _make_accelerator(self) -> Any:
        from accelerate import Accelerator
        from accelerate.state import AcceleratorState

        from thunlp_repro.shared.trainer.tracking import JsonlTracker

        rt = self.cfg.runtime
        if rt.precision == "fp16" and (rt.cpu or not torch.cuda.is_available()):
            raise ConfigError("runtime.precision=fp16 needs a CUDA GPU; use bf16 or no on CPU")
        # Several engines may run in one process (tests, sweeps): start from a clean state,
        # keeping the process group (PartialState) intact.
        AcceleratorState._reset_state()
        trackers: list[Any] = [JsonlTracker(self.run.metrics_path)]
        if rt.tracker == "tensorboard":
            trackers.append("tensorboard")
        handlers = []
        if self.hooks.find_unused_parameters:
            from accelerate.utils import DistributedDataParallelKwargs

            handlers.append(DistributedDataParallelKwargs(find_unused_parameters=True))
        acc = Accelerator(
            mixed_precision=rt.precision,
            cpu=rt.cpu,
            log_with=trackers,
            project_dir=str(self.run.path),
            step_scheduler_with_optimizer=False,
            kwargs_handlers=handlers,
        )
        acc.init_trackers("tb" if rt.tracker == "tensorboard" else "run")
        return acc

    def _grad_accum(self) -> int:
        tr, world = self.cfg.train, self.accelerator.num_processes
        per_step = tr.micro_batch_size * world
        if tr.global_batch_size % per_step:
            raise ConfigError(
                f"train.global_batch_size ({tr.global_batch_size}) is not divisible by "
                f"micro_batch_size x world size ({tr.micro_batch_size} x {world})"
            )
        return tr.global_batch_size // per_step

    def _optimizer(self, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        opt = self.cfg.optim
        # No weight decay on biases and norms (1-D tensors), as in BERT/RoBERTa recipes.
        decay = [p for p in params if p.ndim >= 2]
        no_decay = [p for p in params if p.ndim < 2]
        groups = [
            {"params": decay, "weight_decay": opt.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(
            [g for g in groups if g["params"]],
            lr=opt.lr,
            betas=(opt.beta1, opt.beta2),
            eps=opt.eps,
        )

    def _scheduler(self, optimizer: torch.optim.Optimizer) -> Any:
        from transformers import get_scheduler

        opt, steps = self.cfg.optim, self.cfg.train.max_steps
        warmup = opt.warmup_steps or int(round(opt.warmup_ratio * steps))
        return get_scheduler(opt.scheduler, optimizer, warmup, steps)

    def loader(self, dataset: Any, batch_size: int, collate: Any, shuffle: bool) -> DataLoader:
        rt = self.cfg.runtime
        seed = rt.seed if rt.data_seed is None else rt.data_seed
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=EpochSampler(len(dataset), seed, shuffle=shuffle),
            collate_fn=collate,
            num_workers=rt.num_workers,
            drop_last=False,
            # Its own generator: otherwise each new iterator draws from the global torch RNG,
            # and a resumed run (which opens the epoch's iterator after loading) would diverge.
            generator=torch.Generator().manual_seed(seed),
        )

    # ------------------------------------------------------------------ data stream
    def _stream(self, loader: DataLoader) -> Iterator[Any]:
        """Micro-batches forever, crossing epochs, keeping `state.epoch/batch_in_epoch` exact."""
        acc, state = self.accelerator, self.state
        while True:
            self._train_sampler.set_epoch(state.epoch)
            skip = state.batch_in_epoch
            it = acc.skip_first_batches(loader, skip) if skip else loader
            if hasattr(it, "set_epoch"):  # accelerate's loaders re-set the sampler's epoch
                it.set_epoch(state.epoch)
            for batch in it:
                state.batch_in_epoch += 1
                yield batch
            state.epoch += 1
            state.batch_in_epoch = 0

    # ------------------------------------------------------------------ set-up and one step
    def setup(self, resume: str | None = None) -> None:
        """Build model, data, optimizer and schedule; prepare them; load a checkpoint if asked."""
        acc, cfg, hooks, state = self.accelerator, self.cfg, self.hooks, self.state
        seed_everything(cfg.runtime.seed, acc.process_index, cfg.runtime.deterministic)
        model, params = hooks.build_model(cfg)
        if params is None:
            params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ConfigError("the model has no trainable parameters")
        data: DataBundle = hooks.build_data(cfg)
        self.accum = self._grad_accum()
        optimizer = self._optimizer(params)
        self.scheduler = self._scheduler(optimizer)
        train_loader = self.loader(
            data.train, cfg.train.micro_batch_size, data.collate_fn, shuffle=True
        )
        eval_loader = None
        if data.eval is not None:
            eval_loader = self.loader(
                data.eval, cfg.eval.batch_size, data.eval_collate_fn or data.collate_fn, False
            )
        # Keep our sampler: accelerate re-wraps the loader's batch sampler when sharding.
        self._train_sampler = train_loader.sampler
        self.model, self.optimizer, self.train_loader = acc.prepare(model, optimizer, train_loader)
        self.eval_loader = acc.prepare(eval_loader) if eval_loader is not None else None
        self.params = params
        acc.register_for_checkpointing(self.scheduler, state)
        start = ckpt.resolve_resume(resume, self.run.checkpoints)
        if start is not None:
            acc.load_state(str(start))
            logger.info("resumed from %s at step %d", start, state.step)
        n_total = sum(p.numel() for p in acc.unwrap_model(self.model).parameters())
        n_train = sum(p.numel() for p in params)
        self.info = {
            "world_size": acc.num_processes,
            "grad_accum": self.accum,
            "micro_batch_size": cfg.train.micro_batch_size,
            "global_batch_size": cfg.train.global_batch_size,
            "precision": cfg.runtime.precision,
            "device": str(acc.device),
            "trainable_params": n_train,
            "total_params": n_total,
        }
        logger.info(
            "engine: global batch %d = micro %d x accum %d x world %d; precision %s; device %s; "
            "trainable %s / %s params; run folder %s",
            cfg.train.global_batch_size, cfg.train.micro_batch_size, self.accum,
            acc.num_processes, cfg.runtime.precision, acc.device, f"{n_train:,}",
            f"{n_total:,}", self.run.path,
        )  # fmt: skip

    def train_step(self, window: list[Any], want_metrics: bool = True) -> dict[str, float]:
        """One optimizer step over the micro-batches of `window` (its length = grad accum).

        Returns the step's train metrics when `want_metrics` (reading them syncs the device,
        so the loop asks only on logging steps).
        """
        acc, hooks, state, model = self.accelerator, self.hooks, self.state, self.model
        model.train()
        local_items = sum(hooks.count_items(b) for b in window)
        if acc.num_processes > 1:
            global_items = int(acc.gather(torch.tensor([local_items], device=acc.device)).sum())
        else:
            global_items = local_items
        if global_items == 0:
            raise ValueError("an accumulated batch has no items to average the loss over")
        loss_total = torch.zeros((), device=acc.device)
        step_metrics: dict[str, float] = {}
        for i, batch in enumerate(window):
            sync = i == len(window) - 1
            ctx = contextlib.nullcontext() if sync else acc.no_sync(model)
            with ctx, acc.autocast():
                out = hooks.compute_loss(batch, model, state)
                # DDP averages gradients over processes, so scale by world size.
                loss = out.loss_sum * acc.num_processes / global_items
            acc.backward(loss)
            loss_total += out.loss_sum.detach().float()
            for k, v in out.metrics.items():
                step_metrics[k] = step_metrics.get(k, 0.0) + float(v) / len(window)
        grad_norm = None
        if self.cfg.optim.grad_clip:
            grad_norm = acc.clip_grad_norm_(self.params, self.cfg.optim.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        state.step += 1
        state.items_seen += global_items
        state.samples_seen += self.cfg.train.global_batch_size
        if not want_metrics:
            return {}
        train_loss = float(acc.gather(loss_total.reshape(1)).sum()) / global_items
        record = {"train/loss": train_loss, "train/lr": self.scheduler.get_last_lr()[0]}
        if grad_norm is not None:
            record["train/grad_norm"] = float(grad_norm)
        record.update({f"train/{k}": v for k, v in step_metrics.items()})
        return record

    # ------------------------------------------------------------------ main loop
    def fit(self, resume: str | None = None) -> FitResult:
        """Train for `train.max_steps` optimizer steps (continuing a checkpoint if asked)."""
        t0 = time.time()
        self.setup(resume)
        acc, state, tr = self.accelerator, self.state, self.cfg.train
        best_dir = self.run.path / "best"
        final_eval: dict[str, float] = {}
        progress = self._progress(state.step)
        stream = self._stream(self.train_loader)
        while state.step < tr.max_steps:
            window = [next(stream) for _ in range(self.accum)]
            log_now = (state.step + 1) % tr.log_every == 0 or state.step + 1 == tr.max_steps
            record = self.train_step(window, want_metrics=log_now or progress is not None)
            if log_now:
                acc.log({**record, "epoch": state.epoch}, step=state.step)
            self.hooks.on_step_end(state, record)
            if progress is not None:
                progress.update(1)
                progress.set_postfix(loss=f"{record['train/loss']:.4f}")
            last = state.step == tr.max_steps
            if self.eval_loader is not None and (
                last or (tr.eval_every > 0 and state.step % tr.eval_every == 0)
            ):
                final_eval = self._evaluate(self.model, self.eval_loader, best_dir)
            if (last and tr.save_every >= 0) or (
                tr.save_every > 0 and state.step % tr.save_every == 0
            ):
                self._save(state.step)
        if progress is not None:
            progress.close()
        acc.wait_for_everyone()
        acc.end_training()
        return FitResult(
            state=state,
            final_eval=final_eval,
            best_dir=best_dir if (best_dir / "trainable.safetensors").is_file() else None,
            duration_s=time.time() - t0,
            info=self.info,
        )

    # ------------------------------------------------------------------ pieces
    def _progress(self, initial: int) -> Any:
        if not _progress_enabled(self.accelerator.is_main_process):
            return None
        from tqdm.auto import tqdm

        total = self.cfg.train.max_steps
        return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)

    def _evaluate(self, model: Any, loader: Any, best_dir: Path) -> dict[str, float]:
        acc, state, ev = self.accelerator, self.state, self.cfg.eval
        model.eval()
        with torch.no_grad():
            metrics = self.hooks.evaluate(model, loader, acc)
        model.train()
        if not metrics:
            return metrics
        acc.log({f"eval/{k}": v for k, v in metrics.items()}, step=state.step)
        state.history.append({"step": state.step, **metrics})
        if ev.metric not in metrics:
            raise ConfigError(
                f"eval.metric '{ev.metric}' is not among the eval metrics: {', '.join(metrics)}"
            )
        value = metrics[ev.metric]
        better = state.best_metric is None or (
            value > state.best_metric if ev.mode == "max" else value < state.best_metric
        )
        if better and not math.isnan(value):
            state.best_metric, state.best_step = value, state.step
            if acc.is_main_process:
                self.hooks.export(acc.unwrap_model(model), best_dir)
                (best_dir / "step.txt").write_text(f"{state.step}\n")
        logger.info(
            "step %d eval: %s (best %s=%.4f at step %s)",
            state.step, ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()),
            ev.metric, state.best_metric, state.best_step,
        )  # fmt: skip
        return metrics

    def _save(self, step: int) -> None:
        acc = self.accelerator
        root = self.run.checkpoints
        final = ckpt.step_dir(root, step)
        tmp = root / f".tmp-{final.name}"
        acc.save_state(str(tmp))
        if acc.is_main_process:
            self.state.write(tmp / "train_state.json")
            if final.exists():
                import shutil

                shutil.rmtree(final)
            tmp.rename(final)
            ckpt.rotate(root, self.cfg.train.save_total_limit)
        acc.wait_for_everyone()
