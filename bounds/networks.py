"""Compositional bounds for a network h_l = f_l(A_l(W_l) h_{l-1} + b_l), l = 1..N: dense layers (A(W) h = W h) and
convolutions (A(W) h the kernel W applied to the image h, a linear map of h and of W; `Layer`).

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
b_l >= ||b_l||, Hhat^2 = H^2 + 1 (the squared norm of the augmented input [h; 1]; for a convolution
g^2 H^2 + P, with g the kernel's input gain and P the output positions its bias is repeated at):
    Jz2_l = Hhat_{l-1}^2 + omega_l^2 J2_{l-1}    (the pre-activation's squared Jacobian: Cauchy-Schwarz over
                                                  the layer's block and the disjoint blocks before it)
    J2_l = L1_l^2 Jz2_l
    J_l  = L1_l sqrt(Jz2_l) where that is a number, else L1_l (Hhat_{l-1} + omega_l J_{l-1})
    S_l  = L2_l Q_l + L1_l X_l (or, where Q_l and X_l are numbers, sqrt(L2^2 Q^2 + L1^2 X^2 + 2 L12 Q X), L12 >=
           sup |f' f''|),  X_l the cross term sup_t [2 t s J + s^2 omega S] (t^2 + s^2 = 1):
           omega S / 2 + sqrt(J^2 + (omega S / 2)^2) where J, S are numbers, else J + omega S;
           Q_l bounds ||dpre||_4^2 <= ||dpre||_2 ||dpre||_inf (f'' acts entry-wise), with rho_l >= the norm of any
           row of W_l:  sqrt(Jz2_l Ji2_l), Ji2_l = Hhat^2 + rho_l^2 J2_{l-1}, or, where that is not a number,
           its AM-GM bound (Jz2_l / lam + lam Ji2_l) / 2 at lam = sqrt(Jz2_l / Ji2_l) taken at ||eps|| = 1
    H_l  = sqrt(m_l) sup|f|  (bounded f)  or  sqrt(m_l) |f(0)| + L1_l (omega_l H_{l-1} + b_l)
Where a bound depends on ||eps|| (the decoder's input z), triangle inequalities replace the square roots so that
it stays a polynomial in ||eps|| (see `rpoly`), whose expectation is exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import sympy as sp

from .activations import ActivationConstants
from .rpoly import RPoly


@dataclass(frozen=True)
class Layer:
    """One layer h -> f(A(W) h + b): a dense layer (A(W) = W, width_out x width_in) or a convolution (A(W) h the
    kernel W applied to the input image; widths count every entry, channels times positions).

    omega bounds the operator norm of h -> A(W) h, bias the norm of the added bias vector (for a convolution, each
    channel's bias repeated at every output position), row the norm of what any one output entry reads of the weight
    (omega where none tighter is known). A convolution also has input_gain >= ||A(dW) h|| / (||dW|| ||h||) (the square
    root of how many output positions read one input entry, ceil(k/s)^2) and positions, the output positions a bias
    entry is repeated at (docs/derivations.md, "Convolutions"); a dense layer has 1 and 1.
    """

    width_out: int
    width_in: int
    omega: sp.Expr
    bias: sp.Expr
    act: ActivationConstants
    row: sp.Expr | None = None
    input_gain: int = 1
    positions: int = 1

    @property
    def row_norm(self) -> sp.Expr:
        return self.omega if self.row is None else self.row

    def augmented_sq(self, H: RPoly) -> RPoly:
        """A bound on ||d(A(W) h + b)||^2 / ||(dW, db)||^2 at fixed h (Cauchy-Schwarz over the weight and the bias):
        input_gain^2 ||h||^2 + positions (dense: ||h||^2 + 1, the squared norm of [h; 1])."""
        return self.input_gain**2 * H * H + self.positions

    def augmented_norm(self, H: RPoly) -> RPoly:
        """sqrt(augmented_sq): exact where it is a number, input_gain H + sqrt(positions) as a polynomial in ||eps||."""
        if H.degree == 0:
            return _root(self.augmented_sq(H))
        return self.input_gain * H + sp.sqrt(self.positions)


@dataclass(frozen=True)
class NetworkBounds:
    H: RPoly        # output norm
    J: RPoly        # parameter Jacobian (operator norm)
    J2: RPoly       # a bound on J^2 (root-sum-of-squares over layers; <= J * J)
    S: RPoly        # parameter second derivative (bilinear norm)
    lipschitz: sp.Expr  # Lipschitz constant in the input h_0


def _root(x: RPoly) -> RPoly:
    """sqrt of a constant polynomial."""
    return RPoly([sp.sqrt(x.coeffs[0])])


def _cross_term(J: RPoly, wS: RPoly) -> RPoly:
    """sup over t^2 + s^2 = 1 of 2 t s J + s^2 wS: the second derivative's mixed term 2 dW dh (the layer's block
    of norm t, the earlier blocks of norm s) plus W d^2h."""
    if J.degree == 0 and wS.degree == 0:
        half = wS.coeffs[0] / 2
        return RPoly([half + sp.sqrt(J.coeffs[0] ** 2 + half**2)])
    return J + wS


def _fourth_power(Jz2: RPoly, Ji2: RPoly) -> RPoly:
    """A bound on ||dpre||_4^2 <= ||dpre||_2 ||dpre||_inf from ||dpre||_2^2 <= Jz2 and ||dpre||_inf^2 <= Ji2 <= Jz2.

    sqrt(Jz2 Ji2) where that is a number; else (Jz2 / lam + lam Ji2) / 2 (AM-GM, valid for any lam > 0) with
    lam = sqrt(Jz2(1) / Ji2(1)), exact at ||eps|| = 1. (lam = omega / rho, the ratio of the leading J2 terms, was
    tried first: where the input's norm term dominates, as on a small box, it made S larger than Jz2 alone.)
    """
    if Jz2.coeffs == Ji2.coeffs:
        return Jz2
    if Jz2.degree == 0 and Ji2.degree == 0:
        return _root(Jz2 * Ji2)
    lam = sp.sqrt(sp.Add(*Jz2.coeffs) / sp.Add(*Ji2.coeffs))
    return Jz2 * (1 / (2 * lam)) + Ji2 * (lam / 2)


def second_derivative_parts(layer: Layer, H: RPoly, J: RPoly, J2: RPoly, S: RPoly) -> tuple[RPoly, RPoly, RPoly]:
    """For one layer fed an input with ||h|| <= H, Jacobian J (J2 >= J^2) and second derivative S: bounds on the
    pre-activation's squared Jacobian ||dpre||^2 (Jz2), on ||dpre||_4^2 (Q) and on ||d^2 pre|| (X), whence the
    layer's second derivative f''(pre) o dpre o dpre + f'(pre) o d^2 pre."""
    Jz2 = layer.augmented_sq(H) + layer.omega**2 * J2
    # One output entry reads one row (dense) or one patch (conv) of h, of norm <= ||h||, and one bias entry.
    Q = _fourth_power(Jz2, H * H + 1 + layer.row_norm**2 * J2)
    return Jz2, Q, _cross_term(J, layer.omega * S)


def _second_derivative(act: ActivationConstants, Q: RPoly, X: RPoly, joint: bool) -> RPoly:
    """A bound on ||f''(p) o dp o dp + f'(p) o d^2p|| from ||dp||_4^2 <= Q and ||d^2p|| <= X.

    Coordinate by coordinate the square is at most f''^2 dp_i^4 + f'^2 (d^2p_i)^2 + 2 |f' f''| dp_i^2 |d^2p_i|, so
    the norm is at most sqrt(L2^2 Q^2 + L1^2 X^2 + 2 L12 Q X), L12 >= sup |f' f''| (below L1 L2 where f' and f''
    peak apart). That form is convex in (Q, X): it is used only where both are numbers and bound the quantity itself
    (joint), not its expectation over eps; elsewhere L2 Q + L1 X, linear.
    """
    if joint and Q.degree == 0 and X.degree == 0:
        q, x, L1, L2 = Q.coeffs[0], X.coeffs[0], act.lipschitz, act.smoothness
        return RPoly([sp.sqrt(L2**2 * q**2 + L1**2 * x**2 + 2 * act.slope_curvature * q * x)])
    return act.smoothness * Q + act.lipschitz * X


ValueChoice = Callable[[RPoly, sp.Expr], RPoly]


def mixed_second_derivative(layers: Sequence[Layer], H0: RPoly | sp.Expr,
                            value_choice: ValueChoice | None = None) -> RPoly:
    """A bound on ||d^2 h_N[dtheta, dh_0]|| / (||dtheta|| ||dh_0||): the mixed second derivative in the layers' own
    parameters and the input h_0 (free, ||h_0|| <= H0).

    With dpre_l the pre-activation's derivative in theta (norm <= Hhat_{l-1} + omega_l J_{l-1}, J at a fixed input) and
    delta_l the derivative in h_0 (norm <= lip_l = prod L1 omega), the mixed derivative of h_l is
    f''(pre) o dpre o (W_l delta_{l-1}) + f'(pre) o (A(dW_l) delta_{l-1} + W_l M_{l-1}), so
    M_l <= L2 (Hhat_{l-1} + omega_l J_{l-1}) omega_l lip_{l-1} + L1 (input_gain lip_{l-1} + omega_l M_{l-1}), M_0 = 0
    (||a o b|| <= ||a|| ||b||; each layer's block of dtheta at most all of it)."""
    M, lip = RPoly([0]), sp.Integer(1)
    below = mlp_bounds([], H0)  # the layers below, at a fixed input: carried one layer at a time
    for layer in layers:
        L1, L2, omega = layer.act.lipschitz, layer.act.smoothness, layer.omega
        slope = layer.augmented_norm(below.H) + omega * below.J
        M = slope * (L2 * omega * lip) + (M * omega + layer.input_gain * lip) * L1
        lip = lip * L1 * omega
        below = mlp_bounds([layer], below.H, below.J, below.S, value_choice, J2_0=below.J2)
    return M


def least(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """Min(a, b), not simplified where either is symbolic: sympy's search for comparable arguments grows with their
    size, and these bounds nest (a value bound enters the next layer's), so it came to dominate the derivation."""
    a, b = sp.sympify(a), sp.sympify(b)
    return sp.Min(a, b) if a.is_Number and b.is_Number else sp.Min(a, b, evaluate=False)


def capped(affine: RPoly, cap: sp.Expr) -> RPoly:
    """A polynomial bound on min(cap, affine(r)) for an affine bound with nonnegative coefficients: its constant
    term capped, Min(cap, a_0) + a_1 r + ... (where a_0 <= cap it is affine itself; otherwise it is >= cap)."""
    return RPoly([least(cap, affine.coeffs[0]), *affine.coeffs[1:]])


def mlp_bounds(layers: Sequence[Layer], H0: RPoly | sp.Expr, J0: RPoly | sp.Expr = 0,
               S0: RPoly | sp.Expr = 0, value_choice: ValueChoice | None = None,
               J2_0: RPoly | sp.Expr | None = None, expected: bool = False) -> NetworkBounds:
    """Propagate (H, J, S) through `layers` from an input with ||h_0|| <= H0, Jacobian J0, second derivative S0.

    The input's parameters (if any) must be disjoint from the layers' own. A bounded activation's output norm is at
    most both its cap sqrt(m) sup|f| and the affine bound; where the latter depends on ||eps|| their minimum is no
    polynomial, and value_choice(affine, cap) picks one of the two valid bounds (`capped` or the cap); without
    one, the cap. J2_0: a bound on the input's squared Jacobian other than J0^2 (the decoder with its input's
    derivatives in expectation over eps, `objectives.pieces.vae_pieces`). expected: J0, J2_0 and S0 bound the input's
    derivatives in expectation over eps (root mean square), not pointwise, so S is combined only linearly.
    """
    H, J, S = RPoly.lift(H0), RPoly.lift(J0), RPoly.lift(S0)
    J2 = J * J if J2_0 is None else RPoly.lift(J2_0)
    lip = sp.Integer(1)
    for layer in layers:
        L1, L2, omega = layer.act.lipschitz, layer.act.smoothness, layer.omega
        Jz2, Q, X = second_derivative_parts(layer, H, J, J2, S)
        S = _second_derivative(layer.act, Q, X, joint=not expected)
        J = L1 * (_root(Jz2) if Jz2.degree == 0 else layer.augmented_norm(H) + omega * J)
        J2 = L1**2 * Jz2
        affine = sp.sqrt(layer.width_out) * layer.act.at_zero + L1 * (layer.omega * H + layer.bias)
        if layer.act.bounded:
            cap = sp.sqrt(layer.width_out) * layer.act.value_bound
            # A minimum stays a number only where the input bound does not depend on ||eps||.
            if affine.degree == 0:
                H = RPoly([least(cap, affine.coeffs[0])])
            else:
                H = value_choice(affine, cap) if value_choice is not None else RPoly([cap])
        else:
            H = affine
        lip = lip * L1 * layer.omega
    return NetworkBounds(H, J, J2, S, lip)
