"""`PromptTransferConfig`: the Prompt Transferability pipeline's typed config.

Reproduces: prompt_transfer.md §2.5 (the prompt-tuning keys), §2.6 (`head`), §4.3 (mini
hyperparameters) and §4.4 (`smoke`). Shared blocks (model, optim, train, eval, runtime) come from
`thunlp_repro.shared.config`; this paper adds the soft prompt (`prompt`), its data handling
(`data`) and the experiment plan (`exp`).
Presets: `configs/prompt_transfer/{mini,smoke,paper}.yaml`.
No torch imports here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from thunlp_repro.shared.config import (
    EvalConfig,
    ModelConfig,
    OptimConfig,
    RuntimeConfig,
    TrainConfig,
)
from thunlp_repro.shared.errors import ConfigError

MaskSlot = Literal["prompt0", "after_prompt"]
Positions = Literal["zero", "sequential"]
HeadKind = Literal["restored", "tied", "native", "mlm-adapt"]
INIT_KINDS = ("random", "vocab", "labels")


def _h(text: str) -> dict[str, str]:
    return {"help": text}


def _backbone_default() -> ModelConfig:
    return ModelConfig(name="minilm-l6", head="masked-lm")


def _optim_default() -> OptimConfig:
    # §2.4 / §4.3: AdamW on the prompt only, constant LR, no warm-up, no clipping, no decay.
    return OptimConfig(lr=0.1, weight_decay=0.0, scheduler="constant", grad_clip=None)


def _train_default() -> TrainConfig:
    return TrainConfig(
        global_batch_size=16,
        micro_batch_size=16,
        max_steps=250,
        eval_every=25,
        save_every=-1,
        log_every=25,
    )


@dataclass
class PromptConfig:
    """The soft prompt and how it enters the frozen backbone (§2.5)."""

    length: int = field(default=20, metadata=_h("trainable prompt vectors n"))
    mask_slot: MaskSlot = field(
        default="prompt0", metadata=_h("prompt0: mask embedding in slot 0 (paper); after_prompt")
    )
    positions: Positions = field(
        default="zero", metadata=_h("zero: prompt slots carry no position vector (paper)")
    )
    init: str = field(
        default="random",
        metadata=_h("random | vocab | labels | from_prompt:<prompt.safetensors>"),
    )
    init_std: float = field(default=0.02, metadata=_h("std of the random init N(0, std^2)"))
    head: HeadKind = field(
        default="restored", metadata=_h("restored | tied | native | mlm-adapt (§2.6)")
    )
    backbone_dropout: Literal["on", "off"] = field(
        default="off", metadata=_h("off: backbone in eval mode during PT (mini)")
    )
    vocab_top: int = field(default=5000, metadata=_h("init=vocab draws from this many tokens"))
    allow_identity: bool = field(
        default=False,
        metadata=_h("from_prompt: admit another backbone of the same width and tokenizer"),
    )

    def __post_init__(self) -> None:
        if self.length < 1:
            raise ConfigError(f"prompt.length must be >= 1, got {self.length}")
        if self.init_std <= 0:
            raise ConfigError(f"prompt.init_std must be > 0, got {self.init_std}")
        kind = self.init.split(":", 1)[0]
        if kind not in (*INIT_KINDS, "from_prompt"):
            raise ConfigError(
                f"prompt.init '{self.init}' is not one of random, vocab, labels, from_prompt:<path>"
            )
        if kind == "from_prompt" and not self.init.split(":", 1)[1:]:
            raise ConfigError("prompt.init=from_prompt needs a path: from_prompt:<file>")


@dataclass
class PTDataConfig:
    """Splits and limits of the tasks (the task registry owns construction and label words)."""

    split_seed: int = field(default=13, metadata=_h("seed of the train/dev/test split"))
    train_limit: int | None = field(default=None, metadata=_h("cap on training examples"))
    dev_eval_size: int = field(default=200, metadata=_h("fixed dev subset for selection"))
    test_limit: int | None = field(default=None, metadata=_h("cap on test examples"))
    max_length: int | None = field(
        default=None, metadata=_h("tokens per text; null = the task's max_text_tokens")
    )
    verbalizer: str = field(default="default", metadata=_h("label-word style of the registry"))


@dataclass
class HeadBuildConfig:
    """The restored head when the `NAME-mlm` asset is missing (built by the shared recipe)."""

    tokens: int | None = field(
        default=None, metadata=_h("masking-draw tokens; null = the asset recipe (1M)")
    )
    eval_tokens: int | None = field(default=None, metadata=_h("held-out tokens; null = 100k"))
    use_asset: bool = field(
        default=True, metadata=_h("reuse an installed NAME-mlm asset when tokens is null")
    )


@dataclass
class ExpConfig:
    """What the stages cover: tasks, seeds, random baselines, TPT arms (§4.3)."""

    tasks: list[str] = field(
        default_factory=lambda: [
            "sent-movie",
            "sent-tweet",
            "sent-amazon",
            "sent-nyt",
            "nli-news",
            "nli-dialog",
            "para-news",
            "para-dialog",
            "trec",
            "bbc",
            "sms",
        ]
    )
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    random_draws: int = field(default=3, metadata=_h("draws of rand-init and rand-uniform"))
    bootstrap: int = field(default=1000, metadata=_h("bootstrap resamples over targets"))
    tpt_cross: list[str] = field(
        default_factory=lambda: ["sent-nyt", "nli-dialog", "para-dialog"],
        metadata=_h("targets of the tpt-cross control arm"),
    )
    tpt_targets: list[str] | None = field(
        default=None, metadata=_h("tpt-task targets; null = every task with a family partner")
    )
    eval_batch_size: int = field(default=64, metadata=_h("matrix evaluation batch"))

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ConfigError("exp.tasks is empty")
        if len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"exp.tasks lists a task twice: {self.tasks}")
        if not self.seeds:
            raise ConfigError("exp.seeds is empty")
        if self.random_draws < 1:
            raise ConfigError("exp.random_draws must be >= 1")


@dataclass
class PromptTransferConfig:
    """Top-level config of `thunlp-repro prompt-transfer`."""

    model: ModelConfig = field(default_factory=_backbone_default)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    data: PTDataConfig = field(default_factory=PTDataConfig)
    head_build: HeadBuildConfig = field(default_factory=HeadBuildConfig)
    optim: OptimConfig = field(default_factory=_optim_default)
    train: TrainConfig = field(default_factory=_train_default)
    eval: EvalConfig = field(default_factory=EvalConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    exp: ExpConfig = field(default_factory=ExpConfig)
    task: str = field(default="sent-movie", metadata=_h("task of a single `train` run"))
