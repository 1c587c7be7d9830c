"""One-screen summaries of a finished stage, printed by the CLI (no torch).

Reproduces: prompt_transfer.md §6 (the headline numbers of R2 and R3 per stage, on the console).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def echo_summary(doc: dict[str, Any], echo: Callable[[str], Any]) -> None:
    """Print the stage's headline numbers."""
    stage = doc["stage"]
    if stage == "train":
        for task, seeds in sorted(doc["runs"].items()):
            accs = ", ".join(f"{v['test_accuracy']:.1f}" for _, v in sorted(seeds.items()))
            maj = doc["majority"][task]
            echo(f"  {task:<12} test acc {accs} (majority {maj:.1f})")
    elif stage == "matrix" and doc["status"] == "ok":
        g = doc["mean"]["groups"]
        echo(
            "  "
            + "  ".join(
                f"{k} {g[k]['mean']:.1f}±{g[k]['std']:.1f}"
                for k in ("same", "cross", "gap", "rand-init", "rand-uniform")
            )
        )
    elif stage == "indicators" and doc["status"] == "ok":
        m = doc["mean"]
        echo("  pooled rho: " + "  ".join(
            f"{k} {m[k]['pooled']['mean']:.2f}" for k in ("ON_all", "E_avg", "E_tok", "oracle")
        ))  # fmt: skip
    elif stage == "project":
        for name, p in doc["pairs"].items():
            if p["status"] != "ok":
                echo(f"  {name}: {p['status']} ({p.get('reason', '')})")
                continue
            rs = ", ".join(
                f"{m} {sum(v['R'].values()) / len(v['R']):.1f}" for m, v in p["modes"].items()
            )
            echo(f"  {name}: mean R over {len(p['groups'])} targets: {rs}")
    elif stage == "ki-arm":
        for name, e in doc["encoders"].items():
            if e["status"] != "ok":
                echo(f"  {name}: {e['status']} ({e.get('reason', '')})")
                continue
            echo(f"  {name}: same {e['same']:.1f}  cross {e['cross']:.1f}  gap {e['gap']:.1f}  "
                 f"({len(e['learned'])}/{len(e['own_acc'])} tasks learned)")  # fmt: skip
    elif stage == "tpt":
        for r in doc["rows"]:
            echo(
                f"  {r['arm']:<9} {r['source']:>12} -> {r['target']:<12} seed {r['seed']}: "
                f"speedup_95 {r['speedup_95']:.2f}, final {r['final_arm']:.1f} vs "
                f"{r['final_vanilla']:.1f}"
            )
