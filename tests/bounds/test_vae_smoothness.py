"""L_P, L_S, gradient and variance bounds of VAE objectives against autograd measurements on tiny nets."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.func import grad, hessian

from bounds import derive as D
from bounds.objectives.smoothness import pathwise_pointwise
from bounds.spec import ActivationSpec, ModelSpec, ObjectiveSpec, ParameterBound, VAESpec
from empirical.functional import iwae_objective, linear_elbo, log_weight, random_parameters
from tests.helpers import poly_at, top_abs_eig

TINY = ModelSpec(kind="gaussian", data_dim=3, latent_dim=2, encoder_widths=(3,), decoder_widths=(3,),
                 data_bound=1.5, decoder_std=0.8, mean_clip=2.0, logvar_min=-2.0, logvar_max=1.0, head_s=2.0,
                 activation=ActivationSpec("softclip", 2.0, -1.0, 2.0))


def tiny_spec(**model_changes) -> VAESpec:
    objective = model_changes.pop("objective", ObjectiveSpec())
    a = model_changes.pop("a", 0.4)
    return VAESpec(model=dataclasses.replace(TINY, **model_changes), objective=objective,
                   weight_bound=ParameterBound(a=a))


def data_point(spec: VAESpec, gen: torch.Generator) -> torch.Tensor:
    d = spec.model.data_dim
    if spec.model.kind == "bernoulli":
        return torch.rand(d, generator=gen, dtype=torch.float64).round()
    x = torch.randn(d, generator=gen, dtype=torch.float64)
    return spec.model.data_bound * x / x.norm()


# ---- linear VAE: the exact Hessian of the closed form --------------------------------------------

@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("a", [0.2, 0.6])
def test_linear_vae_L_P_bounds_the_exact_hessian(beta, a, tightness):
    spec = VAESpec(model=dataclasses.replace(TINY, kind="linear", data_dim=4, latent_dim=2),
                   objective=ObjectiveSpec("beta", beta), weight_bound=ParameterBound(a=a))
    L = D.smoothness(spec).evaluate(D.spec_values(spec))
    gen = torch.Generator().manual_seed(int(10 * beta + 100 * a))
    for trial in range(30):
        flat = random_parameters(spec, gen, corners=trial % 2 == 0)
        x = data_point(spec, gen)
        eig = top_abs_eig(hessian(lambda p: linear_elbo(spec, p, x, beta))(flat))
        tightness.record("linear VAE L_P (exact Hessian)", eig, L)
        assert eig <= L, (eig, L)


def test_linear_elbo_closed_form_matches_monte_carlo():
    """The fast closed form against the slow, obvious Monte Carlo average of log w."""
    spec = VAESpec(model=dataclasses.replace(TINY, kind="linear"), weight_bound=ParameterBound(a=0.5))
    gen = torch.Generator().manual_seed(0)
    flat, x = random_parameters(spec, gen), data_point(spec, gen)
    eps = torch.randn(200_000, spec.model.latent_dim, generator=gen, dtype=torch.float64)
    mc = torch.func.vmap(lambda e: log_weight(spec, flat, x, e))(eps)
    assert float(linear_elbo(spec, flat, x)) == pytest.approx(float(mc.mean()), abs=4 * float(mc.std()) / 447)


# ---- deep Gaussian and Bernoulli VAEs: pointwise and expected Hessians ----------------------------

SPECS = {
    "gaussian-softclip": tiny_spec(),
    "gaussian-tanh-identity-out": tiny_spec(activation=ActivationSpec("tanh"), decoder_output="identity"),
    "gaussian-silu-beta": tiny_spec(activation=ActivationSpec("silu"), objective=ObjectiveSpec("beta", 0.3)),
    "bernoulli-softclip": tiny_spec(kind="bernoulli", data_bound=3 ** 0.5),
}


@pytest.mark.parametrize("name", list(SPECS))
def test_pointwise_hessian_and_gradient_bounds(name, tightness):
    spec = SPECS[name]
    values = D.spec_values(spec)
    pw = pathwise_pointwise(D._pieces(spec, False), spec.objective.beta)
    h, g = poly_at(pw.hessian, values), poly_at(pw.gradient, values)
    gen = torch.Generator().manual_seed(1)
    for trial in range(40):
        flat = random_parameters(spec, gen, corners=trial % 2 == 0)
        x = data_point(spec, gen)
        eps = torch.randn(spec.model.latent_dim, generator=gen, dtype=torch.float64) * (1 + trial % 3)
        f = lambda p: log_weight(spec, p, x, eps)
        r = float(eps.norm())
        eig, gnorm = top_abs_eig(hessian(f)(flat)), float(grad(f)(flat).norm())
        tightness.record(f"VAE pointwise Hessian h(r) ({name})", eig, h(r))
        tightness.record(f"VAE pointwise gradient g(r) ({name})", gnorm, g(r))
        assert eig <= h(r) and gnorm <= g(r), (eig, h(r), gnorm, g(r))


@pytest.mark.parametrize("name", list(SPECS))
def test_L_P_and_L_S_bound_the_hessian_of_the_expected_objective(name, tightness):
    """Hessian of the expected objective ~ average of Hessians over frozen noise (the same eps at
    every parameter); L_P and L_S bound the same matrix (they are two derivations for one objective)."""
    spec = SPECS[name]
    values = D.spec_values(spec)
    L_P = D.smoothness(spec, "pathwise").evaluate(values)
    L_S = D.smoothness(spec, "score").evaluate(values)
    gen = torch.Generator().manual_seed(2)
    eps = torch.randn(64, spec.model.latent_dim, generator=gen, dtype=torch.float64)
    for trial in range(6):
        flat, x = random_parameters(spec, gen, corners=trial % 2 == 0), data_point(spec, gen)
        mean_hess = sum(hessian(lambda p: log_weight(spec, p, x, e))(flat) for e in eps) / len(eps)
        eig = top_abs_eig(mean_hess)
        tightness.record(f"VAE L_P ({name})", eig, L_P)
        tightness.record(f"VAE L_S ({name})", eig, L_S)
        assert eig <= L_P and eig <= L_S


def test_iwae_L_P_bounds_the_iwae_hessian(tightness):
    spec = tiny_spec(objective=ObjectiveSpec("iwae", 1.0, 3))
    L = D.smoothness(spec).evaluate(D.spec_values(spec))
    gen = torch.Generator().manual_seed(3)
    for trial in range(6):
        flat, x = random_parameters(spec, gen, corners=trial % 2 == 0), data_point(spec, gen)
        eps = torch.randn(32, 3, spec.model.latent_dim, generator=gen, dtype=torch.float64)
        mean_hess = sum(hessian(lambda p: iwae_objective(spec, p, x, e))(flat) for e in eps) / len(eps)
        eig = top_abs_eig(mean_hess)
        tightness.record("IWAE L_P (K=3)", eig, L)
        assert eig <= L


@pytest.mark.parametrize("B,K", [(1, 1), (2, 3)])
def test_minibatch_variance_bound(B, K, tightness):
    """Measured E||ghat - E ghat||^2 of the pathwise mini-batch estimator (Monte Carlo) <= sigma^2_{B,K}."""
    spec = dataclasses.replace(tiny_spec(objective=ObjectiveSpec("elbo", 1.0, K)), B=B)
    bound = D.variance(spec).evaluate(D.spec_values(spec))
    gen = torch.Generator().manual_seed(4)
    flat = random_parameters(spec, gen, corners=True)
    data = torch.stack([data_point(spec, gen) for _ in range(6)])
    per_sample = torch.func.vmap(grad(lambda p, x, e: log_weight(spec, p, x, e)), in_dims=(None, 0, 0))
    draws = 3000
    idx = torch.randint(0, len(data), (draws, B), generator=gen)
    eps = torch.randn(draws, B, K, spec.model.latent_dim, generator=gen, dtype=torch.float64)
    xs = data[idx].unsqueeze(2).expand(-1, -1, K, -1).reshape(-1, spec.model.data_dim)
    g = per_sample(flat, xs, eps.reshape(-1, spec.model.latent_dim)).reshape(draws, B * K, -1).mean(1)
    measured = float(((g - g.mean(0)) ** 2).sum(1).mean())
    tightness.record("mini-batch variance sigma^2_{B,K}", measured, bound)
    assert measured <= bound


def score_spec(beta: float) -> VAESpec:
    """A spec where |f| is small (x = 0, 2 pi c^2 = 1, narrow heads) so beta s dominates the encoder block."""
    model = ModelSpec(kind="gaussian", data_dim=2, latent_dim=2, encoder_widths=(2,), decoder_widths=(2,),
                      data_bound=0.0, decoder_std=(2 * 3.141592653589793) ** -0.5, mean_clip=0.05, logvar_min=-0.05,
                      logvar_max=0.05, head_s=1.0, activation=ActivationSpec("softclip", 1.0, -0.1, 0.1),
                      decoder_output="identity")
    return VAESpec(model=model, objective=ObjectiveSpec("beta", beta), estimator="score",
                   weight_bound=ParameterBound(a=0.05))


@pytest.mark.parametrize("beta", [1.0, 100.0])
def test_score_gradient_bound_covers_the_estimator_that_trains(beta, tightness):
    """The trained score-function estimator's encoder block is (f - beta) s, not f s: at beta = 100 a bound
    written with |f| ||s|| is exceeded 2.6x; the derived g(r) uses (|f| + beta) ||s||."""
    from bounds.objectives.smoothness import score_pointwise
    from empirical.estimators import estimate
    spec = score_spec(beta)
    values = D.spec_values(spec)
    g = poly_at(score_pointwise(D._pieces(spec, False), spec.objective.beta).gradient, values)
    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(1, 2, dtype=torch.float64)
    for trial in range(100):
        flat = random_parameters(spec, gen, corners=trial % 2 == 0).requires_grad_(True)
        eps = torch.randn(1, 1, 2, generator=gen, dtype=torch.float64) * 0.05
        surrogate, _ = estimate(spec, flat, x, eps, "score")
        norm = float(torch.autograd.grad(surrogate, flat)[0].norm())
        bound = g(float(eps.norm()))
        tightness.record("score-function estimator gradient g(r)", norm, bound)
        assert norm <= bound
