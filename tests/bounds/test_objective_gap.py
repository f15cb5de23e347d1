"""The certified objective gap L_star (sup - inf of the per-example objective over the compact set and the data):
the objective measured at random and searched parameters and data never leaves [sup - L_star, sup], and the
deepest point found reaches a recorded fraction of L_star (the tight tier)."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from bounds import derive as D
from bounds.spec import ActivationSpec, ModelSpec, ObjectiveSpec, VAESpec
from empirical.functional import linear_elbo, log_weight, random_parameters
from tests.problems import TINY_BOUNDED, tiny_spec

SPECS = {
    "gaussian-softclip": tiny_spec(),
    "gaussian-tanh-identity-out": tiny_spec(activation=ActivationSpec("tanh"), decoder_output="identity"),
    "gaussian-softclip-beta": tiny_spec(objective=ObjectiveSpec("beta", 0.5, 1)),
    "bernoulli-softclip": tiny_spec(kind="bernoulli", data_bound=3 ** 0.5),
    "iwae-K3": tiny_spec(objective=ObjectiveSpec("iwae", 1.0, 3)),
    "linear": VAESpec(model=dataclasses.replace(TINY_BOUNDED, kind="linear"), weight_bound=tiny_spec().weight_bound),
}
DRAWS, STARTS, STEPS = 128, 32, 20


def expected_objective(spec: VAESpec, eps: torch.Tensor):
    """theta, x -> the per-example objective, its expectation over eps by a fixed quadrature (exact: linear)."""
    if spec.model.kind == "linear":
        return lambda theta, x: linear_elbo(spec, theta, x)
    if spec.objective.kind == "iwae":  # log-weights of all draws at once, then log-mean-exp over each draw's K
        return lambda theta, x: (torch.logsumexp(log_weight(spec, theta, x.expand(*eps.shape[:2], -1), eps, 1.0), 1)
                                 - math.log(eps.shape[1])).mean()
    return lambda theta, x: log_weight(spec, theta, x.expand(len(eps), -1), eps).mean()


def into_sets(spec: VAESpec, theta: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    m, a = spec.model, spec.weight_bound.a
    theta = theta.clamp(-a, a)
    if m.kind == "linear":
        v = spec.layout.logvars
        theta[v] = theta[v].clamp(m.logvar_min, m.logvar_max)
    if m.kind == "bernoulli":
        return theta, x.clamp(0.0, 1.0)
    return theta, x * torch.clamp(m.data_bound / x.norm().clamp_min(1e-12), max=1.0)


def deepest(spec: VAESpec, gen: torch.Generator) -> tuple[float, float]:
    """(lowest, highest) per-example objective found: random starts (half at the box's corners), then projected
    descent on the objective from the lowest ones."""
    shape = (DRAWS, spec.objective.K, spec.model.latent_dim) if spec.objective.kind == "iwae" else \
        (DRAWS, spec.model.latent_dim)
    f = expected_objective(spec, torch.randn(*shape, generator=gen, dtype=torch.float64))
    points = []
    for i in range(STARTS):
        theta = random_parameters(spec, gen, corners=i % 2 == 0)
        x = torch.rand(spec.model.data_dim, generator=gen, dtype=torch.float64) if spec.model.kind == "bernoulli" \
            else torch.randn(spec.model.data_dim, generator=gen, dtype=torch.float64)
        theta, x = into_sets(spec, theta, x)
        points.append((float(f(theta, x)), theta, x))
    points.sort(key=lambda p: p[0])
    lowest, highest = points[0][0], points[-1][0]
    for _, theta, x in points[:4]:
        step = 0.05 * spec.weight_bound.a
        for _ in range(STEPS):
            theta, x = theta.detach().requires_grad_(True), x.detach().requires_grad_(True)
            value = f(theta, x)
            g_theta, g_x = torch.autograd.grad(value, (theta, x))
            with torch.no_grad():
                theta, x = into_sets(spec, theta - step * g_theta.sign(), x - 0.1 * g_x / g_x.norm().clamp_min(1e-12))
            lowest = min(lowest, float(value.detach()))
        lowest = min(lowest, float(f(theta, x)))
    return lowest, highest


@pytest.mark.parametrize("name", list(SPECS))
def test_the_objective_stays_within_the_certified_gap(name, tightness):
    spec = SPECS[name]
    gap = float(D.objective_gap(spec).evaluate(D.spec_values(spec)))
    assert D.spec_values(spec)["L_star"] == pytest.approx(gap)
    top = D.objective_upper_bound(spec)
    lowest, highest = deepest(spec, torch.Generator().manual_seed(0))
    assert highest <= top + 1e-9, "the objective's upper bound is exceeded"
    tightness.record(f"objective gap L_star ({name})", top - lowest, gap)


def test_a_given_objective_gap_is_used_as_given_and_the_certified_one_follows_the_settings():
    spec = tiny_spec()
    assert D.spec_values(dataclasses.replace(spec, objective_gap=7.0))["L_star"] == 7.0
    values = D.spec_values(spec)
    wider = D.spec_values(dataclasses.replace(spec, model=dataclasses.replace(spec.model, data_bound=3.0)))
    assert wider["L_star"] > values["L_star"]
    heavier = D.objective_gap(spec).evaluate({**values, "beta": 2.0})
    assert heavier > values["L_star"]
    bound = D.convergence(spec)  # the theorem's L_star term takes the certified gap
    assert bound.evaluate(values) < bound.evaluate({**values, "L_star": 10 * values["L_star"]})
