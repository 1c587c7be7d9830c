"""Typed configuration: shared dataclass blocks, YAML presets, `--config FILE` and `--set a.b=c`.

Precedence, lowest to highest: dataclass defaults < preset (`configs/<pipeline>/<preset>.yaml`,
which may `extends:` another preset) < `--config FILE` < each `--set key=value` in order.
Unknown keys are errors with a "did you mean"; values are coerced to the field's type; every
applied override is logged. This module imports no torch, so the CLI stays fast.

Conventions: conventions.md §2.2 (refines the foundation issue's defaults < file < --set).
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import logging
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import yaml

from thunlp_repro.shared.errors import ConfigError
from thunlp_repro.shared.registry import Registry, did_you_mean

logger = logging.getLogger(__name__)

C = TypeVar("C")

Precision = Literal["no", "bf16", "fp16"]
Head = Literal["sequence-classification", "masked-lm", "causal-lm", "encoder"]
Scheduler = Literal["constant", "constant_with_warmup", "linear", "cosine"]
Tracker = Literal["jsonl", "tensorboard"]


def _help(text: str) -> dict[str, str]:
    return {"help": text}


# --------------------------------------------------------------------------------------------
# Shared blocks
# --------------------------------------------------------------------------------------------


@dataclass
class ModelConfig:
    """Which model to load and with which head."""

    name: str = field(
        default="minilm-l6",
        metadata=_help("offline asset id, tiny-* test model, local folder or hub id"),
    )
    head: Head = field(default="sequence-classification", metadata=_help("head to attach"))
    dtype: Literal["float32", "bfloat16", "float16"] = field(
        default="float32", metadata=_help("weights dtype at load time")
    )
    revision: str | None = field(default=None, metadata=_help("hub revision (paper scale)"))


@dataclass
class DataConfig:
    """Which task, how to split and tokenise it."""

    task: str = field(default="sent-movie", metadata=_help("registered task id"))
    split_seed: int = field(default=13, metadata=_help("seed of the train/dev/test split"))
    max_length: int = field(default=64, metadata=_help("max tokens per example"))
    train_limit: int | None = field(default=None, metadata=_help("cap on training examples"))
    eval_limit: int | None = field(default=None, metadata=_help("cap on dev/test examples"))

    def __post_init__(self) -> None:
        if self.max_length < 2:
            raise ConfigError(f"data.max_length must be >= 2, got {self.max_length}")


@dataclass
class OptimConfig:
    """AdamW and its learning-rate schedule."""

    lr: float = field(default=5e-5, metadata=_help("peak learning rate"))
    weight_decay: float = field(default=0.01, metadata=_help("decoupled weight decay"))
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    scheduler: Scheduler = field(default="linear", metadata=_help("LR schedule after warm-up"))
    warmup_steps: int = field(default=0, metadata=_help("warm-up optimizer steps"))
    warmup_ratio: float = field(default=0.0, metadata=_help("warm-up as a share of max_steps"))
    grad_clip: float | None = field(default=1.0, metadata=_help("max grad norm; null = off"))

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"optim.lr must be > 0, got {self.lr}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"optim.warmup_ratio must be in [0, 1), got {self.warmup_ratio}")


@dataclass
class TrainConfig:
    """Steps, batch sizes, eval/checkpoint cadence.

    `global_batch_size` counts examples per optimizer step over all processes;
    gradient accumulation = global / (micro x world size) and must be a whole number.
    """

    global_batch_size: int = field(default=32, metadata=_help("examples per optimizer step"))
    micro_batch_size: int = field(default=32, metadata=_help("examples per forward pass"))
    max_steps: int = field(default=100, metadata=_help("optimizer steps"))
    eval_every: int = field(default=50, metadata=_help("eval every N steps; 0 = only at end"))
    save_every: int = field(
        default=0, metadata=_help("checkpoint every N steps; 0 = only at the end; -1 = never")
    )
    save_total_limit: int = field(default=2, metadata=_help("checkpoints kept (rotation)"))
    log_every: int = field(default=10, metadata=_help("log train metrics every N steps"))

    def __post_init__(self) -> None:
        for name in ("global_batch_size", "micro_batch_size", "max_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.global_batch_size % self.micro_batch_size:
            raise ConfigError(
                f"train.global_batch_size ({self.global_batch_size}) must be a multiple of "
                f"train.micro_batch_size ({self.micro_batch_size})"
            )
        if self.save_every < -1 or self.eval_every < 0 or self.log_every < 1:
            raise ConfigError("train.save_every >= -1, eval_every >= 0 and log_every >= 1")
        if self.save_total_limit < 1:
            raise ConfigError("train.save_total_limit must be >= 1")


@dataclass
class EvalConfig:
    """How evaluation runs and which metric picks the best checkpoint."""

    batch_size: int = field(default=64, metadata=_help("eval batch size (recorded in results)"))
    metric: str = field(default="accuracy", metadata=_help("metric that selects the best step"))
    mode: Literal["max", "min"] = field(default="max", metadata=_help("higher or lower is better"))


@dataclass
class RuntimeConfig:
    """Seeds, precision, device and tracking."""

    seed: int = field(default=0, metadata=_help("seed for init, dropout and data order"))
    data_seed: int | None = field(default=None, metadata=_help("data-order seed; null = seed"))
    precision: Precision = field(default="no", metadata=_help("mixed precision"))
    deterministic: bool = field(default=False, metadata=_help("torch deterministic algorithms"))
    cpu: bool = field(default=False, metadata=_help("force CPU even when a GPU is present"))
    tracker: Tracker = field(default="jsonl", metadata=_help("jsonl always; tensorboard adds tb/"))
    num_workers: int = field(default=0, metadata=_help("dataloader worker processes"))


# --------------------------------------------------------------------------------------------
# Pipelines register their top-level config class here (lazily, "module:Class").
# --------------------------------------------------------------------------------------------

PIPELINES: Registry[type] = Registry("pipeline")


def presets_dir(pipeline: str) -> Path:
    """The folder of a pipeline's shipped presets (works in editable installs and wheels)."""
    return Path(str(importlib.resources.files("thunlp_repro.configs"))) / pipeline.replace("-", "_")


def list_presets(pipeline: str) -> list[str]:
    """Names of a pipeline's shipped presets (`mini`, `paper`, ...)."""
    folder = presets_dir(pipeline)
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


# --------------------------------------------------------------------------------------------
# Loading and merging
# --------------------------------------------------------------------------------------------


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of config sections")
    return data


def _preset_chain(
    pipeline: str, preset: str, seen: tuple[str, ...] = ()
) -> list[tuple[str, dict[str, Any]]]:
    """(name, YAML) of the preset and of the presets it `extends:`, base first."""
    path = presets_dir(pipeline) / f"{preset}.yaml"
    if not path.is_file():
        known = list_presets(pipeline)
        raise ConfigError(
            f"unknown preset '{preset}' for {pipeline}{did_you_mean(preset, known)}; "
            f"known: {', '.join(known) or '(none)'}"
        )
    if preset in seen:
        raise ConfigError(f"preset cycle: {' -> '.join((*seen, preset))}")
    data = _read_yaml(path)
    base = data.pop("extends", None)
    chain = _preset_chain(pipeline, base, (*seen, preset)) if base else []
    return [*chain, (preset, data)]


def _is_config_dataclass(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Coerce a YAML/CLI value to the annotated type, or raise a ConfigError naming the key."""
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none", "~")):
            if type(None) in options:
                return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{key}: invalid value {value!r}")
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            raise ConfigError(
                f"{key} must be one of {', '.join(map(str, choices))}, got {value!r}"
                f"{did_you_mean(str(value), [str(c) for c in choices])}"
            )
        return value
    if origin in (list, tuple):
        (inner, *_rest) = get_args(tp) or (Any,)
        if isinstance(value, str):
            value = yaml.safe_load(value) if value.strip().startswith("[") else value.split(",")
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        items = [_coerce(v, inner, key) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "0", "off"):
            return False
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        try:
            as_float = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be an integer, got {value!r}") from None
        if not as_float.is_integer():
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return int(as_float)
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        try:
            return float(value)  # also parses "1e-4", which YAML 1.1 reads as a string
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be a number, got {value!r}") from None
    if tp is str:
        if isinstance(value, dict | list):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return str(value)
    return value


def _merge(
    target: dict[str, Any], source: dict[str, Any], cls: type, where: str, prefix: str = ""
) -> list[str]:
    """Merge `source` into `target` (a nested dict shaped like `cls`), validating keys.

    Returns the log lines of changed values.
    """
    types_ = _field_types(cls)
    changes: list[str] = []
    for key, value in source.items():
        dotted = f"{prefix}{key}"
        if key not in types_:
            raise ConfigError(
                f"unknown config key '{dotted}' in {where}"
                f"{did_you_mean(key, list(types_))}; valid keys here: {', '.join(sorted(types_))}"
            )
        tp = types_[key]
        if _is_config_dataclass(tp):
            if not isinstance(value, dict):
                raise ConfigError(f"'{dotted}' in {where} must be a mapping of {tp.__name__} keys")
            changes += _merge(target[key], value, tp, where, f"{dotted}.")
            continue
        new = _coerce(value, tp, dotted)
        if isinstance(new, tuple):
            new = list(new)
        if target.get(key) != new:
            changes.append(f"override {dotted}: {target.get(key)!r} -> {new!r} ({where})")
        target[key] = new
    return changes


def _set_to_nested(assignment: str) -> dict[str, Any]:
    """'a.b=c' -> {'a': {'b': 'c'}} with the value parsed as YAML (so lists and null work)."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects key=value (e.g. train.max_steps=50), got {assignment!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    nested: dict[str, Any] = {}
    cursor = nested
    parts = key.strip().split(".")
    for part in parts[:-1]:
        cursor = cursor.setdefault(part, {})
    cursor[parts[-1]] = value
    return nested


def _build(cls: type[C], data: dict[str, Any]) -> C:
    types_ = _field_types(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        tp = types_[f.name]
        value = data[f.name]
        if _is_config_dataclass(tp):
            kwargs[f.name] = _build(tp, value)
        elif get_origin(tp) is tuple and isinstance(value, list):
            kwargs[f.name] = tuple(value)
        else:
            kwargs[f.name] = value
    return cls(**kwargs)


def load_config(
    cls: type[C],
    *,
    pipeline: str | None = None,
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    quiet: bool = False,
) -> tuple[C, list[str]]:
    """Resolve a config: defaults < preset < file < --set.

    Args:
        cls: The pipeline's top-level config dataclass.
        pipeline: Pipeline name whose presets live in `configs/<pipeline>/`.
        preset: Preset name (`mini`, `paper`, ...) or None for bare defaults.
        config_file: A user YAML file.
        overrides: `key=value` strings, applied in order.
        quiet: Return the override lines without logging them (re-reading a saved config).

    Returns:
        The config and the list of override log lines.

    Raises:
        ConfigError: unknown key, bad value, missing file or preset.
    """
    data = to_dict(cls())
    log: list[str] = []
    chain: list[tuple[str, dict[str, Any]]] = []
    if preset is not None:
        if pipeline is None:
            raise ConfigError("a preset needs a pipeline name")
        chain = _preset_chain(pipeline, preset)
        for _, layer in chain:
            log += _merge(data, layer, cls, f"preset {preset}")
    user = _read_yaml(Path(config_file)) if config_file is not None else None
    # a --config file may name the preset it layers over (`extends: paper`, as presets do):
    # it must be the chosen preset or one the chosen preset extends
    base = (user or {}).pop("extends", None)
    if base is not None and base not in [name for name, _ in chain]:
        raise ConfigError(f"{config_file} extends preset '{base}' but the preset is '{preset}'; "
                          f"run with --preset {base}")  # fmt: skip
    if user is not None:
        log += _merge(data, user, cls, str(config_file))
    for assignment in overrides:
        log += _merge(data, _set_to_nested(assignment), cls, "--set")
    for line in [] if quiet else log:
        logger.info(line)
    return _build(cls, data), log


def to_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as plain nested dicts/lists (YAML- and JSON-safe)."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(cfg))


def to_yaml(cfg: Any) -> str:
    """A config as YAML with keys in declaration order."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def config_diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dicts."""
    keys = sorted(set(old) | set(new))
    out: list[str] = []
    for key in keys:
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_diff(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out
