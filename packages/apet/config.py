"""APET pipeline configuration: one cell's settings plus the study grid (apet.md §4.5-§4.7, §3.6).

A *cell* is one training run (model, task, method, budget, pool, s_pos, s_data); `APETConfig`
holds the shared blocks for it (the `train` verb) and a `study` block that the `sweep` verb
expands into cells (E1 positions, E2 methods, E3 budget sweep). Presets: `smoke` (CI plumbing),
`quick` / `mini` (the `quick` and `full` profiles of §4.7) and `paper` (hub models, §3).
This module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from thunlp_repro.shared.config import (
    DataConfig,
    EvalConfig,
    ModelConfig,
    OptimConfig,
    RuntimeConfig,
    TrainConfig,
)
from thunlp_repro.shared.errors import ConfigError, UsageError
from thunlp_repro.shared.registry import did_you_mean

METHOD_NAMES = ("prompt", "prefix", "lora", "adapter", "bitfit", "ft", "apet-element",
                "apet-tensor", "linear-probe")  # fmt: skip
"""Methods a cell may name; `linear-probe` is the reference row (trainable head, 0 backbone)."""

MATCHED = ("prompt", "bitfit", "lora", "adapter")
"""The four PET methods whose budgets APET is matched to (§4.5)."""

# spelled as `pools.parse_pool` accepts them: the E1 plan passes them on as `cell.pool`
STRUCTURED_POOLS = ("low", "mid", "high", "module=attn", "module=ffn", "module=norm_bias")
POOLS = ("layers", "all", "linear", *STRUCTURED_POOLS)
EXPERIMENTS = ("e1", "e2", "e3")
PROFILES = {"smoke": "smoke", "quick": "quick", "full": "mini"}
"""`--profile` -> preset (§4.7: smoke is a preset; quick and full are profiles of mini)."""

DEFAULT_LR = {"ft": 1e-4, "lora": 1e-3, "adapter": 1e-3, "bitfit": 3e-3, "prompt": 3e-2,
              "prefix": 1e-2, "apet-element": 3e-3, "apet-tensor": 1e-3,
              "linear-probe": 1e-2}  # fmt: skip


def check_choice(kind: str, value: str, accepted: tuple[str, ...] | list[str]) -> str:
    """`value` if it is in `accepted`, else UsageError naming it and what is accepted."""
    if value not in accepted:
        raise UsageError(f"unknown {kind} '{value}'{did_you_mean(value, list(accepted))}; "
                         f"accepted: {', '.join(accepted)}")  # fmt: skip
    return value


@dataclass
class CellConfig:
    """The method of one cell (apet.md §2.2, §4.4)."""

    method: str = field(default="apet-element", metadata={"help": "one of METHOD_NAMES"})
    budget: int | None = field(default=None, metadata={"help": "L for apet-*; null = own size"})
    match: str | None = field(default=None, metadata={"help": "apet-*: L = this method's count"})
    pool: str = field(default="layers", metadata={"help": "apet-element pool (§2.5)"})
    impl: Literal["delta", "gradmask"] = "delta"
    s_pos: int = field(default=1, metadata={"help": "position seed"})
    head: Literal["frozen-random", "trainable"] = "frozen-random"
    head_scale: float = field(default=20.0, metadata={"help": "logit scale of the frozen head"})
    s_head: int = 0
    prompt_length: int = 20
    prefix_length: int = 10
    lora_rank: int = 8
    lora_alpha: int = 16
    adapter_bottleneck: int = 24
    dropout: float | None = field(default=None, metadata={"help": "null: 0 APET, 0.1 others"})

    def __post_init__(self) -> None:
        check_choice("method", self.method, METHOD_NAMES)
        if self.match is not None:
            check_choice("match method", self.match, MATCHED)
        if not (self.pool in POOLS or self.pool.startswith("layers[")):
            check_choice("pool", self.pool, POOLS)
        if self.budget is not None and self.budget < 1:
            raise ConfigError(f"cell.budget must be >= 1, got {self.budget}")


@dataclass
class StudyConfig:
    """The study grid the `sweep` verb expands into cells (§4.7)."""

    ladder_r: list[str] = field(default_factory=lambda: ["minilm-l3", "minilm-l6"])
    ladder_k: list[str] = field(
        default_factory=lambda: ["ki-mini-ladder-s", "ki-mini-ladder-m", "ki-mini-ladder-l"]
    )
    ladders: list[str] = field(default_factory=lambda: ["R", "K"])
    tasks: list[str] = field(default_factory=lambda: ["sent-movie", "trec", "nli-news"])
    experiments: list[str] = field(default_factory=lambda: list(EXPERIMENTS))
    budgets_log2: list[int] = field(default_factory=lambda: [4, 6, 8, 10, 12, 14, 16, 18])
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    pos_seeds: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    e1_tasks: list[str] = field(default_factory=lambda: ["sent-movie", "nli-news"])
    e1_matched: list[str] = field(default_factory=lambda: ["bitfit", "lora"])
    # module=norm_bias is accepted but not run by default: the LayerNorm and bias parameters
    # (14,976 on MiniLM-L3) cannot hold E1's LoRA-matched budget (36,864), so the spec's sixth
    # pool is infeasible at that budget; R_struct spans the other five
    structured_pools: list[str] = field(
        default_factory=lambda: [p for p in STRUCTURED_POOLS if p != "module=norm_bias"]
    )
    e2_methods: list[str] = field(
        default_factory=lambda: ["prompt", "prefix", "lora", "adapter", "bitfit"]
    )
    e2_tensor_matched: list[str] = field(default_factory=lambda: ["lora", "adapter"])
    lr: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_LR))
    bootstrap: int = field(default=1000, metadata={"help": "threshold bootstrap draws"})
    compare_bootstrap: int = field(default=2000, metadata={"help": "comparison draws"})
    max_minutes: float | None = field(default=None, metadata={"help": "refuse longer plans"})
    probe_steps: int = 10
    paper_families: dict[str, list[str]] = field(
        default_factory=dict, metadata={"help": "paper preset: family -> hub ids, small first"}
    )
    paper_tasks: list[str] = field(default_factory=list, metadata={"help": "paper preset tasks"})
    gpu_step_s: dict[str, float] = field(
        default_factory=dict, metadata={"help": "paper preset: est. seconds per step per model"}
    )

    def __post_init__(self) -> None:
        for e in self.experiments:
            check_choice("experiment", e, EXPERIMENTS)
        for m in self.e2_methods:
            check_choice("method", m, METHOD_NAMES)
        for m in (*self.e1_matched, *self.e2_tensor_matched):
            check_choice("match method", m, MATCHED)
        for p in self.structured_pools:
            check_choice("pool", p, STRUCTURED_POOLS)
        for lad in self.ladders:
            check_choice("ladder", lad, ("R", "K"))
        if len(self.seeds) < 1:
            raise ConfigError("study.seeds must name at least one seed")


@dataclass
class APETConfig:
    """Config of the `apet` pipeline (apet.md §4)."""

    model: ModelConfig = field(default_factory=lambda: ModelConfig(name="minilm-l3",
                                                                   head="encoder"))  # fmt: skip
    data: DataConfig = field(default_factory=lambda: DataConfig(max_length=32))
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(
            lr=3e-3, weight_decay=0.0, warmup_steps=10, scheduler="constant_with_warmup"
        )  # fmt: skip
    )
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            global_batch_size=16,
            micro_batch_size=16,
            max_steps=100,
            eval_every=0,
            save_every=-1,
            log_every=10,
        )  # fmt: skip
    )
    eval: EvalConfig = field(default_factory=lambda: EvalConfig(batch_size=64))
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    cell: CellConfig = field(default_factory=CellConfig)
    study: StudyConfig = field(default_factory=StudyConfig)
    paper: bool = field(default=False, metadata={"help": "paper-scale preset (GPU, hub)"})
