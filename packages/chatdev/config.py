"""`ChatDevConfig`: the engine's typed settings (backend, protocol, compat rules, sandbox, budget).

The *company* (roles, phases, chain) is a separate document: our built-in Default, a native YAML
or an official CompanyConfig trio (see `company.py`). Presets live in `configs/chatdev/`
(`mini`, `paper`, `smoke`); precedence is the shared one: defaults < preset < file < --set.

Reproduces: chatdev.md §2.12-§2.13, §2.18 (protocol switches), §4.1 (mini settings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from thunlp_repro.shared.errors import ConfigError


def _help(text: str) -> dict[str, str]:
    return {"help": text}


CDH_PHASES = ["CodeComplete", "CodeReviewModification", "TestModification"]


@dataclass
class LLMConfig:
    """Which backend answers, and how requests are sampled, timed and retried."""

    backend: Literal["openai", "local", "scripted", "replay"] = field(
        default="openai", metadata=_help("openai = any OpenAI-compatible server; local = llama.cpp")
    )
    provider: Literal["openai", "azure"] = field(default="openai", metadata=_help("client kind"))
    model: str = field(default="gpt-3.5-turbo-16k", metadata=_help("model (Azure: deployment)"))
    base_url: str | None = field(
        default=None, metadata=_help("server URL; else $OPENAI_BASE_URL, else $BASE_URL")
    )
    api_key_env: str = field(default="OPENAI_API_KEY", metadata=_help("key variable NAME"))
    api_version: str | None = field(default=None, metadata=_help("Azure API version"))
    temperature: float = field(default=0.2, metadata=_help("paper: 0.2"))
    top_p: float = field(default=1.0, metadata=_help("repo: 1.0"))
    seed: int | None = field(default=None, metadata=_help("sent when set"))
    request_timeout_s: float = field(default=120.0, metadata=_help("per request"))
    max_attempts: int = field(default=6, metadata=_help("attempts per call, retries included"))
    backoff_base_s: float = field(default=2.0, metadata=_help("backoff 2 s x 2^k, full jitter"))
    backoff_max_s: float = field(default=60.0, metadata=_help("cap on one wait"))
    max_tokens_discussion: int | None = field(default=None, metadata=_help("output cap"))
    max_tokens_code: int | None = field(default=None, metadata=_help("output cap"))
    max_tokens_docs: int | None = field(default=None, metadata=_help("output cap"))
    context_window: int | None = field(
        default=None, metadata=_help("tokens; None = from the model table (unknown: no check)")
    )
    prices: dict[str, Any] = field(
        default_factory=dict,
        metadata=_help("per-model overrides: {model: {input_per_1m, output_per_1m}}"),
    )
    local_model: str = field(default="qwen-coder-1.5b", metadata=_help("GGUF asset id"))
    local_n_ctx: int = field(default=16384, metadata=_help("llama.cpp context"))
    local_threads: int = field(default=2, metadata=_help("llama.cpp threads"))
    local_start_timeout_s: float = field(default=300.0, metadata=_help("wait for /v1/models"))
    local_ram_cache: bool = field(
        default=True, metadata=_help("llama-cpp-python --cache (RAM cache of prompt states)")
    )

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature <= 2.0:
            raise ConfigError(f"llm.temperature must be in [0, 2], got {self.temperature}")
        if self.max_attempts < 1:
            raise ConfigError("llm.max_attempts must be >= 1")


@dataclass
class CDHConfig:
    """Communicative dehallucination (paper §3.2): the assistant asks before it answers."""

    enabled: bool = field(default=True, metadata=_help("off = the paper's \\CDH ablation"))
    phases: list[str] = field(default_factory=lambda: list(CDH_PHASES))
    max_questions: int = field(default=2, metadata=_help("questions per sub-phase"))
    answerer: Literal["agent"] = field(default="agent", metadata=_help("who answers"))


@dataclass
class ProtocolConfig:
    """How chats run and end (paper vs repo protocol, chatdev.md §2.18)."""

    marker: str = field(default="<INFO>", metadata=_help("end-of-chat marker (paper: <SOLUTION>)"))
    question_marker: str = field(default="<QUESTION>", metadata=_help("CDH question marker"))
    default_turns: int = field(default=10, metadata=_help("turns for max_turn_step <= 0"))
    stop_after_unchanged: int | None = field(
        default=2, metadata=_help("review stops after N cycles without a code change; null = off")
    )
    cdh: CDHConfig = field(default_factory=CDHConfig)
    roles_in_prompts: bool = field(default=True, metadata=_help("off = the \\Roles ablation"))
    until: str | None = field(default=None, metadata=_help("stop after this chain item"))
    cycles: dict[str, int] = field(
        default_factory=dict, metadata=_help("override loop cycle counts: {CodeCompleteAll: 3}")
    )
    format_retries: int = field(default=2, metadata=_help("re-asks when a reply has no code"))
    complete_max_tries: int = field(default=5, metadata=_help("CodeComplete tries per file"))
    gui_framework_hint: str = field(
        default="a GUI framework", metadata=_help("named in the Coding prompt when gui_design")
    )
    gui_design: bool | None = field(default=None, metadata=_help("null = the company's flag"))

    def __post_init__(self) -> None:
        if self.default_turns < 1:
            raise ConfigError("protocol.default_turns must be >= 1")
        if not self.marker.strip():
            raise ConfigError("protocol.marker must not be empty")


@dataclass
class CompatConfig:
    """Switches that reproduce the official repo's quirks (chatdev.md §2.10, §7)."""

    parser: Literal["ours", "repo"] = field(default="ours", metadata=_help("code extraction"))
    marker: Literal["ours", "repo"] = field(default="ours", metadata=_help("marker detection"))
    review_break: Literal["fixed", "repo"] = field(
        default="fixed", metadata=_help("repo: review early exit never fires")
    )
    unimplemented: Literal["strict", "compat"] = field(
        default="strict", metadata=_help("compat: a line that is exactly `pass`")
    )


@dataclass
class SandboxConfig:
    """How the Test phase runs generated programs (chatdev.md §2.11)."""

    timeout_s: float = field(default=10.0, metadata=_help("wall clock per run (repo: 3)"))
    grace_s: float = field(default=2.0, metadata=_help("SIGTERM -> SIGKILL grace"))
    memory_mb: int = field(
        default=2048, metadata=_help("memory of the whole tree, and each process's address space")
    )
    cpu_extra_s: int = field(default=5, metadata=_help("CPU limit = timeout + this"))
    file_size_mb: int = field(default=64, metadata=_help("largest file a program may write"))
    open_files: int = field(default=256, metadata=_help("RLIMIT_NOFILE"))
    install: Literal["none", "venv"] = field(
        default="none", metadata=_help("venv: install requirements into a per-project venv")
    )
    stdin: Literal["pipe", "devnull"] = field(default="pipe", metadata=_help("input() blocks"))
    xvfb: Literal["auto", "off"] = field(default="auto", metadata=_help("use xvfb-run if present"))
    python: str | None = field(default=None, metadata=_help("interpreter; None = this one"))
    keep_runs: bool = field(default=False, metadata=_help("keep the temp run folders"))
    isolation: Literal["auto", "bwrap", "none"] = field(
        default="auto", metadata=_help("bwrap namespaces; none only with unsafe")
    )
    unsafe: bool = field(
        default=False, metadata=_help("run unisolated when no isolation works (--unsafe-sandbox)")
    )
    max_processes: int = field(default=64, metadata=_help("processes of the whole tree"))
    tmp_mb: int = field(default=256, metadata=_help("size of the private /tmp"))

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ConfigError("sandbox.timeout_s must be > 0")
        if self.max_processes < 1:
            raise ConfigError("sandbox.max_processes must be >= 1")


@dataclass
class BudgetConfig:
    """Per-project caps, checked before each LLM call; hitting one stops cleanly."""

    max_usd: float | None = None
    max_total_tokens: int | None = None
    max_llm_calls: int | None = None
    max_wall_s: float | None = None


@dataclass
class ProjectConfig:
    """Project-level options."""

    company: str | None = field(
        default=None, metadata=_help("native company YAML or official trio folder; null = ours")
    )
    git: bool | None = field(default=None, metadata=_help("commit per phase; null = company"))
    ignore_unsupported: bool = field(default=False, metadata=_help("accept web_spider etc."))


@dataclass
class HumanConfig:
    """Human-agent interaction: the customer reviews the code in the terminal (chatdev.md §2.15)."""

    review: bool = field(
        default=False, metadata=_help("insert HumanAgentInteraction after CodeReview (--human)")
    )
    input_file: str | None = field(
        default=None, metadata=_help("scripted answers, typed as on the console; null = stdin")
    )
    cycles: int = field(default=5, metadata=_help("review rounds of an inserted loop (repo: 5)"))

    def __post_init__(self) -> None:
        if self.cycles < 1:
            raise ConfigError(f"human.cycles must be >= 1, got {self.cycles}")


@dataclass
class ImagesConfig:
    """The images endpoint of the Art phases (OpenAI-compatible `/v1/images/generations`)."""

    base_url: str | None = field(
        default=None, metadata=_help("server URL; 'llm' = the LLM's server; null = Art skipped")
    )
    api_key_env: str = field(default="OPENAI_API_KEY", metadata=_help("key variable NAME"))
    model: str = field(default="dall-e-2", metadata=_help("image model"))
    size: str = field(default="256x256", metadata=_help("image size, WIDTHxHEIGHT"))
    max_images: int = field(default=8, metadata=_help("pictures generated per design round"))
    timeout_s: float = field(default=120.0, metadata=_help("per image request"))

    def __post_init__(self) -> None:
        if self.max_images < 1:
            raise ConfigError(f"images.max_images must be >= 1, got {self.max_images}")
        width, _, height = self.size.partition("x")
        if not (width.isdigit() and height.isdigit()):
            raise ConfigError(f"images.size must look like 256x256, got {self.size!r}")


@dataclass
class MemoryConfig:
    """Experiential co-learning memory (ECL, Qian et al. 2023): retrieval settings."""

    path: str | None = field(
        default=None, metadata=_help("memory file (chatdev build-memory); null = no memory")
    )
    embedder: str | None = field(
        default=None, metadata=_help("query embedder; null = the one the memory was built with")
    )
    embed_base_url: str | None = field(
        default=None, metadata=_help("OpenAI-compatible embeddings endpoint for openai:MODEL")
    )
    top_k: int = field(default=1, metadata=_help("experiences put into one prompt"))
    min_similarity: float = field(default=0.5, metadata=_help("cosine threshold of a match"))
    max_chars: int = field(default=4000, metadata=_help("longest solution text shown"))

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ConfigError(f"memory.top_k must be >= 1, got {self.top_k}")
        if not -1.0 <= self.min_similarity <= 1.0:
            raise ConfigError(
                f"memory.min_similarity must be in [-1, 1], got {self.min_similarity}"
            )


@dataclass
class ChatDevConfig:
    """Everything one ChatDev project run needs besides the task and the company."""

    llm: LLMConfig = field(default_factory=LLMConfig)
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    compat: CompatConfig = field(default_factory=CompatConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    project: ProjectConfig = field(default_factory=ProjectConfig)
    human: HumanConfig = field(default_factory=HumanConfig)
    images: ImagesConfig = field(default_factory=ImagesConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)


# The `repo` protocol (chatdev.md §2.18) as --set overrides over any preset.
REPO_PROTOCOL = [
    "protocol.cdh.enabled=false",
    "protocol.stop_after_unchanged=null",
    "compat.parser=repo",
    "compat.marker=repo",
    "compat.review_break=repo",
    "compat.unimplemented=compat",
    "sandbox.timeout_s=3",
]


def load_chatdev_config(
    preset: str | None = "mini",
    config_file: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    protocol: str = "paper",
) -> tuple[ChatDevConfig, list[str]]:
    """Resolve a ChatDevConfig: defaults < preset < file < protocol < --set."""
    from thunlp_repro.shared.config import load_config

    if protocol not in ("paper", "repo"):
        raise ConfigError(f"unknown protocol '{protocol}' (paper | repo)")
    sets = [*(REPO_PROTOCOL if protocol == "repo" else []), *overrides]
    return load_config(
        ChatDevConfig, pipeline="chatdev", preset=preset, config_file=config_file, overrides=sets
    )
