"""Symbolic constants of activation functions: value bound, |f(0)|, Lipschitz and smoothness constants.

For each activation f we give sup|f|, |f(0)|, sup|f'| (the Lipschitz constant) and sup|f''| (the
smoothness constant, the Lipschitz constant of f'), symbolic in the activation's parameters.
Derivations: docs/derivations.md, section "Activations".
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from .spec import ActivationSpec
from . import symbols as S


class NotSmoothError(ValueError):
    """The activation violates the theory's smoothness assumption (ReLU, LeakyReLU, ELU with alpha != 1)."""


@dataclass(frozen=True)
class ActivationConstants:
    name: str
    value_bound: sp.Expr   # sup_x |f(x)|, sympy.oo when f is unbounded
    at_zero: sp.Expr       # |f(0)|
    lipschitz: sp.Expr     # sup_x |f'(x)|
    smoothness: sp.Expr    # sup_x |f''(x)| (a.e. for the non-smooth ones)
    status: str            # 'derived' or 'outside-theory'
    # sup_x |f'(x) f''(x)|, below lipschitz * smoothness where the two peak apart (tanh, sigmoid, soft-clip);
    # None: their product.
    joint: sp.Expr | None = None

    @property
    def bounded(self) -> bool:
        return self.value_bound != sp.oo

    @property
    def slope_curvature(self) -> sp.Expr:
        """A bound on sup_x |f'(x) f''(x)| (docs/derivations.md, "Activations")."""
        return self.lipschitz * self.smoothness if self.joint is None else self.joint


@lru_cache(maxsize=None)
def _silu_lipschitz() -> sp.Expr:
    """sup SiLU' = SiLU'(x*) where SiLU''(x*) = 0, x* ~ 2.3994; found by Newton's method, rounded up."""
    x = sp.Symbol("x")
    f = x * sp.exp(x) / (1 + sp.exp(x))
    x_star = sp.nsolve(sp.diff(f, x, 2), x, 2.4, prec=30)
    value = sp.diff(f, x).subs(x, x_star).evalf(30)
    return sp.Rational(sp.ceiling(value * 10**9), 10**9)


def _softclip_explicit(x: sp.Expr, s: sp.Expr, s1: sp.Expr, s2: sp.Expr) -> sp.Expr:
    # softplus_s(y) = max(y, 0) + log(1 + e^{-s |y|}) / s: no overflow at any y.
    softplus = lambda y: sp.Max(y, 0) + sp.log(1 + sp.exp(-s * sp.Abs(y))) / s
    return s1 + softplus(x - s1) - softplus(x - s2)


class SoftClipValue(sp.Function):
    """The generalized soft-clip f(x) = s1 + softplus_s(x - s1) - softplus_s(x - s2) itself, as one opaque function
    of (x, s, s1, s2): written out, its Max and Abs slow every expression it enters (the heads' range enters all of
    them through sigma_max), so it stays a node that evaluates numerically (evalf), compiles to numpy's stable
    logaddexp (lambdify) and differentiates through its explicit form. f is increasing in x."""
    nargs = 4

    @classmethod
    def eval(cls, x, s, s1, s2):
        if all(arg.is_Number for arg in (x, s, s1, s2)):
            return _softclip_explicit(x, s, s1, s2)
        return None

    def _eval_evalf(self, prec):
        return _softclip_explicit(*self.args).evalf(prec)

    def fdiff(self, argindex=1):
        dummies = sp.symbols("x s s1 s2", real=True)
        derivative = sp.diff(_softclip_explicit(*dummies), dummies[argindex - 1])
        return derivative.xreplace(dict(zip(dummies, self.args)))

    def _numpycode(self, printer):
        x, s, s1, s2 = (printer._print(arg) for arg in self.args)
        logaddexp = printer._module_format("numpy.logaddexp")
        return (f"({s1} + ({logaddexp}(0, ({s})*(({x}) - ({s1}))) - {logaddexp}(0, ({s})*(({x}) - ({s2}))))"
                f" / ({s}))")


def softclip_value(x: sp.Expr, s: sp.Expr, s1: sp.Expr, s2: sp.Expr) -> sp.Expr:
    """f(x) for the generalized soft-clip (`SoftClipValue`): on |x| <= P its range is [f(-P), f(P)]."""
    return SoftClipValue(x, s, s1, s2)


def softclip_scale_slope(s: sp.Expr, s2: sp.Expr) -> sp.Expr:
    """A bound on sup_x exp(f(x)/2) f'(x) for the soft-clip f with sharpness s and upper end s2: the log-variance
    head's standard deviation times its slope, which peak apart (docs/derivations.md, "Deep Gaussian VAE").

    f(x) = x + softplus_s(s1 - x) - softplus_s(x - s2) <= x + log(2)/s for x >= s1, and f' <= sigma(s (s2 - x)), so
    for x >= s1 the product is at most 2^{1/(2s)} e^{s2/2} sup_w e^{w/2} / (1 + e^{s w}) (w = x - s2); for s > 1/2
    the sup is at e^{s w} = 1/(2s - 1), where it equals (2s - 1)^{1 - 1/(2s)} / (2s). Below s1, exp(f/2) f' <=
    e^{f(s1)/2} / 2, which the same sup covers at w = s1 - s2. For s <= 1/2 the sup is infinite: no bound.
    """
    peak = (2 * s - 1) ** (1 - 1 / (2 * s)) / (2 * s)
    return sp.Piecewise((2 ** (1 / (2 * s)) * sp.exp(s2 / 2) * peak, s > sp.Rational(1, 2)), (sp.oo, True))


def softclip_constants(s: sp.Expr, s1: sp.Expr, s2: sp.Expr) -> ActivationConstants:
    """Generalized soft-clipping f(x) = (1/s) log((1 + e^{s(x-s1)}) / (1 + e^{s(x-s2)})) + s1.

    f lies in (s1, s2); f' = sigma(s(x-s1)) - sigma(s(x-s2)) peaks at the midpoint with value
    tanh(s (s2 - s1) / 4); f'' = s [sigma'(s(x-s1)) - sigma'(s(x-s2))] with 0 < sigma' <= 1/4, so |f''| < s/4.
    """
    at_zero = sp.Abs(sp.log((1 + sp.exp(-s * s1)) / (1 + sp.exp(-s * s2))) / s + s1)
    lipschitz, smoothness = sp.tanh(s * (s2 - s1) / 4), s / 4
    joint = sp.Min(4 * s / 27, lipschitz * smoothness, evaluate=False)
    return ActivationConstants("softclip", sp.Max(sp.Abs(s1), sp.Abs(s2)), at_zero, lipschitz, smoothness, "derived",
                               joint)


def constants(act: ActivationSpec, *, symbolic: bool = True, allow_outside_theory: bool = False,
              params: tuple[sp.Expr, sp.Expr, sp.Expr] | None = None) -> ActivationConstants:
    """The constants of `act`.

    symbolic: keep the parameters as the symbols s, s1, s2 (hidden layers); otherwise use the spec's
    numbers. params: explicit (s, s1, s2) expressions, used for the soft-clipped heads.
    A non-smooth activation raises NotSmoothError unless `allow_outside_theory`, in which case its
    a.e. constants are returned with status 'outside-theory'.
    """
    if params is not None:
        s, s1, s2 = params
    elif symbolic:
        s, s1, s2 = S.s, S.s1, S.s2
    else:
        s, s1, s2 = (sp.nsimplify(v) for v in (act.s, act.s1, act.s2))
    half = sp.Rational(1, 2)
    name = act.name
    if name == "softclip":
        return softclip_constants(s, s1, s2)
    if name == "tanh":
        return ActivationConstants(name, sp.Integer(1), sp.Integer(0), sp.Integer(1), 4 / (3 * sp.sqrt(3)), "derived",
                                   32 / (25 * sp.sqrt(5)))
    if name == "sigmoid":
        return ActivationConstants(name, sp.Integer(1), half, sp.Rational(1, 4), 1 / (6 * sp.sqrt(3)), "derived",
                                   1 / (25 * sp.sqrt(5)))
    if name == "softplus":
        return ActivationConstants(name, sp.oo, sp.log(2) / s, sp.Integer(1), s / 4, "derived")
    if name == "silu":
        return ActivationConstants(name, sp.oo, sp.Integer(0), _silu_lipschitz(), half, "derived")
    if name == "gelu":
        lip = (1 + sp.erf(1)) / 2 + sp.exp(-1) / sp.sqrt(sp.pi)
        return ActivationConstants(name, sp.oo, sp.Integer(0), lip, sp.sqrt(2 / sp.pi), "derived")
    if name == "identity":
        return ActivationConstants(name, sp.oo, sp.Integer(0), sp.Integer(1), sp.Integer(0), "derived")
    # Non-smooth activations.
    alpha = sp.nsimplify(act.alpha)
    slope = sp.nsimplify(act.negative_slope)
    if name == "elu" and act.smooth:
        return ActivationConstants(name, sp.oo, sp.Integer(0), sp.Integer(1), sp.Integer(1), "derived")
    if not allow_outside_theory:
        raise NotSmoothError(
            f"activation={name!r} is not smooth (its derivative jumps), so the theory does not cover it; "
            "pass allow_outside_theory=True (command line: --outside-theory) for an indicative number")
    if name == "elu":
        return ActivationConstants(name, sp.oo, sp.Integer(0), sp.Max(1, alpha), alpha, "outside-theory")
    lip = sp.Integer(1) if name == "relu" else sp.Max(1, slope)
    return ActivationConstants(name, sp.oo, sp.Integer(0), lip, sp.Integer(0), "outside-theory")
