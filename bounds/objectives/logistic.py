"""Black-box VI as a spec: Bayesian logistic regression (`ModelSpec(kind="logistic")`), its constants from the spec.

The per-example objective is f_i = N log sigmoid(u_i . z) + log p(z) - log q(z) (u_i = y_i x_i, ||u_i|| <= R_x, N =
n_observations, p = N(0, I)), whose mean over the N rows is the ELBO. Each example's log-joint
N log sigmoid(u_i . z) - ||z||^2 / 2 satisfies the target assumptions of `bbvi` with
    M2 = N R_x^2 / 4 + 1   (log sigmoid'' lies in [-1/4, 0]),   M1 = N R_x / 2   (the gradient at 0),   M0 = N log 2,
and a bound on the mean objective's Hessian is a bound on every example's, so `bbvi`'s L holds for the ELBO. The
variance is the mini-batch one (B rows, K draws each). The product-Bernoulli family (z in {0, 1}^d, uniform prior,
dropped as a constant) has |N log sigmoid(u . z)| <= N log(1 + e^{R_x sqrt(d)}) = Mp. The box a bounds |mu_j| (or
the logits |phi_j|). docs/derivations.md, "Black-box VI as a spec".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from .. import symbols as S
from ..spec import VAESpec
from .bbvi import (bbvi_bernoulli_smoothness, bbvi_bernoulli_variance, bbvi_pointwise, bbvi_score_pointwise,
                   bbvi_smoothness)
from .smoothness import minibatch_variance

REF = "docs/derivations.md#black-box-vi-as-a-spec"


def target_constants(spec: VAESpec) -> dict[sp.Symbol, sp.Expr]:
    """The target's constants (M0, M1, M2, Mp) and the box's (mu_max, logit_max = a), in the spec's symbols."""
    m = spec.model
    N = sp.Integer(m.n_observations)
    return {S.M0: N * sp.log(2), S.M1: N * S.R_x / 2, S.M2: N * S.R_x ** 2 / 4 + 1,
            S.Mp: N * sp.log(1 + sp.exp(S.R_x * sp.sqrt(m.latent_dim))), S.mu_max: S.a, S.logit_max: S.a}


def assumptions(spec: VAESpec) -> list[str]:
    family = ("q = N(mu, diag(exp(v))), |mu_j| <= a, logvar_min <= v_j <= logvar_max" if spec.model.family == "gaussian"
              else "q = product of Bernoulli(sigmoid(phi_j)), |phi_j| <= a")
    return [f"Bayesian logistic regression on N = {spec.model.n_observations} rows, ||y_i x_i|| <= R_x, prior N(0, I)",
            family, "mini-batch of B rows drawn uniformly, K draws of z per row"]


def _subs(expr: sp.Expr, spec: VAESpec) -> sp.Expr:
    return sp.sympify(expr).subs(target_constants(spec))


def logistic_smoothness(spec: VAESpec, estimator: str) -> dict[str, sp.Expr]:
    """L of the ELBO over the compact set, as named terms. Both representations of the Gaussian family's Hessian
    bound the same objective's, so the score estimator's L is the smaller of the two."""
    d = spec.model.latent_dim
    if spec.model.family == "bernoulli":
        return {k: _subs(v, spec) for k, v in bbvi_bernoulli_smoothness(d, estimator).terms.items()}
    pathwise = _subs(bbvi_smoothness(d, "pathwise").expr, spec)
    if estimator == "pathwise":
        return {"expected hessian": pathwise}
    return {"smoothness": sp.Min(_subs(bbvi_smoothness(d, "score").expr, spec), pathwise, evaluate=False)}


def logistic_gradient(spec: VAESpec, estimator: str):
    """The pointwise bound g(r) on one draw's gradient estimate (an `RPoly`, constant for the Bernoulli family)."""
    from ..rpoly import RPoly
    d = spec.model.latent_dim
    if spec.model.family == "bernoulli":
        return RPoly([_subs(sp.sqrt(bbvi_bernoulli_variance(d, estimator).expr * S.K), spec)])
    _, g = bbvi_pointwise(d) if estimator == "pathwise" else bbvi_score_pointwise(d)
    return RPoly([_subs(c, spec) for c in g.coeffs])


@dataclass(frozen=True)
class LogisticGradient:
    """The gradient bounds `bounds.derive` reads of a spec (a VAE's `Pointwise`): here only g(r)."""
    gradient: Any  # RPoly


def logistic_variance(spec: VAESpec, estimator: str) -> dict[str, sp.Expr]:
    """sigma^2 of the mini-batch estimator: `minibatch_variance` with the per-example gradient bound g."""
    g = logistic_gradient(spec, estimator)
    return minibatch_variance((g,), g * g, spec.model.latent_dim)


def logistic_gap(spec: VAESpec) -> sp.Expr:
    """sup - inf over the compact set and the data of the per-example objective E_q f_i (constants dropped as in
    training: log p(z) = -||z||^2/2, log q without its 2 pi; the Bernoulli family's uniform prior dropped).

    Gaussian: E_q N log sigmoid(u . z) lies in [-N (log 2 + R_x E||z||), 0] with E||z|| <= sqrt(d) (a + e^{logvar_max/2});
    E_q[-||z||^2/2] in [-d (a^2 + e^{logvar_max}) / 2, 0]; the entropy term d/2 + sum(v)/2 varies by d (vmax - vmin)/2.
    Bernoulli: the likelihood term lies in [-Mp, 0] and the entropy in [0, d log 2].
    """
    m, d = spec.model, spec.model.latent_dim
    N = sp.Integer(m.n_observations)
    if m.family == "bernoulli":
        return _subs(S.Mp, spec) + d * sp.log(2)
    Ez = sp.sqrt(d) * (S.a + sp.exp(S.logvar_max / 2))
    return (N * (sp.log(2) + S.R_x * Ez) + d * (S.a ** 2 + sp.exp(S.logvar_max)) / 2
            + d * (S.logvar_max - S.logvar_min) / 2)
