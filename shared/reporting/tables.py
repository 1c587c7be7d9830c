"""Markdown (and CSV) tables for the shared report, with one fixed number format.

Implements the table rules of `conventions.md` §2.8: the comparison columns
*setting | paper | ours | Δ | tolerance | ok*, paper values carrying their tag ([paper], [repo],
[unverified]) or "—" when missing, results as mean ± std over seeds, and a fixed float format so
reports diff cleanly.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

MISSING = "—"
"""Cell text for a value that does not exist (no paper number, metric not measured)."""

OK_MARK, FAIL_MARK = "✓", "✗"

COMPARISON_HEADERS = ("setting", "paper", "ours", "Δ", "tolerance", "ok")

DIGITS = 3
"""Decimals of the fixed float format."""

Direction = Literal["both", "higher", "lower"]


def format_float(x: float, digits: int = DIGITS, *, signed: bool = False) -> str:
    """Format a float with the report's fixed format.

    Fixed-point with ``digits`` decimals; scientific notation (same digits) for magnitudes
    ≥ 1e6 or below 10**-digits (non-zero), so FLOPs and tiny losses stay readable. NaN prints
    as "nan", infinities as "inf"/"-inf", and -0.0 as 0.

    Args:
        x: The number.
        digits: Number of decimals.
        signed: Always print a sign ("+0.012"), for differences.

    Returns:
        The formatted text.
    """
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return ("+inf" if signed else "inf") if x > 0 else "-inf"
    sign = "+" if signed else ""
    mag = abs(x)
    if mag >= 1e6 or (0 < mag < 10.0**-digits):
        text = f"{x:{sign}.{digits}e}"
    else:
        text = f"{x:{sign}.{digits}f}"
    if text.lstrip("+-").strip("0.") == "" and "e" not in text:  # -0.000 / +0.000 -> 0.000
        text = ("+" if signed else "") + text.lstrip("+-")
    return text


def format_value(value: Any, digits: int = DIGITS) -> str:
    """Format one table cell: None -> "—", floats fixed, ints and strings as they are.

    Args:
        value: The cell value (None, bool, int, float, numpy scalar, str or anything with str()).
        digits: Decimals for floats.

    Returns:
        The cell text.
    """
    if value is None:
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return format_float(float(value), digits)
    return str(value)


def format_mean_std(mean: float, std: float, n: int | None = None, digits: int = DIGITS) -> str:
    """Format a summary over seeds, e.g. "0.812 ± 0.010 (n=2)".

    Args:
        mean: The mean.
        std: The (sample) standard deviation.
        n: Number of values; omitted from the text when None.
        digits: Decimals.

    Returns:
        The text; "—" when n == 0 or the mean is NaN.
    """
    if n == 0 or (isinstance(mean, float) and math.isnan(mean)):
        return MISSING
    text = f"{format_float(mean, digits)} ± {format_float(std, digits)}"
    return text if n is None else f"{text} (n={n})"


def format_interval(low: float, high: float, digits: int = DIGITS) -> str:
    """Format a confidence interval or a [min, max] range, e.g. "[0.800, 0.820]"."""
    return f"[{format_float(low, digits)}, {format_float(high, digits)}]"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ")


_ALIGN = {
    "l": ":---",
    "left": ":---",
    "r": "---:",
    "right": "---:",
    "c": ":---:",
    "center": ":---:",
}


def markdown_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    align: Sequence[str | None] | None = None,
    digits: int = DIGITS,
) -> str:
    """Render a GitHub-flavoured markdown table.

    Cells go through `format_value` (fixed float format, None -> "—"); "|" and newlines inside
    cells are escaped.

    Args:
        headers: Column names.
        rows: Rows, each with one value per header.
        align: Per column "l", "r", "c" (or "left", "right", "center") or None for the default
            ("---"); None for all defaults.
        digits: Decimals for floats.

    Returns:
        The table, lines joined by "\\n", without a trailing newline.

    Raises:
        ValueError: a row or ``align`` has the wrong number of entries, or an unknown alignment.
    """
    ncol = len(headers)
    if align is None:
        align = [None] * ncol
    if len(align) != ncol:
        raise ValueError(f"align has {len(align)} entries for {ncol} columns")
    seps = []
    for a in align:
        if a is None:
            seps.append("---")
        elif a in _ALIGN:
            seps.append(_ALIGN[a])
        else:
            raise ValueError(f"unknown alignment {a!r}; use l, r or c")
    lines = [
        "| " + " | ".join(_escape(str(h)) for h in headers) + " |",
        "| " + " | ".join(seps) + " |",
    ]
    for i, row in enumerate(rows):
        row = list(row)
        if len(row) != ncol:
            raise ValueError(f"row {i} has {len(row)} cells for {ncol} columns")
        lines.append("| " + " | ".join(_escape(format_value(c, digits)) for c in row) + " |")
    return "\n".join(lines)


def csv_table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], digits: int | None = None
) -> str:
    """Render rows as CSV text ("\\n" line ends).

    Args:
        headers: Column names.
        rows: Rows of values.
        digits: Format floats with the fixed format and this many decimals; None writes
            ``repr``-exact floats (for raw data files).

    Returns:
        The CSV text, ending with a newline.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(headers))
    for row in rows:
        out = []
        for c in row:
            if c is None:
                out.append("")
            elif digits is not None:
                out.append(format_value(c, digits))
            elif isinstance(c, float | np.floating):
                out.append(repr(float(c)))
            else:
                out.append(c)
        writer.writerow(out)
    return buf.getvalue()


@dataclass(frozen=True)
class ComparisonRow:
    """One row of a paper-vs-ours table.

    Attributes:
        setting: What the row measures (task, model, arm, ...).
        paper: The paper's value: a number, words for a claimed direction ("KI faster"), or None
            when no checked value exists (printed "—").
        ours: Our value: a number, a sequence of per-seed numbers (printed as mean ± std, the
            mean used for Δ), pre-formatted text, or None when not measured.
        tolerance: Allowed deviation; None means no gate (ok prints "—").
        tag: Tag of the paper value: "[paper]", "[repo]", "[unverified]" (brackets optional).
        relative: The tolerance is a fraction of |paper| (printed as a percentage).
        direction: "both": |Δ| ≤ tol; "higher": ours ≥ paper − tol (better if higher);
            "lower": ours ≤ paper + tol (better if lower).
        extra: Further columns, by header name (see `comparison_table`).
    """

    setting: str
    paper: float | str | None = None
    ours: float | str | Sequence[float] | None = None
    tolerance: float | None = None
    tag: str | None = None
    relative: bool = False
    direction: Direction = "both"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ComparisonRow:
        """Build a row from a dict with the attribute names as keys (unknown keys rejected)."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown comparison row keys: {', '.join(unknown)}")
        return cls(**dict(data))


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


def _ours_value(ours: Any) -> tuple[float | None, str]:
    """Return (number used for Δ or None, cell text) for the `ours` field."""
    if ours is None:
        return None, MISSING
    if _is_number(ours):
        x = float(ours)
        return (None if math.isnan(x) else x), format_float(x)
    if isinstance(ours, str):
        return None, ours
    from thunlp_repro.shared.metrics import mean_and_spread

    mean, std, n = mean_and_spread(list(ours))
    return (None if n == 0 else mean), format_mean_std(mean, std, n)


def _tag_text(tag: str | None) -> str:
    if not tag:
        return ""
    tag = tag.strip()
    return tag if tag.startswith("[") else f"[{tag}]"


def comparison_cells(row: ComparisonRow | Mapping[str, Any]) -> list[str]:
    """The six standard cells (setting, paper, ours, Δ, tolerance, ok) of one row.

    Args:
        row: A `ComparisonRow` or a mapping of its fields.

    Returns:
        Cell texts. Δ = ours − paper (signed), "—" unless both are numbers; ok is "✓"/"✗"
        when both are numbers and a tolerance is set, else "—".
    """
    r = row if isinstance(row, ComparisonRow) else ComparisonRow.from_mapping(row)
    tag = _tag_text(r.tag)
    if r.paper is None or (_is_number(r.paper) and math.isnan(float(r.paper))):
        paper_num, paper_text = None, MISSING
    elif _is_number(r.paper):
        paper_num, paper_text = float(r.paper), format_float(float(r.paper))
    else:
        paper_num, paper_text = None, str(r.paper)
    if tag and paper_text != MISSING:
        paper_text = f"{paper_text} {tag}"
    ours_num, ours_text = _ours_value(r.ours)

    delta = None if paper_num is None or ours_num is None else ours_num - paper_num
    delta_text = MISSING if delta is None else format_float(delta, signed=True)

    if r.tolerance is None:
        tol_text, ok_text = MISSING, MISSING
    else:
        tol = float(r.tolerance)
        if r.relative:
            tol_core = f"{format_float(100.0 * tol, 1)}%"
            allowed = None if paper_num is None else tol * abs(paper_num)
        else:
            tol_core = format_float(tol)
            allowed = tol
        tol_text = {"both": f"±{tol_core}", "higher": f"≥ −{tol_core}", "lower": f"≤ +{tol_core}"}[
            r.direction
        ]
        if delta is None or allowed is None:
            ok_text = MISSING
        else:
            eps = 1e-12 * max(1.0, abs(allowed))  # a value exactly at the bound passes
            if r.direction == "both":
                ok = abs(delta) <= allowed + eps
            elif r.direction == "higher":
                ok = delta >= -allowed - eps
            else:
                ok = delta <= allowed + eps
            ok_text = OK_MARK if ok else FAIL_MARK
    return [r.setting, paper_text, ours_text, delta_text, tol_text, ok_text]


def comparison_rows(
    rows: Iterable[ComparisonRow | Mapping[str, Any]],
    extra_headers: Sequence[str] = (),
    sort: bool = False,
) -> list[list[str]]:
    """Cells of a comparison table: the six standard columns, then ``extra_headers``.

    Args:
        rows: `ComparisonRow`s or mappings of their fields.
        extra_headers: Names of extra columns, filled from each row's ``extra`` ("—" if absent).
        sort: Sort rows by setting (otherwise the given order, e.g. the paper's row order).

    Returns:
        One list of cell texts per row.
    """
    built = [r if isinstance(r, ComparisonRow) else ComparisonRow.from_mapping(r) for r in rows]
    if sort:
        built.sort(key=lambda r: r.setting)
    out = []
    for r in built:
        cells = comparison_cells(r)
        cells += [format_value(r.extra.get(h)) for h in extra_headers]
        out.append(cells)
    return out


def comparison_table(
    rows: Iterable[ComparisonRow | Mapping[str, Any]],
    extra_headers: Sequence[str] = (),
    sort: bool = False,
    setting_header: str = "setting",
) -> str:
    """Markdown table with the columns setting | paper | ours | Δ | tolerance | ok (+ extras).

    Args:
        rows: `ComparisonRow`s or mappings of their fields.
        extra_headers: Extra columns after "ok", filled from each row's ``extra``.
        sort: Sort rows by setting.
        setting_header: Header of the first column (e.g. "task").

    Returns:
        The markdown table (no trailing newline).
    """
    headers = [setting_header, *COMPARISON_HEADERS[1:], *extra_headers]
    align = ["l", "r", "r", "r", "r", "c", *([None] * len(extra_headers))]
    return markdown_table(headers, comparison_rows(rows, extra_headers, sort), align=align)
