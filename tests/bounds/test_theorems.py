"""The convergence theorems against simulated optimisation runs on a problem whose constants are known exactly.

V(theta) = a sum_i (1 - cos theta_i) is a-smooth with ||grad V|| <= a sqrt(d) and V* = 0; the estimator
H = grad V + xi adds noise uniform on the sphere of radius rho (mean zero, variance rho^2, ||H|| <= a sqrt(d) + rho).
Each optimiser runs exactly as its theorem states it (step C_gamma k^{-1/2}; Adam without bias correction), over
many seeds, and the measured (1/(n+1)) sum_k E||grad V(theta_k)||^2 must stay below the bound.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from bounds import symbols as S
from bounds import theorems as T

D, A, RHO, N_STEPS, SEEDS = 4, 1.0, 1.0, 300, 300
M = A * np.sqrt(D) + RHO


def simulate(optimizer: str, C: float, beta1: float, beta2: float, delta: float) -> float:
    rng = np.random.default_rng(0)
    theta = np.full((SEEDS, D), np.pi / 2)
    m, v, second = (np.zeros_like(theta) for _ in range(3))
    total = np.zeros(SEEDS)
    for k in range(N_STEPS + 1):
        g = A * np.sin(theta)
        total += (g**2).sum(1)
        xi = rng.standard_normal(theta.shape)
        H = g + RHO * xi / np.linalg.norm(xi, axis=1, keepdims=True)
        gamma = C / np.sqrt(k + 1)
        if optimizer == "sgd":
            step = H
        elif optimizer == "adagrad":
            second += H**2
            step = H / np.sqrt(delta + second / (k + 1))
        else:  # rmsprop, adam (rmsprop is adam with beta1 = 0)
            m = beta1 * m + (1 - beta1) * H
            v = beta2 * v + (1 - beta2) * H**2
            step = m / np.sqrt(delta + v)
        theta = theta - gamma * step
    return float(total.mean() / (N_STEPS + 1))


def bound(optimizer: str, C: float, beta1: float, beta2: float, delta: float) -> float:
    L = sp.Float(A)
    M_sym = sp.Symbol("M", positive=True)
    if optimizer == "sgd":
        terms, _ = T.sgd(L, sp.Float(RHO**2))
    elif optimizer == "adam":
        terms = T.adam(L, M_sym)
    else:
        terms = T.adaptive(optimizer, L, M_sym)
    values = {S.n: N_STEPS, S.C_gamma: C, S.L_star: A * D, S.beta1: beta1, S.beta2: beta2, S.delta: delta, M_sym: M}
    return float(sum(terms.values()).subs(values))


@pytest.mark.parametrize("optimizer,C,beta1", [("sgd", 1.0, 0.0), ("sgd", 0.3, 0.0), ("adagrad", 0.5, 0.0),
                                               ("rmsprop", 0.5, 0.0), ("adam", 0.5, 0.5), ("adam", 0.5, 0.9)])
def test_measured_running_average_stays_below_the_bound(optimizer, C, beta1, tightness):
    beta2, delta = 0.99, 0.5
    measured = simulate(optimizer, C, beta1, beta2, delta)
    value = bound(optimizer, C, beta1, beta2, delta)
    tightness.record(f"theorem {optimizer} (simulated, exact constants)", measured, value)
    assert measured <= value


def test_adam_bound_grows_like_one_over_one_minus_beta1():
    """The paper's 1/(1 - beta1) factor: at least that growth as beta1 -> 1, and beta1 = 0 is finite."""
    values = {S.n: 10**4, S.C_gamma: 0.1, S.L_star: 1.0, S.beta2: 0.999, S.delta: 1e-8}
    total = sum(T.adam(sp.Float(2.0), sp.Float(3.0)).values()).subs(values)
    at = [float(total.subs(S.beta1, b)) for b in (0.0, 0.9, 0.99)]
    assert at[0] < at[1] < at[2]
    assert at[2] / at[1] >= 10 * 0.999
