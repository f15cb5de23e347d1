"""The adversarial soundness search (slow set): projected ascent on the top |eigenvalue| of the expected objective's
Hessian, over parameters in the box and data in the data ball, for every kind of spec the bounds cover; and on the
mini-batch estimator's variance. The expectation over eps is a fixed quadrature (the same draws at every step), so
each search maximises one deterministic function. Any point above the derived constant fails the test; the worst
ratios go to the tightness table with the other bound tests.
"""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch.func import grad, hessian, vmap

from bounds import derive as D
from bounds.spec import ActivationSpec, ModelSpec, ObjectiveSpec, VAESpec
from empirical.functional import iwae_objective, linear_elbo, log_weight, random_parameters
from tests.problems import TINY_BOUNDED as TINY, tiny_spec

pytestmark = pytest.mark.slow

STARTS, STEPS, QUADRATURE = 240, 12, 16

SPECS = {
    "linear 4-2": VAESpec(model=dataclasses.replace(TINY, kind="linear", data_dim=4, latent_dim=2),
                          weight_bound=tiny_spec().weight_bound),
    "deep Gaussian, tanh, identity output": tiny_spec(activation=ActivationSpec("tanh"), decoder_output="identity"),
    "deep Gaussian, soft-clip": tiny_spec(),
    "IWAE K=3, soft-clip": tiny_spec(objective=ObjectiveSpec("iwae", 1.0, 3)),
    "Bernoulli decoder, soft-clip": tiny_spec(kind="bernoulli", data_bound=3 ** 0.5),
}


def objective(spec: VAESpec, eps: torch.Tensor):
    """theta, x -> the objective at x, its expectation over eps by the fixed quadrature eps."""
    if spec.model.kind == "linear":
        return lambda theta, x: linear_elbo(spec, theta, x)
    if spec.objective.kind == "iwae":
        return lambda theta, x: torch.stack([iwae_objective(spec, theta, x, e) for e in eps]).mean()
    return lambda theta, x: log_weight(spec, theta, x.expand(len(eps), -1), eps).mean()


def project(spec: VAESpec, theta: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Back into the box (the linear VAE's log-variances into their range) and the data set (ball, or [0, 1]^d)."""
    m, a = spec.model, spec.weight_bound.a
    clipped = theta.clamp(-a, a)
    if m.kind == "linear":
        clipped[..., -m.latent_dim:] = theta[..., -m.latent_dim:].clamp(m.logvar_min, m.logvar_max)
    if m.kind == "bernoulli":
        return clipped, x.clamp(0.0, 1.0)
    norm = x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return clipped, x * torch.clamp(m.data_bound / norm, max=1.0)


def starts(spec: VAESpec, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    thetas = torch.stack([random_parameters(spec, gen, corners=i % 2 == 0) for i in range(STARTS)])
    d = spec.model.data_dim
    if spec.model.kind == "bernoulli":
        return thetas, torch.rand(STARTS, d, generator=gen, dtype=torch.float64)
    x = torch.randn(STARTS, d, generator=gen, dtype=torch.float64)
    return thetas, spec.model.data_bound * x / x.norm(dim=1, keepdim=True)


def ascend(spec: VAESpec, score, thetas: torch.Tensor, xs: torch.Tensor, back=project) -> torch.Tensor:
    """Projected sign-gradient ascent of score(theta, x) from every start at once (back: the projection); the best
    value of each start."""
    a = spec.weight_bound.a
    step = vmap(grad(score, argnums=(0, 1)))
    values = vmap(score)
    best = values(thetas, xs)
    for i in range(STEPS):
        g_theta, g_x = step(thetas, xs)
        size = 0.5 * 0.8 ** i
        thetas = thetas + size * a * torch.sign(g_theta)
        xs = xs + size * spec.model.data_bound * g_x / g_x.norm(dim=1, keepdim=True).clamp_min(1e-12)
        thetas, xs = back(spec, thetas, xs)
        best = torch.maximum(best, values(thetas, xs))
    return best


@pytest.mark.parametrize("name", list(SPECS))
def test_no_adversarial_point_exceeds_the_smoothness_constant(name, tightness):
    spec = SPECS[name]
    L = float(D.smoothness(spec).evaluate(D.spec_values(spec)))
    gen = torch.Generator().manual_seed(11)
    K = spec.objective.K if spec.objective.kind == "iwae" else None
    shape = (QUADRATURE, K, spec.model.latent_dim) if K else (QUADRATURE, spec.model.latent_dim)
    f = objective(spec, torch.randn(*shape, generator=gen, dtype=torch.float64))

    def top_eig(theta, x):
        H = hessian(f, argnums=0)(theta, x)
        return torch.linalg.eigvalsh(0.5 * (H + H.T)).abs().max()
    best = ascend(spec, top_eig, *starts(spec, gen))
    worst = float(best.max())
    tightness.record(f"adversarial L_P ({name})", worst, L)
    assert worst <= L, (worst, L)


def test_no_adversarial_point_exceeds_the_variance_bound(tightness):
    """sigma^2 at B = 1, K = 1 over a two-point data set searched adversarially with the parameters:
    Var = E_{x, eps} ||grad l - E grad l||^2, exactly over the data and by quadrature over eps."""
    spec = dataclasses.replace(SPECS["deep Gaussian, tanh, identity output"], B=1)
    bound = float(D.variance(spec).evaluate(D.spec_values(spec)))
    gen = torch.Generator().manual_seed(12)
    eps = torch.randn(QUADRATURE, spec.model.latent_dim, generator=gen, dtype=torch.float64)
    per_sample = vmap(vmap(grad(lambda p, x, e: log_weight(spec, p, x, e)), in_dims=(None, None, 0)),
                      in_dims=(None, 0, None))

    def variance(theta, xs):
        g = per_sample(theta, xs.reshape(2, -1), eps).reshape(-1, theta.numel())
        return ((g - g.mean(0)) ** 2).sum(1).mean()
    thetas, x = starts(spec, gen)
    pairs = torch.cat([x, x.roll(1, 0)], dim=1)  # each start: two data points

    def project_pairs(s, th, xs):
        th, first = project(s, th, xs[:, :s.model.data_dim])
        _, second = project(s, th, xs[:, s.model.data_dim:])
        return th, torch.cat([first, second], dim=1)
    best = ascend(spec, variance, thetas, pairs, project_pairs)
    worst = float(best.max())
    tightness.record("adversarial sigma^2 (deep Gaussian, tanh, B=1, K=1)", worst, bound)
    assert worst <= bound, (worst, bound)
    assert math.isfinite(worst)
