"""Polynomials in r = ||eps||, and their exact expectation under eps ~ N(0, I_d).

The reparameterised latent z = mu + sigma * eps is unbounded, so pointwise bounds on the VAE's
gradient and Hessian grow with r. We keep every such bound a polynomial in r with nonnegative
symbolic coefficients (triangle inequalities rather than square roots), which makes its expectation
exact: E[r^k] = 2^{k/2} Gamma((d + k)/2) / Gamma(d/2). Coefficients are kept unexpanded so that
deep networks do not blow the expression up.
"""
from __future__ import annotations

from typing import Iterable, Union

import sympy as sp

from .symbols import r

Scalar = Union[int, float, sp.Expr]


def chi_moment(k: int, dim: int) -> sp.Expr:
    """E ||eps||^k for eps ~ N(0, I_dim), exactly."""
    if k == 0:
        return sp.Integer(1)
    if k % 2 == 0:
        return sp.Mul(*[sp.Integer(dim + 2 * j) for j in range(k // 2)])
    return sp.gammasimp(2 ** sp.Rational(k, 2) * sp.gamma(sp.Rational(dim + k, 2)) / sp.gamma(sp.Rational(dim, 2)))


class RPoly:
    """c_0 + c_1 r + c_2 r^2 + ... with sympy coefficients."""

    __slots__ = ("coeffs",)

    def __init__(self, coeffs: Iterable[Scalar]):
        cs = [sp.sympify(x) for x in coeffs]
        while len(cs) > 1 and cs[-1] == 0:
            cs.pop()
        self.coeffs: tuple[sp.Expr, ...] = tuple(cs) or (sp.Integer(0),)

    @staticmethod
    def lift(x: "RPoly | Scalar") -> "RPoly":
        return x if isinstance(x, RPoly) else RPoly([x])

    @property
    def degree(self) -> int:
        return len(self.coeffs) - 1

    def __add__(self, other: "RPoly | Scalar") -> "RPoly":
        o = RPoly.lift(other).coeffs
        m = max(len(o), len(self.coeffs))
        pad = lambda t: t + (sp.Integer(0),) * (m - len(t))
        return RPoly([x + y for x, y in zip(pad(self.coeffs), pad(o))])

    __radd__ = __add__

    def __mul__(self, other: "RPoly | Scalar") -> "RPoly":
        o = RPoly.lift(other).coeffs
        out = [sp.Integer(0)] * (len(self.coeffs) + len(o) - 1)
        for i, x in enumerate(self.coeffs):
            for j, y in enumerate(o):
                out[i + j] += x * y
        return RPoly(out)

    __rmul__ = __mul__

    def __pow__(self, k: int) -> "RPoly":
        out = RPoly([1])
        for _ in range(k):
            out = out * self
        return out

    def expr(self) -> sp.Expr:
        """The polynomial as a sympy expression in the symbol r."""
        return sp.Add(*[c * r ** k for k, c in enumerate(self.coeffs)])

    def expectation(self, dim: int) -> sp.Expr:
        """E[p(||eps||)] for eps ~ N(0, I_dim)."""
        return sp.Add(*[c * chi_moment(k, dim) for k, c in enumerate(self.coeffs)])

    def __repr__(self) -> str:
        return f"RPoly({self.expr()})"
