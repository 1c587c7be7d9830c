"""Stage `indicators`: transferability indicators against the transfer matrix, gates M7 and M10.

Reproduces: prompt_transfer.md §2.10. For each seed k of the matrix stage, the train stage's
task prompts P_s^k are compared pairwise (every ordered off-diagonal pair s != t) by E_avg,
E_tok, E_pair, Euclidean, ON over all layers and over the spec's layer windows, ON_raw,
`on_input=task` (as `ON_task`: the per-neuron active fractions of P_s and P_t over the first
64 dev inputs of t, all layers; a variant, not ON) and the oracle 1[fam(s) = fam(t)]. Each
indicator is correlated (Spearman) with the matrix stage's R_k(s -> t) on test, pooled over the
pairs and per target (averaged over targets), with a 95% bootstrap CI resampling targets; seeds
are summarised as mean +- std. Scatter PNGs plot ON_all and E_avg against R, coloured by same /
cross family.

Resume: each seed's result is one content-addressed JSON in `indicators/`; the stage file
carries the key of all its inputs, so a rerun with the same prompts, R and settings returns it
unchanged, and a killed stage recomputes only the seeds it had not finished.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.io import atomic_write_json, read_json

from .artefacts import content_key

EMBEDDING = ("E_avg", "E_tok", "E_pair", "Euclidean")
SCATTERED = ("ON_all", "E_avg")
ON_INPUTS = 64  # target inputs averaged by `on_input=task` (§2.10)


def _pairs(tasks: list[str]) -> list[tuple[str, str]]:
    """Ordered off-diagonal (source, target) pairs, target-major like the matrix."""
    return [(s, t) for t in tasks for s in tasks if s != t]


def indicator_values(
    study: Any, prompts: dict[str, Any], family: dict[str, str], windows: dict[str, list[int]]
) -> dict[str, dict[tuple[str, str], float]]:
    """I(s, t) of every indicator for every ordered pair of the given prompts."""
    from . import indicators as ind
    from .data import collate
    from .neurons import active_fractions, mask_slot_activations

    tok = study.bb.tokenizer
    bos = tok.cls_token_id if tok.cls_token_id is not None else tok.bos_token_id
    model = study.model()
    acts = {t: mask_slot_activations(model, p, bos) for t, (p, _) in prompts.items()}
    frac = {}  # (prompt task, input task) -> active fractions, for `on_input=task`
    for t in prompts:
        batch = collate(tok, study.task(t).splits["dev"][:ON_INPUTS])
        batch.pop("labels", None)
        for s, (p, _) in prompts.items():
            frac[s, t] = active_fractions(model, p, batch)
    emb = {"E_avg": ind.e_avg, "E_tok": ind.e_tok, "E_pair": ind.e_pair,
           "Euclidean": ind.euclidean}  # fmt: skip
    out: dict[str, dict[tuple[str, str], float]] = {}
    for s, t in _pairs(list(prompts)):
        p, q = prompts[s][0], prompts[t][0]
        row = {k: f(p, q) for k, f in emb.items()}
        for w, layers in windows.items():
            row[f"ON_{w}"] = ind.on_overlap(acts[s], acts[t], layers)
        row["ON_raw"] = ind.on_raw(acts[s], acts[t], windows["all"])
        row["ON_task"] = ind.on_fraction(frac[s, t], frac[t, t], windows["all"])
        row["oracle"] = float(family[s] == family[t])
        for k, v in row.items():
            out.setdefault(k, {})[s, t] = v
    return out


def correlations(
    values: dict[str, dict[tuple[str, str], float]],
    rel: dict[str, dict[str, float]],
    tasks: list[str],
    n_boot: int,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """Pooled and per-target rho of every indicator against R (rows = sources), with CIs."""
    from .indicators import correlate, correlate_ci

    n = len(tasks)
    transfer = [[rel[tasks[j]][tasks[i]] if i != j else 0.0 for j in range(n)] for i in range(n)]
    out = {}
    for name, vals in values.items():
        mat = [[vals.get((tasks[i], tasks[j]), 0.0) for j in range(n)] for i in range(n)]
        out[name] = {**correlate(mat, transfer), **correlate_ci(mat, transfer, n_boot, seed)}
    return out


def _mean_over_seeds(per_seed: dict[str, Any]) -> dict[str, Any]:
    from thunlp_repro.shared.metrics import mean_and_spread

    names = list(next(iter(per_seed.values()))["rho"])
    out = {}
    for name in names:
        out[name] = {}
        for form in ("pooled", "per_target"):
            mu, sd, cnt = mean_and_spread([d["rho"][name][form] for d in per_seed.values()])
            out[name][form] = {"mean": mu, "std": sd, "n_seeds": cnt}
    return out


def draw_scatters(doc: dict[str, Any], out: Path) -> dict[str, Path]:
    """ON_all and E_avg against R over every seed's pairs, coloured same / cross family."""
    from .indicators import scatter_plot

    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in SCATTERED:
        xs, ys, groups = [], [], []
        for d in doc["per_seed"].values():
            xs += d["values"][name]
            ys += d["R"]
            groups += ["same family" if v else "cross family" for v in d["values"]["oracle"]]
        rho = doc["mean"][name]["pooled"]["mean"]
        path = out / f"indicator_scatter_{name}.png"
        scatter_plot(xs, ys, rho, name, str(path), groups)
        paths[name] = path
    return paths


def run_indicators(study: Any) -> dict[str, Any]:
    """Stage `indicators`: every indicator per seed, its rho against R, gates M7 and M10."""
    from .gates_m7_m10 import m7, m10_indicators
    from .indicators import layer_windows

    t0 = time.time()
    train, matrix = study.read_stage("train"), study.read_stage("matrix")
    if train["status"] != "ok" or matrix["status"] != "ok":
        raise UsageError("the train and matrix stages must be finished (status ok) before "
                         "indicators; rerun them")  # fmt: skip
    tasks, family = list(matrix["tasks"]), matrix["family"]
    if len(tasks) < 3:
        raise UsageError(f"indicators need >= 3 tasks for a per-target rho, got {len(tasks)}")
    seeds = [str(s) for s in matrix["seeds"]]
    from .pipeline import _seed_prompts  # lazy: pipeline imports this module's runner

    prompts = {s: _seed_prompts(study, train, s, tasks) for s in seeds}
    windows = layer_windows(int(study.bb.info["layers"]))
    n_boot = study.cfg.exp.bootstrap
    key = content_key({
        "prompts": {s: {t: sha for t, (_, sha) in p.items()} for s, p in prompts.items()},
        "rel": content_key({s: matrix["per_seed"][s]["rel"] for s in seeds}),
        "backbone": study.bb.info["backbone_sha256"], "windows": windows, "n_boot": n_boot,
        "slot": [study.cfg.prompt.mask_slot, study.cfg.prompt.positions],
        "on_inputs": ON_INPUTS,
    })  # fmt: skip
    path = study.stage_path("indicators")
    if path.is_file():
        old = read_json(path)
        if old.get("key") == key and old.get("status") == "ok":
            return {**old, "reused": True}
    per_seed, status = {}, "ok"
    pairs = _pairs(tasks)
    for s in seeds:
        cache = study.root / "indicators" / f"seed{s}-{key}.json"
        if cache.is_file():
            per_seed[s] = read_json(cache)
            continue
        if not study.budget.allows():
            status = "partial"
            break
        values = indicator_values(study, prompts[s], family, windows)
        rel = matrix["per_seed"][s]["rel"]
        doc_s = {
            "values": {k: [v[p] for p in pairs] for k, v in values.items()},
            "R": [rel[t][src] for src, t in pairs],
            "rho": correlations(values, rel, tasks, n_boot, int(s)),
        }
        atomic_write_json(cache, doc_s)
        per_seed[s] = doc_s
    doc: dict[str, Any] = {
        "stage": "indicators", "status": status, "key": key, "seeds": seeds, "tasks": tasks,
        "family": family, "pairs": [list(p) for p in pairs], "windows": windows,
        "per_seed": per_seed, "n_boot": n_boot,
    }  # fmt: skip
    if status == "ok":
        doc["mean"] = _mean_over_seeds(per_seed)
        doc["gates"] = [m7(doc), m10_indicators(doc)]
        doc["plots"] = {k: str(p) for k, p in draw_scatters(doc, study.root / "indicators").items()}
    doc["wall_s"] = time.time() - t0
    study.write_stage("indicators", doc)
    return doc
