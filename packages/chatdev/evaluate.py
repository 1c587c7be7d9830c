"""Evaluate project folders: the paper's four metrics in the `compatible` and `strict` variants.

`evaluate_project(path)` scores one folder (one of ours, a repo ``WareHouse`` folder, or any
folder of code) and returns a record with both variants' Completeness, Executability,
Consistency and Quality (= c·e·s per project) plus the details that explain every 0 (placeholder
places, verdicts, the task source used). `aggregate(records, variant)` averages them: means with
95% intervals (Wilson for the binary metrics, percentile bootstrap for consistency and quality),
and Quality both as the product of the means (Table 1's convention) and as the mean of the
per-project products (Table 4's \\CDH and \\Roles rows fit neither exactly).

Task text: `strict` reads the project's metadata (``task.prompt``, else ``meta.json``'s ``task``,
else a single ``<name>.prompt`` file, the repo's layout); a folder without any is a clear
`EvalError`, as is unreadable metadata.

Reproduces: ChatDev §4 / Table 1 (metric definitions), chatdev.md §2.16, §6 (T1, T8).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thunlp_repro.shared.errors import UsageError

logger = logging.getLogger(__name__)

VARIANTS = ("compatible", "strict")
METRICS = ("completeness", "executability", "consistency", "quality")


class EvalError(UsageError):
    """A folder cannot be evaluated (missing or malformed metadata); the message says why."""


@dataclass
class ProjectView:
    """What the metrics read from one folder."""

    path: Path
    code_dir: Path
    task: str | None
    task_source: str | None
    entry: str | None = None
    language: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    layout: str = "chatdev"


def open_project(path: str | Path) -> ProjectView:
    """Find the code, task text, entry point and language of a folder.

    Raises:
        EvalError: not a folder; `meta.json` unreadable or not an object; `task` not text;
            several `.prompt` files.
    """
    path = Path(path)
    if not path.is_dir():
        raise EvalError(f"{path}: not a folder")
    meta: dict[str, Any] = {}
    meta_file = path / "meta.json"
    if meta_file.exists():
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise EvalError(f"{path}: bad metadata: meta.json is not valid JSON ({exc})") from None
        if not isinstance(meta, dict):
            raise EvalError(f"{path}: bad metadata: meta.json holds a {type(meta).__name__}, "
                            "not an object")  # fmt: skip
        if meta.get("task") is not None and not isinstance(meta["task"], str):
            raise EvalError(f"{path}: bad metadata: meta.json 'task' is not text")
    ours = meta_file.exists() or (path / "task.prompt").exists() or (path / "code").is_dir()
    code_dir = path / "code" if ours else path
    task, source = None, None
    prompt = path / "task.prompt"
    if prompt.is_file() and prompt.read_text(encoding="utf-8", errors="replace").strip():
        task, source = prompt.read_text(encoding="utf-8", errors="replace").strip(), "task.prompt"
    elif isinstance(meta.get("task"), str) and meta["task"].strip():
        task, source = meta["task"].strip(), "meta.json:task"
    else:
        prompts = sorted(p for p in path.glob("*.prompt") if p.is_file())
        if len(prompts) > 1:
            raise EvalError(f"{path}: several .prompt files ({', '.join(p.name for p in prompts)});"
                            " cannot tell which holds the task")  # fmt: skip
        if prompts:
            task, source = (
                prompts[0].read_text(encoding="utf-8", errors="replace").strip(),
                (prompts[0].name),
            )
    entry = meta.get("entry_point") if isinstance(meta.get("entry_point"), str) else None
    language = meta.get("language") if isinstance(meta.get("language"), str) else None
    if language:
        from thunlp_repro.chatdev.codebook import normalise_language

        language = normalise_language(language)
    return ProjectView(path, code_dir, task, source, entry, language, meta,
                       "chatdev" if ours else "plain")  # fmt: skip


def _quality(parts: dict[str, Any]) -> float | None:
    values = [parts["completeness"], parts["executability"], parts["consistency"]]
    return None if any(v is None for v in values) else float(math.prod(values))


def evaluate_project(
    path: str | Path,
    *,
    embedder: Any,
    variants: tuple[str, ...] = VARIANTS,
    sandbox: Any = None,
    task: str | None = None,
) -> dict[str, Any]:
    """Score one folder in the requested variants.

    Args:
        path: The folder.
        embedder: From `embedders.build_embedder`.
        variants: Any of "compatible", "strict".
        sandbox: `SandboxSettings` for the strict run (default: 10 s timeout).
        task: Task text overriding the metadata (strict only).

    Returns:
        ``{"project", "name", "task_id", "category", "status", "embedder", "compatible": {...},
        "strict": {...}}``; each variant holds the four metric values and ``details``.

    Raises:
        EvalError: unreadable metadata, or no task text for `strict`.
    """
    from thunlp_repro.chatdev import (
        metrics_completeness as mc,
    )
    from thunlp_repro.chatdev import (
        metrics_consistency as ms,
    )
    from thunlp_repro.chatdev import (
        metrics_executability as me,
    )

    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise UsageError(f"unknown metric variant(s) {', '.join(unknown)} (compatible | strict)")
    view = open_project(path)
    if task is not None:
        view.task, view.task_source = task, "given"
    meta = view.meta
    record: dict[str, Any] = {
        "project": str(view.path),
        "name": meta.get("name") or view.path.name,
        "task_id": meta.get("task_id"),
        "category": meta.get("category"),
        "status": meta.get("status"),
        "layout": view.layout,
        "embedder": getattr(embedder, "name", str(embedder)),
    }
    if "compatible" in variants:
        comp = mc.compat_completeness(view.path)
        exe = me.compat_executability(view.path)
        con = ms.compat_consistency(view.path, embedder)
        parts = {"completeness": comp["value"], "executability": exe["value"],
                 "consistency": con["value"]}  # fmt: skip
        record["compatible"] = {**parts, "quality": _quality(parts),
                                "details": {"completeness": comp, "executability": exe,
                                            "consistency": con}}  # fmt: skip
    if "strict" in variants:
        if not view.task:
            raise EvalError(f"{view.path}: no task text for the strict variant: expected "
                            "task.prompt, meta.json 'task' or one <name>.prompt file")  # fmt: skip
        comp = mc.strict_completeness(view.code_dir)
        exe = me.strict_executability(view.code_dir, view.entry, view.language, sandbox)
        con = ms.strict_consistency(view.code_dir, view.task, embedder)
        con["task_source"] = view.task_source
        parts = {"completeness": comp["value"], "executability": exe["value"],
                 "consistency": con["value"]}  # fmt: skip
        record["strict"] = {**parts, "quality": _quality(parts),
                            "details": {"completeness": comp, "executability": exe,
                                        "consistency": con}}  # fmt: skip
    return record


# ------------------------------------------------------------------------------ aggregation
def wilson(successes: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion (95% by default); (nan, nan) for n = 0."""
    if n == 0:
        return math.nan, math.nan
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def aggregate(records: list[dict[str, Any]], variant: str) -> dict[str, Any]:
    """Means, 95% intervals and both Quality conventions over the records of one variant.

    Records without the variant (or with an ``error``) are left out; a `None` consistency (the
    compatible rule found no task file) is left out of the consistency mean only.
    """
    from thunlp_repro.shared.metrics import bootstrap_ci

    rows = [r[variant] for r in records if isinstance(r.get(variant), dict)]
    out: dict[str, Any] = {"variant": variant, "n": len(rows)}
    means: dict[str, float | None] = {}
    for metric in ("completeness", "executability", "consistency"):
        vals = [float(r[metric]) for r in rows if r.get(metric) is not None]
        mean = sum(vals) / len(vals) if vals else None
        means[metric] = mean
        if not vals:
            ci: tuple[float | None, float | None] = (None, None)
        elif metric == "consistency":
            ci = bootstrap_ci(vals) if len(vals) > 1 else (mean, mean)
        else:
            ci = wilson(sum(vals), len(vals))
        out[metric] = {"mean": mean, "ci95": [_num(ci[0]), _num(ci[1])], "n": len(vals)}
    products = [float(r["quality"]) for r in rows if r.get("quality") is not None]
    mop = sum(products) / len(products) if products else None
    ci = bootstrap_ci(products) if len(products) > 1 else (mop, mop)
    values = list(means.values())
    out["quality_product_of_means"] = (
        None if any(v is None for v in values) else float(math.prod(values))  # type: ignore[arg-type]
    )
    out["quality_mean_of_products"] = {"mean": mop, "ci95": [_num(ci[0]), _num(ci[1])],
                                       "n": len(products)}  # fmt: skip
    return out


def _num(x: float | None) -> float | None:
    return None if x is None or math.isnan(float(x)) else float(x)


def flaw_audit(records: list[dict[str, Any]]) -> dict[str, int]:
    """Count projects whose score differs between the variants, by reason (report T8)."""
    counts: dict[str, int] = {}

    def bump(reason: str) -> None:
        counts[reason] = counts.get(reason, 0) + 1

    for r in records:
        c, s = r.get("compatible"), r.get("strict")
        if not (isinstance(c, dict) and isinstance(s, dict)):
            continue
        if c["completeness"] == 0 and s["completeness"] == 1:
            bump("completeness: substring false positive (pass/todo in names or text)")
        elif c["completeness"] == 1 and s["completeness"] == 0:
            empty = s["details"]["completeness"].get("n_source_files") == 0
            bump("completeness: empty project counted complete" if empty
                 else "completeness: placeholder the substring rule misses")  # fmt: skip
        if c["executability"] == 1 and s["executability"] == 0:
            verdict = s["details"]["executability"]["verdict"]
            reason = {
                "no_entry": "executability: missing entry counted runnable",
                "no_display": "executability: GUI without display (both fail: harness)",
            }.get(verdict, f"executability: counted runnable by the 3 s traceback rule ({verdict})")
            bump(reason)
        elif c["executability"] == 0 and s["executability"] == 1:
            bump("executability: traceback at 3 s but strict verdict passes")
        src = c["details"]["consistency"].get("task_source")
        if src not in (None, "task.prompt") and s["details"]["consistency"].get("task_source"):
            bump(f"consistency: task read from {Path(src).name} instead of the task")
    return dict(sorted(counts.items()))


def summarise_verdicts(records: list[dict[str, Any]]) -> dict[str, int]:
    """Strict verdict distribution (ok, alive, crash, no_entry, no_display, ...)."""
    out: dict[str, int] = {}
    for r in records:
        s = r.get("strict")
        if isinstance(s, dict):
            v = s["details"]["executability"]["verdict"]
            out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))
