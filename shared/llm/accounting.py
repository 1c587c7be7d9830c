"""Token/cost totals derived from transcript records, and budget caps that stop a run cleanly.

One source of truth: every total (per phase, per role, per project) is a sum over the per-call
records, so the numbers always add up (chatdev.md §2.13 "Accounting", pitfall #12 / issue #351).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from thunlp_repro.shared.errors import ReproError
from thunlp_repro.shared.llm.pricing import sum_costs


class BudgetExceeded(ReproError):
    """A budget cap was reached before a call; the caller stops and keeps what it made."""

    exit_code = 1


def totals(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Calls, tokens and USD summed over transcript records."""
    records = list(records)
    usage = [r.get("usage") or {} for r in records]
    return {
        "llm_calls": len(records),
        "prompt_tokens": sum(int(u.get("prompt_tokens", 0)) for u in usage),
        "completion_tokens": sum(int(u.get("completion_tokens", 0)) for u in usage),
        "total_tokens": sum(int(u.get("total_tokens", 0)) for u in usage),
        "cost_usd": sum_costs([r.get("cost_usd") for r in records]),
        "estimated_usage_calls": sum(1 for r in records if r.get("usage_source") == "estimated"),
    }


def totals_by(records: Iterable[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """`totals` grouped by a record field (e.g. "phase" or "speaker")."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(str(record.get(key)), []).append(record)
    return {name: totals(group) for name, group in sorted(groups.items())}


@dataclass
class Budget:
    """Per-project caps, checked before each call. None = no cap."""

    max_usd: float | None = None
    max_total_tokens: int | None = None
    max_llm_calls: int | None = None
    max_wall_s: float | None = None
    started: float = field(default_factory=time.monotonic)

    def check(self, records: list[dict[str, Any]]) -> None:
        """Raise BudgetExceeded if the records already reach a cap.

        Raises:
            BudgetExceeded: names the cap and the amount used.
        """
        used = totals(records)
        if self.max_llm_calls is not None and used["llm_calls"] >= self.max_llm_calls:
            raise BudgetExceeded(f"budget: {used['llm_calls']} LLM calls >= max_llm_calls "
                                 f"{self.max_llm_calls}")  # fmt: skip
        if self.max_total_tokens is not None and used["total_tokens"] >= self.max_total_tokens:
            raise BudgetExceeded(
                f"budget: {used['total_tokens']} tokens >= max_total_tokens {self.max_total_tokens}"
            )
        if self.max_usd is not None and (used["cost_usd"] or 0.0) >= self.max_usd:
            raise BudgetExceeded(f"budget: ${used['cost_usd']} >= max_usd ${self.max_usd}")
        elapsed = time.monotonic() - self.started
        if self.max_wall_s is not None and elapsed >= self.max_wall_s:
            raise BudgetExceeded(f"budget: {elapsed:.0f} s wall >= max_wall_s {self.max_wall_s}")
