"""`KIConfig`: the KI pipeline's typed config (ki.md §2.8 defaults, §4.5 recipe, §8.3 CLI).

Shared blocks (optim, train, eval, runtime) come from `thunlp_repro.shared.config`; KI adds the
student (`model`), the `teacher`, the inheritance schedule (`ki`), the corpus and masking
(`data`), the experiment budgets (`exp`) and the GPT arm's teacher logits (`gpt`, §4.8).
Presets: `configs/ki/{smoke,mini,paper}.yaml` and
per-experiment variants `<preset>-<exp>.yaml` that `extends:` them. No torch imports here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from thunlp_repro.shared.config import EvalConfig, OptimConfig, RuntimeConfig, TrainConfig
from thunlp_repro.shared.errors import ConfigError


def _h(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class StudentConfig:
    """The model trained: an arch id (fresh init) or, with `init`, a checkpoint to continue."""

    arch: str = field(default="s-4x256", metadata=_h("arch id (thunlp-repro list ki)"))
    init: str | None = field(
        default=None, metadata=_h("continue from this HF folder / zoo name (E6); null = fresh")
    )
    dropout: float = field(default=0.1, metadata=_h("hidden and attention dropout"))


@dataclass
class TeacherConfig:
    """The frozen teacher: a zoo name, an HF MLM folder, a run folder, or `random:<arch>`."""

    name: str | None = field(
        default="ki-mini-teacher",
        metadata=_h("ki-mini-* zoo name, folder with config.json, hub id, or random:<arch>"),
    )


@dataclass
class KIBlock:
    """The inheritance schedule (ki.md §2.2-§2.3)."""

    schedule: str = field(default="linear-decay", metadata=_h("registry ki.schedules key"))
    alpha0: float = field(default=1.0, metadata=_h("initial weight α_0"))
    stop_step: int | None = field(default=None, metadata=_h("T; null = stop_ratio · max_steps"))
    stop_ratio: float = field(default=0.44, metadata=_h("T / S when stop_step is null"))
    temperature: float = field(default=2.0, metadata=_h("τ; τ² scales the KD term"))

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ConfigError(f"ki.temperature must be > 0, got {self.temperature}")
        if not 0.0 <= self.alpha0 <= 1.0:
            raise ConfigError(f"ki.alpha0 must be in [0, 1], got {self.alpha0}")


@dataclass
class KIDataConfig:
    """Corpus, tokenizer, blocks and masking."""

    corpus: str = field(default="general", metadata=_h("shared.corpora key for training"))
    tokenizer: str = field(default="minilm-l6", metadata=_h("minilm-l6 | tiny | a model name"))
    block_size: int = field(default=128, metadata=_h("tokens per block ([CLS] ... [SEP])"))
    max_train_tokens: int | None = field(default=None, metadata=_h("cap on training tokens"))
    train_fraction: float = field(default=1.0, metadata=_h("keep this share of train blocks"))
    val_blocks: int = field(default=96, metadata=_h("validation blocks per domain"))
    extra_val: list[str] = field(
        default_factory=list, metadata=_h("other corpora also scored (E6 forgetting)")
    )
    holdout_seed: int = field(default=0, metadata=_h("seed of the held-out units"))
    mask_rate: float = 0.15
    mask_keep: float = 0.1
    mask_random: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.mask_rate < 1:
            raise ConfigError(f"data.mask_rate must be in (0, 1), got {self.mask_rate}")
        if not 0 < self.train_fraction <= 1:
            raise ConfigError("data.train_fraction must be in (0, 1]")


@dataclass
class GPTArmConfig:
    """The GPT-style arm (ki.md §4.8): how the causal student receives its teacher's logits."""

    kd: Literal["topk-cache", "full-live"] = field(
        default="topk-cache",
        metadata=_h("topk-cache: cached top-k + tail bucket; full-live: live teacher, full KL"),
    )
    topk: int = field(default=128, metadata=_h("k of the cached teacher logits"))
    pool_blocks: int | None = field(
        default=None, metadata=_h("fixed training pool; null = max_steps x global_batch_size")
    )
    cache_batch: int = field(default=8, metadata=_h("blocks per teacher forward when caching"))
    check_ks: list[int] = field(
        default_factory=lambda: [32, 64, 128, 256], metadata=_h("k values of the top-k check")
    )
    check_sequences: int = field(default=8, metadata=_h("held-out sequences of the top-k check"))
    check_seed: int = field(default=1, metadata=_h("seed drawing the top-k check sequences"))
    snapshot_ratio: float = field(
        default=0.5, metadata=_h("save the student at this share of S for the mid-run check")
    )

    def __post_init__(self) -> None:
        if self.topk < 1 or self.cache_batch < 1 or self.check_sequences < 1:
            raise ConfigError(
                "gpt.topk, gpt.cache_batch and gpt.check_sequences must be >= 1, got "
                f"{self.topk}, {self.cache_batch}, {self.check_sequences}"
            )
        if self.pool_blocks is not None and self.pool_blocks < 1:
            raise ConfigError(f"gpt.pool_blocks must be >= 1 or null, got {self.pool_blocks}")
        if not self.check_ks or min(self.check_ks) < 1:
            raise ConfigError(f"gpt.check_ks must be a non-empty list of k >= 1, got "
                              f"{self.check_ks}")  # fmt: skip
        if not 0.0 < self.snapshot_ratio < 1.0:
            raise ConfigError(f"gpt.snapshot_ratio must be in (0, 1), got {self.snapshot_ratio}")


@dataclass
class ExperimentConfig:
    """Budgets and arms of the registered experiments (ki.md §4.6-§4.7)."""

    seeds: list[int] = field(default_factory=lambda: [0, 1], metadata=_h("seeds per claim"))
    teacher_arch: str = field(default="t-2x128", metadata=_h("default teacher G1"))
    teacher_steps: int = field(default=2000, metadata=_h("teacher pre-training steps"))
    teacher_seed: int = field(default=0, metadata=_h("fixed teacher seed"))
    teacher_eval_every: int = field(default=100, metadata=_h("teacher eval cadence (best kept)"))
    stops: list[int] = field(default_factory=lambda: [200, 440, 800], metadata=_h("E2 T values"))
    teachers: list[str] = field(
        default_factory=lambda: ["t-1x128", "t-2x128", "t-4x128", "t-2x64", "t-2x192", "t-4x96"],
        metadata=_h("E3 teacher archs"),
    )
    small_data_fraction: float = field(default=0.125, metadata=_h("E4 1/8-data teacher"))
    ood_corpus: str = field(default="news", metadata=_h("E4 out-of-domain teacher corpus"))
    domain_corpus: str = field(default="news", metadata=_h("E6 new domain"))
    domain_steps: int = field(default=400, metadata=_h("E6 continued pre-training steps"))
    domain_lr: float = field(default=5e-4, metadata=_h("E6 peak LR"))
    domain_teacher_steps: int = field(default=800, metadata=_h("E6 domain-teacher steps"))
    g3_arch: str = field(default="s-6x384", metadata=_h("E5 generation-3 student"))
    g3_control: bool = field(
        default=False, metadata=_h("E5: also G3 with KI from G2-scratch (M12's control)")
    )
    tasks: list[str] = field(
        default_factory=lambda: ["trec", "sent-movie"], metadata=_h("E7 downstream tasks")
    )
    domain_task: str = field(default="bbc", metadata=_h("E7 task of the E6 arms"))
    finetune_epochs: int = field(default=3, metadata=_h("E7 epochs"))
    finetune_lr: float = field(default=1e-4, metadata=_h("E7 peak LR"))
    finetune_lr_g3: float = field(default=5e-5, metadata=_h("E7 peak LR of the G3 students"))
    finetune_train_limit: int = field(default=2000, metadata=_h("E7 train examples"))


@dataclass
class KIConfig:
    """Top-level config of `thunlp-repro ki`."""

    model: StudentConfig = field(default_factory=StudentConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    ki: KIBlock = field(default_factory=KIBlock)
    data: KIDataConfig = field(default_factory=KIDataConfig)
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(
            lr=7e-4, beta1=0.9, beta2=0.98, eps=1e-6, weight_decay=0.01, warmup_ratio=0.088,
            scheduler="linear", grad_clip=1.0,
        )
    )  # fmt: skip
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            global_batch_size=16, micro_batch_size=16, max_steps=1000, eval_every=50,
            save_every=0, log_every=10,
        )
    )  # fmt: skip
    eval: EvalConfig = field(
        default_factory=lambda: EvalConfig(batch_size=32, metric="ppl", mode="min")
    )
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    exp: ExperimentConfig = field(default_factory=ExperimentConfig)
    gpt: GPTArmConfig = field(default_factory=GPTArmConfig)
    keep_best: bool = field(
        default=False, metadata=_h("export the best-PPL checkpoint to best/ (teachers)")
    )
    objective: Literal["mlm", "causal"] = field(default="mlm", metadata=_h("mlm | causal (GPT)"))

    def __post_init__(self) -> None:
        from thunlp_repro.ki.inheritance import SCHEDULES

        if self.ki.schedule not in SCHEDULES:
            SCHEDULES.get(self.ki.schedule)  # raises with "did you mean"
        sched = SCHEDULES.get(self.ki.schedule)
        if sched.needs_stop and self.stop_step() < 1:
            raise ConfigError(
                f"ki.stop_step (T) must be >= 1 with schedule {self.ki.schedule}, "
                f"got {self.stop_step()}"
            )
        if self.objective == "causal":
            from thunlp_repro.ki.archs import ARCHS

            family = ARCHS.get(self.model.arch).family
            if family != "llama" and not self.model.init:
                raise ConfigError(
                    f"objective=causal needs a llama arch (llama-*), got {self.model.arch} "
                    f"({family})"
                )
        if sched.uses_teacher and not self.teacher.name:
            raise ConfigError(
                f"schedule {self.ki.schedule} needs teacher.name (a zoo name, a folder, or "
                "random:<arch>); use ki.schedule=none for the scratch baseline"
            )

    def stop_step(self) -> int:
        """T: `ki.stop_step`, else round(stop_ratio · max_steps)."""
        if self.ki.stop_step is not None:
            return int(self.ki.stop_step)
        return int(round(self.ki.stop_ratio * self.train.max_steps))
