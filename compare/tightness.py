"""Join a run with its bound: tightness at every recorded n, soundness, the a-posteriori bound and the slack.

    >>> from compare.tightness import assess
    >>> from empirical import load_run
    >>> result = assess(load_run("runs/digits"))
    >>> result.summary()          # tightness_ratio, sound, fitted_slope, slack, ...

`tightness_ratio` is bound / measured at the worst recorded n (>= 1: the bound held; the closer to 1, the tighter;
< 1: the measurement exceeded the bound, which means a derivation or a measurement is wrong). `sound` is true,
false, or None when the run broke a condition of the theorem (then only the a-posteriori bound is shown).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from bounds import derive as D
from bounds.bound import Bound
from bounds.spec import VAESpec
from empirical.runs import Run
from . import conditions as C
from .measures import RunningAverage, measured_constants, running_average
from .rates import SlopeFit, fit_slope
from .slack import a_posteriori, decompose


@dataclass
class ConstantCheck:
    """A derived constant against the same quantity measured at the probes (a bound the measurement must respect)."""
    name: str
    theory: float
    measured: float
    exact: bool  # False: the measurement only approximates the bounded quantity (frozen noise, finite sample)

    @property
    def holds(self) -> bool:
        return not self.measured > self.theory


@dataclass
class Assessment:
    run: Run
    spec: VAESpec
    bound: Bound | None           # the derived convergence bound (None where none is derived)
    form: Bound | None            # the theorem in its constants
    error: str | None             # why there is no bound
    average: RunningAverage
    bound_curve: np.ndarray       # bound at every n of `average` (NaN without a bound)
    posterior_curve: np.ndarray   # a-posteriori bound at every n
    conditions: list[C.Condition]
    constant_checks: list[ConstantCheck]
    theory: dict[str, float]
    measured: dict[str, float]
    slack: pd.DataFrame
    slope: SlopeFit | None
    label: str = ""
    notes: list[str] = field(default_factory=list)

    # ---- verdicts --------------------------------------------------------------------------------------------
    @property
    def applicable(self) -> bool:
        return self.bound is not None and not C.broken(self.conditions)

    @cached_property
    def ratios(self) -> np.ndarray:
        """bound / measured at every recorded n (inf where the measured value is <= 0); computed once, since every
        verdict and table reads it."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.average.value > 0, self.bound_curve / self.average.value, np.inf)

    @property
    def violations(self) -> pd.DataFrame:
        """Recorded n where the measurement exceeded the bound, with the margin in standard errors."""
        bad = self.ratios < 1
        avg = self.average
        with np.errstate(divide="ignore", invalid="ignore"):
            margin = (avg.value - self.bound_curve) / avg.se
        return pd.DataFrame({"n": avg.n[bad], "measured": avg.value[bad], "bound": self.bound_curve[bad],
                             "margin_in_se": margin[bad]})

    @property
    def sound(self) -> bool | None:
        if not self.applicable:
            return None
        return bool(np.all(self.ratios >= 1)) and all(c.holds for c in self.constant_checks)

    @property
    def tightness_ratio(self) -> float | None:
        return float(np.min(self.ratios)) if self.applicable else None

    @property
    def final_ratio(self) -> float:
        return float(self.ratios[-1]) if self.bound is not None else math.nan

    @property
    def posterior_ratio(self) -> float:
        n, value, _ = self.average.final()
        return float(self.posterior_curve[-1] / value) if value > 0 else math.inf

    def summary(self) -> dict[str, Any]:
        """JSON-ready: tightness_ratio, sound, fitted_slope, slack and the rest."""
        n, value, se = self.average.final()
        slack = {row["factor"]: {"theory": _num(row["theory"]), "measured": _num(row["measured"]),
                                 "log10_factor": _num(row["log10 factor"]), "share_percent": _num(row["share of gap %"])}
                 for _, row in self.slack.iterrows()}
        return {
            "run": self.label, "path": str(self.run.path) if self.run.path else None, "status": self.run.status,
            "optimizer": self.spec.optimizer.name, "objective": self.spec.objective.kind,
            "estimator": self.spec.estimator, "B": self.spec.B, "K": self.spec.objective.K,
            "beta": self.spec.objective.beta, "s": self.spec.model.activation.s, "seed": self.spec.seed,
            "C_gamma": self.spec.optimizer.C_gamma,
            "n": n, "measured": value, "measured_se": se, "measured_source": self.average.source,
            "bound": _num(self.bound_curve[-1]), "bound_status": self.bound.status if self.bound else None,
            "applicable": self.applicable,
            "broken_conditions": [c.name for c in C.broken(self.conditions)],
            "conditions": [c.to_dict() for c in self.conditions],
            "tightness_ratio": _num(self.tightness_ratio), "final_ratio": _num(self.final_ratio),
            "sound": self.sound,
            "violations": int((self.ratios < 1).sum()) if self.bound is not None else 0,
            "constant_checks": [{"name": c.name, "theory": _num(c.theory), "measured": _num(c.measured),
                                 "holds": c.holds, "exact": c.exact} for c in self.constant_checks],
            "a_posteriori_bound": _num(self.posterior_curve[-1]), "a_posteriori_ratio": _num(self.posterior_ratio),
            "fitted_slope": _num(self.slope.slope) if self.slope else None,
            "fitted_slope_se": _num(self.slope.slope_se) if self.slope else None,
            "raw_slope": _num(self.slope.raw_slope) if self.slope else None,
            "slack": slack, "error": self.error, "notes": self.notes,
        }


def _num(x: Any) -> float | None:
    """A JSON-safe float: None for a missing value or NaN; inf stays (json writes Infinity)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def theory_constants(spec: VAESpec, values: dict[str, float], a: float | None = None) -> dict[str, float]:
    """The derived L, sigma2 (and M for the adaptive methods) at the spec's settings, or with the entry-wise bound a
    replaced (the theory's constants at the parameter norms the run reached)."""
    vals = dict(values) if a is None else {**values, "a": a}
    out = {"L": float(D.smoothness(spec, allow_outside_theory=True).evaluate(vals)),
           "sigma2": float(D.variance(spec, allow_outside_theory=True).evaluate(vals)),
           "L_star": spec.objective_gap, "a": vals["a"]}
    if spec.optimizer.name != "sgd":
        out["M"] = D.gradient_bound_value(spec, vals, allow_outside_theory=True)
    return out


def assess(run: Run, label: str = "") -> Assessment:
    """Compare a run with the bound of its own spec."""
    spec = run.spec
    average = running_average(run.trace)
    measured = measured_constants(run)
    n = average.n.astype(float)
    nan_curve = np.full(len(n), np.nan)
    notes: list[str] = []
    if average.source != "per-step unbiased":
        notes.append("no per-step unbiased estimate: the running average interpolates the probes' "
                     "full_grad_norm_sq (an approximation)")
    if run.status != "finished":
        notes.append(f"run status {run.status!r}: compared up to step {int(n[-1])}")
    try:
        bound = D.convergence(spec, allow_outside_theory=True)
        form = D.theorem(spec)
        values = D.spec_values(spec, allow_outside_theory=True)
        theory = theory_constants(spec, values)
        error = None
    except (ValueError, ArithmeticError) as exc:  # no derived bound for this spec (vr_iwae, conv, ...)
        error = str(exc)
        return Assessment(run, spec, None, None, error, average, nan_curve, nan_curve, [], [], {}, measured,
                          pd.DataFrame(), _slope(average), label, notes + [f"no bound: {error}"])
    conds = C.check(run, spec, bound, values, measured, theory)
    bound_curve = np.asarray(bound.evaluate({**values, "n": n}), dtype=float)
    posterior = np.asarray(a_posteriori(form, values, theory, measured, n), dtype=float)
    checks = [ConstantCheck("sigma2", theory["sigma2"], measured["sigma2"], True),
              ConstantCheck("L", theory["L"], measured["L"], False)]
    if "M" in theory:
        checks.append(ConstantCheck("M", theory["M"], measured["M"], False))
    at_run_a = None
    if spec.weight_bound.kind == "entrywise" and math.isfinite(measured["a"]) and measured["a"] > 0:
        at_run_a = theory_constants(spec, values, a=measured["a"])
    final_n, final_value, _ = average.final()
    slack = decompose(form, values, theory, measured, final_value, final_n, at_run_a)
    return Assessment(run, spec, bound, form, None, average, bound_curve, posterior, conds,
                      [c for c in checks if math.isfinite(c.measured)], theory, measured, slack, _slope(average),
                      label, notes)


def _slope(average: RunningAverage) -> SlopeFit | None:
    try:
        return fit_slope(average.n, average.value)
    except ValueError:
        return None


__all__ = ["Assessment", "ConstantCheck", "assess", "theory_constants"]
