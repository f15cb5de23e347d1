"""Gradient estimators against closed forms and against each other."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from bounds.spec import ObjectiveSpec
from empirical.estimators import estimate
from empirical.functional import initial_parameters, linear_elbo
from tests.problems import LINEAR_3_2, TINY_MLP

DT = torch.float64
LINEAR, TINY = LINEAR_3_2, TINY_MLP


def setup(spec, seed=0, n=4):
    gen = torch.Generator().manual_seed(seed)
    flat = initial_parameters(spec, gen, DT) + 0.3 * torch.randn(spec.n_parameters, generator=gen, dtype=DT)
    x = torch.randn(n, spec.model.data_dim, generator=gen, dtype=DT)
    return flat, x, gen


def gradient_draws(spec, flat, x, gen, draws, K=1, estimator="pathwise", baseline="none"):
    """`draws` independent estimates ghat (each over the whole batch x, K draws per point)."""
    flat = flat.clone().requires_grad_(True)
    out = []
    for _ in range(draws):
        eps = torch.randn(len(x), K, spec.model.latent_dim, generator=gen, dtype=DT)
        surrogate, _ = estimate(spec, flat, x, eps, estimator, baseline)
        out.append(torch.autograd.grad(surrogate, flat)[0])
    return torch.stack(out)


def assert_mean_matches(samples, target, z=5.0):
    """Every coordinate of the sample mean within z standard errors of the target (plus a float tolerance)."""
    mean, se = samples.mean(0), samples.std(0) / math.sqrt(len(samples))
    assert torch.all((mean - target).abs() <= z * se + 1e-9), float(((mean - target).abs() / (se + 1e-12)).max())


@pytest.mark.parametrize("estimator,baseline", [("pathwise", "none"), ("score", "none"), ("score", "loo")])
def test_estimators_match_the_closed_form_gradient_of_the_normal_normal_model(estimator, baseline):
    """The linear VAE is the Normal-Normal model: its ELBO and gradient are exact."""
    spec = dataclasses.replace(LINEAR, objective=ObjectiveSpec("beta", 0.7, 1))
    flat, x, gen = setup(spec)
    exact = torch.func.grad(lambda p: linear_elbo(spec, p, x).mean())(flat)
    samples = gradient_draws(spec, flat, x, gen, 4000 if estimator == "score" else 1000, K=2,
                             estimator=estimator, baseline=baseline)
    assert_mean_matches(samples, exact)


def test_closed_form_gradient_check_can_fail():
    """A wrong target (here beta = 1 instead of 0.7) is rejected by the same comparison."""
    spec = dataclasses.replace(LINEAR, objective=ObjectiveSpec("beta", 0.7, 1))
    flat, x, gen = setup(spec)
    wrong = torch.func.grad(lambda p: linear_elbo(dataclasses.replace(spec, objective=ObjectiveSpec()), p, x).mean())(flat)
    with pytest.raises(AssertionError):
        assert_mean_matches(gradient_draws(spec, flat, x, gen, 1000), wrong)


def test_loo_baseline_reduces_the_score_function_variance():
    flat, x, gen = setup(LINEAR)
    plain = gradient_draws(LINEAR, flat, x, gen, 1000, K=4, estimator="score")
    loo = gradient_draws(LINEAR, flat, x, gen, 1000, K=4, estimator="score", baseline="loo")
    assert loo.var(0).sum() < plain.var(0).sum()


def test_pathwise_and_score_agree_in_expectation_on_a_tiny_vae():
    flat, x, gen = setup(TINY)
    pathwise = gradient_draws(TINY, flat, x, gen, 3000, K=1)
    score = gradient_draws(TINY, flat, x, gen, 3000, K=4, estimator="score", baseline="loo")
    diff_se = torch.sqrt(pathwise.var(0) / len(pathwise) + score.var(0) / len(score))
    assert torch.all((pathwise.mean(0) - score.mean(0)).abs() <= 5 * diff_se + 1e-9)


def test_iwae_with_one_sample_is_the_elbo():
    flat, x, gen = setup(TINY)
    eps = torch.randn(len(x), 1, 2, generator=gen, dtype=DT)
    iwae = dataclasses.replace(TINY, objective=ObjectiveSpec("iwae", 1.0, 1))
    p = flat.clone().requires_grad_(True)
    s_elbo, v_elbo = estimate(TINY, p, x, eps)
    s_iwae, v_iwae = estimate(iwae, p, x, eps)
    assert torch.allclose(v_elbo, v_iwae)
    assert torch.allclose(torch.autograd.grad(s_elbo, p)[0], torch.autograd.grad(s_iwae, p)[0])


def test_iwae_increases_in_K_on_average():
    flat, x, gen = setup(TINY, n=16)
    means = []
    for K in (1, 4, 16):
        spec = dataclasses.replace(TINY, objective=ObjectiveSpec("iwae", 1.0, K))
        eps = torch.randn(400, len(x), K, 2, generator=gen, dtype=DT)
        means.append(float(torch.stack([estimate(spec, flat, x, e)[1] for e in eps]).mean()))
    assert means[0] < means[1] < means[2]


@pytest.mark.parametrize("kind,alpha", [("iwae", 0.0), ("vr_iwae", 0.5)])
def test_iwae_gradient_is_the_gradient_of_its_objective_with_detached_weights(kind, alpha):
    """The surrogate's gradient equals autograd of log (1/K) sum w^{1-alpha} / (1 - alpha) at the same eps; the same
    surrogate with ATTACHED weights does not (so this test would catch a missing detach)."""
    spec = dataclasses.replace(TINY, objective=ObjectiveSpec(kind, 1.0, 5, alpha))
    flat, x, gen = setup(spec)
    eps = torch.randn(len(x), 5, 2, generator=gen, dtype=DT)
    p = flat.clone().requires_grad_(True)
    surrogate, value = estimate(spec, p, x, eps)
    ours = torch.autograd.grad(surrogate, p, retain_graph=True)[0]
    truth = torch.autograd.grad(value, p)[0]
    assert torch.allclose(ours, truth, atol=1e-10)

    from empirical.functional import log_weight
    lw = log_weight(spec, p, x[:, None, :], eps, beta=1.0)
    attached = (torch.softmax((1 - alpha) * lw, 1) * lw).sum(1).mean()
    assert not torch.allclose(torch.autograd.grad(attached, p)[0], truth, atol=1e-6)


def test_score_function_with_iwae_is_a_clear_error():
    spec = dataclasses.replace(TINY, objective=ObjectiveSpec("iwae", 1.0, 2))
    flat, x, gen = setup(spec)
    with pytest.raises(ValueError, match="estimator='score' with objective='iwae'"):
        estimate(spec, flat, x, torch.zeros(len(x), 2, 2, dtype=DT), estimator="score")


def test_linear_vae_closed_form_elbo_against_monte_carlo():
    spec = dataclasses.replace(LINEAR, objective=ObjectiveSpec("beta", 0.7, 1))
    flat, x, gen = setup(spec, n=6)
    eps = torch.randn(20000, len(x), 1, 2, generator=gen, dtype=DT)
    values = torch.stack([estimate(spec, flat, x, e)[1] for e in eps])
    exact = float(linear_elbo(spec, flat, x).mean())
    assert abs(float(values.mean()) - exact) <= 4 * float(values.std()) / math.sqrt(len(values))
