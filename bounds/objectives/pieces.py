"""Pointwise bounds on the parts of a VAE's per-sample objective, as polynomials in r = ||eps||.

`vae_pieces(spec)` collects, for the deep Gaussian and Bernoulli-decoder VAEs:
- the encoder u = (mu, logvar): its parameter Jacobian J_E and second derivative S_E, and the log-variance head's
  own J_lv, S_lv (the two heads are separate rows of the last layer: their weight blocks are disjoint);
- the reparameterised latent z = mu + exp(logvar/2) * eps: ||z|| <= R_z, Jacobian Jz, second derivative Sz;
- the decoder output G (mean, or logits): value bound, Jacobian and second derivative, both with respect
  to (theta, phi) jointly through z (pathwise) and to theta alone at fixed z (score function);
- the likelihood's constants: |d log p / dG| <= A1, ||d^2 log p / dG^2|| <= A2, |log p| <= `log_lik`.
Derivations: docs/derivations.md, "Deep Gaussian VAE".
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .. import symbols as S
from ..activations import ActivationConstants, constants, softclip_constants
from ..networks import (Layer, NetworkBounds, ValueChoice, capped, least, mixed_second_derivative, mlp_bounds,
                        second_derivative_parts)
from ..registry import SETTINGS
from ..rpoly import RPoly
from ..spec import ActivationSpec, VAESpec
from .latent import LatentBounds, latent_bounds
from .residual import (gradient_residual, likelihood_curvature_weights, residual_bound, tanh_output_weight,
                       tanh_theta_gradient, tanh_z_gradient)


@dataclass(frozen=True)
class Pieces:
    d_x: int
    d_z: int
    J_E: RPoly
    S_E: RPoly
    sigma_min: sp.Expr
    sigma_max: sp.Expr
    logvar_absmax: sp.Expr
    R_z: RPoly
    Jz: RPoly
    Sz: RPoly
    decoder_joint: NetworkBounds    # through z: pathwise
    decoder_theta: NetworkBounds    # at fixed z: score function
    A1: RPoly                       # ||grad_G log p(x|z)||
    A2: sp.Expr                     # ||hess_G log p(x|z)||
    log_lik: RPoly                  # |log p(x|z)|
    statuses: tuple[str, ...]       # statuses of the activations used
    J_lv: RPoly = RPoly([1])         # the log-variance head's Jacobian (free log-variances: 1)
    S_lv: RPoly = RPoly([0])         # and its second derivative
    Jz2_mean: sp.Expr | None = None  # sup_u E_eps ||dz u||^2 (eps's cross terms vanish); None: E[Jz^2]
    # For one direction u, the expectation over eps taken first ("Expectations over eps"): a bound on
    # E_eps ||d^2 G_u|| (the decoder's second derivative through z) and on |E_eps <z, d^2 z_u>| (the prior's).
    decoder_S_mean: RPoly | None = None
    prior_curvature_mean: sp.Expr | None = None
    # The residual's weight in the gradient terms A1 J_G (`gradient_residual`); None: A1.
    A1_gradient: RPoly | None = None
    # For A1's terms a_j r^j, j >= 1 (an unbounded decoder output): S_j with E[r^j ||d^2 G_u||] <= E[r^j S_j(r)], the
    # decoder's recursion fed the r^j-weighted moments of dz_u and d^2 z_u (`weighted_decoder_S`).
    decoder_S_weighted: tuple[RPoly, ...] = ()
    # A sigmoid output with the data's range: the likelihood's whole second-derivative term in expectation, each
    # output entry's residual weight bounded on its own (`likelihood_curvature_mean`); or a tanh layer before an
    # identity output, its slope and curvature bounded with the residual (`tanh_likelihood_curvature_mean`);
    # None: A1 E||d^2 G_u||.
    likelihood_curvature: sp.Expr | None = None
    # A bound on ||grad_z log p(x|z)|| tighter than A1g lip_G where the residual and the decoder's slope are bounded
    # together (`residual.tanh_z_gradient`); None: A1g lip_G.
    z_gradient_coupled: sp.Expr | None = None
    # Bounds (norm, square) on ||grad_theta log p(x|z)|| at fixed z tighter than A1g J_theta where a tanh decoder's
    # lower layers take the coupled weight (`residual.tanh_theta_gradient`); None: A1g J_theta and A1g^2 J2_theta.
    theta_gradient_coupled: tuple[RPoly, RPoly] | None = None
    # sup_u E_eps s_u^2, s_u the score of q(z|x) along u at fixed z (`latent.latent_bounds`); None: not derived.
    score_sq_mean: sp.Expr | None = None
    # A bound on |u^T hess_(theta, z) log p(x|G(theta, z)) v| for unit u in theta and v in z, the decoder's input
    # free: A2 J_theta lip_G + A1 M with M the decoder's mixed second derivative (`networks.mixed_second_derivative`).
    theta_z_curvature: RPoly | None = None

    @property
    def A1g(self) -> RPoly:
        return self.A1 if self.A1_gradient is None else self.A1_gradient

    @property
    def z_gradient(self) -> RPoly:
        """||grad_z log p(x|z)|| <= this: A1g lip_G, or the coupled bound where it applies, the smaller."""
        product = self.A1g * self.decoder_joint.lipschitz
        return product if self.z_gradient_coupled is None else capped(product, self.z_gradient_coupled)

    @property
    def theta_gradient(self) -> RPoly:
        """||grad_theta log p(x|z)|| at fixed z <= this: A1g J_theta, or the coupled bound where it applies."""
        if self.theta_gradient_coupled is None:
            return self.A1g * self.decoder_theta.J
        return self.theta_gradient_coupled[0]

    @property
    def theta_gradient_sq(self) -> RPoly:
        """||grad_theta log p(x|z)||^2 at fixed z <= this: A1g^2 J2_theta, or the coupled bound where it applies."""
        if self.theta_gradient_coupled is None:
            return self.A1g * self.A1g * self.decoder_theta.J2
        return self.theta_gradient_coupled[1]

    @property
    def theta_curvature(self) -> RPoly:
        """||hess_theta log p(x|z)|| at fixed z <= this: A1 S_theta + A2 J2_theta (the decoder at fixed z)."""
        return self.A1 * self.decoder_theta.S + self.A2 * self.decoder_theta.J2

    def expected_Jz2(self) -> sp.Expr:
        return (self.Jz * self.Jz).expectation(self.d_z) if self.Jz2_mean is None else self.Jz2_mean


def weight_norms(spec: VAESpec, rows: dict[int, int] | None = None) -> list[tuple[sp.Expr, sp.Expr]]:
    """(omega_l, b_l) for every layer of `spec.layer_shapes`: operator-norm bound and bias-norm bound.

    Entry-wise bound a: ||W||_2 <= ||W||_F <= sqrt(m m') a and ||b|| <= sqrt(m) a. Spectral or Frobenius
    per-layer bounds: symbols omega_i, b_i (a Frobenius bound is also a spectral bound, and a bound for any block of
    rows). rows: layer index -> the number of its rows taken (a head's block of the last encoder layer).
    """
    rows = rows or {}
    out = []
    for i, (_, (m_out, m_in)) in enumerate(spec.layer_shapes):
        if spec.weight_bound.kind == "entrywise":
            m = rows.get(i, m_out)
            out.append((sp.sqrt(m * m_in) * S.a, sp.sqrt(m) * S.a))
        else:
            out.append((S.layer_norm_symbol(i), S.bias_norm_symbol(i)))
    return out


# Kernel 4, stride 2, padding 1 (the paper's image nets): each input entry is read by ceil(4/2)^2 = 4 output
# positions of a convolution, and a transposed convolution reads each of its inputs at 16 output positions, 4 per
# parity class of the output (docs/derivations.md, "Convolutions").
CONV_INPUT_GAIN = 2


def conv_geometry(spec: VAESpec) -> dict[str, tuple[int, float]]:
    """name -> (output positions, operator-norm factor) of each conv and transposed-conv layer of the spec.

    The factor turns the layer's weight-matrix bound (`weight_norms`: the (out, in * 16) matrix of the flat layout)
    into a bound on the operator norm of the map on images: 2 for a convolution (||A(W) h||^2 sums ||W patch||^2
    over positions, and each input entry lies in 4 patches); for a transposed convolution 2 under the entry-wise box
    (Schur's test: rows read 4 C_in entries, columns feed 16 C_out) and under a Frobenius bound (its 4 parity classes
    use disjoint column blocks of W), 4 under a spectral bound on W."""
    m = spec.model
    if m.architecture != "conv":
        return {}
    C, H, W = m.image_shape
    out: dict[str, tuple[int, float]] = {}
    for i in range(len(m.conv_channels)):
        out[f"encoder.conv{i}"] = (H * W // 4 ** (i + 1), CONV_INPUT_GAIN)
    transposed = 4 if spec.weight_bound.kind == "spectral" else CONV_INPUT_GAIN
    grid = m.conv_grid[0] * m.conv_grid[1]
    for j in range(len(m.conv_channels)):
        out[f"decoder.deconv{j}"] = (grid * 4 ** (j + 1), transposed)
    return out


def row_norms(spec: VAESpec) -> list[sp.Expr | None]:
    """A bound on the norm of any one row of each layer's weight: sqrt(m') a under the entry-wise bound, else None
    (the layer's own norm bound serves)."""
    if spec.weight_bound.kind != "entrywise":
        return [None] * len(spec.layer_shapes)
    return [sp.sqrt(m_in) * S.a for _, (_, m_in) in spec.layer_shapes]


def head_constants() -> tuple[ActivationConstants, ActivationConstants]:
    """Constants of the encoder's soft-clipped mean and log-variance heads."""
    return (softclip_constants(S.head_s, -S.mu_max, S.mu_max),
            softclip_constants(S.head_s, S.logvar_min, S.logvar_max))


def worse_of(first: ActivationConstants, second: ActivationConstants) -> ActivationConstants:
    """Constants valid for both activations."""
    return ActivationConstants(f"{first.name}|{second.name}", sp.Max(first.value_bound, second.value_bound),
                               sp.Max(first.at_zero, second.at_zero), sp.Max(first.lipschitz, second.lipschitz),
                               sp.Max(first.smoothness, second.smoothness), "derived",
                               sp.Max(first.slope_curvature, second.slope_curvature))


@dataclass(frozen=True)
class NetworkLayers:
    """The layers of a deep VAE: the encoder's hidden layers, its two heads (each d_z rows of the last encoder
    layer, with disjoint weights), and the decoder's layers (hidden, then the output)."""

    encoder: list[Layer]
    mean_head: Layer
    logvar_head: Layer
    heads: Layer        # the two heads as one layer, with the worse head's constants
    decoder: list[Layer]


def _layer(name: str, m_out: int, m_in: int, omega: sp.Expr, bias: sp.Expr, act: ActivationConstants,
           row: sp.Expr | None, geometry: dict[str, tuple[int, float]]) -> Layer:
    """A dense layer, or a (transposed) convolution whose widths count entries (channels x positions)."""
    if name not in geometry:
        return Layer(m_out, m_in, omega, bias, act, row)
    positions, factor = geometry[name]
    channels_in = m_in // 16
    positions_in = positions * 4 if name.startswith("encoder") else positions // 4  # stride 2 halves each side
    return Layer(m_out * positions, channels_in * positions_in, factor * omega, sp.sqrt(positions) * bias, act, row,
                 input_gain=CONV_INPUT_GAIN, positions=positions)


def network_layers(spec: VAESpec, allow_outside_theory: bool = False) -> NetworkLayers:
    m = spec.model
    hidden = constants(m.activation, allow_outside_theory=allow_outside_theory)
    out_name = "identity" if m.kind == "bernoulli" else m.decoder_output
    output = constants(ActivationSpec(name=out_name), symbolic=False)
    n_enc = m.n_encoder_layers
    norms, whole_norms = weight_norms(spec, rows={n_enc - 1: m.latent_dim}), weight_norms(spec)
    shapes, geometry = spec.layer_shapes, conv_geometry(spec)
    encoder, decoder, heads = [], [], []
    for i, ((name, (m_out, m_in)), (omega, bias), row) in enumerate(zip(shapes, norms, row_norms(spec))):
        if i < n_enc - 1:
            encoder.append(_layer(name, m_out, m_in, omega, bias, hidden, row, geometry))
        elif i == n_enc - 1:
            heads = [Layer(m.latent_dim, m_in, omega, bias, act, row) for act in head_constants()]
            whole, whole_bias = whole_norms[i]
            heads.append(Layer(m_out, m_in, whole, whole_bias, worse_of(*head_constants()), row))
        else:
            act = output if i == len(shapes) - 1 else hidden
            decoder.append(_layer(name, m_out, m_in, omega, bias, act, row, geometry))
    return NetworkLayers(encoder, *heads, decoder)


def value_choice(spec: VAESpec) -> ValueChoice:
    """For a bounded layer whose input bound depends on ||eps|| (the decoder's, through z): the cap, or the capped
    affine bound (`networks.capped`), whichever has the smaller mean square at the spec's own settings. Both bound
    the layer's output for every setting, so the bound stays valid wherever it is evaluated; only which one is
    tighter is decided at the spec (a soft-clip to (0, 50) has a cap of 50 sqrt(m), far above the affine bound of a
    small box; a sigmoid's cap sqrt(m) is usually below it)."""
    values: dict[str, float] = {}
    for setting in SETTINGS:
        value = setting.read(spec) if setting.path else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values[setting.name] = float(value)
    for i, (w, b) in enumerate(zip(spec.weight_bound.layer_norms, spec.weight_bound.bias_norms)):
        values[S.layer_norm_symbol(i).name], values[S.bias_norm_symbol(i).name] = w, b
    d_z = spec.model.latent_dim

    def number(expr: sp.Expr) -> float | None:
        expr = sp.sympify(expr)
        if any(sym.name not in values for sym in expr.free_symbols):
            return None
        return float(expr.xreplace({sym: values[sym.name] for sym in expr.free_symbols}))

    def choose(affine: RPoly, cap: sp.Expr) -> RPoly:
        poly = capped(affine, cap)
        poly_sq, cap_value = number((poly * poly).expectation(d_z)), number(cap)
        if poly_sq is None or cap_value is None or poly_sq >= cap_value**2:
            return RPoly([cap])
        return poly
    return choose


def vae_pieces(spec: VAESpec, allow_outside_theory: bool = False) -> Pieces:
    m = spec.model
    if m.kind == "linear":
        raise ValueError("model='linear' has its own closed-form bounds: use bounds.objectives.linear")
    d_x, d_z = m.data_dim, m.latent_dim
    net = network_layers(spec, allow_outside_theory)
    hidden = mlp_bounds(net.encoder, S.R_x)
    mean, logvar = (mlp_bounds([head], hidden.H, hidden.J, hidden.S) for head in (net.mean_head, net.logvar_head))
    # u = (mu, logvar) as one layer: the heads' disjoint weight blocks share the unit direction, which the heads'
    # root-sum-of-squares would count twice.
    both = mlp_bounds([net.heads], hidden.H, hidden.J, hidden.S)
    J_E, S_E = both.J, both.S
    z = latent_bounds(net, hidden, mean, logvar, d_z)
    R_z, Jz, Sz, sigma_max = z.R_z, z.Jz, z.Sz, z.sigma_max
    choice = value_choice(spec)
    joint = mlp_bounds(net.decoder, R_z, Jz, Sz, choice)
    theta = mlp_bounds(net.decoder, R_z, value_choice=choice)
    # One direction u, the expectation over eps first (`latent.LatentBounds`): the decoder's recursion is a sum of
    # terms each linear in E||dz_u||^2, E||dz_u|| or E||d^2 z_u|| (or a concave function of them, bounded by Jensen),
    # so it carries them through.
    decoder_S_mean = None
    if z.Sz_mean is not None:
        decoder_S_mean = weighted_decoder_S(net, z, choice, 0, d_z)
    if m.kind == "gaussian":
        residual = residual_bound(spec, joint.H)
        A1 = residual * (1 / S.c**2)
        A2 = 1 / S.c**2
        log_lik = residual * residual * (1 / (2 * S.c**2)) + sp.Rational(d_x, 2) * sp.Abs(sp.log(2 * sp.pi * S.c**2))
    else:  # Bernoulli decoder on logits eta: d/deta = x - sigmoid(eta), d^2/deta^2 = -sigmoid'(eta)
        A1 = RPoly([sp.sqrt(d_x)])
        A2 = sp.Rational(1, 4)
        log_lik = d_x * sp.log(2) + sp.sqrt(d_x) * joint.H
    statuses = tuple(sorted({layer.act.status for layer in net.encoder + net.decoder + [net.mean_head]}))
    # A sigmoid output's per-entry weights, or a tanh layer's coupled weight before an identity output (at most one
    # applies).
    output_weight = tanh_output_weight(spec, net.decoder, R_z)
    likelihood_curvature = likelihood_curvature_mean(spec, net, z, choice, A1, d_z)
    if likelihood_curvature is None:
        likelihood_curvature = tanh_likelihood_curvature_mean(output_weight, net, z, choice, A1, d_z)
    weighted = () if z.Sz_mean is None else tuple(weighted_decoder_S(net, z, choice, j, d_z)
                                                 for j in range(1, A1.degree + 1))
    # log p's (theta, z) block: A2 ||dG_theta|| ||dG_z|| + A1 ||d^2 G[dtheta, dz]|| (the route with one derivative on
    # the density)
    theta_z_curvature = A1 * mixed_second_derivative(net.decoder, R_z, choice) + A2 * joint.lipschitz * theta.J
    return Pieces(d_x, d_z, J_E, S_E, z.sigma_min, sigma_max, z.logvar_absmax,
                  R_z, Jz, Sz, joint, theta, A1, A2, log_lik, statuses, logvar.J, logvar.S, z.Jz2_mean, decoder_S_mean,
                  z.prior_mean, gradient_residual(spec, A1), decoder_S_weighted=weighted,
                  likelihood_curvature=likelihood_curvature,
                  z_gradient_coupled=tanh_z_gradient(net.decoder, R_z, output_weight),
                  theta_gradient_coupled=tanh_theta_gradient(net.decoder, R_z, A1, output_weight, choice),
                  score_sq_mean=z.score_sq_mean, theta_z_curvature=theta_z_curvature)


def likelihood_curvature_mean(spec: VAESpec, net: NetworkLayers, z: LatentBounds, choice: ValueChoice, A1: RPoly,
                              d_z: int) -> sp.Expr | None:
    """A bound on sup_u |E <r, d^2 G_u>| for a sigmoid output G = sigmoid(a) where the data's range is known: the
    decoder's recursion in expectation up to a, then its two parts sum_i r_i sigmoid''(a_i) da_i^2 and
    sum_i r_i sigmoid'(a_i) d^2 a_i, each at the smaller of its per-entry weight
    (`residual.likelihood_curvature_weights`: w2 ||da_u||^2, w1 ||d^2 a_u||) and A1 times the sigmoid's own
    constants (A1 (L2 ||da_u||_4^2 + L1 ||d^2 a_u||), the recursion's last layer). None where it does not apply (or
    where A1 depends on eps). The recursion up to a repeats `weighted_decoder_S`'s at j = 0 without its last layer."""
    weights = likelihood_curvature_weights(spec)
    if weights is None or z.Sz_mean is None or A1.degree > 0:
        return None
    (w2, w1), output = weights, net.decoder[-1]
    inner = mlp_bounds(net.decoder[:-1], z.R_z, sp.sqrt(z.Jz2_mean), z.Sz_mean, choice, J2_0=z.Jz2_mean,
                       expected=True)
    Jz2, Q, X = (part.expectation(d_z) for part in second_derivative_parts(output, inner.H, inner.J, inner.J2,
                                                                          inner.S))
    a0, act = A1.coeffs[0], output.act
    return least(w2 * Jz2, a0 * act.smoothness * Q) + least(w1, a0 * act.lipschitz) * X


def tanh_likelihood_curvature_mean(weight: sp.Expr | None, net: NetworkLayers, z: LatentBounds, choice: ValueChoice,
                                   A1: RPoly, d_z: int) -> sp.Expr | None:
    """A bound on sup_u |E <r, d^2 G_u>| for an identity output G = W t + b after a tanh layer t = tanh(p), from the
    coupled weight F of `residual.tanh_output_weight` (None where it does not apply, or where A1 depends on eps).

    d^2 G_u = 2 dW (s o dp) + W (tanh''(p) o dp o dp + s o d^2 p), s = 1 - t^2, so with u's parts in (W, b) and below
    of norms tau and varsigma: |<r, d^2 G_u>| <= 2 tau varsigma ||r|| ||dp|| + varsigma^2 (F ||dp||_4^2 + F ||d^2 p||),
    F the coupled weight of both ||diag(tanh'') W^T r|| and ||diag(s) W^T r|| (each also at most the product
    A1 ||W|| L2, A1 ||W|| L1 used before), ||r|| <= A1. The decoder's recursion in expectation over eps carries
    E||dp||^2, E||dp||_4^2 and E||d^2 p|| up to p, and the supremum over tau^2 + varsigma^2 = 1 is
    X / 2 + sqrt(Y^2 + X^2 / 4) with Y = A1 L1 sqrt(E||dp||^2) (||s o dp|| <= L1 ||dp||) and X the varsigma^2 term.
    The recursion up to p repeats `weighted_decoder_S`'s at j = 0 without its last two layers."""
    if weight is None or z.Sz_mean is None or A1.degree > 0:
        return None
    *below, hidden, output = net.decoder
    inner = mlp_bounds(below, z.R_z, sp.sqrt(z.Jz2_mean), z.Sz_mean, choice, J2_0=z.Jz2_mean, expected=True)
    Jz2, Q, X = (part.expectation(d_z) for part in second_derivative_parts(hidden, inner.H, inner.J, inner.J2,
                                                                          inner.S))
    a0, act = A1.coeffs[0], hidden.act
    omega = output.omega
    second = least(weight, a0 * omega * act.smoothness) * Q + least(weight, a0 * omega * act.lipschitz) * X
    slope = a0 * act.lipschitz * sp.sqrt(Jz2)
    return second / 2 + sp.sqrt(slope**2 + second**2 / 4)


def weighted_decoder_S(net: NetworkLayers, z: LatentBounds, choice: ValueChoice, j: int, d_z: int) -> RPoly:
    """S_j(r) with E[r^j ||d^2 G_u||] <= E[r^j S_j(r)] for one direction u (j = 0: E||d^2 G_u||).

    The decoder's recursion bounds ||d^2 G_u|| by a sum of functions of ||z|| and terms linear in ||dz_u||^2, ||dz_u||
    or ||d^2 z_u|| (concave ones by Jensen), so it holds under any probability measure on eps, here r^j dP / E r^j. With
    dz_u = a + b o eps and d^2 z_u = c + eps o w, E[r^j eps_i] = 0 and E[r^j eps_i^2] = E[r^(j+2)] / d_z
    = (1 + j/d_z) E[r^j] (chi moments), so under that measure E||dz_u||^2 <= (1 + j/d_z) Jz2_mean and
    E||d^2 z_u||^2 <= (1 + j/d_z) Sz_mean^2 (docs/derivations.md, "Pathwise (L_P)")."""
    inflate = 1 + sp.Rational(j, d_z)
    return mlp_bounds(net.decoder, z.R_z, sp.sqrt(inflate * z.Jz2_mean), sp.sqrt(inflate) * z.Sz_mean, choice,
                      J2_0=inflate * z.Jz2_mean, expected=True).S
