"""`vaebound sweep FILE --out DIR`: run every point of a sweep file as a run folder under DIR."""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from bounds.validate import SpecError, count


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("sweep", help="run a grid of settings (a TOML sweep file), resumably",
                       description="Run every point of a sweep file (base spec, training settings, data, seeds, grid) "
                                   "as a run folder under DIR, in parallel. Finished points are skipped when the "
                                   "same command runs again; unfinished ones resume; failed ones are retried. "
                                   "Then: vaebound compare DIR, vaebound report DIR -o report.html.")
    s.add_argument("file", type=Path, help="the sweep file (TOML)")
    s.add_argument("--out", type=Path, required=True, help="the sweep folder")
    s.add_argument("--workers", type=int, default=None, help="local worker processes (>= 1; default: one per core)")
    s.add_argument("--threads", type=int, default=None,
                   help="torch threads per worker (>= 1; default: the cores shared among the workers, so one worker "
                        "takes them all: give fewer when other work shares the machine)")
    s.add_argument("--backend", choices=("local", "dask"), default="local")
    s.add_argument("--address", default=None, help="Dask scheduler address, tcp://HOST:PORT (with --backend dask)")
    s.add_argument("--ensemble", choices=("auto", "always", "never"), default="auto",
                   help="train points that differ only in seed or optimiser settings together (torch.func): auto "
                        "where it pays (small models), always, or never")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(handler=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    from ..sweeps import plan as S
    from ..sweeps.runner import run_sweep
    for name in ("workers", "threads"):
        if getattr(args, name) is not None:
            count(f"--{name}", getattr(args, name))
    if args.backend == "dask" and not args.address:
        raise SpecError("--backend dask needs --address tcp://HOST:PORT (the Dask scheduler)")
    if args.out.exists() and not args.out.is_dir():
        raise SpecError(f"--out {str(args.out)!r} is a file: give a folder")
    sweep = S.load(args.file)
    result = run_sweep(sweep, args.out, args.workers, args.backend, args.address, progress=not args.no_progress,
                       ensemble=args.ensemble, threads=args.threads)
    statuses = Counter(p["status"] for p in result["points"].values())
    print(f"sweep {sweep.name}: {len(sweep.points)} points in {args.out}: "
          + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    for name, p in result["points"].items():
        if p["status"] == "failed":
            print(f"  FAILED {name}: {p['error']}")
    print(f"next: vaebound compare {args.out}   |   vaebound report {args.out} -o report.html")
    return 1 if statuses.get("failed") else 0
