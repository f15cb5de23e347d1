"""The `vaebound` command line.

    vaebound bound                         # the convergence bound of the embedded default VAE
    vaebound bound --K 5 --grid B=16,64,256 --format json
    vaebound bound --which smoothness --model linear --format latex
    vaebound train --out runs/digits       # train the default VAE on the embedded digits, record its trace
    vaebound compare runs/digits           # how tight is the bound on that run? (--format json|markdown|latex|csv)
    vaebound probe runs/digits --quantities hessian_trace   # measure a finished run again, without retraining
    vaebound report runs -o report.html    # a self-contained HTML report of every run under runs/
    vaebound demo                          # the main job: derive, train, compare, report on the embedded data
    vaebound sweep grid.toml --out sweeps/g   # every point of a grid as a run folder, in parallel, resumable
    vaebound reproduce sharpness           # one of the paper's experiments (reduced scale), compared and reported

Bad options print one line naming the option and exit with code 2.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from . import (bound_command, compare_command, demo_command, probe_command, reproduce_command, sweep_command,
               train_command)
from .usage import EXIT_USAGE, UsageError

# Each module adds its subcommand(s) and sets `handler`; the heavy imports (torch, sympy) happen in the handler,
# so that `vaebound --help` stays fast.
COMMANDS = (bound_command, train_command, compare_command, probe_command, demo_command, sweep_command, reproduce_command)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (naming the option) and exit code 2, without the usage block."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="vaebound", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as other command-line tools do
        sys.stderr.close()
        return 0
    except (UsageError, ValueError) as err:  # SpecError, NotSmoothError, RunError, DataError are ValueErrors
        print(f"vaebound: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:  # a read-only folder, a full disk: nothing half-written is left (atomic writes)
        print(f"vaebound: error: {err.strerror or err}: {err.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
