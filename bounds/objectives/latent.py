"""The reparameterised latent z = mu + sigma o eps, sigma = exp(logvar / 2), from the encoder's two heads: its norm R_z,
Jacobian Jz and second derivative Sz as polynomials in r = ||eps||, and, for one direction u with the expectation over
eps taken first, E||dz_u||^2 <= Jz2_mean, E||d^2 z_u|| <= Sz_mean and |E<z, d^2 z_u>| <= prior_mean.
Derivations: docs/derivations.md, "Deep Gaussian VAE" and "Pathwise (L_P)".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sympy as sp

from .. import symbols as S
from ..activations import softclip_scale_slope, softclip_value
from ..networks import Layer, NetworkBounds, second_derivative_parts
from ..rpoly import RPoly

if TYPE_CHECKING:
    from .pieces import NetworkLayers


@dataclass(frozen=True)
class LatentBounds:
    sigma_min: sp.Expr
    sigma_max: sp.Expr
    logvar_absmax: sp.Expr
    R_z: RPoly
    Jz: RPoly
    Sz: RPoly
    Jz2_mean: sp.Expr              # sup_u E_eps ||dz_u||^2
    Sz_mean: sp.Expr | None        # sup_u E_eps ||d^2 z_u|| (its root mean square); None where the heads' bounds
    prior_mean: sp.Expr | None     # sup_u |E_eps <z, d^2 z_u>|                      depend on eps
    score_sq_mean: sp.Expr         # sup_u E_eps s_u^2, s_u = d/dt log q(z|x) at fixed z (below)


def heads_in_mean_square(mean_J2: sp.Expr, logvar_pre_J2: sp.Expr, logvar_gain: sp.Expr, mean_head: Layer,
                         logvar_head: Layer, hidden_J: sp.Expr, mean_gain: sp.Expr = 1) -> sp.Expr:
    """sup_u ||dmu_u||^2 + ||(sigma/2) o dlv_u||^2 over unit directions u, where |sigma_j f'(pre_j)| / 2 <= logvar_gain
    turns the log-variance head's pre-activation derivatives dpre_u into (sigma/2) o dlv_u. The bounds
    ||dmu_u|| <= v . t and logvar_gain ||dpre_u|| <= w . t, t = (t_mu, t_lv, t_below) the norms of u's parts in the mean
    head's rows, the log-variance head's rows and the layers below, give the top eigenvalue of the Gram matrix of v and
    w: |v|^2 = mean_J2, |w|^2 = logvar_gain^2 logvar_pre_J2, v . w = logvar_gain L1 omega omega' J_below^2 (only the
    layers below are shared). mean_gain scales the mean head's part, v, the same way."""
    A, C = mean_gain**2 * mean_J2, logvar_gain**2 * logvar_pre_J2
    B = mean_gain * logvar_gain * mean_head.act.lipschitz * mean_head.omega * logvar_head.omega * hidden_J**2
    return (A + C + sp.sqrt((A - C) ** 2 + 4 * B**2)) / 2


def logvar_range(head: Layer, hidden_H: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """Where the log-variances lie on the data ball: each one reads one row of the head, so its pre-activation has
    |pre_j| <= ||row|| ||h|| + ||b|| <= P, and the soft-clip is increasing, so logvar_j lies in [f(-P), f(P)], inside
    (logvar_min, logvar_max) and far inside it where the head's weights are small (docs/derivations.md, "Deep
    Gaussian VAE")."""
    P = head.row_norm * hidden_H + head.bias
    clip = lambda x: softclip_value(x, S.head_s, S.logvar_min, S.logvar_max)
    return clip(-P), clip(P)


def latent_bounds(net: NetworkLayers, hidden: NetworkBounds, mean: NetworkBounds, logvar: NetworkBounds,
                  d_z: int) -> LatentBounds:
    """z's bounds from the spec's layers (net), the hidden layers' network bounds and the heads' (mean, logvar).

    dz = dmu + (sigma / 2) eps o dlv and d^2 z = d^2 mu + eps o w, w = (sigma / 2) d^2 lv + (sigma / 4) dlv^2.
    ||mu|| <= mean.H, the smaller of the clip's sqrt(d_z) mu_max and the head's affine bound.

    The score of q(z|x) along u at fixed z is s_u = <eps, dmu_u / sigma> + sum_j (eps_j^2 - 1) dlv_u,j / 2 (the
    derivative of -||z - mu||^2 / (2 sigma^2) - sum_j log sigma_j), whose two parts are uncorrelated:
    E s_u^2 = ||dmu_u / sigma||^2 + ||dlv_u||^2 / 2 <= ||dmu_u||^2 / sigma_min^2 + (L1^2 / 2) ||dpre_u||^2, the Gram
    bound of `heads_in_mean_square` with gains 1 / sigma_min and L1 / sqrt(2).
    """
    head = net.logvar_head
    logvar_low, logvar_high = logvar_range(head, hidden.H.coeffs[0])
    sigma_max, sigma_min = sp.exp(logvar_high / 2), sp.exp(logvar_low / 2)
    r = RPoly([0, 1])
    R_z = mean.H + sigma_max * r
    # (sigma_j / 2) dlv_j = (sigma_j f'(pre_j) / 2) dpre_j, and sigma f' peaks below sigma_max L1: where f' is
    # largest the log-variance is far from its top (`softclip_scale_slope`).
    slope = head.act.lipschitz
    gain = sp.Min(sigma_max * slope, softclip_scale_slope(S.head_s, S.logvar_max), evaluate=False) / 2
    Jz = mean.J + gain * r * (logvar.J * (1 / slope))
    # E_eps ||dz_u||^2 = ||dmu_u||^2 + ||(sigma / 2) o dlv_u||^2 (E eps = 0), its supremum over unit u a 2x2 Gram
    # matrix's top eigenvalue: the heads' rows are disjoint and share only the layers below.
    Jz2_mean = heads_in_mean_square(mean.J2.coeffs[0], logvar.J2.coeffs[0] / slope**2, gain, net.mean_head, head,
                                    hidden.J.coeffs[0])
    # Coordinate by coordinate, with d^2 lv = f'' dpre^2 + f' d^2 pre and dlv = f' dpre:
    # |w_j| <= (sigma_max L2 / 2 + gain L1 / 2) dpre_j^2 + gain |d^2 pre_j|, so ||w|| <= that with ||dpre||_4^2 <= Q and
    # ||d^2 pre|| <= X of the head's layer; the first version's (sigma_max / 2) S_lv + (sigma_max / 4) J2_lv also
    # holds, and the smaller is kept.
    _, Q, X = second_derivative_parts(head, hidden.H, hidden.J, hidden.J2, hidden.S)
    by_parts = (sigma_max * head.act.smoothness / 2 + gain * slope / 2) * Q.coeffs[0] + gain * X.coeffs[0]
    W = sp.Min(by_parts, sigma_max / 2 * logvar.S.coeffs[0] + sigma_max / 4 * logvar.J2.coeffs[0], evaluate=False)
    Sz = mean.S + W * r
    # For one u: E||d^2 z_u|| <= sqrt(E||d^2 z_u||^2) = sqrt(||d^2 mu_u||^2 + ||w||^2) (E eps = 0), and
    # E<z, d^2 z_u> = <mu, d^2 mu_u> + sum_j sigma_j^2 (d^2 lv_j / 2 + dlv_j^2 / 4).
    const = lambda poly: poly.coeffs[0] if poly.degree == 0 else None  # the encoder's bounds do not depend on eps
    S_mu, S_lv, J2_lv, H_mu = const(mean.S), const(logvar.S), const(logvar.J2), const(mean.H)
    Sz_mean = prior_mean = None
    if None not in (S_mu, S_lv, J2_lv, H_mu):
        Sz_mean = sp.sqrt(S_mu**2 + W**2)
        prior_mean = H_mu * S_mu + sigma_max**2 * (sp.sqrt(d_z) / 2 * S_lv + J2_lv / 4)
    logvar_absmax = sp.Max(sp.Abs(logvar_low), sp.Abs(logvar_high), evaluate=False)
    score_sq_mean = heads_in_mean_square(mean.J2.coeffs[0], logvar.J2.coeffs[0] / slope**2, slope / sp.sqrt(2),
                                         net.mean_head, head, hidden.J.coeffs[0], mean_gain=1 / sigma_min)
    return LatentBounds(sigma_min, sigma_max, logvar_absmax, R_z, Jz, Sz, Jz2_mean, Sz_mean, prior_mean,
                        score_sq_mean)
