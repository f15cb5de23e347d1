"""Helpers for the measurement tests: numeric evaluation of symbolic pieces, and torch measurements."""
from __future__ import annotations

import numpy as np
import sympy as sp
import torch

from bounds.rpoly import RPoly


def number(expr, values: dict) -> float:
    """A sympy expression at the named values, compiled as every bound is (`Bound.evaluate`): evalf of a large
    expression with the activations' constants took minutes."""
    from bounds.bound import Bound
    return float(Bound("value", {"value": sp.sympify(expr)}, "derived", "").evaluate(values))


def poly_at(poly: RPoly, values: dict):
    """The RPoly with its coefficients evaluated: a function of r = ||eps||."""
    coeffs = [number(c, values) for c in poly.coeffs]
    return lambda radius: float(np.polynomial.polynomial.polyval(radius, coeffs))


def top_abs_eig(matrix: torch.Tensor) -> float:
    return float(torch.linalg.eigvalsh(0.5 * (matrix + matrix.T)).abs().max())


def spectral_norm(matrix: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(matrix, ord=2))
