"""Black-box VI as a spec (`ModelSpec(kind="logistic")`): L, sigma^2 and the objective gap of the Bayesian
logistic regression against what they bound, measured on the objective exactly as `empirical` trains it (valid and
tight tiers). The Gaussian family's expectations over eps are a quadrature of fresh draws; the product-Bernoulli
family's are exact sums over its 2^d states."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.func import grad, hessian, vmap

from bounds import derive as D
from bounds.spec import ModelSpec, ObjectiveSpec, OptimizerSpec, ParameterBound, VAESpec
from empirical.functional import bernoulli_family_elbo, logistic_parts, random_parameters
from tests.helpers import top_abs_eig

N_ROWS, DIM, RADIUS = 6, 3, 2.0


def logistic_spec(family: str = "gaussian", estimator: str = "pathwise", B: int = 1, K: int = 1) -> VAESpec:
    """A small logistic-regression posterior: 6 rows in R^3 of norm <= 2, |mu_j| (or |phi_j|) <= 1."""
    model = ModelSpec(kind="logistic", data_dim=DIM, latent_dim=DIM, encoder_widths=(), decoder_widths=(),
                      data_bound=RADIUS, logvar_min=-4.0, logvar_max=0.5, n_observations=N_ROWS, family=family)
    return VAESpec(model=model, objective=ObjectiveSpec("elbo", K=K), estimator=estimator,
                   optimizer=OptimizerSpec("sgd", C_gamma=1e-3), weight_bound=ParameterBound(a=1.0), B=B, n=100)


def rows(seed: int = 0) -> torch.Tensor:
    """N_ROWS label-signed rows, their norms spread over (0, RADIUS], one on the sphere."""
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(N_ROWS, DIM, generator=gen, dtype=torch.float64)
    scale = RADIUS * torch.linspace(0.3, 1.0, N_ROWS, dtype=torch.float64)
    return u / u.norm(dim=1, keepdim=True) * scale[:, None]


def per_example(spec: VAESpec, eps: torch.Tensor):
    """theta, u -> the per-example objective E_eps f(u) (Gaussian: the quadrature eps; Bernoulli: exact)."""
    if spec.model.family == "bernoulli":
        return lambda theta, u: bernoulli_family_elbo(spec, theta, u[None])[0]

    def f(theta, u):
        log_lik, log_prior, log_q = logistic_parts(spec, theta, u.expand(len(eps), -1), eps)
        return (log_lik + log_prior - log_q).mean()
    return f


def points(spec: VAESpec, gen: torch.Generator, count: int = 6) -> list[torch.Tensor]:
    """Random points of the box, corners among them, and the structured point where the likelihood curves most:
    mu = 0 (every u . z near 0, where log sigmoid'' = -1/4) and the smallest variances."""
    out = [random_parameters(spec, gen, corners=i % 2 == 0) for i in range(count)]
    centre = torch.zeros(spec.n_parameters, dtype=torch.float64)
    if spec.layout.logvars is not None:
        centre[spec.layout.logvars] = spec.model.logvar_min
    return out + [centre]


@pytest.mark.parametrize("family, estimator", [("gaussian", "pathwise"), ("gaussian", "score"),
                                               ("bernoulli", "score")])
def test_smoothness_bounds_every_examples_expected_hessian(family, estimator, tightness):
    spec = logistic_spec(family, estimator)
    L = float(D.smoothness(spec).evaluate(D.spec_values(spec)))
    gen = torch.Generator().manual_seed(1)
    f = per_example(spec, torch.randn(2048, DIM, generator=gen, dtype=torch.float64))
    worst = max(top_abs_eig(hessian(f)(theta, u)) for theta in points(spec, gen) for u in rows())
    tightness.record(f"logistic BBVI {family} L ({estimator})", worst, L)
    assert worst <= L, (worst, L)


def draw_gradients(spec: VAESpec, theta: torch.Tensor, u: torch.Tensor, gen: torch.Generator, draws: int):
    """`draws` one-draw gradient estimates of the trained estimator at one row (B = K = 1)."""
    from empirical.estimators import estimate
    eps = torch.randn(draws, 1, DIM, generator=gen, dtype=torch.float64)
    one = lambda th, e: estimate(spec, th, u[None], e[None])[0]
    return vmap(grad(one), in_dims=(None, 0))(theta, eps)


@pytest.mark.parametrize("family, estimator", [("gaussian", "pathwise"), ("gaussian", "score"),
                                               ("bernoulli", "score")])
def test_variance_bounds_the_estimators_variance(family, estimator, tightness):
    """B = K = 1: Var = E_{row, eps}||g - E g||^2, exact over the rows, by 4,000 draws per row."""
    spec = logistic_spec(family, estimator)
    bound = float(D.variance(spec).evaluate(D.spec_values(spec)))
    gen = torch.Generator().manual_seed(2)
    worst = 0.0
    for theta in points(spec, gen, count=3):
        G = torch.cat([draw_gradients(spec, theta, u, gen, 4000 if family == "gaussian" else 1500) for u in rows()])
        worst = max(worst, float(((G - G.mean(0)) ** 2).sum(1).mean()))
    tightness.record(f"logistic BBVI {family} variance ({estimator})", worst, bound)
    assert worst <= bound, (worst, bound)


@pytest.mark.parametrize("family", ["gaussian", "bernoulli"])
def test_objective_gap_bounds_the_objectives_range(family, tightness):
    """sup - inf of E_q f over box points and rows, against the certified L_star; and the objective's ceiling."""
    spec = logistic_spec(family, "pathwise" if family == "gaussian" else "score")
    gap = float(D.objective_gap(spec).evaluate(D.spec_values(spec)))
    gen = torch.Generator().manual_seed(3)
    f = per_example(spec, torch.randn(4096, DIM, generator=gen, dtype=torch.float64))
    extremes = [random_parameters(spec, gen, corners=True) for _ in range(8)]
    if spec.layout.logvars is not None:  # the largest variances spread z the most
        for theta in extremes:
            theta[spec.layout.logvars] = spec.model.logvar_max
    values = torch.tensor([float(f(theta, u)) for theta in points(spec, gen) + extremes for u in rows()])
    measured = float(values.max() - values.min())
    tightness.record(f"logistic BBVI {family} objective gap", measured, gap)
    assert measured <= gap, (measured, gap)
    assert float(values.max()) <= D.objective_upper_bound(spec)


def test_the_bound_needs_the_spec_it_trains():
    """The logistic model refuses what it would ignore or cannot train, naming the setting."""
    from bounds.validate import SpecError
    spec = logistic_spec()
    with pytest.raises(SpecError, match="estimator"):
        dataclasses.replace(logistic_spec("bernoulli", "score"), estimator="pathwise")
    with pytest.raises(SpecError, match="encoder_widths"):
        dataclasses.replace(spec.model, encoder_widths=(4,))
    with pytest.raises(SpecError, match="latent_dim"):
        dataclasses.replace(spec.model, latent_dim=DIM + 1)
    with pytest.raises(SpecError, match="objective"):
        dataclasses.replace(spec, objective=ObjectiveSpec("iwae", K=2))
    with pytest.raises(SpecError, match="n_observations"):
        ModelSpec(n_observations=5)
    with pytest.raises(SpecError, match="n_observations"):
        dataclasses.replace(spec.model, n_observations=0)


def test_the_bounds_grow_with_the_data_as_derived():
    """L and sigma^2 grow with N and R_x (the target's M2 = N R_x^2 / 4 + 1), and the score estimator's sigma^2 is
    the larger, as its |f| factor says."""
    spec = logistic_spec()
    values = D.spec_values(spec)
    L = lambda s, **kw: float(D.smoothness(s).evaluate({**D.spec_values(s), **kw}))
    assert L(spec, R_x=2 * RADIUS) > L(spec)
    bigger = dataclasses.replace(spec, model=dataclasses.replace(spec.model, n_observations=2 * N_ROWS))
    assert L(bigger) > L(spec)
    score = dataclasses.replace(spec, estimator="score")
    assert float(D.variance(score).evaluate(values)) > float(D.variance(spec).evaluate(values))
