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


def young_transport(t: pd.DataFrame, beta1: float, grad_bound: np.ndarray, grads: np.ndarray,
                    certified: np.ndarray) -> tuple[np.ndarray, ...]:
    """The transport's bound by ||grad L_k - grad L_j|| <= ||grad L_k|| + ||grad L_j||, in two parts: the k-part
    gamma_k c_kk ||grad L_k|| A_k (A_k = sum_{j<k} beta1^(k-j) a_j) and, the sum over k regrouped by j, the j-part
    ||grad L_j|| a_j (omega_j - gamma_j c_jj). Returns per step (k-part at Gbar_k, its Young coefficient
    (gamma_k c_kk A_k)^2 / (4 omega_k d_k), j-part at Gbar_j, its Young coefficient (a_j (omega_j - gamma_j c_jj))^2 /
    (4 omega_j d_j)); a Young coefficient is divided by its weight eta_3 and takes eta_3 of the left side for each part
    (`certificate_choice`); inf where d = 0."""
    steps = t.iloc[:-1]
    own = steps["lr"].to_numpy(float) * steps["momentum_weight"].to_numpy(float)
    k_part = own * (ema(grads, beta1) - grads)
    j_part = grads * (step_weights(t, beta1) - own)
    with np.errstate(divide="ignore", invalid="ignore"):
        young = lambda x: np.where(certified > 0, x * x / (4 * certified), np.inf)
        return k_part * grad_bound, young(k_part), j_part * grad_bound, young(j_part)


@dataclass(frozen=True)
class AdaptiveForm:
    """One kappa's form: the noise's and truncation's step weights omega_j r_j, and the terms it adds. lag_steps: the
    lag's per-step terms, gamma_k Gbar_k lag_k (Cauchy-Schwarz) and gamma_k^2 lag_k^2 / (4 omega_k d_k) (Young's,
    to be divided by its weight eta_2; inf where d_k = 0), for `certificate_choice`."""
    kappa: str
    noise_weights: np.ndarray
    terms: dict[str, float]
    lag_steps: tuple[np.ndarray, np.ndarray] | None = None
    transport_steps: tuple[np.ndarray, ...] | None = None  # `young_transport`'s four per-step arrays


def adaptive_forms(t: pd.DataFrame, beta1: float, lengths: np.ndarray, grad_bound: np.ndarray) -> list[AdaptiveForm]:
    """The form of every kappa of the trail (a union over them costs the martingale's share log(len(KAPPAS)))."""
    steps = t.iloc[:-1]
    omega, gammas = step_weights(t, beta1), steps["lr"].to_numpy(float)
    low, high = steps["precond_min"].to_numpy(float), steps["precond_max"].to_numpy(float)
    certified = omega * low  # the left side's weights omega_k d_k
    out = []
    for kappa in KAPPAS:
        name = kappa_name(kappa)
        lag = steps[f"precond_lag.{name}"].to_numpy(float)
        grads = steps[f"precond_grad.{name}"].to_numpy(float)
        top = high if math.isinf(kappa) else np.minimum(high, kappa * low)
        schwarz = gammas * grad_bound * lag
        with np.errstate(divide="ignore"):
            young = np.where(certified > 0, gammas ** 2 * lag ** 2 / (4 * certified), np.inf)
        terms = {"preconditioner lag": float(schwarz.sum()),
                 "momentum transport": transport(t, beta1, lengths, grad_bound, grads)}
        moved = young_transport(t, beta1, grad_bound, grads, certified) if beta1 > 0 else None
        out.append(AdaptiveForm(name, omega * top, terms, (schwarz, young), moved))
    return out
