"""Config precedence, validation, presets (conventions.md §2.2)."""

from __future__ import annotations

import pytest

from thunlp_repro.shared.config import PIPELINES, list_presets, load_config, to_dict
from thunlp_repro.shared.errors import ConfigError
from thunlp_repro.shared.finetune import FinetuneConfig


def test_each_precedence_level_wins_over_the_one_below(tmp_path):
    defaults, _ = load_config(FinetuneConfig)
    assert defaults.train.max_steps == 100

    preset, _ = load_config(FinetuneConfig, pipeline="finetune", preset="mini")
    assert preset.train.max_steps == 120  # preset > defaults

    user = tmp_path / "user.yaml"
    user.write_text("train:\n  max_steps: 7\n  eval_every: 3\n")
    from_file, _ = load_config(FinetuneConfig, pipeline="finetune", preset="mini", config_file=user)
    assert (from_file.train.max_steps, from_file.train.eval_every) == (7, 3)  # file > preset

    cli, log = load_config(
        FinetuneConfig, pipeline="finetune", preset="mini", config_file=user,
        overrides=["train.max_steps=50", "optim.lr=1e-4", "data.train_limit=null"],
    )  # fmt: skip
    assert cli.train.max_steps == 50 and cli.train.eval_every == 3  # --set > file
    assert cli.optim.lr == pytest.approx(1e-4) and isinstance(cli.optim.lr, float)
    assert cli.data.train_limit is None
    assert "override train.max_steps: 7 -> 50 (--set)" in log


def test_smoke_preset_extends_mini():
    smoke, _ = load_config(FinetuneConfig, pipeline="finetune", preset="smoke")
    mini, _ = load_config(FinetuneConfig, pipeline="finetune", preset="mini")
    assert smoke.model.name == mini.model.name == "minilm-l6"
    assert smoke.train.max_steps < mini.train.max_steps


def test_a_config_file_may_name_the_preset_it_extends(tmp_path):
    user = tmp_path / "lite.yaml"
    user.write_text("extends: mini\ntrain:\n  max_steps: 9\n")
    cfg, _ = load_config(FinetuneConfig, pipeline="finetune", preset="mini", config_file=user)
    assert cfg.train.max_steps == 9
    # smoke extends mini, so a file written against mini layers over smoke too
    cfg, _ = load_config(FinetuneConfig, pipeline="finetune", preset="smoke", config_file=user)
    assert cfg.train.max_steps == 9
    user.write_text("extends: smoke\ntrain:\n  max_steps: 9\n")
    with pytest.raises(ConfigError, match="extends preset 'smoke' but the preset is 'mini'"):
        load_config(FinetuneConfig, pipeline="finetune", preset="mini", config_file=user)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.max_stepz=5", "unknown config key 'train.max_stepz'.*did you mean 'max_steps'"),
        ("trian.max_steps=5", "unknown config key 'trian'.*did you mean 'train'"),
        ("train.max_steps=abc", "train.max_steps must be an integer"),
        ("train.max_steps=2.5", "train.max_steps must be an integer"),
        ("runtime.precision=fp8", "runtime.precision must be one of no, bf16, fp16"),
        ("train.global_batch_size=10", "multiple of train.micro_batch_size"),
        ("novalue", "--set expects key=value"),
    ],
)
def test_bad_input_is_a_clear_error(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(FinetuneConfig, pipeline="finetune", preset="mini", overrides=[override])


def test_unknown_preset_and_missing_file_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown preset 'mnii'.*did you mean 'mini'"):
        load_config(FinetuneConfig, pipeline="finetune", preset="mnii")
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(FinetuneConfig, config_file=tmp_path / "nope.yaml")


def test_every_shipped_preset_loads_and_validates():
    import thunlp_repro.cli.main  # noqa: F401  (registers every pipeline's config class)
    from thunlp_repro.shared.config import presets_dir

    folders = sorted(p for p in presets_dir("x").parent.iterdir() if list(p.glob("*.yaml")))
    assert folders, "no shipped presets found"
    checked = 0
    for folder in folders:
        pipeline = folder.name.replace("_", "-")
        assert pipeline in PIPELINES, f"presets in configs/{folder.name} have no pipeline"
        cls = PIPELINES.get(pipeline)
        for preset in list_presets(pipeline):
            cfg, _ = load_config(cls, pipeline=pipeline, preset=preset)
            assert to_dict(cfg)
            checked += 1
    assert checked >= 3
