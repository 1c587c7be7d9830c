"""REPORT.md's headline table: the preset's own file wins over variants; verdicts validated."""

from __future__ import annotations

import pytest

from thunlp_repro.shared.reporting.headline import Headline, table
from thunlp_repro.shared.reporting.results import split_variants


def _r(table_name, path):
    return {"run_info": {"table": table_name}, "_source": {"path": path}}


def test_table_prefers_the_presets_own_file_over_variants():
    variant = _r("e1", "mini/ki/e1--long.json")
    own = _r("e1", "mini/ki/e1.json")
    found = table({"mini": [variant, own], "quick": []}, "e1")
    assert found["mini"] is own and found["quick"] is None


def test_split_variants_is_the_same_rule_for_papers_and_headlines():
    """One rule (shared.reporting.results): the own file is main; without a file path (results
    not read from disk), a result without --config/--set settings is main."""
    variant, own, other = (
        _r("e1", "mini/ki/e1--long.json"),
        _r("e1", "mini/ki/e1.json"),
        _r("e2", "mini/ki/e2--x.json"),
    )
    main, variants = split_variants([variant, other, own])
    assert main == {"e1": own, "e2": other} and variants == [variant]
    set_run = {"run_info": {"table": "e3"}, "meta": {"user_settings": {"set": ["a=1"]}}}
    plain = {"run_info": {"table": "e3"}, "meta": {}}
    assert split_variants([set_run, plain]) == ({"e3": plain}, [set_run])


def test_unknown_verdict_is_refused():
    with pytest.raises(ValueError, match="not one of REPRODUCED"):
        Headline("c", "p", "m", "q", "t", None, "MAYBE", "x.md")
