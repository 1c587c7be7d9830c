"""Print the ratios of a pytest-benchmark JSON as one table (`make bench`, `.ci/run`).

Every benchmark records its same-run ratio(s) as `ratio_*` keys of `extra_info` and its goal as
`goal`; this prints them with the machine they were measured on. Report only: never a gate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def rows(doc: dict) -> list[tuple[str, str, float, str]]:
    """(benchmark, ratio name, value, goal) for every recorded ratio."""
    out = []
    for bench in doc.get("benchmarks", []):
        info = bench.get("extra_info", {})
        for key, value in sorted(info.items()):
            if key.startswith("ratio_") and isinstance(value, int | float):
                goal = info.get(f"goal_{key.removeprefix('ratio_')}", info.get("goal", "-"))
                out.append((bench["name"], key.removeprefix("ratio_"), float(value), str(goal)))
    return out


def main(path: str = "benchmarks/results/latest.json") -> None:
    file = Path(path)
    if not file.is_file():
        print(f"no benchmark results at {file}")
        return
    doc = json.loads(file.read_text())
    machine = doc.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw", machine.get("processor", "?"))
    print(f"benchmark ratios ({machine.get('node', '?')}: {cpu}, "
          f"{machine.get('cpu', {}).get('count', '?')} cores)")  # fmt: skip
    print("| benchmark | ratio | value | goal |\n|---|---|---|---|")
    for name, key, value, goal in rows(doc):
        print(f"| {name} | {key} | {value:.3f} | {goal} |")


if __name__ == "__main__":
    main(*sys.argv[1:])
