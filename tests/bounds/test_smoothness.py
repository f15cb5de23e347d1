"""L_P and L_S of VAE objectives against autograd Hessians on tiny nets."""
from __future__ import annotations

import dataclasses
import math

import pytest
import sympy as sp
import torch
from torch.func import grad, hessian

from bounds import derive as D
from bounds.objectives.smoothness import block_norm, pathwise_pointwise, score_pointwise
from bounds.spec import ActivationSpec, ObjectiveSpec, ParameterBound, VAESpec
from empirical.functional import iwae_objective, linear_elbo, log_weight, random_parameters
from tests.helpers import number, poly_at, top_abs_eig
from tests.problems import TINY_BOUNDED, data_point, tiny_spec

TINY = TINY_BOUNDED


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


# ---- deep Gaussian and Bernoulli VAEs: pointwise and expected Hessians ----------------------------

SPECS = {
    "gaussian-softclip": tiny_spec(),
    "gaussian-tanh-identity-out": tiny_spec(activation=ActivationSpec("tanh"), decoder_output="identity"),
    "gaussian-silu-beta": tiny_spec(activation=ActivationSpec("silu"), objective=ObjectiveSpec("beta", 0.3)),
    "bernoulli-softclip": tiny_spec(kind="bernoulli", data_bound=3 ** 0.5),
    "gaussian-softclip-data-range": tiny_spec(data_range=(0.0, 1.0), data_bound=3 ** 0.5),  # x at [0, 1]^3's corners
    # a wide soft-clip (0, 50) before an identity output: the residual bound A1 grows with ||eps||
    "gaussian-wide-softclip-identity-out": tiny_spec(activation=ActivationSpec("softclip", 2.0, 0.0, 50.0),
                                                     decoder_output="identity"),
}


@pytest.mark.parametrize("name", list(SPECS))
def test_pointwise_hessian_and_gradient_bounds(name, tightness):
    spec = SPECS[name]
    values = D.spec_values(spec)
    pw = pathwise_pointwise(D._pieces(spec, False), spec.objective.beta)
    h, g, g_sq = (poly_at(q, values) for q in (pw.hessian, pw.gradient, pw.gradient_sq))
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
        tightness.record(f"VAE pointwise squared gradient g_sq(r) ({name})", gnorm**2, g_sq(r))
        assert eig <= h(r) and gnorm <= g(r) and gnorm**2 <= g_sq(r), (eig, h(r), gnorm, g(r), g_sq(r))


@pytest.mark.parametrize("name", list(SPECS))
def test_L_P_and_L_S_bound_the_hessian_of_the_expected_objective(name, tightness):
    """Hessian of the expected objective ~ average of Hessians over frozen noise (the same eps at
    every parameter); L_P and L_S bound the same matrix (they are two derivations for one objective, and L_S is the
    smaller of its own score-function representation and the reparameterised one: each is checked)."""
    spec = SPECS[name]
    values = D.spec_values(spec)
    L_P = D.smoothness(spec, "pathwise").evaluate(values)
    L_S = D.smoothness(spec, "score").evaluate(values)
    sb = score_pointwise(D._pieces(spec, False), spec.objective.beta)
    d_z = spec.model.latent_dim
    score = number(block_norm(*(b.expectation(d_z) for b in (sb.theta_theta, sb.theta_phi, sb.phi_phi))), values)
    assert L_S == pytest.approx(min(L_P, score), rel=1e-9)
    gen = torch.Generator().manual_seed(2)
    eps = torch.randn(64, spec.model.latent_dim, generator=gen, dtype=torch.float64)
    for trial in range(6):
        flat, x = random_parameters(spec, gen, corners=trial % 2 == 0), data_point(spec, gen)
        # the Hessian of the mean over the draws (one call) is the mean of their Hessians
        mean_hess = hessian(lambda p: log_weight(spec, p, x.expand(len(eps), -1), eps).mean())(flat)
        eig = top_abs_eig(mean_hess)
        tightness.record(f"VAE L_P ({name})", eig, L_P)
        tightness.record(f"VAE L_S ({name})", eig, L_S)
        tightness.record(f"VAE L_S score representation ({name})", eig, score)
        assert eig <= L_P and eig <= L_S and eig <= score


@pytest.mark.parametrize("name", [pytest.param(n, marks=[] if n == "gaussian-tanh-identity-out" else pytest.mark.slow)
                                  for n in SPECS])  # sympy's evalf of the soft-clip constants takes 20-110 s a spec
def test_the_compiled_score_representation_is_sympys_own_value(name):
    """`tests.helpers.number` (the compiled evaluation every bound uses) against sympy's 30-digit evalf of the score
    representation's block bound: the fast path the test above relies on, checked against the slow obvious one."""
    spec = SPECS[name]
    values = D.spec_values(spec)
    sb = score_pointwise(D._pieces(spec, False), spec.objective.beta)
    d_z = spec.model.latent_dim
    expr = sp.sympify(block_norm(*(b.expectation(d_z) for b in (sb.theta_theta, sb.theta_phi, sb.phi_phi))))
    slow = float(expr.xreplace({s: sp.Float(values[s.name], 30) for s in expr.free_symbols}).evalf())
    assert number(expr, values) == pytest.approx(slow, rel=1e-12)


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


def vr_objective(spec: VAESpec, flat: torch.Tensor, x: torch.Tensor, eps: torch.Tensor, alpha: float) -> torch.Tensor:
    """The VR-IWAE objective of one draw, written out: (1/(1 - alpha)) log (1/K) sum_l w_l^{1 - alpha}."""
    lw = torch.stack([log_weight(spec, flat, x, e, beta=1.0) for e in eps])
    return (torch.logsumexp((1 - alpha) * lw, 0) - math.log(len(eps))) / (1 - alpha)


@pytest.mark.parametrize("alpha", [0.3, 0.7])
def test_vr_iwae_L_P_bounds_the_vr_iwae_hessian(alpha, tightness):
    spec = tiny_spec(objective=ObjectiveSpec("vr_iwae", 1.0, 3, alpha))
    L = D.smoothness(spec).evaluate(D.spec_values(spec))
    gen = torch.Generator().manual_seed(int(10 * alpha))
    for trial in range(4):
        flat, x = random_parameters(spec, gen, corners=trial % 2 == 0), data_point(spec, gen)
        eps = torch.randn(16, 3, spec.model.latent_dim, generator=gen, dtype=torch.float64)
        mean_hess = sum(hessian(lambda p: vr_objective(spec, p, x, e, alpha))(flat) for e in eps) / len(eps)
        eig = top_abs_eig(mean_hess)
        tightness.record(f"VR-IWAE L_P (K=3, alpha={alpha:g})", eig, L)
        assert eig <= L


def test_vr_iwae_L_P_is_iwaes_at_alpha_zero_and_falls_with_alpha():
    iwae = tiny_spec(objective=ObjectiveSpec("iwae", 1.0, 3))
    vr = tiny_spec(objective=ObjectiveSpec("vr_iwae", 1.0, 3, 0.5))
    bound, values = D.smoothness(vr), D.spec_values(vr)
    at = {alpha: float(bound.evaluate({**values, "renyi_alpha": alpha})) for alpha in (0.0, 0.5, 0.9)}
    assert at[0.0] == pytest.approx(float(D.smoothness(iwae).evaluate(D.spec_values(iwae))), rel=1e-12)
    assert at[0.0] > at[0.5] > at[0.9]
    assert float(D.variance(vr).evaluate(values)) == pytest.approx(float(D.variance(iwae).evaluate(D.spec_values(iwae))))


WORST_FOUND = {  # fixture -> (decoder kind, activation, data bound, the record's name)
    "curvature_worst_point_542.json": ("gaussian", ActivationSpec("tanh"), 4.0,
                                       "VAE L_P at the deep box's worst found point (tanh 5-4-2, a = 1)"),
    "curvature_worst_point_542_bernoulli.json": ("bernoulli", ActivationSpec("tanh"), 5 ** 0.5,
                                                 "VAE L_P at the Bernoulli box's worst found point (tanh 5-4-2, a = 1)"),
    "curvature_worst_point_542_softclip.json": (
        "gaussian", ActivationSpec("softclip", 5.0, 0.0, 50.0), 4.0,
        "VAE L_P at the soft-clip box's worst found point (soft-clip (0, 50) 5-4-2, a = 1)"),
}


def worst_found_point(spec: VAESpec, fixture: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(theta, x) of a stored worst point (tests/fixtures/), checked to lie in the spec's box and data ball."""
    import json
    from pathlib import Path
    point = json.loads((Path(__file__).parents[1] / "fixtures" / fixture).read_text())
    theta, x = (torch.tensor(point[k], dtype=torch.float64) for k in ("theta", "x"))
    assert float(theta.abs().max()) <= spec.weight_bound.a and float(x.norm()) <= spec.model.data_bound + 1e-12
    return theta, x


@pytest.mark.parametrize("fixture", sorted(WORST_FOUND))
def test_L_P_at_the_deep_boxs_worst_found_point(fixture, tightness):
    """L_P on the audit's deep boxes (5-4-2, identity output or Bernoulli decoder, a = 1) against the expected
    objective's curvature at the worst point a long ascent found (tests/fixtures/): the top |eigenvalue| of the
    Hessian of the mean over 4,096 fresh draws, the same draws at every parameter."""
    from bounds.spec import ModelSpec
    kind, activation, data_bound, name = WORST_FOUND[fixture]
    spec = VAESpec(model=ModelSpec(kind=kind, data_dim=5, latent_dim=2, encoder_widths=(4,), decoder_widths=(4,),
                                   activation=activation, decoder_output="identity", data_bound=data_bound),
                   weight_bound=ParameterBound(a=1.0))
    theta, x = worst_found_point(spec, fixture)
    eps = torch.randn(4096, spec.model.latent_dim, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    eig = top_abs_eig(hessian(lambda p: log_weight(spec, p, x.expand(len(eps), -1), eps).mean())(theta))
    L = float(D.smoothness(spec).evaluate(D.spec_values(spec)))
    tightness.record(name, eig, L)
    assert eig <= L, (eig, L)


def test_iwae_L_P_at_its_worst_found_point(tightness):
    """IWAE's L_P (K = 3, tanh 4-3-2, identity output, a = 1, R_x = 4) against the expected objective's curvature at
    the worst point an ascent found (tests/fixtures/curvature_worst_point_432_iwae.json): the top |eigenvalue| of the
    Hessian of the mean of log (1/K) sum_l w_l over 2,048 fresh draws of K, the same draws at every parameter."""
    from bounds.spec import ModelSpec
    spec = VAESpec(model=ModelSpec(kind="gaussian", data_dim=4, latent_dim=2, encoder_widths=(3,), decoder_widths=(3,),
                                   activation=ActivationSpec("tanh"), decoder_output="identity", data_bound=4.0),
                   objective=ObjectiveSpec("iwae", 1.0, 3), weight_bound=ParameterBound(a=1.0))
    theta, x = worst_found_point(spec, "curvature_worst_point_432_iwae.json")
    K = spec.objective.K
    eps = torch.randn(2048, K, spec.model.latent_dim, generator=torch.Generator().manual_seed(7), dtype=torch.float64)

    def objective(p: torch.Tensor, eps: torch.Tensor = eps) -> torch.Tensor:
        """log (1/K) sum_l w_l per draw of K, all draws in one batch, averaged over the draws."""
        lw = log_weight(spec, p, x.expand(len(eps) * K, -1), eps.reshape(-1, spec.model.latent_dim), beta=1.0)
        return (torch.logsumexp(lw.reshape(len(eps), K), 1) - math.log(K)).mean()
    # the batched objective against `iwae_objective`, draw by draw, on a few draws
    few = eps[:8]
    assert float(objective(theta, few)) == pytest.approx(
        float(torch.stack([iwae_objective(spec, theta, x, e) for e in few]).mean()), rel=1e-12)
    eig = top_abs_eig(hessian(objective)(theta))
    L = float(D.smoothness(spec).evaluate(D.spec_values(spec)))
    tightness.record("IWAE L_P at its worst found point (K = 3, tanh 4-3-2, a = 1)", eig, L)
    assert eig <= L, (eig, L)
