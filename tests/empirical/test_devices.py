"""Training on each device this machine has (CPU always, CUDA where present): a run interrupted and resumed equals
an uninterrupted one on the same device (the checkpoint's generator states come back from the device), every
recorded column is finite, and the run folder compares like a CPU run."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from bounds.spec import ObjectiveSpec
from empirical import TrainConfig, load_run, synthetic_linear_gaussian, train
from tests.problems import SMALL_RUN_CONFIG, devices, small_mlp_spec

TIMING = ["wall_time", "probe_seconds"]


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("batches", ["independent", "epochs"])
def test_an_interrupted_run_resumes_to_the_uninterrupted_one_on_its_device(tmp_path, device, batches):
    spec = small_mlp_spec(n=40, objective=ObjectiveSpec("iwae", K=2))
    config = TrainConfig(device=device, batches=batches, checkpoint_every=10, **SMALL_RUN_CONFIG)
    data = synthetic_linear_gaussian(6, 2, 200, data_bound=spec.model.data_bound, seed=1)
    whole = train(spec, config, data, out=tmp_path / "whole")
    train(spec, config, data, out=tmp_path / "cut", stop_after=15)
    resumed = train(spec, config, data, out=tmp_path / "cut")
    assert whole.status == resumed.status == "finished"
    pd.testing.assert_frame_equal(whole.trace.drop(columns=TIMING), resumed.trace.drop(columns=TIMING))
    assert np.isfinite(whole.trace["grad_norm_sq_unbiased"].to_numpy()).all()
    assert load_run(tmp_path / "cut").parameters().shape == (spec.n_parameters,)


@pytest.mark.parametrize("device", devices())
def test_the_paper_conv_net_takes_steps_on_its_device(device):
    from bounds.presets import paper_image_spec
    from empirical import paper_train_config
    from empirical.data import Dataset
    from empirical.trainer import Trainer
    spec = dataclasses.replace(paper_image_spec("cifar100", latent_dim=8), B=8, n=3)
    rng = np.random.default_rng(0)
    images = rng.random((16, 3 * 32 * 32), dtype=np.float32)
    data = Dataset("random images", images[:12], images[12:], image_shape=(3, 32, 32))
    trainer = Trainer(spec, paper_train_config(device=device, probes=2, eval_points=4, hessian_points=4,
                                               full_grad_replicates=3, variance_draws=2), data, progress=False)
    rows = []
    for _ in range(3):
        row = {"step": trainer.step, "epoch": trainer.epoch}
        assert trainer.train_step(row)
        rows.append(row)
        trainer.step += 1
    assert all(np.isfinite(r["grad_norm_sq"]) and np.isfinite(r["grad_norm_sq_unbiased"]) for r in rows)
