"""Paper scale, checked before it spends GPU hours: the plan a paper preset's `--dry-run` prints.

Reproduces: issue #16's dry-run. A `DryRunPlan` names every model (hub id, offline asset, local
folder, or an architecture built from its config) and dataset a paper preset would use, lists its
runs with their optimizer steps and tokens, estimates the cost (GPU hours, or API tokens and USD
for ChatDev) and validates the accelerate config the run would be launched with
(`shared/accelerate/*.yaml`). Nothing is downloaded and no weights are loaded: a hub id is checked
for its `owner/name` shape and against the ids the specs list, and reported as "would download".
When `HF_HUB_OFFLINE` is unset, the size of a hub model may be looked up with
`huggingface_hub.model_info` (short timeout, any failure ignored).

Cost model [est.]: training FLOPs are the run's own (e.g. KI's ki.md §2.6 ledger) or
6 x params x tokens; GPU hours = FLOPs / a sustained bf16 throughput per model size on one GPU
(`THROUGHPUT`), anchored on ki.md §3.6's 400 TFLOP/s for a ~200M model on an H100. They are
estimates to size a job, never measurements.

Accelerate keys may be overridden in a dry-run with `--set accelerate.KEY=VALUE` (nested:
`accelerate.deepspeed_config.zero_stage=3`; another file: `accelerate.config=fsdp` or a path).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.registry import did_you_mean

ACCELERATE_DIR = Path(__file__).with_name("accelerate")

# ---------------------------------------------------------------------------- cost assumptions
#: Sustained bf16 training TFLOP/s on one GPU by model size: (params below, TFLOP/s) [est.].
#: H100: ki.md §3.6 takes 400 for the ~211M KI student; smaller models keep the GPU less busy.
#: A100: about a third of the H100 (dense bf16 peak 312 vs 989 TFLOP/s).
THROUGHPUT: dict[str, tuple[tuple[float, float], ...]] = {
    "H100": ((150e6, 300.0), (1e9, 400.0), (float("inf"), 450.0)),
    "A100": ((150e6, 95.0), (1e9, 125.0), (float("inf"), 140.0)),
}
GPUS = tuple(THROUGHPUT)
UNKNOWN_PARAMS_TFLOPS = {"H100": 300.0, "A100": 95.0}
#: Floor on the seconds of one micro-batch (forward + backward + launch overheads) [est.]: small
#: models at small batches are latency-bound, so their FLOPs alone would promise too little time.
MICRO_BATCH_FLOOR_S = {"H100": 0.03, "A100": 0.05}


def sustained_tflops(params: float | None, gpu: str = "H100") -> float:
    """The assumed sustained TFLOP/s of one `gpu` training a model of `params` parameters."""
    if params is None:
        return UNKNOWN_PARAMS_TFLOPS[gpu]
    return next(t for bound, t in THROUGHPUT[gpu] if params < bound)


def assumption_text() -> str:
    """One line stating the GPU-hour assumption (printed under every estimate)."""
    rows = ", ".join(f"{gpu} " + "/".join(f"{t:g}" for _, t in THROUGHPUT[gpu]) for gpu in GPUS)
    floor = ", ".join(f"{g} {s:g} s" for g, s in MICRO_BATCH_FLOOR_S.items())
    return (f"estimate, not a measurement: training FLOPs / sustained bf16 TFLOP/s per GPU by "
            f"model size (<150M / <1B / larger: {rows}; ki.md §3.6 anchors 400 on an H100), "
            f"at least {floor} per micro-batch")  # fmt: skip


def fmt_hours(h: float | None) -> str:
    """GPU hours for humans: '?' when unknown, two decimals below 10, else whole hours."""
    if h is None:
        return "?"
    return f"{h:.2f}" if h < 10 else f"{h:,.0f}"


# ---------------------------------------------------------------------------- entries
@dataclass(frozen=True)
class ModelEntry:
    """One model the preset uses.

    Attributes:
        source: ``hub`` (would download), ``asset`` (offline asset), ``local`` (a folder or a
            zoo/run checkpoint), ``tiny``, ``arch`` (randomly initialised from a config),
            ``trained`` (a checkpoint an earlier run of the plan writes) or ``api`` (an LLM API).
        download: What would be fetched, in words ("would download from the hub", "none", ...).
        size_mb: Download size when known.
    """

    name: str
    role: str
    source: str
    location: str = ""
    params: int | None = None
    download: str = "none"
    size_mb: float | None = None


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset: registry name, split(s), and where it comes from."""

    name: str
    split: str
    source: str
    note: str = ""


@dataclass(frozen=True)
class RunEntry:
    """One training run of the plan.

    `key` identifies the run across experiments (runs are cached and shared, e.g. E1's teacher),
    so a multi-experiment plan counts each once. `flops` overrides 6 x params x tokens.
    """

    label: str
    model: str
    steps: int
    tokens: int
    params: int | None = None
    flops: float | None = None
    key: str = ""
    micro_batches: int = 0  # forward/backward passes in all (steps x accumulation x processes)

    def train_flops(self) -> float | None:
        if self.flops is not None:
            return self.flops
        return None if self.params is None else 6.0 * self.params * self.tokens

    def gpu_hours(self, gpu: str = "H100") -> float | None:
        flops = self.train_flops()
        if flops is None:
            return None
        seconds = flops / (sustained_tflops(self.params, gpu) * 1e12)
        return max(seconds, self.micro_batches * MICRO_BATCH_FLOOR_S[gpu]) / 3600.0


@dataclass
class AccelerateCheck:
    """An accelerate config as the run would be launched with it (after `--set accelerate.*`)."""

    name: str
    path: str
    values: dict[str, Any]

    @property
    def world_size(self) -> int:
        procs = int(self.values.get("num_processes", 1) or 1)
        return max(procs, 1)

    def summary(self) -> str:
        v = self.values
        extra = ""
        if v.get("distributed_type") == "DEEPSPEED":
            extra = f", ZeRO-{(v.get('deepspeed_config') or {}).get('zero_stage', '?')}"
        if v.get("distributed_type") == "FSDP":
            extra = f", {(v.get('fsdp_config') or {}).get('fsdp_sharding_strategy', '?')}"
        return (f"{self.name} ({self.path}): {v.get('distributed_type')}{extra}, "
                f"{v.get('num_processes')} process(es) x {v.get('num_machines', 1)} machine(s), "
                f"mixed_precision {v.get('mixed_precision')}")  # fmt: skip


@dataclass
class DryRunPlan:
    """What a paper preset would run, and what it would cost.

    Attributes:
        cost_kind: ``gpu`` (GPU hours from the runs) or ``api`` (LLM tokens and USD).
        batch: (global, micro) batch size of the runs, checked against the accelerate world size.
        precision: The pipeline's `runtime.precision` (compared with the accelerate config's).
        api: For ``api`` plans: tasks, calls_per_task (min, max), tokens_per_task, usd_per_task,
            usd_cap_per_task, model.
    """

    paper: str
    preset: str
    command: str
    models: list[ModelEntry] = field(default_factory=list)
    datasets: list[DatasetEntry] = field(default_factory=list)
    runs: list[RunEntry] = field(default_factory=list)
    accelerate: AccelerateCheck | None = None
    cost_kind: str = "gpu"
    batch: tuple[int, int] | None = None
    precision: str | None = None
    api: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ totals
    @property
    def total_steps(self) -> int:
        return sum(r.steps for r in self.runs)

    @property
    def total_tokens(self) -> int:
        if self.cost_kind == "api":
            return int(self.api.get("tasks", 0) * self.api.get("tokens_per_task", 0))
        return sum(r.tokens for r in self.runs)

    def gpu_hours(self, gpu: str = "H100", skip: set[str] | frozenset[str] = frozenset()) -> float:
        """Summed GPU hours of the runs whose key is not in `skip` (unknown costs count 0)."""
        return sum(r.gpu_hours(gpu) or 0.0 for r in self.runs if not (r.key and r.key in skip))

    def api_usd(self) -> float | None:
        per = self.api.get("usd_per_task")
        return None if per is None else per * self.api.get("tasks", 0)

    def cost_line(self) -> str:
        """The estimate in one line (what `reproduce-all --profile paper --dry-run` shows)."""
        if self.cost_kind == "api":
            usd = self.api_usd()
            money = "unknown price" if usd is None else f"~${usd:,.0f}"
            return f"{fmt_count(self.total_tokens)} API tokens, {money} ({self.api.get('model')})"
        return (f"~{fmt_hours(self.gpu_hours('H100'))} H100 GPU-hours "
                f"(~{fmt_hours(self.gpu_hours('A100'))} on A100s)")  # fmt: skip

    # ------------------------------------------------------------------ checks
    def note(self, text: str) -> None:
        """Add a note once."""
        if text not in self.notes:
            self.notes.append(text)

    def validate(self) -> None:
        """Raise UsageError (one line) on a bad accelerate value or a batch it cannot split."""
        if self.accelerate is not None:
            validate_accelerate(self.accelerate)
            if self.batch is not None:
                glob, micro = self.batch
                world = self.accelerate.world_size * int(
                    self.accelerate.values.get("num_machines", 1) or 1
                )
                if glob % (micro * world):
                    raise UsageError(
                        f"train.global_batch_size {glob} is not divisible by micro_batch_size x "
                        f"processes ({micro} x {world}) of accelerate config "
                        f"{self.accelerate.name}; use num_processes dividing {glob // micro} "
                        "(global / micro) or a smaller train.micro_batch_size"
                    )
            mp = self.accelerate.values.get("mixed_precision")
            if self.precision is not None and mp is not None and str(mp) != self.precision:
                self.note(
                    f"accelerate mixed_precision {mp} differs from runtime.precision "
                    f"{self.precision}; the Engine passes runtime.precision to Accelerator"
                )
            if self.accelerate.values.get("distributed_type") == "DEEPSPEED":
                import importlib.util

                if importlib.util.find_spec("deepspeed") is None:
                    self.note("deepspeed is not installed here (pip install -e "
                                      ".[deepspeed] on the GPU machine)")  # fmt: skip

    # ------------------------------------------------------------------ text
    def render(self) -> str:
        """The plan as the text `--dry-run` prints."""
        out = [f"dry run: {self.paper}, preset {self.preset} (nothing downloaded, nothing trained)",
               f"command: {self.command}", "", f"models ({len(self.models)}):"]  # fmt: skip
        for m in self.models:
            params = f", {fmt_count(m.params)} params" if m.params else ""
            size = f", ~{m.size_mb:,.0f} MB" if m.size_mb else ""
            where = f" [{m.location}]" if m.location and m.location != m.name else ""
            out.append(f"  {m.role:<18} {m.name}{where}: {m.source}{params}; {m.download}{size}")
        out.append(f"datasets ({len(self.datasets)}):")
        for d in self.datasets:
            note = f"; {d.note}" if d.note else ""
            out.append(f"  {d.name:<18} {d.split:<18} {d.source}{note}")
        if self.cost_kind == "api":
            a = self.api
            low, high = a["calls_per_task"]
            out += [
                f"runs: {a['tasks']} task(s) x {a['phases']} chain item(s) x {low}-{high} LLM "
                "calls per task",
                f"steps: {a['tasks'] * low:,}-{a['tasks'] * high:,} LLM calls in all (midpoint "
                f"~{a['tasks'] * a['calls_typical']:,})",
                f"tokens: ~{fmt_count(self.total_tokens)} "
                f"({fmt_count(a['tokens_per_task'])} per task, {a['tokens_source']})",
                f"estimated API cost: {self._usd_text()}",
                f"GPU hours: 0 (an API model; {a['model']} answers remotely)",
            ]
        else:
            out.append(f"runs ({len(self.runs)}):")
            for r in self.runs:
                est = fmt_hours(r.gpu_hours("H100"))
                out.append(f"  {r.label:<34} {r.model:<22} {r.steps:>9,} steps "
                           f"{fmt_count(r.tokens):>7} tokens  ~{est:>7} H100-h")  # fmt: skip
            out += [
                f"steps: {self.total_steps:,} optimizer steps in all",
                f"tokens: {fmt_count(self.total_tokens)} training tokens in all",
                f"estimated GPU hours: {self.cost_line()}",
                f"  ({assumption_text()})",
            ]
        if self.accelerate is not None:
            world = self.accelerate.world_size
            wall = self.gpu_hours("H100") / world
            out.append(f"accelerate: {self.accelerate.summary()}: valid"
                       + (f"; ~{fmt_hours(wall)} h wall-clock on {world} H100(s)"
                          if self.runs and not self.accelerate.values.get("use_cpu")
                          else ""))  # fmt: skip
        for note in self.notes:
            out.append(f"note: {note}")
        return "\n".join(out)

    def _usd_text(self) -> str:
        a, usd = self.api, self.api_usd()
        if usd is None:
            return f"unknown (no price for {a['model']}; set llm.prices)"
        cap = a.get("usd_cap_per_task")
        ceiling = (
            "" if cap is None else f"; hard cap budget.max_usd x tasks = ${cap * a['tasks']:,.2f}"
        )
        return (
            f"~${usd:,.2f} (${a['usd_per_task']:.4f} per task at {a['price_text']}, "
            f"{a['prompt_share']:.0%} prompt tokens [est.]){ceiling}"
        )


def fmt_count(n: float | None) -> str:
    """1234567 -> '1.23M' (k, M, B, T)."""
    if n is None:
        return "?"
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:g}"


# ---------------------------------------------------------------------------- model names
HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")

#: Hub models the specs name, with parameters and approximate download (safetensors) size.
KNOWN_HUB_MODELS: dict[str, dict[str, float]] = {
    "FacebookAI/roberta-base": {"params": 125e6, "size_mb": 499},  # ki.md §3.1
    "roberta-base": {"params": 125e6, "size_mb": 499},  # configs/finetune/paper.yaml
    "FacebookAI/roberta-large": {"params": 355e6, "size_mb": 1421},  # ki.md §3.1 G3 shape
    "roberta-large": {"params": 355e6, "size_mb": 1421},
    "HuggingFaceTB/SmolLM2-135M": {"params": 135e6, "size_mb": 269},  # ki.md §3.7
    "HuggingFaceTB/SmolLM2-360M": {"params": 362e6, "size_mb": 724},  # ki.md §3.7 shape
    "sentence-transformers/all-MiniLM-L6-v2": {"params": 22.7e6, "size_mb": 91},
    "bert-base-uncased": {"params": 110e6, "size_mb": 440},
    "bert-large-uncased": {"params": 336e6, "size_mb": 1340},
    "gpt2": {"params": 124e6, "size_mb": 548},
    "t5-base": {"params": 223e6, "size_mb": 892},
    "t5-large": {"params": 738e6, "size_mb": 2950},
}


def check_hub_id(name: str, known: list[str] | tuple[str, ...] = ()) -> str | None:
    """Validate a hub id offline; return a note when it is not one of the `known` paper ids.

    Raises:
        UsageError: not `owner/name` shaped, or a near miss of a known id (a typo).
    """
    from thunlp_repro.shared.models import HUB_MODELS

    if name in HUB_MODELS or name in KNOWN_HUB_MODELS or name in known:
        return None
    if not HUB_ID.fullmatch(name):
        raise UsageError(f"'{name}' is not a hub id: expected owner/name (letters, digits, "
                         "'-', '_', '.'), e.g. FacebookAI/roberta-base")  # fmt: skip
    ids = sorted({*known, *KNOWN_HUB_MODELS, *HUB_MODELS.keys()})
    close = difflib.get_close_matches(name, ids, n=1, cutoff=0.85)
    if close:  # one or two characters off a paper id: a typo, not another model
        raise UsageError(f"unknown hub model '{name}' (did you mean '{close[0]}'?); the paper "
                         f"ids are: {', '.join(known) or ', '.join(ids)}")  # fmt: skip
    return f"{name} is not a paper id ({', '.join(known) or 'none listed'}): shape checked only"


def _online_size_mb(repo_id: str) -> float | None:
    """Safetensors size of a hub repo, or None (offline, unreachable, slow, or not installed)."""
    if os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE"):
        return None
    try:
        from huggingface_hub import HfApi

        info = HfApi().model_info(repo_id, files_metadata=True, timeout=5)
        sizes = [s.size or 0 for s in info.siblings or [] if s.rfilename.endswith(".safetensors")]
        return sum(sizes) / 1e6 if sizes else None
    except Exception:  # noqa: BLE001 - an estimate must never fail the dry run
        return None


def model_entry(
    name: str,
    role: str,
    known: list[str] | tuple[str, ...] = (),
    params: int | None = None,
    notes: list[str] | None = None,
) -> ModelEntry:
    """Resolve a model name offline (shared.models.resolve_model) into a plan entry.

    Raises:
        UsageError: an unknown name (with "did you mean"), or a bad hub id.
    """
    from thunlp_repro.shared.errors import AssetMissingError
    from thunlp_repro.shared.models import resolve_model

    try:
        src = resolve_model(name)
    except AssetMissingError as exc:  # a known asset or zoo name that is not installed yet
        return ModelEntry(name, role, "asset", params=params, download=f"not installed: {exc}")
    if src.kind == "hub":
        note = check_hub_id(src.location, known)
        if note and notes is not None:
            notes.append(note)
        facts = KNOWN_HUB_MODELS.get(src.location) or KNOWN_HUB_MODELS.get(name) or {}
        size = facts.get("size_mb") or _online_size_mb(src.location)
        got = params or (int(facts["params"]) if "params" in facts else None)
        return ModelEntry(name, role, "hub", src.location, got,
                          "would download from the Hugging Face hub", size)  # fmt: skip
    if src.kind == "asset":
        from thunlp_repro.shared.assets import ASSETS, is_installed

        spec = ASSETS.get(name)
        state = "installed" if is_installed(name) else f"not installed ({spec.install_hint})"
        return ModelEntry(name, role, "offline asset", src.location, params, state,
                          None if is_installed(name) else spec.download_mb)  # fmt: skip
    return ModelEntry(name, role, src.kind, src.location, params, "none (on disk)")


def task_entry(name: str, split: str = "train/dev/test") -> DatasetEntry:
    """A registered task (shared.tasks) as a plan entry; raises UsageError when unknown."""
    from thunlp_repro.shared.tasks import get_task

    task = get_task(name)
    if task.scale == "paper" and task.hub is not None and task.hub.path:
        hub = task.hub
        dev = f"dev {hub.dev_split}" if hub.dev_split else f"dev carved from {hub.train_split}"
        return DatasetEntry(
            name, f"{hub.train_split}/{hub.eval_split}",
            f"hub dataset {hub.path}" + (f" ({hub.config})" if hub.config else ""),
            f"would download with `datasets`; {dev} ({hub.dev_size}), test = {hub.eval_split}",
        )  # fmt: skip
    from thunlp_repro.shared.assets import is_installed

    missing = [a for a in task.assets if not is_installed(a)]
    state = f"not installed: {', '.join(missing)}" if missing else "installed"
    return DatasetEntry(name, split, f"offline task ({task.source})", state)


# ---------------------------------------------------------------------------- accelerate
ACCELERATE_KEYS = {
    "compute_environment", "distributed_type", "mixed_precision", "use_cpu", "debug",
    "num_processes", "machine_rank", "num_machines", "gpu_ids", "main_process_ip",
    "main_process_port", "rdzv_backend", "same_network", "main_training_function",
    "enable_cpu_affinity", "fp8_config", "deepspeed_config", "fsdp_config",
    "parallelism_config", "megatron_lm_config", "mpirun_config", "downcast_bf16", "tpu_name",
    "tpu_zone", "tpu_use_cluster", "tpu_use_sudo", "command_file", "commands", "tpu_vm",
    "tpu_env", "dynamo_config",
}  # fmt: skip
"""Top-level keys of accelerate's config file (accelerate 1.x `ClusterConfig`)."""
DISTRIBUTED_TYPES = ("NO", "MULTI_CPU", "MULTI_GPU", "DEEPSPEED", "FSDP", "MEGATRON_LM", "XLA",
                     "MULTI_NPU", "MULTI_XPU", "MULTI_MLU", "MULTI_MUSA", "MULTI_HPU")  # fmt: skip
MIXED_PRECISIONS = ("no", "fp16", "bf16", "fp8")
DEEPSPEED_KEYS: dict[str, Any] = {
    "zero_stage": (0, 1, 2, 3), "offload_optimizer_device": ("none", "cpu", "nvme"),
    "offload_param_device": ("none", "cpu", "nvme"), "zero3_init_flag": bool,
    "zero3_save_16bit_model": bool, "gradient_clipping": float,
    "gradient_accumulation_steps": int, "deepspeed_config_file": str,
    "offload_optimizer_nvme_path": str, "offload_param_nvme_path": str,
    "deepspeed_multinode_launcher": str, "deepspeed_hostfile": str,
    "deepspeed_inclusion_filter": str, "deepspeed_exclusion_filter": str,
    "deepspeed_moe_layer_cls_names": str,
}  # fmt: skip
FSDP_KEYS: dict[str, Any] = {
    "fsdp_auto_wrap_policy": ("TRANSFORMER_BASED_WRAP", "SIZE_BASED_WRAP", "NO_WRAP"),
    "fsdp_backward_prefetch": ("BACKWARD_PRE", "BACKWARD_POST", "NO_PREFETCH"),
    "fsdp_sharding_strategy": ("FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD", "HYBRID_SHARD",
                               "HYBRID_SHARD_ZERO2"),
    "fsdp_state_dict_type": ("FULL_STATE_DICT", "LOCAL_STATE_DICT", "SHARDED_STATE_DICT"),
    "fsdp_cpu_ram_efficient_loading": bool, "fsdp_offload_params": bool,
    "fsdp_sync_module_states": bool, "fsdp_use_orig_params": bool,
    "fsdp_forward_prefetch": bool, "fsdp_activation_checkpointing": bool,
    "fsdp_reshard_after_forward": bool, "fsdp_transformer_layer_cls_to_wrap": str,
    "fsdp_min_num_params": int, "fsdp_version": (1, 2),
}  # fmt: skip


def shipped_accelerate_configs() -> list[str]:
    """Names (file stems) of the accelerate configs in shared/accelerate/."""
    return sorted(p.stem for p in ACCELERATE_DIR.glob("*.yaml"))


def load_accelerate(name_or_path: str, overrides: dict[str, Any] | None = None) -> AccelerateCheck:
    """Read a shipped config by name (`ddp`) or a YAML path, with dry-run overrides applied."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml") or not path.is_file():
        known = shipped_accelerate_configs()
        if name_or_path not in known:
            raise UsageError(f"unknown accelerate config '{name_or_path}'"
                             f"{did_you_mean(name_or_path, known)}; shipped: "
                             f"{', '.join(known)} (or a .yaml path)")  # fmt: skip
        path = ACCELERATE_DIR / f"{name_or_path}.yaml"
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"accelerate config {path}: invalid YAML ({type(exc).__name__})") from exc
    if not isinstance(values, dict):
        raise UsageError(f"accelerate config {path}: top level must be a mapping")
    for key, value in (overrides or {}).items():
        cursor = values
        *parents, last = key.split(".")
        for part in parents:
            cursor = cursor.setdefault(part, {})
            if not isinstance(cursor, dict):
                raise UsageError(f"accelerate.{key}: '{part}' is not a mapping")
        cursor[last] = value
    root = ACCELERATE_DIR.parent.parent
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    return AccelerateCheck(path.stem, str(shown), values)


def _check_value(where: str, key: str, value: Any, rule: Any) -> None:
    if isinstance(rule, tuple):
        if value not in rule:
            raise UsageError(
                f"{where}: {key}={value!r} is not accepted; use one of "
                f"{', '.join(map(str, rule))}{did_you_mean(str(value), list(map(str, rule)))}"
            )
        return
    ok = {bool: isinstance(value, bool), str: isinstance(value, str),
          int: isinstance(value, int) and not isinstance(value, bool),
          float: isinstance(value, int | float) and not isinstance(value, bool)}[rule]  # fmt: skip
    if not ok:
        raise UsageError(f"{where}: {key}={value!r} must be {rule.__name__}")


def _check_section(where: str, section: str, values: Any, rules: dict[str, Any]) -> None:
    if not isinstance(values, dict):
        raise UsageError(f"{where}: {section} must be a mapping of {section} keys")
    for key, value in values.items():
        if key not in rules:
            raise UsageError(f"{where}: unknown {section} key '{key}'"
                             f"{did_you_mean(key, list(rules))}; accepted: "
                             f"{', '.join(sorted(rules))}")  # fmt: skip
        _check_value(f"{where} {section}", key, value, rules[key])


def validate_accelerate(check: AccelerateCheck) -> None:
    """Check an accelerate config's keys and the values our runs depend on (one-line errors).

    Raises:
        UsageError: an unknown key, a value outside what accelerate (or our Engine) accepts, or a
            DEEPSPEED / FSDP type without its section.
    """
    where, v = f"accelerate config {check.name}", check.values
    for key in v:
        if key not in ACCELERATE_KEYS:
            known = sorted(ACCELERATE_KEYS)
            raise UsageError(f"{where}: unknown key '{key}'{did_you_mean(key, known)}; "
                             f"accepted: {', '.join(known)}")  # fmt: skip
    dist = v.get("distributed_type")
    if dist not in DISTRIBUTED_TYPES:
        raise UsageError(
            f"{where}: distributed_type={dist!r} is not accepted; use one of "
            f"{', '.join(DISTRIBUTED_TYPES)}{did_you_mean(str(dist), list(DISTRIBUTED_TYPES))}"
        )
    _check_value(where, "mixed_precision", v.get("mixed_precision", "no"), MIXED_PRECISIONS)
    for key in ("num_processes", "num_machines"):
        n = v.get(key, 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise UsageError(f"{where}: {key}={n!r} must be an integer >= 1")
    if v.get("use_cpu") not in (None, True, False):
        raise UsageError(f"{where}: use_cpu={v['use_cpu']!r} must be true or false")
    if v.get("use_cpu") and v.get("mixed_precision") == "fp16":
        raise UsageError(f"{where}: mixed_precision=fp16 needs a CUDA GPU; use bf16 or no on CPU")
    if dist == "NO" and v.get("num_processes", 1) != 1:
        raise UsageError(
            f"{where}: distributed_type=NO runs one process, got num_processes="
            f"{v['num_processes']}; use MULTI_GPU, DEEPSPEED or FSDP for more"
        )
    for section, rules, kind in (("deepspeed_config", DEEPSPEED_KEYS, "DEEPSPEED"),
                                 ("fsdp_config", FSDP_KEYS, "FSDP")):  # fmt: skip
        if dist == kind and not v.get(section):
            raise UsageError(f"{where}: distributed_type={kind} needs a {section} section")
        if section in v and v[section] is not None:
            if dist != kind:
                raise UsageError(f"{where}: {section} is set but distributed_type is {dist}; "
                                 f"use distributed_type={kind}")  # fmt: skip
            _check_section(where, section, v[section], rules)
    ds = v.get("deepspeed_config") or {}
    if ds.get("zero_stage") != 3 and (ds.get("offload_param_device") or "none") != "none":
        raise UsageError(f"{where}: offload_param_device={ds['offload_param_device']} needs "
                         "zero_stage 3 (ZeRO-1/2 shard no parameters)")  # fmt: skip


def split_accelerate_sets(sets: list[str] | None) -> tuple[list[str], str | None, dict[str, Any]]:
    """Split `--set` items into pipeline overrides and `accelerate.*` ones (dry run only).

    Returns:
        (pipeline sets, accelerate config name or path from `accelerate.config=...`,
        {dotted accelerate key: YAML-parsed value}).
    """
    rest: list[str] = []
    chosen: str | None = None
    over: dict[str, Any] = {}
    for item in sets or []:
        key, sep, raw = item.partition("=")
        if not key.strip().startswith("accelerate.") or not sep:
            rest.append(item)
            continue
        sub = key.strip()[len("accelerate.") :]
        if sub == "config":
            chosen = raw.strip()
            continue
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if sub.split(".")[0] not in ACCELERATE_KEYS:
            raise UsageError(f"unknown accelerate key '{sub}' in --set"
                             f"{did_you_mean(sub.split('.')[0], sorted(ACCELERATE_KEYS))}; "
                             "accepted: config (a shipped name or a path), "
                             f"{', '.join(sorted(ACCELERATE_KEYS))}")  # fmt: skip
        over[sub] = value
    return rest, chosen, over


def accelerate_for(
    default: str | None, sets: list[str] | None
) -> tuple[list[str], AccelerateCheck | None]:
    """The pipeline's `--set` list and the accelerate config a dry run checks (default or the
    one `--set accelerate.config=...` names)."""
    rest, chosen, over = split_accelerate_sets(sets)
    name = chosen or default
    return rest, (None if name is None else load_accelerate(name, over))
