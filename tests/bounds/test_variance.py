"""sigma^2 (the mini-batch estimator's variance) and the gradient bounds g(r) and M against Monte Carlo measurements
of the estimators that train, on tiny nets: pathwise ELBO, IWAE and the score function."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.func import grad, vmap

from bounds import derive as D
from bounds.spec import ObjectiveSpec, OptimizerSpec
from empirical.estimators import estimate
from empirical.functional import log_weight, random_parameters
from tests.helpers import poly_at
from tests.problems import data_point, score_spec, tiny_spec


@pytest.mark.parametrize("B,K", [(1, 1), (2, 3)])
def test_minibatch_variance_bound(B, K, tightness):
    """Measured E||ghat - E ghat||^2 of the pathwise mini-batch estimator (Monte Carlo) <= sigma^2_{B,K}."""
    spec = dataclasses.replace(tiny_spec(objective=ObjectiveSpec("elbo", 1.0, K)), B=B)
    bound = D.variance(spec).evaluate(D.spec_values(spec))
    gen = torch.Generator().manual_seed(4)
    flat = random_parameters(spec, gen, corners=True)
    data = torch.stack([data_point(spec, gen) for _ in range(6)])
    per_sample = vmap(grad(lambda p, x, e: log_weight(spec, p, x, e)), in_dims=(None, 0, 0))
    draws = 3000
    idx = torch.randint(0, len(data), (draws, B), generator=gen)
    eps = torch.randn(draws, B, K, spec.model.latent_dim, generator=gen, dtype=torch.float64)
    xs = data[idx].unsqueeze(2).expand(-1, -1, K, -1).reshape(-1, spec.model.data_dim)
    g = per_sample(flat, xs, eps.reshape(-1, spec.model.latent_dim)).reshape(draws, B * K, -1).mean(1)
    measured = float(((g - g.mean(0)) ** 2).sum(1).mean())
    tightness.record("mini-batch variance sigma^2_{B,K}", measured, bound)
    assert measured <= bound


@pytest.mark.parametrize("beta", [1.0, 100.0])
def test_score_gradient_bound_covers_the_estimator_that_trains(beta, tightness):
    """The trained score-function estimator's encoder block is (f - beta) s, not f s: at beta = 100 a bound
    written with |f| ||s|| is exceeded 2.6x; the derived g(r) uses (|f| + beta) ||s||."""
    from bounds.objectives.smoothness import score_pointwise
    from empirical.estimators import estimate
    spec = score_spec(beta)
    values = D.spec_values(spec)
    blocks = score_pointwise(D._pieces(spec, False), spec.objective.beta)
    g, g_sq = poly_at(blocks.gradient, values), poly_at(blocks.gradient_sq, values)
    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(1, 2, dtype=torch.float64)
    for trial in range(100):
        flat = random_parameters(spec, gen, corners=trial % 2 == 0).requires_grad_(True)
        eps = torch.randn(1, 1, 2, generator=gen, dtype=torch.float64) * 0.05
        surrogate, _ = estimate(spec, flat, x, eps, "score")
        norm = float(torch.autograd.grad(surrogate, flat)[0].norm())
        bound, bound_sq = g(float(eps.norm())), g_sq(float(eps.norm()))
        tightness.record("score-function estimator gradient g(r)", norm, bound)
        tightness.record("score-function estimator squared gradient g_sq(r)", norm**2, bound_sq)
        assert norm <= bound and norm**2 <= bound_sq


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
    random points of the set, data on the sphere and 2000 eps draws each; M_inf (by default M: a coordinate is at
    most the norm) against the largest coordinate."""
    spec = dataclasses.replace(tiny_spec(), optimizer=OptimizerSpec("adam"), B=1)
    values = D.spec_values(spec)
    M, M_inf = values["M"], values["M_inf"]
    gen = torch.Generator().manual_seed(6)
    worst = worst_coordinate = 0.0
    for trial in range(10):
        flat = random_parameters(spec, gen, corners=trial % 2 == 0)
        x = data_point(spec, gen)
        eps = torch.randn(2000, 1, 1, spec.model.latent_dim, generator=gen, dtype=torch.float64)
        g = vmap(lambda e: grad(lambda p: estimate(spec, p, x[None], e)[0])(flat))(eps)
        worst = max(worst, float(g.norm(dim=1).max()))
        worst_coordinate = max(worst_coordinate, float(g.abs().max()))
    tightness.record("adaptive methods' M (largest per-sample gradient)", worst, M)
    tightness.record("adaptive methods' M_inf (largest per-sample gradient coordinate)", worst_coordinate, M_inf)
    assert worst <= M and worst_coordinate <= M_inf


def test_the_variance_at_the_deep_boxs_worst_found_point(tightness):
    """sigma^2 at B = 1, K = 1 on the audit's deep box (tanh 5-4-2, identity output, a = 1) against the variance at the
    worst point a long ascent found (tests/fixtures/variance_worst_point_542.json), measured here on 8,192 fresh
    draws: Var = E_{x, eps} ||grad l - E grad l||^2, exactly over the pair's two points."""
    import json
    from pathlib import Path
    from bounds.spec import ActivationSpec, ModelSpec, ParameterBound, VAESpec
    spec = VAESpec(model=ModelSpec(data_dim=5, latent_dim=2, encoder_widths=(4,), decoder_widths=(4,),
                                   activation=ActivationSpec("tanh"), decoder_output="identity"),
                   weight_bound=ParameterBound(a=1.0), B=1)
    point = json.loads((Path(__file__).parents[1] / "fixtures" / "variance_worst_point_542.json").read_text())
    theta = torch.tensor(point["theta"], dtype=torch.float64)
    pair = torch.tensor(point["pair"], dtype=torch.float64)
    assert float(theta.abs().max()) <= spec.weight_bound.a and float(pair.norm(dim=1).max()) <= spec.model.data_bound
    eps = torch.randn(8192, spec.model.latent_dim, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    per_sample = vmap(vmap(grad(lambda p, x, e: log_weight(spec, p, x, e)), in_dims=(None, None, 0)),
                      in_dims=(None, 0, None))
    g = per_sample(theta, pair, eps).reshape(-1, theta.numel())
    measured = float(((g - g.mean(0)) ** 2).sum(1).mean())
    bound = float(D.variance(spec).evaluate(D.spec_values(spec)))
    tightness.record("variance sigma^2 at the deep box's worst found point (tanh 5-4-2, a = 1, B = 1)", measured, bound)
    assert measured <= bound, (measured, bound)
