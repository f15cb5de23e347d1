"""Each example's own gradient norm (empirical/example_norms.py), which the run's certificate prices its noise by:
the vectorised per-example gradients against one backward pass per example (and their mean against the batch's
gradient, which is what makes them the step's examples), and what the trainer records."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from bounds.presets import logistic_spec
from bounds.spec import ObjectiveSpec
from empirical import TrainConfig, train
from empirical.data import synthetic_linear_gaussian
from empirical.estimators import estimate
from empirical.example_norms import GHOST_COLUMNS, example_norm_sums
from empirical.functional import initial_parameters
from tests.problems import LINEAR_3_2, SMALL_RUN_CONFIG, TINY_MLP, small_mlp_spec

CASES = {
    "linear": (LINEAR_3_2, "pathwise", "none", 1),
    "mlp pathwise": (TINY_MLP, "pathwise", "none", 1),
    "mlp score, loo baseline": (TINY_MLP, "score", "loo", 3),
    "iwae": (dataclasses.replace(TINY_MLP, objective=ObjectiveSpec("iwae", K=3)), "pathwise", "none", 3),
    "black-box VI": (logistic_spec(), "pathwise", "none", 1),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_examples_gradients_are_the_batchs(case):
    spec, estimator, baseline, K = CASES[case]
    gen = torch.Generator().manual_seed(3)
    flat = initial_parameters(spec, gen, torch.float64) + 0.1 * torch.randn(spec.n_parameters, generator=gen,
                                                                            dtype=torch.float64)
    B, d_x = 5, spec.model.data_dim
    x = torch.randn(B, d_x, generator=gen, dtype=torch.float64)
    eps = torch.randn(B, K, spec.model.latent_dim, generator=gen, dtype=torch.float64)

    def gradient(rows: slice) -> torch.Tensor:
        theta = flat.clone().requires_grad_(True)
        return torch.autograd.grad(estimate(spec, theta, x[rows], eps[rows], estimator, baseline)[0], theta)[0]

    each = torch.stack([gradient(slice(i, i + 1)) for i in range(B)])
    assert torch.allclose(each.mean(0), gradient(slice(None)), rtol=1e-10, atol=1e-12)  # the step's examples
    norms = each.norm(dim=1)
    sums = example_norm_sums(spec, flat, x, eps, estimator, baseline)
    assert torch.allclose(sums, torch.stack([norms.sum(), (norms * norms).sum()]), rtol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_several_runs_at_once_equal_each_run_alone(case):
    """The ensembles' one call ([E, P] parameters, [E, B, ...] batches) against the per-run reference."""
    spec, estimator, baseline, K = CASES[case]
    gen = torch.Generator().manual_seed(4)
    E, B = 3, 4
    flats = torch.stack([initial_parameters(spec, gen, torch.float64) for _ in range(E)])
    x = torch.randn(E, B, spec.model.data_dim, generator=gen, dtype=torch.float64)
    eps = torch.randn(E, B, K, spec.model.latent_dim, generator=gen, dtype=torch.float64)
    together = example_norm_sums(spec, flats, x, eps, estimator, baseline)
    alone = torch.stack([example_norm_sums(spec, flats[e], x[e], eps[e], estimator, baseline) for e in range(E)])
    assert together.shape == (E, 2) and torch.allclose(together, alone, rtol=1e-10)


def test_the_trainer_records_them_where_the_certificate_reads_them():
    """SGD records both sums at every step (and their K-draw examples), on independent batches and on reshuffled
    epochs, where it also records the ghost batch; example_norms = false does not."""
    spec = small_mlp_spec(n=6)
    data = synthetic_linear_gaussian(spec.model.data_dim, spec.model.latent_dim, 120,
                                     data_bound=spec.model.data_bound, seed=1)
    columns = ("example_norm_sum", "example_norm_sq_sum")
    run = train(spec, TrainConfig(batches="independent", **SMALL_RUN_CONFIG), data, out=None, progress=False)
    steps = run.trace.iloc[:-1]
    assert all(steps[c].notna().all() for c in columns)
    # Jensen: the batch's mean gradient is no longer than its examples' mean norm
    assert (steps["grad_norm_sq"] ** 0.5 <= steps["example_norm_sum"] / spec.B * (1 + 1e-5)).all()
    assert (steps["example_norm_sum"] ** 2 <= spec.B * steps["example_norm_sq_sum"] * (1 + 1e-5)).all()
    assert not any(c in run.trace for c in GHOST_COLUMNS)  # the ghost batch is for reshuffled epochs only
    epochs = train(spec, TrainConfig(**SMALL_RUN_CONFIG), data, out=None, progress=False)
    steps = epochs.trace.iloc[:-1]
    assert all(steps[c].notna().all() for c in columns + GHOST_COLUMNS)
    # the ghost's gap ||ghat - ghost|| is at most ||ghat|| + ||ghost||, and ||ghost|| at most its examples' mean norm
    ghost_bound = steps["grad_norm_sq"] ** 0.5 + steps["ghost_example_norm_sum"] / steps["ghost_batch"]
    assert (steps["ghost_gap_sq"] ** 0.5 <= ghost_bound * (1 + 1e-5)).all() and (steps["ghost_gap_sq"] > 0).all()
    assert (steps["ghost_batch"] == (SMALL_RUN_CONFIG.get("norm_batch") or spec.B)).all()
    other = train(spec, TrainConfig(batches="independent", example_norms=False, **SMALL_RUN_CONFIG), data, out=None,
                  progress=False)
    assert not any(c in other.trace for c in columns)


def test_a_bad_setting_is_named():
    with pytest.raises(ValueError, match="example_norms"):
        TrainConfig(example_norms="yes")
    with pytest.raises(ValueError, match="ghost_batch"):
        TrainConfig(ghost_batch=1)


@pytest.mark.parametrize("estimator", ["split", "fresh"])
def test_the_ghost_record_matches_its_gradients_taken_one_by_one(estimator):
    """The trainer's ghost columns at one step (the split batch's one backward pass, the vectorised example norms)
    against the obvious reference: the training batch's and the fresh batch's gradients from their own backward
    passes, and the fresh batch's examples' gradients one at a time."""
    from empirical.example_norms import record_example_norms
    from empirical.trainer import Trainer
    spec = small_mlp_spec(n=4)
    data = synthetic_linear_gaussian(spec.model.data_dim, spec.model.latent_dim, 120,
                                     data_bound=spec.model.data_bound, seed=2)
    trainer = Trainer(spec, TrainConfig(norm_estimator=estimator, **SMALL_RUN_CONFIG), data, progress=False)
    requests = trainer.requests()
    row: dict = {}
    record_example_norms(trainer, row, requests, [trainer.compute(r) for r in requests])
    ghat = trainer.minibatch_gradient(requests[0].idx, requests[0].eps)[0]
    fresh = requests[1]
    ghost = trainer.minibatch_gradient(fresh.idx, fresh.eps)[0]
    norms = torch.stack([trainer.minibatch_gradient(fresh.idx[i:i + 1], fresh.eps[i:i + 1])[0].norm()
                         for i in range(len(fresh.idx))])
    assert row["ghost_gap_sq"] == pytest.approx(float(((ghat - ghost) ** 2).sum()), rel=1e-4)
    assert row["ghost_example_norm_sum"] == pytest.approx(float(norms.sum()), rel=1e-4)
    assert row["ghost_example_norm_sq_sum"] == pytest.approx(float((norms ** 2).sum()), rel=1e-4)
    assert row["ghost_batch"] == len(fresh.idx)
