"""The certificate's martingale term: Hoeffding's form from the derived per-draw bound G (`hoeffding_noise`), the
form from the run's own per-example gradient norms with a range (`empirical_noise`; docs/derivations.md, "A
certificate for the run", the empirical-Bernstein form), and the second-moment form from the same norms and one
example's derived variance, with no range and no truncation (`second_moment_noise`, the second-moment form).

The martingale -sum_k gamma_k <grad L(theta_k), xi_k> is split into one increment per example,
X_{k,i} = -(gamma_k / B) <grad L(theta_k), zeta_{k,i}>, zeta the example's centred gradient. Each increment is bounded
below by -c_k with c_k = (gamma_k / B) ||grad L(theta_k)|| (G_k + ||m_k||), where G_k bounds an example's gradient on
the truncation ball and m_k is the truncated mean gradient; Fan, Grama and Liu's inequality
exp(l x - psi(l) x^2) <= 1 + l x (x >= -1, 0 <= l < 1, psi(l) = -log(1 - l) - l) then makes
exp(sum lambda X - sum psi(lambda c_k) X^2 / c_k^2) a supermartingale. Its square terms are bounded by what the run
recorded: X^2 <= (gamma / B)^2 ||grad L||^2 (||h_i|| + ||m_k||)^2, with ||h_i|| each example's own gradient norm. So
the noise is priced by the gradients the run drew, not by the a-priori G_k^2 of Hoeffding's lemma; G_k enters only
through the range c_k, multiplied by a certified bound on ||grad L(theta_k)|| that is small near a stationary point.

That bound, `gradient_norm_bounds`, comes from anchors (the probes' ||grad L||^2, exact for a closed-form objective,
else an upper confidence bound) carried along the path by the segments' smoothness constants,
||grad L(theta_{k+1}) - grad L(theta_k)|| <= L_k gamma_k ||ghat_k||, and is never above the derived E g(r).
"""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd

ANCHOR_COLUMNS = ("full_grad_norm_sq", "anchor_grad_norm_sq")  # the probes' and the trainer's anchors (`anchor_every`)
LAMBDA_RATIO, LAMBDA_MIN, LAMBDA_COUNT = 1.5, 1e-20, 228   # lambda = LAMBDA_MIN * 1.5^j covers 1e-20 .. 1e20
THETA_GRID = np.geomspace(0.002, 1.8, 40)                 # the shares theta/2 <= 0.9 of the left side
# Hoeffding's form: the martingale's weights theta (theta/2 of the left side) and Lambda on the grid
# HOEFFDING_MIN * 1.25^j, j < HOEFFDING_COUNT (1e-30 .. 1e30), a union over both
HOEFFDING_THETAS = tuple(i / 10 for i in range(1, 11))
HOEFFDING_RATIO, HOEFFDING_MIN, HOEFFDING_COUNT = 1.25, 1e-30, 620


def rho(x: np.ndarray) -> np.ndarray:
    """psi(x) / x^2 = (-log(1 - x) - x) / x^2 for 0 <= x < 1, increasing from 1/2 (its series, sum x^(m-2)/m)."""
    x = np.asarray(x, dtype=float)
    small = x < 1e-4
    safe = np.where(small, 0.5, x)
    exact = (-np.log1p(-safe) - safe) / safe ** 2
    return np.where(small, 0.5 + x / 3 + x ** 2 / 4, exact)


def has_example_norms(t: pd.DataFrame) -> bool:
    """Whether every step recorded its examples' gradient norms (the trainer's `example_norms`)."""
    steps = t.iloc[:-1]
    return all(c in t and np.isfinite(steps[c].to_numpy(float)).all()
               for c in ("example_norm_sum", "example_norm_sq_sum"))


def step_lengths(t: pd.DataFrame) -> np.ndarray:
    """||theta_{k+1} - theta_k|| for k < n: the adaptive trail's step_norm_sq where recorded, else SGD's gamma ||ghat||
    (a projected step is no longer: the projection onto a convex set that holds theta_k is non-expansive)."""
    steps = t.iloc[:-1]
    if "step_norm_sq" in t:
        return np.sqrt(np.maximum(steps["step_norm_sq"].to_numpy(float), 0.0))
    return steps["lr"].to_numpy(float) * np.sqrt(np.maximum(steps["grad_norm_sq"].to_numpy(float), 0.0))


def gradient_norm_bounds(t: pd.DataFrame, L_k: np.ndarray, mean_bound: np.ndarray, anchor_delta: float) -> np.ndarray:
    """Upper bounds on ||grad L(theta_k)||, k = 0..n-1, holding together with probability >= 1 - anchor_delta.

    Anchors: each probe's full_grad_norm_sq and each of the trainer's anchors (anchor_grad_norm_sq, `anchor_every`);
    exact where its standard error is 0, else U + z SE with z the normal quantile at anchor_delta / (number of
    estimated anchors, of both kinds) (the normal approximation, as for the objective's gain). Each anchor is carried
    forwards and backwards along the path, a segment adding L_k ||theta_{k+1} - theta_k||, and the result is capped by
    the derived E g(r) at theta_k (mean_bound)."""
    n = len(t) - 1
    length = L_k * step_lengths(t)
    estimates = [(t[c].to_numpy(float), t[f"{c}_se"].to_numpy(float) if f"{c}_se" in t else np.full(n + 1, np.nan))
                 for c in ANCHOR_COLUMNS if c in t]
    seen = [np.isfinite(u) & np.isfinite(se) for u, se in estimates]
    estimated = sum(int((s & (se > 0)).sum()) for s, (_, se) in zip(seen, estimates))
    z = NormalDist().inv_cdf(1 - anchor_delta / estimated) if estimated else 0.0
    anchor = np.full(n + 1, np.inf)
    for s, (u, se) in zip(seen, estimates):
        anchor[s] = np.minimum(anchor[s], np.sqrt(np.maximum(u[s] + z * se[s], 0.0)))
    forward, backward = anchor.copy(), anchor.copy()
    for k in range(1, n + 1):
        forward[k] = min(forward[k], forward[k - 1] + length[k - 1])
    for k in range(n - 1, -1, -1):
        backward[k] = min(backward[k], backward[k + 1] + length[k])
    return np.minimum(np.minimum(forward, backward)[:n], mean_bound)


def empirical_noise(t: pd.DataFrame, B: int, G: np.ndarray, beta: np.ndarray, grad_bound: np.ndarray,
                    log_scale: float, mean_bound: np.ndarray | None = None,
                    gammas: np.ndarray | None = None) -> list[tuple[float, float]]:
    """(theta, the martingale's bound) for each lambda of the grid where the supermartingale is defined (lambda c_k < 1
    at every step) and each theta of THETA_GRID: with probability >= 1 - delta_m, for every such pair,
    sum X <= (theta/2) sum gamma ||grad L||^2 + log(LAMBDA_COUNT / delta_m) / lambda + sum_k gamma_k Gbar_k^2
    (u_k - theta/2)_+, where u_k = lambda rho(lambda C_k) gamma_k Q_k / B is step k's share of the square terms (the
    steps where it passes theta/2 pay their excess at Gbar_k); log_scale = log(LAMBDA_COUNT / delta_m). mean_bound: a
    bound on the norm of the examples' mean gradient m_k the increments are centred at, before truncation (default
    grad_bound: independent batches centre at grad L; reshuffled epochs at each drawn example's own expected
    gradient). gammas: the increments' step weights (default the step sizes; an adaptive run's omega_j r_j,
    `certificate_adaptive`)."""
    steps = t.iloc[:-1]
    gammas = steps["lr"].to_numpy(float) if gammas is None else gammas
    s1, s2 = steps["example_norm_sum"].to_numpy(float), steps["example_norm_sq_sum"].to_numpy(float)
    a = (grad_bound if mean_bound is None else mean_bound) + beta  # ||m_k|| <= ||grad L|| + ||b_k||
    Q = (s2 + 2 * a * s1 + B * a * a) / B         # mean over the batch of (||h_i|| + ||m_k||)^2
    c = gammas / B * grad_bound * (G + a)
    weight = gammas * grad_bound ** 2
    out = []
    for j in range(LAMBDA_COUNT):
        lam = LAMBDA_MIN * LAMBDA_RATIO ** j
        x = lam * c
        if (x >= 1).any():
            break
        u = lam * rho(x) * gammas * Q / B
        excess = (weight[None] * np.maximum(u[None] - THETA_GRID[:, None] / 2, 0.0)).sum(1)
        out += [(float(theta), log_scale / lam + float(e)) for theta, e in zip(THETA_GRID, excess)]
    return out


def second_moment_noise(t: pd.DataFrame, B: int, grad_bound: np.ndarray, variance: np.ndarray, log_scale: float,
                        mean_bound: np.ndarray | None = None,
                        gammas: np.ndarray | None = None) -> list[tuple[float, float]]:
    """(theta, the martingale's bound) for each lambda of the grid and each theta of THETA_GRID, by Delyon's inequality
    exp(x - x^2/6) <= 1 + x + x^2/3 (every real x), which needs no range and no truncation: with probability
    >= 1 - delta_m, for every pair, sum X <= (theta/2) sum gamma ||grad L||^2 + log_scale / lambda
    + sum_k gamma_k Gbar_k^2 (u_k - theta/2)_+, with u_k = lambda gamma_k (Q_k / 6 + V_k / 3) / B, Q_k the batch's
    mean of (||h_i|| + a_k)^2 and V_k >= E||h - grad L(theta_k)||^2 the derived variance of one example's gradient at
    theta_k (B = 1). The increments are centred at grad L (independent batches, or the ghost's fresh batch:
    a_k = Gbar_k) or, with mean_bound, at each drawn example's own mean gradient (reshuffled epochs:
    a_k = mean_bound_k >= its norm, V_k the variance over the draws alone)."""
    steps = t.iloc[:-1]
    gammas = steps["lr"].to_numpy(float) if gammas is None else gammas
    s1, s2 = steps["example_norm_sum"].to_numpy(float), steps["example_norm_sq_sum"].to_numpy(float)
    a = grad_bound if mean_bound is None else mean_bound
    Q = (s2 + 2 * a * s1 + B * a ** 2) / B
    share = gammas * (Q / 6 + variance / 3) / B  # u_k / lambda
    weight = gammas * grad_bound ** 2
    out = []
    for j in range(LAMBDA_COUNT):
        lam = LAMBDA_MIN * LAMBDA_RATIO ** j
        excess = (weight[None] * np.maximum(lam * share[None] - THETA_GRID[:, None] / 2, 0.0)).sum(1)
        out += [(float(theta), log_scale / lam + float(e)) for theta, e in zip(THETA_GRID, excess)]
    return out


def lambda_log(delta_m: float) -> float:
    """log(LAMBDA_COUNT / delta_m): the union over the lambda grid."""
    return math.log(LAMBDA_COUNT / delta_m)


def hoeffding_noise(gammas: np.ndarray, G: np.ndarray, B: int, delta: float,
                     shares: int = 3) -> list[tuple[float, float]]:
    """(theta, the martingale's bound (Lambda / theta) log(shares x 10 x 620 / delta)) for each theta of the grid, with
    Lambda the grid point at or above max_k gamma_k G_k^2 / B; empty where that is beyond the grid."""
    realised = float((gammas * G ** 2 / B).max())
    j = max(0, math.ceil(math.log(max(realised, HOEFFDING_MIN) / HOEFFDING_MIN) / math.log(HOEFFDING_RATIO)))
    if j >= HOEFFDING_COUNT:
        return []
    Lam = HOEFFDING_MIN * HOEFFDING_RATIO ** j
    log_term = math.log(shares * len(HOEFFDING_THETAS) * HOEFFDING_COUNT / delta)
    return [(theta, Lam * log_term / theta) for theta in HOEFFDING_THETAS]
