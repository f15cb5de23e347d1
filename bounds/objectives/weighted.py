"""The importance-weighted objectives' smoothness (IWAE, VR-IWAE): the self-normalised weights' covariance of the
per-draw gradients, and how it combines with the draws' own Hessians.

Per draw of K, the Hessian of (1/(1 - alpha)) log (1/K) sum_l w_l^{1 - alpha} is
sum_l wt_l hess l_l + (1 - alpha) Cov_wt(grad l_l). Derivation: docs/derivations.md, "IWAE" and "VR-IWAE".
"""
from __future__ import annotations

import sympy as sp

from .. import symbols as S
from ..networks import least
from ..rpoly import RPoly, chi_moment
from .pieces import Pieces
from .smoothness import Pointwise, expected_max, expected_second_derivatives


def weighted_Jz2(p: Pieces, j: int) -> sp.Expr:
    """A bound on sup_u E[r^j ||dz_u||^2], uniform over unit encoder directions u.

    dz_u = a + b o eps, so E[r^j ||dz_u||^2] = E[r^j] (||a||^2 + (1 + j/d_z) ||b||^2) (E[r^j eps_i] = 0 and
    E[r^j eps_i^2] = E[r^(j+2)] / d_z = (1 + j/d_z) E[r^j]): at most (1 + j/d_z) E[r^j] Jz2_mean; and at most
    E[r^j Jz(r)^2] from the pointwise bound. The smaller of the two."""
    pointwise = (RPoly([0] * j + [1]) * p.Jz * p.Jz).expectation(p.d_z)
    if p.Jz2_mean is None:
        return pointwise
    gram = (1 + sp.Rational(j, p.d_z)) * chi_moment(j, p.d_z) * p.Jz2_mean
    return sp.Min(pointwise, gram, evaluate=False)


def centred_slope(p: Pieces, beta: sp.Expr = S.beta) -> RPoly:
    """a(r) >= ||grad_z log p(x|z) - beta z||: the likelihood's gradient in z (`Pieces.z_gradient`), plus the prior's
    beta R_z. The centred encoder gradient is <this gradient, dz_u>."""
    return p.z_gradient + beta * p.R_z


def prior_fluctuation(p: Pieces) -> sp.Expr | None:
    """A bound on sup_u E_eps (<z, dz_u> - E_eps <z, dz_u>)^2 / Jz2_mean: the prior's part of the encoder gradient
    about its own mean (None where Jz2_mean is not a number).

    With z = mu + sigma o eps and dz_u = a + b o eps, <z, dz_u> - <mu, a> - sum_j sigma_j b_j is
    <mu o b + sigma o a, eps> + sum_j sigma_j b_j (eps_j^2 - 1), two uncorrelated parts, so its second moment is
    ||mu o b + sigma o a||^2 + 2 sum_j sigma_j^2 b_j^2 <= (M ||b|| + s ||a||)^2 + 2 s^2 ||b||^2 with M >= max_j |mu_j|
    (the clip mu_max, or ||mu|| where smaller) and s = sigma_max: at most the top eigenvalue of
    [[s^2, M s], [M s, M^2 + 2 s^2]] times ||a||^2 + ||b||^2 <= Jz2_mean."""
    if p.Jz2_mean is None:
        return None
    M, s = least(S.mu_max, p.R_z.coeffs[0]), p.sigma_max
    trace = M**2 + 3 * s**2
    return (trace + sp.sqrt(trace**2 - 8 * s**4)) / 2


def centred_gradient_second_moment(p: Pieces, beta: sp.Expr = S.beta) -> sp.Expr:
    """A bound on sup_u min_c E_eps (u . grad l - c)^2 over constants c (which drop out of any covariance across
    draws): for u = (u_theta, u_phi) with norms t_theta^2 + t_phi^2 = 1, |u_theta . grad_theta l| <= t_theta A1 J_theta
    and, by Cauchy-Schwarz over (t_theta, t_phi), the square is at most A1^2 J2_theta (in expectation) plus the encoder
    block's `encoder_variance`."""
    return p.theta_gradient_sq.expectation(p.d_z) + encoder_variance(p, beta)


def encoder_variance(p: Pieces, beta: sp.Expr = S.beta) -> sp.Expr:
    """A bound on sup_u min_c E_eps (u . grad_phi l - c)^2 over unit encoder directions u: the smaller of two.

    1. c = u . the entropy term's gradient beta grad (sum_j v_j / 2), which does not depend on eps:
       |u . (grad_phi l - c)| = |<grad_z log p(x|z) - beta z, dz_u>| <= a(r) ||dz_u|| with a = `centred_slope`, and the
       expectation over eps comes before the supremum over u: E[a(r)^2 ||dz_u||^2] = sum_j alpha_j E[r^j ||dz_u||^2]
       (alpha_j >= 0, the coefficients of a^2), each at most `weighted_Jz2`.
    2. c also takes the prior's part at its mean, beta E<z, dz_u>: the block is then the likelihood's
       <grad_z log p, dz_u> (second moment at most sum_j alpha_j `weighted_Jz2` with alpha from `Pieces.z_gradient`^2)
       plus the prior's fluctuation (`prior_fluctuation`), and by Minkowski's inequality its second moment is at most
       the square of the sum of their roots."""
    encoder = _weighted_square(p, centred_slope(p, beta))
    fluctuation = prior_fluctuation(p)
    if fluctuation is not None:
        likelihood = _weighted_square(p, p.z_gradient)
        centred = (sp.sqrt(likelihood) + beta * sp.sqrt(fluctuation * p.Jz2_mean)) ** 2
        encoder = sp.Min(encoder, centred, evaluate=False)
    return encoder


def _weighted_square(p: Pieces, slope: RPoly) -> sp.Expr:
    """sup_u E[slope(r)^2 ||dz_u||^2] <= sum_j alpha_j `weighted_Jz2`(j), alpha_j >= 0 the coefficients of slope^2."""
    return sp.Add(*(alpha * weighted_Jz2(p, j) for j, alpha in enumerate((slope * slope).coeffs) if alpha != 0))


def weight_covariance(p: Pieces, beta: sp.Expr = S.beta, K: sp.Expr = S.K) -> sp.Expr:
    """A bound on ||E_eps Cov_wt(grad l_l)|| over K draws: the smaller of two.

    1. Cov_wt(g) <= sum_l wt_l (g_l - c)(g_l - c)^T for any c the same for every draw, whose norm is at most
       max_l ||g_l - c||^2: E max_l of the centred g_sq (Hartley-David-Gumbel, c the entropy's gradient).
    2. For a direction u and y_l = u . g_l, u^T Cov_wt(g) u is the variance of y under the weights, at most
       (max y - min y)^2 / 4 (Popoviciu) whatever the weights. The range is at most sqrt(2/K) times the root of
       sum_{l<m} (y_l - y_m)^2 = K sum_l (y_l - ybar)^2 (ybar the draws' plain mean: the other draws' pairs with the
       two ends add at least K - 2 halves of the range's square). So Cov_wt(g) <= (1/2) sum_l (g_l - gbar)(g_l - gbar)^T
       in the Loewner order (an equality at K = 2 with equal weights), whose expectation is (K - 1)/2 times the
       covariance of one draw's gradient; along u that is at most the second moment of u . g about any constant:
       the norm is at most ((K - 1)/2) sup_u min_c E (u . g - c)^2 (`centred_gradient_second_moment`), the
       expectation over eps before the supremum over directions. (The first version centred every draw at the
       entropy's gradient and paid K/2.)
    """
    d_z = p.d_z
    encoder = centred_slope(p, beta) * p.Jz
    centred_sq = p.theta_gradient_sq + encoder * encoder
    return sp.Min(expected_max(centred_sq, d_z, K), (K - 1) / 2 * centred_gradient_second_moment(p, beta),
                  evaluate=False)


def weighted_smoothness_terms(p: Pieces, pw: Pointwise, covariance_weight: sp.Expr,
                              beta: sp.Expr = S.beta) -> dict[str, sp.Expr]:
    """L_P of IWAE (covariance_weight 1) or VR-IWAE (1 - alpha) as named terms.

    Per draw, hess = sum_l wt_l (R_l - N_l) + w Cov_wt(g) with R_l the draws' second-derivative terms
    (||R_l|| <= `Pointwise.second_derivatives`), N_l their Gauss-Newton terms (positive semi-definite, norm at most
    `Pointwise.gauss_newton`) and the covariance positive semi-definite. So the top eigenvalue of E hess is at most
    E||sum wt R|| + w ||E Cov|| and the bottom one at least -E||sum wt R|| - E||sum wt N||: the norm is at most
    E max_l R(r_l) + max(w ||E Cov||, E max_l N(r_l)), where the first version added all three.
    """
    d_z = p.d_z
    # E||sum_l wt_l R_l|| <= sup_u E max_l |u^T R_l u| <= K sup_u E|u^T R u| (the weights sum to 1, the draws are
    # alike): the expectation before the supremum at the price of K, or Hartley-David-Gumbel on the pointwise bound.
    second = sp.Min(expected_max(pw.second_derivatives, d_z), S.K * expected_second_derivatives(p, beta),
                    evaluate=False)
    return {"weighted second derivatives": second,
            "weight covariance or gauss-newton": sp.Max(covariance_weight * weight_covariance(p, beta),
                                                        expected_max(pw.gauss_newton, d_z), evaluate=False)}
