"""The experiments' run cache (ki.md §4.6: runs cached by config hash and resumable): what the
keys hold and leave out, and how a user's `--config`/`--set` reach every run of an experiment."""

from __future__ import annotations

import logging

import pytest
import yaml

from thunlp_repro.ki import runs
from thunlp_repro.ki.pipeline import config_hash
from thunlp_repro.shared.config import to_dict


def test_config_hash_ignores_checkpoint_cadence_but_not_the_recipe():
    base = config_hash(runs.make_cfg("mini"))
    assert config_hash(runs.make_cfg("mini", "", ["train.save_every=200"])) == base
    assert config_hash(runs.make_cfg("mini", "", ["train.save_total_limit=5"])) == base
    assert config_hash(runs.make_cfg("mini", "", ["exp.teacher_steps=9"])) == base  # the plan
    assert config_hash(runs.make_cfg("mini", "", ["train.max_steps=999"])) != base
    assert config_hash(runs.make_cfg("mini", "", ["train.log_every=5"])) != base  # F4's curve


def test_a_setting_that_a_run_ignores_does_not_retrain_it():
    scratch = ["ki.schedule=none", "teacher.name=null"]
    base = config_hash(runs.make_cfg("mini", "", scratch))
    for inert in ("ki.temperature=1.0", "ki.alpha0=0.5", "ki.stop_step=200", "teacher.name=x"):
        assert config_hash(runs.make_cfg("mini", "", [inert, *scratch])) == base, inert
    assert config_hash(runs.make_cfg("mini", "", ["ki.temperature=1.0"])) != config_hash(
        runs.make_cfg("mini"))  # ... but a KI run uses them  # fmt: skip
    gpt = config_hash(runs.make_cfg("mini", "gpt", scratch))
    for inert in ("gpt.topk=256", "gpt.kd=full-live", "gpt.check_ks=[64]"):
        assert config_hash(runs.make_cfg("mini", "gpt", [inert, *scratch])) == gpt, inert
    assert config_hash(runs.make_cfg("mini", "gpt", ["gpt.topk=256"])) != config_hash(
        runs.make_cfg("mini", "gpt"))  # fmt: skip


def test_a_run_saved_under_an_older_key_keeps_its_folder(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("THUNLP_REPRO_RUNS", str(tmp_path))
    cfg = runs.make_cfg("mini", "", ["ki.schedule=none", "teacher.name=null"])
    new = f"mini-scratch-s0-{config_hash(cfg)}"
    assert runs.run_name(cfg, "mini", "scratch-s0") == new

    def save(name: str, c) -> None:
        (tmp_path / "ki" / name).mkdir(parents=True)
        (tmp_path / "ki" / name / "config.yaml").write_text(yaml.safe_dump(to_dict(c)))

    save("mini-scratch-s0-0123456789ab", runs.make_cfg("mini", "", ["train.max_steps=9"]))
    save("mini-scratch-s0-0123456789ac", cfg)  # ki.* hashed under the older key
    variant = runs.make_cfg("mini", "", ["ki.temperature=1.0", "ki.schedule=none"])
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert runs.run_name(variant, "mini", "scratch-s0") == "mini-scratch-s0-0123456789ac"
    assert "override" not in caplog.text  # saved configs are re-read quietly
    (tmp_path / "ki" / new).mkdir()
    assert runs.run_name(cfg, "mini", "scratch-s0") == new


def test_finetune_key_follows_the_checkpoint_not_the_runs_root():
    cfg = runs.make_cfg("mini")

    def key(model_dir: str) -> str:
        return runs.finetune_key(runs.finetune_cfg("mini", model_dir, "trec", 0, cfg, 1e-4))

    here = key("runs/ki/mini-ki-s0-d0e4c0472edd/export")
    assert key("/data/elsewhere/ki/mini-ki-s0-d0e4c0472edd/export") == here
    assert key("runs/ki/mini-ki-s0-0123456789ab/export") != here  # retrained checkpoint
    assert key("runs/ki/mini-ki-s0-d0e4c0472edd/best") != here
    other_seed = runs.finetune_key(runs.finetune_cfg(
        "mini", "runs/ki/mini-ki-s0-d0e4c0472edd/export", "trec", 1, cfg, 1e-4))  # fmt: skip
    assert other_seed != here


def test_user_settings_layer_under_each_arms_own_settings(tmp_path):
    from thunlp_repro.shared.errors import ConfigError

    plain = runs.make_cfg("smoke")
    assert runs.settings_meta() == {}
    user = tmp_path / "user.yaml"
    user.write_text("extends: smoke\ntrain:\n  eval_every: 7\n")
    with runs.user_settings(user, ["train.max_steps=13", "ki.schedule=constant-half"]):
        arm = runs.make_cfg("smoke", "", ["ki.schedule=none", "runtime.seed=1"])
        assert (arm.train.max_steps, arm.train.eval_every, arm.ki.schedule) == (13, 7, "none")
        assert runs.settings_meta() == {
            "user_settings": {
                "config": str(user),
                "set": ["train.max_steps=13", "ki.schedule=constant-half"],
            }
        }
        with pytest.raises(ConfigError, match="train.max_stepz"):
            runs.make_cfg("smoke", "", ["train.max_stepz=1"])
    # the settings end with the block, even when it raised
    with pytest.raises(RuntimeError), runs.user_settings(None, ["train.max_steps=13"]):
        raise RuntimeError
    assert runs.make_cfg("smoke").train.max_steps == plain.train.max_steps
    assert runs.settings_meta() == {}
