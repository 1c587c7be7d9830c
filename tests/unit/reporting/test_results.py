"""The results.json schema: build, validate, write, load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from thunlp_repro.shared.reporting.results import (
    SCHEMA_VERSION,
    build_results,
    flatten_scalars,
    load_results,
    results_path,
    to_jsonable,
    validate_results,
    write_results,
)

RUN_INFO = {"paper": "ki", "experiment": "e1", "table": "t1", "preset": "mini"}


def test_build_results_sections_and_defaults():
    r = build_results(
        RUN_INFO,
        {"lr": 1e-3, "out": Path("runs/x")},
        {"ppl": np.float32(12.5), "evals": [{"step": 1, "ppl": torch.tensor(20.0)}]},
        {"n_examples": np.int64(100)},
        {"seeds": (0, 1)},
    )
    assert r["schema_version"] == SCHEMA_VERSION
    assert list(r) == ["schema_version", "run_info", "config", "metrics", "eval_info", "meta"]
    assert r["run_info"]["status"] == "ok" and r["run_info"]["created_at"]
    assert r["config"]["out"] == "runs/x"
    assert r["metrics"] == {"ppl": 12.5, "evals": [{"step": 1, "ppl": 20.0}]}
    assert r["eval_info"] == {"n_examples": 100} and r["meta"] == {"seeds": [0, 1]}
    json.dumps(r, allow_nan=False)  # plain JSON types only


def test_build_results_rejects_bad_input():
    with pytest.raises(ValueError, match="table"):
        build_results({"paper": "ki", "experiment": "e", "preset": "mini"}, {}, {})
    with pytest.raises(ValueError, match="status"):
        build_results({**RUN_INFO, "status": "done"}, {}, {})
    with pytest.raises(ValueError, match="evals"):
        build_results(RUN_INFO, {}, {"evals": {"a": 1}})
    with pytest.raises(ValueError, match="schema_version"):
        validate_results({**build_results(RUN_INFO, {}, {}), "schema_version": SCHEMA_VERSION + 1})


def test_write_and_load_round_trip(tmp_path):
    r = build_results({**RUN_INFO, "created_at": "2024-01-01T00:00:00+00:00"}, {}, {"acc": 0.5})
    path = write_results(r, tmp_path)
    assert path == results_path(tmp_path, "mini", "ki", "t1") == tmp_path / "mini/ki/t1.json"
    (tmp_path / "mini/ki/verdicts.json").write_text('{"M1": "PASS"}')  # not a result: skipped
    (tmp_path / "mini/ki/broken.json").write_text("{")  # unreadable: skipped
    nested = build_results({**RUN_INFO, "paper": "apet", "table": "t2"}, {}, {"acc": 0.7})
    (tmp_path / "paper/apet/v1").mkdir(parents=True)
    (tmp_path / "paper/apet/v1/t2.json").write_text(json.dumps(nested))

    loaded = load_results(tmp_path)
    assert [x["_source"]["path"] for x in loaded] == ["mini/ki/t1.json", "paper/apet/v1/t2.json"]
    assert loaded[0]["_source"] == {
        "path": "mini/ki/t1.json",
        "preset": "mini",
        "paper": "ki",
        "table": "t1",
    }
    assert loaded[1]["_source"]["table"] == "v1/t2"
    assert {k: v for k, v in loaded[0].items() if k != "_source"} == r
    assert [x["_source"]["paper"] for x in load_results(tmp_path, paper="apet")] == ["apet"]
    assert load_results(tmp_path, preset="mini")[0]["metrics"] == {"acc": 0.5}
    assert load_results(tmp_path / "missing") == []
    write_results(
        loaded[0], tmp_path
    )  # a loaded result can be written back (the _source is dropped)
    assert "_source" not in json.loads(path.read_text())


def test_flatten_and_jsonable():
    assert flatten_scalars({"b": 1, "a": {"x": 0.5, "y": [1, 2]}, "c": None, "d": "s"}) == {
        "a.x": 0.5,
        "b": 1,
        "d": "s",
    }
    assert to_jsonable({1: {2, 1}, "t": torch.tensor([1, 2])}) == {"1": [1, 2], "t": [1, 2]}
