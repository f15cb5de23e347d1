"""Black-box VI on a Bayesian logistic regression posterior: L_P and L_S against measured Hessians."""
from __future__ import annotations

import pytest
import torch
from torch.func import hessian

from bounds.objectives.bbvi import bbvi_smoothness, bbvi_variance
from tests.helpers import top_abs_eig

DIM, S0 = 2, 1.5
VALUES = dict(mu_max=1.0, logvar_min=-2.0, logvar_max=0.5, K=4)


def target():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(10, DIM, generator=gen, dtype=torch.float64)
    y = torch.sign(torch.randn(10, generator=gen, dtype=torch.float64))
    log_p = lambda z: -(z @ z) / (2 * S0**2) + torch.nn.functional.logsigmoid(y * (X @ z)).sum()
    consts = dict(M2=1 / S0**2 + float(torch.linalg.matrix_norm(X, 2)) ** 2 / 4,
                  M1=float((y[:, None] * X).sum(0).norm()) / 2, M0=10 * float(torch.log(torch.tensor(2.0))))
    return log_p, consts


def elbo_sample(log_p, phi, eps):
    mu, v = phi[:DIM], phi[DIM:]
    return log_p(mu + torch.exp(v / 2) * eps) + 0.5 * v.sum()


@pytest.mark.parametrize("estimator", ["pathwise", "score"])
def test_bbvi_smoothness_bounds_the_expected_hessian(estimator, tightness):
    log_p, consts = target()
    L = bbvi_smoothness(DIM, estimator).evaluate({**VALUES, **consts})
    gen = torch.Generator().manual_seed(1)
    eps = torch.randn(96, DIM, generator=gen, dtype=torch.float64)
    for _ in range(6):
        mu = VALUES["mu_max"] * (2 * torch.rand(DIM, generator=gen, dtype=torch.float64) - 1)
        v = -2.0 + 2.5 * torch.rand(DIM, generator=gen, dtype=torch.float64)
        phi = torch.cat([mu, v])
        H = sum(hessian(lambda p: elbo_sample(log_p, p, e))(phi) for e in eps) / len(eps)
        tightness.record(f"BBVI {estimator}", top_abs_eig(H), L)
        assert top_abs_eig(H) <= L


def test_bbvi_variance_bounds_the_measured_variance(tightness):
    log_p, consts = target()
    bound = bbvi_variance(DIM).evaluate({**VALUES, **consts})
    phi = torch.tensor([1.0, -1.0, 0.5, 0.5], dtype=torch.float64)
    gen = torch.Generator().manual_seed(2)
    eps = torch.randn(4000, VALUES["K"], DIM, generator=gen, dtype=torch.float64)
    g = torch.func.vmap(torch.func.grad(lambda p, e: elbo_sample(log_p, p, e)), in_dims=(None, 0))
    ghat = g(phi, eps.reshape(-1, DIM)).reshape(4000, VALUES["K"], -1).mean(1)
    measured = float(((ghat - ghat.mean(0)) ** 2).sum(1).mean())
    tightness.record("BBVI variance", measured, bound)
    assert measured <= bound


# Beyond location-scale: binary latents, product-Bernoulli family, measured exactly by enumerating {0, 1}^d.
BIN_DIM, LOGIT_MAX = 3, 2.0
STATES = torch.cartesian_prod(*[torch.tensor([0.0, 1.0], dtype=torch.float64)] * BIN_DIM)


def binary_target() -> torch.Tensor:
    """log p(x, z) for every z: prior Bernoulli(0.3) per coordinate, x | z ~ N(W z, I) at one fixed x."""
    gen = torch.Generator().manual_seed(3)
    W = torch.randn(4, BIN_DIM, generator=gen, dtype=torch.float64)
    x = torch.randn(4, generator=gen, dtype=torch.float64)
    log_prior = (STATES * torch.log(torch.tensor(0.3)) + (1 - STATES) * torch.log(torch.tensor(0.7))).sum(1)
    return log_prior - 0.5 * ((x - STATES @ W.T) ** 2).sum(1) - 2 * torch.log(torch.tensor(2 * torch.pi))


def log_q(phi: torch.Tensor) -> torch.Tensor:
    return (STATES * torch.nn.functional.logsigmoid(phi) + (1 - STATES) * torch.nn.functional.logsigmoid(-phi)).sum(1)


def exact_elbo(phi: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    lq = log_q(phi)
    return (lq.exp() * (log_p - lq)).sum()


def bernoulli_values(log_p: torch.Tensor) -> dict:
    return dict(Mp=float(log_p.abs().max()), logit_max=LOGIT_MAX, K=2)


def test_bernoulli_family_smoothness_bounds_the_exact_hessian(tightness):
    from bounds.objectives.bbvi import bbvi_bernoulli_smoothness
    log_p = binary_target()
    L = bbvi_bernoulli_smoothness(BIN_DIM).evaluate(bernoulli_values(log_p))
    gen = torch.Generator().manual_seed(4)
    for _ in range(50):
        phi = LOGIT_MAX * (2 * torch.rand(BIN_DIM, generator=gen, dtype=torch.float64) - 1)
        measured = top_abs_eig(hessian(lambda p: exact_elbo(p, log_p))(phi))
        tightness.record("BBVI product-Bernoulli score L_S", measured, L)
        assert measured <= L


def test_bernoulli_family_variance_bounds_the_exact_variance(tightness):
    from bounds.objectives.bbvi import bbvi_bernoulli_variance
    log_p = binary_target()
    values = bernoulli_values(log_p)
    bound = bbvi_bernoulli_variance(BIN_DIM).evaluate(values)
    gen = torch.Generator().manual_seed(5)
    for _ in range(50):
        phi = LOGIT_MAX * (2 * torch.rand(BIN_DIM, generator=gen, dtype=torch.float64) - 1)
        q = log_q(phi).exp()
        per_state = (log_p - log_q(phi))[:, None] * (STATES - torch.sigmoid(phi))  # f(z) s(z)
        mean = (q[:, None] * per_state).sum(0)
        assert torch.allclose(mean, torch.func.grad(exact_elbo)(phi, log_p))  # the estimator is unbiased
        measured = float((q * ((per_state - mean) ** 2).sum(1)).sum()) / values["K"]
        tightness.record("BBVI product-Bernoulli score variance", measured, bound)
        assert measured <= bound


def test_bernoulli_family_has_no_pathwise_route():
    from bounds.objectives.bbvi import bbvi_bernoulli_smoothness
    with pytest.raises(ValueError, match="estimator='pathwise' is invalid"):
        bbvi_bernoulli_smoothness(BIN_DIM, "pathwise")
