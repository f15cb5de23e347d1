"""Compositional bounds for an MLP h_l = f_l(W_l h_{l-1} + b_l), l = 1..N.

For a network whose input h_0 may itself depend on other parameters (the decoder's input z depends
on the encoder), we propagate four bounds through the layers (derivation: docs/derivations.md,
"Networks"):

- H_l: sup ||h_l||;
- J_l: sup ||dh_l|| / ||dtheta||, the Jacobian of h_l with respect to all parameters (layers 1..l
  and whatever h_0 depends on); J2_l, a second bound on J_l^2 by root-sum-of-squares over layers
  (tighter, and the source of the paper's N a^{2(N-1)} depth shape);
- S_l: sup ||d^2 h_l[dtheta, dtheta]|| / ||dtheta||^2, the second derivative (smoothness);
- the Lipschitz constant of h_N in h_0, prod_l L1_l ||W_l||.

Recursion, with L1, L2 the activation's Lipschitz and smoothness constants, omega_l >= ||W_l||_2,
b_l >= ||b_l||, Hhat = H + 1 (the norm of the augmented input [h; 1]):
    Jz_l = Hhat_{l-1} + omega_l J_{l-1}          (the pre-activation's Jacobian)
    J_l  = L1_l Jz_l
    J2_l = L1_l^2 (Hhat_{l-1}^2 + omega_l^2 J2_{l-1})   (Cauchy-Schwarz over disjoint parameter blocks)
    S_l  = L2_l (Hhat_{l-1}^2 + omega_l^2 J2_{l-1}) + L1_l (J_{l-1} + omega_l S_{l-1})
    H_l  = sqrt(m_l) sup|f|  (bounded f)  or  sqrt(m_l) |f(0)| + L1_l (omega_l H_{l-1} + b_l)
Triangle inequalities are used instead of square roots so that every bound stays a polynomial in
||eps|| (see `rpoly`), whose expectation is exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import sympy as sp

from .activations import ActivationConstants
from .rpoly import RPoly


@dataclass(frozen=True)
class Layer:
    """One dense layer: weight (width_out x width_in) with norm bound omega, bias norm bound, activation."""

    width_out: int
    width_in: int
    omega: sp.Expr
    bias: sp.Expr
    act: ActivationConstants


@dataclass(frozen=True)
class NetworkBounds:
    H: RPoly        # output norm
    J: RPoly        # parameter Jacobian (operator norm)
    J2: RPoly       # a bound on J^2 (root-sum-of-squares over layers; <= J * J)
    S: RPoly        # parameter second derivative (bilinear norm)
    lipschitz: sp.Expr  # Lipschitz constant in the input h_0


def mlp_bounds(layers: Sequence[Layer], H0: RPoly | sp.Expr, J0: RPoly | sp.Expr = 0,
               S0: RPoly | sp.Expr = 0) -> NetworkBounds:
    """Propagate (H, J, S) through `layers` from an input with ||h_0|| <= H0, Jacobian J0, second derivative S0.

    The input's parameters (if any) must be disjoint from the layers' own.
    """
    H, J, S = RPoly.lift(H0), RPoly.lift(J0), RPoly.lift(S0)
    J2 = J * J
    lip = sp.Integer(1)
    for layer in layers:
        L1, L2 = layer.act.lipschitz, layer.act.smoothness
        Hhat = H + 1
        Jz2 = Hhat * Hhat + layer.omega**2 * J2
        S = L2 * Jz2 + L1 * (J + layer.omega * S)
        J = L1 * (Hhat + layer.omega * J)
        J2 = L1**2 * Jz2
        affine = sp.sqrt(layer.width_out) * layer.act.at_zero + L1 * (layer.omega * H + layer.bias)
        if layer.act.bounded:
            cap = sp.sqrt(layer.width_out) * layer.act.value_bound
            # A minimum stays a number only where the input bound does not depend on ||eps||.
            H = RPoly([sp.Min(cap, affine.coeffs[0])]) if affine.degree == 0 else RPoly([cap])
        else:
            H = affine
        lip = lip * L1 * layer.omega
    return NetworkBounds(H, J, J2, S, lip)
