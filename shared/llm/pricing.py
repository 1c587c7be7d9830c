"""Model metadata (context window, prices) as data, with user overrides; cost of one call.

Unknown models cost `None` ("unknown"), never 0 or -1, so totals can say so (chatdev.md §2.13,
pitfalls #9 and #12).
"""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from thunlp_repro.shared.llm.base import Usage

COST_DECIMALS = 10  # every stored cost is rounded here, so sums of records equal totals exactly


@functools.cache
def _builtin_table() -> dict[str, dict[str, Any]]:
    path = Path(__file__).with_name("models.yaml")
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def model_table(overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """The packaged table with per-model overrides merged in (override keys win)."""
    table = {k: dict(v) for k, v in _builtin_table().items()}
    for model, info in (overrides or {}).items():
        table.setdefault(model, {}).update(info or {})
    return table


def model_info(model: str, overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Metadata of `model` (empty when unknown)."""
    return model_table(overrides).get(model, {})


def call_cost(
    model: str, usage: Usage, overrides: dict[str, dict[str, Any]] | None = None
) -> float | None:
    """USD cost of one call, or None when the model's prices are unknown."""
    info = model_info(model, overrides)
    if info.get("input_per_1m") is None or info.get("output_per_1m") is None:
        return None
    cost = (
        Decimal(usage.prompt_tokens) * Decimal(str(info["input_per_1m"]))
        + Decimal(usage.completion_tokens) * Decimal(str(info["output_per_1m"]))
    ) / Decimal(1_000_000)
    return round(float(cost), COST_DECIMALS)


def sum_costs(costs: list[float | None]) -> float | None:
    """Sum of costs; None if any cost is unknown (the total is then unknown too)."""
    if any(c is None for c in costs):
        return None
    total = sum((Decimal(repr(c)) for c in costs), Decimal(0))
    return round(float(total), COST_DECIMALS)
