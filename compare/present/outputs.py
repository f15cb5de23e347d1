"""Everything a comparison writes into a folder: plots (PNG, PDF), tables (Markdown, LaTeX, CSV), summary.json and
the HTML report. Used by `vaebound demo` and `vaebound reproduce`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from empirical.runs import write_json
from . import plots, report, tables
from .summary import as_json
from ..orderings import orderings
from ..tightness import Assessment


def write_outputs(out: Path, assessments: Sequence[Assessment], title: str,
                  extra_summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """out/plots/*.png|pdf, out/tables/*.md|tex|csv, out/summary.json, out/report.html; returns the summary."""
    plot_dir, table_dir = out / "plots", out / "tables"
    written = []
    for a in assessments:
        written += plots.save(plots.bound_vs_measured(a), plot_dir / f"{a.label}-bound")
        if a.bound is not None:
            written += plots.save(plots.slack_bars(a), plot_dir / f"{a.label}-slack")
    if len(assessments) > 1:
        written += plots.save(plots.family(assessments), plot_dir / "family")
    axes = plots.heatmap_axes(assessments)
    if axes is not None:
        written += plots.save(plots.heatmap(*axes), plot_dir / f"heatmap-{axes[1]}-{axes[2]}")
    for stale in (set(plot_dir.glob("*.png")) | set(plot_dir.glob("*.pdf"))) - set(written):
        stale.unlink()  # a figure an earlier comparison wrote and this one does not: it would mislead
    frames: dict[str, Any] = {"tightness": tables.tightness_table(assessments),
                              "rates": tables.rates_table(assessments),
                              "orderings": tables.orderings_table(orderings(assessments))}
    frames.update({f"slack-{a.label}": tables.slack_table(a) for a in assessments if len(a.slack)})
    table_dir.mkdir(parents=True, exist_ok=True)
    for name, df in frames.items():
        (table_dir / f"{name}.md").write_text(tables.render(df, "markdown") + "\n")
        (table_dir / f"{name}.tex").write_text(tables.render(df, "latex"))
        (table_dir / f"{name}.csv").write_text(tables.render(df, "csv"))
    summary = {**(extra_summary or {}), **json.loads(as_json(assessments))}
    write_json(out / "summary.json", summary)
    report.write(assessments, out / "report.html", title)
    return summary
