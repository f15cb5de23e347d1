"""The objective gap L_star = sup L - L(theta_0), certified from the spec: sup over the compact set and the data of
the per-example objective, minus its infimum there (so it bounds the gap from any start). Derivation:
docs/derivations.md, "The objective gap".

Every objective here lies between the beta-ELBO (beta = 1 for IWAE and VR-IWAE, which are above the ELBO by Jensen)
and max_z log p(x|z) (above log p(x), which is above each objective):
- log p(x|z) >= its lower bound: Gaussian -rho^2 / (2 c^2) - (d_x / 2) log(2 pi c^2), rho >= ||x - G|| the residual
  bound (R_x + ||G||, or less with the data's range, `residual.residual_bound`); Bernoulli on logits
  eta, -d_x log 2 - sqrt(d_x) ||eta||;
- KL(q(z|x) || p(z)) = (1/2) sum_j (mu_j^2 + e^{v_j} - 1 - v_j) <= (1/2) (||mu||^2 + d_z max(e^v - 1 - v)), ||mu||
  at most the mean head's bound, with the maximum at an end of [logvar_min, logvar_max] (the function is convex).
With ||G|| <= C_G(||eps||) the decoder's output bound (a polynomial in ||eps||), the expectation is exact.
"""
from __future__ import annotations

import math

import sympy as sp

from .. import symbols as S
from ..spec import VAESpec
from .linear import linear_norms
from .pieces import Pieces
from .residual import residual_bound


def objective_gap_bound(spec: VAESpec, pieces: Pieces) -> sp.Expr:
    """sup - inf of the per-example objective over the compact set and the data, as an expression in the spec's
    settings (a, R_x, c, the clips, beta, ...); `pieces`: the spec's pointwise bounds (`bounds.derive._pieces`)."""
    m = spec.model
    obj = spec.objective
    beta = S.beta if obj.kind in ("elbo", "beta") else sp.Integer(1)
    if m.kind == "linear":  # the mean V (x - b) is not clipped: ||mu|| <= omega_V (R_x + ||b||)
        q = linear_norms(spec)
        mu_sq = (q["omega_V"] * q["R"]) ** 2
    else:  # the mean head's bound: at most its clip's sqrt(d_z) mu_max (`pieces.vae_pieces`)
        mu_sq = pieces.R_z.coeffs[0] ** 2
    C_G = pieces.decoder_joint.H
    if m.kind == "bernoulli":
        likelihood = m.data_dim * sp.log(2) + sp.sqrt(m.data_dim) * C_G.expectation(m.latent_dim)
    else:
        residual = residual_bound(spec, C_G)
        likelihood = (residual * residual).expectation(m.latent_dim) / (2 * S.c ** 2)
    excess = sp.Max(*(sp.exp(v) - 1 - v for v in (S.logvar_min, S.logvar_max)))
    kl = (mu_sq + m.latent_dim * excess) / 2
    return likelihood + beta * kl


def objective_upper_bound(spec: VAESpec) -> float:
    """sup over all parameters of the per-example objective, for the `compare` check of L_star.

    Every VAE objective here (ELBO, beta-ELBO with beta >= 0, IWAE, VR-IWAE with alpha in [0, 1)) is <= log p(x) <=
    max_z log p(x | z): for the Gaussian decoder N(G(z), c^2 I) that is -(d/2) log(2 pi c^2); for the Bernoulli
    decoder with data in [0, 1] it is 0.
    """
    if spec.model.kind == "bernoulli":
        return 0.0
    if spec.model.kind == "logistic":  # log sigmoid <= 0 and -||z||^2/2 <= 0; the entropy (constants dropped as trained)
        m = spec.model                 # is at most d (1 + logvar_max) / 2, or d log 2 for the Bernoulli family
        return m.latent_dim * (math.log(2) if m.family == "bernoulli" else (1 + m.logvar_max) / 2)
    return -spec.model.data_dim / 2 * math.log(2 * math.pi * spec.model.decoder_std ** 2)
