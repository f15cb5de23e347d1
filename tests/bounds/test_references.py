"""References the audit found missing: exact chi moments against scipy, the Lanczos probe on an operator with a
known spectrum, the IWAE and score-function variance bounds and the adaptive methods' M against measurements."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy import stats
from torch.func import grad, vmap

from bounds import derive as D
from bounds.rpoly import chi_moment
from bounds.spec import ObjectiveSpec, OptimizerSpec
from empirical.estimators import estimate
from empirical.functional import random_parameters
from empirical.probes import top_hessian_eigenvalue
from tests.bounds.test_vae_smoothness import data_point, score_spec, tiny_spec


@pytest.mark.parametrize("dim", [1, 2, 5, 16])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 7])
def test_chi_moments_match_scipy(dim, k):
    assert float(chi_moment(k, dim)) == pytest.approx(stats.chi(dim).moment(k), rel=1e-8)  # scipy integrates


def test_lanczos_finds_the_top_absolute_eigenvalue_of_a_known_spectrum():
    """0.5 theta^T Q diag(lam) Q^T theta: the probe must return max |lam|, here a negative one."""
    rng = np.random.default_rng(0)
    lam = np.concatenate([rng.uniform(-3, 3, 48), [-7.5, 6.0]])
    Q, _ = np.linalg.qr(rng.standard_normal((50, 50)))
    A = torch.as_tensor(Q @ np.diag(lam) @ Q.T)
    value, hvps = top_hessian_eigenvalue(lambda t: 0.5 * t @ A @ t, torch.zeros(50, dtype=torch.float64), tol=1e-8)
    assert value == pytest.approx(7.5, rel=1e-6) and hvps > 0


def measured_variance(spec, estimator: str, draws: int = 3000) -> float:
    """E||ghat - E ghat||^2 of the estimator that trains, B = spec.B points without replacement from six, K draws."""
    gen = torch.Generator().manual_seed(5)
    flat = random_parameters(spec, gen, corners=True)
    data = torch.stack([data_point(spec, gen) for _ in range(6)])
    K = spec.objective.K

    def one(idx, eps):
        return grad(lambda p: estimate(spec, p, data[idx], eps, estimator)[0])(flat)
    idx = torch.stack([torch.randperm(6, generator=gen)[:spec.B] for _ in range(draws)])
    eps = torch.randn(draws, spec.B, K, spec.model.latent_dim, generator=gen, dtype=torch.float64)
    g = vmap(one, randomness="same")(idx, eps)
    return float(((g - g.mean(0)) ** 2).sum(1).mean())


@pytest.mark.parametrize("name,make", [
    ("IWAE K=3", lambda: dataclasses.replace(tiny_spec(objective=ObjectiveSpec("iwae", 1.0, 3)), B=2)),
    ("score function", lambda: dataclasses.replace(score_spec(1.0), B=2)),
])
def test_variance_bounds_of_iwae_and_the_score_function(name, make, tightness):
    spec = make()
    bound = float(D.variance(spec).evaluate(D.spec_values(spec)))
    measured = measured_variance(spec, spec.estimator)
    tightness.record(f"mini-batch variance sigma^2 ({name})", measured, bound)
    assert measured <= bound


def test_M_bounds_the_largest_per_sample_gradient(tightness):
    """The adaptive methods' M (g(r) at ||eps|| = sqrt(d_z) + 6) against the largest per-sample gradient norm over
    random points of the set, data on the sphere and 2000 eps draws each."""
    spec = dataclasses.replace(tiny_spec(), optimizer=OptimizerSpec("adam"), B=1)
    M = D.spec_values(spec)["M"]
    gen = torch.Generator().manual_seed(6)
    worst = 0.0
    for trial in range(10):
        flat = random_parameters(spec, gen, corners=trial % 2 == 0)
        x = data_point(spec, gen)
        eps = torch.randn(2000, 1, 1, spec.model.latent_dim, generator=gen, dtype=torch.float64)
        g = vmap(lambda e: grad(lambda p: estimate(spec, p, x[None], e)[0])(flat))(eps)
        worst = max(worst, float(g.norm(dim=1).max()))
    tightness.record("adaptive methods' M (largest per-sample gradient)", worst, M)
    assert worst <= M
