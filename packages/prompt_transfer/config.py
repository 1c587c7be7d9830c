"""`PromptTransferConfig`: the Prompt Transferability pipeline's typed config.

Reproduces: prompt_transfer.md §2.5 (the prompt-tuning keys), §2.6 (`head`), §2.9 (projector),
§2.10 (indicators), §4.3 (mini hyperparameters) and §4.4 (`smoke`). Shared blocks (model,
optim, train, eval, runtime) come from `thunlp_repro.shared.config`; this paper adds the soft
prompt (`prompt`), its data handling (`data`), the experiment plan (`exp`) and the projector
stage (`project`).
Presets: `configs/prompt_transfer/{mini,smoke,quick,paper}.yaml`.
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
PROJECTOR_MODES = ("task", "distance")
PT_OVERRIDE_KEYS = ("max_steps", "eval_every", "max_length", "lr")
PAIRS = (
    "minilm-l6->mpnet-base",  # §4.3 projector (384 -> 768, like the paper's base -> large)
    "minilm-l3->minilm-l6",  # §4.3 cross-depth: projector beside the identity map
    "minilm-l6->minilm-l6",  # §4.4 smoke: one L6 -> L6 projector step (plumbing only)
    "roberta-base->roberta-large",  # §3.3 paper projector runs
    "bert-base-uncased->roberta-base",  # §1 official BERT-base -> RoBERTa-base setup
)
"""Backbone pairs the `project` stage accepts (MLM backbones with a verbalizer head)."""


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
    ki_backbones: list[str] = field(
        default_factory=lambda: [
            f"ki-mini-{n}" for n in ("ladder-s", "ladder-m", "ladder-l", "student")
        ],
        metadata=_h("KI zoo encoders of the ki-arm stage (native MLM heads; unbuilt: not run)"),
    )

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ConfigError("exp.tasks is empty")
        if len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"exp.tasks lists a task twice: {self.tasks}")
        if not self.seeds:
            raise ConfigError("exp.seeds is empty")
        if self.random_draws < 1:
            raise ConfigError("exp.random_draws must be >= 1")


def _mini_pt_overrides() -> dict[str, dict[str, float]]:
    # §4.3: MPNet's own prompts get 200 steps, a dev evaluation every 50, max 40 tokens
    return {"mpnet-base": {"max_steps": 200, "eval_every": 50, "max_length": 40}}


@dataclass
class ProjectConfig:
    """The `project` stage: cross-model projector pairs and the cross-depth check (§2.9, §4.3)."""

    pairs: list[str] = field(
        default_factory=lambda: ["minilm-l6->mpnet-base", "minilm-l3->minilm-l6"],
        metadata=_h("SOURCE->TARGET backbone pairs (accepted: PAIRS above)"),
    )
    gate_pair: str = field(
        default="minilm-l6->mpnet-base", metadata=_h("the pair gates M8 and M9 read")
    )
    train_tasks: list[str] = field(
        default_factory=lambda: ["sent-movie", "sent-amazon"],
        metadata=_h("F_train: the projector's training tasks, all of one family"),
    )
    eval_tasks: list[str] = field(
        default_factory=lambda: [
            "sent-movie",
            "sent-amazon",
            "sent-tweet",
            "sent-nyt",
            "trec",
            "nli-news",
        ],  # fmt: skip
        metadata=_h("targets scored through the projector (training, held-out, other family)"),
    )
    modes: list[str] = field(
        default_factory=lambda: list(PROJECTOR_MODES),
        metadata=_h("task (verbalized CE through the frozen target) and/or distance"),
    )
    seed: int | None = field(default=None, metadata=_h("the one seed; null = exp.seeds[0]"))
    hidden: int = field(default=768, metadata=_h("projector hidden width h"))
    steps: int = field(default=200, metadata=_h("projector optimiser steps (both modes)"))
    batch_size: int = field(default=16, metadata=_h("task-tuning examples per step"))
    lr: float = field(default=5e-3, metadata=_h("AdamW LR (eps 1e-6), official projector"))
    verbalizer: Literal["own", "union"] = field(
        default="own", metadata=_h("own: each example's task words; union: one softmax")
    )
    tpt_model: bool = field(
        default=True,
        metadata=_h("also run tpt-model: B's PT on each eval task from the task-tuned g(P^A_t)"),
    )
    pt: dict[str, dict[str, float]] = field(
        default_factory=_mini_pt_overrides,
        metadata=_h("PT overrides per non-study backbone: max_steps, eval_every, max_length, lr"),
    )

    def __post_init__(self) -> None:
        if not self.pairs:
            raise ConfigError("project.pairs is empty")
        unknown = [p for p in self.pairs if p not in PAIRS]
        if unknown:
            raise ConfigError(
                f"unknown backbone pair '{unknown[0]}' in project.pairs; accepted: "
                f"{', '.join(PAIRS)}"
            )
        if self.gate_pair not in self.pairs:
            raise ConfigError(
                f"project.gate_pair '{self.gate_pair}' is not among project.pairs: "
                f"{', '.join(self.pairs)}"
            )
        bad = [m for m in self.modes if m not in PROJECTOR_MODES]
        if bad or not self.modes:
            raise ConfigError(
                f"project.modes {self.modes} must be a non-empty subset of task, distance"
            )
        missing = [t for t in self.train_tasks if t not in self.eval_tasks]
        if not self.train_tasks or missing:
            raise ConfigError(
                "project.train_tasks must be a non-empty subset of project.eval_tasks"
                + (f"; missing: {', '.join(missing)}" if missing else "")
            )
        if min(self.steps, self.batch_size, self.hidden) < 1 or self.lr <= 0:
            raise ConfigError("project.steps, batch_size and hidden must be >= 1 and lr > 0")
        for name, over in self.pt.items():
            unknown = [k for k in over if k not in PT_OVERRIDE_KEYS]
            if unknown:
                raise ConfigError(
                    f"project.pt.{name}: unknown key(s) {', '.join(unknown)}; "
                    f"accepted: {', '.join(PT_OVERRIDE_KEYS)}"
                )


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
    project: ProjectConfig = field(default_factory=ProjectConfig)
    task: str = field(default="sent-movie", metadata=_h("task of a single `train` run"))
