"""The registered KI experiments `ki/<table-id>` (ki.md §4.7 E1-E7, §4.8 `gpt`; §3.5 at paper
scale).

Each experiment builds its configs and runs through `ki.runs` (the preset or its variant, a
user's `--config`/`--set` layered over it; runs cached by config hash, shared between
experiments), and writes one small JSON `results/<preset>/ki/<table>.json` for `reproduce-all`
and the report.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from thunlp_repro.ki.analysis import (
    beats,
    no_fall_behind,
    savings,
    seed_savings,
    step_saving_verdict,
    verdict,
)
from thunlp_repro.ki.runs import (
    chain_run,
    ensure_run,
    ensure_teacher,
    finetune_one,
    ki_run,
    make_cfg,
    scratch_run,
    settings_meta,
    student_runs,
)
from thunlp_repro.shared.config import to_dict
from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.paths import runs_root

logger = logging.getLogger(__name__)

TABLES = {
    "e1-ki-vs-scratch": "E1 KI vs scratch: PPL vs steps and FLOPs, compute saved (M1-M4)",
    "e2-schedule": "E2 inheritance schedule: T, alpha_0, kd-then-mlm, constant-half, kd-only",
    "e3-teacher-arch": "E3 teacher size and shape (depth, width, deep-narrow)",
    "e4-teacher-data": "E4 teacher pre-training data (1/8 data, out-of-domain news)",
    "e5-generations": "E5 chained generations G1 -> G2 -> G3",
    "e6-domain": "E6 domain adaptation to news: plain vs KI-news vs KI-general",
    "e7-downstream": "E7 downstream fine-tuning of E1 students and the teacher",
    "gpt": "GPT arm: smollm2-135m teacher -> Llama student, cached top-k KD (M16, M17)",
}


def train_curve(run_path: Path) -> dict[str, list[float]]:
    """α_t, L_MLM and L_KD at each logged step of one run (the report's F4), from its log."""
    import json

    rows = [json.loads(line) for line in (run_path / "metrics.jsonl").read_text().splitlines()
            if '"train/alpha"' in line]  # fmt: skip
    return {"step": [r["step"] for r in rows],
            **{k: [r[f"train/{k}"] for r in rows] for k in ("alpha", "mlm", "kd")}}  # fmt: skip


def _slim(metrics: dict) -> dict:
    """A run's metrics for a result file: the curve kept, bulky eval extras dropped."""
    keep = ("step", "ppl", "flops_student", "flops_total", "wall_s", "alpha")
    out = {k: v for k, v in metrics.items() if k not in ("evals", "teacher_eval")}
    out["evals"] = [{k: v for k, v in e.items() if k in keep or k.startswith("ppl_")}
                    for e in metrics["evals"]]  # fmt: skip
    return out


def write(
    preset: str,
    table: str,
    results_file: Path,
    metrics: dict,
    cfg: Any,
    validation: str = "fixed masked set (seed 0)",
) -> None:
    from thunlp_repro.shared.env import hardware
    from thunlp_repro.shared.io import atomic_write_json
    from thunlp_repro.shared.reporting.results import build_results

    doc = build_results(
        run_info={"paper": "ki", "experiment": TABLES[table].split(":")[0], "table": table,
                  "preset": preset, "status": "ok"},
        config=to_dict(cfg), metrics=metrics,
        eval_info={"validation": validation, "batch_size": cfg.eval.batch_size,
                   "val_blocks_per_domain": cfg.data.val_blocks},
        meta={"seeds": cfg.exp.seeds, "hardware": hardware(), **settings_meta()},
    )  # fmt: skip
    atomic_write_json(results_file, doc)


# ------------------------------------------------------------------------------ E1
def e1_runs(preset: str, overwrite: bool = False) -> tuple[dict, list, list, str]:
    cfg = make_cfg(preset)
    t_dir, t_metrics = ensure_teacher(preset, cfg.exp.teacher_arch, overwrite=overwrite)
    scratch = [scratch_run(preset, cfg.model.arch, s)[0] for s in cfg.exp.seeds]
    ki = [ki_run(preset, s, t_dir)[0] for s in cfg.exp.seeds]
    return t_metrics, scratch, ki, t_dir


def run_e1(preset: str, results_file: Path, overwrite: bool) -> None:
    cfg = make_cfg(preset)
    t_metrics, scratch, ki, _ = e1_runs(preset, overwrite)
    sav = savings(scratch, ki)
    fall = no_fall_behind(scratch, ki, cfg.stop_step())
    teacher_ppl = ki[0]["teacher_ppl"]
    step, flop = sav["step_saving"], sav["flop_saving_with_teacher"]
    accept = {
        "M1": step_saving_verdict(sav, "mean s_KI/S <= 0.80, each seed <= 0.90 (goal 0.70)"),
        "M2": verdict(None if flop is None else flop["mean"] >= 0.15,
                      None if flop is None else flop["mean"], "FLOP saving with teacher >= 15%"),
        "M3": verdict(fall["ok"], fall["worst_ratio_after_T"],
                      "after T: PPL_KI <= PPL_scratch*1.01 + 2 sigma; final <= *1.01"),
        "M4": verdict(fall["final_ki"] < teacher_ppl, [fall["final_ki"], teacher_ppl],
                      "final PPL_KI < teacher PPL"),
    }  # fmt: skip
    metrics = {
        "savings": sav,
        "no_fall_behind": fall,
        "acceptance": accept,
        "teacher": _slim(t_metrics),
        "teacher_ppl": teacher_ppl,
        "scratch": [_slim(r) for r in scratch],
        "ki": [_slim(r) for r in ki],
        "goal_70pct_steps": None if step is None else (1 - step["mean"]) <= 0.70,
        "diagnostics": train_curve(runs_root() / "ki" / ki[0]["run"]),
    }
    write(preset, "e1-ki-vs-scratch", results_file, metrics, cfg)


# ------------------------------------------------------------------------------ E2
def run_e2(preset: str, results_file: Path, overwrite: bool) -> None:
    cfg = make_cfg(preset)
    _, scratch, ki_default, t_dir = e1_runs(preset, overwrite)
    T = cfg.stop_step()
    arms: dict[str, list] = {f"linear-decay T={T}": ki_default}
    for stop in cfg.exp.stops:
        if stop != T:
            arms[f"linear-decay T={stop}"] = student_runs(
                preset, "", [f"teacher.name={t_dir}", f"ki.stop_step={stop}"], f"ki-T{stop}"
            )
    arms[f"linear-decay T={T} alpha0=0.5"] = student_runs(
        preset, "", [f"teacher.name={t_dir}", "ki.alpha0=0.5"], "ki-a0.5"
    )
    for sched in ("kd-then-mlm", "constant-half", "kd-only"):
        arms[sched] = student_runs(preset, "", [f"teacher.name={t_dir}", f"ki.schedule={sched}"],
                                   f"ki-{sched}")  # fmt: skip
    table = {name: savings(scratch, runs) for name, runs in arms.items()}
    finals = {name: [r["final_ppl"] for r in runs] for name, runs in arms.items()}
    final = {name: sum(v) / len(v) for name, v in finals.items()}
    m5 = [table[f"linear-decay T={s}"]["step_saving"] for s in cfg.exp.stops if s <= T]
    default, teacher_ppl = f"linear-decay T={T}", ki_default[0]["teacher_ppl"]
    m4 = final[default] < teacher_ppl  # M4 on E1's runs: does the student pass its teacher?
    accept = {
        "M5": verdict(all(x is not None and x["mean"] >= 0.2 for x in m5),
                      [None if x is None else x["mean"] for x in m5],
                      "linear-decay with T <= default each saves >= 20% of steps"),
        "M6": verdict(beats(finals["kd-only"], finals[default]) if m4 else None,
                      [final["kd-only"], final[default]],
                      "final PPL kd-only > linear-decay (T default) by more than 2 sigma",
                      "" if m4 else f"M4 fails: the KI student ends at {final[default]:.2f}, "
                      f"not below its teacher's {teacher_ppl:.2f}"),
        "M7": verdict(None, {k: final[k] for k in final}, "report only"),
    }  # fmt: skip
    metrics = {"arms": table, "final_ppl": final, "acceptance": accept,
               "scratch": [_slim(r) for r in scratch],
               "runs": {k: [_slim(r) for r in v] for k, v in arms.items()}}  # fmt: skip
    write(preset, "e2-schedule", results_file, metrics, cfg)


# ------------------------------------------------------------------------------ E3 / E4
def _teacher_sweep(preset: str, exp: str, teachers: dict[str, tuple], overwrite: bool) -> dict:
    scratch = student_runs(preset, exp, ["ki.schedule=none", "teacher.name=null"], "scratch")
    rows = {}
    for label, (arch, corpus, frac) in teachers.items():
        t_dir, t_m = ensure_teacher(preset, arch, corpus=corpus, fraction=frac,
                                    overwrite=overwrite)  # fmt: skip
        runs = student_runs(preset, exp, [f"teacher.name={t_dir}"], f"ki-{label}")
        sav = savings(scratch, runs)
        rows[label] = {"arch": arch, "corpus": corpus or "general", "fraction": frac,
                       "teacher_ppl": runs[0]["teacher_ppl"],
                       "teacher_params": runs[0]["teacher_params"], "savings": sav,
                       "teacher_run": _slim(t_m),
                       "final_ppl": sum(r["final_ppl"] for r in runs) / len(runs),
                       "runs": [_slim(r) for r in runs]}  # fmt: skip
    return {"scratch": [_slim(r) for r in scratch], "teachers": rows}


def _saving(row: dict) -> float | None:
    s = row["savings"]["step_saving"]
    return None if s is None else s["mean"]


def run_e3(preset: str, results_file: Path, overwrite: bool) -> None:
    from thunlp_repro.shared.metrics import spearman

    cfg = make_cfg(preset, "e3")
    teachers = {a: (a, None, 1.0) for a in cfg.exp.teachers}
    out = _teacher_sweep(preset, "e3", teachers, overwrite)
    rows = {k: v for k, v in out["teachers"].items() if k != "t-4x96"}
    pts = [(v["teacher_ppl"], _saving(v) if _saving(v) is not None else 0.0)
           for v in rows.values()]  # fmt: skip
    rho = spearman([p[0] for p in pts], [p[1] for p in pts]) if len(pts) >= 3 else None
    gap = max(p[1] for p in pts) - min(p[1] for p in pts) if pts else None
    out["acceptance"] = {
        "M8": verdict(None if rho is None else (rho <= -0.6 and gap >= 0.05), [rho, gap],
                      "Spearman(teacher PPL, saving) <= -0.6 and best - worst >= 5 points"),
        "M9": verdict(None, {k: _saving(v) for k, v in out["teachers"].items()
                             if k in ("t-4x96", "t-2x128")}, "report only"),
    }  # fmt: skip
    write(preset, "e3-teacher-arch", results_file, out, cfg)


def run_e4(preset: str, results_file: Path, overwrite: bool) -> None:
    cfg = make_cfg(preset, "e4")
    a = cfg.exp.teacher_arch
    teachers = {"full": (a, None, 1.0), "small-data": (a, None, cfg.exp.small_data_fraction),
                "news-only": (a, cfg.exp.ood_corpus, 1.0)}  # fmt: skip
    out = _teacher_sweep(preset, "e4", teachers, overwrite)
    t = out["teachers"]
    full, small, news = (seed_savings(t[k]["savings"]) for k in ("full", "small-data", "news-only"))
    out["acceptance"] = {
        "M10": verdict(
            beats(full, small, 0.05) and beats(full, news, 0.05),
            [sum(v) / len(v) for v in (full, small, news)],
            "full-data saving beats 1/8-data and news-only by 5 points and 2 sigma",
        )
    }
    write(preset, "e4-teacher-data", results_file, out, cfg)


# ------------------------------------------------------------------------------ E5
def e5_runs(preset: str, overwrite: bool = False) -> dict[str, list[tuple[dict, Path]]]:
    """G3 from scratch and G3 chained from E1's KI student (G2), per seed: (metrics, run path);
    with `exp.g3_control`, also M12's control, G3 with KI from E1's scratch student."""
    cfg = make_cfg(preset)
    t_dir, _ = ensure_teacher(preset, cfg.exp.teacher_arch)
    arms: dict[str, list[tuple[dict, Path]]] = {"g3-scratch": [], "g3-chain": []}
    for seed in cfg.exp.seeds:
        arms["g3-scratch"].append(scratch_run(preset, cfg.exp.g3_arch, seed, overwrite))
        _, g2_path = ki_run(preset, seed, t_dir)
        arms["g3-chain"].append(chain_run(preset, seed, g2_path, overwrite))
        if cfg.exp.g3_control:
            _, g2_scratch = scratch_run(preset, cfg.model.arch, seed)
            arms.setdefault("g3-control", []).append(
                chain_run(preset, seed, g2_scratch, overwrite, tag="g3-control")
            )
    return arms


def _generation(name: str, arch: str, runs: list[dict], sav: dict | None = None) -> dict:
    """One row of T5: a generation's final PPL over seeds and, for a KI generation, its step
    saving vs the same-size scratch run (None: P* not reached)."""
    from thunlp_repro.shared.metrics import mean_and_spread

    finals = [r["final_ppl"] for r in runs]
    m, sd, n = mean_and_spread(finals)
    return {"generation": name, "arch": arch,
            "final_ppl": {"mean": m, "sd": sd, "min": min(finals), "max": max(finals), "n": n},
            **({} if sav is None else {"step_saving": sav["step_saving"]})}  # fmt: skip


def run_e5(preset: str, results_file: Path, overwrite: bool) -> None:
    cfg = make_cfg(preset)
    arms = e5_runs(preset, overwrite)
    scratch = [m for m, _ in arms["g3-scratch"]]
    chain = [m for m, _ in arms["g3-chain"]]
    sav = savings(scratch, chain)
    t_metrics, g2_scratch, g2_ki, _ = e1_runs(preset)  # G1 and G2 are E1's runs (cached)
    arch, g3 = cfg.model.arch, cfg.exp.g3_arch
    control = [m for m, _ in arms.get("g3-control", [])]
    if control:
        csav = savings(scratch, control)
        m12 = verdict(None, {arm: None if s["step_saving"] is None else s["step_saving"]["mean"]
                             for arm, s in (("from G2-KI", sav), ("from G2-scratch", csav))},
                      "report only: G3 step saving from G2-KI vs from G2-scratch",
                      "report only")  # fmt: skip
    else:
        m12 = verdict(None, None, "report only: G3 from G2-KI vs G3 from G2-scratch",
                      "the optional control arm (G3 from G2-scratch) is not run")  # fmt: skip
    metrics = {
        "generations": [
            _generation("G1 teacher", cfg.exp.teacher_arch, [t_metrics]),
            _generation("G2 scratch", arch, g2_scratch),
            _generation("G2 KI from G1", arch, g2_ki, savings(g2_scratch, g2_ki)),
            _generation("G3 scratch", g3, scratch),
            _generation("G3 KI from G2-KI", g3, chain, sav),
            *([_generation("G3 KI from G2-scratch (control)", g3, control, csav)]
              if control else []),
        ],
        "savings": sav,
        "scratch": [_slim(r) for r in scratch],
        "chain": [_slim(r) for r in chain],
        **({"control": [_slim(r) for r in control]} if control else {}),
        "acceptance": {
            "M11": step_saving_verdict(sav, "chained G3: mean s/S <= 0.80, each seed <= 0.90"),
            "M12": m12,
        },
    }  # fmt: skip
    write(preset, "e5-generations", results_file, metrics, cfg)


# ------------------------------------------------------------------------------ E6
def e6_runs(preset: str, overwrite: bool = False) -> tuple[dict[str, list], dict]:
    """E6 arms per seed, each continuing E1's scratch student on the new domain.

    Returns ({arm: [(metrics, run path) per seed]}, the domain teacher's metrics).
    """
    cfg = make_cfg(preset, "e6")
    _, _, _, general_t = e1_runs(preset, overwrite)
    news_t, news_m = ensure_teacher(preset, cfg.exp.teacher_arch, corpus=cfg.exp.domain_corpus,
                                    steps=cfg.exp.domain_teacher_steps)  # fmt: skip
    arms: dict[str, list] = {"plain": [], "ki-news": [], "ki-general": []}
    base = make_cfg(preset)
    for seed in cfg.exp.seeds:
        _, start = scratch_run(preset, base.model.arch, seed)
        common = [f"model.init={start}", f"runtime.seed={seed}",
                  f"model.arch={base.model.arch}"]  # fmt: skip
        for arm, sets in (
            ("plain", ["ki.schedule=none", "teacher.name=null"]),
            ("ki-news", [f"teacher.name={news_t}"]),
            ("ki-general", [f"teacher.name={general_t}"]),
        ):
            c = make_cfg(preset, "e6", [*common, *sets])
            arms[arm].append(ensure_run(c, preset, f"e6-{arm}-s{seed}", overwrite))
    return arms, news_m


def run_e6(preset: str, results_file: Path, overwrite: bool) -> None:
    cfg = make_cfg(preset, "e6")
    runs_by_arm, news_m = e6_runs(preset, overwrite)
    arms = {a: [m for m, _ in runs] for a, runs in runs_by_arm.items()}
    news = {a: savings(arms["plain"], runs) for a, runs in arms.items() if a != "plain"}
    # "news" = the new domain, "general" = the first extra validation corpus (forgetting)
    general_key = f"ppl_{cfg.data.extra_val[0]}" if cfg.data.extra_val else "ppl_general"
    final = {a: {"news": sum(r["final_ppl"] for r in runs) / len(runs),
                 "general": sum(r["final"].get(general_key, float("nan")) for r in runs)
                 / len(runs)} for a, runs in arms.items()}  # fmt: skip
    kn, kg = news["ki-news"]["step_saving"], news["ki-general"]["step_saving"]
    m13 = (kn is not None and kn["mean"] >= 0.2 and final["ki-news"]["news"] <=
           final["plain"]["news"] and final["ki-news"]["general"] <=
           final["plain"]["general"] * 1.02)  # fmt: skip
    accept = {
        "M13": verdict(m13, [None if kn is None else kn["mean"], final],
                       "KI-news saves >= 20% steps to plain's final news PPL; news PPL <= plain;"
                       " general PPL <= plain*1.02"),
        "M14": verdict(None if kn is None else beats(seed_savings(news["ki-news"]),
                                                    seed_savings(news["ki-general"]), 0.05),
                       [None if kn is None else kn["mean"], None if kg is None else kg["mean"]],
                       "KI-news saving beats KI-general's by 5 points and 2 sigma",
                       "KI-news never reaches plain's final news PPL" if kn is None else ""),
    }  # fmt: skip
    metrics = {"savings_news": news, "final": final, "acceptance": accept,
               "news_teacher_ppl": news_m.get("best_ppl"), "news_teacher": _slim(news_m),
               "runs": {a: [_slim(r) for r in v] for a, v in arms.items()}}  # fmt: skip
    write(preset, "e6-domain", results_file, metrics, cfg)


# ------------------------------------------------------------------------------ E7
E7_PARTS = ("e1", "e5", "e6")  # E1 arms + teacher, E5's G3 arms, E6's arms (on the domain task)


def e7_checkpoints(preset: str, parts: list[str]) -> list[tuple[str, list[str], list[str], float]]:
    """(arm, tasks, checkpoint per seed, LR) for each fine-tuned group of the chosen parts."""
    cfg = make_cfg(preset)
    e = cfg.exp
    groups = []
    if "e1" in parts:
        t_dir, _ = ensure_teacher(preset, e.teacher_arch)
        groups.append(("teacher", e.tasks, [t_dir] * len(e.seeds), e.finetune_lr))
        for arm, run in (("scratch", lambda s: scratch_run(preset, cfg.model.arch, s)),
                         ("ki", lambda s: ki_run(preset, s, t_dir))):  # fmt: skip
            dirs = [str(run(s)[1] / "export") for s in e.seeds]
            groups.append((arm, e.tasks, dirs, e.finetune_lr))
    if "e5" in parts:
        for arm, runs in e5_runs(preset).items():
            groups.append((arm, e.tasks, [str(p / "export") for _, p in runs], e.finetune_lr_g3))
    if "e6" in parts:
        for arm, runs in e6_runs(preset)[0].items():
            groups.append((f"e6-{arm}", [e.domain_task], [str(p / "export") for _, p in runs],
                           e.finetune_lr))  # fmt: skip
    return groups


def run_e7(preset: str, results_file: Path, overwrite: bool,
           parts: list[str] | None = None) -> None:  # fmt: skip
    from thunlp_repro.shared.metrics import mean_and_spread

    cfg = make_cfg(preset)
    parts = list(parts or E7_PARTS)
    bad = sorted(set(parts) - set(E7_PARTS))
    if bad:
        raise UsageError(f"E7 parts must be among {', '.join(E7_PARTS)}, got {', '.join(bad)}")
    table: dict[str, dict] = {}
    for arm, tasks, dirs, lr in e7_checkpoints(preset, parts):
        for task in tasks:
            accs = [finetune_one(preset, d, task, seed, arm, cfg, lr)["test_accuracy"]
                    for d, seed in zip(dirs, cfg.exp.seeds, strict=True)]  # fmt: skip
            m, sd, _ = mean_and_spread(accs)
            table.setdefault(arm, {})[task] = {"mean": m, "sd": sd, "per_seed": accs}

    def not_worse(a: str, b: str, task: str) -> bool:
        return table[a][task]["mean"] >= table[b][task]["mean"] - 0.01

    checks = {}
    if "e1" in parts:
        checks.update({f"ki vs scratch, {t}": not_worse("ki", "scratch", t) for t in cfg.exp.tasks})
    if "e6" in parts:
        t = cfg.exp.domain_task
        checks[f"e6-ki-news vs e6-plain, {t}"] = not_worse("e6-ki-news", "e6-plain", t)
    missing = [p for p in ("e1", "e6") if p not in parts]
    metrics = {
        "parts": parts,
        "accuracy": table,
        "acceptance": {
            "M15": verdict(
                all(checks.values()) if checks else None,
                checks,
                "KI accuracy >= scratch - 1.0 point on each task; KI-news >= plain - 1.0 on the"
                " domain task",
                f"parts not run: {', '.join(missing)}" if missing else "",
            )
        },
    }
    write(preset, "e7-downstream", results_file, metrics, cfg)


# ------------------------------------------------------------------------------ GPT arm
def run_gpt(preset: str, results_file: Path, overwrite: bool) -> None:
    """The GPT-style arm (ki.md §4.8); see `gpt_arm.run_gpt_experiment`."""
    from thunlp_repro.ki.gpt_arm import run_gpt_experiment

    run_gpt_experiment(preset, results_file, overwrite)


RUNNERS = {"e1-ki-vs-scratch": run_e1, "e2-schedule": run_e2, "e3-teacher-arch": run_e3,
           "e4-teacher-data": run_e4, "e5-generations": run_e5, "e6-domain": run_e6,
           "e7-downstream": run_e7, "gpt": run_gpt}  # fmt: skip


QUICK_TABLES = ("e1-ki-vs-scratch",)
"""The headline retrained by `reproduce-all`'s quick profile (configs/ki/quick.yaml)."""
NEEDS = {"e7-downstream": ("ki/e1-ki-vs-scratch", "ki/e5-generations", "ki/e6-domain")}
MINUTES = {  # training minutes on 2 CPU cores (reports/ki.md, "Time"), rounded up for evals
    "e1-ki-vs-scratch": {"quick": 9.5, "full": 65.0},  # quick: 9.4 min measured idle
    "e2-schedule": {"full": 140.0},
    "e3-teacher-arch": {"full": 120.0},  # 12 runs, ~10 min each at E1's CPU s/step
    "e4-teacher-data": {"full": 80.0},  # 8 runs
    "e5-generations": {"full": 110.0},
    "e6-domain": {"full": 40.0},
    "e7-downstream": {"full": 30.0},
    "gpt": {"full": 40.0},
}


def _zoo_built() -> bool:
    from thunlp_repro.ki.zoo import ZOO, is_built

    return all(is_built(name) for name in ZOO.keys())


def _build_zoo() -> None:
    from thunlp_repro.ki.zoo import build

    build("mini")


def paper_plan(table: str) -> Any:
    """`ki/<table>`'s paper-scale dry-run plan (ki.md §3.5): runs, tokens, GPU hours [est.]."""
    from thunlp_repro.ki.dryrun import ki_plan

    return ki_plan(
        "paper", table, command=f"thunlp-repro reproduce-all --profile paper --only ki/{table}"
    )


def _register() -> None:
    from functools import partial

    from thunlp_repro.shared.experiments import (
        EXPERIMENTS,
        Experiment,
        Prerequisite,
        register_experiment,
        register_prerequisite,
    )

    # APET's Ladder K and prompt transfer's KI arm load these models by name (ki.md §4.9); the
    # runs behind them are E1's, E5's and E6's (cached), so after those the build only copies.
    register_prerequisite(Prerequisite(
        "ki/zoo", "the KI zoo's mini models (teachers, students, ladders)", _zoo_built,
        _build_zoo, minutes=230.0,
    ))  # fmt: skip

    for table, fn in RUNNERS.items():
        if f"ki/{table}" not in EXPERIMENTS:
            quick = ("quick",) if table in QUICK_TABLES else ()
            register_experiment(Experiment("ki", table, TABLES[table], fn,
                                           needs=NEEDS.get(table, ()),
                                           profiles=(*quick, "full", "paper"),
                                           minutes=MINUTES.get(table, {}),
                                           paper_plan=partial(paper_plan, table)))  # fmt: skip


_register()
