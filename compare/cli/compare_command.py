"""`vaebound compare DIR...` (the tightness table of runs) and `vaebound report DIR... -o report.html`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..present import FORMATS


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    c.set_defaults(handler=cmd_compare)
    r = sub.add_parser("report", help="write a self-contained HTML report of runs",
                       description="Plots, tables, each run's spec, bound (LaTeX) and verdict, in one HTML file; "
                                   "each plot it embeds is also written as a PNG in <stem>-figures/ beside it.")
    r.add_argument("dirs", nargs="+", metavar="DIR")
    r.add_argument("-o", "--output", type=Path, required=True, help="the HTML file to write")
    r.add_argument("--title", default="vaebound report")
    r.set_defaults(handler=cmd_report)


def cmd_compare(args: argparse.Namespace) -> int:
    from ..collect import assess_all
    from ..present.summary import as_json, as_text
    assessments = assess_all(args.dirs)
    print(as_json(assessments) if args.format == "json" else as_text(assessments, args.format))
    if args.check:
        violated = [a.label for a in assessments if a.sound is False]
        if violated:
            print(f"check failed: VIOLATED in {', '.join(violated)}", file=sys.stderr)
            return 1
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..collect import assess_all
    from ..present import report
    out: Path = args.output
    if out.exists() and out.is_dir():
        raise ValueError(f"-o {str(out)!r} is a folder: give the HTML file to write")
    if not out.parent.is_dir():
        raise ValueError(f"-o {str(out)!r}: the folder {str(out.parent)!r} does not exist (it is not created)")
    assessments = assess_all(args.dirs)
    report.write(assessments, out, args.title)
    print(f"wrote {out} ({len(assessments)} run(s)) and its figures as PNGs in {report.figures_folder(out)}")
    return 0
