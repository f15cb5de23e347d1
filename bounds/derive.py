"""From a spec to its bounds: smoothness (L_P, L_S), variance, gradient bound and convergence.

    >>> from bounds import default_spec, derive_all, spec_values
    >>> found = derive_all(default_spec())
    >>> found["convergence"].evaluate(spec_values(default_spec()))
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

from . import symbols as S
from .bound import Bound
from .hypotheses import bound_status, hypotheses
from .registry import SETTINGS
from .objectives.gap import objective_gap_bound, objective_upper_bound  # noqa: F401 (compare reads it here)
from .objectives.linear import linear_hessian_bound, linear_pieces
from .objectives.logistic import (REF as LOGISTIC_REF, LogisticGradient, assumptions as logistic_assumptions,
                                  logistic_gap, logistic_gradient, logistic_smoothness, logistic_variance)
from .objectives.pieces import Pieces, vae_pieces
from .objectives.one_score import one_score_smoothness
from .objectives.weighted import weighted_smoothness_terms
from .objectives.smoothness import (block_norm, iwae_variance, minibatch_variance,
                                    pathwise_expected_hessian, pathwise_pointwise, score_pointwise)
from .spec import ESTIMATORS, VAESpec
from .validate import SpecError, choice
from .support import NotDerivedError, require_bounded, require_bounded_architecture, require_projected_theorem
from .theorems import (adagrad, adagrad_sums, adam, adam_sums, momentum_constants, preconditioner_top,
                       projected_sgd, sgd)

REF = "docs/derivations.md"
# The objectives whose per-draw gradient is a self-normalised weighted sum sum_l wt_l grad l_l (IWAE, VR-IWAE).
WEIGHTED = ("iwae", "vr_iwae")
CONCENTRATION_T = 6  # M is the gradient bound at ||eps|| = sqrt(d_z) + t: P(||eps|| > that) < exp(-t^2/2)

MAX_LATENT_DIM = 4096  # the chi moments of ||eps|| are exact (gamma functions of d_z / 2): beyond this, too slow


def _estimator(spec: VAESpec, estimator: str | None) -> str:
    """The estimator asked for (the spec's by default), checked."""
    estimator = spec.estimator if estimator is None else estimator
    choice("estimator", estimator, ESTIMATORS)
    return estimator


def _pieces(spec: VAESpec, allow_outside_theory: bool) -> Pieces:
    """The spec's derived pieces, cached on what they read (model, objective, estimator, weight bound): runs that
    differ in seed, n, B or optimiser share one derivation."""
    bare = VAESpec(model=spec.model, objective=spec.objective, estimator=spec.estimator,
                   weight_bound=spec.weight_bound)
    return _pieces_of(bare, allow_outside_theory)


@lru_cache(maxsize=64)
def _pieces_of(spec: VAESpec, allow_outside_theory: bool) -> Pieces:
    require_bounded_architecture(spec.model.architecture)
    if spec.model.latent_dim > MAX_LATENT_DIM:
        raise SpecError(f"latent_dim={spec.model.latent_dim} is too large for a derived bound: at most "
                        f"{MAX_LATENT_DIM} (the moments of ||eps|| are computed exactly)")
    return linear_pieces(spec) if spec.model.kind == "linear" else vae_pieces(spec, allow_outside_theory)


def smoothness(spec: VAESpec, estimator: str | None = None, allow_outside_theory: bool = False) -> Bound:
    """L_P (pathwise) or L_S (score function): a bound on ||hess L|| of the expected objective over the compact set."""
    estimator = _estimator(spec, estimator)
    require_bounded(spec.objective.kind, estimator)
    p = _pieces(spec, allow_outside_theory)
    beta, d_z = S.beta, spec.model.latent_dim
    name = "L_P" if estimator == "pathwise" else "L_S"
    if spec.model.kind == "logistic":
        return Bound(name, logistic_smoothness(spec, estimator), "derived", LOGISTIC_REF, logistic_assumptions(spec),
                     description=f"black-box VI of a logistic-regression posterior, {spec.model.family} family")
    iwae = spec.objective.kind in WEIGHTED
    if spec.model.kind == "linear" and not iwae:
        terms = linear_hessian_bound(spec, beta)
        return Bound(name, terms, "derived", f"{REF}#linear-vae", hypotheses(spec),
                     description="exact-Hessian bound of the linear VAE's closed-form ELBO (any estimator)")
    if estimator == "pathwise":
        pw = pathwise_pointwise(p, beta)
        if iwae:  # VR-IWAE's covariance enters with the factor 1 - alpha (IWAE: alpha = 0)
            weight = 1 - S.renyi_alpha if spec.objective.kind == "vr_iwae" else sp.Integer(1)
            terms = _or_one_score(weighted_smoothness_terms(p, pw, weight, beta),
                                  one_score_smoothness(p, weight, beta))
            desc = ("the draws' weighted second derivatives plus the larger of the weights' covariance of the "
                    "gradients and their Gauss-Newton terms, each with E_eps, or the Hessian with one derivative on "
                    "the density, the smaller")
        else:
            terms = _or_one_score({"expected hessian": pathwise_expected_hessian(p, beta)},
                                  one_score_smoothness(p, 0, beta, 1))
            desc = ("E_eps of the pointwise Hessian bound of the reparameterised objective, or the Hessian with one "
                    "derivative on the density, the smaller")
    else:
        sb = score_pointwise(p, beta)
        score = block_norm(sb.theta_theta.expectation(d_z), sb.theta_phi.expectation(d_z),
                           sb.phi_phi.expectation(d_z))
        # The smoothness is the objective's, whichever estimator trains: the reparameterised representation of the
        # same Hessian (q is Gaussian) and the one with one derivative on the density bound it too; the smallest counts.
        one_score = one_score_smoothness(p, 0, beta, 1)
        routes = (score, pathwise_expected_hessian(p, beta)) + (() if one_score is None else (one_score,))
        terms = {"smoothness": sp.Min(*routes, evaluate=False)}
        desc = ("the smallest of the score-function representation of the Hessian (blockwise (theta, phi)), the "
                "reparameterised one and the one with one derivative on the density: all bound the same objective's "
                "Hessian")
    anchor = {"iwae": "iwae", "vr_iwae": "vr-iwae"}.get(spec.objective.kind, "deep-gaussian-vae")
    return Bound(name, terms, bound_status(p, spec), f"{REF}#{anchor}",
                 hypotheses(spec), description=desc)


def _or_one_score(terms: dict[str, sp.Expr], one_score: sp.Expr | None) -> dict[str, sp.Expr]:
    """The pathwise route's named terms, or, where the pieces give the route with one derivative on the density
    (`one_score.one_score_smoothness`), one term: the smaller of the two routes' totals."""
    if one_score is None:
        return terms
    return {"pathwise or one derivative on the density": sp.Min(sp.Add(*terms.values()), one_score, evaluate=False)}


def _gradient_bounds(spec: VAESpec, estimator: str | None, allow_outside_theory: bool):
    """The pointwise bounds on the per-sample gradient estimator: `Pointwise` or `ScoreBlocks` (g(r), g_sq(r) and
    the (theta, phi) blocks)."""
    estimator = _estimator(spec, estimator)
    if spec.model.kind == "logistic":
        return LogisticGradient(logistic_gradient(spec, estimator))
    p = _pieces(spec, allow_outside_theory)
    return pathwise_pointwise(p, S.beta) if estimator == "pathwise" else score_pointwise(p, S.beta)


def gradient_polynomial(spec: VAESpec, estimator: str | None = None, allow_outside_theory: bool = False):
    """The pointwise bound g(r) on the per-sample gradient estimator's norm, an `RPoly` in r = ||eps||."""
    return _gradient_bounds(spec, estimator, allow_outside_theory).gradient


def variance(spec: VAESpec, estimator: str | None = None, allow_outside_theory: bool = False) -> Bound:
    """sigma^2_{B,K} >= E||ghat - E ghat||^2 for the mini-batch estimator (B points, K draws each)."""
    estimator = _estimator(spec, estimator)
    require_bounded(spec.objective.kind, estimator)
    if spec.model.kind == "logistic":
        return Bound("sigma2", logistic_variance(spec, estimator), "derived", LOGISTIC_REF, logistic_assumptions(spec),
                     description="Var = ((1 - 1/K) E_x||grad L_x||^2 + E||grad l||^2 / K - ||grad L||^2) / B")
    grads = _gradient_bounds(spec, estimator, allow_outside_theory)
    d_z = spec.model.latent_dim
    if spec.objective.kind in WEIGHTED:
        terms = {"iwae estimator": iwae_variance(grads.gradient_sq, d_z)}
        desc = "||sum_l w_l grad l_l|| <= max_l g(r_l); E max by Hartley-David-Gumbel"
    else:
        terms = minibatch_variance(grads.gradient_blocks, grads.gradient_sq, d_z)
        desc = "Var = ((1 - 1/K) E_x||grad L_x||^2 + E||grad l||^2 / K - ||grad L||^2) / B"
    return Bound("sigma2", terms, bound_status(_pieces(spec, allow_outside_theory), spec), f"{REF}#variance",
                 hypotheses(spec) + ["mini-batch drawn uniformly (with or without replacement)"], description=desc)


def gradient_bound_value(spec: VAESpec, values: dict[str, float], estimator: str | None = None,
                         allow_outside_theory: bool = False) -> float:
    """Default for the adaptive methods' almost-sure bound M: g(r) at r = sqrt(d_z) + 6."""
    g = gradient_polynomial(spec, estimator, allow_outside_theory)
    r0 = np.sqrt(spec.model.latent_dim) + CONCENTRATION_T
    expr = g.expr().subs(S.r, r0)
    table = {sym: values[sym.name] for sym in expr.free_symbols}
    return float(expr.subs(table))


L_SYMBOL = S.L              # smoothness constant of the objective
SIGMA2_SYMBOL = S.sigma2    # variance bound of the mini-batch estimator


PROJECTED_NAME = "(1/(n+1)) sum_k E||G_t(theta_k)||^2"


# The optimisers whose torch.optim update has its own theorem (docs/derivations.md, "Torch's Adam and RMSProp").
TORCH_ANALYSED = ("adam", "rmsprop")
UPDATE_FORMS = ("theory", "torch")


def theorem(spec: VAESpec, estimator: str | None = None, projected: bool = False, sums: bool = False,
            form: str = "theory") -> Bound:
    """The convergence theorem of the spec's optimiser, in its constants: L (smoothness), sigma2 (variance, SGD),
    M and M_inf (almost-sure bounds on the gradient estimator and its coordinates, adaptive methods), L_star, and
    the optimiser's settings.

    projected: the theorem for SGD projected onto the compact set every step, on the gradient mapping G_t at
    t = C_gamma (`theorems.projected_sgd`); only SGD has one (`NotDerivedError` otherwise).
    `convergence` is this form with the derived L and sigma2 put in; `compare` also puts in measured constants
    (the a-posteriori bound). sums: SGD keeps its steps' weights as the symbol W_steps, adaptive methods their sums
    as X_gamma, X_gamma2, X_gamma_M, R_eff and (Adam, RMSProp) U_gamma (their bounds: `lemma_sums`), for a run's
    recorded sums. form: "theory" (the
    analysed updates) or "torch" (torch.optim's Adam and RMSProp; AdaGrad and SGD have one form here).
    """
    choice("form", form, UPDATE_FORMS)
    estimator = _estimator(spec, estimator)
    opt = spec.optimizer.name
    assumptions = ["step sizes gamma_k = C_gamma k^{-1/2}, output iterate R uniform on {0..n}",
                   "unbiased mini-batch gradients, drawn independently at each step given the past",
                   "L_star = sup L - L(theta_0), the objective gap (certified from the spec unless given: "
                   f"{REF}#the-objective-gap)"]
    conditions: dict[str, sp.Basic] = {}
    if projected:
        require_projected_theorem(opt)
        terms, conditions = projected_sgd(L_SYMBOL, SIGMA2_SYMBOL)
        assumptions += ["Euclidean projection onto the closed convex compact set after every step",
                        "L-smooth on the compact set (the Moreau envelope argument stays inside it)"]
        return Bound(PROJECTED_NAME, terms, "derived", f"{REF}#projected-sgd", assumptions, conditions,
                     description=f"projected sgd with the {estimator} estimator on the {spec.objective.kind} "
                                 "objective, measured by the gradient mapping at t = C_gamma")
    if opt == "sgd":
        terms, conditions = sgd(L_SYMBOL, SIGMA2_SYMBOL, weights=S.W_steps if sums else sp.Integer(1))
        ref = f"{REF}#sgd"
    else:
        assumptions.append("||H_k|| <= M, ||grad L|| <= M and |H_k,i| <= M_inf on every coordinate, almost surely "
                           "(assumed; the default M is the pointwise gradient bound at ||eps|| = sqrt(d_z) + "
                           f"{CONCENTRATION_T}, and M_inf = M)")
        dim = spec.n_parameters
        names = ("X_gamma", "X_gamma2", "X_gamma_M", "R_eff") + (() if opt == "adagrad" else ("U_gamma",))
        kept = {name: getattr(S, name) for name in names} if sums else None
        if opt == "adagrad":
            terms = adagrad(L_SYMBOL, S.M_inf, dim, sums=kept)
            ref = f"{REF}#adagrad"
        else:  # RMSProp is Adam with beta1 = 0 (and beta = beta2)
            beta1 = S.beta1 if opt == "adam" else 0
            terms, conditions = adam(L_SYMBOL, S.M_inf, S.M, dim, beta1=beta1, sums=kept, form=form,
                                     corrected=opt == "adam")
            if form == "torch":
                corrected = "bias-corrected, " if opt == "adam" else ""
                assumptions.append(f"{opt} in torch.optim's form: {corrected}preconditioner 1/(sqrt(v_k) + delta)")
            else:
                assumptions.append(f"{opt} in the analysed form: no bias correction, preconditioner "
                                   "(delta + v_k)^{-1/2}")
            ref = f"{REF}#torchs-adam-and-rmsprop" if form == "torch" else f"{REF}#adam-and-rmsprop"
    return Bound("E||grad L(theta_R)||^2", terms, "derived", ref, assumptions, conditions,
                 description=f"{opt} with the {estimator} estimator on the {spec.objective.kind} objective")


def lemma_sums(spec: VAESpec, form: str = "theory", projected: bool = False) -> dict[str, Bound]:
    """The a-priori bounds on a theorem's sums by name: SGD's W_steps (1); an adaptive theorem's X_gamma, X_gamma2
    (Lemma 3 for Adam and RMSProp, Lemma 1 for AdaGrad), X_gamma_M (M_inf X_gamma), R_eff (the preconditioner's
    bound) and, for Adam and RMSProp, U_gamma (kappa Lam X_gamma2); none for projected SGD. form: as `theorem`'s."""
    choice("form", form, UPDATE_FORMS)
    opt, dim = spec.optimizer.name, spec.n_parameters
    if projected:
        return {}
    if opt == "sgd":  # every gamma_{k+1} >= gamma_{n+1}
        return {"W_steps": Bound("W_steps", {"lemma bound": sp.Integer(1)}, "derived", f"{REF}#sgd",
                                 ["step sizes gamma_k = C_gamma k^{-1/2}, nonincreasing"])}
    pair = (adagrad_sums(S.M_inf, dim) if opt == "adagrad" else
            adam_sums(S.M_inf, dim, beta1=S.beta1 if opt == "adam" else 0, form=form, corrected=opt == "adam"))
    ref = f"{REF}#the-adaptive-bounds-a-posteriori-the-runs-own-sums"
    bounds = {"X_gamma": pair[0], "X_gamma2": pair[1], "X_gamma_M": S.M_inf * pair[0],  # every M_i <= M_inf
              "R_eff": preconditioner_top(S.M_inf, S.delta, "theory" if opt == "adagrad" else form)}
    if opt != "adagrad":  # U_gamma <= kappa Lam X_gamma2, path by path
        kappa, _, Lam = momentum_constants(S.beta1 if opt == "adam" else 0, S.beta2)
        bounds["U_gamma"] = kappa * Lam * pair[1]
    return {name: Bound(name, {"lemma bound": expr}, "derived", ref, [f"|H_k,i| <= M_inf, {opt} as analysed"])
            for name, expr in bounds.items()}


def convergence(spec: VAESpec, estimator: str | None = None, allow_outside_theory: bool = False,
                projected: bool = False, form: str = "theory") -> Bound:
    """The bound on E||grad L(theta_R)||^2 for the spec's optimiser (or, projected, on the gradient mapping's
    average): `theorem` with the derived L and sigma2."""
    L = smoothness(spec, estimator, allow_outside_theory)
    sig = variance(spec, estimator, allow_outside_theory)
    form = theorem(spec, estimator, projected, form=form)
    derived = form.subs({L_SYMBOL.name: L.expr, SIGMA2_SYMBOL.name: sig.expr})
    return Bound(form.name, derived.terms, L.status, form.reference, list(L.assumptions) + list(form.assumptions),
                 derived.conditions, form.description)


def derive_all(spec: VAESpec, allow_outside_theory: bool = False) -> dict[str, Bound]:
    """Every bound of a spec, for its estimator: smoothness, variance, convergence."""
    return {"smoothness": smoothness(spec, None, allow_outside_theory),
            "variance": variance(spec, None, allow_outside_theory),
            "convergence": convergence(spec, None, allow_outside_theory)}


@lru_cache(maxsize=64)
def objective_gap(spec: VAESpec, allow_outside_theory: bool = False) -> Bound:
    """L_star certified from the spec: sup - inf of the per-example objective over the compact set and the data
    (`bounds.objectives.gap`), which bounds sup L - L(theta_0) for any start in the set."""
    expr = (logistic_gap(spec) if spec.model.kind == "logistic" else
            objective_gap_bound(spec, _pieces(spec, allow_outside_theory)))
    return Bound("L_star", {"likelihood and KL ranges": expr}, "derived", f"{REF}#the-objective-gap",
                 ["parameters in the compact set, every data point in the data set's bound"],
                 description="sup L - inf L over the compact set: the objective gap from any start")


def spec_values(spec: VAESpec, allow_outside_theory: bool = False) -> dict[str, Any]:
    """Numbers for every symbol a bound of `spec` may contain: each setting of `bounds.registry` read from its
    spec path, the per-layer norm bounds, and (adaptive methods) the default M. L_star is the spec's objective_gap
    where given, else certified (`objective_gap`; left out where no bound is derived for the spec)."""
    values: dict[str, Any] = {setting.name: setting.read(spec) for setting in SETTINGS}
    for i, (w, b) in enumerate(zip(spec.weight_bound.layer_norms, spec.weight_bound.bias_norms)):
        values[S.layer_norm_symbol(i).name] = w
        values[S.bias_norm_symbol(i).name] = b
    if spec.objective_gap is None:
        try:
            values["L_star"] = float(objective_gap(spec, allow_outside_theory).evaluate(values))
        except (NotDerivedError, SpecError):  # conv nets, outside-theory activations, too many latents: no bound
            del values["L_star"]
    if spec.optimizer.name != "sgd":
        values["M"] = values["M_inf"] = gradient_bound_value(spec, values, allow_outside_theory=allow_outside_theory)
    return values


def theory_constants(spec: VAESpec, values: dict[str, float], a: float | None = None) -> dict[str, float]:
    """The derived L, sigma2 (and M for the adaptive methods), with L_star and a, at the spec's settings, or with the
    entry-wise bound a replaced (the theory's constants at the parameter norms a run reached)."""
    vals = dict(values) if a is None else {**values, "a": a}
    if a is not None and spec.objective_gap is None and "L_star" in vals:  # the certified gap depends on a too
        vals["L_star"] = float(objective_gap(spec, True).evaluate(vals))
    out = {"L": float(smoothness(spec, allow_outside_theory=True).evaluate(vals)),
           "sigma2": float(variance(spec, allow_outside_theory=True).evaluate(vals)),
           "L_star": vals["L_star"], "a": vals["a"]}
    if spec.optimizer.name != "sgd":  # a coordinate is at most the norm: M_inf = M unless measured
        out["M"] = out["M_inf"] = gradient_bound_value(spec, vals, allow_outside_theory=True)
    return out


@dataclass(frozen=True)
class Derived:
    """Everything a comparison reads of one spec's theory, derived once: the convergence bound, the theorem in its
    constants, the numbers of the spec's settings and the derived constants."""
    spec: VAESpec
    convergence: Bound
    theorem: Bound     # with its sums kept as symbols (`theorem`'s sums=True: SGD's W_steps, the adaptive ones')
    values: dict[str, Any]
    constants: dict[str, float]
    sums: dict[str, Bound]  # the lemmas' bounds on those sums (none for projected SGD)

    def constants_at(self, a: float) -> dict[str, float]:
        """The derived constants with the entry-wise bound a replaced."""
        return theory_constants(self.spec, self.values, a)


def update_form(spec: VAESpec, trained_form: str | None) -> str:
    """The form of the theorem a run trained in `trained_form` (its TrainConfig.form) is held to: "torch" where
    torch.optim's update has its own theorem (Adam, RMSProp), else "theory" (whose condition then says whether the
    run met it)."""
    return "torch" if trained_form == "torch" and spec.optimizer.name in TORCH_ANALYSED else "theory"


def derive_for_run(spec: VAESpec, projected: bool = False, form: str = "theory") -> Derived:
    """The theory `compare` holds a run of `spec` to (the projected-SGD theorem if `projected`; form: as `theorem`'s,
    see `update_form`); raises `NotDerivedError` where none is derived. Settings outside the theory are allowed
    (labelled outside-theory)."""
    values = spec_values(spec, allow_outside_theory=True)
    return Derived(spec=spec, convergence=convergence(spec, allow_outside_theory=True, projected=projected, form=form),
                   theorem=theorem(spec, projected=projected, sums=True, form=form), values=values,
                   constants=theory_constants(spec, values), sums=lemma_sums(spec, form, projected))
