"""Pointwise bounds on the parts of a VAE's per-sample objective, as polynomials in r = ||eps||.

`vae_pieces(spec)` collects, for the deep Gaussian and Bernoulli-decoder VAEs:
- the encoder u = (mu, logvar): its parameter Jacobian J_E and second derivative S_E;
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
from ..networks import Layer, NetworkBounds, mlp_bounds
from ..rpoly import RPoly
from ..spec import ActivationSpec, VAESpec


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


def weight_norms(spec: VAESpec) -> list[tuple[sp.Expr, sp.Expr]]:
    """(omega_l, b_l) for every layer of `spec.layer_shapes`: operator-norm bound and bias-norm bound.

    Entry-wise bound a: ||W||_2 <= ||W||_F <= sqrt(m m') a and ||b|| <= sqrt(m) a. Spectral or Frobenius
    per-layer bounds: symbols omega_i, b_i (a Frobenius bound is also a spectral bound).
    """
    out = []
    for i, (_, (m_out, m_in)) in enumerate(spec.layer_shapes):
        if spec.weight_bound.kind == "entrywise":
            out.append((sp.sqrt(m_out * m_in) * S.a, sp.sqrt(m_out) * S.a))
        else:
            out.append((S.layer_norm_symbol(i), S.bias_norm_symbol(i)))
    return out


def head_constants() -> ActivationConstants:
    """Constants of the encoder's two soft-clipped heads, taken as one layer (the worse of the two)."""
    mean = softclip_constants(S.head_s, -S.mu_max, S.mu_max)
    logvar = softclip_constants(S.head_s, S.logvar_min, S.logvar_max)
    return ActivationConstants("softclip-heads", sp.Max(mean.value_bound, logvar.value_bound),
                               sp.Max(mean.at_zero, logvar.at_zero), sp.Max(mean.lipschitz, logvar.lipschitz),
                               S.head_s / 4, "derived")


def network_layers(spec: VAESpec, allow_outside_theory: bool = False) -> tuple[list[Layer], list[Layer]]:
    """Encoder layers (hidden, then the heads) and decoder layers (hidden, then the output)."""
    m = spec.model
    hidden = constants(m.activation, allow_outside_theory=allow_outside_theory)
    out_name = "identity" if m.kind == "bernoulli" else m.decoder_output
    output = constants(ActivationSpec(name=out_name), symbolic=False)
    norms = weight_norms(spec)
    shapes = spec.layer_shapes
    n_enc = len(m.encoder_widths) + 1
    encoder, decoder = [], []
    for i, ((name, (m_out, m_in)), (omega, bias)) in enumerate(zip(shapes, norms)):
        if i < n_enc:
            act = head_constants() if i == n_enc - 1 else hidden
            encoder.append(Layer(m_out, m_in, omega, bias, act))
        else:
            act = output if i == len(shapes) - 1 else hidden
            decoder.append(Layer(m_out, m_in, omega, bias, act))
    return encoder, decoder


def vae_pieces(spec: VAESpec, allow_outside_theory: bool = False) -> Pieces:
    m = spec.model
    if m.kind == "linear":
        raise ValueError("model='linear' has its own closed-form bounds: use bounds.objectives.linear")
    d_x, d_z = m.data_dim, m.latent_dim
    encoder, decoder = network_layers(spec, allow_outside_theory)
    enc = mlp_bounds(encoder, S.R_x)
    J_E, S_E = enc.J, enc.S
    sigma_max = sp.exp(S.logvar_max / 2)
    sigma_min = sp.exp(S.logvar_min / 2)
    r = RPoly([0, 1])
    half_sr = RPoly([1, sigma_max / 2])                      # 1 + sigma_max r / 2
    R_z = sp.sqrt(d_z) * S.mu_max + sigma_max * r
    Jz = half_sr * J_E
    Sz = half_sr * S_E + (sigma_max / 4) * r * J_E * J_E
    joint = mlp_bounds(decoder, R_z, Jz, Sz)
    theta = mlp_bounds(decoder, R_z)
    if m.kind == "gaussian":
        C_G = joint.H
        A1 = (C_G + S.R_x) * (1 / S.c**2)
        A2 = 1 / S.c**2
        log_lik = (C_G + S.R_x) * (C_G + S.R_x) * (1 / (2 * S.c**2)) + sp.Rational(d_x, 2) * sp.Abs(sp.log(2 * sp.pi * S.c**2))
    else:  # Bernoulli decoder on logits eta: d/deta = x - sigmoid(eta), d^2/deta^2 = -sigmoid'(eta)
        A1 = RPoly([sp.sqrt(d_x)])
        A2 = sp.Rational(1, 4)
        log_lik = d_x * sp.log(2) + sp.sqrt(d_x) * joint.H
    statuses = tuple(sorted({layer.act.status for layer in encoder + decoder}))
    return Pieces(d_x, d_z, J_E, S_E, sigma_min, sigma_max, sp.Max(sp.Abs(S.logvar_min), sp.Abs(S.logvar_max)),
                  R_z, Jz, Sz, joint, theta, A1, A2, log_lik, statuses)
