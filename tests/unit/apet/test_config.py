"""APET presets and config validation (apet.md §4.7 profiles; conventions §2.2)."""

from __future__ import annotations

import pytest

from thunlp_repro.apet.config import APETConfig
from thunlp_repro.shared.config import list_presets, load_config
from thunlp_repro.shared.errors import ConfigError, UsageError


def load(preset: str, *sets: str) -> APETConfig:
    return load_config(APETConfig, pipeline="apet", preset=preset, overrides=list(sets),
                       quiet=True)[0]  # fmt: skip


def test_every_preset_loads_with_its_shape():
    assert set(list_presets("apet")) >= {"smoke", "quick", "mini", "paper"}
    smoke, quick, mini, paper = (load(p) for p in ("smoke", "quick", "mini", "paper"))
    assert smoke.train.max_steps == 30 and smoke.study.budgets_log2 == [6, 12, 18]
    assert smoke.study.ladder_r == ["minilm-l3"] and smoke.study.seeds == [1]
    assert quick.study.ladder_r == ["minilm-l3", "minilm-l6"] and quick.study.seeds == [1]
    assert quick.study.budgets_log2 == [12, 16, 18]
    assert mini.study.experiments == ["e1", "e2", "e3"] and mini.train.max_steps == 100
    assert paper.paper and paper.optim.lr == 1e-4 and paper.train.max_steps == 20000
    assert set(paper.study.paper_families) == {"bert", "bloom", "t5"}
    assert len(paper.study.paper_tasks) == 11


@pytest.mark.parametrize(
    ("override", "needle"),
    [("cell.method=lorra", "unknown method 'lorra'"), ("cell.pool=everywhere", "unknown pool"),
     ("study.experiments=[e4]", "unknown experiment 'e4'"),
     ("cell.match=ft", "unknown match method 'ft'"), ("study.ladders=[Q]", "unknown ladder")],
)  # fmt: skip
def test_bad_values_are_usage_errors(override, needle):
    with pytest.raises(UsageError, match=needle):
        load("smoke", override)


def test_unknown_key_suggests():
    with pytest.raises(ConfigError, match="did you mean"):
        load("smoke", "study.budget_log2=[4]")


def test_every_e1_structured_pool_of_the_mini_plan_resolves_to_a_cell_pool():
    """The E1 plan hands `study.structured_pools` on as `cell.pool`, which `parse_pool` reads."""
    from thunlp_repro.apet.pools import parse_pool
    from thunlp_repro.apet.sweep import cell_config, plan_cells

    mini = load("mini")
    plan = plan_cells(mini, ["minilm-l3"], ["e1"])
    cells = [c for c in plan.by_table["e1-positions"] if c.pool != "layers"]
    assert {c.pool for c in cells} == set(mini.study.structured_pools)
    for cell in cells:
        assert cell_config([], "mini", None, cell).cell.pool == cell.pool
        assert parse_pool(cell.pool).kind in ("third", "module")
