"""Registered experiments `<paper>/<table-id>` and what `reproduce-all` runs, as a small DAG.

Each experiment writes one small JSON, `results/<preset>/<paper>/<table>.json`, which is its Make
target: a rerun skips experiments whose result exists unless `--overwrite` is given.

Profiles (conventions.md §2.11; the reproduce-all issue):

- `quick`: each paper's headline experiments retrained at a reduced size with the pipelines'
  `quick` presets into `results/quick/` (never the committed records);
- `full`: the committed `mini` study (`results/mini/`), opt-in;
- `paper`: the paper presets (GPUs and hub access).

An experiment declares what it needs (`needs`: other experiments or `Prerequisite`s such as a
restored MLM head or the KI zoo); `plan` orders the selected nodes and their needs
topologically and marks finished ones as skipped; `execute` runs the rest in that order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.registry import Registry

logger = logging.getLogger(__name__)

PROFILES = {"quick": "quick", "full": "mini", "paper": "paper"}
"""Profile -> the preset its experiments run with (and the results folder they write)."""

CACHED_FRACTION = 0.1
"""A node done in under this fraction of its estimate found its runs cached (content-addressed
run folders): it says nothing about the machine's pace, so the ETA leaves it out."""


@dataclass(frozen=True)
class Experiment:
    """One table or figure of a paper (or the reference pipeline).

    `run(preset, results_file, overwrite)` runs it and writes `results_file` atomically (an
    experiment that cannot run here, e.g. a missing optional model, logs why and writes nothing).

    Args:
        needs: Keys of experiments or prerequisites that must be done first.
        profile_needs: More needs in one profile only (`full`'s record may need an asset that
            `quick` does without).
        profiles: Profiles that include it (`quick` only for headline experiments).
        minutes: Estimated minutes on 2 CPU cores per profile (dry-run plan, ETA).
        paper_plan: Builds the experiment's paper-scale `shared.dryrun.DryRunPlan` (models,
            data, runs, steps, tokens, estimated GPU hours or API cost); the `paper` profile's
            plan shows its estimate instead of CPU minutes.
    """

    paper: str
    table: str
    description: str
    run: Callable[[str, Path, bool], None]
    needs: tuple[str, ...] = ()
    profile_needs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    profiles: tuple[str, ...] = ("full", "paper")
    minutes: dict[str, float] = field(default_factory=dict)
    paper_plan: Callable[[], Any] | None = None

    @property
    def key(self) -> str:
        return f"{self.paper}/{self.table}"


@dataclass(frozen=True)
class Prerequisite:
    """A shared artefact experiments need (a derived asset, the KI zoo): built once, reused."""

    key: str
    description: str
    is_done: Callable[[], bool]
    build: Callable[[], None]
    minutes: float = 1.0


EXPERIMENTS: Registry[Experiment] = Registry("experiment")
PREREQUISITES: Registry[Prerequisite] = Registry("prerequisite")


def register_experiment(exp: Experiment) -> Experiment:
    """Add an experiment under `<paper>/<table>`."""
    EXPERIMENTS.add(exp.key, exp)
    return exp


def register_prerequisite(req: Prerequisite) -> Prerequisite:
    """Add a prerequisite under its key (no-op when already registered)."""
    if req.key not in PREREQUISITES:
        PREREQUISITES.add(req.key, req)
    return req


def results_file(preset: str, paper: str, table: str, root: Path = Path("results")) -> Path:
    """Where an experiment's result JSON lives."""
    return Path(root) / preset / paper / f"{table}.json"


def select(
    papers: list[str] | None = None, only: list[str] | None = None, profile: str | None = None
) -> list[Experiment]:
    """Registered experiments of some papers / keys / a profile, in key order."""
    exps = [EXPERIMENTS.get(k) for k in EXPERIMENTS.keys()]
    if papers:
        known = sorted({e.paper for e in exps})
        unknown = [p for p in papers if p not in known]
        if unknown:
            raise UsageError(f"no experiments for paper(s) {', '.join(unknown)}; "
                             f"known: {', '.join(known)}")  # fmt: skip
        exps = [e for e in exps if e.paper in papers]
    if only:
        keys = {e.key for e in exps}
        unknown = [k for k in only if k not in keys]
        if unknown:
            raise UsageError(f"unknown experiment(s) {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(keys))}")  # fmt: skip
        exps = [e for e in exps if e.key in only]
    if profile is not None:
        exps = [e for e in exps if profile in e.profiles]
    return exps


@dataclass
class Node:
    """One step of a plan: an experiment or a prerequisite, and whether it will run."""

    key: str
    kind: str  # experiment | prerequisite
    minutes: float
    action: str  # run | skip
    why: str
    target: Path | None = None
    estimate: str = ""  # paper profile: the node's GPU-hour / API-cost estimate
    gpu_hours: float | None = None
    api_usd: float | None = None


def _order(selected: Iterable[str], profile: str) -> list[str]:
    """`selected` and everything they need in `profile`, needs first (depth-first, cycles are
    errors)."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(key: str, path: tuple[str, ...]) -> None:
        if state.get(key) == "done":
            return
        if state.get(key) == "open":
            raise UsageError(f"experiment needs form a cycle: {' -> '.join((*path, key))}")
        state[key] = "open"
        if key in EXPERIMENTS:
            exp = EXPERIMENTS.get(key)
            needs = (*exp.needs, *exp.profile_needs.get(profile, ()))
        elif key in PREREQUISITES:
            needs = ()
        else:
            raise UsageError(f"'{path[-1] if path else key}' needs '{key}', which is neither a "
                             "registered experiment nor a prerequisite")  # fmt: skip
        for need in needs:
            visit(need, (*path, key))
        state[key] = "done"
        order.append(key)

    for key in selected:
        visit(key, ())
    return order


def plan(
    profile: str = "quick",
    papers: list[str] | None = None,
    only: list[str] | None = None,
    *,
    overwrite: bool = False,
    root: Path = Path("results"),
) -> list[Node]:
    """The nodes `execute` would run for a profile, in dependency order, with skip reasons."""
    if profile not in PROFILES:
        raise UsageError(f"unknown profile '{profile}'; choose {', '.join(PROFILES)}")
    preset = PROFILES[profile]
    chosen = select(papers, only, None if only else profile)
    if only:
        outside = [e.key for e in chosen if profile not in e.profiles]
        if outside:
            raise UsageError(f"{', '.join(outside)} not in the '{profile}' profile; it is in "
                             f"{', '.join(EXPERIMENTS.get(outside[0]).profiles)}")  # fmt: skip
    nodes = []
    seen: set[str] = set()  # paper profile: runs already counted by an earlier node
    for key in _order((e.key for e in chosen), profile):
        if key in PREREQUISITES:
            req = PREREQUISITES.get(key)
            done = req.is_done()
            nodes.append(
                Node(
                    key,
                    "prerequisite",
                    0.0 if done else req.minutes,
                    "skip" if done else "run",
                    "built" if done else "missing",
                )
            )
            continue
        exp = EXPERIMENTS.get(key)
        target = results_file(preset, exp.paper, exp.table, root)
        exists = target.is_file()
        action = "skip" if exists and not overwrite else "run"
        why = ("result exists (--overwrite reruns it)" if action == "skip"
               else "rerun (--overwrite)" if exists else "no result yet")  # fmt: skip
        minutes = exp.minutes.get(profile, 0.0) if action == "run" else 0.0
        node = Node(key, "experiment", minutes, action, why, target)
        if profile == "paper" and action == "run":
            _paper_estimate(node, exp, seen)
        nodes.append(node)
    _skip_unneeded(nodes, profile)
    return nodes


def _skip_unneeded(nodes: list[Node], profile: str) -> None:
    """A missing prerequisite is built only for an experiment that runs: building the KI zoo
    (hours) for experiments whose results exist would spend time on nothing."""
    running = {n.key for n in nodes if n.kind == "experiment" and n.action == "run"}
    for node in nodes:
        if node.kind != "prerequisite" or node.action != "run":
            continue
        users = [e for e in running
                 if node.key in (*EXPERIMENTS.get(e).needs,
                                 *EXPERIMENTS.get(e).profile_needs.get(profile, ()))]  # fmt: skip
        if not users:
            node.action, node.minutes = "skip", 0.0
            node.why = "missing, but every experiment that needs it has its result"


def _paper_estimate(node: Node, exp: Experiment, seen: set[str]) -> None:
    """Fill a paper node's estimate from its dry-run plan; runs an earlier node already counts
    (cached runs shared between experiments, e.g. KI's E1 teacher) are not counted again."""
    if exp.paper_plan is None:
        node.estimate = "no paper plan"
        return
    from thunlp_repro.shared.dryrun import fmt_hours

    p = exp.paper_plan()
    if p.cost_kind == "api":
        node.api_usd = p.api_usd()
        node.estimate = p.cost_line()
        return
    keys = {f"{exp.paper}:{r.key}" for r in p.runs if r.key}
    shared = {k.split(":", 1)[1] for k in keys & seen}
    node.gpu_hours = p.gpu_hours("H100", skip=shared)
    a100 = p.gpu_hours("A100", skip=shared)
    own = len(p.runs) - len(shared)
    node.estimate = (
        f"~{fmt_hours(node.gpu_hours)} H100-h (~{fmt_hours(a100)} A100-h), "
        f"{own} run(s)" + (f" + {len(shared)} shared with earlier nodes" if shared else "")
    )
    seen |= keys


def format_plan(nodes: list[Node], profile: str) -> str:
    """The `--dry-run` table: node, kind, action, estimated minutes, reason."""
    runs = sum(n.action == "run" for n in nodes)
    lines = [f"plan for profile '{profile}' (preset {PROFILES[profile]}), "
             f"{runs} of {len(nodes)} node(s) to run:"]  # fmt: skip
    for i, node in enumerate(nodes, 1):
        est, width = (f"~{node.minutes:g} min" if node.action == "run" else "-"), 10
        if profile == "paper" and node.kind == "experiment" and node.action == "run":
            from thunlp_repro.shared.dryrun import fmt_hours

            est, width = ("?" if node.gpu_hours is None and node.api_usd is None
                          else f"~{fmt_hours(node.gpu_hours)} GPU-h" if node.gpu_hours is not None
                          else f"~${node.api_usd:,.0f} API"), 13  # fmt: skip
        lines.append(f"  {i:>2}. {node.key:<34} {node.kind:<12} {node.action:<4} {est:>{width}}  "
                     f"{node.why}")  # fmt: skip
        if profile == "paper" and node.estimate:
            lines.append(f"      estimate: {node.estimate}")
    total = sum(n.minutes for n in nodes)
    if profile != "paper":
        lines.append(f"estimated total: ~{total:.0f} min on 2 CPU cores")
        return "\n".join(lines)
    from thunlp_repro.shared.dryrun import assumption_text

    hours = sum(n.gpu_hours or 0.0 for n in nodes)
    usd = sum(n.api_usd or 0.0 for n in nodes)
    lines.append(f"estimated total: ~{hours:,.0f} H100 GPU-hours" + (
        f" and ~${usd:,.0f} of API calls" if usd else "") + (
        f", plus ~{total:.0f} min of CPU prerequisites" if total else ""))  # fmt: skip
    lines.append(f"  ({assumption_text()}; per-experiment detail: the paper's --dry-run verbs)")
    return "\n".join(lines)


def execute(
    nodes: list[Node],
    profile: str,
    *,
    overwrite: bool = False,
    echo: Callable[[str], None] = print,
) -> list[tuple[str, str]]:
    """Run the plan's `run` nodes in order with one progress line each; (key, status) pairs.

    Status: ran, skipped, or not run (an experiment that wrote no result, e.g. a missing
    optional model). The ETA scales the remaining estimates by how long finished nodes took
    against their own estimates.
    """
    preset = PROFILES[profile]
    todo = [n for n in nodes if n.action == "run"]
    estimated_done = spent_done = 0.0  # the pace counts nodes that did work, not cache hits
    done: list[tuple[str, str]] = [(n.key, "skipped") for n in nodes if n.action == "skip"]
    for i, node in enumerate(todo, 1):
        left = sum(n.minutes for n in todo[i - 1 :])
        pace = spent_done / estimated_done if estimated_done > 0 else 1.0
        echo(f"[{i}/{len(todo)}] {node.key}: running (estimated {node.minutes:g} min; "
             f"ETA for the rest {left * pace:.0f} min)")  # fmt: skip
        start = time.monotonic()
        if node.kind == "prerequisite":
            PREREQUISITES.get(node.key).build()
            status = "ran"
        else:
            exp = EXPERIMENTS.get(node.key)
            exp.run(preset, node.target, overwrite)
            status = "ran" if node.target.is_file() else "not run"
        minutes = (time.monotonic() - start) / 60
        if minutes >= CACHED_FRACTION * node.minutes:
            estimated_done += node.minutes
            spent_done += minutes
        echo(f"[{i}/{len(todo)}] {node.key}: {status} in {minutes:.1f} min")
        done.append((node.key, status))
    return done


def reproduce(
    profile: str = "quick",
    papers: list[str] | None = None,
    only: list[str] | None = None,
    *,
    overwrite: bool = False,
    root: Path = Path("results"),
    echo: Callable[[str], None] = print,
) -> list[tuple[str, str]]:
    """Plan and run a profile; returns (key, status) pairs."""
    nodes = plan(profile, papers, only, overwrite=overwrite, root=root)
    return execute(nodes, profile, overwrite=overwrite, echo=echo)
