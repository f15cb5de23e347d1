"""Where the slack of a bound is: each constant's theoretical value against its measured one, the a-posteriori
bound (the same theorem with the measured constants), and each factor's share of the gap.

The gap log10(bound / measured) splits exactly into one part per constant (the Shapley value of replacing that
constant by its measurement, averaged over every order of replacement, so the split does not depend on an
arbitrary order) plus the theorem's own slack.

Convention for the step constant: when the run's C_gamma met the theorem's cap C_gamma L <= c for the derived L
(the step was chosen from that L), C_gamma follows L when L is replaced: it becomes C_gamma L_theory / L_used, the
same fraction of the cap at the L in use. A loose L then carries both of its costs, the noise term and the small
step it forced, and the last row ("theorem form") is the theorem at the measured constants with the step they
would allow (the a-posteriori bound, `a_posteriori`, keeps the trained step and takes the best L' instead). Where the
step was not tied (the cap did not hold), C_gamma stays as trained and the last row equals the a-posteriori bound's
ratio.
"""
from __future__ import annotations

import itertools
import math
from typing import Mapping

import numpy as np
import pandas as pd

from bounds import symbols as S
from bounds.bound import Bound
from .measures import RUN_SUMS, THEOREM_CONSTANTS, constant_descriptions

THEORY_SLACK = "theorem form"


def _present(form: Bound, theory: Mapping[str, float], measured: Mapping[str, float],
             theory_at_run_a: Mapping[str, float] | None) -> list[str]:
    names = {s.name for s in form.symbols}
    factors = [c for c in THEOREM_CONSTANTS + RUN_SUMS if c in names and math.isfinite(measured.get(c, math.nan))
               and math.isfinite(theory.get(c, math.nan))]
    if theory_at_run_a is not None and math.isfinite(measured.get("a", math.nan)):
        factors.insert(0, "a")
    return factors


def _settings(subset: tuple[str, ...], theory, measured, theory_at_run_a, values: Mapping[str, float] | None = None,
              tied_step: bool = False) -> dict[str, float]:
    """The constants with those in `subset` replaced by their measurements (a changes the derived L, sigma2, M);
    a tied step constant follows the L in use (module docstring)."""
    base = theory_at_run_a if "a" in subset else theory
    out = {c: (measured[c] if c in subset else base[c]) for c in THEOREM_CONSTANTS + RUN_SUMS if c in theory}
    if tied_step and values is not None:
        out["C_gamma"] = values["C_gamma"] * theory["L"] / out["L"]
    return out


L_GRID = 64  # values of L' from the measured to the derived L (log-spaced) over which the a-posteriori bound is taken


def step_tied_to_L(form: Bound, values: dict[str, float], theory: dict[str, float]) -> bool:
    """Whether the run's step constant met the theorem's cap C_gamma L <= c for the derived L: then C_gamma was
    chosen from that L, and a looser L also cost a smaller step (the convention in the module docstring)."""
    caps = [c for c in form.conditions if c.startswith("C_gamma * L")]
    # a run's sums are curves over n, which no condition reads: one value of each stands for it
    settings = {k: v if np.ndim(v) == 0 else np.asarray(v).reshape(-1)[-1] for k, v in values.items()}
    checked = form.check_conditions({**settings, **{k: theory[k] for k in THEOREM_CONSTANTS if k in theory}})
    return bool(caps) and all(checked.get(c, False) for c in caps)


def largest_L(form: Bound, values: Mapping[str, float]) -> float:
    """The largest L' meeting every step cap C_gamma L <= c of the theorem at the run's step (inf without a cap)."""
    out = math.inf
    for name, cond in form.conditions.items():
        if name.startswith("C_gamma * L"):
            per_L = float(cond.lhs.xreplace({S.L: 1, S.C_gamma: values["C_gamma"]}))
            out = min(out, float(cond.rhs) / per_L)
    return out


def best_L(form: Bound, values: Mapping[str, float], theory: Mapping[str, float], n: float) -> float:
    """The L' the a-priori bound is taken at: the theorem holds with any L' at least the smoothness constant that
    meets its step cap, and at a fixed step its form need not grow with L (projected SGD's rho(C_gamma L)^2 falls as
    C_gamma L grows to 1/2), so where the derived L meets the cap the best L' in [L, c / C_gamma] at step n is used
    (the derived L where the cap fails or the theorem has none: the bound then does not apply, or grows with L).
    Without it a tighter derived L could raise the bound of a run whose step was chosen from a looser one."""
    L = theory["L"]
    top = largest_L(form, values)
    if not (0 < L < top < math.inf):
        return L
    consts = {c: theory[c] for c in THEOREM_CONSTANTS if c in theory}
    grid = np.geomspace(L, top, L_GRID)
    with np.errstate(divide="ignore", invalid="ignore"):
        curve = np.asarray(form.evaluate({**values, **consts, "L": grid, "n": n}), dtype=float)
    return float(grid[int(np.nanargmin(curve))]) if np.isfinite(curve).any() else L


def a_posteriori(form: Bound, values: Mapping[str, float], theory: Mapping[str, float],
                 measured: Mapping[str, float], n: np.ndarray | float) -> np.ndarray | float:
    """The theorem with every measured constant put in (those not measured keep their theoretical value).

    The theorem holds with any L' at least the smoothness constant, and its form is not monotone in L at a fixed
    step (terms such as L_star / (C_gamma^3 L^2)): so where the step meets the theorem's cap C_gamma L <= c at the
    derived L (`step_tied_to_L`; then every L' below it meets the cap too), the measured L enters as the best L'
    between it and the derived L, pointwise in n. Without this a tiny step tied to the derived L made the
    a-posteriori bound larger than the a-priori one. Where the step is not tied, the measured L enters as it is,
    and `decompose`'s last row is this bound's ratio (module docstring)."""
    consts = {c: (measured[c] if math.isfinite(measured.get(c, math.nan)) else theory[c])
              for c in THEOREM_CONSTANTS if c in theory}
    L, L_theory = consts.get("L"), theory.get("L", math.nan)
    if L is None or not (0 < L < L_theory < math.inf) or not step_tied_to_L(form, values, theory):
        return form.evaluate({**values, **consts, "n": n})
    grid = np.geomspace(L, L_theory, L_GRID)
    with np.errstate(divide="ignore", invalid="ignore"):
        curves = [np.asarray(form.evaluate({**values, **consts, "L": Lp, "n": n}), dtype=float) for Lp in grid]
    best = np.nanmin(np.stack(curves), axis=0)
    return best if np.ndim(n) else float(best)


def decompose(form: Bound, values: Mapping[str, float], theory: Mapping[str, float],
              measured: Mapping[str, float], measured_value: float, n: int,
              theory_at_run_a: Mapping[str, float] | None = None, tied_step: bool = False) -> pd.DataFrame:
    """One row per factor: theory, measured, their ratio, how much replacing it by its measurement lowers
    log10(bound) at step n (negative: the measurement makes the bound larger, e.g. a run that left the set), and
    that as a share of the whole gap log10(bound / measured) in %. The last row is the theorem's own slack.

    theory / measured: constants by name (L, sigma2, M, L_star, a); theory_at_run_a: the derived L, sigma2, M
    re-evaluated at the run's largest parameter norm (None where the set is not entry-wise); tied_step: C_gamma was
    set from the derived L (module docstring).
    """
    factors = _present(form, theory, measured, theory_at_run_a)
    subsets = [s for r in range(len(factors) + 1) for s in itertools.combinations(factors, r)]
    rows = [{**values, **_settings(s, theory, measured, theory_at_run_a, values, tied_step), "n": n} for s in subsets]
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(np.asarray(form.evaluate(pd.DataFrame(rows)), dtype=float))
    v = dict(zip(subsets, logs))
    m = len(factors)
    share = {}
    for f in factors:
        total = 0.0
        for s in subsets:
            if f in s:
                continue
            with_f = tuple(x for x in factors if x in s or x == f)
            total += math.factorial(len(s)) * math.factorial(m - len(s) - 1) / math.factorial(m) * (v[s] - v[with_f])
        share[f] = total
    full_gap = v[()] - math.log10(measured_value) if measured_value > 0 else math.nan
    theorem_part = v[tuple(factors)] - math.log10(measured_value) if measured_value > 0 else math.nan
    out, described = [], constant_descriptions()
    for f in factors:
        t, mv = theory.get(f, math.nan) if f != "a" else theory["a"], measured[f]
        out.append({"factor": f, "what is measured": described[f], "theory": t, "measured": mv,
                    "theory / measured": t / mv if mv else math.inf, "log10 factor": share[f]})
    out.append({"factor": THEORY_SLACK, "what is measured": "the theorem with every measured constant put in "
                "(a-posteriori bound) against the measured running average", "theory": 10 ** v[tuple(factors)],
                "measured": measured_value, "theory / measured": 10 ** theorem_part if math.isfinite(theorem_part)
                else math.nan, "log10 factor": theorem_part})
    table = pd.DataFrame(out)
    table["share of gap %"] = 100 * table["log10 factor"] / full_gap if full_gap else math.nan
    return table
