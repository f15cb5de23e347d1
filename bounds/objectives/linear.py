"""The linear VAE: p(x|z) = N(W z + b, c^2 I), q(z|x) = N(V (x - b), diag(exp(v))).

Its expected ELBO is closed form, so the smoothness constant comes from its explicit Hessian on the
compact set (the same for the pathwise and the score-function estimators: it is a property of the
objective). Derivation: docs/derivations.md, "Linear VAE".
"""
from __future__ import annotations

import sympy as sp

from .. import symbols as S
from ..networks import NetworkBounds
from ..rpoly import RPoly
from ..spec import VAESpec
from .pieces import Pieces, weight_norms


def linear_norms(spec: VAESpec) -> dict[str, sp.Expr]:
    """omega_V, omega_W (operator norms), omega_c (column norms of W), ||b|| and the bound on ||x - b||."""
    d_x = spec.model.data_dim
    (omega_V, _), (omega_W, b_norm) = weight_norms(spec)
    omega_c = sp.sqrt(d_x) * S.a if spec.weight_bound.kind == "entrywise" else omega_W
    return dict(omega_V=omega_V, omega_W=omega_W, omega_c=omega_c, b=b_norm, R=S.R_x + b_norm)


def linear_hessian_bound(spec: VAESpec, beta: sp.Expr = S.beta) -> dict[str, sp.Expr]:
    """Bound on ||hess_(W, b, V, v) L(x)|| over the compact set, by term of the ELBO.

    L = -(||e||^2 + tr(W D W^T)) / (2 c^2) - beta (tr D + ||V xt||^2 - d_z - sum v) / 2, e = xt - W V xt,
    xt = x - b, D = diag(exp(v)).
    """
    q = linear_norms(spec)
    wV, wW, wc, R = q["omega_V"], q["omega_W"], q["omega_c"], q["R"]
    D_max = sp.exp(S.logvar_max)
    J_e = sp.sqrt((1 + wW * wV) ** 2 + (wV * R) ** 2 + (wW * R) ** 2)
    S_e = sp.sqrt(2 * (R**2 + wV**2 + wW**2))
    e_max = R * (1 + wW * wV)
    trace_eig = (wc**2 + 2 + sp.sqrt((wc**2 - 2) ** 2 + 16 * wc**2)) / 2
    return {
        "residual": (J_e**2 + e_max * S_e) / S.c**2,
        "trace": D_max * trace_eig / (2 * S.c**2),
        "kl": beta * (D_max / 2 + R**2 + wV**2 + wV * R),
    }


def linear_pieces(spec: VAESpec) -> Pieces:
    """Pointwise bounds for the linear VAE's reparameterised per-sample objective (for its variance).

    z = V xt + sigma * eps: ||z|| <= omega_V R + sigma_max r, ||dz|| <= (R + omega_V + sigma_max r / 2) ||d param||.
    The decoder mean W z + b: Jacobian <= 1 + R_z + omega_W Jz, second derivative <= Jz + omega_W Sz.
    """
    m = spec.model
    q = linear_norms(spec)
    wV, wW, R = q["omega_V"], q["omega_W"], q["R"]
    sigma_max = sp.exp(S.logvar_max / 2)
    r = RPoly([0, 1])
    R_z = wV * R + sigma_max * r
    Jz = RPoly([R + wV]) + sigma_max / 2 * r
    Sz = RPoly([1]) + sigma_max / 4 * r
    C_G = wW * R_z + q["b"]
    J_joint = 1 + R_z + wW * Jz
    joint = NetworkBounds(C_G, J_joint, J_joint * J_joint, Jz + wW * Sz, wW)
    theta = NetworkBounds(C_G, 1 + R_z, (1 + R_z) * (1 + R_z), RPoly([0]), wW)
    A1 = (C_G + S.R_x) * (1 / S.c**2)
    log_lik = A1 * (C_G + S.R_x) * sp.Rational(1, 2) + sp.Rational(m.data_dim, 2) * sp.Abs(sp.log(2 * sp.pi * S.c**2))
    return Pieces(m.data_dim, m.latent_dim, RPoly([R + wV + 1]), RPoly([1]), sp.exp(S.logvar_min / 2), sigma_max,
                  sp.Max(sp.Abs(S.logvar_min), sp.Abs(S.logvar_max)), R_z, Jz, Sz, joint, theta, A1,
                  1 / S.c**2, log_lik, ("derived",))
