"""The Gaussian decoder's residual r = (x - G(z)) / c^2 (docs/derivations.md, "Deep Gaussian VAE"): a bound on its
norm, R_x + ||G|| or, with a sigmoid output and the data's coordinate range, sqrt(d_x) max(hi, 1 - lo); and its
weight in the likelihood's gradient terms, where each entry's |sigmoid'(a_i) r_i| is bounded on its own."""
from __future__ import annotations

import numpy as np
import sympy as sp

from .. import symbols as S
from ..activations import constants
from ..networks import Layer, ValueChoice, capped, least, mlp_bounds
from ..rpoly import RPoly
from ..spec import ActivationSpec, VAESpec


def residual_bound(spec: VAESpec, C_G: RPoly) -> RPoly:
    """A bound on the Gaussian decoder's residual ||x - G(z)||: R_x + C_G, and where the spec gives the data's
    coordinate range [lo, hi] and the decoder's output is a sigmoid (each G_i in (0, 1)), also
    sqrt(d_x) max(hi, 1 - lo), since |x_i - G_i| <= max(hi - 0, 1 - lo); the smaller (`networks.capped`)."""
    m = spec.model
    residual = C_G + S.R_x
    if m.kind != "gaussian" or m.data_range is None or m.decoder_output != "sigmoid":
        return residual
    low, high = (sp.nsimplify(v, rational=True) for v in m.data_range)
    return capped(residual, sp.sqrt(m.data_dim) * sp.Max(high, 1 - low))


def sigmoid_residual_weight(low: float, high: float) -> float:
    """max |x - s| s (1 - s) over s in (0, 1) and x in [low, high]: each cubic's maximum over [0, 1] at its critical
    points or the ends, rounded up by 1e-9 relative."""
    best = 0.0
    for sign, x in ((1.0, low), (-1.0, high)):  # (s - low) and (high - s): the larger of |x - s| at the range's ends
        cubic = np.polymul([sign, -sign * x], [-1.0, 1.0, 0.0])  # sign (s - x) * s (1 - s)
        points = [0.0, 1.0] + [r.real for r in np.roots(np.polyder(cubic)) if abs(r.imag) < 1e-12 and 0 < r.real < 1]
        best = max(best, max(abs(np.polyval(cubic, t)) for t in points))
    return best * (1 + 1e-9)


def sigmoid_curvature_weight(low: float, high: float) -> float:
    """max |x - s| s (1 - s) |1 - 2 s| over s in (0, 1) and x in [low, high] (|sigmoid''(a)| = s (1 - s) |1 - 2 s|):
    each quartic's largest absolute value over [0, 1] at its critical points or the ends, rounded up by 1e-9."""
    best = 0.0
    for x in (low, high):  # |x - s| is largest at an end of the range
        quartic = np.polymul(np.polymul([1.0, -x], [-1.0, 1.0, 0.0]), [-2.0, 1.0])  # (s - x) s (1 - s) (1 - 2 s)
        points = [0.0, 1.0] + [r.real for r in np.roots(np.polyder(quartic)) if abs(r.imag) < 1e-12 and 0 < r.real < 1]
        best = max(best, max(abs(np.polyval(quartic, t)) for t in points))
    return best * (1 + 1e-9)


def likelihood_curvature_weights(spec: VAESpec) -> tuple[sp.Expr, sp.Expr] | None:
    """With a sigmoid output G = sigmoid(a) and the data's range, the likelihood's second-derivative term for one
    direction u is sum_i r_i (sigmoid''(a_i) da_i^2 + sigmoid'(a_i) d^2 a_i), r = (x - G) / c^2, and each entry's
    weight is bounded on its own: the result is at most w2 ||da_u||^2 + w1 ||d^2 a_u||, with w2 = kappa2 / c^2
    (`sigmoid_curvature_weight`) and w1 = sqrt(d_x) kappa / c^2 (`sigmoid_residual_weight`; Cauchy-Schwarz over the
    entries). None where they do not apply (docs/derivations.md, "Deep Gaussian VAE")."""
    m = spec.model
    if m.kind != "gaussian" or m.data_range is None or m.decoder_output != "sigmoid":
        return None
    kappa2 = sp.Float(sigmoid_curvature_weight(*m.data_range), 17)
    kappa = sp.Float(sigmoid_residual_weight(*m.data_range), 17)
    return kappa2 / S.c**2, sp.sqrt(m.data_dim) * kappa / S.c**2


def gradient_residual(spec: VAESpec, A1: RPoly) -> RPoly:
    """The residual's weight in the likelihood's gradient terms. With a sigmoid output G = sigmoid(a) the gradient
    is J_a^T (sigmoid'(a) * r), r = (x - G) / c^2, and each entry |sigmoid'(a_i) r_i| <= kappa / c^2 with
    kappa = `sigmoid_residual_weight` of the data's range: so ||J_G^T r|| <= J_G sqrt(d_x) kappa / (c^2 / 4), J_G
    carrying the sigmoid's Lipschitz constant 1/4 as a factor. The smaller of that and A1 (docs/derivations.md,
    "Deep Gaussian VAE")."""
    m = spec.model
    if m.kind != "gaussian" or m.data_range is None or m.decoder_output != "sigmoid":
        return A1
    kappa = sp.Float(sigmoid_residual_weight(*m.data_range), 17)
    lipschitz = constants(ActivationSpec(name="sigmoid"), symbolic=False).lipschitz  # 1/4, a factor of J_G
    return capped(A1, sp.sqrt(m.data_dim) * kappa / (lipschitz * S.c**2))


def tanh_output_weight(spec: VAESpec, decoder: list[Layer], R_z: RPoly) -> sp.Expr | None:
    """For a Gaussian decoder with an identity output after a tanh hidden layer, under the entry-wise box: a bound F on
    ||diag(v) W^T r|| / c^2 over every state of that layer, for v = 1 - t^2 (the slope) and for v = tanh''(p) =
    -2 t (1 - t^2), with t its output, W (d_x x m) the output weight and r = x - W t - b the residual. The residual is
    largest where the units saturate, and there both vanish. None where it does not apply.

    ||diag(v) W^T r|| <= sqrt(d_x) a ||v|| ||r|| (each column of W has norm <= sqrt(d_x) a). With q_i = t_i^2 in
    [0, 1], (1 - q)^2 <= 1 - q and 4 q (1 - q)^2 <= 1 - q (as 4 q (1 - q) <= 1), so ||v||^2 <= m - rho^2 for both,
    rho = ||t||, and ||r|| <= R_x + ||b|| + ||W|| rho. g(rho) = sqrt(m - rho^2) (C + w rho) rises up to its maximiser
    rho* = (sqrt(C^2 + 8 w^2 m) - C) / (4 w) (the root of 2 w rho^2 + C rho - w m) and falls after it, and rho <= T,
    the layer's value bound: F = sqrt(d_x) a g(min(rho*, T)) / c^2 (docs/derivations.md, "Deep Gaussian VAE")."""
    m = spec.model
    if (m.kind != "gaussian" or m.decoder_output != "identity" or m.architecture != "mlp" or not m.decoder_widths
            or m.activation.name != "tanh" or spec.weight_bound.kind != "entrywise"):
        return None
    hidden_H, output = mlp_bounds(decoder[:-1], R_z).H, decoder[-1]
    width = m.decoder_widths[-1]
    C, w = S.R_x + output.bias, output.omega
    rho_star = (sp.sqrt(C**2 + 8 * w**2 * width) - C) / (4 * w)
    rho = sp.Min(rho_star, hidden_H.coeffs[0], evaluate=False) if hidden_H.degree == 0 else rho_star
    return sp.sqrt(m.data_dim) * S.a * sp.sqrt(width - rho**2) * (C + w * rho) / S.c**2


def tanh_z_gradient(decoder: list[Layer], R_z: RPoly, weight: sp.Expr | None) -> sp.Expr | None:
    """A bound on sup ||grad_z log p(x|z)|| from the coupled weight F of `tanh_output_weight` (None where it does not
    apply): grad_z log p = J_p^T diag(1 - t^2) W^T r / c^2 with p the last hidden layer's pre-activation, ||J_p|| at
    most the decoder's Lipschitz constant up to p, so the bound is that constant times F."""
    if weight is None:
        return None
    hidden = decoder[:-1]
    return mlp_bounds(hidden, R_z).lipschitz / hidden[-1].act.lipschitz * weight


def tanh_theta_gradient(decoder: list[Layer], R_z: RPoly, A1: RPoly, weight: sp.Expr | None,
                        choice: ValueChoice | None = None) -> tuple[RPoly, RPoly] | None:
    """Bounds (norm, square) on ||grad_theta log p(x|z)|| at fixed z for the decoder of `tanh_output_weight`, the
    layers below the output taking the coupled weight F in place of A1 ||W|| L1 (None where F does not apply, or where
    A1 depends on eps).

    The output layer's block is r [t; 1]^T / c^2, of norm at most A1 ||[t; 1]||. The layers below reach the likelihood
    through the tanh layer's pre-activation p: their block is J_p^T diag(1 - t^2) W^T r / c^2, of norm at most
    ||J_p|| F' with F' = min(F, A1 ||W|| L1) and ||J_p|| the recursion's bound on p's Jacobian in its own parameters.
    The blocks' squares add; the norm is the root of their sum where that is a number, else the sum of the two."""
    if weight is None or A1.degree > 0:
        return None
    *rest, output = decoder
    hidden = mlp_bounds(rest, R_z, value_choice=choice)
    a0, L1 = A1.coeffs[0], rest[-1].act.lipschitz
    coupled = least(weight, a0 * output.omega * L1)
    square = output.augmented_sq(hidden.H) * a0**2 + hidden.J2 * (coupled / L1) ** 2
    if square.degree == 0:
        return RPoly([sp.sqrt(square.coeffs[0])]), square
    return output.augmented_norm(hidden.H) * a0 + hidden.J * (coupled / L1), square
