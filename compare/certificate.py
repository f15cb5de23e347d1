"""A convergence certificate for one finished run (SGD; adaptive runs: `certificate_adaptive`, whose weights are
omega_j min Dbar_j instead of gamma_{k+1}): an upper bound on the run's own step-weighted average
A = sum_k gamma_{k+1} ||grad L(theta_k)||^2 / sum_k gamma_{k+1} that holds with probability at least 1 - delta over the
run's randomness, from what the run recorded and constants certified on its path. docs/derivations.md, "A
certificate for the run": the theorem, its proof and its conditions.

    >>> from compare.certificate import certify
    >>> found = certify(load_run("runs/digits"), delta=0.05)
    >>> found.value, found.measured, found.terms

In short: the descent inequality with each step's own smoothness constant L_k (the derived L on the box that holds
theta_k and theta_{k+1}) gives, summed, sum gamma ||grad L||^2 <= [L(theta_n) - L(theta_0)] + sum (L_k gamma^2 / 2)
||ghat||^2 - sum gamma <grad L, xi>. On the event that every draw of eps lies in the ball ||eps|| <= sqrt(d_z) + t
(probability >= 1 - delta/3), each example's gradient is at most G_k (the derived pointwise bound there), so the
noise is sub-Gaussian with proxy G_k^2 / B and the martingale is at most theta/2 of the left side plus
Lambda log(.)/theta (probability >= 1 - delta/3, a union over a grid of theta and Lambda). The objective's gain is an
upper confidence bound (exact for a closed-form objective). Where the run recorded its examples' gradient norms, the
noise is priced from them instead (`certificate_noise`): the smaller of a family with the range G_k and one with one
example's derived variance and no truncation. Reshuffled epochs add a bound on their batches' bias
(`certificate_terms`), projected steps a bound on their projection's correction.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bounds.support import NotDerivedError
from empirical.estimators import has_exact_objective
from empirical.runs import Run
from .certificate_adaptive import AdaptiveForm, adaptive_forms, has_trail, weights as adaptive_weights
from .certificate_choice import best_of
from .certificate_constants import derived, noise_bounds, smoothness_at
from .certificate_estimate import (ESTIMATE_FAMILY, anchor_candidates, anchor_replicates, estimate_candidates,
                                  estimate_form, pair_norms)
from .certificate_noise import (empirical_noise, gradient_norm_bounds, has_example_norms, hoeffding_noise, lambda_log,
                                second_moment_noise,
                                step_lengths)
from .certificate_measured import measured_constants
from .certificate_settings import fitted_to_data, least_over_norms, segment_values
from .certificate_terms import epoch_hull, ghost_view, has_ghost, projection_term, reshuffling_term
from .measures import projection_acted
from .objective_gap import SE_FACTOR, run_objective_gap



@dataclass(frozen=True)
class Certificate:
    """value >= A with probability >= 1 - delta (None with `why` where the run is not covered)."""
    value: float | None
    measured: float            # A estimated from the run's unbiased per-step ||grad L||^2 (grad_norm_sq_unbiased)
    delta: float
    why: str = ""
    terms: dict[str, float] = field(default_factory=dict)  # each term's share of the value, in the value's units
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def applies(self) -> bool:
        return self.value is not None

    def summary(self) -> dict[str, Any]:
        """JSON-ready fields for a comparison's summary."""
        num = lambda x: None if x is None or not math.isfinite(x) else float(x)
        return {"certificate": num(self.value), "certificate_delta": self.delta, "certificate_ratio": num(self.ratio),
                "certificate_measured": num(self.measured), "certificate_note": self.why,
                "certificate_terms": {k: num(v) for k, v in self.terms.items()},
                "certificate_at_measured_constants": num(self.details.get("at_measured_constants")),
                "certificate_form": self.details.get("form")}

    @property
    def ratio(self) -> float:
        """certificate / measured (>= 1 when it holds; NaN where it does not apply or nothing was measured)."""
        if self.value is None or not self.measured > 0:
            return math.nan
        return self.value / self.measured


def _refusal(run: Run) -> str | None:
    spec, train = run.spec, run.config["train"]
    if spec.optimizer.name != "sgd":
        if not has_trail(run.trace):
            return f"optimizer {spec.optimizer.name!r} without the preconditioner's trail (recorded by newer runs)"
        if train.get("project"):
            return f"optimizer {spec.optimizer.name!r}, projected: the adaptive certificate is proved unprojected"
    if train.get("batches", "epochs") != "independent" and not (run.config.get("data") or {}).get("n_train"):
        return "reshuffled epochs with no recorded training-set size: the certificate's reshuffling term needs it"
    if train.get("batches", "epochs") != "independent" and "epoch" not in run.trace:
        return "reshuffled epochs with no epoch column in the trace"
    if spec.weight_bound.kind != "entrywise":
        return "per-layer norm bounds: the certificate's L_k are evaluated on the iterates' entry-wise box"
    if train.get("project") and projection_acted(run.trace) is None:
        return "a projected run that did not record its projection's distances"
    if run.status != "finished":
        return f"run status {run.status!r}"
    if "grad_norm_sq" not in run.trace or "lr" not in run.trace or "inf_norm_theta" not in run.trace:
        return "the trace has no per-step ||ghat||^2 or step size"
    return None


def _objective_gain(run: Run) -> tuple[float, str]:
    """An upper bound on L(theta_n) - L(theta_0): exact for a closed-form objective, else the last probe's paired
    estimate (both ends on the same points and draws) or, in runs recorded before it, the two probes' estimates,
    + SE_FACTOR standard errors; no larger than the run's certified gap (ceiling - start)."""
    t = run.trace.dropna(subset=["objective_train"]).sort_values("step")
    first, last = t.iloc[0], t.iloc[-1]
    if int(first["step"]) != 0 or int(last["step"]) != int(run.trace["step"].max()):
        return math.inf, "no objective at step 0 and at the last step"
    se = lambda row: float(row.get("objective_train_se", math.nan))
    exact = has_exact_objective(run.spec)
    margin = 0.0 if exact else SE_FACTOR * (se(first) + se(last))
    gain = float(last["objective_train"] - first["objective_train"]) + (margin if math.isfinite(margin) else math.inf)
    how = "exact (closed-form objective)" if exact else f"estimates +- {SE_FACTOR:g} standard errors"
    paired = float(last.get("objective_gain", math.nan)) + SE_FACTOR * float(last.get("objective_gain_se", math.nan))
    if not exact and math.isfinite(paired):
        gain, how = paired, f"paired estimate (the same draws at theta_0 and theta_n) + {SE_FACTOR:g} standard errors"
    gap = run_objective_gap(run, run.spec)
    if gap is not None and gap.has_error_bar:
        gain = min(gain, gap.value)
    return max(gain, 0.0), how


def certify(run: Run, delta: float = 0.05) -> Certificate:
    """The certificate of one run at confidence 1 - delta (docs/derivations.md, "A certificate for the run")."""
    if not 0 < delta < 1:
        raise ValueError(f"delta={delta!r} is invalid: the certificate's failure probability must lie in (0, 1)")
    t = run.trace.sort_values("step")
    measured = weighted_average(t, _adaptive_weights(run.spec, t))
    why = _refusal(run)
    if why is not None:
        return Certificate(None, measured, delta, why)
    gain, gain_how = _objective_gain(run)
    epochs = run.config["train"].get("batches", "epochs") != "independent"
    path = (fitted_to_data(run), t, gain, delta, measured, gain_how, int(run.config["data"]["n_train"]) if epochs
            else None)
    found, constants = certificate_of_path(*path, pair=_split_pair(run)), measured_constants(t)
    if found.applies and constants is not None:  # the diagnosis: the same form at the run's measured L and G
        found.details["at_measured_constants"] = certificate_of_path(*path, constants=constants).value
    return found


def _split_pair(run: Run) -> bool:
    """Whether the run's grad_norm_sq_unbiased is <g_a, g_b> of the halves of a batch whose examples' norms it
    recorded: the split estimator, on the training batch (independent batches of B >= 2) or on the fresh batch
    (reshuffled epochs, whose norms the ghost's columns record)."""
    train = run.config["train"]
    if not (train.get("unbiased_norm", True) and train.get("norm_estimator", "split") == "split"):
        return False
    independent = train.get("batches", "epochs") == "independent"
    return run.spec.B >= 2 if independent else bool(train.get("ghost_batch", True))


def _beta1(spec: Any) -> float:
    return spec.optimizer.beta1 if spec.optimizer.name == "adam" else 0.0


def _adaptive_weights(spec: Any, t: pd.DataFrame) -> np.ndarray | None:
    """An adaptive run's certified weights omega_j min(Dbar_j) (`certificate_adaptive`); None for SGD or without
    the trail."""
    return adaptive_weights(t, _beta1(spec)) if spec.optimizer.name != "sgd" and has_trail(t) else None


def weighted_average(t: pd.DataFrame, weights: np.ndarray | None = None) -> float:
    """sum_k w_k U_k / sum_k w_k with U_k the run's unbiased per-step ||grad L(theta_k)||^2 and w_k = gamma_{k+1}
    (SGD) or the given weights."""
    steps = t.iloc[:-1]
    if not len(steps) or "grad_norm_sq_unbiased" not in t or "lr" not in t:
        return math.nan
    gammas = steps["lr"].to_numpy(float) if weights is None else weights
    unbiased = steps["grad_norm_sq_unbiased"].to_numpy(float)
    seen = np.isfinite(unbiased)  # steps without an estimate carry no weight (not a zero)
    return float((gammas[seen] * unbiased[seen]).sum() / gammas[seen].sum()) if seen.any() else math.nan


def certificate_of_path(spec: Any, t: pd.DataFrame, gain: float, delta: float, measured: float = math.nan,
                        gain_how: str = "given", n_train: int | None = None,
                        constants: tuple[float, float] | None = None, pair: bool = False) -> Certificate:
    """The certificate from a path's records: t has one row per iterate theta_0..theta_n (columns lr, grad_norm_sq,
    inf_norm_theta, inf_norm_phi, K, and logvar_low, logvar_high where the log-variances are parameters; the last
    row's step columns unused) and gain bounds L(theta_n) - L(theta_0) with probability >= 1 - delta/3.
    n_train: the training set's size where batches came from reshuffled epochs (t then needs the column epoch);
    None for independent batches. A projected run's t has each step's projection_distance. constants: (L, G) put
    in for every certified smoothness and per-example gradient bound (`certificate_measured`: a diagnosis only).
    pair: t's grad_norm_sq_unbiased is <g_a, g_b> of the two halves of the batch whose examples' norms it records (the
    training batch's on independent batches, the fresh batch's on reshuffled epochs; the trainer's split estimator),
    and pair_first_norm_sq is ||g_a||^2: the estimate form (`certificate_estimate`) then competes with the descent
    forms, the smaller taken."""
    steps = t.iloc[:-1]
    if not len(steps):
        return Certificate(None, measured, delta, "no step was taken")
    try:
        values, _ = derived(spec)  # raises where the spec has no derived smoothness
    except NotDerivedError as exc:
        return Certificate(None, measured, delta, f"no derived smoothness: {exc}")
    seg, point = segment_values(spec, t, values)
    gammas = steps["lr"].to_numpy(float)
    K = steps["K"].to_numpy(float) if "K" in steps else np.ones(len(steps))
    epochs, empirical = n_train is not None, has_example_norms(t)
    # the ghost form (reshuffled epochs with a ghost batch; adaptive runs at kappa = 1): the ghost's martingale
    ghost = epochs and has_ghost(t)
    noise_t, noise_B, gap = ghost_view(t) if ghost else (t, spec.B, np.zeros(len(steps)))
    draws = float((K * spec.B).sum() + ((K * noise_B).sum() if ghost else 0.0))  # r_bar's union counts the ghost's
    empirical = empirical or ghost
    distances = steps["projection_distance"].to_numpy(float) if "projection_distance" in t else np.zeros(len(steps))
    if not np.isfinite(distances).all():
        return Certificate(None, measured, delta, "a projected run with steps that did not record their projection")
    projected = bool(distances.any())
    adaptive = spec.optimizer.name != "sgd"
    if adaptive and (projected or not has_trail(t)):
        return Certificate(None, measured, delta, "the adaptive certificate needs unprojected steps and the "
                                                  "preconditioner's trail")
    # delta/shares each: eps outside the ball somewhere, the martingale, the objective's gain (normal approximation),
    # and (empirical form, epochs, projected or adaptive steps) the anchors of ||grad L||
    shares = 4 if empirical or epochs or projected or adaptive else 3
    r_bar = round(math.sqrt(spec.model.latent_dim) + math.sqrt(2 * math.log(shares * draws / delta)), 6)
    if constants is None:
        L_k, G, beta, mean, V, V_eps, V_path = least_over_norms(spec, t, seg, point, lambda s, sg, pt: (
            smoothness_at(s, sg, len(steps)), *noise_bounds(s, pt, r_bar)))
    else:
        L_k, G, beta, mean, V, V_eps, V_path = (np.full(len(steps), x) for x in (
            *constants, 0.0, constants[1], constants[1] ** 2, constants[1] ** 2, constants[1] ** 2))
    if not math.isfinite(gain):
        return Certificate(None, measured, delta, "the objective's gain could not be bounded")
    lengths = step_lengths(t)
    curvature = float((L_k / 2 * lengths ** 2).sum())
    grad_bound = gradient_norm_bounds(t, L_k, mean, delta / shares) if shares == 4 else None
    # SGD is one form (weights gamma, no extra terms); an adaptive run has one per cap kappa of its trail, a union
    forms = (adaptive_forms(t, _beta1(spec), L_k * lengths, grad_bound) if adaptive
             else [AdaptiveForm("", gammas, {})])
    if adaptive and epochs:  # the reshuffling term holds for scalar weights: the form Dtilde = min(Dbar) I
        forms = forms[:1]
    certified = _adaptive_weights(spec, t) if adaptive else gammas  # the average's weights
    total = float(certified.sum())
    details = {"r_bar": r_bar, "gain_how": gain_how, "L_k_max": float(L_k.max()), "G_max": float(G.max()),
               "sum_gamma": total}
    if grad_bound is not None:
        details["grad_bound_max"] = float(grad_bound.max())
    details["noise_form"] = ("empirical Bernstein (the run's per-example gradient norms)" if empirical
                             else "Hoeffding (the derived per-draw bound G)") + (", the ghost batch's" if ghost else "")
    fixed_terms = {}
    if epochs and not ghost:
        hull = epoch_hull(t)
        _, hull_point = segment_values(spec, hull, values)
        L_h, M_h = least_over_norms(spec, hull, hull_point, hull_point, lambda s, sg, pt: (
            smoothness_at(s, pt, len(steps)), noise_bounds(s, pt, r_bar)[2])) if constants is None else (L_k, mean)
        fixed_terms["reshuffling"], details["reshuffling_parts"] = reshuffling_term(
            t, n_train, spec.B, L_h, M_h, grad_bound, certified)
    if projected:
        fixed_terms["projection"] = details["projection"] = projection_term(t, grad_bound)
    # the estimate forms (no descent), from the split pair and from the anchors: where they apply, they and the
    # descent forms split the martingale's delta
    usable = grad_bound is not None
    norms = pair_norms(t, not epochs) if pair and usable and np.isfinite(V).all() else None
    replicates = anchor_replicates(t) if usable and np.isfinite(V_path).all() else None
    split = 1 + (norms is not None) + (replicates is not None)
    best = None
    for form in forms:
        w = form.noise_weights
        extra = {**fixed_terms, **form.terms}
        per_example = epochs and not ghost  # increments centred at each drawn example's own mean gradient
        for family, candidates, trunc in _noise_families(noise_t, noise_B, G, beta, mean, V_eps if per_example else V,
                                                         grad_bound, w, delta, shares * len(forms) * split, empirical,
                                                         per_example):
            # the truncation's term (and the ghost's gap) is bias / eta, eta chosen below: Young's inequality on
            # gamma ||grad L|| (beta_k + ||ghat - ghost||); none for the family that does not truncate
            bias, truncation = float((w * (trunc + gap) ** 2).sum()) / 4, float((w * trunc ** 2).sum()) / 4
            best = best_of(best, candidates, gain, curvature, extra, bias, truncation, total, ghost, form.kappa,
                           family, form.lag_steps, form.transport_steps)
    estimates = []
    if norms is not None:
        estimates.append(("estimate", "grad_norm_sq_unbiased", estimate_candidates(
            t, certified, (*norms[:2], np.full(len(steps), float(spec.B)) if norms[2] is None else norms[2]),
            grad_bound, V, lambda_log(delta / shares / split))))
    if replicates is not None:
        estimates.append(("anchor estimate", "anchor_grad_norm_sq", anchor_candidates(
            certified, replicates, grad_bound, V_path, lambda_log(delta / shares / split / 2))))
    least, winner = (math.inf if best is None else sum(best[1].values())), None
    for name, column, candidates in estimates:
        found = estimate_form(t, certified, candidates, total, column)
        if found is not None and found[0] < least:
            least, winner = found[0], (name, found)
    if winner is not None:
        name, (value, theta, parts) = winner
        details.update(form=name, theta=theta, noise_family=ESTIMATE_FAMILY)
        return Certificate(value, measured, delta, "", parts, details)
    if best is None:
        return Certificate(None, measured, delta, "the noise bound is beyond the certificate's grid")
    theta, parts, details["eta"], kappa, details["noise_family"], details["eta_lag"] = best
    details.update(theta=theta, form="descent")
    if adaptive:
        details["kappa"] = kappa
    return Certificate(sum(parts.values()), measured, delta, "", parts, details)


def _noise_families(t: pd.DataFrame, B: int, G: np.ndarray, beta: np.ndarray, mean: np.ndarray, V: np.ndarray,
                    grad_bound: np.ndarray | None, w: np.ndarray, delta: float, shares: int, empirical: bool,
                    per_example_mean: bool) -> list[tuple[str, list[tuple[float, float]], np.ndarray]]:
    """(name, [(theta, the martingale's bound)], the truncation's bias beta_k it needs) for each family of noise
    bounds that applies: Hoeffding's (no example norms); Fan, Grama and Liu's on the truncation ball; and Delyon's
    from the increments' variance V, untruncated (centred at grad L, or with per_example_mean at each drawn example's
    own mean gradient, whose norm is at most E g = mean). delta / shares is the martingale's share, split between
    the families."""
    if not empirical:
        return [("Hoeffding", hoeffding_noise(w, G, B, delta, shares), beta)]
    second_moment = bool(np.isfinite(V).all())
    log_scale = lambda_log(delta / shares / (2 if second_moment else 1))
    out = [("Fan-Grama-Liu (range G_k)", empirical_noise(t, B, G, beta, grad_bound, log_scale,
                                                         mean if per_example_mean else None, gammas=w), beta)]
    if second_moment:
        out.append(("Delyon (one example's variance V_k)",
                    second_moment_noise(t, B, grad_bound, V, log_scale, mean if per_example_mean else None,
                                        gammas=w), np.zeros_like(beta)))
    return out
