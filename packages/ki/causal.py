"""KI for causal LMs on the shared Engine: the GPT-style arm (ki.md §4.8, the loss of §2.2).

`CausalKIHooks` is the causal sibling of `hooks.KIHooks`:

- Positions: every next-token position of a block (S − 1 per block); the Engine divides the
  summed loss by their global count, so micro-batches weigh correctly.
- Loss: L_t = (1 − α_t)·Σ NLL + α_t·τ²·Σ KL(p ‖ q) on sums, forward KL, teacher as target.
  The KL comes from the teacher cache (top-k with a tail bucket, `topk_kl`; `gpt.kd=topk-cache`)
  or from a live teacher over the full vocabulary (`gpt.kd=full-live`; tests, paper scale).
- Teacher: never built for `none`; with a cache it is loaded only to fill the cache once. A live
  teacher is frozen, `eval()`, outside the optimizer and run under `no_grad` only while α_t > 0.
- Metric: the student's own causal PPL per domain on fixed validation blocks, never the mixture.
- FLOPs (§2.6 with n = B·(S−1), the head at every position): the student per update, and the
  teacher forward for each update with α_t > 0. With a cache the teacher does not run during
  training: those FLOPs were paid once by the cache fill, which is reported on its own
  (`cache_fill`), and each update is charged the fill's share for the blocks it consumed.
- A snapshot of the student at `gpt.snapshot_ratio`·S feeds the mid-run top-k check.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch

from thunlp_repro.ki.data import causal_pool, causal_validation, load_tokenizer
from thunlp_repro.ki.flops import (
    FlopLedger,
    ModelShape,
    student_step_flops,
    teacher_run_steps,
    teacher_step_flops,
)
from thunlp_repro.ki.inheritance import get_schedule, kd_sum, mlm_nll_sum, topk_kl
from thunlp_repro.ki.tokenizer_contract import check_logit_width, check_same_tokenizer
from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.trainer.hooks import DataBundle, EngineHooks, LossOutput

logger = logging.getLogger(__name__)


class CausalStudent(torch.nn.Module):
    """Wraps the student so the Engine's forward returns the next-token logits [B, S−1, V]."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: Any) -> Any:
        return self.model(input_ids=input_ids).logits[:, :-1]


# ------------------------------------------------------------------------------ teacher
def causal_location(name: str) -> str:
    """An installed asset (e.g. `smollm2-135m`), zoo name, run folder, HF folder or hub id."""
    from thunlp_repro.ki.hooks import resolve_checkpoint
    from thunlp_repro.shared.assets import ASSETS, model_dir

    if name in ASSETS and ASSETS.get(name).kind == "model":
        return str(model_dir(name))
    return resolve_checkpoint(name)


def load_causal_teacher(name: str, tokenizer: Any) -> Any:
    """The frozen causal teacher; raises TokenizerMismatchError unless it shares `tokenizer`."""
    from thunlp_repro.ki.hooks import build_teacher

    if name.startswith("random:"):
        return build_teacher(name, tokenizer)  # llama archs build a causal LM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    where = causal_location(name)
    try:
        teacher_tok = AutoTokenizer.from_pretrained(where)
    except OSError as exc:
        raise UsageError(f"cannot load the tokenizer of teacher {name} ({where}): "
                         f"{str(exc).splitlines()[0]}") from exc  # fmt: skip
    check_same_tokenizer(teacher_tok, tokenizer)  # before the (large) weights are read
    try:
        teacher = AutoModelForCausalLM.from_pretrained(where)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load teacher {name} ({where}) as a causal LM: "
                         f"{str(exc).splitlines()[0]}") from exc  # fmt: skip
    check_logit_width(int(teacher.config.vocab_size), tokenizer, "teacher")
    teacher.float().eval()  # fp32 on CPU; the KL is computed in fp32 in any case (§7.1)
    teacher.requires_grad_(False)
    return teacher


# ------------------------------------------------------------------------------ the loss
def causal_ki_loss_sum(
    student_logits: Any,
    targets: Any,
    alpha: float,
    tau: float = 2.0,
    teacher_logits: Any | None = None,
    topk: Any | None = None,
) -> tuple[Any, dict[str, float]]:
    """(1 − α)·Σ NLL + α·τ²·Σ KL over next-token positions.

    Args:
        student_logits: [n, V] student logits (sliced to the tokenizer).
        targets: [n] next tokens.
        alpha: α_t; 0 gives exactly the NLL sum (the scratch loss).
        tau: τ.
        teacher_logits: [n, V] live teacher logits: full-vocabulary KL.
        topk: a `TopkBatch` flattened to [n, k] / [n]: top-k KL with a tail bucket.

    Returns:
        (loss_sum, parts) with `nll_sum`, `kd_sum` (τ²-scaled), `tail_sum` (Σ r_i) and `n`.
    """
    nll = mlm_nll_sum(student_logits, targets)
    parts = {"nll_sum": float(nll.detach()), "kd_sum": 0.0, "tail_sum": 0.0,
             "n": float(targets.numel())}  # fmt: skip
    if alpha == 0.0 or targets.numel() == 0 or (teacher_logits is None and topk is None):
        return nll, parts
    if topk is not None:
        kl, r = topk_kl(student_logits, topk.ids, topk.logits, topk.lse, tau)
        kd = (tau**2) * kl.sum()
        parts["tail_sum"] = float(r.sum())
    else:
        kd = kd_sum(student_logits, teacher_logits, tau)
    parts["kd_sum"] = float(kd.detach())
    if alpha == 1.0:
        return kd, parts
    return (1.0 - alpha) * nll + alpha * kd, parts


def flatten_topk(entries: Any, device: Any) -> Any:
    """A `TopkBatch` [B, P, k] as [B·P, k] / [B·P] tensors on `device`."""
    from thunlp_repro.ki.topk_cache import TopkBatch

    k = entries.ids.shape[-1]
    return TopkBatch(ids=entries.ids.reshape(-1, k).to(device),
                     logits=entries.logits.reshape(-1, k).to(device),
                     lse=entries.lse.reshape(-1).to(device))  # fmt: skip


# ------------------------------------------------------------------------------ the hooks
class CausalKIHooks(EngineHooks):
    """Engine hooks of one causal KI (or scratch) run of the GPT arm.

    Args:
        cfg: A `KIConfig` with `objective: causal`.
        teacher: An already built live teacher (tests); else loaded from `cfg.teacher.name`.
        cache: An already open `TopkCache` (tests); else found or filled for the pool.
        snapshot_dir: Where to save the student at `gpt.snapshot_ratio`·S (None: no snapshot).
    """

    def __init__(self, cfg: Any, teacher: Any = None, cache: Any = None,
                 snapshot_dir: Path | None = None) -> None:  # fmt: skip
        if cfg.objective != "causal":
            raise UsageError(f"CausalKIHooks needs objective=causal, got {cfg.objective}")
        self.cfg = cfg
        self.schedule = get_schedule(cfg.ki.schedule)
        self.stop = cfg.stop_step() if self.schedule.needs_stop else cfg.train.max_steps
        self.tokenizer = load_tokenizer(cfg.data.tokenizer)
        self.vocab = len(self.tokenizer)
        self.tau = cfg.ki.temperature
        uses = self.schedule.uses_teacher
        self.teacher = teacher if uses and cfg.gpt.kd == "full-live" else None
        self.cache = cache if uses and cfg.gpt.kd == "topk-cache" else None
        self.snapshot_dir = Path(snapshot_dir) if snapshot_dir is not None else None
        self.snapshot_step = max(1, int(round(cfg.gpt.snapshot_ratio * cfg.train.max_steps)))
        self.state: Any = None
        self.student: Any = None
        self.ledger: FlopLedger | None = None
        self.teacher_calls = 0  # live teacher forward passes
        self.kd_calls = 0  # micro-batches with a KD term (live or cached)
        self._pool: Any = None
        self._wall = 0.0
        self._step_start: float | None = None
        self._restored = False
        self.cache_fill: dict[str, Any] | None = None

    def bind(self, state: Any) -> None:
        """Give the hooks the Engine's `TrainState` (t for α_t)."""
        self.state = state

    def alpha(self, step: int) -> float:
        return self.schedule.alpha(step, self.stop, self.cfg.ki.alpha0)

    @property
    def pool(self) -> Any:
        """The fixed training pool [N, S] (ki.md §4.8), built once."""
        if self._pool is None:
            self._pool = causal_pool(self.cfg, self.tokenizer)
        return self._pool

    # ---------------------------------------------------------------- model and data
    def build_model(self, cfg: Any) -> tuple[Any, Any]:
        from thunlp_repro.ki.archs import build_mlm

        if cfg.model.init:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            where = causal_location(cfg.model.init)
            check_same_tokenizer(AutoTokenizer.from_pretrained(where), self.tokenizer)
            student = AutoModelForCausalLM.from_pretrained(where)
        else:
            student = build_mlm(cfg.model.arch, self.tokenizer, cfg.model.dropout)
        check_logit_width(int(student.config.vocab_size), self.tokenizer, "student")
        self.student = student
        t_shape: ModelShape | None = None
        if self.schedule.uses_teacher:
            if cfg.gpt.kd == "full-live":
                if self.teacher is None:
                    self.teacher = load_causal_teacher(cfg.teacher.name, self.tokenizer)
                t_shape = ModelShape.of(self.teacher, self.vocab)
            else:
                if self.cache is None:
                    self.cache = self._open_cache()
                t_shape = ModelShape(**self.cache.meta["teacher_shape"])
                self.cache_fill = cache_summary(self.cache)
        self._make_ledger(t_shape)
        return CausalStudent(student), None

    def cache_key(self) -> Any:
        from thunlp_repro.ki.topk_cache import CacheKey, pool_fingerprint, teacher_identity
        from thunlp_repro.shared.corpora import tokenizer_fingerprint

        return CacheKey(
            teacher=teacher_identity(self.cfg.teacher.name),
            tokenizer=tokenizer_fingerprint(self.tokenizer),
            pool=pool_fingerprint(self.pool),
            k=min(self.cfg.gpt.topk, self.vocab),
            tau=float(self.tau),
            vocab=self.vocab,
            positions=self.cfg.data.block_size - 1,
        )

    def _open_cache(self) -> Any:
        from thunlp_repro.ki.topk_cache import ensure_cache

        seq = self.cfg.data.block_size

        def load() -> Any:
            t = load_causal_teacher(self.cfg.teacher.name, self.tokenizer)
            if torch.cuda.is_available() and not self.cfg.runtime.cpu:
                t.to("cuda")
            return t

        def describe(t: Any) -> dict[str, Any]:
            shape = ModelShape.of(t, self.vocab)
            per_block = teacher_step_flops(shape, 1, seq, seq - 1)
            return {"teacher_name": self.cfg.teacher.name, "teacher_shape": vars(shape),
                    "fill_flops": per_block * int(self.pool.shape[0])}  # fmt: skip

        return ensure_cache(self.cache_key(), load, self.pool, self.cfg.gpt.cache_batch,
                            describe=describe)  # fmt: skip

    def _make_ledger(self, t_shape: ModelShape | None) -> None:
        cfg = self.cfg
        seq, b = cfg.data.block_size, cfg.train.global_batch_size
        n = b * (seq - 1)  # the head runs at every next-token position
        c_s = student_step_flops(ModelShape.of(self.student, self.vocab), b, seq, n)
        c_t = teacher_step_flops(t_shape, b, seq, n) if t_shape is not None else 0.0
        runs = teacher_run_steps(self.schedule, self.stop, cfg.ki.alpha0, cfg.train.max_steps)
        self.ledger = FlopLedger(c_s, c_t, runs if t_shape is not None else None)

    def build_data(self, cfg: Any) -> DataBundle:
        pool = self.pool
        self.n_train_blocks = int(pool.shape[0])
        train = [{"ids": pool[i], "idx": i} for i in range(pool.shape[0])]
        val = causal_validation(cfg, self.tokenizer)
        self.val_keys = [(0, dom) for dom in val]
        self.val_corpora = [cfg.data.corpus]
        self.n_val_blocks = sum(int(v.shape[0]) for v in val.values())
        rows = [
            {"input_ids": blocks[j], "key": key}
            for key, blocks in enumerate(val.values())
            for j in range(blocks.shape[0])
        ]
        return DataBundle(train=train, eval=rows, collate_fn=collate_train,
                          eval_collate_fn=collate_eval)  # fmt: skip

    # ---------------------------------------------------------------- one micro-batch
    def count_items(self, batch: Any) -> int:
        if self._step_start is None:
            self._step_start = time.perf_counter()
        ids = batch["ids"]
        return int(ids.shape[0] * (ids.shape[1] - 1))

    def compute_loss(self, batch: Any, model: Any, state: Any) -> LossOutput:
        dev = next(model.parameters()).device
        ids = batch["ids"].to(dev)
        alpha = self.alpha(state.step)
        logits = model(ids)[..., : self.vocab]
        s = logits.reshape(-1, logits.shape[-1])
        targets = ids[:, 1:].reshape(-1)
        t_logits, topk = None, None
        if alpha > 0.0 and self.cache is not None:
            topk = flatten_topk(self.cache.lookup(batch["idx"]), dev)
            self.kd_calls += 1
        elif alpha > 0.0 and self.teacher is not None:
            if next(self.teacher.parameters()).device != dev:
                self.teacher.to(dev)
            with torch.no_grad():
                t = self.teacher(input_ids=ids).logits[:, :-1, : self.vocab]
            t_logits = t.reshape(-1, t.shape[-1])
            self.teacher_calls += 1
            self.kd_calls += 1
        loss, parts = causal_ki_loss_sum(s, targets, alpha, self.tau, t_logits, topk)
        n = max(parts["n"], 1.0)
        return LossOutput(loss_sum=loss, metrics={"alpha": alpha, "nll": parts["nll_sum"] / n,
                                                  "kd": parts["kd_sum"] / n,
                                                  "tail": parts["tail_sum"] / n})  # fmt: skip

    def on_step_end(self, state: Any, metrics: dict[str, float]) -> None:
        if not self._restored:
            self._restored = True
            if state.history:  # resumed: continue the counters
                self._wall = float(state.history[-1].get("wall_s", 0.0))
                self.teacher_calls = int(state.history[-1].get("teacher_calls", 0))
                self.kd_calls = int(state.history[-1].get("kd_calls", 0))
        if self._step_start is not None:
            self._wall += time.perf_counter() - self._step_start
            self._step_start = None
        if state.step == self.snapshot_step and self.snapshot_dir is not None and _is_main():
            from thunlp_repro.ki.hooks import save_hf

            save_hf(self.student, self.tokenizer, self.snapshot_dir)
            (self.snapshot_dir / "step.txt").write_text(f"{state.step}\n")

    # ---------------------------------------------------------------- evaluation
    def evaluate(self, model: Any, loader: Any, accelerator: Any) -> dict[str, float]:
        from thunlp_repro.ki.hooks import ppl_metrics

        sums = score_causal(model, loader, accelerator, self.vocab)
        out = ppl_metrics(sums, self.val_keys, self.val_corpora)
        step = self.state.step if self.state is not None else 0
        if self.ledger is not None:
            out.update(self.ledger.at(step))
        out.update({"alpha": self.alpha(step), "wall_s": round(self._wall, 3),
                    "teacher_calls": float(self.teacher_calls),
                    "kd_calls": float(self.kd_calls)})  # fmt: skip
        return out

    def export(self, model: Any, out_dir: Path) -> None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)  # the final student goes to export/


# ------------------------------------------------------------------------------ helpers
def _is_main() -> bool:
    dist = torch.distributed
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def collate_train(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"ids": torch.stack([r["ids"] for r in rows]),
            "idx": torch.tensor([r["idx"] for r in rows])}  # fmt: skip


def collate_eval(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"input_ids": torch.stack([r["input_ids"] for r in rows]),
            "key": torch.tensor([r["key"] for r in rows])}  # fmt: skip


def score_causal(forward: Any, loader: Any, accelerator: Any, vocab: int) -> dict[int, list]:
    """Σ next-token NLL and the position count per validation key, for `forward(ids)` returning
    [B, S−1, V'] logits (a `CausalStudent`, or a wrapped teacher); `accelerator` may be None
    (a plain loop on one process)."""
    sums: dict[int, list[float]] = {}
    with torch.no_grad():
        for batch in loader:
            ids = batch["input_ids"]
            logits = forward(ids)[..., :vocab].float()
            nll = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none"
            ).view(ids.shape[0], -1)
            per_row, key = nll.sum(1), batch["key"]
            count = torch.full_like(per_row, nll.shape[1])
            if accelerator is not None:
                per_row, count, key = accelerator.gather_for_metrics((per_row, count, key))
            for k in key.unique().tolist():
                m = key == k
                acc = sums.setdefault(int(k), [0.0, 0])
                acc[0] += float(per_row[m].sum())
                acc[1] += int(count[m].sum())
    return sums


def cache_summary(cache: Any) -> dict[str, Any]:
    """What a run reports about the cache it read: size, k, and the one-off fill cost."""
    m = cache.meta
    return {"dir": str(cache.path), "k": cache.k, "blocks": cache.n_blocks,
            "bytes": cache.nbytes(), "bytes_per_position": cache.nbytes() / max(
                1, cache.n_blocks * m["positions"]),
            "fill_seconds": m.get("fill_seconds"), "fill_flops": m.get("fill_flops"),
            "teacher": m.get("teacher_name")}  # fmt: skip
