"""The APET study as a set of content-addressed cells (apet.md §4.7 run plan, §3.6 at scale).

`plan_cells` expands the study block into cells for E1 (positions), E2 (methods vs FT) and E3
(log-spaced budget sweep). A cell's key is the SHA-256 of its resolved config (the study block
excluded), so cells shared between experiments run once. `run_cells` skips every finished cell
(its `results.json` exists), restarts a cell that was killed mid-run, shows cells done / total
with an ETA, and after a 10-step probe refuses a plan whose projection exceeds `--max-minutes`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thunlp_repro.apet.config import MATCHED, APETConfig
from thunlp_repro.shared.config import load_config, to_dict
from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.io import atomic_write_json, read_json

logger = logging.getLogger(__name__)

TABLES = {"e1": "e1-positions", "e2": "e2-methods", "e3": "e3-thresholds"}


@dataclass(frozen=True)
class Cell:
    """One training run of the study."""

    model: str
    task: str
    method: str
    s_pos: int
    s_data: int
    budget: int | None = None
    match: str | None = None
    pool: str = "layers"

    def overrides(self, lr: float) -> list[str]:
        sets = [f"model.name={self.model}", f"data.task={self.task}",
                f"cell.method={self.method}", f"cell.s_pos={self.s_pos}",
                f"runtime.seed={self.s_data}", f"cell.pool={self.pool}", f"optim.lr={lr}",
                f"cell.budget={'null' if self.budget is None else self.budget}",
                f"cell.match={'null' if self.match is None else self.match}"]  # fmt: skip
        return sets

    def label(self) -> str:
        size = f"L={self.budget}" if self.budget else (f"~{self.match}" if self.match else "own")
        return (f"{self.model}/{self.task}/{self.method}[{size},{self.pool}] "
                f"pos{self.s_pos} data{self.s_data}")  # fmt: skip


@dataclass
class Plan:
    """Cells per table, the unique cells, and what was skipped before training (with why)."""

    by_table: dict[str, list[Cell]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def unique(self) -> list[Cell]:
        seen: dict[Cell, None] = {}
        for cells in self.by_table.values():
            for c in cells:
                seen.setdefault(c, None)
        return list(seen)


def ladder_models(cfg: APETConfig, available: Callable[[str], bool]) -> dict[str, list[str]]:
    """Ladder name -> its models (small -> large) that are present; K is dropped when absent."""
    out = {}
    for lad in cfg.study.ladders:
        models = cfg.study.ladder_r if lad == "R" else cfg.study.ladder_k
        present = [m for m in models if available(m)]
        if present:
            out[lad] = present
    return out


def model_available(name: str) -> bool:
    """Whether `name` resolves offline to weights on disk (Ladder K may be absent)."""
    from thunlp_repro.shared.models import resolve_model

    try:
        src = resolve_model(name)
    except Exception:  # noqa: BLE001 - a missing zoo or asset just means "not run"
        return False
    return src.kind in ("tiny", "hub") or Path(src.location).is_dir()


def plan_cells(cfg: APETConfig, models: list[str], experiments: list[str] | None = None) -> Plan:
    """Expand the study block into cells (§4.7 table: E3 sweep, E1 positions, E2 methods)."""
    st = cfg.study
    plan = Plan()
    exps = experiments or st.experiments
    for e in exps:
        if e not in TABLES:
            raise UsageError(f"unknown experiment '{e}'; accepted: {', '.join(TABLES)}")
    for e in exps:
        cells: list[Cell] = []
        for model in models:
            if e == "e3":
                for task in st.tasks:
                    for s in st.seeds:
                        cells += [Cell(model, task, "apet-element", s, s, budget=2**k)
                                  for k in st.budgets_log2]  # fmt: skip
                        cells.append(Cell(model, task, "ft", s, s))
            elif e == "e2":
                for task in st.tasks:
                    for s in st.seeds:
                        cells += [Cell(model, task, m, s, s) for m in st.e2_methods]
                        cells += [Cell(model, task, "apet-element", s, s, match=m)
                                  for m in MATCHED]  # fmt: skip
                        cells += [Cell(model, task, "apet-tensor", s, s, match=m)
                                  for m in st.e2_tensor_matched]  # fmt: skip
                        cells += [Cell(model, task, "ft", s, s)]
                        cells += [Cell(model, task, m, s, s) for m in MATCHED
                                  if m not in st.e2_methods]  # fmt: skip
                    cells.append(Cell(model, task, "linear-probe", 1, 1))
            else:
                for task in st.e1_tasks:
                    for m in st.e1_matched:
                        cells += [Cell(model, task, "apet-element", p, 1, match=m)
                                  for p in st.pos_seeds]  # fmt: skip
                        cells += [Cell(model, task, "apet-element", 1, d, match=m)
                                  for d in st.seeds if d != 1]  # fmt: skip
                    cells += [Cell(model, task, "apet-element", p, 1, match="lora", pool=pool)
                              for pool in st.structured_pools for p in (1, 2)]  # fmt: skip
        plan.by_table[TABLES[e]] = cells
    return plan


def cell_config(base: list[str], preset: str, config_file: Path | None, cell: Cell) -> APETConfig:
    """The cell's resolved config: preset < --config < --set < the cell's own fields."""
    cfg, _ = load_config(APETConfig, pipeline="apet", preset=preset, config_file=config_file,
                         overrides=base, quiet=True)  # fmt: skip
    lr = cfg.study.lr.get(cell.method, cfg.optim.lr)
    cfg, _ = load_config(APETConfig, pipeline="apet", preset=preset, config_file=config_file,
                         overrides=[*base, *cell.overrides(lr)], quiet=True)  # fmt: skip
    return cfg


def cell_key(cfg: APETConfig) -> str:
    """Content address of a cell: SHA-256 of its resolved config minus the study block."""
    doc = {k: v for k, v in to_dict(cfg).items() if k != "study"}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def cell_dir(root: Path, key: str) -> Path:
    return root / "apet" / "cells" / key


def is_done(path: Path) -> bool:
    return (path / "results.json").is_file()


def _run_one(cfg: APETConfig, path: Path, preset: str) -> dict[str, Any]:
    from thunlp_repro.apet.train import train_cell
    from thunlp_repro.shared.rundir import RunDir

    if path.exists():  # a killed cell: nothing of it is kept (cells are short, no checkpoint)
        shutil.rmtree(path)
    run = RunDir.start("apet", cfg, run_dir=path)
    handler = None
    import logging as _l

    for h in _l.getLogger("thunlp_repro").handlers:
        if isinstance(h, _l.FileHandler) and Path(h.baseFilename).parent == path:
            handler = h
    try:
        return train_cell(cfg, run, preset)
    finally:
        if handler is not None:
            _l.getLogger("thunlp_repro").removeHandler(handler)
            handler.close()


def probe(cfg: APETConfig, preset: str, tmp_root: Path) -> dict[str, float]:
    """Time `study.probe_steps` steps of one cell: seconds per step and the fixed cost."""
    import dataclasses

    n = cfg.study.probe_steps
    probe_cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, max_steps=n))
    path = tmp_root / f"probe-{cell_key(probe_cfg)}"
    try:
        rec = _run_one(probe_cfg, path, preset)
    finally:
        shutil.rmtree(path, ignore_errors=True)
    per_step = rec["train_s"] / n
    return {"per_step_s": per_step, "eval_s": max(rec["wall_s"] - rec["train_s"], 0.0)}


def project_minutes(cells: list[Cell], steps: int, probes: dict[str, dict[str, float]]) -> float:
    """Projected wall minutes of `cells` from the per-model probes (probe overestimates: it
    includes model set-up in its per-step cost)."""
    total = 0.0
    for c in cells:
        p = probes[c.model]
        total += p["per_step_s"] * steps + p["eval_s"]
    return total / 60.0


def run_cells(
    plan: Plan, *, preset: str, base: list[str], config_file: Path | None, runs: Path,
    max_minutes: float | None = None, overwrite: bool = False,
    echo: Callable[[str], None] = logger.info, runner: Callable[..., dict] | None = None,
) -> dict[Cell, dict[str, Any]]:  # fmt: skip
    """Run every unfinished cell of `plan`; returns cell -> record (finished ones read back).

    Raises:
        UsageError: the probe's projection exceeds `max_minutes` (nothing is trained then).
    """
    cells = plan.unique()
    cfgs = {c: cell_config(base, preset, config_file, c) for c in cells}
    paths = {c: cell_dir(runs, cell_key(cfgs[c])) for c in cells}
    if overwrite:
        for p in paths.values():
            shutil.rmtree(p, ignore_errors=True)
    todo = [c for c in cells if not is_done(paths[c])]
    echo(f"apet sweep: {len(cells)} cells, {len(cells) - len(todo)} finished, {len(todo)} to run")
    if todo and max_minutes is not None:
        probes: dict[str, dict[str, float]] = {}
        for c in todo:
            if c.model not in probes:
                probes[c.model] = probe(cfgs[c], preset, runs / "apet" / "probes")
        steps = cfgs[todo[0]].train.max_steps
        minutes = project_minutes(todo, steps, probes)
        echo(f"apet sweep: projected {minutes:.1f} min for {len(todo)} cells "
             f"(probe of {cfgs[todo[0]].study.probe_steps} steps)")  # fmt: skip
        if minutes > max_minutes:
            raise UsageError(
                f"projected {minutes:.1f} min exceeds --max-minutes {max_minutes:g}; "
                "accepted: a smaller plan (--profile smoke|quick) or a larger limit"
            )
    progress = _bar(len(cells), len(cells) - len(todo))
    t0, done_now = time.time(), 0
    for c in todo:
        (runner or _run_one)(cfgs[c], paths[c], preset)
        done_now += 1
        eta = (time.time() - t0) / done_now * (len(todo) - done_now)
        if progress is not None:
            progress.update(1)
        echo(f"[{len(cells) - len(todo) + done_now}/{len(cells)}] {c.label()} done; "
             f"ETA {eta / 60:.1f} min")  # fmt: skip
    if progress is not None:
        progress.close()
    return {c: read_json(paths[c] / "results.json")["metrics"] for c in cells}


def _bar(total: int, initial: int) -> Any:
    import os
    import sys

    if os.environ.get("CI") == "true" or not sys.stderr.isatty():
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="cell", desc="apet cells")


def write_tables(plan: Plan, records: dict[Cell, dict[str, Any]], out_dir: Path, preset: str,
                 meta: dict[str, Any]) -> list[Path]:  # fmt: skip
    """One results JSON per table (`results/<preset>/apet/<table>.json`), with its records and
    the statistics of §5.1, plus runs.jsonl / summary.csv / thresholds.csv / verdicts.json."""
    from thunlp_repro.apet.report import study_summary
    from thunlp_repro.shared.io import atomic_write_text
    from thunlp_repro.shared.reporting.results import build_results

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    all_records = [records[c] for c in plan.unique()]
    summary = study_summary(all_records, meta)
    for table, cells in plan.by_table.items():
        recs = [records[c] for c in dict.fromkeys(cells)]
        wall = sum(r["wall_s"] for r in recs)
        doc = build_results(
            {"paper": "apet", "experiment": table, "table": table, "preset": preset,
             "status": "ok", "duration_s": round(wall, 1)},
            meta.get("config", {}),
            {"records": recs, "n_cells": len(recs), "wall_s": wall, **summary},
            {"device": sorted({r["device"] for r in recs})},
            {k: v for k, v in meta.items() if k != "config"},
        )  # fmt: skip
        written.append(atomic_write_json(out_dir / f"{table}.json", doc))
    lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in all_records)
    atomic_write_text(out_dir / "runs.jsonl", lines)
    atomic_write_text(out_dir / "thresholds.csv", _csv(summary["thresholds"]))
    atomic_write_text(out_dir / "summary.csv", _csv(summary["methods"]))
    atomic_write_json(out_dir / "verdicts.json", summary["verdicts"])
    return written


def _csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    keys = list(rows[0])
    out = [",".join(keys)]
    for r in rows:
        out.append(",".join(_cell(r.get(k)) for k in keys))
    return "\n".join(out) + "\n"


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4g}"
    if isinstance(v, list | tuple):
        return " ".join(_cell(x) for x in v)
    return "" if v is None else str(v).replace(",", ";")
