"""Bad input through the Python API: a typed error (a ValueError subclass) whose one-line message names the parameter
and what is allowed; nothing is written."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bounds import derive as D
from bounds.spec import (ActivationSpec, ModelSpec, ObjectiveSpec, OptimizerSpec, ParameterBound, SpecError,
                         VAESpec, default_spec)
from empirical import DataError, TrainConfig, digits, load_path, synthetic_linear_gaussian, train
from empirical.data import Dataset, load_source
from empirical.runs import RunError, load_run

BOUND = D.convergence(default_spec())
VALUES = D.spec_values(default_spec())


def evaluate(**changes):
    return BOUND.evaluate({**VALUES, **changes})


def tiny_data(**changes) -> Dataset:
    data = synthetic_linear_gaussian(16, 4, n_points=40)
    for name, value in changes.items():
        setattr(data, name, value)
    return data


CASES = [
    # the audit's examples
    ("VAESpec(model='gaussian')", lambda: VAESpec(model="gaussian"), SpecError, "model='gaussian'"),
    ("ModelSpec(activation='tanh')", lambda: ModelSpec(activation="tanh"), SpecError, "ActivationSpec('tanh')"),
    ("convergence(estimator='bogus')", lambda: D.convergence(default_spec(), estimator="bogus"), SpecError,
     "estimator='bogus'"),
    ("smoothness(estimator=3)", lambda: D.smoothness(default_spec(), estimator=3), SpecError, "estimator=3"),
    *[(f"evaluate B={v!r}", (lambda v=v: evaluate(B=v)), SpecError, "B") for v in (-1, 0, math.nan, None, math.inf)],
    ("evaluate beta=-1", lambda: evaluate(beta=-1), SpecError, "beta=-1"),
    ("evaluate unknown key", lambda: evaluate(Bee=3), SpecError, "'Bee'"),
    ("evaluate K=0", lambda: evaluate(K=0), SpecError, "K=0"),
    ("evaluate n=-1", lambda: evaluate(n=-1), SpecError, "n=-1"),
    ("evaluate C_gamma=-1", lambda: evaluate(C_gamma=-1), SpecError, "C_gamma=-1"),
    ("evaluate a=nan", lambda: evaluate(a=math.nan), SpecError, "a"),
    ("evaluate B array with -3", lambda: evaluate(B=np.array([1, 2, -3])), SpecError, "B=-3"),
    ("evaluate B='x'", lambda: evaluate(B="x"), SpecError, "B='x'"),
    ("evaluate K=1.5", lambda: evaluate(K=1.5), SpecError, "K=1.5"),
    ("evaluate missing", lambda: BOUND.evaluate({"B": 3}), ValueError, "missing value"),
    ("digits(held_out=1.5)", lambda: digits(held_out=1.5), DataError, "held_out=1.5"),
    ("digits(held_out=0)", lambda: digits(held_out=0), DataError, "held_out=0"),
    ("digits(seed=-1)", lambda: digits(seed=-1), DataError, "seed=-1"),
    ("load_path(held_out=-1)", lambda: load_path("x", held_out=-1), DataError, "held_out=-1"),
    ("load_path('')", lambda: load_path(""), DataError, "data path ''"),
    ("load_path(missing)", lambda: load_path("no/such/file.npy"), DataError, "no/such/file.npy"),
    ("load_source(123)", lambda: load_source(123, 3, 2, 1.0), DataError, "data=123"),
    ("synthetic noise nan", lambda: synthetic_linear_gaussian(3, 2, noise_std=math.nan), DataError, "noise_std"),
    ("synthetic noise -1", lambda: synthetic_linear_gaussian(3, 2, noise_std=-1), DataError, "noise_std=-1"),
    ("synthetic data_dim 0", lambda: synthetic_linear_gaussian(0, 2), DataError, "data_dim=0"),
    ("synthetic n_points 1", lambda: synthetic_linear_gaussian(3, 2, n_points=1), DataError, "n_points=1"),
    ("synthetic data_bound 0", lambda: synthetic_linear_gaussian(3, 2, data_bound=0), DataError, "data_bound=0"),
    ("train NaN data", lambda: train(VAESpec(n=2), TrainConfig(probes=2), tiny_data(train=np.full((40, 16), np.nan,
                                                                                              np.float32))),
     DataError, "NaN"),
    ("train stop_after=-1", lambda: train(VAESpec(n=2), stop_after=-1), SpecError, "stop_after=-1"),
    ("train data width", lambda: train(VAESpec(n=2), data=synthetic_linear_gaussian(5, 2)), ValueError, "data_dim=16"),
    ("train B > n_train", lambda: train(VAESpec(n=2, B=1000), data=tiny_data()), ValueError, "B=1000"),
    ("train bernoulli outside [0,1]", lambda: train(VAESpec(model=ModelSpec(kind="bernoulli"), n=2),
                                                    data=tiny_data()), ValueError, "[0, 1]"),
    ("train loo K=1", lambda: train(VAESpec(n=2, B=8, estimator="score"), TrainConfig(baseline="loo"), tiny_data()),
     ValueError, "baseline='loo'"),
    ("load_run missing", lambda: load_run("no/such/run"), RunError, "no/such/run"),
    ("TrainConfig.from_dict list", lambda: TrainConfig.from_dict(["x"]), (SpecError, TypeError, AttributeError), ""),
]

# Every field of the spec and the training settings, with values outside its range.
FIELD_CASES = [
    ("B", lambda v: VAESpec(B=v), (0, -1, 1.5, math.nan, None, "x")),
    ("n", lambda v: VAESpec(n=v), (0, -2, math.inf)),
    ("seed", lambda v: VAESpec(seed=v), (-1, 0.5)),
    ("objective_gap", lambda v: VAESpec(objective_gap=v), (0, -1, math.nan)),
    ("estimator", lambda v: VAESpec(estimator=v), ("reinforce", None)),
    ("K", lambda v: ObjectiveSpec(K=v), (0, -1, 2.5)),
    ("beta", lambda v: ObjectiveSpec("beta", beta=v), (-1, math.nan, math.inf)),
    ("alpha", lambda v: ObjectiveSpec("vr_iwae", K=2, alpha=v), (1.0, -0.1)),
    ("objective", lambda v: ObjectiveSpec(v), ("vae",)),
    ("C_gamma", lambda v: OptimizerSpec(C_gamma=v), (0, -1, math.nan, math.inf)),
    ("beta1", lambda v: OptimizerSpec(beta1=v), (1.0, -0.5)),
    ("beta2", lambda v: OptimizerSpec(beta2=v), (0, 1, 2)),
    ("delta", lambda v: OptimizerSpec(delta=v), (0, -1e-8)),
    ("optimizer", lambda v: OptimizerSpec(v), ("lbfgs",)),
    ("a", lambda v: ParameterBound(a=v), (0, -1, math.nan)),
    ("weight_bound.kind", lambda v: ParameterBound(kind=v), ("nuclear",)),
    ("layer_norms", lambda v: ParameterBound("spectral", layer_norms=v, bias_norms=(1.0,)), ((-1.0,),)),
    ("s", lambda v: ActivationSpec(s=v), (0, -1)),
    ("s1", lambda v: ActivationSpec(s1=v, s2=1.0), (2.0, 1.0)),
    ("activation", lambda v: ActivationSpec(v), ("swish",)),
    ("negative_slope", lambda v: ActivationSpec("leaky_relu", negative_slope=v), (-0.1,)),
    ("data_dim", lambda v: ModelSpec(data_dim=v), (0, -3)),
    ("latent_dim", lambda v: ModelSpec(latent_dim=v), (0,)),
    ("encoder_widths", lambda v: ModelSpec(encoder_widths=v), ((0,), (-4,))),
    ("data_bound", lambda v: ModelSpec(data_bound=v), (-1, math.nan)),
    ("data_range", lambda v: ModelSpec(data_range=v), ((1.0, 0.0), (0.0,), (0.0, math.nan), "01", (0, 1, 2))),
    ("decoder_std", lambda v: ModelSpec(decoder_std=v), (0, -1)),
    ("mean_clip", lambda v: ModelSpec(mean_clip=v), (0,)),
    ("logvar_min", lambda v: ModelSpec(logvar_min=v), (2.0, 5.0)),
    ("head_s", lambda v: ModelSpec(head_s=v), (0,)),
    ("model", lambda v: ModelSpec(kind=v), ("gauss",)),
    ("architecture", lambda v: ModelSpec(architecture=v), ("cnn",)),
    ("steps", lambda v: TrainConfig(steps=v), (0, -1)),
    ("schedule", lambda v: TrainConfig(schedule=v), ("cosine",)),
    ("K_alpha", lambda v: TrainConfig(K_alpha=v), (0, 2)),
    ("held_out", lambda v: TrainConfig(held_out=v), (0, 1, -0.5)),
    ("full_grad_replicates", lambda v: TrainConfig(full_grad_replicates=v), (2,)),
    ("variance_draws", lambda v: TrainConfig(variance_draws=v), (1,)),
    ("device", lambda v: TrainConfig(device=v), (5, "tpu")),
    ("dtype", lambda v: TrainConfig(dtype=v), ("float16",)),
    ("project", lambda v: TrainConfig(project=v), ("yes",)),
    ("quantities", lambda v: TrainConfig(quantities=v), (("foo",), "hessian_trace")),
]
CASES += [(f"{name}={value!r}", (lambda make=make, value=value: make(value)), ValueError, name)
          for name, make, values in FIELD_CASES for value in values]


@pytest.mark.parametrize("make,error,needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_a_typed_error_naming_the_parameter(make, error, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written: the folder stays empty
    with pytest.raises(error) as caught:
        make()
    message = str(caught.value)
    assert needle in message and "\n" not in message.strip(), message
    assert not any(tmp_path.iterdir())


def test_numpy_scalars_are_valid_input():
    spec = VAESpec(B=np.int64(32), objective=ObjectiveSpec("beta", beta=np.float32(0.5), K=np.int32(2)))
    assert spec.B == 32 and type(spec.B) is int and spec.objective.beta == 0.5


def test_the_suites_together_hold_at_least_150_cases():
    from tests.bad_input.test_command_line import CASES as CLI
    assert len(CASES) + len(CLI) >= 150
