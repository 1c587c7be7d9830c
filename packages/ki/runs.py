"""The KI run cache (ki.md §4.6): configs from a preset, runs keyed by config hash, and the
teacher, scratch, KI and chained runs that several experiments share (ki.md §4.7).

`make_cfg` resolves a preset (or its `<preset>-<exp>` variant), with a user's `--config` file and
`--set` overrides layered over it inside `user_settings`. `ensure_run` trains a config unless a
finished run with its hash exists in `runs/ki/<preset>-<tag>-<hash>/`; an unfinished one resumes
from its last checkpoint. E1's teacher and students are built in one place (`ensure_teacher`,
`scratch_run`, `ki_run`, `chain_run`) so E1, E2, E5, E6, E7 and the zoo train each run once.
E7's fine-tunes are cached the same way (`finetune_one`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from thunlp_repro.shared.config import load_config, presets_dir, to_dict


def variant(preset: str, exp: str) -> str:
    """`<preset>-<exp>` when that preset file ships, else `preset`."""
    name = f"{preset}-{exp}"
    return name if (presets_dir("ki") / f"{name}.yaml").is_file() else preset


# (config file, --set list) a user layered over the preset for every run of an experiment
_USER: ContextVar[tuple[str | None, tuple[str, ...]]] = ContextVar("ki_user", default=(None, ()))


@contextmanager
def user_settings(
    config_file: str | Path | None = None, sets: Sequence[str] = ()
) -> Iterator[None]:
    """Layer a `--config` file and `--set` overrides over the preset for every run built inside.

    They apply before each arm's own settings (its schedule, teacher, seed), which must win; a
    setting changes the config hash of each run that uses it, so cached runs are never mixed in.
    """
    token = _USER.set((None if config_file is None else str(config_file), tuple(sets)))
    try:
        yield
    finally:
        _USER.reset(token)


def settings_meta() -> dict[str, Any]:
    """What `user_settings` layered over the preset, for the result file's meta."""
    config_file, sets = _USER.get()
    over = {k: v for k, v in (("config", config_file), ("set", list(sets))) if v}
    return {"user_settings": over} if over else {}


def settings_flags(user: dict[str, Any]) -> str:
    """A result's `meta.user_settings` as the command-line flags that made it ("" for none)."""
    flags = ([f"--config {user['config']}"] if "config" in user else []) + [
        f"--set {s}" for s in user.get("set", [])]  # fmt: skip
    return " ".join(flags)


def make_cfg(preset: str, exp: str = "", overrides: list[str] | tuple[str, ...] = ()) -> Any:
    from thunlp_repro.ki.config import KIConfig

    config_file, sets = _USER.get()
    cfg, _ = load_config(KIConfig, pipeline="ki", preset=variant(preset, exp) if exp else preset,
                         config_file=config_file, overrides=[*sets, *overrides])  # fmt: skip
    return cfg


def ensure_run(cfg: Any, preset: str, tag: str, overwrite: bool = False) -> tuple[dict, Path]:
    """Train `cfg` unless a finished run with the same config hash exists; (metrics, run path)."""
    from thunlp_repro.ki.pipeline import run_pretrain
    from thunlp_repro.shared.io import read_json
    from thunlp_repro.shared.rundir import RunDir

    name = run_name(cfg, preset, tag)
    run, finished = RunDir.reuse_or_start("ki", cfg, name, overwrite=overwrite)
    if not finished:
        run_pretrain(cfg, run, resume="auto" if run.resumed else None, preset=preset, label=tag,
                     table="pretrain")  # fmt: skip
    saved = read_json(run.results_path)
    # provenance for the report's T8: the run folder (its name ends in the config hash), seed;
    # the device keeps wall-clock comparisons to runs made on the same kind of device
    return {**saved["metrics"], "run": run.path.name, "seed": cfg.runtime.seed,
            "device": saved.get("eval_info", {}).get("device")}, run.path  # fmt: skip


def run_name(cfg: Any, preset: str, tag: str) -> str:
    """`<preset>-<tag>-<config hash>`, or the folder of the same run saved under an older key.

    Keys once hashed settings a run ignores (before 2026-11-27): a saved run whose config hashes
    to `cfg`'s key today keeps its folder, so it and the fine-tunes keyed by it stay cached.
    """
    from thunlp_repro.ki.config import KIConfig
    from thunlp_repro.ki.pipeline import config_hash
    from thunlp_repro.shared.errors import ConfigError
    from thunlp_repro.shared.paths import runs_root

    key, root = config_hash(cfg), runs_root() / "ki"
    name = f"{preset}-{tag}-{key}"
    if (root / name).is_dir():
        return name
    for old in sorted(root.glob(f"{preset}-{tag}-{'?' * len(key)}/config.yaml")):
        try:
            if config_hash(load_config(KIConfig, config_file=old, quiet=True)[0]) == key:
                return old.parent.name
        except ConfigError:  # saved by an older schema: not this run
            continue
    return name


def teacher_sets(cfg: Any) -> list[str]:
    e = cfg.exp
    return [
        f"train.max_steps={e.teacher_steps}",
        f"train.eval_every={e.teacher_eval_every}",
        "ki.schedule=none",
        "teacher.name=null",
        f"runtime.seed={e.teacher_seed}",
        "keep_best=true",
    ]


def ensure_teacher(
    preset: str,
    arch: str,
    *,
    corpus: str | None = None,
    fraction: float = 1.0,
    steps: int | None = None,
    overwrite: bool = False,
) -> tuple[str, dict]:
    """Pre-train a teacher, keeping its best own-PPL checkpoint (ki.md §4.5); (folder, metrics)."""
    base = make_cfg(preset)
    sets = teacher_sets(base) + [f"model.arch={arch}", f"data.train_fraction={fraction}"]
    if corpus:
        sets.append(f"data.corpus={corpus}")
    if steps:
        sets.append(f"train.max_steps={steps}")
    cfg = make_cfg(preset, "", sets)
    tag = f"teacher-{arch}" + (f"-{corpus}" if corpus else "") + (
        f"-frac{fraction:g}" if fraction < 1 else "")  # fmt: skip
    metrics, path = ensure_run(cfg, preset, tag, overwrite)
    best = path / "best"
    return str(best if (best / "config.json").is_file() else path / "export"), metrics


def scratch_run(preset: str, arch: str, seed: int, overwrite: bool = False) -> tuple[dict, Path]:
    """A scratch (self-learning) run of `arch`: E1's baseline, E5's G3 scratch, E6's starting
    point and the zoo's ladder all come from here, so each trains once."""
    cfg = make_cfg(preset)
    if arch == cfg.model.arch:
        tag = f"scratch-s{seed}"
    else:
        tag = f"g3-scratch-s{seed}" if arch == cfg.exp.g3_arch else f"ladder-{arch}-s{seed}"
    c = make_cfg(preset, "", ["ki.schedule=none", "teacher.name=null", f"model.arch={arch}",
                              f"runtime.seed={seed}"])  # fmt: skip
    return ensure_run(c, preset, tag, overwrite)


def ki_run(preset: str, seed: int, teacher: str, overwrite: bool = False) -> tuple[dict, Path]:
    """E1's KI student for one seed (G2 of E5, E7's checkpoint, the zoo's ki-mini-student)."""
    c = make_cfg(preset, "", [f"teacher.name={teacher}", f"runtime.seed={seed}"])
    return ensure_run(c, preset, f"ki-s{seed}", overwrite)


def student_runs(
    preset: str, exp: str, sets: list[str], tag: str, overwrite: bool = False
) -> list[dict]:
    """The student run for each seed of the preset."""
    cfg0 = make_cfg(preset, exp)
    out = []
    for seed in cfg0.exp.seeds:
        cfg = make_cfg(preset, exp, [*sets, f"runtime.seed={seed}"])
        out.append(ensure_run(cfg, preset, f"{tag}-s{seed}", overwrite)[0])
    return out


def chain_run(
    preset: str, seed: int, g2: Path, overwrite: bool = False, tag: str = "g3-chain"
) -> tuple[dict, Path]:
    """E5's G3: the preset's `exp.g3_arch` with KI from the G2 run folder `g2` (the zoo's
    ki-mini-student-6x384 is seed 0; M12's control learns from G2-scratch)."""
    cfg = make_cfg(preset)
    c = make_cfg(preset, "", [f"teacher.name={g2}", f"model.arch={cfg.exp.g3_arch}",
                              f"runtime.seed={seed}"])  # fmt: skip
    return ensure_run(c, preset, f"{tag}-s{seed}", overwrite)


def finetune_cfg(preset: str, model_dir: str, task: str, seed: int, cfg: Any, lr: float) -> Any:
    """E7's recipe (ki.md §4.7) for one checkpoint, task and seed, as a shared fine-tune config."""
    from thunlp_repro.shared.finetune import FinetuneConfig

    steps = max(1, cfg.exp.finetune_epochs * cfg.exp.finetune_train_limit // 32)
    fcfg, _ = load_config(
        FinetuneConfig,
        pipeline="finetune",
        preset="smoke" if preset == "smoke" else "mini",
        overrides=[
            f"model.name={model_dir}",
            f"data.task={task}",
            f"runtime.seed={seed}",
            f"data.train_limit={cfg.exp.finetune_train_limit}",
            f"optim.lr={lr}",
            "train.global_batch_size=32",
            "train.micro_batch_size=32",
            f"train.max_steps={steps}",
            f"train.eval_every={max(1, steps // cfg.exp.finetune_epochs)}",
            "optim.warmup_ratio=0.06",
            "data.max_length=" + ("32" if task == "trec" else "64"),
            "train.save_every=-1",
        ],
    )
    return fcfg


def finetune_key(fcfg: Any) -> str:
    """The fine-tune's cache key: its config with the checkpoint named `<run folder>/<sub-folder>`.

    The run folder's name ends in the pre-training run's config hash, so a retrained checkpoint
    never reuses an old fine-tune, wherever the runs root lies.
    """
    from thunlp_repro.ki.pipeline import dict_hash

    d = to_dict(fcfg)
    ckpt = Path(d["model"]["name"])
    d["model"]["name"] = f"{ckpt.parent.name}/{ckpt.name}"
    return dict_hash(d)


def finetune_one(preset: str, model_dir: str, task: str, seed: int, tag: str, cfg: Any,
                 lr: float) -> dict:  # fmt: skip
    """Fine-tune a saved MLM checkpoint on a registered task through the shared pipeline."""
    from thunlp_repro.shared.finetune import run_finetune
    from thunlp_repro.shared.io import read_json
    from thunlp_repro.shared.rundir import RunDir

    fcfg = finetune_cfg(preset, model_dir, task, seed, cfg, lr)
    name = f"ft-{preset}-{tag}-{task}-s{seed}-{finetune_key(fcfg)}"
    run, finished = RunDir.reuse_or_start("ki", fcfg, name)
    if finished:
        return read_json(run.results_path)["metrics"]
    return run_finetune(fcfg, run, resume="auto" if run.resumed else None, preset=preset)
