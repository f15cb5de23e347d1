"""The adaptive certificate's sums (compare/certificate_adaptive.py) against their definitions, summed term by term:
omega_j = sum_{k>=j} gamma_k c_kj, and the momentum's transport sum_k gamma_k sum_{j<k} c_kj a_j min-bound."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from compare.certificate_adaptive import step_weights, transport


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


def test_the_measured_constants_are_the_runs_largest():
    from compare.certificate_measured import measured_constants
    t = pd.DataFrame({"hessian_top_eig": [np.nan, -4.0, 2.0, np.nan], "example_norm_sq_sum": [9.0, 16.0, 1.0, np.nan]})
    assert measured_constants(t) == (4.0, 4.0)
    assert measured_constants(t.drop(columns=["hessian_top_eig"])) is None
    assert measured_constants(t.assign(hessian_top_eig=np.nan)) is None
