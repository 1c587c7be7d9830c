"""KI paper scale, ki.md §3: what each KI verb and experiment would train, before any GPU hour.

The plan mirrors `ki.experiments` run for run (E1-E7 of §3.5, the GPT arm of §3.7): the same
configs from `ki.runs.make_cfg` (the preset, its `<preset>-<exp>` variant, the user's `--config`
and `--set`), the same run-cache tags, so runs that several experiments share (E1's teacher and
students in E2, E5, E6, E7) carry one key and are counted once by `reproduce-all`. FLOPs per run
come from the §2.6 cost model (`ki.flops`, as the training ledger computes them) with parameter
counts derived from the §3.1 architecture table (`ki.archs`), so no model is built and no weight
is loaded; a hub teacher's shape comes from the table below, a local one's from its config.json.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from thunlp_repro.ki.archs import ARCHS, Arch
from thunlp_repro.shared.dryrun import (
    DatasetEntry,
    DryRunPlan,
    ModelEntry,
    RunEntry,
    accelerate_for,
    check_hub_id,
    model_entry,
    task_entry,
)

#: Hub ids ki.md §3.1 / §3.7 names (teachers and tokenizers).
PAPER_IDS = ("FacebookAI/roberta-base", "FacebookAI/roberta-large", "HuggingFaceTB/SmolLM2-135M",
             "HuggingFaceTB/SmolLM2-360M")  # fmt: skip
#: Shapes of the hub teachers, as their configs give them [repo: the hub configs].
HUB_SHAPES = {
    "FacebookAI/roberta-base": ARCHS.get("roberta_base"),
    "roberta-base": ARCHS.get("roberta_base"),
    "FacebookAI/roberta-large": ARCHS.get("roberta_large"),
    "HuggingFaceTB/SmolLM2-135M": Arch("llama", 30, 576, 1536, 9, 8192, kv_heads=3),
}
#: Vocabulary sizes of the tokenizers the presets name (ki.md §3.1: 50,265; §4.2: 30,522).
VOCAB = {"FacebookAI/roberta-base": 50265, "roberta-base": 50265, "minilm-l6": 30522,
         "HuggingFaceTB/SmolLM2-135M": 49152, "tiny": 105}  # fmt: skip
DEFAULT_ACCELERATE = "deepspeed_zero2"  # ki.md §3.4's launch line (other presets: cpu)

TABLE_OF = {"e1": "e1-ki-vs-scratch", "e2": "e2-schedule", "e3": "e3-teacher-arch",
            "e4": "e4-teacher-data", "e5": "e5-generations", "e6": "e6-domain",
            "e7": "e7-downstream", "gpt": "gpt"}  # fmt: skip


# ---------------------------------------------------------------------------- parameter counts
def arch_params(a: Arch, vocab: int) -> tuple[int, int]:
    """(total, non-embedding) parameters of an architecture, counted as `archs.param_counts`
    counts a built model (tied decoder once; the MLM head transform and bias are non-embedding)."""
    d, f, n = a.hidden, a.ffn, a.layers
    if a.family == "llama":
        kv = (a.kv_heads or a.heads) * (d // a.heads)
        layer = 2 * d * d + 2 * d * kv + 3 * d * f + 2 * d
        body = n * layer + d  # final norm
        return body + vocab * d, body
    layer = 4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d  # attention, FFN, two LayerNorms
    head = d * d + d + 2 * d + vocab  # transform, LayerNorm, output bias (decoder tied)
    types = 1 if a.family == "roberta" else 2
    emb = vocab * d + a.positions * d + types * d + 2 * d
    return n * layer + head + emb, n * layer + head


def _shape_of(name: str | None) -> Arch | None:
    """A teacher's shape without loading it: random:<arch>, a hub id we know, or config.json."""
    if not name:
        return None
    if name.startswith("random:"):
        return ARCHS.get(name.split(":", 1)[1])
    if name in HUB_SHAPES:
        return HUB_SHAPES[name]
    cfg_file = Path(name).expanduser() / "config.json"
    if cfg_file.is_file():
        c = json.loads(cfg_file.read_text(encoding="utf-8"))
        family = "llama" if c.get("model_type") in ("llama", "qwen2") else "bert"
        return Arch(family, int(c["num_hidden_layers"]), int(c["hidden_size"]),
                    int(c["intermediate_size"]), int(c["num_attention_heads"]),
                    int(c.get("max_position_embeddings", 512)),
                    kv_heads=c.get("num_key_value_heads"))  # fmt: skip
    return None


@functools.cache
def _teacher_steps(schedule: str, stop: int, alpha0: float, max_steps: int) -> int | None:
    from thunlp_repro.ki.flops import teacher_run_steps
    from thunlp_repro.ki.inheritance import SCHEDULES

    return teacher_run_steps(SCHEDULES.get(schedule), stop, alpha0, max_steps)


def run_entry(cfg: Any, label: str, key: str, teacher: Arch | None = None) -> RunEntry:
    """One pre-training run: steps, tokens and the §2.6 FLOPs of student and teacher."""
    from thunlp_repro.ki.flops import ModelShape, student_step_flops, teacher_step_flops
    from thunlp_repro.ki.inheritance import SCHEDULES

    vocab = VOCAB.get(cfg.data.tokenizer, 50000)
    arch = ARCHS.get(cfg.model.arch)
    total, non_emb = arch_params(arch, vocab)
    b, seq, steps = cfg.train.global_batch_size, cfg.data.block_size, cfg.train.max_steps
    causal = cfg.objective == "causal"
    n_sel = b * (seq - 1) if causal else cfg.data.mask_rate * b * (seq - 2)
    flops = steps * student_step_flops(ModelShape(non_emb, arch.layers, arch.hidden, vocab), b,
                                       seq, n_sel)  # fmt: skip
    sched = SCHEDULES.get(cfg.ki.schedule)
    if teacher is not None and sched.uses_teacher:
        t_shape = ModelShape(arch_params(teacher, vocab)[1], teacher.layers, teacher.hidden, vocab)
        ran = _teacher_steps(cfg.ki.schedule, cfg.stop_step(), cfg.ki.alpha0, steps) or 0
        flops += ran * teacher_step_flops(t_shape, b, seq, n_sel)
    micro = steps * (b // cfg.train.micro_batch_size)
    return RunEntry(label, cfg.model.arch, steps, steps * b * seq, total, flops, key, micro)


# ---------------------------------------------------------------------------- the runs
class _Planner:
    """Collects the runs, models and corpora of one or more experiments (run cache keys)."""

    def __init__(self, preset: str) -> None:
        from thunlp_repro.ki.runs import make_cfg

        self.preset = preset
        self.base = make_cfg(preset)
        self.runs: list[RunEntry] = []
        self.models: dict[str, ModelEntry] = {}
        self.corpora: list[str] = []
        self.tasks: list[str] = []
        self.notes: list[str] = []

    def _add(self, cfg: Any, label: str, tag: str, exp: str = "",
             teacher: Arch | None = None) -> RunEntry:  # fmt: skip
        from thunlp_repro.ki.runs import variant

        key = f"{variant(self.preset, exp) if exp else self.preset}/{tag}"
        entry = run_entry(cfg, label, key, teacher)
        if all(r.key != key for r in self.runs):
            self.runs.append(entry)
        for corpus in (cfg.data.corpus, *cfg.data.extra_val):
            if corpus not in self.corpora:
                self.corpora.append(corpus)
        if cfg.model.arch not in self.models:
            self.models[cfg.model.arch] = ModelEntry(
                cfg.model.arch,
                "trained (arch)",
                "arch",
                f"{ARCHS.get(cfg.model.arch).family} "
                f"{ARCHS.get(cfg.model.arch).shape}, random init",
                entry.params,
                "none",
            )
        return entry

    def teacher(self, arch: str, corpus: str | None = None, fraction: float = 1.0,
                steps: int | None = None) -> Arch:  # fmt: skip
        """`runs.ensure_teacher`'s run (trained here, not downloaded)."""
        from thunlp_repro.ki.runs import make_cfg, teacher_sets

        sets = teacher_sets(self.base) + [f"model.arch={arch}", f"data.train_fraction={fraction}"]
        if corpus:
            sets.append(f"data.corpus={corpus}")
        if steps:
            sets.append(f"train.max_steps={steps}")
        cfg = make_cfg(self.preset, "", sets)
        tag = f"teacher-{arch}" + (f"-{corpus}" if corpus else "") + (
            f"-frac{fraction:g}" if fraction < 1 else "")  # fmt: skip
        self._add(cfg, tag, tag)
        return ARCHS.get(arch)

    def student(self, exp: str, sets: list[str], tag: str, label: str,
                teacher: Arch | None) -> None:  # fmt: skip
        from thunlp_repro.ki.runs import make_cfg

        needs_name = teacher is not None and not any(s.startswith("teacher.name=") for s in sets)
        extra = ["teacher.name=planned-teacher"] if needs_name else []
        cfg = make_cfg(self.preset, exp, [*extra, *sets])
        self._add(cfg, label, tag, exp, teacher)

    # --- experiments, as ki.experiments runs them
    def e1(self) -> Arch:
        c = self.base
        t = self.teacher(c.exp.teacher_arch)
        for s in c.exp.seeds:
            self.student(
                "",
                [
                    "ki.schedule=none",
                    "teacher.name=null",
                    f"model.arch={c.model.arch}",
                    f"runtime.seed={s}",
                ],
                f"scratch-s{s}",
                f"scratch s{s}",
                None,
            )
            self.student("", [f"runtime.seed={s}"], f"ki-s{s}", f"KI s{s}", t)
        return t

    def e2(self) -> None:
        c, t = self.base, self.e1()
        arms = [(f"ki.stop_step={stop}", f"ki-T{stop}") for stop in c.exp.stops
                if stop != c.stop_step()]  # fmt: skip
        arms += [("ki.alpha0=0.5", "ki-a0.5")] + [
            (f"ki.schedule={s}", f"ki-{s}") for s in ("kd-then-mlm", "constant-half", "kd-only")
        ]
        for setting, tag in arms:
            for s in c.exp.seeds:
                self.student("", [setting, f"runtime.seed={s}"], f"{tag}-s{s}",
                             f"{tag} s{s}", t)  # fmt: skip

    def _sweep(self, exp: str, teachers: dict[str, tuple]) -> None:
        from thunlp_repro.ki.runs import make_cfg

        seeds = make_cfg(self.preset, exp).exp.seeds
        for s in seeds:
            self.student(exp, ["ki.schedule=none", "teacher.name=null", f"runtime.seed={s}"],
                         f"scratch-s{s}", f"scratch s{s}", None)  # fmt: skip
        for label, (arch, corpus, frac) in teachers.items():
            t = self.teacher(arch, corpus, frac)
            for s in seeds:
                self.student(exp, [f"runtime.seed={s}"], f"ki-{label}-s{s}", f"KI<-{label} s{s}", t)

    def e3(self) -> None:
        from thunlp_repro.ki.runs import make_cfg

        self._sweep("e3", {a: (a, None, 1.0) for a in make_cfg(self.preset, "e3").exp.teachers})

    def e4(self) -> None:
        from thunlp_repro.ki.runs import make_cfg

        e = make_cfg(self.preset, "e4").exp
        self._sweep("e4", {"full": (e.teacher_arch, None, 1.0),
                           "small-data": (e.teacher_arch, None, e.small_data_fraction),
                           "news-only": (e.teacher_arch, e.ood_corpus, 1.0)})  # fmt: skip

    def e5(self) -> None:
        c = self.base
        self.e1()
        g2 = ARCHS.get(c.model.arch)
        for s in c.exp.seeds:
            self.student("", ["ki.schedule=none", "teacher.name=null",
                              f"model.arch={c.exp.g3_arch}", f"runtime.seed={s}"],
                         f"g3-scratch-s{s}", f"G3 scratch s{s}", None)  # fmt: skip
            self.student("", [f"model.arch={c.exp.g3_arch}", f"runtime.seed={s}"],
                         f"g3-chain-s{s}", f"G3 KI<-G2 s{s}", g2)  # fmt: skip
            if c.exp.g3_control:
                self.student("", [f"model.arch={c.exp.g3_arch}", f"runtime.seed={s}"],
                             f"g3-control-s{s}", f"G3 KI<-G2-scratch s{s}", g2)  # fmt: skip

    def e6(self) -> None:
        from thunlp_repro.ki.runs import make_cfg

        c = self.base
        general = self.e1()
        e = make_cfg(self.preset, "e6").exp
        domain = self.teacher(e.teacher_arch, e.domain_corpus, steps=e.domain_teacher_steps)
        for s in e.seeds:
            common = ["model.init=planned-e1-scratch", f"runtime.seed={s}",
                      f"model.arch={c.model.arch}"]  # fmt: skip
            for arm, sets, t in (("plain", ["ki.schedule=none", "teacher.name=null"], None),
                                 ("ki-news", [], domain), ("ki-general", [], general)):  # fmt: skip
                self.student("e6", [*common, *sets], f"e6-{arm}-s{s}", f"E6 {arm} s{s}", t)

    def e7(self, parts: list[str] | None = None) -> None:
        from thunlp_repro.ki.runs import finetune_cfg

        c, e = self.base, self.base.exp
        parts = list(parts or ("e1", "e5", "e6"))
        groups: list[tuple[str, str, list[str], float]] = []
        if "e1" in parts:
            self.e1()
            groups += [(arm, a, e.tasks, e.finetune_lr) for arm, a in
                       (("teacher", e.teacher_arch), ("scratch", c.model.arch),
                        ("ki", c.model.arch))]  # fmt: skip
        if "e5" in parts:
            self.e5()
            groups += [(arm, e.g3_arch, e.tasks, e.finetune_lr_g3)
                       for arm in ("g3-scratch", "g3-chain")]  # fmt: skip
        if "e6" in parts:
            self.e6()
            groups += [(f"e6-{arm}", c.model.arch, [e.domain_task], e.finetune_lr)
                       for arm in ("plain", "ki-news", "ki-general")]  # fmt: skip
        vocab = VOCAB.get(c.data.tokenizer, 50000)
        for arm, arch, tasks, lr in groups:
            params = arch_params(ARCHS.get(arch), vocab)[0]
            for task in tasks:
                if task not in self.tasks:
                    self.tasks.append(task)
                for s in e.seeds:
                    f = finetune_cfg(self.preset, f"planned/{arm}", task, s, c, lr)
                    micro = f.train.max_steps * (
                        f.train.global_batch_size // f.train.micro_batch_size
                    )
                    tokens = f.train.max_steps * f.train.global_batch_size * f.data.max_length
                    self.runs.append(RunEntry(f"fine-tune {arm} {task} s{s}", arch,
                                              f.train.max_steps, tokens, params,
                                              key=f"{self.preset}/ft-{arm}-{task}-s{s}",
                                              micro_batches=micro))  # fmt: skip

    def gpt(self) -> None:
        from thunlp_repro.ki.runs import make_cfg

        cfg = make_cfg(self.preset, "gpt")
        teacher = _shape_of(cfg.teacher.name)
        for s in cfg.exp.seeds:
            self.student("gpt", ["ki.schedule=none", "teacher.name=null", f"runtime.seed={s}"],
                         f"gpt-scratch-s{s}", f"GPT scratch s{s}", None)  # fmt: skip
            self.student("gpt", [f"runtime.seed={s}"], f"gpt-ki-s{s}", f"GPT KI s{s}", teacher)
        self.hub_model(cfg.teacher.name, "teacher (frozen)")
        self.hub_model(cfg.data.tokenizer, "tokenizer", tokenizer=True)
        self.notes.append("the top-k check (M17) adds forward passes over a few held-out "
                          "sequences: not counted")  # fmt: skip

    def pretrain(self, cfg: Any) -> None:
        """One `ki pretrain` run of the resolved config."""
        teacher = None
        from thunlp_repro.ki.inheritance import SCHEDULES

        if SCHEDULES.get(cfg.ki.schedule).uses_teacher:
            self.hub_model(cfg.teacher.name, "teacher (frozen)")
            teacher = _shape_of(cfg.teacher.name)
            if teacher is None:
                self.notes.append(f"teacher {cfg.teacher.name}: shape unknown offline, its "
                                  "forward FLOPs are not counted")  # fmt: skip
            elif cfg.teacher.name in HUB_SHAPES and cfg.objective == "mlm":
                self.notes.append(
                    "a hub teacher is the 'strong public teacher' of ki.md §3.1: "
                    "label its savings so, never compare them with the paper's"
                )
        label = "KI student" if teacher is not None else "scratch / teacher"
        self._add(
            cfg, f"{label} s{cfg.runtime.seed}", f"pretrain-s{cfg.runtime.seed}", teacher=teacher
        )

    def hub_model(self, name: str | None, role: str, tokenizer: bool = False) -> None:
        if not name or name in self.models or name.startswith("random:") or name == "tiny":
            return
        entry = model_entry(name, role, PAPER_IDS, notes=self.notes)
        if tokenizer and entry.source == "hub":
            entry = replace(entry, params=None, size_mb=None,
                            download="would download the tokenizer files from the hub")  # fmt: skip
        self.models[name] = entry


def _datasets(planner: _Planner) -> list[DatasetEntry]:
    from thunlp_repro.shared.corpora import CORPORA
    from thunlp_repro.shared.corpora_hub import HUB_CORPORA

    out = []
    for name in planner.corpora:
        spec = CORPORA.get(name)  # an unknown corpus fails here, with "did you mean"
        if spec.source != "hub":
            out.append(DatasetEntry(name, "train + held-out validation", "offline corpus",
                                    spec.description))  # fmt: skip
            continue
        members = HUB_CORPORA.get(name).members or (name,)
        for member in members:
            hub = HUB_CORPORA.get(member)
            for src in hub.sources:
                out.append(DatasetEntry(
                    f"{name}" if member == name else f"{name}/{member}",
                    f"{'+'.join(src.splits)} (0.5% held out)", f"hub dataset {src.label}",
                    f"would stream with `datasets`, {hub.budget / 1e9:.1f}B-token budget, share "
                    f"{src.share:.0%}" + (f", revision {src.revision}" if src.revision else ""),
                ))  # fmt: skip
    out += [task_entry(t) for t in planner.tasks]
    return out


@contextmanager
def _quiet_overrides() -> Iterator[None]:
    """The plan builds dozens of configs: keep their override log lines out of the output."""
    log = logging.getLogger("thunlp_repro.shared.config")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)


def ki_plan(preset: str = "paper", table: str | None = None, config: Any = None,
            sets: list[str] | None = None, parts: list[str] | None = None, command: str = "",
            seed: int | None = None) -> DryRunPlan:  # fmt: skip
    """The validated dry-run plan of one KI experiment table (None: one `ki pretrain` run).

    Raises:
        UsageError: a bad key, arch, schedule, corpus, model, task or accelerate value.
    """
    from thunlp_repro.ki import runs
    from thunlp_repro.ki.experiments import TABLES

    rest, accel = accelerate_for(DEFAULT_ACCELERATE if preset.startswith("paper") else "cpu", sets)
    if seed is not None:
        rest.append(f"runtime.seed={seed}")
    with runs.user_settings(config, rest), _quiet_overrides():
        planner = _Planner(preset)
        if table is None:
            cfg = runs.make_cfg(preset)
            planner.pretrain(cfg)
            title = "KI (Qin et al., NAACL 2022): one pre-training run"
        else:
            if table not in TABLES:
                from thunlp_repro.shared.errors import UsageError

                raise UsageError(f"unknown KI table '{table}'; known: {', '.join(TABLES)}")
            step = {v: k for k, v in TABLE_OF.items()}[table]
            (planner.e7(parts) if step == "e7" else getattr(planner, step)())
            cfg = runs.make_cfg(preset, "gpt" if step == "gpt" else "")
            title = f"KI (Qin et al., NAACL 2022) ki/{table}: {TABLES[table].split(':')[0]}"
        planner.hub_model(cfg.data.tokenizer, "tokenizer", tokenizer=True)
        teacher = runs.make_cfg(preset).teacher.name  # E1-E7 train their own, but check a typo
        if teacher and "/" in teacher and not Path(teacher).expanduser().exists():
            check_hub_id(teacher, PAPER_IDS)
        datasets = _datasets(planner)
    models = list(planner.models.values())
    notes = planner.notes + [
        "finished runs in the run cache (runs/ki/) are reused; the estimate assumes none exist",
        f"validation every {cfg.train.eval_every} updates ({cfg.data.val_blocks} blocks) is "
        "forward-only and not counted",
    ]  # fmt: skip
    plan = DryRunPlan(title, preset, command or f"thunlp-repro ki ... --preset {preset}",
                      models=models, datasets=datasets, runs=planner.runs, accelerate=accel,
                      batch=(cfg.train.global_batch_size, cfg.train.micro_batch_size),
                      precision=cfg.runtime.precision, notes=notes)  # fmt: skip
    plan.validate()
    return plan
