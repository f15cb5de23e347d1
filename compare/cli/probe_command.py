"""`vaebound probe`: measure a finished run again at its final parameters, without retraining."""
from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="measure a finished run again at its final parameters",
                       description="Measure the probe quantities at a finished run's final parameters (kept in "
                                   "parameters.npy) again, with other probe settings or an opt-in quantity, without "
                                   "retraining. The values print and are appended to RUN/reprobe.json.")
    p.add_argument("run", metavar="RUN", help="a finished run folder")
    p.add_argument("--quantities", default="", help="opt-in probe quantities, comma-separated (e.g. hessian_trace)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a training setting of the probes, e.g. hessian_points=512 or full_grad_replicates=8")
    p.add_argument("--data", default=None, help="the run's data when it is not embedded: a local path")
    p.add_argument("--seed", type=int, default=None,
                   help="the probes' seed (>= 0; default: the run's, which measures its last probes again exactly)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(handler=cmd_probe)


def _value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def cmd_probe(args: argparse.Namespace) -> int:
    from empirical.data import load_for_spec
    from empirical.reprobe import reprobe
    from empirical.runs import load_run
    from .usage import UsageError
    changes = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set {item!r}: expected NAME=VALUE")
        changes[name.strip()] = _value(value.strip())
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed={args.seed} is invalid: must be >= 0")
    run = load_run(args.run)
    data = load_for_spec(args.data, run.spec, run.config["train"].get("held_out", 0.2)) if args.data else None
    quantities = tuple(q.strip() for q in args.quantities.split(",") if q.strip())
    values = reprobe(run, data, changes, quantities, args.seed)
    if args.format == "json":
        print(json.dumps(values, indent=2, sort_keys=True))
    else:
        width = max(map(len, values), default=0)
        for name, value in values.items():
            print(f"{name:<{width}}  {value:.6g}")
    return 0
