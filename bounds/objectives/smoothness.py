"""Smoothness constants (L_P pathwise, L_S score function) and estimator variances of VAE objectives.

All pointwise bounds are polynomials in r = ||eps|| (`RPoly`); expectations over eps ~ N(0, I_{d_z})
are exact. Derivations: docs/derivations.md, "Deep Gaussian VAE", "IWAE", "Variance".
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .. import symbols as S
from ..rpoly import RPoly
from .pieces import Pieces


@dataclass(frozen=True)
class Pointwise:
    """Pointwise bounds at a single eps: the Hessian's two parts, gradient norm g(r) of the per-sample objective, and
    a bound on the squared gradient norm tighter than g(r)^2 (the blocks' squares add).

    hess l = R - N: R the second-derivative terms (norm <= `second_derivatives`), N the Gauss-Newton terms (positive
    semi-definite, norm <= `gauss_newton`); their sum bounds the Hessian's norm, h(r)."""

    second_derivatives: RPoly
    gauss_newton: RPoly
    gradient: RPoly
    gradient_sq: RPoly
    gradient_blocks: tuple[RPoly, RPoly]  # bounds on the (theta, phi) blocks' norms, each below g(r)

    @property
    def hessian(self) -> RPoly:
        """h(r) >= ||hess l||."""
        return self.second_derivatives + self.gauss_newton


def pathwise_pointwise(p: Pieces, beta: sp.Expr = S.beta) -> Pointwise:
    """l(theta, phi; x, eps) = log p(x|z) + beta [log p(z) - log q(z|x)], z = mu + sigma * eps.

    With -log q(z|x) = sum(logvar)/2 + const(eps) at the reparameterised point:
      ||hess l|| <= A1 S_G + A2 J2_G + beta (Jz^2 + R_z Sz + sqrt(d_z)/2 S_lv)
      ||grad l|| <= A1 J_G + beta (R_z Jz + sqrt(d_z)/2 J_lv)
    By blocks: ||grad_theta l|| <= A1 J_theta (the decoder at fixed z) and
    ||grad_phi l|| <= A1 lip_G Jz + beta (R_z Jz + sqrt(d_z)/2 J_lv), whose squares add. In the gradient terms A1 is
    `Pieces.A1g` (a sigmoid output's per-entry residual weight, where the data's range gives it), A1 lip_G is
    `Pieces.z_gradient` and A1 J_theta `Pieces.theta_gradient` (the residual and a tanh decoder's slope bounded
    together, where that applies).
    """
    G = p.decoder_joint
    half_sqrt_d = sp.sqrt(p.d_z) / 2
    second_derivatives = p.A1 * G.S + beta * (p.R_z * p.Sz + half_sqrt_d * p.S_lv)
    gauss_newton = p.A2 * G.J2 + beta * p.Jz * p.Jz
    prior_and_entropy = beta * (p.R_z * p.Jz + half_sqrt_d * p.J_lv)
    gradient = p.A1g * G.J + prior_and_entropy
    encoder = p.z_gradient * p.Jz + prior_and_entropy
    return Pointwise(second_derivatives, gauss_newton, gradient,
                     p.theta_gradient_sq + encoder * encoder, (p.theta_gradient, encoder))


def pathwise_expected_hessian(p: Pieces, beta: sp.Expr = S.beta) -> sp.Expr:
    """A bound on ||E_eps hess l||: `pathwise_pointwise`'s Hessian with the expectation over eps taken before the
    supremum over directions for its Gauss-Newton terms and, for the residual bound A1's constant part (all of it
    where A1 does not depend on eps), for the decoder's and the prior's second-derivative terms
    (`Pieces.decoder_S_mean`, `Pieces.prior_curvature_mean`).

    The likelihood's -J_G^T (-hess_G log p) J_G and the prior's -beta Jz^T Jz are negative semi-definite, with
    ||-hess_G log p|| <= A2 (a number), and sup_v E||J_G v||^2 <= E[J2_theta] + lip_G^2 sup_u E||dz u||^2
    (Cauchy-Schwarz over the decoder's and the encoder's blocks), where E_eps ||dz u||^2 has no cross term:
    E[eps] = 0. The remaining terms are bounded pointwise, as in `pathwise_pointwise`.
    """
    G, d_z = p.decoder_joint, p.d_z
    # The prior's <z, d^2 z_u> for one direction u: its expectation over eps comes before the supremum over u.
    prior = (p.R_z * p.Sz).expectation(d_z) if p.prior_curvature_mean is None else p.prior_curvature_mean
    entropy = (sp.sqrt(d_z) / 2 * p.S_lv).expectation(d_z)
    Jz2 = p.expected_Jz2()
    gauss_newton = p.A2 * (p.decoder_theta.J2.expectation(d_z) + G.lipschitz**2 * Jz2) + beta * Jz2
    return expected_likelihood_curvature(p) + beta * (prior + entropy) + gauss_newton


def expected_likelihood_curvature(p: Pieces) -> sp.Expr:
    """A bound on sup_u E_eps |<grad_G log p, d^2 G_u>|, the likelihood's second-derivative term for one direction u
    with the expectation over eps before the supremum over u where the pieces allow it (`Pieces`).

    Where A1 grows with ||eps|| (an unbounded decoder output), A1 = a_0 + (A1 - a_0): the constant a_0 takes the
    expectation first, E[a_0 ||d^2 G_u||] = a_0 E||d^2 G_u||, and the rest stays pointwise, E[(A1 - a_0) S_G]. Its
    terms a_j r^j take the expectation first too, under the measure r^j dP (`Pieces.decoder_S_weighted`). A sigmoid
    output with the data's range weighs each output entry on its own, and a tanh layer before an identity output
    bounds its slope and curvature with the residual (`Pieces.likelihood_curvature`). Each bounds the term's absolute
    value pointwise before the expectation, so each bounds E|.|, not only |E .|."""
    G, d_z = p.decoder_joint, p.d_z
    if p.likelihood_curvature is not None:
        return p.likelihood_curvature
    if p.decoder_S_mean is not None:
        return p.A1.coeffs[0] * p.decoder_S_mean.expectation(d_z) + sp.Add(*(
            a_j * (RPoly([0] * j + [1]) * S_j).expectation(d_z)
            for j, (a_j, S_j) in enumerate(zip(p.A1.coeffs[1:], p.decoder_S_weighted), start=1)))
    return (p.A1 * G.S).expectation(d_z)


def expected_second_derivatives(p: Pieces, beta: sp.Expr = S.beta) -> sp.Expr:
    """A bound on sup_u E_eps |u^T R u|, R the per-draw Hessian's second-derivative terms (`Pointwise`): the
    likelihood's with the expectation first (`expected_likelihood_curvature`), the prior's beta E[R_z Sz] and the
    entropy's beta E[sqrt(d_z)/2 S_lv] pointwise (the prior's exact mean, `Pieces.prior_curvature_mean`, bounds
    |E .| only)."""
    d_z = p.d_z
    return expected_likelihood_curvature(p) + beta * ((p.R_z * p.Sz).expectation(d_z)
                                                     + (sp.sqrt(d_z) / 2 * p.S_lv).expectation(d_z))


@dataclass(frozen=True)
class ScoreBlocks:
    """Pointwise bounds for the score-function representation, by parameter block."""

    theta_theta: RPoly
    theta_phi: RPoly
    phi_phi: RPoly
    gradient: RPoly
    gradient_sq: RPoly   # the theta and phi blocks' squares added
    gradient_blocks: tuple[RPoly, RPoly]


def score_pointwise(p: Pieces, beta: sp.Expr = S.beta) -> ScoreBlocks:
    """Hessian blocks of E_q[f_phi(z)], f = log p(x|z) + beta (log p(z) - log q_phi(z|x)), via the score s.

    hess_theta = E[hess_theta log p(x|z)];  cross = E[grad_theta log p(x|z) s^T];
    hess_phi = E[f (hess_phi log q + s s^T)] - beta E[s s^T].
    In eps-coordinates: ||grad_u log q|| <= r/sigma_min + (r^2 + sqrt(d_z))/2 and
    ||hess_u log q|| <= 1/sigma_min^2 + r/sigma_min + r^2/2, u = (mu, logvar).
    """
    r = RPoly([0, 1])
    inv = 1 / p.sigma_min
    score_u = inv * r + (r * r + sp.sqrt(p.d_z)) * sp.Rational(1, 2)
    hess_u = inv**2 + inv * r + r * r * sp.Rational(1, 2)
    s_norm = p.J_E * score_u
    hess_logq = p.J_E * p.J_E * hess_u + p.S_E * score_u
    f_abs = p.log_lik + beta * (p.R_z * p.R_z * sp.Rational(1, 2) + r * r * sp.Rational(1, 2)
                                + sp.Rational(p.d_z, 2) * p.logvar_absmax)
    grad_theta = p.theta_gradient
    grad_phi = (f_abs + beta) * s_norm
    return ScoreBlocks(
        theta_theta=p.theta_curvature,
        theta_phi=grad_theta * s_norm,
        phi_phi=f_abs * (hess_logq + s_norm * s_norm) + beta * s_norm * s_norm,
        # The trained estimator's encoder block is (f - beta) s: grad_phi of f at fixed z adds -beta s.
        gradient=grad_theta + grad_phi,
        gradient_sq=p.theta_gradient_sq + grad_phi * grad_phi,
        gradient_blocks=(grad_theta, grad_phi),
    )


def block_norm(a: sp.Expr, c: sp.Expr, d: sp.Expr) -> sp.Expr:
    """Top eigenvalue of [[a, c], [c, d]]: bounds ||[[A, C], [C^T, D]]|| given ||A|| <= a, ||C|| <= c, ||D|| <= d."""
    return (a + d + sp.sqrt((a - d) ** 2 + 4 * c**2)) / 2


def expected_max(Y: RPoly, dim: int, K: sp.Expr = S.K) -> sp.Expr:
    """E max_{l<=K} Y(r_l) over iid r_l ~ chi(dim): mu + sd (K - 1) / sqrt(2K - 1) (Hartley-David-Gumbel)."""
    mean = Y.expectation(dim)
    sd = sp.sqrt((Y * Y).expectation(dim) - mean**2)
    return mean + sd * (K - 1) / sp.sqrt(2 * K - 1)


def minibatch_variance(blocks: tuple[RPoly, ...], g_sq: RPoly, dim: int, B: sp.Expr = S.B,
                       K: sp.Expr = S.K) -> dict[str, sp.Expr]:
    """E||ghat - grad L||^2 <= ((1 - 1/K) min(sum_b (E g_b)^2, E[g_sq]) + E[g_sq] / K) / B for B data points, each
    averaging K draws, as the terms 'data' and 'noise' (g_b bounds the per-sample gradient's block b, g_sq its squared norm).

    One point's variance is Var_x(grad L_x) + E_x Var_eps / K. With Var_eps = E_eps||grad l||^2 - ||grad L_x||^2
    it equals (1 - 1/K) E_x||grad L_x||^2 + E||grad l||^2 / K - ||grad L||^2: the data term enters with weight
    1 - 1/K (none at K = 1, where the variance is at most the second moment). E_x||grad L_x||^2 is at most
    sum_b (E g_b)^2 (||grad L_x||^2 = sum_b ||E grad_b l||^2) and at most E||grad l||^2 <= E g_sq (Jensen), so the
    smaller of the two bounds it, and the bound never grows with K.
    """
    noise = g_sq.expectation(dim)
    data = sp.Min(sp.Add(*(block.expectation(dim) ** 2 for block in blocks)), noise, evaluate=False)
    return {"data": (1 - 1 / K) * data / B, "noise": noise / (B * K)}


def iwae_variance(g_sq: RPoly, dim: int, B: sp.Expr = S.B, K: sp.Expr = S.K) -> sp.Expr:
    """The IWAE estimator sum_l w~_l grad l_l has norm <= max_l g(r_l): variance <= E max_l g_sq / B."""
    return expected_max(g_sq, dim, K) / B
