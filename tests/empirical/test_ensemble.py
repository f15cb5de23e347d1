"""Ensembles (torch.func grad + vmap): each member's trace equals its run trained alone, up to rounding."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from bounds.spec import ObjectiveSpec, OptimizerSpec, VAESpec
from empirical import TrainConfig, synthetic_linear_gaussian, train
from empirical.ensemble import train_ensemble
from tests.problems import SMALL_MLP

MODEL = SMALL_MLP
CONFIG = TrainConfig(probes=3, full_grad_replicates=3, variance_draws=3, hessian_points=16, eval_points=32,
                     checkpoint_every=10)
TIMING = ["wall_time", "probe_seconds"]


def seeds(spec: VAESpec, n: int = 3) -> list[VAESpec]:
    return [dataclasses.replace(spec, seed=s) for s in range(n)]


def data_for(spec: VAESpec):
    return synthetic_linear_gaussian(6, 2, 120, data_bound=spec.model.data_bound, seed=spec.seed)


def close(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a, b = a.drop(columns=TIMING), b.drop(columns=TIMING)
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-4, atol=1e-6, equal_nan=True)


CASES = {
    "sgd pathwise, epochs": (VAESpec(model=MODEL, B=16, n=40, optimizer=OptimizerSpec("sgd", C_gamma=0.05)), CONFIG),
    "adam score+loo, independent": (
        VAESpec(model=MODEL, B=16, n=40, estimator="score", objective=ObjectiveSpec("elbo", K=2),
                optimizer=OptimizerSpec("adam", C_gamma=0.01)),
        dataclasses.replace(CONFIG, baseline="loo", batches="independent", project=True)),
    "iwae K=3": (VAESpec(model=MODEL, B=8, n=30, objective=ObjectiveSpec("iwae", K=3),
                         optimizer=OptimizerSpec("rmsprop", C_gamma=0.01)), CONFIG),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_member_equals_its_run_trained_alone(case):
    spec, config = CASES[case]
    specs = seeds(spec)
    together = train_ensemble(specs, config, [data_for(s) for s in specs])
    for s, run in zip(specs, together):
        assert run.status == "finished"
        close(run.trace, train(s, config, data_for(s)).trace)


def test_an_ensemble_resumes_runs_stopped_at_the_same_step(tmp_path):
    spec, config = CASES["sgd pathwise, epochs"]
    specs = seeds(spec)
    outs = [tmp_path / f"s{s.seed}" for s in specs]
    for s, out in zip(specs, outs):
        train(s, config, data_for(s), out=out, stop_after=20)
    resumed = train_ensemble(specs, config, [data_for(s) for s in specs], outs)
    for s, run in zip(specs, resumed):
        close(run.trace, train(s, config, data_for(s)).trace)
        assert not (run.path / "checkpoint.pt").exists()
    # Stopped at different steps: each member resumes alone, with the same result.
    outs2 = [tmp_path / f"t{s.seed}" for s in specs]
    for k, (s, out) in enumerate(zip(specs, outs2)):
        train(s, config, data_for(s), out=out, stop_after=10 + 5 * k)
    for s, run in zip(specs, train_ensemble(specs, config, [data_for(s) for s in specs], outs2)):
        close(run.trace, train(s, config, data_for(s)).trace)


def test_members_may_differ_in_their_optimiser():
    spec, config = CASES["sgd pathwise, epochs"]
    specs = [dataclasses.replace(spec, seed=0), dataclasses.replace(spec, seed=1, optimizer=OptimizerSpec("sgd", 0.2)),
             dataclasses.replace(spec, seed=2, optimizer=OptimizerSpec("adam", C_gamma=0.01))]
    for s, run in zip(specs, train_ensemble(specs, config, [data_for(s) for s in specs])):
        close(run.trace, train(s, config, data_for(s)).trace)


@pytest.mark.parametrize("make,needle", [
    (lambda s: [s, dataclasses.replace(s, B=8)], "must agree on the model, objective, estimator, B and n"),
    (lambda s: [s, dataclasses.replace(s, objective=ObjectiveSpec("beta", beta=0.5))], "must agree"),
])
def test_members_must_agree_on_what_the_gradient_depends_on(make, needle):
    spec, config = CASES["sgd pathwise, epochs"]
    specs = make(spec)
    with pytest.raises(ValueError, match=needle):
        train_ensemble(specs, config, [data_for(s) for s in specs])
    with pytest.raises(ValueError, match="fixed K"):
        train_ensemble(seeds(spec, 2), dataclasses.replace(config, K_alpha=0.5))
