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
from bounds.support import NotDerivedError
from bounds.spec import VAESpec
from empirical.runs import Run
from . import conditions as C
from empirical.estimators import has_exact_objective
from empirical.step_gradients import pair_batch
from .objective_gap import run_objective_gap
from .certificate import Certificate, certify
from .measures import (GRADIENT_MAPPING, THEOREM_CONSTANTS, RunningAverage, run_sums, measured_constants,
                       probe_notes, running_average, uses_projected_theorem)
from .rates import SlopeFit, fit_run_slope
from .slack import a_posteriori, best_L, decompose, step_tied_to_L


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
        """bound / measured at every recorded n (inf where the measured value is <= 0), against the upper end of
        the measurement's bias band (the value itself where it is unbiased); computed once, since every verdict and
        table reads it."""
        upper = self.average.upper
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(upper > 0, self.bound_curve / upper, np.inf)

    @cached_property
    def _exceeded(self) -> np.ndarray:
        """Where even the lower end of the measurement's band is above the bound."""
        return self.average.lower > self.bound_curve

    @property
    def violations(self) -> pd.DataFrame:
        """Recorded n where the measurement exceeded the bound, with the margin in standard errors."""
        bad = self._exceeded
        avg = self.average
        with np.errstate(divide="ignore", invalid="ignore"):
            margin = (avg.lower - self.bound_curve) / avg.se
        return pd.DataFrame({"n": avg.n[bad], "measured": avg.value[bad], "bound": self.bound_curve[bad],
                             "margin_in_se": margin[bad]})

    @property
    def sound(self) -> bool | None:
        """True: the bound held at every n (and every constant check); False: violated; None: not applicable, or
        inconclusive (a biased measurement's band straddles the bound)."""
        if not self.applicable:
            return None
        if bool(self._exceeded.any()) or not all(c.holds for c in self.constant_checks):
            return False
        return True if bool(np.all(self.ratios >= 1)) else None

    @property
    def inconclusive(self) -> bool:
        return self.applicable and self.sound is None

    @property
    def verdict(self) -> str:
        """The verdict in one word, as every table, plot and summary prints it."""
        if self.inconclusive:
            return "inconclusive"
        return {True: "sound", False: "VIOLATED", None: "not applicable"}[self.sound]

    @property
    def tightness_ratio(self) -> float | None:
        return float(np.min(self.ratios)) if self.applicable else None

    @property
    def final_ratio(self) -> float:
        return float(self.ratios[-1]) if self.bound is not None else math.nan

    @cached_property
    def certificate(self) -> Certificate:
        """The run's own high-probability certificate (`compare.certificate`; computed once, when first read)."""
        return certify(self.run)

    @property
    def posterior_ratio(self) -> float:
        n, value, _ = self.average.final()
        return float(self.posterior_curve[-1] / value) if value > 0 else math.inf

    def _repr_html_(self) -> str:
        """Jupyter shows an assessment as its verdict and main numbers."""
        import html
        s = self.summary()
        rows = {"run": s["run"], "verdict": self.verdict, "theorem": s["theorem_reference"] or s["error"],
                "broken conditions": ", ".join(s["broken_conditions"]) or "none",
                "tightness ratio": s["tightness_ratio"], "a-posteriori ratio": s["a_posteriori_ratio"],
                "fitted slope (theory -1/2)": s["fitted_slope"]}
        cells = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(_show(v))}</td></tr>"
                        for k, v in rows.items())
        return f"<table>{cells}</table>"

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
            "measured_band": [_num(self.average.lower[-1]), _num(self.average.upper[-1])],
            "theorem": self.form.name if self.form is not None else None,
            "theorem_reference": self.form.reference if self.form is not None else None,
            "inconclusive": self.inconclusive,
            "bound": _num(self.bound_curve[-1]), "bound_status": self.bound.status if self.bound else None,
            "applicable": self.applicable,
            "broken_conditions": [c.name for c in C.broken(self.conditions)],
            "conditions": [c.to_dict() for c in self.conditions],
            "tightness_ratio": _num(self.tightness_ratio), "final_ratio": _num(self.final_ratio),
            "sound": self.sound,
            "violations": int(self._exceeded.sum()) if self.bound is not None else 0,
            "constant_checks": [{"name": c.name, "theory": _num(c.theory), "measured": _num(c.measured),
                                 "holds": c.holds, "exact": c.exact} for c in self.constant_checks],
            "a_posteriori_bound": _num(self.posterior_curve[-1]), "a_posteriori_ratio": _num(self.posterior_ratio),
            "fitted_slope": _num(self.slope.slope) if self.slope else None,
            "fitted_slope_se": _num(self.slope.slope_se) if self.slope else None,
            "raw_slope": _num(self.slope.raw_slope) if self.slope else None,
            "rate_regime": (self.slope.pre_asymptotic or "the theorem's") if self.slope else None,
            **self.certificate.summary(), "slack": slack, "error": self.error, "notes": self.notes,
        }


def _show(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _num(x: Any) -> float | None:
    """A JSON-safe float: None for a missing value or NaN; inf stays (json writes Infinity)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def assess(run: Run, label: str = "") -> Assessment:
    """Compare a run with the bound of its own spec (the theorem that covers how it was trained)."""
    spec = run.spec
    projected = uses_projected_theorem(run)
    average = _average(run, projected)
    measured = measured_constants(run)
    n = average.n.astype(float)
    nan_curve = np.full(len(n), np.nan)
    notes: list[str] = probe_notes(run)
    if average.source == "interpolated probes":
        notes.append("no per-step unbiased estimate: the running average interpolates the probes' "
                     "full_grad_norm_sq (an approximation)")
    if run.status != "finished":
        notes.append(f"run status {run.status!r}: compared up to step {int(n[-1])}")
    outside = run.config.get("instrumented", {}).get("outside_theory")  # a user's module (empirical.instrument)
    try:
        if outside:
            raise NotDerivedError(f"the instrumented module is outside the theory: {'; '.join(outside)}")
        derived = D.derive_for_run(spec, projected, D.update_form(spec, run.config["train"].get("form")))
    except NotDerivedError as exc:  # a declared refusal; any other error is a bug and propagates
        error = str(exc)
        return Assessment(run=run, spec=spec, bound=None, form=None, error=error, average=average,
                          bound_curve=nan_curve, posterior_curve=nan_curve, conditions=[], constant_checks=[],
                          theory={}, measured=measured, slack=pd.DataFrame(), slope=_slope(average, run), label=label,
                          notes=notes + [f"no bound: {error}"])
    bound, form, values, theory = derived.convergence, derived.theorem, derived.values, derived.constants
    run_gap = run_objective_gap(run, spec) if spec.objective_gap is None else None
    if run_gap is not None and run_gap.certifies(theory["L_star"]):
        # The theorems need L_star >= sup L - L(theta_0) for this run's theta_0 only: its own start certifies one.
        values, theory = {**values, "L_star": run_gap.value}, {**theory, "L_star": run_gap.value}
    conds = C.check(run, spec, bound, values, measured, theory, projected)
    if projected and average.source.startswith("gradient mapping") and not has_exact_objective(spec):
        # <G(g), G(g')> estimates ||E G(g)||^2, within sqrt(Var g) of ||G(grad L)|| (G is 1-Lipschitz in g); the
        # noisier g of the pair averages m examples, so Var g <= sigma^2 B / m (sigma^2: the variance at batch B).
        sigma2 = measured["sigma2"] if math.isfinite(measured["sigma2"]) else theory["sigma2"]
        m = pair_batch(run.config["train"], spec.B)
        variance = sigma2 * spec.B / m
        average = average.with_bias_band(math.sqrt(variance))
        source, spread = ("mini-batch", "sigma^2") if m == spec.B else (f"{m}-example", f"sigma^2 B / {m}")
        notes.append(f"gradient mapping estimated from {source} gradients: bias band +-sqrt({spread}) = "
                     f"{math.sqrt(variance):.3g} around its root")
    final_n, final_value, _ = average.final()
    derived_L = theory["L"]
    lemma, recorded = _sum_curves(run, derived, values, theory, n)
    at_final = {name: float(curve[-1]) for name, curve in lemma.items()}  # the theorem's sums at their lemmas
    L_used = best_L(form, {**values, **at_final}, theory, final_n)
    if L_used != derived_L:  # the theorem at the best L' >= L under its step cap (compare.slack.best_L)
        theory = {**theory, "L": L_used}
        consts = {c: theory[c] for c in THEOREM_CONSTANTS if c in theory}
        bound_curve = np.asarray(form.evaluate({**values, **lemma, **consts, "n": n}), dtype=float)
        notes.append(f"a-priori bound at L' = {L_used:.4g}, above the derived L = {derived_L:.4g}: any L' >= L with "
                     "C_gamma L' under the theorem's cap is valid, and at this step the larger one gives less")
    else:
        bound_curve = np.asarray(bound.evaluate({**values, "n": n}), dtype=float)
    posterior = np.asarray(a_posteriori(form, {**values, **(recorded or lemma)}, theory, measured, n), dtype=float)
    checks = [ConstantCheck("sigma2", theory["sigma2"], measured["sigma2"], True),
              ConstantCheck("L", derived_L, measured["L"], False)]
    for name in ("M", "M_inf"):
        if name in theory:
            checks.append(ConstantCheck(name, theory[name], measured[name], False))
    at_run_a = None
    if spec.weight_bound.kind == "entrywise" and math.isfinite(measured["a"]) and measured["a"] > 0:
        at_run_a = derived.constants_at(measured["a"])
        at_run_a["L_star"] = min(at_run_a["L_star"], theory["L_star"])
        at_run_a.update(_sums_at(derived, {**values, **at_run_a}, final_n))
    sums_final = at_final
    recorded_final = {name: float(curve[-1]) for name, curve in (recorded or {}).items()}
    slack = decompose(form, values, {**theory, **sums_final}, {**measured, **recorded_final}, final_value, final_n,
                      at_run_a, step_tied_to_L(form, {**values, **sums_final}, theory))
    return Assessment(run=run, spec=spec, bound=bound, form=form, error=None, average=average, bound_curve=bound_curve,
                      posterior_curve=posterior, conditions=conds,
                      constant_checks=[c for c in checks if math.isfinite(c.measured)], theory=theory,
                      measured=measured, slack=slack, slope=_slope(average, run), label=label, notes=notes)


def _sums_at(derived: D.Derived, values: dict[str, Any], n: Any) -> dict[str, Any]:
    """The lemmas' bounds on an adaptive theorem's sums at n (none for SGD)."""
    shape = np.shape(n)  # a bound that does not depend on n (R_eff's) still gives one value per n
    return {name: np.broadcast_to(np.asarray(b.evaluate({**values, "n": n}), dtype=float), shape).copy()
            for name, b in derived.sums.items()}


def _sum_curves(run: Run, derived: D.Derived, values: dict[str, Any], theory: dict[str, float], n: np.ndarray):
    """(the lemmas' bounds on the adaptive sums at every n, the run's recorded sums or None)."""
    if not derived.sums:
        return {}, None
    consts = {k: theory[k] for k in THEOREM_CONSTANTS if k in theory}
    return _sums_at(derived, {**values, **consts}, n), run_sums(run, n)


def _average(run: Run, projected: bool) -> RunningAverage:
    """The running average of the quantity the covering theorem bounds: ||grad L||^2, or the gradient mapping's
    squared norm for projected runs (falling back to ||grad L||^2 where the run did not record it; a condition then
    says so)."""
    if projected and GRADIENT_MAPPING in run.trace:
        return running_average(run.trace, GRADIENT_MAPPING)
    return running_average(run.trace)


def _slope(average: RunningAverage, run: Run) -> SlopeFit | None:
    return fit_run_slope(average.n, average.value, run.config)


__all__ = ["Assessment", "ConstantCheck", "assess"]
