"""The certificate's terms beyond plain SGD on independent batches (docs/derivations.md, "A certificate for the run"):
reshuffled epochs and projected steps.

Reshuffled epochs: with batches drawn without replacement from a permutation of the N training points, E[ghat_k | past]
is the mean gradient of the points not yet drawn this epoch, not grad L(theta_k). Split the noise as
ghat_k - grad L_k = (ghat_k - gbar_k) + (gbar_k - grad L_k), gbar_k(theta) the batch's mean of the examples' expected
gradients grad l_i(theta). The first part is a martingale given the batch (the eps draws: the certificate's noise
term). The second gives S = -sum_k gamma_k phi_k(theta_k) with phi_k(theta) = <grad L(theta), gbar_k(theta) -
grad L(theta)>, bounded path by path: over an epoch the examples drawn sum to N grad L at any fixed theta, less the
undrawn ones, so at the epoch's first iterate theta_s the phi_k nearly cancel, and each phi_k moves from theta_s to
theta_k by at most its Lipschitz constant times ||theta_k - theta_s||.
The ghost form replaces that term where the run recorded a ghost batch (a fresh batch with replacement, unbiased
given the past): ghat_k - grad L_k = (ghost_k - grad L_k) + (ghat_k - ghost_k), the first the martingale, the second
measured: gamma ||grad L_k|| ||ghat_k - ghost_k|| joins the truncation's bias in Young's inequality (`certificate`).

Projected steps: theta_{k+1} = theta_k + gamma ghat_k - p_k with p_k the projection's correction, so the descent
inequality gains <grad L_k, p_k> <= Gbar_k ||p_k|| (the recorded projection_distance).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from empirical.example_norms import GHOST_COLUMNS
from .certificate_noise import step_lengths

# trace columns of per-iterate norms, and whether their hull takes the running maximum (True) or minimum
HULL_COLUMNS = {"inf_norm_theta": True, "inf_norm_phi": True, "logvar_low": False, "logvar_high": True}
HULL_PREFIXES = ("frobenius_norm.", "spectral_bound.", "bias_norm.")


def epoch_hull(t: pd.DataFrame) -> pd.DataFrame:
    """The steps' rows (iterates theta_0..theta_{n-1}) with each norm column replaced by its extreme over the epoch's
    iterates so far, theta_s..theta_k: the segment [theta_s, theta_k] lies in their convex hull, and a norm is convex
    (the log-variances' range: their running minimum and maximum). Plus one dummy last row, as
    `certificate_settings.segment_values` reads iterates 0..n."""
    steps = t.iloc[:-1].reset_index(drop=True)
    out = steps.copy()
    groups = steps.groupby("epoch", sort=False)
    for column in steps.columns:
        upper = HULL_COLUMNS.get(column, True if column.startswith(HULL_PREFIXES) else None)
        if upper is not None:
            out[column] = groups[column].cummax() if upper else groups[column].cummin()
    return pd.concat([out, out.iloc[-1:]], ignore_index=True)


def distances(t: pd.DataFrame) -> np.ndarray:
    """D_k >= ||theta_k - theta_s|| (theta_s the epoch's first iterate): the path's length since (`step_lengths`)."""
    steps = t.iloc[:-1]
    length = step_lengths(t)
    travelled = pd.Series(length).groupby(steps["epoch"].to_numpy()).cumsum().to_numpy()
    return travelled - length


def reshuffling_term(t: pd.DataFrame, n_train: int, B: int, L_hull: np.ndarray, M_hull: np.ndarray,
                     grad_bound: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, dict[str, float]]:
    """An upper bound on S = -sum_k gamma_k <grad L_k, gbar_k - grad L_k>, valid wherever grad_bound bounds
    ||grad L(theta_k)||, L_hull[k] bounds every example's Hessian on the hull of theta_s..theta_k and M_hull[k]
    every example's expected gradient there (so at k = s, at theta_s). With c_e B the epoch's mean step size, U_e the
    points it drew and Gbar_s, M_s at its first iterate:

        S <= sum_k gamma_k min(D_k L_k (M_k + 3 min(M_k, Gbar_s + L_k D_k)),          (phi_k moves: its gradient,
                               min(L_k D_k, Gbar_k + Gbar_s) (M_k + Gbar_k) + 2 Gbar_s L_k D_k)   or split in two)
             + sum_k |gamma_k - c_e B| Gbar_s (M_s + Gbar_s)                        (the steps differ in an epoch)
             + sum_e c_e min(U_e, N - U_e) Gbar_s (M_s + Gbar_s)                    (the points not drawn)

    weights: other weights in place of gamma_k (an adaptive run's omega_k min Dbar_k; the bound holds path by path for
    any). Returns the bound and its three parts."""
    steps = t.iloc[:-1].reset_index(drop=True)
    gammas = steps["lr"].to_numpy(float) if weights is None else weights
    epochs = steps["epoch"].to_numpy()
    D = distances(t)
    first = steps.groupby("epoch", sort=False).cumcount().to_numpy() == 0
    start = np.maximum.accumulate(np.where(first, np.arange(len(steps)), 0))  # each step's epoch's first step
    G_s, M_s = grad_bound[start], M_hull[start]
    # |phi_k(theta_k) - phi_k(theta_s)|, two ways (the smaller is used): its gradient along the segment, or
    # <grad L_k - grad L_s, gbar_k - grad L_k> + <grad L_s, (gbar_k - grad L_k) - (gbar_k - grad L)(theta_s)>
    along = D * L_hull * (M_hull + 3 * np.minimum(M_hull, G_s + L_hull * D))
    split = np.minimum(L_hull * D, grad_bound + G_s) * (M_hull + grad_bound) + 2 * G_s * L_hull * D
    moving = gammas * np.minimum(along, split)
    per_epoch = pd.DataFrame({"epoch": epochs, "gamma": gammas}).groupby("epoch", sort=False)["gamma"]
    mean_gamma = per_epoch.transform("mean").to_numpy()
    at_start = G_s * (M_s + G_s)
    uneven = np.abs(gammas - mean_gamma) * at_start
    drawn = per_epoch.transform("size").to_numpy() * B
    undrawn = (mean_gamma / B * np.minimum(drawn, np.maximum(n_train - drawn, 0)) * at_start)[first]
    parts = {"moving": float(moving.sum()), "uneven steps": float(uneven.sum()), "undrawn": float(undrawn.sum())}
    return sum(parts.values()), parts


DISTANCE_ROUNDING = 1e-3  # relative margin on the recorded float32 projection distances


def projection_term(t: pd.DataFrame, grad_bound: np.ndarray) -> float:
    """sum_k Gbar_k ||p_k|| >= sum_k <grad L(theta_k), p_k>, p_k the projection's correction at step k (0 where it did
    not act), valid wherever grad_bound bounds ||grad L(theta_k)||. The steps stay no longer than gamma ||ghat||
    (a projection onto a convex set that holds theta_k is non-expansive), so the other terms are unchanged."""
    distance = t.iloc[:-1]["projection_distance"].to_numpy(float)
    return float((grad_bound * distance * (1 + DISTANCE_ROUNDING)).sum())


def has_ghost(t: pd.DataFrame) -> bool:
    """Whether every step recorded its ghost batch (`empirical.example_norms`: runs on reshuffled epochs)."""
    steps = t.iloc[:-1]
    return all(c in t and np.isfinite(steps[c].to_numpy(float)).all() for c in GHOST_COLUMNS)


def ghost_view(t: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(t with the ghost batch's example norms in the example-norm columns, its sizes B'_k, ||ghat_k - ghost_k||
    with a relative margin for the float32 sum) for the ghost form: the martingale is the ghost's, centred at
    grad L(theta_k), and the gap enters by Young's inequality with the truncation's bias (`certificate`)."""
    steps = t.iloc[:-1]
    view = t.assign(example_norm_sum=t["ghost_example_norm_sum"], example_norm_sq_sum=t["ghost_example_norm_sq_sum"])
    gap = np.sqrt(np.maximum(steps["ghost_gap_sq"].to_numpy(float), 0.0)) * (1 + DISTANCE_ROUNDING)
    return view, steps["ghost_batch"].to_numpy(float), gap
