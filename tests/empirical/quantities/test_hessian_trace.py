"""The Hutchinson trace against the trace of a dense Hessian, and as an opt-in quantity of a run."""
from __future__ import annotations

import math

import pytest
import torch

from empirical import TrainConfig, train
from empirical.probes import frozen_objective
from empirical.quantities.hessian_trace import hutchinson_trace
from tests.empirical.test_estimators import TINY, setup


def test_hutchinson_estimate_is_unbiased_for_the_dense_trace_and_its_error_is_honest():
    flat, x, gen = setup(TINY, n=6)
    objective = frozen_objective(TINY, x, gen)
    exact = float(torch.trace(torch.func.hessian(objective)(flat)))
    draws = [hutchinson_trace(objective, flat, gen, vectors=8) for _ in range(200)]
    estimates = torch.tensor([d[0] for d in draws], dtype=torch.float64)
    mean, se = float(estimates.mean()), float(estimates.std()) / math.sqrt(len(draws))
    assert abs(mean - exact) <= 4 * se
    assert 0.6 < sum(d[1] for d in draws) / len(draws) / float(estimates.std()) < 1.6  # the stated error is the spread


def test_a_run_measures_it_only_when_asked_and_leaves_the_other_columns_unchanged():
    from tests.problems import SMALL_RUN_CONFIG, small_mlp_spec
    spec = small_mlp_spec(n=8)
    plain = train(spec, TrainConfig(**SMALL_RUN_CONFIG)).trace
    asked = train(spec, TrainConfig(quantities=("hessian_trace",), **SMALL_RUN_CONFIG)).trace
    assert "hessian_trace" not in plain and asked["hessian_trace"].notna().sum() == plain["full_grad_norm_sq"].notna().sum()
    shared = [c for c in plain.columns if c not in ("wall_time", "probe_seconds")]
    assert asked[shared].equals(plain[shared])  # it draws after every default probe: their noise is unchanged


def test_an_unknown_quantity_is_refused_by_name():
    with pytest.raises(ValueError, match="quantities='hessian_trac'.*hessian_trace"):
        TrainConfig(quantities=("hessian_trac",))
