"""Choosing k for the cached top-k KL (ki.md §4.8 "Choosing k", acceptance M17).

On a few held-out sequences, with the live teacher and a student (fresh or a checkpoint), measure
for each k the mean tail mass r = 1 − Σ_{v∈K} p_v and the ratio Σ KL_k / Σ KL_full over all
next-token positions, where KL_k is the (k + 1)-bucket KL that training uses (`topk_kl`) and
KL_full the exact full-vocabulary KL. The teacher's top-k logits are rounded to fp16 as in the
cache (`ratio`); `ratio_fp32` is the same without that rounding. The recommended k is the
smallest whose ratio is ≥ 0.9 at every checked student.
"""

from __future__ import annotations

from typing import Any

RATIO_BOUND = 0.9


def full_kl_per_position(student_logits: Any, teacher_logits: Any, tau: float) -> Any:
    """KL(softmax(z^T/τ) ‖ softmax(z^S/τ)) per row, fp32, unscaled by τ²."""
    import torch.nn.functional as F

    log_q = F.log_softmax(student_logits.float() / tau, dim=-1)
    log_p = F.log_softmax(teacher_logits.float() / tau, dim=-1)
    return F.kl_div(log_q, log_p, log_target=True, reduction="none").sum(-1)


def teacher_logits(teacher: Any, blocks: Any, vocab: int) -> Any:
    """The teacher's next-token logits on `blocks`, [n·(S−1), vocab] fp32 (computed once, reused
    for every checked student)."""
    import torch

    dev = next(teacher.parameters()).device
    with torch.no_grad():
        z = teacher(input_ids=blocks.to(dev)).logits[:, :-1, :vocab]
    return z.reshape(-1, vocab).float()


def topk_calibration(
    student: Any,
    teacher: Any,
    blocks: Any,
    ks: list[int],
    tau: float,
    vocab: int,
    t_logits: Any | None = None,
) -> dict[str, Any]:
    """Tail mass and KL_k / KL_full for each k on `blocks` ([n, S] token ids).

    Args:
        student: A causal LM (its logits are sliced to `vocab`).
        teacher: The causal teacher.
        blocks: Held-out sequences.
        ks: The k values (each capped at `vocab`).
        tau: τ.
        vocab: len(tokenizer).
        t_logits: `teacher_logits(teacher, blocks, vocab)` when already computed.

    Returns:
        {"positions", "kl_full_mean", "rows": [{k, k_used, tail_mass, tail_mass_max, kl_k_mean,
        ratio, ratio_fp32}]}.
    """
    import torch

    from thunlp_repro.ki.inheritance import teacher_topk, topk_kl

    t = t_logits if t_logits is not None else teacher_logits(teacher, blocks, vocab)
    student = student.to(t.device).eval()
    with torch.no_grad():
        s = student(input_ids=blocks.to(t.device)).logits[:, :-1, :vocab]
        s = s.reshape(-1, vocab).float()
        full = full_kl_per_position(s, t, tau)
        rows = []
        for k in ks:
            k_used = min(int(k), vocab)
            top_ids, vals, lse = teacher_topk(t, k_used, tau)
            kl16, r16 = topk_kl(s, top_ids, vals.half().float(), lse, tau)  # as cached
            kl32, _ = topk_kl(s, top_ids, vals, lse, tau)
            rows.append({
                "k": int(k), "k_used": k_used, "tail_mass": float(r16.mean()),
                "tail_mass_max": float(r16.max()), "kl_k_mean": float(kl16.mean()),
                "ratio": _ratio(kl16, full), "ratio_fp32": _ratio(kl32, full),
            })  # fmt: skip
    return {"positions": int(s.shape[0]), "kl_full_mean": float(full.mean()), "rows": rows}


def _ratio(part: Any, full: Any) -> float:
    total = float(full.sum())
    return float(part.sum()) / total if total > 0 else 1.0


def choose_k(checks: list[dict[str, Any]], bound: float = RATIO_BOUND) -> int | None:
    """The smallest k whose ratio is ≥ `bound` in every check (None if no k qualifies)."""
    if not checks:
        return None
    ks = sorted({row["k"] for row in checks[0]["rows"]})
    for k in ks:
        if all(next(r for r in c["rows"] if r["k"] == k)["ratio"] >= bound for c in checks):
            return k
    return None


def ratio_at(check: dict[str, Any], k: int) -> float | None:
    """The ratio a check measured at k (None when k was not checked)."""
    row = next((r for r in check["rows"] if r["k"] == k), None)
    return None if row is None else row["ratio"]
