"""Content-addressed cells (apet.md §4.6 reuse): keys, skip of finished cells, resume after a kill,
and the --max-minutes refusal after the probe."""

from __future__ import annotations

import pytest

from thunlp_repro.apet import sweep as sw
from thunlp_repro.apet.config import APETConfig
from thunlp_repro.shared.config import load_config
from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.io import atomic_write_json


def smoke_cfg(*sets: str) -> APETConfig:
    return load_config(APETConfig, pipeline="apet", preset="smoke", overrides=list(sets),
                       quiet=True)[0]  # fmt: skip


def test_plan_counts_and_shared_cells():
    cfg = smoke_cfg()
    plan = sw.plan_cells(cfg, ["minilm-l3"])
    e3 = plan.by_table["e3-thresholds"]
    assert len(e3) == 3 + 1  # 3 budgets + FT, one seed, one task
    assert {c.budget for c in e3 if c.method == "apet-element"} == {64, 4096, 2**18}
    # E1's (s_pos 1, s_data 1) APET(LoRA) cell is E2's too: counted once
    e1 = set(plan.by_table["e1-positions"])
    e2 = set(plan.by_table["e2-methods"])
    assert e1 & e2 and len(plan.unique()) == len(e1 | e2 | set(e3))
    with pytest.raises(UsageError, match="unknown experiment 'e9'"):
        sw.plan_cells(cfg, ["minilm-l3"], ["e9"])


def test_cell_key_is_content_addressed():
    c = sw.Cell("minilm-l3", "sent-movie", "lora", 1, 1)
    a = sw.cell_key(sw.cell_config([], "smoke", None, c))
    b = sw.cell_key(sw.cell_config(["study.bootstrap=7"], "smoke", None, c))  # study excluded
    d = sw.cell_key(sw.cell_config([], "smoke", None, sw.Cell("minilm-l3", "sent-movie",
                                                               "lora", 1, 2)))  # fmt: skip
    assert a == b and a != d and len(a) == 16
    cfg = sw.cell_config([], "smoke", None, c)
    assert cfg.optim.lr == cfg.study.lr["lora"] and cfg.runtime.seed == 1


class Killed(Exception):
    pass


def test_finished_cells_skipped_and_killed_sweep_resumes(tmp_path):
    plan = sw.Plan({"e3-thresholds": sw.plan_cells(smoke_cfg(), ["minilm-l3"], ["e3"])
                    .by_table["e3-thresholds"]})  # fmt: skip
    calls: list[str] = []

    def runner(cfg, path, preset, kill_at=None):
        calls.append(cfg.cell.method + str(cfg.cell.budget))
        path.mkdir(parents=True, exist_ok=True)
        (path / "partial.txt").write_text("half")
        if kill_at is not None and len(calls) == kill_at:
            raise Killed
        rec = {"accuracy": 60.0, "method": cfg.cell.method}
        atomic_write_json(path / "results.json", {"metrics": rec})
        return rec

    with pytest.raises(Killed):
        sw.run_cells(plan, preset="smoke", base=[], config_file=None, runs=tmp_path,
                     runner=lambda *a: runner(*a, kill_at=3))  # fmt: skip
    assert len(calls) == 3
    done = [p for p in (tmp_path / "apet" / "cells").iterdir() if (p / "results.json").is_file()]
    assert len(done) == 2  # the killed cell left no results.json
    calls.clear()
    records = sw.run_cells(plan, preset="smoke", base=[], config_file=None, runs=tmp_path,
                           runner=runner)  # fmt: skip
    assert len(calls) == 2  # only the killed and the never-started cell
    assert len(records) == 4 and all(r["accuracy"] == 60.0 for r in records.values())
    calls.clear()
    sw.run_cells(plan, preset="smoke", base=[], config_file=None, runs=tmp_path, runner=runner)
    assert calls == []  # everything finished: nothing retrains


def test_max_minutes_refuses_after_probe(tmp_path, monkeypatch):
    plan = sw.Plan({"e3-thresholds": sw.plan_cells(smoke_cfg(), ["minilm-l3"], ["e3"])
                    .by_table["e3-thresholds"]})  # fmt: skip
    monkeypatch.setattr(sw, "probe", lambda cfg, preset, root: {"per_step_s": 2.0,
                                                                "eval_s": 1.0})  # fmt: skip
    assert (
        sw.project_minutes(plan.unique(), 30, {"minilm-l3": {"per_step_s": 2.0, "eval_s": 1.0}})
        == 4 * 61 / 60
    )
    with pytest.raises(UsageError, match="exceeds --max-minutes 1"):
        sw.run_cells(plan, preset="smoke", base=[], config_file=None, runs=tmp_path,
                     max_minutes=1, runner=lambda *a: pytest.fail("trained"))  # fmt: skip
    assert not (tmp_path / "apet" / "cells").exists()
