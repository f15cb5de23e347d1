"""The run's certificate (compare/certificate.py): its coverage over many seeded runs of the linear VAE, where the
certified quantity sum_k gamma ||grad L(theta_k)||^2 / sum_k gamma is exact; its tight tier; and what it refuses."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch.func import grad, vmap

from bounds import derive as D
from bounds.spec import ModelSpec, OptimizerSpec, ParameterBound, VAESpec
from compare.certificate import certificate_of_path, certify
from empirical.data import synthetic_linear_gaussian
from empirical.estimators import estimate, exact_objective
from empirical.functional import box_masks, initial_parameters

SEEDS, STEPS, DELTA = 200, 300, 0.05
SPEC = VAESpec(model=ModelSpec(kind="linear", data_dim=4, latent_dim=2, data_bound=3.0, logvar_min=-3, logvar_max=1),
               weight_bound=ParameterBound(a=1.0), B=8, n=STEPS)


def sgd_paths(spec: VAESpec, C_gamma: float, seeds: int = SEEDS) -> tuple[list[pd.DataFrame], np.ndarray, np.ndarray]:
    """`seeds` SGD runs at once (independent batches with replacement, the pathwise estimator as trained), each
    recorded as the trainer records it, with the exact ||grad L(theta_k)||^2 and L(theta_n) - L(theta_0)."""
    data = synthetic_linear_gaussian(4, 2, n_points=80, data_bound=3.0, seed=0)
    X = torch.as_tensor(data.train, dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    theta = torch.stack([initial_parameters(spec, torch.Generator().manual_seed(s), torch.float64)
                         for s in range(seeds)])
    masks, v = box_masks(spec), spec.layout.logvars
    step_grad = vmap(grad(lambda th, x, e: estimate(spec, th, x, e)[0]))
    exact_grad = vmap(grad(lambda th: exact_objective(spec, th, X)))
    objective = vmap(lambda th: exact_objective(spec, th, X))
    start = objective(theta)
    rows, true_sq = [], []
    for k in range(STEPS + 1):
        rows.append({"inf_norm_theta": theta[:, masks["theta"]].abs().amax(1), "inf_norm_phi":
                     theta[:, masks["phi"]].abs().amax(1), "logvar_low": theta[:, v].amin(1),
                     "logvar_high": theta[:, v].amax(1),
                     **{f"frobenius_norm.{slot.name}": theta[:, slot.weight].norm(dim=1) for slot in spec.layout},
                     **{f"bias_norm.{slot.name}": theta[:, slot.bias].norm(dim=1) for slot in spec.layout}})
        if k == STEPS:
            break
        idx = torch.randint(len(X), (seeds, spec.B), generator=gen)
        eps = torch.randn(seeds, spec.B, 1, spec.model.latent_dim, generator=gen, dtype=torch.float64)
        g = step_grad(theta, X[idx], eps)
        gamma = C_gamma / math.sqrt(k + 1)
        rows[-1].update(lr=torch.full((seeds,), gamma), grad_norm_sq=(g * g).sum(1), K=torch.ones(seeds))
        true_sq.append((exact_grad(theta) ** 2).sum(1))
        theta = theta + gamma * g
    gammas = C_gamma / np.sqrt(np.arange(1, STEPS + 1))
    target = (gammas[:, None] * torch.stack(true_sq).numpy()).sum(0) / gammas.sum()
    paths = [pd.DataFrame({name: [float(row[name][s]) if name in row else math.nan for row in rows]
                           for name in rows[0]}) for s in range(seeds)]
    return paths, target, (objective(theta) - start).numpy()


@pytest.mark.parametrize("step", ["theory", "practical"])
def test_the_certificate_covers_the_run_with_its_probability(step, tightness):
    """Over 200 seeds the certificate falls below the exact step-weighted average in at most a delta fraction of the
    runs, up to binomial noise (3 standard deviations). The theory step is C_gamma = 0.49/L; the practical one 10x
    larger (the certificate needs no step condition)."""
    L = float(D.smoothness(SPEC).evaluate(D.spec_values(SPEC)))
    C_gamma = 0.49 / L * (10 if step == "practical" else 1)
    spec = dataclasses.replace(SPEC, optimizer=OptimizerSpec("sgd", C_gamma=C_gamma))
    paths, target, gains = sgd_paths(spec, C_gamma)
    values = np.array([certificate_of_path(spec, path, float(gain), DELTA).value for path, gain in zip(paths, gains)])
    violated = int((target > values).sum())
    allowed = DELTA * SEEDS + 3 * math.sqrt(SEEDS * DELTA * (1 - DELTA))
    print(f"certificate violated in {violated} of {SEEDS} runs ({step} step); median certificate / exact "
          f"{np.median(values / target):.3g}")
    assert violated <= allowed
    for measured, bound in zip(target, values):
        tightness.record(f"certificate (linear VAE 4-2, {step} step)", float(measured), float(bound))


def test_a_run_outside_the_certificate_says_why(tmp_path):
    """Adam, reshuffled epochs and a bad delta: no certificate, and the reason (or the parameter) is named."""
    from bounds.presets import logistic_spec
    from empirical import TrainConfig, train
    from empirical.data import load_for_spec
    spec = logistic_spec("bernoulli")
    data = load_for_spec("breast-cancer", spec)
    epochs = train(spec, TrainConfig(steps=5, probes=2), data, out=None, progress=False)
    assert not certify(epochs).applies and "epochs" in certify(epochs).why
    adam = dataclasses.replace(spec, optimizer=OptimizerSpec("adam", C_gamma=1e-3))
    run = train(adam, TrainConfig(steps=5, probes=2, batches="independent"), data, out=None, progress=False)
    assert not certify(run).applies and "adam" in certify(run).why
    independent = train(spec, TrainConfig(steps=20, probes=2, batches="independent"), data, out=None, progress=False)
    found = certify(independent)
    assert found.applies and found.value >= found.measured and set(found.terms) >= {"noise", "objective gain"}
    with pytest.raises(ValueError, match="delta"):
        certify(independent, delta=1.5)
