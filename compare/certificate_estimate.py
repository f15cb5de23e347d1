"""The certificate's estimate form (docs/derivations.md, "A certificate for the run", the estimate form): the run's
own unbiased per-step estimates U_k = <g_a, g_b> of ||grad L(theta_k)||^2 (`grad_norm_sq_unbiased`, the two halves of
one batch of i.i.d. examples) with a confidence bound. It needs no descent inequality, so neither the objective's gain
nor the step curvature L_k enters, and no condition on the steps: any optimiser, step size or projection, since the
certified quantity is sum_k w_k ||grad L(theta_k)||^2 whatever moved theta_k.

With g_a = grad L_k + alpha and g_b = grad L_k + beta (means of n_a and n_b examples' gradients h_i, i.i.d. given the
past), U_k - ||grad L_k||^2 = <alpha, grad L_k> + <beta, g_a>. Taking half A's examples first, then half B's, both
parts are sums of martingale increments, X_i = -(w_k / n_a) <zeta_i, grad L_k> and X_j = -(w_k / n_b) <zeta_j, g_a>
(zeta = h - grad L_k; g_a is known once half A is drawn). Delyon's inequality, exp(x - x^2/6) <= 1 + x + x^2/3, makes
exp(lambda sum X - lambda^2 sum (X^2/6 + E[X^2 | past]/3)) a supermartingale, with
X_i^2 <= (w / n_a)^2 ||grad L||^2 (||h_i|| + Gbar)^2, E[X_i^2 | past] <= (w / n_a)^2 ||grad L||^2 V_k, and the same
for half B with ||g_a||^2 (`pair_first_norm_sq`, recorded) in place of ||grad L||^2. Half A's square terms are taken
from the left side as in the descent form (theta/2 of it, the excess at Gbar); half B's are paid as they are.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .certificate_noise import LAMBDA_COUNT, LAMBDA_MIN, LAMBDA_RATIO, THETA_GRID

PAIR_COLUMNS = ("grad_norm_sq_unbiased", "pair_first_norm_sq")
ESTIMATE_FAMILY = "Delyon on the run's own estimates U_k (no descent)"


def pair_norms(t: pd.DataFrame, independent: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(sum_i ||h_i||, sum_i ||h_i||^2, the batch's size) per step for the batch whose halves gave U_k: the training
    batch's (independent batches) or the fresh batch's (reshuffled epochs, the ghost's columns); None where a step
    lacks them or the pair."""
    steps = t.iloc[:-1]
    names = (("example_norm_sum", "example_norm_sq_sum") if independent
             else ("ghost_example_norm_sum", "ghost_example_norm_sq_sum", "ghost_batch"))
    if not all(c in t and np.isfinite(steps[c].to_numpy(float)).all() for c in (*names, *PAIR_COLUMNS)):
        return None
    s1, s2 = (steps[c].to_numpy(float) for c in names[:2])
    return s1, s2, steps[names[2]].to_numpy(float) if len(names) == 3 else None


def estimate_candidates(t: pd.DataFrame, weights: np.ndarray, norms: tuple[np.ndarray, np.ndarray, np.ndarray],
                        grad_bound: np.ndarray, variance: np.ndarray,
                        log_scale: float) -> list[tuple[float, float]]:
    """(theta, the martingale's bound N) for each lambda of the grid and each theta of THETA_GRID: with probability
    >= 1 - delta_m, for every pair, (1 - theta/2) sum w ||grad L||^2 <= sum w U + N, where
    N = log_scale / lambda + sum_k w_k Gbar_k^2 (u_k - theta/2)_+ + lambda W_B, u_k = lambda w_k (Q_k / 6 + V_k / 3)
    / n_a, W_B = sum_k w_k^2 ||g_a||^2 (Q'_k / 6 + V_k / 3) / n_b, and Q_k, Q'_k the whole batch's sum of
    (||h_i|| + Gbar_k)^2 over n_a, n_b (each half's sum is at most the batch's)."""
    s1, s2, size = norms
    n_a = np.floor(size / 2)  # `empirical.split_batch.Split.halves`: the first half has n // 2 examples
    n_b = size - n_a
    first_sq = np.maximum(t.iloc[:-1]["pair_first_norm_sq"].to_numpy(float), 0.0)
    spread = s2 + 2 * grad_bound * s1 + size * grad_bound ** 2  # sum over the batch of (||h_i|| + Gbar_k)^2
    share = weights * (spread / n_a / 6 + variance / 3) / n_a   # u_k / lambda
    paid = float((weights ** 2 * first_sq * (spread / n_b / 6 + variance / 3) / n_b).sum())
    weight = weights * grad_bound ** 2
    out = []
    for j in range(LAMBDA_COUNT):
        lam = LAMBDA_MIN * LAMBDA_RATIO ** j
        excess = (weight[None] * np.maximum(lam * share[None] - THETA_GRID[:, None] / 2, 0.0)).sum(1)
        out += [(float(theta), log_scale / lam + float(e) + lam * paid) for theta, e in zip(THETA_GRID, excess)]
    return out


def anchor_replicates(t: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """([steps, R] each anchor replicate's ||g_j||^2 in its order of drawing, [steps] its points) where every step
    has an anchor with R >= 3 replicates recorded (the trainer's `anchor_every = 1`); else None."""
    steps = t.iloc[:-1]
    names = sorted((c for c in t if c.startswith("anchor_replicate_sq.")), key=lambda c: int(c.rsplit(".", 1)[1]))
    if len(names) < 3 or not all(c in t for c in ("anchor_points", "anchor_grad_norm_sq")):
        return None
    squares, points = steps[names].to_numpy(float), steps["anchor_points"].to_numpy(float)
    if not (np.isfinite(squares).all() and np.isfinite(points).all()
            and np.isfinite(steps["anchor_grad_norm_sq"].to_numpy(float)).all()):
        return None
    return squares, points


def anchor_candidates(weights: np.ndarray, replicates: tuple[np.ndarray, np.ndarray], grad_bound: np.ndarray,
                      variance: np.ndarray, log_scale: float) -> list[tuple[float, float]]:
    """(theta, N) for the anchors' U-statistic U_k = mean_{i != j} <g_i, g_j> of R replicates of n points each, for
    each lambda and theta of the grids: (1 - theta/2) sum w ||grad L||^2 <= sum w U + N with probability
    >= 1 - delta_m. With g_j = grad L_k + alpha_j, S_{j-1} = g_1 + .. + g_{j-1} and c = 2 / (R (R - 1)),
    U_k - ||grad L_k||^2 = sum_j <alpha_j, c (S_{j-1} + (R - j) grad L_k)>: two martingales over the replicates, the
    part along grad L_k taken from the left side (theta/2 of it, the excess at Gbar) and the part along S_{j-1}
    (norm at most the sum of the earlier replicates' norms) paid, each by Delyon's inequality with E||alpha_j||^2 <= V_k
    / n and ||alpha_j|| <= ||g_j|| + Gbar_k, each at half of delta_m (log_scale is log(LAMBDA_COUNT / (delta_m / 2)))."""
    squares, points = replicates
    R = squares.shape[1]
    c = 2.0 / (R * (R - 1))
    norms = np.sqrt(np.maximum(squares, 0.0))
    before = np.concatenate([np.zeros((len(norms), 1)), np.cumsum(norms, axis=1)[:, :-1]], axis=1)  # >= ||S_{j-1}||
    spread = (norms + grad_bound[:, None]) ** 2 / 6 + (variance / (3 * points))[:, None]  # X^2/6 + E X^2/3 per weight
    along = np.arange(R - 1, -1, -1, dtype=float)  # R - j for j = 1..R
    share = weights * c * c * (along ** 2 * spread).sum(1)  # u_k / lambda, the part along grad L_k
    paid = float((weights ** 2 * c * c * (before ** 2 * spread).sum(1)).sum())
    lams = LAMBDA_MIN * LAMBDA_RATIO ** np.arange(LAMBDA_COUNT)
    best_paid = float(np.min(log_scale / lams + lams * paid))
    weight = weights * grad_bound ** 2
    out = []
    for lam in lams:
        excess = (weight[None] * np.maximum(lam * share[None] - THETA_GRID[:, None] / 2, 0.0)).sum(1)
        out += [(float(theta), log_scale / lam + float(e) + best_paid) for theta, e in zip(THETA_GRID, excess)]
    return out


def estimate_form(t: pd.DataFrame, weights: np.ndarray, candidates: list[tuple[float, float]], total: float,
                  column: str = "grad_norm_sq_unbiased") -> tuple[float, float, dict[str, float]] | None:
    """(the certificate, its theta, its parts) of the best candidate: (sum w U + N) / ((1 - theta/2) sum w), U the
    run's own estimates in `column`, parted into the estimate and the noise; None without candidates."""
    if not candidates:
        return None
    estimate = float((weights * t.iloc[:-1][column].to_numpy(float)).sum())
    theta, noise = (np.array(column, dtype=float) for column in zip(*candidates))
    value = (estimate + noise) / ((1 - theta / 2) * total)
    i = int(np.argmin(value))
    den = (1 - theta[i] / 2) * total
    return float(value[i]), float(theta[i]), {"estimate": float(estimate / den), "noise": float(noise[i] / den)}
