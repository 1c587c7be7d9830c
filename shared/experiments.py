"""Registered experiments `<paper>/<table-id>`: what `reproduce-all` and the Make targets run.

Each experiment writes one small JSON, `results/<preset>/<paper>/<table>.json`, which is its Make
target: a rerun skips experiments whose result exists unless `--overwrite` is given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thunlp_repro.shared.registry import Registry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Experiment:
    """One table or figure of a paper (or the reference pipeline).

    `run(preset, results_file, overwrite)` runs it and writes `results_file` atomically.
    """

    paper: str
    table: str
    description: str
    run: Callable[[str, Path, bool], None]

    @property
    def key(self) -> str:
        return f"{self.paper}/{self.table}"


EXPERIMENTS: Registry[Experiment] = Registry("experiment")


def register_experiment(exp: Experiment) -> Experiment:
    """Add an experiment under `<paper>/<table>`."""
    EXPERIMENTS.add(exp.key, exp)
    return exp


def results_file(preset: str, paper: str, table: str, root: Path = Path("results")) -> Path:
    """Where an experiment's result JSON lives."""
    return Path(root) / preset / paper / f"{table}.json"


def select(papers: list[str] | None = None) -> list[Experiment]:
    """Registered experiments, optionally only those of some papers, in key order."""
    exps = [EXPERIMENTS.get(k) for k in EXPERIMENTS.keys()]
    if papers:
        known = sorted({e.paper for e in exps})
        unknown = [p for p in papers if p not in known]
        if unknown:
            from thunlp_repro.shared.errors import UsageError

            raise UsageError(f"no experiments for paper(s) {', '.join(unknown)}; "
                             f"known: {', '.join(known)}")  # fmt: skip
        exps = [e for e in exps if e.paper in papers]
    return exps


def reproduce(
    preset: str,
    papers: list[str] | None = None,
    *,
    overwrite: bool = False,
    root: Path = Path("results"),
) -> list[tuple[str, str]]:
    """Run every selected experiment whose result is missing; returns (key, status) pairs."""
    done: list[tuple[str, str]] = []
    for exp in select(papers):
        target = results_file(preset, exp.paper, exp.table, root)
        if target.is_file() and not overwrite:
            logger.info("%s: %s exists, skipped (use --overwrite to rerun)", exp.key, target)
            done.append((exp.key, "skipped"))
            continue
        logger.info("%s: running (%s preset) -> %s", exp.key, preset, target)
        exp.run(preset, target, overwrite)
        done.append((exp.key, "ran"))
    return done
