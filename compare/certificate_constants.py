"""The derived constants a run's certificate evaluates at each step (docs/derivations.md, "A certificate for the run"):
the smoothness L on a segment's set, and at an iterate the per-draw gradient bound G on the truncation ball, the bias
beta that truncation puts in the mean gradient, the mean bound E g (which bounds ||grad L||) and one example's
gradient variance V. Each spec is derived once (the caches); the values are evaluated at arrays of steps."""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from bounds import derive as D
from bounds.bound import Bound
from bounds.support import NotDerivedError


@lru_cache(maxsize=32)
def derived(spec: Any) -> tuple[dict[str, Any], Bound]:
    """The spec's setting values and derived smoothness bound (one derivation per spec)."""
    return D.spec_values(spec, allow_outside_theory=True), D.smoothness(spec, allow_outside_theory=True)


def smoothness_at(spec: Any, settings: dict[str, Any], n: int) -> np.ndarray:
    """The derived L of `spec` at each step's settings."""
    return np.asarray(derived(spec)[1].evaluate(settings), dtype=float) * np.ones(n)


@lru_cache(maxsize=32)
def _noise_polynomials(spec: Any, r_bar: float) -> tuple[Bound, Bound, Bound]:
    """The per-draw gradient bound g at ||eps|| = r_bar, E g and E g^2, as bounds in the spec's settings."""
    g = D.gradient_polynomial(spec, allow_outside_theory=True)
    d_z = spec.model.latent_dim
    make = lambda expr: Bound("g", {"g": expr}, "derived", "")
    return make(g.expr().subs(D.S.r, r_bar)), make(g.expectation(d_z)), make((g * g).expectation(d_z))


@lru_cache(maxsize=32)
def _example_variance(spec: Any, estimator: str | None = None) -> Bound | None:
    """The derived sigma^2 (B as a setting) of the spec's estimator or the one named, or None where it has none."""
    try:
        return D.variance(spec, estimator, allow_outside_theory=True)
    except (NotDerivedError, ValueError):
        return None


def _variance_at_one(variance: Bound | None, point: dict[str, Any], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(sigma^2, its term "noise") at B = 1, as arrays of n; inf where either is not derived."""
    if variance is None:
        return np.full(n, math.inf), np.full(n, math.inf)
    at = {**point, "B": 1.0}
    V = np.asarray(variance.evaluate(at), dtype=float) * np.ones(n)
    V_eps = (np.asarray(variance.evaluate_terms(at)["noise"], dtype=float) * np.ones(n)
             if "noise" in variance.terms else np.full(n, math.inf))
    return V, V_eps


def noise_bounds(spec: Any, point: dict[str, Any],
                 r_bar: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(G_k, beta_k, E g_k, V_k, Veps_k, Vpath_k): the per-draw gradient bound at ||eps|| = r_bar at theta_k's box, the
    bias the truncation to that ball puts in the mean gradient, (sqrt(E g^2) sqrt(p) + E g p) / (1 - p) with
    p = P(||eps|| > r_bar), the mean bound E g(r) (which bounds ||grad L(theta_k)||), the variance of one example's
    gradient E||h - grad L||^2 (sigma^2 at B = 1) and its part over the draws alone, E||h - grad l_x||^2 for a fixed
    point x (sigma^2's term "noise" at B = 1, E g_sq / K, a bound for every x; inf where sigma^2 has no such term or
    is not derived), and V_k of the pathwise estimator, whatever trained: the anchors' replicates are pathwise."""
    n = len(next(v for v in point.values() if isinstance(v, np.ndarray)))
    G, mean, second = (np.asarray(b.evaluate(point), dtype=float) * np.ones(n) for b in _noise_polynomials(spec, r_bar))
    p = math.exp(-(r_bar - math.sqrt(spec.model.latent_dim)) ** 2 / 2)
    V, V_eps = _variance_at_one(_example_variance(spec), point, n)
    V_path = V if spec.estimator == "pathwise" else _variance_at_one(_example_variance(spec, "pathwise"), point, n)[0]
    return G, (np.sqrt(second * p) + mean * p) / (1 - p), mean, V, V_eps, V_path
