"""References the audit found missing: exact chi moments against scipy, the Lanczos probe on an operator with a
known spectrum."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from bounds.rpoly import chi_moment
from empirical.probes import top_hessian_eigenvalue


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
