"""The probes on a large data set: the full-gradient probe on random subsets (still unbiased, its standard error
honest), the probe budget (skips probes, never changes training), and the objectives' seeded evaluation subset."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from bounds.spec import ModelSpec, VAESpec
from bounds.validate import SpecError
from empirical import TrainConfig, train
from empirical import probes as P
from empirical.data import Dataset
from empirical.probe_plan import FULL_DATA_UP_TO, MIN_SUBSAMPLE, full_gradient_points, probe_steps, within_budget
from tests.empirical.test_estimators import DT, LINEAR, TINY, setup


def test_the_subsampled_u_statistic_averages_to_the_full_data_value():
    """Each replicate on its own random subset of 5 of 40 points: the mean over many probes is ||grad L||^2 of the
    whole set (exact for the linear ELBO), within 4 standard errors; and the jackknife error covers the extra
    spread that subsampling adds."""
    flat, x, gen = setup(LINEAR, n=40)
    exact, _ = P.full_grad_norm_sq(LINEAR, flat, x, gen)
    results = [P.full_grad_norm_sq(LINEAR, flat, x, gen, replicates=4, use_exact=False, points=5)
               for _ in range(2000)]
    draws = torch.tensor([r[0] for r in results], dtype=DT)
    mean, se = float(draws.mean()), float(draws.std()) / math.sqrt(len(draws))
    assert abs(mean - exact) <= 4 * se
    whole = torch.tensor([P.full_grad_norm_sq(LINEAR, flat, x, gen, replicates=4, use_exact=False)[0]
                          for _ in range(500)], dtype=DT)
    assert float(draws.std()) > 1.5 * float(whole.std())  # the subsets add spread ...
    mean_se = sum(r[1] for r in results) / len(results)
    assert 0.5 < mean_se / float(draws.std()) < 2.0        # ... and the jackknife sees it


def test_points_at_least_the_set_is_the_whole_set_draw_for_draw():
    flat, x, _ = setup(TINY, n=8)
    a = P.full_grad_norm_sq(TINY, flat, x, torch.Generator().manual_seed(3), points=8)
    b = P.full_grad_norm_sq(TINY, flat, x, torch.Generator().manual_seed(3))
    assert a == b


def test_the_variance_probe_equals_the_stacked_reference():
    """The variance and SNR per block from running sums equal the stack-and-subtract computation on the same draws."""
    from empirical.estimators import estimate
    from empirical.functional import block_masks
    flat, X, _ = setup(TINY, n=30)
    got = P.gradient_noise(TINY, flat, X, 4, 2, 6, torch.Generator().manual_seed(5), "pathwise", "none")
    gen, samples = torch.Generator().manual_seed(5), []
    f = flat.detach().requires_grad_(True)
    for _ in range(6):
        idx = torch.randperm(len(X), generator=gen)[:4]
        eps = P.draw_eps(TINY, 4, 2, gen, f)
        samples.append(torch.autograd.grad(estimate(TINY, f, X[idx], eps, "pathwise", "none")[0], f)[0])
    G = torch.stack(samples).double()
    for name, mask in block_masks(TINY).items():
        g = G[:, mask]
        var = float(((g - g.mean(0)) ** 2).sum() / 5)
        assert got[f"grad_var_{name}"] == pytest.approx(var, rel=1e-9)
        assert got[f"snr_{name}"] == pytest.approx(float(g.mean(0).norm()) / math.sqrt(var), rel=1e-9)


def test_the_plan_probes_small_sets_whole_and_budgets_large_ones():
    config = TrainConfig()
    assert full_gradient_points(config, FULL_DATA_UP_TO, 1000, 32) == FULL_DATA_UP_TO
    # 60,000 images, one epoch at B = 128: 12 probes x 4 replicates x m <= 0.25 x 468 x 128
    m = full_gradient_points(config, 60_000, 468, 128)
    assert m == int(0.25 * 468 * 128 / (len(probe_steps(468, 12)) * 4)) and m >= MIN_SUBSAMPLE
    assert full_gradient_points(config, 60_000, 5, 128) == MIN_SUBSAMPLE  # never below the floor
    assert full_gradient_points(config, 60_000, 10**6, 128) == 60_000     # never above the set
    assert full_gradient_points(TrainConfig(probe_budget=None), 60_000, 468, 128) == 60_000
    assert full_gradient_points(TrainConfig(probe_points=1000), 60_000, 468, 128) == 1000
    assert full_gradient_points(TrainConfig(probe_points=1000), 600, 468, 128) == 600


def test_the_time_budget_spreads_its_allowance_over_the_schedule():
    schedule = [0, 1, 3, 10, 30, 100]
    rows = [{"probe_seconds": 1.0}]  # the first probe, with its warm-up
    # training at 0.1 s a step: 10 s projected; budget 0.5 -> 5 s, of which the k-th of 6 probes owns (k+1)/6
    assert not within_budget(0.5, schedule, 1, rows, elapsed=1.0 + 0.1)   # 1 + 1 > 5 x 2/6
    assert within_budget(0.5, schedule, 10, rows, elapsed=1.0 + 1.0)      # 1 + 1 <= 5 x 4/6
    rows.append({"probe_seconds": 0.2})                                     # later probes cost their median
    assert within_budget(0.5, schedule, 30, rows, elapsed=1.2 + 3.0)      # 1.2 + 0.2 <= 5 x 5/6
    assert within_budget(0.5, schedule, 0, [], elapsed=0.0)               # the first step: always


def test_config_refuses_a_bad_budget_or_subsample():
    assert TrainConfig(probe_budget=math.inf).probe_budget is None  # TOML's way of saying "no budget"
    for bad in (0, -0.5, math.nan, -math.inf):
        with pytest.raises(SpecError, match="probe_budget"):
            TrainConfig(probe_budget=bad)
    with pytest.raises(SpecError, match="probe_points"):
        TrainConfig(probe_points=0)


def _large_data(n: int = FULL_DATA_UP_TO + 904, dim: int = 6) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.random((n + 500, dim)).astype(np.float32)
    return Dataset("large", x[:n], x[n:])


SMALL = VAESpec(model=ModelSpec(kind="bernoulli", data_dim=6, latent_dim=2, encoder_widths=(4,), decoder_widths=(4,),
                                data_bound=math.sqrt(6)), B=16, n=60)


def test_a_tight_budget_skips_probes_but_never_changes_training():
    data = _large_data()
    tight = train(SMALL, TrainConfig(probes=8, probe_budget=1e-6), data)
    free = train(SMALL, TrainConfig(probes=8, probe_budget=None), data)
    taken = tight.trace.dropna(subset=["probe_seconds"])["step"].tolist()
    assert taken == [0, SMALL.n]  # the first and the last step are always probed
    skipped = tight.trace[tight.trace.get("probe_skipped", False) == True]["step"].tolist()  # noqa: E712
    assert sorted(skipped + taken) == probe_steps(SMALL.n, 8)
    columns = ["objective_batch", "grad_norm_sq", "grad_norm_sq_unbiased", "inf_norm_theta"]
    assert np.array_equal(tight.trace[columns].to_numpy(), free.trace[columns].to_numpy(), equal_nan=True)
    # the subsample is recorded, and the unbudgeted run probes the whole set
    assert set(tight.trace["full_grad_points"].dropna()) == {MIN_SUBSAMPLE}
    assert set(free.trace["full_grad_points"].dropna()) == {len(data.train)}


def test_small_data_sets_are_never_budgeted():
    rng = np.random.default_rng(1)
    x = rng.random((300, 6)).astype(np.float32)
    run = train(SMALL, TrainConfig(probes=8, probe_budget=1e-6), Dataset("small", x[:200], x[200:]))
    assert run.trace.dropna(subset=["probe_seconds"])["step"].tolist() == probe_steps(SMALL.n, 8)
    assert "probe_skipped" not in run.trace


def test_the_objectives_use_a_seeded_random_subset_and_say_how_many_points():
    """eval_points of a permutation seeded by the run's seed: not the file's first rows (MNIST's test set comes in
    writer blocks), the same rows at every probe, recorded with the count."""
    data = _large_data()
    run = train(dataclasses.replace(SMALL, n=3), TrainConfig(probes=2, eval_points=100), data)
    probe = run.trace.dropna(subset=["objective_test"]).iloc[0]
    assert probe["objective_test_points"] == 100 and probe["objective_train_points"] == 100
    from empirical.probe_plan import evaluation_subset
    rows = evaluation_subset(len(data.test), 100, SMALL.seed)
    assert not torch.equal(torch.sort(rows).values, torch.arange(100))  # a random sample, not the first rows
    assert torch.equal(rows, evaluation_subset(len(data.test), 100, SMALL.seed))
    assert evaluation_subset(50, 100, 0) == slice(None)  # fewer rows than eval_points: all of them


def test_an_instrumented_loop_on_large_data_keeps_to_the_budget(tmp_path):
    """A user's module outside the theory (ReLU) on 4,600 rows: the probes' full gradients on subsets, and a tight
    budget skips the scheduled probes between the first and the last."""
    from torch import nn
    from empirical.instrument import Instrument
    torch.manual_seed(0)
    X = torch.rand(FULL_DATA_UP_TO + 504, 6)
    model = nn.ModuleDict({"encoder": nn.Sequential(nn.Linear(6, 4), nn.ReLU()), "fc_mu": nn.Linear(4, 2),
                           "fc_logvar": nn.Linear(4, 2), "decoder": nn.Linear(2, 6)})

    def objective(m, x):
        h = m["encoder"](x)
        z = m["fc_mu"](h) + torch.exp(m["fc_logvar"](h) / 2) * torch.randn(len(x), 2)
        return -((x - m["decoder"](z)) ** 2).sum(-1)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    inst = Instrument(model, objective, data=X, out=tmp_path / "run", steps=30, optimizer=opt, probes=6,
                      probe_budget=1e-6)
    for k in range(30):
        x = X[torch.randint(len(X), (16,))]
        opt.zero_grad()
        loss = -objective(model, x).sum()
        loss.backward()
        inst.step(x, loss)
        opt.step()
    trace = inst.finish()
    assert trace.dropna(subset=["probe_seconds"])["step"].tolist() == [0, 30]
    assert trace["probe_skipped"].fillna(False).astype(bool).sum() == len(probe_steps(30, 6)) - 2
    assert set(trace["full_grad_points"].dropna()) == {MIN_SUBSAMPLE}
