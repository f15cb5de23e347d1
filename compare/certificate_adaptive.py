"""The certificate's form for an adaptive run (Adam, RMSProp, AdaGrad; independent batches or reshuffled epochs):
docs/derivations.md, "A certificate for an adaptive run".

The step Delta_k = gamma_k D_k mhat_k is split, with the trail the trainer records (`empirical.preconditioner_trail`),
into a predictable part and what it leaves over. Summed with the descent inequality,

    (1 - theta/2 - eta) sum_j omega_j <grad L_j, Dtilde_j grad L_j> <= gain + sum_k (L_k / 2) ||Delta_k||^2
        + sum_k gamma_k Gbar_k lag_k + sum_k gamma_k T_k + noise + truncation,

with omega_j = sum_{k >= j} gamma_k c_kj (deterministic), lag_k the recorded ||D_k mhat_k - Mtilde_k|| and T_k the
momentum's transport of the past gradients to theta_k. The left side is at least sum_j omega_j min(Dbar_j) ||grad
L_j||^2, so the certified quantity is the average of ||grad L_j||^2 with weights omega_j min(Dbar_j). The noise and the
truncation are SGD's with gamma_j replaced by omega_j r_j, r_j the capped preconditioner's largest entry: SGD is the
case omega = gamma, Dtilde = I, lag = T = 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from empirical.preconditioner_trail import KAPPAS, kappa_name, trail_columns


def has_trail(t: pd.DataFrame) -> bool:
    """Whether every step recorded the adaptive trail."""
    steps = t.iloc[:-1]
    return all(c in t and np.isfinite(steps[c].to_numpy(float)).all() for c in trail_columns())


def ema(x: np.ndarray, beta: float) -> np.ndarray:
    """y_k = beta y_{k-1} + x_k, y_{-1} = 0 (a first-order recursive filter: one vectorised pass)."""
    return lfilter([1.0], [1.0, -beta], np.asarray(x, dtype=float))


def step_weights(t: pd.DataFrame, beta1: float) -> np.ndarray:
    """omega_j = sum_{k=j}^{n-1} gamma_k c_kj with c_kj = c_kk beta1^(k-j): how much of ghat_j the run's steps took in
    all (the backward recursion omega_j = gamma_j c_jj + beta1 omega_{j+1})."""
    steps = t.iloc[:-1]
    own = steps["lr"].to_numpy(float) * steps["momentum_weight"].to_numpy(float)
    return ema(own[::-1], beta1)[::-1]


def weights(t: pd.DataFrame, beta1: float) -> np.ndarray:
    """The certified average's weights omega_j min(Dbar_j)."""
    return step_weights(t, beta1) * t.iloc[:-1]["precond_min"].to_numpy(float)


def transport(t: pd.DataFrame, beta1: float, lengths: np.ndarray, grad_bound: np.ndarray, grads: np.ndarray) -> float:
    """sum_k gamma_k T_k >= sum_k gamma_k sum_{j<k} c_kj |<grad L_k - grad L_j, Dtilde_j ghat_j>|, with
    ||grad L_k - grad L_j|| at most the path's sum_{l=j}^{k-1} lengths_l (lengths_l = L_l ||Delta_l||) and at most
    Gbar_k + Gbar_j; grads_j = ||Dtilde_j ghat_j||. Each k takes the smaller of the two sums."""
    if beta1 == 0:
        return 0.0
    steps = t.iloc[:-1]
    A = ema(grads, beta1)                       # sum_{j<=k} beta1^(k-j) a_j
    C = ema(grads * grad_bound, beta1)          # sum_{j<=k} beta1^(k-j) a_j Gbar_j
    carried = np.concatenate([[0.0], (lengths * A)[:-1]])  # lengths_{k-1} A_{k-1}
    P = ema(beta1 * carried, beta1)             # P_k = beta1 (P_{k-1} + lengths_{k-1} A_{k-1})
    Q = grad_bound * (A - grads) + (C - grads * grad_bound)
    own = steps["lr"].to_numpy(float) * steps["momentum_weight"].to_numpy(float)
    return float((own * np.minimum(P, Q)).sum())


@dataclass(frozen=True)
class AdaptiveForm:
    """One kappa's form: the noise's and truncation's step weights omega_j r_j, and the terms it adds."""
    kappa: str
    noise_weights: np.ndarray
    terms: dict[str, float]


def adaptive_forms(t: pd.DataFrame, beta1: float, lengths: np.ndarray, grad_bound: np.ndarray) -> list[AdaptiveForm]:
    """The form of every kappa of the trail (a union over them costs the martingale's share log(len(KAPPAS)))."""
    steps = t.iloc[:-1]
    omega, gammas = step_weights(t, beta1), steps["lr"].to_numpy(float)
    low, high = steps["precond_min"].to_numpy(float), steps["precond_max"].to_numpy(float)
    out = []
    for kappa in KAPPAS:
        name = kappa_name(kappa)
        lag = steps[f"precond_lag.{name}"].to_numpy(float)
        grads = steps[f"precond_grad.{name}"].to_numpy(float)
        top = high if math.isinf(kappa) else np.minimum(high, kappa * low)
        terms = {"preconditioner lag": float((gammas * grad_bound * lag).sum()),
                 "momentum transport": transport(t, beta1, lengths, grad_bound, grads)}
        out.append(AdaptiveForm(name, omega * top, terms))
    return out
