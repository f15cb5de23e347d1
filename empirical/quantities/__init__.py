"""The measured quantities, one module each: a new quantity is one new file here (plus its test).

Every module of this package that defines `QUANTITIES` (a list of `Quantity`) is found at import time; the trace's
column documentation, the trainer's probes and `compare`'s measured constants are all read from them.

    >>> from empirical.quantities import trace_columns, probe_quantities, constants
"""
from __future__ import annotations

import pkgutil
from importlib import import_module

from .base import EPOCH, PROBE, STEP, Constant, ProbeContext, Quantity, column_max


def all_quantities() -> list[Quantity]:
    """Every quantity, in probe order (then by name)."""
    found: list[Quantity] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            found.extend(getattr(import_module(f".{info.name}", __name__), "QUANTITIES", ()))
    return sorted(found, key=lambda q: (q.order, q.name))


def by_name() -> dict[str, Quantity]:
    return {q.name: q for q in all_quantities()}


def trace_columns() -> dict[str, str]:
    """Every trace column a run may hold, with what it holds."""
    return {column: text for q in all_quantities() for column, text in q.columns.items()}


def probe_quantities(config) -> list[Quantity]:
    """The probe quantities a run with these training settings measures, in order."""
    return [q for q in all_quantities() if q.when == PROBE and q.enabled(config)]


def constants() -> dict[str, Constant]:
    """The bound constants the quantities measure, by name."""
    return {q.constant.name: q.constant for q in all_quantities() if q.constant is not None}


__all__ = ["EPOCH", "PROBE", "STEP", "Constant", "ProbeContext", "Quantity", "all_quantities", "by_name",
           "column_max", "constants", "probe_quantities", "trace_columns"]
