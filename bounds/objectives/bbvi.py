"""Black-box variational inference: one posterior p(z | x) proportional to p(x, z), z in R^d, fitted by
q_phi = N(mu, diag(exp(v))) with phi = (mu, v) in the compact set |mu_j| <= mu_max, v in [logvar_min, logvar_max].

Target assumptions (symbols): ||hess_z log p(x, z)|| <= M2, ||grad_z log p(x, 0)|| <= M1, |log p(x, 0)| <= M0, so
||grad_z log p(x, z)|| <= M1 + M2 ||z|| and |log p(x, z)| <= M0 + M1 ||z|| + M2 ||z||^2 / 2. (A Bayesian logistic
regression with prior N(0, s0^2 I) and design X has M2 = 1/s0^2 + ||X||^2/4.) The derivations only use bounds on
the reparameterisation's derivatives (Jz, Sz) and on the score; docs/derivations.md, "Black-box VI".

Beyond location-scale: binary latents z in {0, 1}^d with the product-Bernoulli family q_phi(z) = prod_j
sigmoid(phi_j)^{z_j} (1 - sigmoid(phi_j))^{1 - z_j}, |phi_j| <= logit_max. It has no reparameterisation, so only the
score-function route applies; the target assumption is |log p(x, z)| <= Mp on {0, 1}^d.
"""
from __future__ import annotations

import sympy as sp

from .. import symbols as S
from ..bound import Bound
from ..rpoly import RPoly

M0, M1, M2, Mp, logit_max = S.M0, S.M1, S.M2, S.Mp, S.logit_max  # the target's constants (bounds.registry)
ASSUMPTIONS = ("||hess_z log p(x, z)|| <= M2, ||grad_z log p(x, 0)|| <= M1, |log p(x, 0)| <= M0",
               "variational parameters: |mu_j| <= mu_max, logvar_min <= v_j <= logvar_max")


def _common(dim: int):
    r = RPoly([0, 1])
    sigma_max, sigma_min = sp.exp(S.logvar_max / 2), sp.exp(S.logvar_min / 2)
    R_z = sp.sqrt(dim) * S.mu_max + sigma_max * r
    return r, sigma_min, sigma_max, R_z


def bbvi_pointwise(dim: int) -> tuple[RPoly, RPoly]:
    """Pathwise: l = log p(x, mu + sigma eps) + sum(v)/2 + const; (Hessian, gradient) bounds in r = ||eps||."""
    r, _, sigma_max, R_z = _common(dim)
    Jz = RPoly([1]) + sigma_max / 2 * r
    Sz = sigma_max / 4 * r
    grad_target = M1 + M2 * R_z
    return M2 * Jz * Jz + grad_target * Sz, grad_target * Jz + sp.sqrt(dim) / 2


def bbvi_score_pointwise(dim: int) -> tuple[RPoly, RPoly]:
    """Score function: hess E_q f = E[f (hess log q + s s^T)] - E[s s^T], f = log p(x, z) - log q(z); (Hessian, gradient)."""
    r, sigma_min, _, R_z = _common(dim)
    inv = 1 / sigma_min
    score = inv * r + (r * r + sp.sqrt(dim)) * sp.Rational(1, 2)
    hess_logq = inv**2 + inv * r + r * r * sp.Rational(1, 2)
    f_abs = (M0 + M1 * R_z + M2 / 2 * R_z * R_z + r * r * sp.Rational(1, 2)
             + sp.Rational(dim, 2) * (sp.Max(sp.Abs(S.logvar_min), sp.Abs(S.logvar_max)) + sp.log(2 * sp.pi)))
    # The trained estimator is f s + grad_phi f = (f - 1) s (f holds -log q): its norm is at most (|f| + 1) ||s||.
    return f_abs * (hess_logq + score * score) + score * score, (f_abs + 1) * score


def bbvi_smoothness(dim: int, estimator: str = "pathwise") -> Bound:
    """L_P or L_S of the ELBO E_q[log p(x, z) - log q(z)] over the compact variational set."""
    hess, _ = bbvi_pointwise(dim) if estimator == "pathwise" else bbvi_score_pointwise(dim)
    name = "L_P" if estimator == "pathwise" else "L_S"
    return Bound(name, {"expected hessian": hess.expectation(dim)}, "derived", "docs/derivations.md#black-box-vi",
                 ASSUMPTIONS, description=f"black-box VI, mean-field Gaussian family, {estimator} route")


def bbvi_variance(dim: int, estimator: str = "pathwise") -> Bound:
    """E||ghat - grad L||^2 <= E[g^2] / K for K draws (one posterior: no data term)."""
    _, g = bbvi_pointwise(dim) if estimator == "pathwise" else bbvi_score_pointwise(dim)
    return Bound("sigma2", {"noise": (g * g).expectation(dim) / S.K}, "derived", "docs/derivations.md#black-box-vi",
                 ASSUMPTIONS, description=f"black-box VI, {estimator} estimator, K draws")


BERNOULLI_ASSUMPTIONS = ("latents z in {0, 1}^d, |log p(x, z)| <= Mp for every z",
                         "variational logits: |phi_j| <= logit_max (product-Bernoulli family)")


def _bernoulli_constants(dim: int, estimator: str) -> tuple[sp.Expr, sp.Expr]:
    """(sup |f|, sup ||s||^2) for f = log p(x, z) - log q(z) and the score s = z - sigmoid(phi)."""
    if estimator != "score":
        raise ValueError(f"estimator={estimator!r} is invalid for the product-Bernoulli family: it has no "
                         "reparameterisation, so only estimator='score' applies")
    p_max = 1 / (1 + sp.exp(-logit_max))  # the largest probability a coordinate can give
    return Mp + dim * sp.log(1 + sp.exp(logit_max)), dim * p_max**2


def bbvi_bernoulli_smoothness(dim: int, estimator: str = "score") -> Bound:
    """L_S of E_q[log p(x, z) - log q(z)] for the product-Bernoulli family (beyond location-scale).

    hess = E[f (hess log q + s s^T)] - E[s s^T], hess log q = -Diag(sigma (1 - sigma)) (norm <= 1/4), s s^T PSD with
    norm ||s||^2, so ||hess log q + s s^T|| <= max(1/4, sup ||s||^2) and ||E s s^T|| <= 1/4.
    """
    f_max, s2_max = _bernoulli_constants(dim, estimator)
    return Bound("L_S", {"score curvature": f_max * sp.Max(sp.Rational(1, 4), s2_max), "fisher": sp.Rational(1, 4)},
                 "derived", "docs/derivations.md#black-box-vi-beyond-location-scale", BERNOULLI_ASSUMPTIONS,
                 description="black-box VI, product-Bernoulli family, score-function route")


def bbvi_bernoulli_variance(dim: int, estimator: str = "score") -> Bound:
    """E||ghat - grad L||^2 <= (sup |f| + 1)^2 sup ||s||^2 / K for the trained estimator (1/K) sum_k (f(z_k) - 1) s(z_k)
    (f s plus grad_phi f = -s: `empirical.estimators`)."""
    f_max, s2_max = _bernoulli_constants(dim, estimator)
    return Bound("sigma2", {"noise": (f_max + 1)**2 * s2_max / S.K}, "derived",
                 "docs/derivations.md#black-box-vi-beyond-location-scale", BERNOULLI_ASSUMPTIONS,
                 description="black-box VI, product-Bernoulli family, score-function estimator, K draws")
