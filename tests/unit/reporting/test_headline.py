"""REPORT.md's headline table: the preset's own file wins over variants; verdicts validated."""

from __future__ import annotations

import pytest

from thunlp_repro.shared.reporting.headline import Headline, table


def _r(table_name, path):
    return {"run_info": {"table": table_name}, "_source": {"path": path}}


def test_table_prefers_the_presets_own_file_over_variants():
    variant = _r("e1", "mini/ki/e1--long.json")
    own = _r("e1", "mini/ki/e1.json")
    found = table({"mini": [variant, own], "quick": []}, "e1")
    assert found["mini"] is own and found["quick"] is None


def test_unknown_verdict_is_refused():
    with pytest.raises(ValueError, match="not one of REPRODUCED"):
        Headline("c", "p", "m", "q", "t", None, "MAYBE", "x.md")
