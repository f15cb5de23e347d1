"""The bound object: a sympy expression with named terms, provenance, and fast numeric evaluation."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import sympy as sp

from .registry import BY_NAME, check_values, known_name
from .validate import SpecError

STATUSES = {
    "paper": "the form and the constant are stated by the paper",
    "derived": "the form is the paper's; the constant is this project's own (docs/derivations.md)",
    "extension": "beyond the paper's theory; derived by this project (docs/derivations.md)",
    "outside-theory": "the setting violates an assumption of the theory; the number is indicative only",
}

Values = Mapping[str, Any] | pd.DataFrame

# Settings evaluated at a time: the generated code's temporaries then stay in cache, which doubles the throughput
# at 1e6 settings (benchmarks/bench_bounds.py).
CHUNK = 1 << 16


# Bounds are rebuilt per run (a sweep of seeds derives the same expressions again): the compiled function and the
# symbol list are cached on the expressions themselves, so each distinct expression is compiled once per process.
@lru_cache(maxsize=512)
def _compile(args: tuple[sp.Symbol, ...], expr: sp.Basic):
    # These expressions share most of their subexpressions, and three of lambdify's passes walk them as trees: the
    # symbol scan (skipped for a list), the implemented-function scan (none here: use_imps=False) and cse's canonical
    # ordering (order="none"). Without them the CelebA preset's L_P compiles in 0.3 s instead of 24 s.
    function = sp.lambdify(args, [expr], modules="numpy", use_imps=False, cse=_cse_in_order)
    return lambda *values: function(*values)[0]


def _cse_in_order(exprs: list[sp.Basic]):
    return sp.cse(exprs, order="none")


@lru_cache(maxsize=512)
def _sorted_symbols(exprs: tuple[sp.Basic, ...]) -> tuple[sp.Symbol, ...]:
    return tuple(sorted(_symbols_in(exprs), key=lambda x: x.name))


def _symbols_in(exprs: Iterable[sp.Basic]) -> set[sp.Symbol]:
    """The symbols of the expressions, each shared subexpression visited once (sympy's free_symbols walks them as a
    tree: 3 s on the CelebA preset's L_P, against 1 ms). The bounds bind no variables (no integrals, sums or lambdas),
    so every symbol is free."""
    seen, found, stack = set(), set(), list(exprs)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.is_Symbol:
            found.add(node)
        else:
            stack.extend(node.args)
    return found


class Bound:
    """A bound as a sum of named terms.

    Attributes: `name`, `terms` (name -> sympy expression; the bound is their sum), `status`
    (a key of `STATUSES`), `reference` (where the derivation is), `assumptions` (plain sentences),
    `conditions` (name -> sympy relation that must hold for the bound to apply, e.g. a step-size cap).
    """

    def __init__(self, name: str, terms: Mapping[str, sp.Expr], status: str, reference: str,
                 assumptions: Iterable[str] = (), conditions: Mapping[str, sp.Basic] | None = None,
                 description: str = ""):
        if status not in STATUSES:
            raise ValueError(f"status={status!r} is invalid: must be one of {', '.join(STATUSES)}")
        self.name = name
        self.terms = {k: sp.sympify(v) for k, v in terms.items()}
        self.status = status
        self.reference = reference
        self.assumptions = tuple(assumptions)
        self.conditions = dict(conditions or {})
        self.description = description
        self._compiled: dict[str, tuple[list[sp.Symbol], Any]] = {}

    # ---- symbolic side -------------------------------------------------------------------------
    @property
    def expr(self) -> sp.Expr:
        return sp.Add(*self.terms.values())

    @property
    def symbols(self) -> list[sp.Symbol]:
        """The free symbols, sorted by name: the settings the bound depends on."""
        return list(_sorted_symbols(tuple(self.terms.values()) + tuple(self.conditions.values())))

    def latex(self) -> str:
        return sp.latex(self.expr)

    def subs(self, values: Mapping[str, Any]) -> "Bound":
        """A new bound with some symbols replaced by numbers or expressions (names as keys)."""
        # xreplace: a symbol swapped for a (possibly large) expression is not re-simplified, as subs would.
        table = {sym: sp.sympify(values[sym.name]) for sym in self.symbols if sym.name in values}
        return Bound(self.name, {k: v.xreplace(table) for k, v in self.terms.items()}, self.status, self.reference,
                     self.assumptions, {k: v.xreplace(table) for k, v in self.conditions.items()}, self.description)

    # ---- numeric side --------------------------------------------------------------------------
    def _function(self, key: str, expr: sp.Basic):
        if key not in self._compiled:
            args = self.symbols
            self._compiled[key] = (args, _compile(tuple(args), expr))
        return self._compiled[key]

    def _call(self, key: str, expr: sp.Basic, values: Values) -> np.ndarray:
        args, fn = self._function(key, expr)
        columns = []
        for sym in args:
            if sym.name not in values:
                raise ValueError(f"missing value for {sym.name!r}: bound {self.name!r} depends on "
                                 f"{', '.join(x.name for x in args)}")
            columns.append(np.asarray(values[sym.name]))
        shape = np.broadcast_shapes(*(c.shape for c in columns), ())
        size = int(np.prod(shape))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if size <= CHUNK:
                return np.broadcast_to(np.asarray(fn(*(c.astype(float) for c in columns))), shape)
            flat = [c.astype(float) if c.ndim == 0 else np.broadcast_to(c, shape).reshape(-1) for c in columns]
            out = np.empty(size)
            for start in range(0, size, CHUNK):
                part = slice(start, start + CHUNK)
                out[part] = fn(*(c if c.ndim == 0 else c[part].astype(float) for c in flat))
        return out.reshape(shape)

    def _checked(self, values: Values | None, kwargs: Mapping[str, Any]) -> Values:
        """The values merged, and each of this bound's symbols checked once against its range (not once per
        compiled term)."""
        vals = _merge(values, kwargs, (x.name for x in self.symbols))
        for sym in self.symbols:
            if sym.name in vals:
                check_values(sym.name, vals[sym.name])
        return vals

    def evaluate(self, values: Values | None = None, **kwargs: Any) -> np.ndarray | float:
        """The bound at scalars, arrays (broadcast together) or the rows of a DataFrame.

        Values are keyed by symbol name; keyword arguments override the mapping.
        """
        vals = self._checked(values, kwargs)
        out = self._call("value", self.expr, vals)
        return float(out) if out.ndim == 0 else out

    def evaluate_terms(self, values: Values | None = None, **kwargs: Any) -> dict[str, np.ndarray | float]:
        vals = self._checked(values, kwargs)
        result = {}
        for name, e in self.terms.items():
            out = self._call(f"term:{name}", e, vals)
            result[name] = float(out) if out.ndim == 0 else out
        return result

    def check_conditions(self, values: Values | None = None, **kwargs: Any) -> dict[str, np.ndarray | bool]:
        vals = self._checked(values, kwargs)
        result = {}
        for name, cond in self.conditions.items():
            out = self._call(f"cond:{name}", cond, vals)
            result[name] = bool(out) if out.ndim == 0 else out.astype(bool)
        return result

    def dominant_term(self, values: Values | None = None, **kwargs: Any) -> str:
        """The name of the largest term at a single setting."""
        terms = self.evaluate_terms(values, **kwargs)
        return max(terms, key=lambda k: float(np.max(terms[k])))

    def evaluate_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """One row per setting: the settings, `value`, one column per term, one per condition."""
        out = frame.copy()
        out["value"] = self.evaluate(frame)
        for name, v in self.evaluate_terms(frame).items():
            out[f"term:{name}"] = v
        for name, v in self.check_conditions(frame).items():
            out[f"condition:{name}"] = v
        return out

    def report(self, values: Values, **kwargs: Any) -> dict[str, Any]:
        """A JSON-ready summary at one setting."""
        vals = self._checked(values, kwargs)
        return {
            "name": self.name,
            "value": self.evaluate(vals),
            "terms": {k: float(v) for k, v in self.evaluate_terms(vals).items()},
            "dominant_term": self.dominant_term(vals),
            "conditions": {k: bool(v) for k, v in self.check_conditions(vals).items()},
            "expression": str(self.expr),
            "latex": self.latex(),
            "status": self.status,
            "status_meaning": STATUSES[self.status],
            "reference": self.reference,
            "assumptions": list(self.assumptions),
            "description": self.description,
        }

    def _repr_latex_(self) -> str:
        """Jupyter shows a bound as its formula."""
        name = self.name.replace("||", "\\|")
        return f"${name} \\le {self.latex()}$"

    def __repr__(self) -> str:
        return f"Bound({self.name!r}, status={self.status!r}, terms={list(self.terms)})"


def _merge(values: Values | None, kwargs: Mapping[str, Any], own: Iterable[str] = ()) -> Values:
    """The values, keyword arguments overriding; a name that is neither a setting of some bound nor one of this
    bound's own symbols (`own`) is refused (a typo would otherwise be ignored)."""
    own = set(own)
    for name in [*(values if isinstance(values, Mapping) else ()), *kwargs]:
        if not (known_name(name) or name in own):
            raise SpecError(f"{name!r} is not a setting of any bound: known are {', '.join(BY_NAME)} and the "
                            "per-layer norm bounds omega_i, b_i")
    if values is None:
        return dict(kwargs)
    if isinstance(values, pd.DataFrame):
        if not kwargs:
            return values
        values = {c: values[c].to_numpy() for c in values.columns}
    return {**values, **kwargs}
