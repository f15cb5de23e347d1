"""`vaebound compare DIR...` (the tightness table of runs) and `vaebound report DIR... -o report.html`."""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any, Sequence

from .collect import load_runs, run_label
from .orderings import orderings
from .tables import FORMATS, rates_table, render, tightness_table
from .tightness import Assessment, assess


def add_parsers(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("compare", help="how tight is the bound on these runs?",
                       description="Join each run with the bound of its own spec: tightness ratio (bound / measured, "
                                   "at the tightest recorded step), soundness (true, false, or n/a when the run broke "
                                   "a condition of the theorem), a-posteriori bound, fitted slope, orderings. A DIR "
                                   "is a run folder or a folder of run folders. Writes nothing.")
    c.add_argument("dirs", nargs="+", metavar="DIR")
    c.add_argument("--format", choices=FORMATS, default="text")
    c.add_argument("--check", action="store_true",
                   help="exit 1 if any run is VIOLATED (the measurement exceeded a bound whose theorem covers the "
                        "run), so soundness can gate a CI job; 0 otherwise")
    r = sub.add_parser("report", help="write a self-contained HTML report of runs",
                       description="Plots, tables, each run's spec, bound (LaTeX) and verdict, in one HTML file.")
    r.add_argument("dirs", nargs="+", metavar="DIR")
    r.add_argument("-o", "--output", type=Path, required=True, help="the HTML file to write")
    r.add_argument("--title", default="vaebound report")


def assess_all(dirs: Sequence[str | Path]) -> list[Assessment]:
    """Load every run first (a missing or corrupt one is an error before any work), then assess each."""
    runs = load_runs(dirs)
    return [assess(run, run_label(run, runs)) for run in runs]


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def as_json(assessments: Sequence[Assessment]) -> str:
    """{"runs": [per-run summary], "rates": [...], "orderings": [...]}; NaN becomes null and infinity "inf"."""
    data = {"runs": [a.summary() for a in assessments],
            "rates": rates_table(assessments).to_dict(orient="records"),
            "orderings": orderings(assessments).to_dict(orient="records")}
    return json.dumps(_json_safe(data), indent=1, default=str)


def as_text(assessments: Sequence[Assessment], fmt: str) -> str:
    table = tightness_table(assessments)
    if fmt == "csv":
        return render(table, "csv")
    sections = [("Tightness (bound / measured; >= 1: the bound held)", table),
                ("Rates (slope of the running average, log-corrected; theory -1/2)", rates_table(assessments))]
    order = orderings(assessments)
    if len(order):
        sections.append(("Orderings", order))
    out = []
    for title, df in sections:
        if fmt == "markdown":
            out.append(f"## {title}\n\n{render(df, fmt)}\n")
        elif fmt == "latex":
            out.append(f"% {title}\n{render(df, fmt)}")
        else:
            out.append(f"{title}\n{render(df, fmt)}\n")
    for a in assessments:
        if a.sound is False:
            out.append(f"WARNING: run {a.label}: the measurement EXCEEDED the bound ({len(a.violations)} steps or a "
                       "constant check): a derivation or a measurement is wrong")
    return "\n".join(out)


def cmd_compare(args: argparse.Namespace) -> int:
    assessments = assess_all(args.dirs)
    print(as_json(assessments) if args.format == "json" else as_text(assessments, args.format))
    if args.check:
        violated = [a.label for a in assessments if a.sound is False]
        if violated:
            import sys
            print(f"check failed: VIOLATED in {', '.join(violated)}", file=sys.stderr)
            return 1
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from . import report
    out: Path = args.output
    if out.exists() and out.is_dir():
        raise ValueError(f"-o {str(out)!r} is a folder: give the HTML file to write")
    assessments = assess_all(args.dirs)
    report.write(assessments, out, args.title)
    print(f"wrote {out} ({len(assessments)} run(s))")
    return 0
