"""`reports/REPORT.md`: one table of every paper's headline claims, computed from result files.

Each paper registers a function in its `report` module (`@register_headline("ki")`) that turns
its results, grouped by preset, into `Headline` rows: the claim, the paper's number, ours from
the committed `mini` record and from a `quick` run (when one is in the results root), the
tolerance the quick number is judged by, and the verdict of the record (REPRODUCED / DIRECTION
ONLY / NOT REPRODUCED / NOT TESTABLE), computed by the paper's own rule, never typed in.
Below the table, `REPORT.md` links each paper's full report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from thunlp_repro.shared.registry import Registry
from thunlp_repro.shared.reporting.results import split_variants
from thunlp_repro.shared.reporting.tables import markdown_table

VERDICTS = ("REPRODUCED", "DIRECTION ONLY", "NOT REPRODUCED", "NOT TESTABLE")


@dataclass(frozen=True)
class Headline:
    """One row of REPORT.md's table."""

    claim: str
    paper_value: str
    mini: str
    quick: str
    tolerance: str
    quick_ok: bool | None
    verdict: str
    section: str  # link target, e.g. "ki.md#t1-compute-saved-e1"

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS and not self.verdict.startswith("n/a"):
            raise ValueError(f"verdict '{self.verdict}' is not one of {', '.join(VERDICTS)}")


HeadlineWriter = Callable[[dict[str, list[dict[str, Any]]]], list[Headline]]
HEADLINES: Registry[HeadlineWriter] = Registry("headline writer")


def register_headline(paper: str) -> Callable[[HeadlineWriter], HeadlineWriter]:
    """Decorator registering a paper's headline rows (idempotent per paper)."""

    def wrap(fn: HeadlineWriter) -> HeadlineWriter:
        if paper not in HEADLINES:
            HEADLINES.add(paper, fn)
        return fn

    return wrap


def table(results: dict[str, list[dict[str, Any]]], by_table: str) -> dict[str, dict | None]:
    """`{preset: the result of table `by_table` or None}` for the mini and quick presets."""
    out: dict[str, dict | None] = {}
    for preset in ("mini", "quick"):
        main, _ = split_variants(results.get(preset, []))
        out[preset] = main.get(by_table)
    return out


def render(grouped: dict[str, dict[str, list[dict[str, Any]]]], titles: dict[str, str]) -> str:
    """The markdown of REPORT.md (below the generated-file note) from results grouped as
    `{paper: {preset: [results]}}`."""
    rows = []
    for paper, by_preset in grouped.items():
        if paper not in HEADLINES:
            continue
        for h in HEADLINES.get(paper)(by_preset):
            ok = {True: "yes", False: "**no**", None: "-"}[h.quick_ok]
            rows.append([paper, h.claim, h.paper_value, h.mini, h.quick, f"{h.tolerance} ({ok})",
                         h.verdict, f"[{paper}.md]({h.section})"])  # fmt: skip
    lines = [
        "# thunlp-repro: what reproduces",
        "",
        "One row per headline claim. **ours (mini)** is the committed record "
        "(`results/mini/`, 2 CPU cores unless the paper's report says otherwise); "
        "**ours (quick)** is the last `make reproduce-all` (quick profile, one seed, reduced size, "
        "`results/quick/`, not committed) judged against the record by the tolerance shown. The "
        "verdict is the record's, by the paper's own rule in its report.",
        "",
    ]
    if rows:
        lines.append(markdown_table(
            ["paper", "claim", "paper's number", "ours (mini)", "ours (quick)",
             "quick vs mini (within?)", "verdict", "details"], rows,
        ))  # fmt: skip
    else:
        lines.append("_No headline results yet._")
    lines += ["", "## Reports", ""]
    lines += [f"- [{titles.get(p, p)}]({p}.md)" for p in grouped]
    return "\n".join(lines) + "\n"
