"""The named symbols every bound is written in.

A bound is a sympy expression in these symbols; `spec_values` maps a spec to numbers for them.
Dimensions and widths stay plain integers (they fix the architecture); everything a user sweeps is a
symbol.
"""
from __future__ import annotations

import sympy as sp

_pos = dict(positive=True, real=True)

B = sp.Symbol("B", **_pos)                 # mini-batch size
K = sp.Symbol("K", **_pos)                 # variational samples per data point
beta = sp.Symbol("beta", nonnegative=True, real=True)  # beta-VAE weight of the KL
n = sp.Symbol("n", **_pos)                 # number of iterations
C_gamma = sp.Symbol("C_gamma", **_pos)     # step size gamma_k = C_gamma k^{-1/2}
beta1 = sp.Symbol("beta1", nonnegative=True, real=True)
beta2 = sp.Symbol("beta2", **_pos)
delta = sp.Symbol("delta", **_pos)         # adaptive methods' regulariser
a = sp.Symbol("a", **_pos)                 # entry-wise parameter bound
c = sp.Symbol("c", **_pos)                 # decoder standard deviation (variance c^2)
R_x = sp.Symbol("R_x", nonnegative=True, real=True)  # data bound ||x|| <= R_x
L_star = sp.Symbol("L_star", **_pos)       # objective gap L(theta*) - L(theta_0)
s = sp.Symbol("s", **_pos)                 # soft-clipping sharpness (hidden layers)
s1 = sp.Symbol("s1", real=True)
s2 = sp.Symbol("s2", real=True)
mu_max = sp.Symbol("mu_max", **_pos)       # encoder mean head clipped to (-mu_max, mu_max)
logvar_min = sp.Symbol("logvar_min", real=True)
logvar_max = sp.Symbol("logvar_max", real=True)
head_s = sp.Symbol("head_s", **_pos)       # sharpness of the soft-clipped heads
r = sp.Symbol("r", nonnegative=True, real=True)  # ||eps||, integrated out by `rpoly`

ALL = {sym.name: sym for sym in (B, K, beta, n, C_gamma, beta1, beta2, delta, a, c, R_x, L_star, s, s1, s2,
                                   mu_max, logvar_min, logvar_max, head_s)}


def layer_norm_symbol(i: int) -> sp.Symbol:
    """omega_i: bound on the operator norm of weight matrix i (per-layer norm bounds)."""
    return sp.Symbol(f"omega_{i}", **_pos)


def bias_norm_symbol(i: int) -> sp.Symbol:
    """b_i: bound on the Euclidean norm of bias vector i (per-layer norm bounds)."""
    return sp.Symbol(f"b_{i}", nonnegative=True, real=True)
