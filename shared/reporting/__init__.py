"""Results files, tables, plots and the shared report (`conventions.md` §2.8).

- `results`: the ``results.json`` schema (`build_results`, `load_results`, ...);
- `tables`: markdown tables with a fixed float format and the paper-vs-ours comparison columns;
- `plots`: deterministic matplotlib (Agg) line and bar plots, imported lazily;
- `report`: `write_report` and the `REPORT_SECTIONS` registry of per-paper section writers.

Importing this package does not import torch or matplotlib.
"""

from __future__ import annotations

from thunlp_repro.shared.reporting.plots import bar_plot, line_plot
from thunlp_repro.shared.reporting.report import (
    REPORT_SECTIONS,
    generic_section,
    register_section,
    write_report,
)
from thunlp_repro.shared.reporting.results import (
    SCHEMA_VERSION,
    build_results,
    load_results,
    write_results,
)
from thunlp_repro.shared.reporting.tables import (
    ComparisonRow,
    comparison_rows,
    comparison_table,
    format_mean_std,
    markdown_table,
)

__all__ = [
    "REPORT_SECTIONS",
    "SCHEMA_VERSION",
    "ComparisonRow",
    "bar_plot",
    "build_results",
    "comparison_rows",
    "comparison_table",
    "format_mean_std",
    "generic_section",
    "line_plot",
    "load_results",
    "markdown_table",
    "register_section",
    "write_report",
    "write_results",
]
