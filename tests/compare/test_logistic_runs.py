"""Black-box VI end to end: the Bayesian logistic regression on the embedded breast-cancer data trains with each
estimator its family allows, is measured, and is compared and reported like a VAE run, from Python and from the
command line."""
from __future__ import annotations

import dataclasses
import numpy as np
import pytest
import torch

from bounds import derive as D
from bounds.presets import logistic_spec
from compare.cli import main
from compare.tightness import assess
from empirical import TrainConfig, train
from empirical.data import DataError, breast_cancer, load_for_spec
from empirical.estimators import exact_objective
from empirical.probes import full_gradient


def test_the_rows_fold_the_labels_in():
    """Each row is y (1, standardised x): its first entry is the label, and the columns option keeps the first."""
    data = breast_cancer()
    rows = np.concatenate([data.train, data.test])
    assert rows.shape == (569, 31) and set(np.unique(rows[:, 0])) == {-1.0, 1.0}
    assert np.allclose(np.abs(rows[:, 1:]).mean(0) > 0, True)
    assert breast_cancer(columns=11).train.shape == (455, 11)
    assert np.linalg.norm(rows, axis=1).max() <= logistic_spec().model.data_bound
    with pytest.raises(DataError, match="data_dim"):
        breast_cancer(columns=40)


@pytest.mark.parametrize("family, estimator", [("gaussian", "pathwise"), ("gaussian", "score"),
                                               ("bernoulli", "score")])
def test_each_estimator_trains_and_is_measured(family, estimator, tmp_path):
    spec = logistic_spec(family, estimator)
    run = train(spec, TrainConfig(steps=60, probes=3), load_for_spec("breast-cancer", spec), out=tmp_path / "run",
                progress=False)
    t = run.trace
    assert run.status == "finished"
    probed = t.dropna(subset=["full_grad_norm_sq"])
    for column in ("full_grad_norm_sq", "grad_var_phi", "hessian_top_eig", "objective_train"):
        assert np.isfinite(probed[column]).all(), column
    assert (t["inf_norm_theta"].dropna() == 0).all()  # no decoder: the theta block is empty
    assert probed["objective_train"].iloc[-1] > probed["objective_train"].iloc[0]  # the ELBO rose


def test_the_bernoulli_familys_objective_is_exact():
    """The product-Bernoulli ELBO is a sum over the 2^11 states: its gradient (what the probes report) equals the
    score-function estimator's mean over many draws."""
    from empirical.estimators import estimate
    spec = logistic_spec("bernoulli")
    u = torch.as_tensor(load_for_spec("breast-cancer", spec).train[:4], dtype=torch.float64)
    phi = torch.linspace(-1.5, 1.5, spec.n_parameters, dtype=torch.float64)
    exact = full_gradient(spec, phi, u, torch.Generator())
    gen = torch.Generator().manual_seed(0)
    flat = phi.clone().requires_grad_(True)
    eps = torch.randn(len(u), 20000, spec.model.latent_dim, generator=gen, dtype=torch.float64)
    mc = torch.autograd.grad(estimate(spec, flat, u, eps)[0], flat)[0]
    assert torch.allclose(mc, exact, rtol=0.05, atol=0.05 * float(exact.norm()))
    assert float(exact_objective(spec, phi, u)) < 0


@pytest.mark.parametrize("family", ["gaussian", "bernoulli"])
def test_a_theory_run_is_judged_sound_by_sgd(family, tmp_path):
    """At C_gamma = 1/L with independent batches the run meets the SGD theorem's conditions: compare applies it,
    names it, and the bound holds."""
    spec = logistic_spec(family)
    L = float(D.smoothness(spec).evaluate(D.spec_values(spec)))
    spec = dataclasses.replace(spec, optimizer=dataclasses.replace(spec.optimizer, C_gamma=0.99 / L))
    run = train(spec, TrainConfig(steps=80, probes=4, batches="independent"), load_for_spec("breast-cancer", spec),
                out=tmp_path / "run", progress=False)
    found = assess(run)
    broken = [c.name for c in found.conditions if not c.holds]
    assert found.applicable and found.sound is True, (broken, found.verdict)
    assert found.form is not None and found.form.reference.endswith("#sgd")
    assert found.tightness_ratio is not None and found.tightness_ratio >= 1


def test_the_command_line_trains_bounds_and_compares(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--preset", "logistic-bernoulli", "--steps", "30", "--out", str(out), "--no-progress"]) == 0
    assert main(["compare", str(out)]) == 0
    assert "sgd" in capsys.readouterr().out
    assert main(["bound", "--preset", "logistic", "--which", "smoothness"]) == 0
    assert "black-box VI" in capsys.readouterr().out
    # what the family cannot do, or data that does not match the spec: exit 2, nothing written
    assert main(["train", "--preset", "logistic-bernoulli", "--estimator", "pathwise", "--out",
                 str(tmp_path / "bad")]) == 2
    assert main(["train", "--preset", "logistic", "--data", "digits", "--out", str(tmp_path / "bad2")]) == 2
    assert not (tmp_path / "bad").exists() and not (tmp_path / "bad2").exists()
