"""SRDD, ChatDev's task set: find the CSV, read and validate it, fingerprint it, pick subsets.

Reproduces: offline-assets.md §6 (SRDD is read from a path: ``--srdd PATH``, else ``SRDD_PATH``,
else ``../shared/data/srdd/srdd.csv`` beside the checkout, else an error naming the three options;
the public file's URL is allowed when given explicitly; never copied into the repository) and
chatdev.md §2.17 (columns ``Name,Description,Category``; names and (category, name) pairs are not
unique, descriptions are; task id ``<Category>__<Name>__<first 8 hex of sha1(Description)>``; the
CSV's sha256 and row count go into every result; deterministic sampling with a seed).

Usage::

    from thunlp_repro.shared.srdd import load_srdd, select, srdd_info
    tasks = select(load_srdd(args.srdd), per_category=1, seed=0)  # one task per category
    info = srdd_info(args.srdd)  # {"path", "sha256", "rows", "categories"}

Nothing here imports torch or transformers; downloads use `urllib` only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.io import atomic_write_bytes
from thunlp_repro.shared.paths import home

ENV_VAR = "SRDD_PATH"
#: Relative to the current directory and to the repository root (the checkout's parent holds it).
DEFAULT_RELATIVE = Path("..") / "shared" / "data" / "srdd" / "srdd.csv"
#: The public source (ChatDev's repository, 1,200 rows); only read when given explicitly.
PUBLIC_URL = (
    "https://raw.githubusercontent.com/OpenBMB/ChatDev/main/SRDD/data/data_attribute_format.csv"
)
COLUMNS = ("Name", "Description", "Category")
_REPO_ROOT = Path(__file__).resolve().parents[1]
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class SrddError(UsageError):
    """SRDD cannot be found or read (exit code 2); the message says how to fix it."""


@dataclass(frozen=True)
class SrddTask:
    """One SRDD task.

    Attributes:
        task_id: ``<Category>__<Name>__<sha1(Description)[:8]>`` (chatdev.md §2.17), with any
            character outside ``[A-Za-z0-9._-]`` replaced by ``-`` so it is a safe folder name.
        name: The short software name.
        description: The one-paragraph requirement (the task prompt).
        category: One of SRDD's categories.
        row: 0-based data row in the CSV (header excluded).
    """

    task_id: str
    name: str
    description: str
    category: str
    row: int


def is_url(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is an http(s) URL."""
    return str(path).lower().startswith(("http://", "https://"))


def _candidates() -> list[Path]:
    out: list[Path] = []
    for base in (Path.cwd(), _REPO_ROOT):
        p = (base / DEFAULT_RELATIVE).resolve()
        if p not in out:
            out.append(p)
    return out


def resolve_srdd_path(path: str | os.PathLike[str] | None = None) -> Path | str:
    """Where SRDD is read from.

    Order: the explicit `path` (``--srdd``) > ``$SRDD_PATH`` > ``../shared/data/srdd/srdd.csv``
    relative to the current directory, then to the repository root > an error. An explicit path or
    ``SRDD_PATH`` may be an http(s) URL, returned as a string (`load_srdd` downloads it).

    Args:
        path: The ``--srdd`` value, or None.

    Returns:
        An existing file's `Path`, or a URL string.

    Raises:
        SrddError: an explicit path or ``SRDD_PATH`` that does not exist, or nothing found.
    """
    for value, origin in ((path, "--srdd"), (os.environ.get(ENV_VAR) or None, ENV_VAR)):
        if value is None:
            continue
        if is_url(value):
            return str(value)
        p = Path(value).expanduser()
        if not p.is_file():
            raise SrddError(f"SRDD file given by {origin} does not exist: {p}")
        return p
    for p in _candidates():
        if p.is_file():
            return p
    looked = ", ".join(str(p) for p in _candidates())
    raise SrddError(
        "SRDD task set not found. Give it one of three ways: (1) --srdd PATH (a CSV with columns "
        f"Name,Description,Category, or its URL, e.g. {PUBLIC_URL}); (2) the environment "
        f"variable {ENV_VAR}=PATH; (3) a file at ../shared/data/srdd/srdd.csv beside the "
        f"checkout (looked in: {looked})."
    )


def _download(url: str, timeout: float = 60.0) -> Path:
    """Fetch `url` once into ``home()/srdd/<sha256(url)[:16]>.csv`` (atomic) and return the file."""
    target = home() / "srdd" / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}.csv"
    if target.is_file():
        return target
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            data = resp.read()
    except OSError as exc:
        raise SrddError(f"could not download SRDD from {url}: {exc}") from exc
    atomic_write_bytes(target, data)
    return target


def _local(path: str | os.PathLike[str] | None) -> Path:
    where = resolve_srdd_path(path)
    return _download(where) if isinstance(where, str) else where


def _slug(text: str) -> str:
    return _UNSAFE.sub("-", text.strip()).strip("-") or "x"


def task_id(name: str, description: str, category: str) -> str:
    """``<Category>__<Name>__<first 8 hex of sha1(Description)>``, folder-safe (chatdev.md §2.17).

    Args:
        name: The task's Name.
        description: Its Description.
        category: Its Category.
    """
    digest = hashlib.sha1(description.encode("utf-8")).hexdigest()[:8]
    return f"{_slug(category)}__{_slug(name)}__{digest}"


def parse_srdd(text: str, source: str = "<text>") -> list[SrddTask]:
    """Parse SRDD CSV text.

    Args:
        text: The CSV content (a UTF-8 BOM is allowed; extra columns are ignored).
        source: Shown in error messages.

    Returns:
        The tasks in file order. An id that repeats (an exact duplicate row) gets ``-2``, ``-3``.

    Raises:
        SrddError: missing columns (the message names them and the columns found), or a row with
            an empty name, description or category.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    found = [(h or "").strip() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in found]
    if missing:
        raise SrddError(
            f"{source}: SRDD CSV lacks column(s) {', '.join(missing)}; expected "
            f"{','.join(COLUMNS)}, found {','.join(found) or '(no header)'}"
        )
    reader.fieldnames = found
    tasks: list[SrddTask] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(reader):
        name, desc, cat = (" ".join((row.get(c) or "").split()) for c in COLUMNS)
        if not (name and desc and cat):
            raise SrddError(f"{source}: row {i + 2} has an empty Name, Description or Category")
        tid = task_id(name, desc, cat)
        seen[tid] = seen.get(tid, 0) + 1
        if seen[tid] > 1:
            tid = f"{tid}-{seen[tid]}"
        tasks.append(SrddTask(tid, name, desc, cat, i))
    return tasks


def load_srdd(path: str | os.PathLike[str] | None = None) -> list[SrddTask]:
    """Read SRDD from `path` (or the fallbacks of `resolve_srdd_path`).

    Args:
        path: The ``--srdd`` value: a CSV path, an http(s) URL, or None.

    Returns:
        The tasks in file order.

    Raises:
        SrddError: not found, not downloadable, or malformed.
    """
    file = _local(path)
    return parse_srdd(file.read_text(encoding="utf-8-sig"), str(file))


def srdd_info(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """What every ChatDev result records about its task set.

    Returns:
        ``{"path", "sha256" (of the file's bytes), "rows", "categories" ({category: rows},
        sorted)}``.
    """
    file = _local(path)
    tasks = parse_srdd(file.read_text(encoding="utf-8-sig"), str(file))
    cats: dict[str, int] = {}
    for t in tasks:
        cats[t.category] = cats.get(t.category, 0) + 1
    return {
        "path": str(file),
        "sha256": hashlib.sha256(file.read_bytes()).hexdigest(),
        "rows": len(tasks),
        "categories": dict(sorted(cats.items())),
    }


def _rank(seed: int, t: SrddTask) -> str:
    return hashlib.sha256(f"srdd|{seed}|{t.task_id}".encode()).hexdigest()


def select(
    tasks: Sequence[SrddTask],
    limit: int | None = None,
    per_category: int | None = None,
    seed: int = 0,
    *,
    categories: Iterable[str] | None = None,
    ids: Iterable[str] | None = None,
) -> list[SrddTask]:
    """A deterministic, category-stratified subset (chatdev.md §2.17 --limit / --per-category).

    Within each category, tasks are ordered by a seeded hash of their id. `per_category` keeps the
    first K of each; `limit` then takes tasks round-robin over the categories (rank 1 of every
    category before any rank 2; categories in seeded order), so ``limit=40`` on full SRDD gives one
    task per category. The result keeps the input order. The same seed and file give the same
    subset on every platform.

    Args:
        tasks: From `load_srdd`.
        limit: At most this many tasks in all.
        per_category: At most this many tasks per category.
        seed: Sampling seed.
        categories: Keep only these categories (``--categories``); unknown names are an error.
        ids: Keep only these task ids or names (``--tasks FILE``); unknown ones are an error.

    Returns:
        The selected tasks.

    Raises:
        SrddError: a negative count, or unknown categories or ids.
    """
    if (limit is not None and limit < 0) or (per_category is not None and per_category < 0):
        raise SrddError("--limit and --per-category must be >= 0")
    pool = list(tasks)
    if categories is not None:
        wanted = list(categories)
        unknown = sorted(set(wanted) - {t.category for t in pool})
        if unknown:
            raise SrddError(f"unknown SRDD categories: {', '.join(unknown)}")
        pool = [t for t in pool if t.category in set(wanted)]
    if ids is not None:
        wanted = list(ids)
        unknown = sorted(set(wanted) - {t.task_id for t in pool} - {t.name for t in pool})
        if unknown:
            raise SrddError(f"unknown SRDD task ids or names: {', '.join(unknown)}")
        pool = [t for t in pool if t.task_id in set(wanted) or t.name in set(wanted)]
    by_cat: dict[str, list[SrddTask]] = {}
    for t in pool:
        by_cat.setdefault(t.category, []).append(t)
    for cat in by_cat:
        by_cat[cat].sort(key=lambda t: _rank(seed, t))
        if per_category is not None:
            by_cat[cat] = by_cat[cat][:per_category]
    cat_key = {c: hashlib.sha256(f"srdd-cat|{seed}|{c}".encode()).hexdigest() for c in by_cat}
    pos = {t.task_id: (i, cat_key[c]) for c, ts in by_cat.items() for i, t in enumerate(ts)}
    ranked = sorted((t for ts in by_cat.values() for t in ts), key=lambda t: pos[t.task_id])
    chosen = {t.task_id for t in (ranked if limit is None else ranked[:limit])}
    return [t for t in pool if t.task_id in chosen]
