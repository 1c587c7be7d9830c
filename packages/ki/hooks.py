"""KI on the shared Engine: a student paired with a frozen teacher (ki.md §2, §7.1).

`KIHooks` plugs into `shared.trainer.Engine`:

- `build_model` builds the student (fresh from an arch, or continued from a checkpoint for E6) and,
  only for schedules that use one, the teacher: loaded, tokenizer-checked (§2.7), `eval()`,
  `requires_grad_(False)`, never returned to the Engine, so never in the optimizer, never
  `prepare`d, never wrapped by DDP, and outside every module whose `.train()` is called.
- `count_items` masks the micro-batch (deterministically from seed, epoch and row indices) and
  returns its selected-token count n; the Engine divides the summed loss by the global n.
- `compute_loss` runs the student on the corrupted input at the selected positions, and the
  teacher on the *same tensor object* under `torch.no_grad()` only while α_t > 0.
- `evaluate` scores the student's own MLM perplexity on the fixed masked validation set, never
  the mixture, and records the FLOP ledger and wall-clock at that step.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import torch

from thunlp_repro.ki.data import load_tokenizer, train_blocks, validation_set
from thunlp_repro.ki.flops import (
    FlopLedger,
    ModelShape,
    student_step_flops,
    teacher_run_steps,
    teacher_step_flops,
)
from thunlp_repro.ki.inheritance import get_schedule, ki_loss_sum, masked_logits
from thunlp_repro.ki.masking import MaskSpec, mask_batch
from thunlp_repro.ki.tokenizer_contract import check_logit_width, check_same_tokenizer
from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.trainer.hooks import DataBundle, EngineHooks, LossOutput

logger = logging.getLogger(__name__)


class MaskedLMStudent(torch.nn.Module):
    """Wraps the student so its masked-only forward runs through `forward` (DDP-safe)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: Any, attention_mask: Any, select: Any) -> Any:
        return masked_logits(self.model, input_ids, attention_mask, select)


# ------------------------------------------------------------------------------ loading models
def resolve_checkpoint(name: str) -> str:
    """A zoo name, run folder (its `export/`), HF folder or hub id -> a loadable location."""
    from thunlp_repro.ki import zoo

    if name in zoo.ZOO:
        return str(zoo.zoo_path(name))
    p = Path(name).expanduser()
    if (p / "export" / "config.json").is_file():
        return str(p / "export")
    if (p / "config.json").is_file():
        return str(p)
    if p.exists():
        raise UsageError(f"{name}: neither an HF model folder nor a KI run folder")
    if "/" in name and not name.startswith(("/", ".")):
        return name  # hub id (paper scale)
    raise UsageError(
        f"unknown checkpoint '{name}': not a zoo name ({', '.join(zoo.ZOO.keys())}), "
        "a folder, or a hub id"
    )


def load_checkpoint(name: str, causal: bool = False) -> tuple[Any, Any]:
    """(model, tokenizer) of a checkpoint (see `resolve_checkpoint`)."""
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    where = resolve_checkpoint(name)
    auto = AutoModelForCausalLM if causal else AutoModelForMaskedLM
    try:
        model = auto.from_pretrained(where)
        tok = AutoTokenizer.from_pretrained(where)
    except OSError as exc:
        raise UsageError(f"cannot load checkpoint {name} ({where}): "
                         f"{str(exc).splitlines()[0]}") from exc  # fmt: skip
    return model, tok


def build_teacher(name: str, tokenizer: Any, causal: bool = False) -> Any:
    """The frozen teacher; the tokenizer contract is checked (raises TokenizerMismatchError)."""
    from thunlp_repro.ki.archs import build_mlm

    if name.startswith("random:"):
        state = torch.random.get_rng_state()
        torch.manual_seed(1234)
        teacher = build_mlm(name.split(":", 1)[1], tokenizer, dropout=0.0)
        torch.random.set_rng_state(state)
    else:
        teacher, teacher_tok = load_checkpoint(name, causal)
        check_same_tokenizer(teacher_tok, tokenizer)
    check_logit_width(int(teacher.config.vocab_size), tokenizer, "teacher")
    teacher.eval()
    teacher.requires_grad_(False)
    return teacher


def freeze_check(teacher: Any) -> None:
    """Assert the frozen-teacher invariants (ki.md §2.9 test 5)."""
    assert not teacher.training, "teacher must stay in eval mode"
    assert all(not p.requires_grad and p.grad is None for p in teacher.parameters())


# ------------------------------------------------------------------------------ the hooks
class KIHooks(EngineHooks):
    """Engine hooks of one KI (or scratch) pre-training run.

    Args:
        cfg: A `KIConfig`.
        teacher: An already built teacher (tests, E5); else built from `cfg.teacher.name`.
    """

    def __init__(self, cfg: Any, teacher: Any = None) -> None:
        self.cfg = cfg
        self.schedule = get_schedule(cfg.ki.schedule)
        self.stop = cfg.stop_step() if self.schedule.needs_stop else cfg.train.max_steps
        self.tokenizer = load_tokenizer(cfg.data.tokenizer)
        self.vocab = len(self.tokenizer)
        self.spec = MaskSpec.from_tokenizer(
            self.tokenizer, cfg.data.mask_rate, cfg.data.mask_keep, cfg.data.mask_random
        )
        self.teacher = teacher if self.schedule.uses_teacher else None
        self.state: Any = None
        self.teacher_calls = 0
        self.last_teacher_input: Any = None  # for the same-input invariant test
        self.last_student_input: Any = None
        self._wall = 0.0
        self._step_start: float | None = None
        self._restored = False
        self.ledger: FlopLedger | None = None
        self.student: Any = None

    def bind(self, state: Any) -> None:
        """Give the hooks the Engine's `TrainState` (t for α_t, the epoch for masking)."""
        self.state = state

    # ---------------------------------------------------------------- model and data
    def build_model(self, cfg: Any) -> tuple[Any, Any]:
        from thunlp_repro.ki.archs import build_mlm

        if cfg.model.init:
            student, tok = load_checkpoint(cfg.model.init)
            check_same_tokenizer(tok, self.tokenizer)
        else:
            student = build_mlm(cfg.model.arch, self.tokenizer, cfg.model.dropout)
        check_logit_width(int(student.config.vocab_size), self.tokenizer, "student")
        self.student = student
        if self.schedule.uses_teacher and self.teacher is None:
            self.teacher = build_teacher(cfg.teacher.name, self.tokenizer)
        self._make_ledger()
        return MaskedLMStudent(student), None

    def _make_ledger(self) -> None:
        cfg = self.cfg
        seq = cfg.data.block_size
        n_sel = cfg.data.mask_rate * cfg.train.global_batch_size * (seq - 2)
        b = cfg.train.global_batch_size
        c_s = student_step_flops(ModelShape.of(self.student, self.vocab), b, seq, n_sel)
        c_t = 0.0
        if self.teacher is not None:
            c_t = teacher_step_flops(ModelShape.of(self.teacher, self.vocab), b, seq, n_sel)
        runs = teacher_run_steps(
            self.schedule, self.stop, cfg.ki.alpha0, cfg.train.max_steps
        )  # fmt: skip
        self.ledger = FlopLedger(c_s, c_t, runs if self.teacher is not None else None)

    def build_data(self, cfg: Any) -> DataBundle:
        blocks = train_blocks(cfg, self.tokenizer)
        self.n_train_blocks = int(blocks.shape[0])
        train = [{"ids": blocks[i], "idx": i} for i in range(blocks.shape[0])]
        self.val_sets = [
            validation_set(
                cfg.data.corpus,
                self.tokenizer,
                cfg.data.block_size,
                cfg.data.val_blocks,
                cfg.data.holdout_seed,
                self.spec,
            )
        ]
        for extra in cfg.data.extra_val:
            self.val_sets.append(validation_set(extra, self.tokenizer, cfg.data.block_size,
                                                cfg.data.val_blocks, cfg.data.holdout_seed,
                                                self.spec))  # fmt: skip
        rows = []
        self.val_keys: list[tuple[int, str]] = []
        for si, vs in enumerate(self.val_sets):
            for dom in vs.inputs:
                key = len(self.val_keys)
                self.val_keys.append((si, dom))
                for j in range(vs.inputs[dom].shape[0]):
                    rows.append({"input_ids": vs.inputs[dom][j], "select": vs.select[dom][j],
                                 "targets": vs.targets[dom][j], "key": key})  # fmt: skip
        return DataBundle(train=train, eval=rows, collate_fn=collate_train,
                          eval_collate_fn=collate_eval)  # fmt: skip

    # ---------------------------------------------------------------- one micro-batch
    def _masked(self, batch: dict[str, Any]) -> dict[str, Any]:
        if "select" not in batch:
            epoch = self.state.epoch if self.state is not None else 0
            m = mask_batch(batch["ids"].cpu(), self.spec, self.cfg.runtime.seed, epoch,
                           batch["idx"].tolist())  # fmt: skip
            batch.update(m)
        return batch

    def count_items(self, batch: Any) -> int:
        if self._step_start is None:
            self._step_start = time.perf_counter()
        return int(self._masked(batch)["select"].sum())

    def alpha(self, step: int) -> float:
        """α at update `step` (0 when the schedule uses no teacher)."""
        return self.schedule.alpha(step, self.stop, self.cfg.ki.alpha0)

    def compute_loss(self, batch: Any, model: Any, state: Any) -> LossOutput:
        b = self._masked(batch)
        ids, select = b["input_ids"].to(_device(model)), b["select"].to(_device(model))
        targets = b["targets"].to(ids.device)
        alpha = self.alpha(state.step)
        s_logits = model(ids, None, select)[:, : self.vocab]
        t_logits = None
        if alpha > 0.0 and self.teacher is not None and targets.numel() > 0:
            if _device(self.teacher) != ids.device:
                self.teacher.to(ids.device)
            with torch.no_grad():
                t_logits = masked_logits(self.teacher, ids, None, select)[:, : self.vocab]
            self.teacher_calls += 1
            self.last_teacher_input = ids
        self.last_student_input = ids
        loss, parts = ki_loss_sum(s_logits, targets, t_logits, alpha, self.cfg.ki.temperature)
        n = max(parts["n"], 1.0)
        return LossOutput(
            loss_sum=loss,
            metrics={"alpha": alpha, "mlm": parts["mlm_sum"] / n, "kd": parts["kd_sum"] / n},
        )

    def on_step_end(self, state: Any, metrics: dict[str, float]) -> None:
        if not self._restored:
            self._restore(state)
        if self._step_start is not None:
            self._wall += time.perf_counter() - self._step_start
            self._step_start = None

    def _restore(self, state: Any) -> None:
        """Continue the wall-clock and teacher-call counters from a resumed checkpoint."""
        self._restored = True
        if state.history:
            self._wall = float(state.history[-1].get("wall_s", 0.0))
            self.teacher_calls = int(state.history[-1].get("teacher_calls", 0))

    # ---------------------------------------------------------------- evaluation
    def evaluate(self, model: Any, loader: Any, accelerator: Any) -> dict[str, float]:
        sums = score_loader(lambda i, s: model(i, None, s), loader, accelerator, self.vocab)
        out = ppl_metrics(sums, self.val_keys, [vs.corpus for vs in self.val_sets])
        step = self.state.step if self.state is not None else 0
        if self.ledger is not None:
            out.update(self.ledger.at(step))
        out.update({"alpha": self.alpha(step), "wall_s": round(self._wall, 3),
                    "teacher_calls": float(self.teacher_calls)})  # fmt: skip
        return out

    def export(self, model: Any, out_dir: Path) -> None:
        if not self.cfg.keep_best:  # students: only the final model is kept (export/)
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            return
        inner = model.model if isinstance(model, MaskedLMStudent) else model
        save_hf(inner, self.tokenizer, out_dir)


# ------------------------------------------------------------------------------ helpers
def _device(module: Any) -> Any:
    return next(module.parameters()).device


def collate_train(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"ids": torch.stack([r["ids"] for r in rows]),
            "idx": torch.tensor([r["idx"] for r in rows])}  # fmt: skip


def collate_eval(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {k: torch.stack([r[k] for r in rows]) if k != "key" else
            torch.tensor([r[k] for r in rows]) for k in rows[0]}  # fmt: skip


def score_loader(forward: Any, loader: Any, accelerator: Any, vocab: int) -> dict[int, list]:
    """Σ NLL and n per validation key (corpus-domain) of the student's own MLM.

    Sums are gathered per row: `gather_for_metrics` trims a partial last batch by rows, so
    gathering per-token tensors would silently drop tokens.
    """
    sums: dict[int, list[float]] = {}
    with torch.no_grad():
        for batch in loader:
            ids, sel = batch["input_ids"], batch["select"]
            logits = forward(ids, sel)[:, :vocab].float()
            tgt = batch["targets"][sel]
            nll = torch.nn.functional.cross_entropy(logits, tgt, reduction="none")
            rows = torch.arange(sel.shape[0], device=sel.device).unsqueeze(1).expand_as(sel)[sel]
            per_row = torch.zeros(sel.shape[0], device=nll.device).index_add_(0, rows, nll)
            per_row, count, key = accelerator.gather_for_metrics(
                (per_row, sel.sum(1), batch["key"])
            )
            for k in key.unique().tolist():
                m = key == k
                acc = sums.setdefault(int(k), [0.0, 0])
                acc[0] += float(per_row[m].sum())
                acc[1] += int(count[m].sum())
    return sums


def ppl_metrics(sums: dict[int, list], keys: list[tuple[int, str]], corpora: list[str]) -> dict:
    """`ppl` (first corpus overall), `ppl_<domain>`, and `ppl_<corpus>` for the extra corpora."""
    out: dict[str, float] = {}
    per_set: dict[int, list[float]] = {}
    for k, (si, dom) in enumerate(keys):
        total, n = sums.get(k, [0.0, 0])
        if n:
            out[f"ppl_{dom}"] = math.exp(total / n)
        acc = per_set.setdefault(si, [0.0, 0])
        acc[0] += total
        acc[1] += n
    for si, (total, n) in per_set.items():
        value = math.exp(total / n) if n else float("nan")
        out["ppl" if si == 0 else f"ppl_{corpora[si]}"] = value
        if si == 0:
            out["nll"] = total / n if n else float("nan")
    return out


def save_hf(model: Any, tokenizer: Any, out_dir: Path) -> None:
    """An HF `save_pretrained` folder (safetensors, config, tokenizer) with the real MLM head."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(out_dir))
