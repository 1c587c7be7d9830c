"""The `results.json` schema: build, validate, write and load result files.

Implements `conventions.md` §2.8: a result has the sections ``schema_version``, ``run_info``
(paper, experiment, table, preset, created_at, duration_s, status, command), ``config``,
``metrics`` (named numbers plus a per-eval list), ``eval_info`` (batch size, dtype, device,
n_examples, split sha256) and ``meta`` (versions, git sha and dirty flag, hardware, seeds, asset
hashes). Each registered experiment copies its run's ``results.json`` to
``results/<preset>/<paper>/<table>.json`` (§2.1), which `load_results` walks for the report.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

from thunlp_repro.shared.io import atomic_write_json, read_json

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
"""Bumped when a section's meaning changes; readers refuse newer versions."""

SECTIONS = ("schema_version", "run_info", "config", "metrics", "eval_info", "meta")
RUN_INFO_REQUIRED = ("paper", "experiment", "table", "preset")
STATUSES = ("ok", "failed", "cancelled")
SOURCE_KEY = "_source"
"""Key `load_results` adds: where the file was found (path, preset, paper, table)."""


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, tensors, paths, tuples and sets to plain JSON types.

    Args:
        obj: Any nested structure.

    Returns:
        The same structure made of dict (str keys), list, str, int, float, bool and None.
    """
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, set | frozenset):
        return sorted((to_jsonable(v) for v in obj), key=repr)
    if isinstance(obj, PurePath):
        return obj.as_posix()
    if hasattr(obj, "detach"):  # torch tensor
        obj = obj.detach().cpu()
        obj = obj.tolist() if obj.dim() else obj.item()
        return to_jsonable(obj)
    if hasattr(obj, "tolist"):  # numpy array or scalar
        return to_jsonable(obj.tolist())
    if hasattr(obj, "item"):
        return to_jsonable(obj.item())
    return str(obj)


def validate_results(results: Mapping[str, Any]) -> None:
    """Check a results dict against the schema.

    Args:
        results: A dict as built by `build_results`.

    Raises:
        ValueError: a section is missing or malformed, the schema version is newer than this
            code, a required run_info key is missing, or the status is unknown.
    """
    missing = [s for s in SECTIONS if s not in results]
    if missing:
        raise ValueError(f"results lack section(s): {', '.join(missing)}")
    version = results["schema_version"]
    if not isinstance(version, int) or version < 1 or version > SCHEMA_VERSION:
        raise ValueError(
            f"unsupported schema_version {version!r} (this code reads ≤ {SCHEMA_VERSION})"
        )
    for section in SECTIONS[1:]:
        if not isinstance(results[section], Mapping):
            raise ValueError(f"results section {section!r} must be a mapping")
    run_info = results["run_info"]
    absent = [k for k in RUN_INFO_REQUIRED if not run_info.get(k)]
    if absent:
        raise ValueError(f"run_info lacks: {', '.join(absent)}")
    if run_info.get("status") not in STATUSES:
        raise ValueError(
            f"run_info.status must be one of {STATUSES}, got {run_info.get('status')!r}"
        )
    evals = results["metrics"].get("evals", [])
    if not isinstance(evals, list):
        raise ValueError("metrics.evals must be a list")


def build_results(
    run_info: Mapping[str, Any],
    config: Mapping[str, Any],
    metrics: Mapping[str, Any],
    eval_info: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble and validate a ``results.json`` dict.

    Args:
        run_info: paper, experiment, table, preset (required); status (default "ok"),
            created_at (default now, UTC ISO 8601), duration_s, command, and anything else.
        config: The fully resolved config.
        metrics: Named numbers (e.g. ``{"accuracy": 0.81}``), plus optionally ``evals``: a list
            of per-eval dicts (``{"step": 100, "split": "dev", "accuracy": 0.7}``).
        eval_info: batch_size, dtype, device, n_examples, split_sha256, ...
        meta: versions, git sha + dirty flag, hardware, seeds, asset hashes, ...

    Returns:
        A JSON-safe dict with the sections of `SECTIONS`.

    Raises:
        ValueError: the result does not satisfy `validate_results`.
    """
    info = dict(run_info)
    info.setdefault("status", "ok")
    info.setdefault("created_at", _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat())
    results = {
        "schema_version": SCHEMA_VERSION,
        "run_info": to_jsonable(info),
        "config": to_jsonable(dict(config)),
        "metrics": to_jsonable(dict(metrics)),
        "eval_info": to_jsonable(dict(eval_info or {})),
        "meta": to_jsonable(dict(meta or {})),
    }
    validate_results(results)
    return results


def results_path(root: str | os.PathLike[str], preset: str, paper: str, table: str) -> Path:
    """Where a result file lives: ``<root>/<preset>/<paper>/<table>.json``."""
    return Path(root) / preset / paper / f"{table}.json"


def write_results(results: Mapping[str, Any], root: str | os.PathLike[str] = "results") -> Path:
    """Validate and atomically write a result to its place under ``root``.

    Args:
        results: A dict from `build_results`.
        root: The results root (default ``results``).

    Returns:
        The path written, ``<root>/<preset>/<paper>/<table>.json``.
    """
    clean = {k: v for k, v in results.items() if k != SOURCE_KEY}
    validate_results(clean)
    info = clean["run_info"]
    path = results_path(root, info["preset"], info["paper"], info["table"])
    return atomic_write_json(path, clean)


def load_results(
    root: str | os.PathLike[str] = "results",
    *,
    preset: str | None = None,
    paper: str | None = None,
) -> list[dict[str, Any]]:
    """Load every result file under ``<root>/<preset>/<paper>/`` (sorted by path).

    Files at ``<preset>/<paper>/*.json`` and deeper (e.g. ``apet/<version>/*.json``) are read;
    JSON files that are not results (no ``schema_version`` / ``run_info``, e.g. a verdicts file)
    or fail validation are skipped with a warning. Each returned dict gets a ``_source`` entry:
    ``{"path": "mini/ki/t1.json", "preset": "mini", "paper": "ki", "table": "t1"}``, taken from
    the file's location, which is what the report groups by.

    Args:
        root: The results root; a missing root gives an empty list.
        preset: Only this preset.
        paper: Only this paper.

    Returns:
        The results, sorted by their relative path.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.glob("*/*/**/*.json"), key=lambda p: p.relative_to(root).as_posix()):
        rel = path.relative_to(root)
        file_preset, file_paper = rel.parts[0], rel.parts[1]
        if file_preset.startswith(".") or any(p.startswith(".") for p in rel.parts):
            continue  # temp files of atomic writes, hidden folders
        if (preset is not None and file_preset != preset) or (
            paper is not None and file_paper != paper
        ):
            continue
        try:
            data = read_json(path)
        except (OSError, ValueError) as exc:
            logger.warning("skipping unreadable result %s: %s", path, exc)
            continue
        if not isinstance(data, dict) or "schema_version" not in data or "run_info" not in data:
            logger.debug("skipping %s: not a results file", path)
            continue
        try:
            validate_results(data)
        except ValueError as exc:
            logger.warning("skipping invalid result %s: %s", path, exc)
            continue
        data[SOURCE_KEY] = {
            "path": rel.as_posix(),
            "preset": file_preset,
            "paper": file_paper,
            "table": "/".join(rel.with_suffix("").parts[2:]),
        }
        out.append(data)
    return out


def is_variant(result: Mapping[str, Any]) -> bool:
    """A result kept beside its table's own file (`<table>--X.json`: the table rerun with
    --config/--set), rather than the preset's own `<table>.json`."""
    table = result.get("run_info", {}).get("table")
    path = result.get(SOURCE_KEY, {}).get("path", "")
    if path:
        return PurePath(path).name != f"{table}.json"
    return bool(result.get("meta", {}).get("user_settings"))


def split_variants(results: list[dict[str, Any]]) -> tuple[dict[str, dict], list[dict]]:
    """One main result per table (the preset's own file when there is one) and the variants."""
    main: dict[str, dict] = {}
    for r in sorted(results, key=is_variant):  # stable: own files first, then variants
        main.setdefault(r["run_info"]["table"], r)
    kept = {id(r) for r in main.values()}
    return main, [r for r in results if id(r) not in kept]


def flatten_scalars(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to dotted keys, keeping scalars only (numbers, bools, strings).

    Lists (e.g. ``metrics.evals``) and None are dropped.

    Args:
        tree: A nested mapping, e.g. a result's ``metrics``.
        prefix: Key prefix (used in recursion).

    Returns:
        ``{"a.b": 1.0, ...}`` with keys sorted.
    """
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_scalars(value, prefix=f"{name}."))
        elif isinstance(value, bool | int | float | str):
            flat[name] = value
    return dict(sorted(flat.items()))


def scalar_metrics(result: Mapping[str, Any]) -> dict[str, Any]:
    """A result's ``metrics`` flattened to dotted keys, numbers and strings only (no NaN filter).

    Args:
        result: A results dict.

    Returns:
        Sorted ``{"accuracy": 0.81, "ppl.news": 12.3, ...}``.
    """
    return flatten_scalars(result.get("metrics", {}))


def is_finite_number(x: Any) -> bool:
    """True for int/float values (not bool) that are finite."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
