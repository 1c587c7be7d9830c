"""Knowledge inheritance: schedules of α_t, the KI loss and the top-k KL (ki.md §2.2, §2.3, §4.8).

Loss (ki.md §2.2, the official `masked_lm_distil` criterion), at the selected positions M:

    L_t = (1 − α_t) · (1/n) Σ_{i∈M} −log softmax(z^S_i)[y_i]
          + α_t · (τ²/n) Σ_{i∈M} KL(softmax(z^T_i/τ) ‖ softmax(z^S_i/τ)),
    α_t = max(α_0 · (1 − t/T), 0)                         (schedule `linear-decay`)

with τ = 2, forward KL over the full vocabulary, teacher as target, both sides in fp32 and
log-softmax on both sides (`kl_div(..., log_target=True)`). The functions here return *sums* over
positions; the Engine divides by the update's selected-token count n (so micro-batches with
unequal counts weigh correctly, invariant 9).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from thunlp_repro.shared.registry import Registry


@dataclass(frozen=True)
class Schedule:
    """An inheritance schedule: α as a function of (t, T, α_0); `uses_teacher` is False for
    `none`, whose teacher is never built."""

    key: str
    alpha_fn: Callable[[int, int, float], float]
    needs_stop: bool
    uses_teacher: bool
    help: str

    def alpha(self, t: int, stop: int, alpha0: float = 1.0) -> float:
        """α at step t (t = completed optimizer updates, 0 at the first update)."""
        return float(self.alpha_fn(t, stop, alpha0))


SCHEDULES: Registry[Schedule] = Registry("ki.schedules")


def _add(s: Schedule) -> None:
    SCHEDULES.add(s.key, s)


_add(Schedule(
    "linear-decay", lambda t, T, a0: max(a0 * (1.0 - t / T), 0.0), True, True,
    "α_t = max(α_0 (1 − t/T), 0): inheritance stops at T [repo masked_lm_distil]",
))  # fmt: skip
_add(Schedule(
    "kd-then-mlm", lambda t, T, a0: 1.0 if t < T else 0.0, True, True,
    "pure KD before T, pure MLM from T [repo --distil_then_mlm 1]",
))  # fmt: skip
_add(Schedule(
    "constant-half", lambda t, T, a0: 0.5, False, True,
    "0.5 MLM + 0.5 KD at every step; never stops [repo masked_lm_distil_H_half]",
))  # fmt: skip
_add(Schedule(
    "kd-only", lambda t, T, a0: 1.0, False, True,
    "α ≡ 1: pure KD for the whole run (never stop inheriting) [ours]",
))  # fmt: skip
_add(Schedule(
    "none", lambda t, T, a0: 0.0, False, False,
    "α ≡ 0: the scratch baseline; the teacher is never built or run [ours]",
))  # fmt: skip


def get_schedule(key: str) -> Schedule:
    """The registered schedule `key` (RegistryKeyError with "did you mean" otherwise)."""
    return SCHEDULES.get(key)


# ------------------------------------------------------------------------------ loss terms
def mlm_nll_sum(student_logits: Any, targets: Any) -> Any:
    """Σ_i −log softmax(z^S_i)[y_i] over the given positions (fp32)."""
    import torch.nn.functional as F

    return F.cross_entropy(student_logits.float(), targets, reduction="sum")


def kd_sum(student_logits: Any, teacher_logits: Any, tau: float = 2.0) -> Any:
    """τ² Σ_i KL(p_i ‖ q_i), p = softmax(z^T/τ) (target), q = softmax(z^S/τ); fp32, full vocab.

    Logits are upcast to fp32 *before* the division by τ (ki.md §7.1, fp16 pitfall).
    """
    import torch.nn.functional as F

    log_q = F.log_softmax(student_logits.float() / tau, dim=-1)
    log_p = F.log_softmax(teacher_logits.float() / tau, dim=-1)
    return (tau**2) * F.kl_div(log_q, log_p, log_target=True, reduction="sum")


def ki_loss_sum(
    student_logits: Any,
    targets: Any,
    teacher_logits: Any | None,
    alpha: float,
    tau: float = 2.0,
) -> tuple[Any, dict[str, float]]:
    """The KI loss summed over positions: (1 − α)·Σ NLL + α·τ²·Σ KL.

    When α = 0 (or no teacher logits) it is exactly the MLM sum, bit-identical to the scratch
    loss (invariant 2). With no selected position the KD term is skipped (ki.md §2.4).

    Returns:
        (loss_sum, parts) with parts `mlm_sum`, `kd_sum` (τ²-scaled; 0 when not computed), `n`.
    """
    nll = mlm_nll_sum(student_logits, targets)
    n = int(targets.numel())
    parts = {"mlm_sum": float(nll.detach()), "kd_sum": 0.0, "n": float(n)}
    if alpha == 0.0 or teacher_logits is None or n == 0:
        return nll, parts
    kd = kd_sum(student_logits, teacher_logits, tau)
    parts["kd_sum"] = float(kd.detach())
    if alpha == 1.0:
        return kd, parts
    return (1.0 - alpha) * nll + alpha * kd, parts


# ------------------------------------------------------------------------------ top-k KL (§4.8)
def teacher_topk(teacher_logits: Any, k: int, tau: float = 2.0) -> tuple[Any, Any, Any]:
    """What the GPT arm caches per position: top-k ids, their logits, and A = logsumexp(z/τ)."""
    import torch

    z = teacher_logits.float()
    vals, ids = torch.topk(z, k, dim=-1)
    lse = torch.logsumexp(z / tau, dim=-1)
    return ids, vals, lse


def topk_kl(
    student_logits: Any, top_ids: Any, top_logits: Any, teacher_lse: Any, tau: float = 2.0
) -> tuple[Any, Any]:
    """Per-position KL_k with a tail bucket (ki.md §4.8), unscaled by τ², and the tail mass r.

    KL_k = Σ_{v∈K} p_v (log p_v − log q_v) + r (log r − log q_tail), with p from the cached
    teacher top-k logits and full-vocabulary normaliser, q the student's full softmax at τ and
    q_tail its mass outside K. Exact for k = V; ≤ the full KL for every k.
    """
    import torch

    s = student_logits.float() / tau
    log_z = torch.logsumexp(s, dim=-1, keepdim=True)
    log_q_k = s.gather(-1, top_ids) - log_z
    log_p_k = top_logits.float() / tau - teacher_lse.unsqueeze(-1)
    p_k = log_p_k.exp()
    r = (1.0 - p_k.sum(-1)).clamp(min=0.0)
    masked = s.scatter(-1, top_ids, float("-inf"))
    log_q_tail = torch.logsumexp(masked, dim=-1) - log_z.squeeze(-1)
    head = (p_k * (log_p_k - log_q_k)).sum(-1)
    has_tail = r > 1e-6  # below: rounding of Σp (k = V gives r ≈ 0 and q_tail = 0)
    safe_q = torch.where(has_tail, log_q_tail, torch.zeros_like(log_q_tail))
    tail = torch.where(has_tail, r * (torch.log(r.clamp(min=1e-30)) - safe_q), torch.zeros_like(r))
    r = torch.where(has_tail, r, torch.zeros_like(r))
    return head + tail, r


# ------------------------------------------------------------------------------ masked logits
def _heads(model: Any) -> tuple[Any, Any]:
    """(encoder body, MLM head) of a transformers model: `cls` for BERT, `lm_head` otherwise."""
    for body in ("bert", "roberta", "model"):
        if hasattr(model, body):
            enc = getattr(model, body)
            break
    else:
        raise TypeError(f"no known encoder body in {type(model).__name__}")
    for head in ("cls", "lm_head"):
        if hasattr(model, head):
            return enc, getattr(model, head)
    raise TypeError(f"no known MLM head in {type(model).__name__}")


def masked_logits(model: Any, input_ids: Any, attention_mask: Any, select: Any) -> Any:
    """Logits at the selected positions only: hidden states gathered, then the head (§7.1).

    Args:
        model: A `*ForMaskedLM` (or causal LM) from transformers.
        input_ids: [B, S] corrupted input.
        attention_mask: [B, S] or None.
        select: [B, S] bool, the selected positions.

    Returns:
        [n, V_model] logits, rows in row-major order of `select`.
    """
    enc, head = _heads(model)
    hidden = enc(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    return head(hidden[select])
