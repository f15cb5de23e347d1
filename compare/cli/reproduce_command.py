"""`vaebound reproduce NAME`: run one of the paper's experiments (a ready-made sweep), then compare and report.

    vaebound reproduce --list
    vaebound reproduce sharpness --out repro                      # reduced scale: embedded digits, minutes on a CPU
    vaebound reproduce all --out repro                            # every reduced experiment
    vaebound reproduce iwae_k --scale paper --data path/to/cifar-100-python --out repro   # the paper's nets
"""
from __future__ import annotations

import argparse
from pathlib import Path

from bounds.validate import count
from ..sweeps import experiments as X


VERDICT = {True: "agrees", False: "DISAGREES", None: "no verdict"}
RESOLVED = {True: "resolved beyond seed noise", False: "NOT resolved beyond seed noise", None: "too few runs to test"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("reproduce", help="run one of the paper's experiments, then compare and report",
                       description=__doc__.split("\n\n")[0])
    r.add_argument("name", nargs="?", default=None, help="an experiment (see --list), or 'all'")
    r.add_argument("--scale", choices=X.SCALES, default="reduced")
    r.add_argument("--data", default=None, help="the data path (required at --scale paper)")
    r.add_argument("--out", type=Path, default=Path("vaebound-reproduce"))
    r.add_argument("--workers", type=int, default=None)
    r.add_argument("--ensemble", choices=("auto", "always", "never"), default="auto")
    r.add_argument("--list", action="store_true", help="list the experiments and exit")
    r.add_argument("--no-progress", action="store_true")
    r.set_defaults(handler=cmd_reproduce)


def cmd_reproduce(args: argparse.Namespace) -> int:
    from ..sweeps.reproduce import load_experiment, run_experiment
    if args.list or not args.name:
        for scale in X.SCALES:
            print(f"{scale}: {', '.join(X.names(scale))}")
        return 0
    if args.workers is not None:
        count("--workers", args.workers)
    names = X.names(args.scale) if args.name == "all" else [args.name]
    for name in names:
        X.path(name, args.scale)  # every name checked before any run
        load_experiment(name, args.scale, args.data)
    failed = 0
    for name in names:
        summary = run_experiment(name, args.scale, args.data, args.out, args.workers, args.ensemble,
                                 not args.no_progress)
        failed += sum(p["status"] == "failed" for p in summary["points"].values())
        print(f"\n{name}: {args.out / name / 'report.html'}")
        for row in summary["orderings"]:
            print(f"  ordering over {row['factor']}: values {row['values']}, measured "
                  f"{[round(v, 4) for v in row['measured']]}; paper: {row['paper_claim']} -> "
                  f"{VERDICT[row['agrees_with_paper']]} ({RESOLVED[row['resolved']]}, permutation p = "
                  f"{row['p_value']:.2g})")
            if row["nelbo_claim"] != "no claim":
                print(f"    held-out negative objective {[round(v, 3) for v in row['nelbo']]}; paper: "
                      f"{row['nelbo_claim']} -> {VERDICT[row['nelbo_agrees']]}")
        for row in summary["rates"]:
            print(f"  rate {row['runs'][:60]}: slope {row['fitted slope']:.2f} "
                  f"[{row['95% CI low']:.2f}, {row['95% CI high']:.2f}] {row['verdict']}")
    return 1 if failed else 0
