"""Train one APET cell on the shared Engine (apet.md §4.4 head, §4.6 settings).

A cell is (model, task, method, budget/pool, s_pos, s_data). The backbone is loaded once per
process and reused: every method is undone with `PetHandle.remove()` after its run (FT restores
its snapshot), so no cell sees another's weights. The head is `frozen-random` by default:
z_c = scale · ĥ·u_c over the L2-normalised mean of real tokens, with C fixed random unit vectors
drawn by s_head; it counts 0 toward L. Test accuracy is taken at the last step (no selection).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch
from torch import nn

from thunlp_repro.apet.config import APETConfig, check_choice
from thunlp_repro.shared.trainer.hooks import DataBundle, EngineHooks, LossOutput

logger = logging.getLogger(__name__)

_BACKBONES: dict[str, tuple[nn.Module, Any]] = {}


def backbone(name: str) -> tuple[nn.Module, Any]:
    """The (cached) bare encoder and tokenizer of `name`."""
    if name not in _BACKBONES:
        from thunlp_repro.shared.models import load_model

        _BACKBONES[name] = load_model(name, "encoder")
    return _BACKBONES[name]


class CellModel(nn.Module):
    """The method's forward plus the head (frozen random unit vectors or a trainable Linear)."""

    def __init__(self, body: nn.Module, hidden: int, n_labels: int, head: str, scale: float,
                 s_head: int) -> None:  # fmt: skip
        super().__init__()
        self.body, self.head_kind, self.scale = body, head, scale
        g = torch.Generator().manual_seed(s_head)
        u = torch.randn(n_labels, hidden, generator=g)
        self.register_buffer("units", u / u.norm(dim=-1, keepdim=True), persistent=False)
        self.linear = nn.Linear(hidden, n_labels) if head == "trainable" else None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        hidden = hidden[:, -attention_mask.shape[1] :]  # guard: only the real input positions
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        if self.linear is not None:
            return self.linear(pooled)
        return self.scale * nn.functional.normalize(pooled, dim=-1) @ self.units.T


def method_spec(cfg: APETConfig, model_config: Any) -> Any:
    """The MethodSpec of this cell (None for linear-probe: no backbone parameter)."""
    from thunlp_repro.apet.budget import count_trainable
    from thunlp_repro.apet.methods import OPTIONS, MethodSpec

    c, s_data = cfg.cell, cfg.runtime.seed
    knobs = {"prompt": {"length": c.prompt_length, "max_seq_len": cfg.data.max_length},
             "prefix": {"length": c.prefix_length},
             "lora": {"rank": c.lora_rank, "alpha": c.lora_alpha},
             "adapter": {"bottleneck": c.adapter_bottleneck},
             "apet-tensor": {"bottleneck": c.adapter_bottleneck}}  # fmt: skip
    if c.method == "linear-probe":
        return None
    options = {**knobs.get(c.method, {}), "data_seed": s_data}
    options = {k: v for k, v in options.items() if k in OPTIONS[c.method]}
    budget = c.budget
    if c.method in ("apet-element", "apet-tensor") and budget is None:
        if c.match is None:
            raise_usage("apet methods need cell.budget or cell.match")
        budget = count_trainable(model_config, MethodSpec(c.match, options=knobs.get(c.match, {})))
    return MethodSpec(c.method, budget=budget, pool=c.pool, impl=c.impl, seed=c.s_pos,
                      options=options)  # fmt: skip


def raise_usage(msg: str) -> None:
    from thunlp_repro.shared.errors import UsageError

    raise UsageError(msg)


class CellHooks(EngineHooks):
    """Engine hooks of one cell: method on the cached backbone, frozen head, CE loss."""

    def __init__(self, cfg: APETConfig) -> None:
        from thunlp_repro.shared.finetune import seeded_subset
        from thunlp_repro.shared.tasks import get_task

        self.cfg = cfg
        self.task = get_task(cfg.data.task)
        self.splits = self.task.load(split_seed=cfg.data.split_seed)
        for split, limit in (("train", cfg.data.train_limit), ("test", cfg.data.eval_limit)):
            if limit:
                self.splits[split] = seeded_subset(self.splits[split], limit, cfg.data.split_seed)
        self.handle: Any = None
        self.model: CellModel | None = None
        self.last_loss: float | None = None

    def on_step_end(self, state: Any, metrics: dict[str, float]) -> None:
        self.last_loss = metrics.get("train/loss", self.last_loss)

    def build_model(self, cfg: APETConfig) -> tuple[nn.Module, list[nn.Parameter]]:
        from thunlp_repro.apet.methods import apply_method

        bb, self.tokenizer = backbone(cfg.model.name)
        p = cfg.cell.dropout
        if p is None:
            p = 0.0 if cfg.cell.method.startswith("apet") else 0.1
        for m in bb.modules():
            if isinstance(m, nn.Dropout):
                m.p = p
        self.n_params = sum(q.numel() for q in bb.parameters())
        spec = method_spec(cfg, bb.config)
        if spec is None:
            for q in bb.parameters():
                q.requires_grad_(False)
            body: nn.Module = bb
        else:
            self.handle = apply_method(bb, spec)
            logger.info("%s", self.handle.describe())
            body = self.handle.model
        head = "trainable" if cfg.cell.method == "linear-probe" else cfg.cell.head
        self.model = CellModel(body, bb.config.hidden_size, len(self.task.labels), head,
                               cfg.cell.head_scale, cfg.cell.s_head)  # fmt: skip
        params = [] if self.handle is None else list(self.handle.trainable_parameters())
        if self.model.linear is not None:
            params += list(self.model.linear.parameters())
        return self.model, params

    def encode(self, split: str) -> list[dict[str, Any]]:
        ex = self.splits[split]
        pairs = [e.text_pair for e in ex]
        enc = self.tokenizer([e.text for e in ex], pairs if any(pairs) else None,
                             truncation=True, max_length=self.cfg.data.max_length)  # fmt: skip
        return [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
                 "labels": ex[i].label} for i in range(len(ex))]  # fmt: skip

    def collate(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        feats = [{k: r[k] for k in ("input_ids", "attention_mask")} for r in rows]
        batch = self.tokenizer.pad(feats, return_tensors="pt")
        return {**batch, "labels": torch.tensor([r["labels"] for r in rows])}

    def build_data(self, cfg: APETConfig) -> DataBundle:
        return DataBundle(train=self.encode("train"), collate_fn=self.collate)

    def compute_loss(self, batch: dict[str, Any], model: nn.Module, state: Any) -> LossOutput:
        logits = model(batch["input_ids"], batch["attention_mask"])
        loss = nn.functional.cross_entropy(logits.float(), batch["labels"], reduction="sum")
        return LossOutput(loss_sum=loss, metrics={})

    def export(self, model: nn.Module, out_dir: Any) -> None:  # trainable-only, via the handle
        from safetensors.torch import save_file

        if self.handle is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            save_file(self.handle.state_dict_trainable(), str(out_dir / "trainable.safetensors"))

    def test_accuracy(self, engine: Any) -> tuple[float, float]:
        """(test accuracy, majority share of test), both in points."""
        from thunlp_repro.shared.finetune import majority_rate

        loader = engine.loader(self.encode("test"), self.cfg.eval.batch_size, self.collate, False)
        right = total = 0
        model = engine.accelerator.unwrap_model(engine.model)
        model.eval()
        with torch.no_grad():
            for b in loader:
                pred = model(b["input_ids"], b["attention_mask"]).argmax(-1)
                right += int((pred == b["labels"]).sum())
                total += len(pred)
        return 100.0 * right / total, 100.0 * majority_rate(self.splits["test"])

    def close(self) -> None:
        """Undo the method so the cached backbone is pristine for the next cell."""
        if self.handle is not None:
            self.handle.remove()
            self.handle = None


def train_cell(cfg: APETConfig, run: Any, preset: str = "custom") -> dict[str, Any]:
    """Train one cell, score test, write `results.json`; returns the cell's record (§6)."""
    from thunlp_repro.shared.tasks import get_task
    from thunlp_repro.shared.trainer import Engine

    check_choice("task", cfg.data.task, _task_names())
    get_task(cfg.data.task)
    t0 = time.time()
    hooks = CellHooks(cfg)
    try:
        engine = Engine(cfg, hooks, run)
        fit = engine.fit()
        train_s = time.time() - t0
        acc, chance = hooks.test_accuracy(engine)
        h = hooks.handle
        c = cfg.cell
        record = {
            "model": cfg.model.name, "task": cfg.data.task, "method": c.method,
            "match": c.match, "pool": c.pool, "impl": c.impl,
            "budget_requested": h.planned_count if h else 0,
            "budget": h.trainable_count if h else 0,
            "head_params": sum(p.numel() for p in hooks.model.linear.parameters())
            if hooks.model.linear is not None else 0,
            "s_pos": c.s_pos, "s_data": cfg.runtime.seed, "steps": cfg.train.max_steps,
            "lr": cfg.optim.lr, "accuracy": acc, "chance": chance,
            "n_classes": len(hooks.task.labels), "model_params": hooks.n_params,
            "mask_sha256": h.mask_sha256 if h else None,
            "final_loss": hooks.last_loss,
            "train_s": round(train_s, 3), "wall_s": round(time.time() - t0, 3),
            "device": fit.info["device"], "describe": h.describe() if h else "linear-probe",
        }  # fmt: skip
    finally:
        hooks.close()
    run.write_results(
        run_info={"paper": "apet", "experiment": "cell", "table": "cell", "preset": preset,
                  "model": cfg.model.name, "task": cfg.data.task},
        config=cfg, metrics=record, eval_info={"n_test": len(hooks.splits["test"])},
        meta={"seeds": {"s_pos": cfg.cell.s_pos, "s_data": cfg.runtime.seed,
                        "s_head": cfg.cell.s_head, "split_seed": cfg.data.split_seed}},
    )  # fmt: skip
    return record


def _task_names() -> list[str]:
    from thunlp_repro.shared.tasks import TASKS

    return sorted(TASKS.keys())
