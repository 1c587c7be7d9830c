"""The cost model (ki.md §2.6; Kaplan-style approximation) and the per-run FLOP ledger.

For an update of B sequences of S tokens with n selected positions, non-embedding parameters N,
depth L, width d and vocabulary V:

    C_student = 6·B·S·(N_S + L_S·S·d_S) + 6·n·d_S·(V + d_S)   # fwd + bwd; head at selected only
    C_teacher = 2·B·S·(N_T + L_T·S·d_T) + 2·n·d_T·(V + d_T)   # forward only, while it runs

KI cost up to step s is Σ_{t<s} (C_student + [teacher ran at t]·C_teacher). Validation FLOPs and
the teacher's own pre-training FLOPs are reported separately, never mixed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelShape:
    """What the cost model needs of one model."""

    non_embedding: int
    layers: int
    hidden: int
    vocab: int

    @classmethod
    def of(cls, model: Any, vocab: int | None = None) -> ModelShape:
        from thunlp_repro.ki.archs import param_counts

        cfg = model.config
        return cls(
            non_embedding=param_counts(model)["non_embedding"],
            layers=int(cfg.num_hidden_layers),
            hidden=int(cfg.hidden_size),
            vocab=int(vocab if vocab is not None else cfg.vocab_size),
        )


def student_step_flops(m: ModelShape, batch: int, seq: int, n_selected: float) -> float:
    """Training FLOPs of one update of the student (forward + backward)."""
    body = 6.0 * batch * seq * (m.non_embedding + m.layers * seq * m.hidden)
    return body + 6.0 * n_selected * m.hidden * (m.vocab + m.hidden)


def teacher_step_flops(m: ModelShape, batch: int, seq: int, n_selected: float) -> float:
    """Forward FLOPs of the teacher for one update."""
    body = 2.0 * batch * seq * (m.non_embedding + m.layers * seq * m.hidden)
    return body + 2.0 * n_selected * m.hidden * (m.vocab + m.hidden)


@dataclass(frozen=True)
class FlopLedger:
    """Cumulative FLOPs of a run as a function of the step, from the schedule (resume-safe).

    `n_selected` is the expected selected count per update (rate · maskable tokens), so the
    ledger needs no per-step state; the head term it affects is a few % of the total.
    """

    student: float
    teacher: float
    teacher_steps: int | None  # updates whose teacher ran are t < teacher_steps (None: never)

    def at(self, step: int) -> dict[str, float]:
        """FLOPs after `step` updates: student, teacher, total (with teacher) and without."""
        ran = 0 if self.teacher_steps is None else min(step, self.teacher_steps)
        s, t = self.student * step, self.teacher * ran
        return {"flops_student": s, "flops_teacher": t, "flops_total": s + t}


def teacher_run_steps(schedule: Any, stop: int, alpha0: float, max_steps: int) -> int | None:
    """How many leading updates run the teacher (α_t > 0 exactly for t < this), or None."""
    if not schedule.uses_teacher:
        return None
    count = 0
    for t in range(max_steps):
        if schedule.alpha(t, stop, alpha0) > 0:
            count = t + 1
    return count
