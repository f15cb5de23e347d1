"""Training runs: reproducibility, resume, divergence, projection, the recorded columns, bad input."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from bounds.spec import ModelSpec, ObjectiveSpec, OptimizerSpec, ParameterBound, VAESpec
from empirical import RunError, TrainConfig, load_run, synthetic_linear_gaussian, train
from tests.problems import SMALL_RUN_CONFIG, small_mlp_spec

SPEC = small_mlp_spec()
CONFIG = TrainConfig(checkpoint_every=10, **SMALL_RUN_CONFIG)
TIMING = ["wall_time", "probe_seconds"]


def data(spec=SPEC, n_points=200):
    return synthetic_linear_gaussian(spec.model.data_dim, spec.model.latent_dim, n_points,
                                     data_bound=spec.model.data_bound, seed=1)


def same_trace(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.drop(columns=TIMING), b.drop(columns=TIMING))


def test_trace_has_the_documented_columns_and_rows():
    run = train(SPEC, CONFIG, data())
    t = run.trace
    assert run.status == "finished" and list(t["step"]) == list(range(61))
    probed = t.dropna(subset=["full_grad_norm_sq"])
    assert list(probed["step"]) == [0, 3, 14, 60]
    for col in ("grad_norm_sq", "grad_norm_sq_theta", "grad_norm_sq_phi", "inf_norm_sum", "objective_batch", "lr"):
        assert t[col].iloc[:-1].notna().all()
    assert np.allclose(t["grad_norm_sq_theta"] + t["grad_norm_sq_phi"], t["grad_norm_sq"], equal_nan=True)
    # the largest coordinate: at most the norm, at least the norm spread over every coordinate
    top, sq = t["grad_abs_max"].iloc[:-1], t["grad_norm_sq"].iloc[:-1]
    assert (top**2 <= sq * (1 + 1e-9)).all() and (sq <= SPEC.n_parameters * top**2 * (1 + 1e-9)).all()
    assert (top**2 < sq).any()
    for col in ("hessian_top_eig", "snr_theta", "snr_phi", "grad_var_theta", "objective_test"):
        assert probed[col].notna().all() and (col.startswith("objective") or (probed[col] > 0).all())
    assert np.allclose(t["lr"].iloc[:-1], 0.05 / np.sqrt(np.arange(1, 61)))


def test_paper_statistic_is_the_epoch_sum_of_batch_summed_gradient_norms():
    run = train(SPEC, CONFIG, data())
    t, n_train = run.trace, 160  # 200 points, held_out 0.2
    ends = t.index[t["paper_grad_stat"].notna()]
    assert len(ends) == 6  # 10 steps per epoch (160 // 16), 60 steps
    first = t.loc[: ends[0]]
    expected = (SPEC.B**2 * first["grad_norm_sq"]).sum() / (n_train * SPEC.n_parameters)
    assert t.loc[ends[0], "paper_grad_stat"] == pytest.approx(expected)


def test_same_seed_same_trace_other_seed_other_trace():
    a, b = train(SPEC, CONFIG, data()), train(SPEC, CONFIG, data())
    same_trace(a.trace, b.trace)
    c = train(dataclasses.replace(SPEC, seed=1), CONFIG, data())
    assert not np.allclose(a.trace["grad_norm_sq"].iloc[:-1], c.trace["grad_norm_sq"].iloc[:-1])


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_resume_gives_the_trace_of_an_uninterrupted_run(tmp_path, optimizer):
    spec = dataclasses.replace(SPEC, optimizer=OptimizerSpec(optimizer, C_gamma=0.02))
    whole = train(spec, CONFIG, data(), out=tmp_path / "whole")
    part = train(spec, CONFIG, data(), out=tmp_path / "cut", stop_after=25)
    assert part.status == "interrupted" and (tmp_path / "cut" / "checkpoint.pt").exists()
    assert json.loads((tmp_path / "cut" / "config.json").read_text())["status"] == "interrupted"
    resumed = train(spec, CONFIG, data(), out=tmp_path / "cut")
    assert resumed.status == "finished" and not (tmp_path / "cut" / "checkpoint.pt").exists()
    same_trace(whole.trace, resumed.trace)
    same_trace(whole.trace, load_run(tmp_path / "cut").trace)


def test_a_finished_run_is_returned_and_a_different_one_refused(tmp_path):
    first = train(SPEC, CONFIG, data(), out=tmp_path)
    before = (tmp_path / "trace.parquet").read_bytes()
    again = train(SPEC, CONFIG, data(), out=tmp_path)
    same_trace(first.trace, again.trace)
    with pytest.raises(RunError, match="holds a different run"):
        train(dataclasses.replace(SPEC, B=8), CONFIG, data(), out=tmp_path)
    assert (tmp_path / "trace.parquet").read_bytes() == before


def test_divergence_stops_the_run_and_keeps_its_trace(tmp_path):
    """The linear VAE is unbounded: a huge step makes it overflow (the soft-clipped nets stay finite)."""
    spec = dataclasses.replace(SPEC, model=ModelSpec(kind="linear", data_dim=6, latent_dim=2),
                               optimizer=OptimizerSpec("sgd", C_gamma=50.0))
    run = train(spec, CONFIG, data(spec), out=tmp_path)
    assert run.status == "diverged"
    step = run.config["diverged_at"]
    assert 0 < step < 60 and len(run.trace) == step + 1
    assert not np.isfinite(run.trace["objective_batch"].iloc[-1]) or not np.isfinite(run.trace["grad_norm_sq"].iloc[-1])
    stored = load_run(tmp_path)
    assert stored.status == "diverged" and len(stored.trace) == step + 1


def test_projection_keeps_every_iterate_in_the_compact_set():
    spec = dataclasses.replace(SPEC, weight_bound=ParameterBound(a=0.08), optimizer=OptimizerSpec("sgd", 0.5))
    t = train(spec, dataclasses.replace(CONFIG, project=True), data()).trace
    assert (t["inf_norm_theta"] <= 0.08 + 1e-7).all() and (t["inf_norm_phi"] <= 0.08 + 1e-7).all()
    free = train(spec, CONFIG, data()).trace
    assert (free["inf_norm_sum"] > 0.16).any()  # without projection the run leaves the set (so the check can fail)


def test_k_schedule_and_objectives_train():
    cfg = dataclasses.replace(CONFIG, K_alpha=0.5, lanczos=False)
    t = train(dataclasses.replace(SPEC, objective=ObjectiveSpec("iwae", 1.0, 1)), cfg, data()).trace
    assert list(t["K"].iloc[[0, 3, 8, 15]]) == [1, 2, 3, 4]  # ceil(sqrt(k + 1))
    for objective, estimator in [(ObjectiveSpec("vr_iwae", 1.0, 3, 0.5), "pathwise"),
                                 (ObjectiveSpec("beta", 0.5, 2), "score")]:
        spec = dataclasses.replace(SPEC, objective=objective, estimator=estimator)
        assert train(spec, dataclasses.replace(CONFIG, lanczos=False), data()).status == "finished"


def test_linear_vae_records_the_exact_full_gradient_norm():
    spec = dataclasses.replace(SPEC, model=ModelSpec(kind="linear", data_dim=6, latent_dim=2))
    probed = train(spec, CONFIG, data(spec)).trace.dropna(subset=["full_grad_norm_sq"])
    assert (probed["full_grad_norm_sq_se"] == 0).all()


def test_anchors_are_recorded_at_their_steps_on_their_own_stream():
    """anchor_every = 3: an unbiased ||grad L||^2 and its standard error at steps 0, 3, 6, .. (the last included where
    it falls on one), none elsewhere; training is unchanged by them (their own random stream); on the linear VAE they
    are exact, equal to the probes' value at a shared step."""
    plain, anchored = (train(SPEC, dataclasses.replace(CONFIG, anchor_every=every), data()) for every in (0, 3))
    t = anchored.trace
    has = t["anchor_grad_norm_sq"].notna()
    assert list(t.loc[has, "step"]) == [k for k in t["step"] if k % 3 == 0]
    assert (t.loc[has, "anchor_grad_norm_sq_se"] > 0).all() and "anchor_grad_norm_sq" not in plain.trace
    replicates = [f"anchor_replicate_sq.{j}" for j in range(CONFIG.full_grad_replicates)]
    assert (t.loc[has, replicates] > 0).all().all() and (t.loc[has, "anchor_points"] == min(256, 160)).all()
    same_trace(plain.trace, t.drop(columns=[c for c in t.columns if c.startswith("anchor_")]))
    spec = dataclasses.replace(SPEC, model=ModelSpec(kind="linear", data_dim=6, latent_dim=2))
    t = train(spec, dataclasses.replace(CONFIG, anchor_every=1), data(spec)).trace
    both = t.dropna(subset=["full_grad_norm_sq"])
    assert (t["anchor_grad_norm_sq_se"] == 0).all()
    assert np.allclose(both["anchor_grad_norm_sq"], both["full_grad_norm_sq"], rtol=1e-5)


@pytest.mark.parametrize("build,match", [
    (lambda: train(dataclasses.replace(SPEC, B=500), CONFIG, data()), "B=500 exceeds"),
    (lambda: train(dataclasses.replace(SPEC, model=dataclasses.replace(SPEC.model, data_dim=7)), CONFIG, data()),
     "data has 6 features but model.data_dim=7"),
    (lambda: train(SPEC, dataclasses.replace(CONFIG, baseline="loo"), data()), "baseline='loo' needs"),
    (lambda: TrainConfig(steps=0), "steps=0 is invalid"),
    (lambda: TrainConfig(held_out=1.5), "held_out=1.5"),
    (lambda: TrainConfig(full_grad_replicates=2), "full_grad_replicates=2 is invalid"),
    (lambda: TrainConfig(anchor_every=-1), "anchor_every=-1 is invalid.*>= 0"),
    (lambda: TrainConfig(anchor_points=0), "anchor_points=0 is invalid"),
    (lambda: TrainConfig(K_alpha=float("nan")), "K_alpha=nan"),
    (lambda: TrainConfig(device="tpu"), "device='tpu'"),
    (lambda: TrainConfig.from_dict({"stepz": 3}), "train.stepz is not a training setting"),
    (lambda: ObjectiveSpec("vr_iwae", 1.0, 2, 1.0), "alpha=1.0 is invalid"),
])
def test_bad_input_is_a_clear_error(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_corrupt_run_files_are_clear_errors(tmp_path):
    with pytest.raises(RunError, match="does not exist"):
        load_run(tmp_path / "nothing")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(RunError, match="config.json' is corrupt"):
        load_run(tmp_path)
    train(SPEC, CONFIG, data(), out=tmp_path / "ok")
    (tmp_path / "ok" / "trace.parquet").write_bytes(b"garbage")
    with pytest.raises(RunError, match="trace.parquet' is corrupt"):
        load_run(tmp_path / "ok")


def test_independent_batches_and_the_unbiased_column_keep_resume_identical(tmp_path):
    config = dataclasses.replace(CONFIG, batches="independent")
    full = train(SPEC, config, data())
    assert full.trace["grad_norm_sq_unbiased"].notna().all()
    train(SPEC, config, data(), out=tmp_path, stop_after=23)
    same_trace(full.trace, train(SPEC, config, data(), out=tmp_path).trace)


@pytest.mark.parametrize("unbiased", [False, True])
def test_the_linear_vae_log_variance_columns_are_those_of_the_iterate(unbiased):
    """They come with the step's other statistics (one host sync): the range of v at theta_k, before its update,
    and the unbiased norm still in its own column."""
    from empirical.trainer import Trainer
    spec = dataclasses.replace(SPEC, model=ModelSpec(kind="linear", data_dim=6, latent_dim=2))
    trainer = Trainer(spec, dataclasses.replace(CONFIG, unbiased_norm=unbiased), data(spec), progress=False)
    for _ in range(3):
        v = trainer.flat[spec.layout.logvars].clone()
        row = {"step": trainer.step, "epoch": trainer.epoch}
        assert trainer.train_step(row)
        assert (row["logvar_low"], row["logvar_high"]) == (float(v.min()), float(v.max()))
        assert ("grad_norm_sq_unbiased" in row) is unbiased
        trainer.step += 1
