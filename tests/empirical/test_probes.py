"""Probes against slow, obvious computations: exact gradients, dense Hessians, torch.optim."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from bounds.spec import OptimizerSpec, ParameterBound
from empirical import probes as P
from empirical.functional import initial_parameters, layer_slices
from empirical.optimizers import FlatOptimizer
from tests.empirical.test_estimators import DT, LINEAR, TINY, setup


def test_unbiased_full_gradient_norm_averages_to_the_exact_value_on_the_linear_vae():
    flat, x, gen = setup(LINEAR, n=8)
    exact, se0 = P.full_grad_norm_sq(LINEAR, flat, x, gen)
    assert se0 == 0.0
    draws = torch.tensor([P.full_grad_norm_sq(LINEAR, flat, x, gen, replicates=4, use_exact=False)[0]
                          for _ in range(1500)], dtype=DT)
    mean, se = float(draws.mean()), float(draws.std()) / math.sqrt(len(draws))
    assert abs(mean - exact) <= 4 * se
    # The naive ||ghat||^2 of one full-data estimate is biased upward by its variance: the check sees it.
    naive = torch.tensor([float(P.full_gradient(LINEAR, flat, x, gen, use_exact=False).square().sum())
                          for _ in range(1500)], dtype=DT)
    assert float(naive.mean()) - exact > 4 * float(naive.std()) / math.sqrt(len(naive))


def test_jackknife_standard_error_matches_the_spread_of_the_estimate():
    flat, x, gen = setup(TINY, n=8)
    results = [P.full_grad_norm_sq(TINY, flat, x, gen, replicates=6) for _ in range(300)]
    estimates = torch.tensor([r[0] for r in results])
    mean_se = sum(r[1] for r in results) / len(results)
    assert 0.5 < mean_se / float(estimates.std()) < 2.0


def test_lanczos_top_eigenvalue_matches_a_dense_eigendecomposition():
    flat, x, gen = setup(TINY, n=6)
    objective = P.frozen_objective(TINY, x, gen)
    H = torch.func.hessian(objective)(flat)
    dense = float(torch.linalg.eigvalsh((H + H.T) / 2).abs().max())
    value, hvps = P.top_hessian_eigenvalue(objective, flat, tol=1e-8)
    assert value == pytest.approx(dense, rel=1e-6)
    assert 0 < hvps < flat.numel() * 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lanczos_at_its_default_tolerance_against_arpack_converged(seed):
    """The probe's own Lanczos stops on its residual / gap test: within 1e-3 of scipy's eigsh run to 1e-10 on a
    Hessian of a few hundred parameters, in no more products than eigsh needs at the same tolerance."""
    import numpy as np
    from scipy.sparse.linalg import LinearOperator, eigsh
    from tests.problems import small_mlp_spec
    spec = small_mlp_spec()
    gen = torch.Generator().manual_seed(seed)
    flat = initial_parameters(spec, gen, DT) * 3  # away from the small initial scale: a richer spectrum
    x = torch.randn(32, spec.model.data_dim, generator=gen, dtype=DT)
    objective = P.frozen_objective(spec, x, gen)
    p = flat.clone().requires_grad_(True)
    grad = torch.autograd.grad(objective(p), p, create_graph=True)[0]
    calls = [0]

    def hvp(v):
        calls[0] += 1
        return torch.autograd.grad(grad, p, torch.as_tensor(v, dtype=DT), retain_graph=True)[0].numpy()
    op = LinearOperator((p.numel(),) * 2, matvec=hvp, dtype=np.float64)
    start = np.random.default_rng(0).standard_normal(p.numel())
    reference = float(abs(eigsh(op, k=1, which="LM", tol=1e-10, v0=start, return_eigenvectors=False)[0]))
    calls[0] = 0
    eigsh(op, k=1, which="LM", tol=1e-3, v0=start, return_eigenvectors=False)
    value, hvps = P.top_hessian_eigenvalue(objective, flat)
    assert abs(value - reference) <= 1e-3 * reference
    assert hvps <= calls[0]


def test_parameter_norms_against_the_layers_read_directly():
    flat, _, _ = setup(TINY)
    norms = P.parameter_norms(TINY, flat)
    enc, dec = [], []
    for name, w, shape, b in layer_slices(TINY):
        W = flat[w].reshape(shape)
        assert norms[f"spectral_norm.{name}"] == pytest.approx(float(torch.linalg.svdvals(W)[0]))
        assert norms[f"frobenius_norm.{name}"] == pytest.approx(float(W.square().sum().sqrt()))
        (enc if name.startswith("encoder") else dec).extend([flat[w], flat[b]])
    assert norms["inf_norm_phi"] == pytest.approx(float(torch.cat(enc).abs().max()))
    assert norms["inf_norm_theta"] == pytest.approx(float(torch.cat(dec).abs().max()))


@pytest.mark.parametrize("kind", ["entrywise", "spectral", "frobenius"])
def test_projection_puts_the_parameters_in_the_set(kind):
    n_layers = len(TINY.layer_shapes)
    wb = ParameterBound(kind, 0.05, (0.5,) * n_layers if kind != "entrywise" else (), (0.2,) * n_layers
                        if kind != "entrywise" else ())
    spec = dataclasses.replace(TINY, weight_bound=wb)
    flat = 3 * torch.randn(spec.n_parameters, generator=torch.Generator().manual_seed(0), dtype=DT)
    P.project(spec, flat)
    if kind == "entrywise":
        assert float(flat.abs().max()) <= 0.05
        return
    for name, w, shape, b in layer_slices(spec):
        W = flat[w].reshape(shape)
        assert float(torch.linalg.matrix_norm(W, 2 if kind == "spectral" else "fro")) <= 0.5 + 1e-9
        assert float(flat[b].norm()) <= 0.2 + 1e-9


def test_projection_keeps_the_linear_vae_log_variances_in_their_range():
    spec = dataclasses.replace(LINEAR, weight_bound=ParameterBound(a=0.1))
    flat = torch.full((spec.n_parameters,), -10.0, dtype=DT)
    P.project(spec, flat)
    assert torch.all(flat[:-2] == -0.1) and torch.all(flat[-2:] == spec.model.logvar_min)


@pytest.mark.parametrize("name,torch_cls,kwargs", [
    ("adam", torch.optim.Adam, dict(betas=(0.9, 0.99), eps=1e-3)),
    ("rmsprop", torch.optim.RMSprop, dict(alpha=0.99, eps=1e-3)),
    ("adagrad", torch.optim.Adagrad, dict(eps=1e-3)),
    ("sgd", torch.optim.SGD, dict())])
def test_torch_form_optimisers_match_torch_optim(name, torch_cls, kwargs):
    """The `torch` form reproduces torch.optim on the same gradient sequence (minimising V = -L)."""
    gen = torch.Generator().manual_seed(0)
    ours = torch.randn(10, generator=gen, dtype=DT)
    theirs = ours.clone().requires_grad_(True)
    opt = FlatOptimizer(OptimizerSpec(name, 1.0, 0.9, 0.99, 1e-3), "torch", ours)
    reference = torch_cls([theirs], lr=0.01, **kwargs)
    for _ in range(20):
        ghat = torch.randn(10, generator=gen, dtype=DT)  # ascent direction for L
        ours = ours + 0.01 * opt.direction(ghat)
        theirs.grad = -ghat
        reference.step()
    assert torch.allclose(ours, theirs.detach(), atol=1e-12)


def test_theory_form_adam_is_basa_adam_without_bias_correction():
    o = OptimizerSpec("adam", 1.0, 0.5, 0.9, 0.1)
    opt = FlatOptimizer(o, "theory", torch.zeros(2, dtype=DT))
    g1, g2 = torch.tensor([1.0, -2.0], dtype=DT), torch.tensor([3.0, 0.5], dtype=DT)
    opt.direction(g1)
    d2 = opt.direction(g2)
    m = 0.5 * (0.5 * g1) + 0.5 * g2
    v = 0.9 * (0.1 * g1**2) + 0.1 * g2**2
    assert torch.allclose(d2, m / torch.sqrt(0.1 + v))


@pytest.mark.parametrize("name", ["adam", "rmsprop", "adagrad"])
@pytest.mark.parametrize("form", ["theory", "torch"])
def test_the_adaptive_denominator_is_the_one_the_step_then_uses(name, form):
    """X_k = sum_i ghat_i^2 / denominator_i is read before the step: the denominator must be delta + v_k with v_k
    after the step's update (Adam, RMSProp), or (k+1) delta + the sum of squares so far (AdaGrad, both forms); torch's
    Adam and RMSProp: (sqrt(v_k) + eps_k)^2, eps_k = delta sqrt(1 - beta2^{k+1}) (Adam) or delta (RMSProp), which
    for Adam is (1 - beta2^{k+1}) times the square of the divisor torch applies to the bias-corrected momentum."""
    o = OptimizerSpec(name, 1.0, 0.9 if name == "adam" else 0.0, 0.99, 1e-3)
    opt = FlatOptimizer(o, form, torch.zeros(3, dtype=DT))
    gen = torch.Generator().manual_seed(1)
    for k in range(5):
        ghat = torch.randn(3, generator=gen, dtype=DT)
        denominator = opt.denominator(ghat)
        opt.direction(ghat)
        if name == "adagrad":
            expected = (k + 1) * o.delta + opt.state["v"]
        elif form == "torch":
            bias = 1 - o.beta2 ** (k + 1) if name == "adam" else 1.0
            expected = bias * opt.divisor(opt.state["v"], k + 1) ** 2
        else:
            expected = o.delta + opt.state["v"]
        assert torch.allclose(denominator, expected, rtol=1e-14)
    assert FlatOptimizer(OptimizerSpec("sgd", 1.0), form, torch.zeros(3, dtype=DT)).denominator(ghat) is None


def test_the_variance_probe_draws_batches_without_replacement_as_training_does():
    """With B = the whole training set and (almost) no eps noise, the estimator that trains has no variance; a probe
    drawing its batches with replacement would report the data variance instead."""
    from bounds.spec import ModelSpec, ParameterBound, VAESpec
    from empirical.functional import random_parameters
    from empirical.probes import gradient_noise
    model = ModelSpec(kind="linear", data_dim=3, latent_dim=2, logvar_min=-40.0, logvar_max=-39.0)
    spec = VAESpec(model=model, weight_bound=ParameterBound(a=0.5), B=20)
    gen = torch.Generator().manual_seed(0)
    flat = random_parameters(spec, gen)
    X = torch.randn(20, 3, generator=gen, dtype=torch.float64)
    whole = gradient_noise(spec, flat, X, 20, 1, 16, gen, "pathwise", "none")
    single = gradient_noise(spec, flat, X, 1, 1, 16, gen, "pathwise", "none")
    whole_var = whole["grad_var_theta"] + whole["grad_var_phi"]
    assert whole_var < 1e-9 * (single["grad_var_theta"] + single["grad_var_phi"])


@pytest.mark.parametrize("name", ["adam", "rmsprop", "adagrad"])
@pytest.mark.parametrize("form", ["theory", "torch"])
def test_the_per_coordinate_sums_weigh_the_steps_own_X(name, form):
    """The optimiser's per-coordinate sums (docs/derivations.md, "Per-coordinate bounds") add up, over the
    coordinates, to the theorem's weighted sum of the X_k that step_statistics records (sum_i ghat_i^2 /
    denominator_i read before each step), and each coordinate's M_i is its largest bias-corrected root mean square."""
    o = OptimizerSpec(name, 1.0, 0.9 if name == "adam" else 0.0, 0.99, 1e-3)
    opt = FlatOptimizer(o, form, torch.zeros(3, dtype=DT))
    gen = torch.Generator().manual_seed(2)
    total, squares, largest = 0.0, torch.zeros(3, dtype=DT), torch.zeros(3, dtype=DT)
    for k in range(6):
        ghat = torch.randn(3, generator=gen, dtype=DT)
        weight = 1.0 if name == "adagrad" else (k + 1) ** -0.5 * (
            (1 - o.beta2 ** (k + 1)) ** 0.5 / (1 - o.beta1 ** (k + 1)) if name == "adam" and form == "torch" else 1.0)
        total += weight * float((ghat.square() / opt.denominator(ghat)).sum())
        squares = squares + ghat.square() if name == "adagrad" else o.beta2 * squares + (1 - o.beta2) * ghat.square()
        mean_square = squares / (k + 1) if name == "adagrad" else squares / (1 - o.beta2 ** (k + 1))
        largest = torch.maximum(largest, mean_square.sqrt())
        opt.direction(ghat)
    assert float(opt.state["weighted_X"].sum()) == pytest.approx(total, rel=1e-12)
    assert torch.allclose(opt.state["coordinate_max"], largest, rtol=1e-12)
    assert float(opt.coordinate_sum) == pytest.approx(float((largest * opt.state["weighted_X"]).sum()), rel=1e-12)


@pytest.mark.parametrize("name", ["adam", "rmsprop", "adagrad"])
@pytest.mark.parametrize("form", ["theory", "torch"])
def test_the_main_parts_preconditioner_is_the_smaller_of_the_previous_steps_and_its_own(name, form):
    """FlatOptimizer.main_part_preconditioner (read before the step): the diagonal the step then divides its
    (bias-corrected) momentum by, read off its direction, and from the second step on the smaller of it and the
    previous step's."""
    o = OptimizerSpec(name, 1.0, 0.9 if name == "adam" else 0.0, 0.99, 1e-3)
    opt = FlatOptimizer(o, form, torch.zeros(3, dtype=DT))
    gen = torch.Generator().manual_seed(5)
    momentum, previous = torch.zeros(3, dtype=DT), None
    beta1 = o.beta1 if name == "adam" else 0.0
    for k in range(1, 7):
        ghat = torch.randn(3, generator=gen, dtype=DT) * (0.1 if k == 4 else 1.0)  # a small step: its own is larger
        momentum = beta1 * momentum + (1 - beta1) * ghat
        corrected = momentum / (1 - beta1**k) if name == "adam" and form == "torch" else momentum
        stand_in = opt.main_part_preconditioner(ghat)
        used = opt.direction(ghat) / corrected
        expected = used if previous is None else torch.minimum(used, previous)
        assert torch.allclose(stand_in, expected, rtol=1e-12)
        previous = used
    sgd = FlatOptimizer(OptimizerSpec("sgd", 1.0), form, torch.zeros(3))
    assert sgd.main_part_preconditioner(torch.ones(3)) is None
