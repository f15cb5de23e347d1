"""The split-batch estimator of ||grad L(theta_k)||^2: the tap's halves are exactly the halves' gradients, the
estimator is unbiased against the linear VAE's exact value and agrees with the two-fresh-batches reference, and
the without-replacement bias the derivation predicts is there (which is why independent batches are i.i.d.)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from bounds.spec import ModelSpec, ObjectiveSpec, VAESpec
from empirical import TrainConfig, synthetic_linear_gaussian, train
from empirical import probes as P
from empirical.estimators import estimate
from empirical.functional import initial_parameters, linear_elbo
from empirical.split_batch import Split, Tap, tapped_gradient
from empirical.step_gradients import Pair, gradient_pair
from empirical.trainer import Trainer
from tests.problems import SMALL_RUN_CONFIG, small_mlp_spec

CONV = VAESpec(model=ModelSpec(data_dim=64, latent_dim=3, encoder_widths=(5,), decoder_widths=(6,),
                               architecture="conv", image_shape=(1, 8, 8), conv_channels=(2, 4), data_bound=8.0,
                               kind="bernoulli"), B=6)
MLP = VAESpec(model=ModelSpec(data_dim=5, latent_dim=2, encoder_widths=(4, 3), decoder_widths=(3,)), B=6)
LINEAR = VAESpec(model=ModelSpec(kind="linear", data_dim=4, latent_dim=2), B=8, n=10)


def batch(spec: VAESpec, B: int, K: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(B, spec.model.data_dim, generator=gen, dtype=torch.float64)
    return x, torch.randn(B, K, spec.model.latent_dim, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("spec,objective,estimator,baseline", [
    (MLP, ObjectiveSpec(), "pathwise", "none"),
    (MLP, ObjectiveSpec("iwae", K=3), "pathwise", "none"),
    (MLP, ObjectiveSpec("beta", beta=0.5, K=3), "score", "loo"),
    (CONV, ObjectiveSpec(), "pathwise", "none"),
    (CONV, ObjectiveSpec("iwae", K=2), "pathwise", "none"),
])
@pytest.mark.parametrize("B", [6, 7])
def test_the_tap_returns_the_batch_gradient_and_exactly_half_a_share(spec, objective, estimator, baseline, B):
    """One backward pass: its gradient is the batch's, and the tap holds (n_a / n) times half A's own gradient."""
    spec = dataclasses.replace(spec, objective=objective)
    flat0 = initial_parameters(spec, torch.Generator().manual_seed(0), torch.float64)
    x, eps = batch(spec, B, objective.K, seed=B)

    def plain(xs, es):
        f = flat0.clone().requires_grad_(True)
        return torch.autograd.grad(estimate(spec, f, xs, es, estimator, baseline)[0], f)[0]

    flat = flat0.clone().requires_grad_(True)
    tap = Tap(torch.zeros_like(flat, requires_grad=True), Split.halves(B))
    g, part_a = tapped_gradient(estimate(spec, flat, x, eps, estimator, baseline, tap=tap)[0], flat, tap)
    n_a = B // 2
    scale = float(plain(x, eps).abs().max())
    assert torch.allclose(g, plain(x, eps), rtol=0, atol=1e-12 * scale)
    assert torch.allclose(part_a, n_a / B * plain(x[:n_a], eps[:n_a]), rtol=0, atol=1e-12 * scale)
    assert float(part_a.abs().max()) > 0.01 * scale  # not trivially zero


def test_a_split_needs_two_nonempty_halves_and_whole_rows():
    with pytest.raises(ValueError, match="0 < n_a < n"):
        Split.halves(1)
    with pytest.raises(ValueError, match="whole number"):
        Split(2, 4).rows(6)
    assert Split(2, 4).rows(12) == 6  # three rows per example (K = 3 draws)


def pair_draws(trainer: Trainer, draws: int) -> np.ndarray:
    """<g, g'> of the step's pair, at the trainer's fixed theta, `draws` times."""
    out = []
    for _ in range(draws):
        pair = gradient_pair([trainer.compute(r) for r in trainer.requests()])
        out.append(float(pair.inner()))
    return np.array(out)


def linear_trainer(config: TrainConfig, n_points: int = 64) -> Trainer:
    data = synthetic_linear_gaussian(4, 2, n_points, data_bound=LINEAR.model.data_bound, seed=1)
    return Trainer(LINEAR, dataclasses.replace(config, dtype="float64"), data, progress=False)


@pytest.mark.parametrize("batches,norm_estimator,norm_batch", [
    ("epochs", "split", None), ("independent", "split", None), ("epochs", "fresh", None),
    ("independent", "fresh", None), ("epochs", "split", 3)])
def test_the_per_step_estimate_averages_to_the_exact_gradient_norm(batches, norm_estimator, norm_batch):
    """The linear VAE's ||grad L||^2 is exact: both estimators under both batch schemes average to it (also from
    a small fresh batch, split 1 + 2), and the plug-in ||ghat||^2 does not."""
    trainer = linear_trainer(TrainConfig(batches=batches, norm_estimator=norm_estimator, norm_batch=norm_batch))
    exact, se0 = P.full_grad_norm_sq(LINEAR, trainer.flat, trainer.X, torch.Generator().manual_seed(0))
    assert se0 == 0.0
    draws = pair_draws(trainer, 1500)
    assert abs(draws.mean() - exact) <= 4 * draws.std() / np.sqrt(len(draws))
    if (batches, norm_estimator) == ("independent", "split"):  # the check can tell: the plug-in is biased
        naive = np.array([float(trainer.minibatch_gradient(*trainer.fresh_batch())[0].square().sum())
                          for _ in range(1500)])
        assert naive.mean() - exact > 4 * naive.std() / np.sqrt(len(naive))


def test_halves_drawn_without_replacement_are_biased_by_the_finite_population_term():
    """docs/derivations.md: halves of a batch drawn without replacement from N points average to
    ||grad L||^2 - S / (N - 1), S the spread of the per-point gradients: measured on a set of 10 points, where the
    term is large."""
    trainer = linear_trainer(TrainConfig(batches="independent"), n_points=13)  # 10 training points
    X, N = trainer.X, len(trainer.X)
    per_point = []
    for i in range(N):
        f = trainer.flat.detach().requires_grad_(True)
        per_point.append(torch.autograd.grad(linear_elbo(LINEAR, f, X[i]), f)[0])
    F = torch.stack(per_point)
    mean = F.mean(0)
    exact, spread = float(mean @ mean), float(((F - mean) ** 2).sum(1).mean())
    gen = torch.Generator().manual_seed(3)
    draws = []
    for _ in range(4000):
        idx = torch.randperm(N, generator=gen)[:4]
        draws.append(float(F[idx[:2]].mean(0) @ F[idx[2:]].mean(0)))  # exact objective: no eps noise
    draws = np.array(draws)
    predicted = exact - spread / (N - 1)
    assert abs(draws.mean() - predicted) <= 4 * draws.std() / np.sqrt(len(draws))
    assert abs(draws.mean() - exact) > 8 * draws.std() / np.sqrt(len(draws))


@pytest.mark.parametrize("batches", ["epochs", "independent"])
def test_split_and_fresh_agree_on_a_network(batches):
    """No closed form for a deep VAE: the split estimator (one backward pass) and the reference (whole fresh
    batches) estimate the same ||grad L||^2."""
    spec = small_mlp_spec(B=8)
    data = synthetic_linear_gaussian(6, 2, 100, data_bound=spec.model.data_bound, seed=1)
    means = {}
    for estimator in ("split", "fresh"):
        trainer = Trainer(spec, TrainConfig(batches=batches, norm_estimator=estimator, dtype="float64"), data,
                          progress=False)
        draws = pair_draws(trainer, 1000)
        means[estimator] = (draws.mean(), draws.std() / np.sqrt(len(draws)))
    (a, se_a), (b, se_b) = means["split"], means["fresh"]
    assert abs(a - b) <= 4 * np.hypot(se_a, se_b)


def test_split_runs_record_the_column_resume_identically_and_train_alone_as_in_an_ensemble(tmp_path):
    from empirical.ensemble import train_ensemble
    spec = small_mlp_spec(n=30)
    data = synthetic_linear_gaussian(6, 2, 200, data_bound=spec.model.data_bound, seed=1)
    for batches in ("independent", "epochs"):
        config = TrainConfig(batches=batches, checkpoint_every=10, **SMALL_RUN_CONFIG)
        full = train(spec, config, data)
        assert full.trace["grad_norm_sq_unbiased"].notna().all()
        train(spec, config, data, out=tmp_path / batches, stop_after=13)
        resumed = train(spec, config, data, out=tmp_path / batches).trace
        cols = ["grad_norm_sq", "grad_norm_sq_unbiased", "objective_batch"]
        np.testing.assert_array_equal(resumed[cols].to_numpy(), full.trace[cols].to_numpy())
        together = train_ensemble([spec, dataclasses.replace(spec, seed=1)], config, [data, data])[0].trace
        np.testing.assert_allclose(together[cols].to_numpy(), full.trace[cols].to_numpy(), rtol=1e-4, atol=1e-6)


def test_a_smaller_fresh_batch_trains_alone_as_in_an_ensemble_and_a_batch_of_one_is_refused():
    from empirical.ensemble import train_ensemble
    spec = small_mlp_spec(n=12)
    data = synthetic_linear_gaussian(6, 2, 200, data_bound=spec.model.data_bound, seed=1)
    config = TrainConfig(norm_batch=5, **SMALL_RUN_CONFIG)  # epochs: the estimate's fresh batch is 2 + 3 points
    alone = train(spec, config, data).trace["grad_norm_sq_unbiased"]
    together = train_ensemble([spec, dataclasses.replace(spec, seed=4)], config, [data, data])[0].trace
    assert alone.notna().all()
    np.testing.assert_allclose(together["grad_norm_sq_unbiased"].to_numpy(), alone.to_numpy(), rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError, match="norm_batch"):
        TrainConfig(norm_batch=1)


def test_odd_batches_and_a_batch_of_one():
    """Halves of 7 are 3 and 4 (alone and in an ensemble); a batch of one cannot split and uses fresh batches."""
    from empirical.ensemble import train_ensemble
    data = synthetic_linear_gaussian(6, 2, 200, data_bound=2.0, seed=1)
    config = TrainConfig(batches="independent", **SMALL_RUN_CONFIG)
    odd = small_mlp_spec(n=10, B=7)
    alone = train(odd, config, data).trace["grad_norm_sq_unbiased"].to_numpy()
    together = train_ensemble([odd, dataclasses.replace(odd, seed=3)], config, [data, data])[0].trace["grad_norm_sq_unbiased"]
    np.testing.assert_allclose(together.to_numpy(), alone, rtol=1e-4, atol=1e-7)
    one = small_mlp_spec(n=10, B=1)
    assert train(one, config, data).trace["grad_norm_sq_unbiased"].notna().all()
    assert not Trainer(one, config, data, progress=False).splits


@pytest.mark.parametrize("batches", ["epochs", "independent"])
@pytest.mark.parametrize("norm_estimator", ["split", "fresh"])
@pytest.mark.parametrize("B,norm_batch", [(8, None), (8, 3), (8, 20), (1, None), (1, 4)])
def test_pair_batch_is_the_smallest_batch_the_trainer_pairs(batches, norm_estimator, B, norm_batch):
    """`pair_batch` (what compare reads from a run's record) against the requests the trainer actually makes, at
    a step and at the final row."""
    from empirical.step_gradients import pair_batch
    spec = small_mlp_spec(B=B)
    config = TrainConfig(batches=batches, norm_estimator=norm_estimator, norm_batch=norm_batch)
    trainer = Trainer(spec, config, synthetic_linear_gaussian(6, 2, 60, data_bound=2.0, seed=1), progress=False)
    sizes = []
    for final in (False, True):
        requests = trainer.requests(final)
        paired = requests[-1:] if requests[-1].split else requests[-2:]
        for r in paired:
            n = len(r.idx)
            sizes += [n // 2, n - n // 2] if r.split else [n]
    assert pair_batch(config.to_dict(), B) == min(sizes)  # what the run record holds
    assert pair_batch({"batches": batches}, B) == B  # recorded before the split estimator: whole batches



@pytest.mark.parametrize("halves", [False, True])
def test_the_preconditioned_inner_product_is_the_pairs_weighted_by_the_diagonal(halves):
    """Pair.inner(D) = <g, D g'> of the pair's two gradients, in the plain and the halves' form."""
    gen = torch.Generator().manual_seed(4)
    a, b, D = (torch.randn(7, generator=gen, dtype=torch.float64) for _ in range(3))
    pair = Pair(0.25 * a, 0.25 * a + 0.75 * b, 0.25) if halves else Pair(a, b)
    g, g2 = pair.vectors()
    assert float(pair.inner(D)) == pytest.approx(float(g @ (D * g2)), rel=1e-12)
    assert float(pair.inner(torch.ones(7, dtype=torch.float64))) == pytest.approx(float(pair.inner()), rel=1e-12)


def test_adaptive_runs_record_the_preconditioned_estimate_resume_identically_and_alone_as_in_an_ensemble(tmp_path):
    """<g, P g'> (docs/derivations.md, "The preconditioned gradient") at every row, the same after resuming from a
    checkpoint and in an ensemble as alone."""
    from bounds.spec import OptimizerSpec
    from empirical.ensemble import train_ensemble
    spec = dataclasses.replace(small_mlp_spec(n=30), optimizer=OptimizerSpec("adam", 1e-3, 0.9, 0.999))
    data = synthetic_linear_gaussian(6, 2, 200, data_bound=spec.model.data_bound, seed=1)
    config = TrainConfig(batches="independent", checkpoint_every=10, form="torch", **SMALL_RUN_CONFIG)
    full = train(spec, config, data).trace
    column = full["grad_precond_sq_estimate"]
    assert column.notna().all()
    train(spec, config, data, out=tmp_path / "run", stop_after=13)
    resumed = train(spec, config, data, out=tmp_path / "run").trace
    np.testing.assert_array_equal(resumed["grad_precond_sq_estimate"].to_numpy(), column.to_numpy())
    together = train_ensemble([spec, dataclasses.replace(spec, seed=1)], config, [data, data])[0].trace
    np.testing.assert_allclose(together["grad_precond_sq_estimate"].to_numpy(), column.to_numpy(), rtol=1e-4,
                               atol=1e-6)
