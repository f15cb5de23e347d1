"""The adaptive certificate's sums (compare/certificate_adaptive.py) against their definitions, summed term by term:
omega_j = sum_{k>=j} gamma_k c_kj, and the momentum's transport sum_k gamma_k sum_{j<k} c_kj a_j min-bound."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from compare.certificate_adaptive import step_weights, transport, young_transport


def path(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = pd.DataFrame({"lr": np.r_[0.1 / np.sqrt(np.arange(1, n + 1)), np.nan],
                      "momentum_weight": np.r_[0.1 / (1 - 0.9 ** np.arange(1, n + 1)), np.nan]})
    return t, rng.random(n) * 3, rng.random(n) * 5, rng.random(n)


@pytest.mark.parametrize("beta1", [0.0, 0.5, 0.9])
def test_the_step_weights_and_the_transport_are_their_sums(beta1):
    n = 40
    t, lengths, grad_bound, grads = path(n, 1)
    gammas, own = t["lr"].to_numpy()[:n], t["momentum_weight"].to_numpy()[:n]
    c = lambda k, j: own[k] * beta1 ** (k - j)
    omega = [sum(gammas[k] * c(k, j) for k in range(j, n)) for j in range(n)]
    np.testing.assert_allclose(step_weights(t, beta1), omega, rtol=1e-12)
    expected = 0.0
    for k in range(1, n):
        along = sum(c(k, j) * grads[j] * lengths[j:k].sum() for j in range(k))
        split = sum(c(k, j) * grads[j] * (grad_bound[k] + grad_bound[j]) for j in range(k))
        expected += gammas[k] * min(along, split)
    assert transport(t, beta1, lengths, grad_bound, grads) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("beta1", [0.5, 0.9])
def test_young_transport_splits_the_transport_into_its_two_parts(beta1):
    """young_transport's parts, summed, are the transport's bound with ||grad L_k - grad L_j|| <= Gbar_k + Gbar_j,
    sum_k gamma_k sum_{j<k} c_kj a_j (Gbar_k + Gbar_j), split into the k-part and the j-part regrouped by j; each Young
    coefficient is the square of its part's weight over 4 omega d (and 4 eta x coefficient + eta omega d Gbar^2 is at
    least the part at Gbar: Young's inequality, checked at eta = 0.05)."""
    n = 40
    t, _, grad_bound, grads = path(n, 2)
    gammas, own = t["lr"].to_numpy()[:n], t["momentum_weight"].to_numpy()[:n]
    c = lambda k, j: own[k] * beta1 ** (k - j)
    d = np.random.default_rng(3).random(n) + 0.1
    certified = step_weights(t, beta1) * d
    k_cs, k_young, j_cs, j_young = young_transport(t, beta1, grad_bound, grads, certified)
    k_weight = [gammas[k] * sum(c(k, j) * grads[j] for j in range(k)) for k in range(n)]
    j_weight = [grads[j] * sum(gammas[k] * c(k, j) for k in range(j + 1, n)) for j in range(n)]
    np.testing.assert_allclose(k_cs, np.array(k_weight) * grad_bound, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(j_cs, np.array(j_weight) * grad_bound, rtol=1e-10, atol=1e-14)
    whole = sum(gammas[k] * c(k, j) * grads[j] * (grad_bound[k] + grad_bound[j]) for k in range(n) for j in range(k))
    assert k_cs.sum() + j_cs.sum() == pytest.approx(whole, rel=1e-12)
    np.testing.assert_allclose(k_young, np.array(k_weight) ** 2 / (4 * certified), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(j_young, np.array(j_weight) ** 2 / (4 * certified), rtol=1e-10, atol=1e-14)
    for cs, young in ((k_cs, k_young), (j_cs, j_young)):  # x G <= eta w G^2 + x^2 / (4 eta w) for every G
        assert (cs <= 0.05 * certified * grad_bound ** 2 + young / 0.05 + 1e-12).all()


def test_the_measured_constants_are_the_runs_largest():
    from compare.certificate_measured import measured_constants
    t = pd.DataFrame({"hessian_top_eig": [np.nan, -4.0, 2.0, np.nan], "example_norm_sq_sum": [9.0, 16.0, 1.0, np.nan]})
    assert measured_constants(t) == (4.0, 4.0)
    assert measured_constants(t.drop(columns=["hessian_top_eig"])) is None
    assert measured_constants(t.assign(hessian_top_eig=np.nan)) is None


def test_the_vectorised_choice_is_the_brute_force_minimum():
    """`certificate_choice.best_of` (vectorised over the candidates, eta in closed form) against the obvious
    reference: every candidate, every way of bounding the adaptive terms (`young_options`) and eta on a fine grid,
    the value (fixed + bias / eta) / ((1 - theta/2 - taken - eta) total) computed one by one; and `young_options`'
    terms against their per-step minima summed by hand."""
    from compare.certificate_choice import ETA2_GRID, best_of, young_options
    rng = np.random.default_rng(7)
    n = 30
    lag_steps = (rng.random(n) * 2, np.r_[np.inf, rng.random(n - 1) * 0.05])
    transport_steps = (rng.random(n), rng.random(n) * 0.02, rng.random(n), np.r_[np.inf, rng.random(n - 1) * 0.02])
    extra = {"preconditioner lag": float(lag_steps[0].sum()), "momentum transport": 3.0, "reshuffling": 0.5}
    options = young_options(extra, lag_steps, transport_steps)
    assert len(options) == 1 + 3 * len(ETA2_GRID)
    e = ETA2_GRID[5]
    by_hand = sum(min(a, b / e) for a, b in zip(*lag_steps))
    assert any(taken == e and terms["preconditioner lag"] == pytest.approx(by_hand) for taken, _, terms in options)
    candidates = [(float(theta), float(noise)) for theta, noise in zip(rng.uniform(0.01, 1.8, 60), rng.random(60) * 5)]
    gain, curvature, bias, truncation, total = 1.2, 0.4, 0.3, 0.1, 2.5
    best = best_of(None, candidates, gain, curvature, extra, bias, truncation, total, True, "1", "family",
                   lag_steps, transport_steps)
    value = sum(best[1].values())
    reference = np.inf
    for theta, noise in candidates:
        for taken, _, terms in options:
            room = 1 - theta / 2 - taken
            if room <= 0:
                continue
            etas = np.linspace(room * 1e-5, room * (1 - 1e-5), 20001)
            fixed = gain + curvature + noise + extra["reshuffling"] + sum(terms.values())
            reference = min(reference, float(((fixed + bias / etas) / ((room - etas) * total)).min()))
    assert reference * (1 - 1e-3) <= value <= reference * (1 + 1e-9)
