"""The objective's Hessian with one of its two derivatives moved onto the sampling density q(z|x): for the ELBO
(K = 1) and the importance-weighted objectives (IWAE, VR-IWAE), a second route to L_P in which neither the decoder's
curvature in z nor the weights' covariance of the encoder's gradients appears.

Along psi + t u the derivative is E_eps G, G = sum_l wt_l y_l (the ELBO: K = 1, G = y); read at fixed z (the draws
z_l ~ q_t), d/dt E G = E[dG/dt at fixed z] + E[G S], S the draws' summed score of q. Derivation: docs/derivations.md,
"IWAE", "One derivative on the density".
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .. import symbols as S
from .pieces import Pieces
from .smoothness import block_norm, expected_max
from .weighted import centred_slope, encoder_variance


@dataclass(frozen=True)
class OneScoreParts:
    """The pieces of `one_score_smoothness`: bounds on the fixed-z derivative's blocks (theta_theta, theta_phi, the
    latter the coefficient of t_theta t_phi, and phi_phi, each on E max_l over the draws) and on the standard
    deviations of one draw's y_theta, y_phi and score s along unit directions."""

    theta_theta: sp.Expr
    theta_phi: sp.Expr
    phi_phi: sp.Expr
    sd_theta: sp.Expr
    sd_phi: sp.Expr
    sd_score: sp.Expr

    def fixed_z(self) -> sp.Expr:
        """sup over unit (t_theta, t_phi) of the fixed-z part's quadratic form."""
        return block_norm(self.theta_theta, self.theta_phi / 2, self.phi_phi)


def one_score_parts(p: Pieces, beta: sp.Expr = S.beta, K: sp.Expr = S.K) -> OneScoreParts | None:
    """`OneScoreParts` from the pieces (None where they lack the score's or the decoder's mixed bounds).

    At fixed z, dy_l/dt holds no curvature of the decoder in z: u_theta's second derivative of log p(x|z)
    (`Pieces.theta_curvature`), the (theta, z) block of log p's Hessian on (u_theta, dz_u) (`Pieces.theta_z_curvature`
    times Jz) and <grad_z log p - beta z, d^2 z_u - (dlv_u / 2) o dz_u> (`centred_slope` times Sz + J_lv Jz / 2; the
    derivative of dz_u = dmu_u + (dlv_u / 2) o (z - mu) at fixed z) plus the entropy's beta sum_j d^2 lv_u,j / 2."""
    if p.score_sq_mean is None or p.theta_z_curvature is None:
        return None
    d_z = p.d_z
    moved = p.Sz + p.J_lv * p.Jz * sp.Rational(1, 2)
    return OneScoreParts(
        theta_theta=expected_max(p.theta_curvature, d_z, K),
        theta_phi=expected_max(p.theta_z_curvature * p.Jz, d_z, K),
        phi_phi=expected_max(centred_slope(p, beta) * moved + beta * sp.sqrt(d_z) / 2 * p.S_lv, d_z, K),
        sd_theta=sp.sqrt(p.theta_gradient_sq.expectation(d_z)),
        sd_phi=sp.sqrt(encoder_variance(p, beta)),
        sd_score=sp.sqrt(p.score_sq_mean))


def one_score_smoothness(p: Pieces, covariance_weight: sp.Expr, beta: sp.Expr = S.beta,
                         K: sp.Expr = S.K) -> sp.Expr | None:
    """A bound on ||E_eps hess|| of the objective with one of its two derivatives moved onto the sampling density
    (None where `one_score_parts` is): the importance-weighted objectives with covariance weight 1 (IWAE) or
    1 - alpha (VR-IWAE), the ELBO with K = 1 (one draw, no weights: covariance weight 0).

    Along a path t -> psi + t u, the objective's derivative is E_eps G, G = sum_l wt_l y_l with y_l = u . grad l_l.
    Written at fixed z (the draws z_l ~ q_t), its derivative is E[dG/dt at fixed z] + E[G S], S = sum_l s_l with s_l
    the score of q(z_l|x) along u (`latent.latent_bounds`). At fixed z the log-weights move by y_theta,l - beta s_l,
    so dG/dt = sum_l wt_l dy_l/dt + w Cov_wt(y_theta - beta s, y) (w the covariance weight). With u's parts of norms
    t_theta, t_phi:
    - sum_l wt_l dy_l/dt <= max_l, bounded block by block (`one_score_parts`);
    - E |Cov_wt(a, b)| <= sqrt(E Cov_wt(a) E Cov_wt(b)) <= ((K - 1)/2) sd(a) sd(b) (`weighted.weight_covariance`'s
      lemma), with sd(y_theta - beta s) <= t_theta sd_theta + beta t_phi sd_score and
      sd(y) <= t_theta sd_theta + t_phi sd_phi;
    - E[G S] = E[(G - c) S] <= sqrt(K Var y) sqrt(K Var s) (E S = 0, (G - c)^2 <= sum_l (y_l - c)^2).
    Each is a quadratic form in (t_theta, t_phi) with nonnegative entries: its supremum is the top eigenvalue of the
    2x2 matrix (`block_norm`). Derivation: docs/derivations.md, "IWAE", "One derivative on the density"."""
    parts = one_score_parts(p, beta, K)
    if parts is None:
        return None
    c, sd_theta, sd_phi, sd_s = covariance_weight * (K - 1) / 2, parts.sd_theta, parts.sd_phi, parts.sd_score
    m11 = parts.theta_theta + c * sd_theta**2
    m22 = parts.phi_phi + (c * beta + K) * sd_s * sd_phi
    m12 = (parts.theta_phi + c * sd_theta * (sd_phi + beta * sd_s) + K * sd_s * sd_theta) / 2
    return block_norm(m11, m12, m22)
