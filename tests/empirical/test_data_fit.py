"""A spec fitted to its data (empirical.data_fit): the data bound is never below a point's norm, and what the user
named is kept."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bounds.presets import digits_spec
from bounds.spec import VAESpec
from empirical.data import Dataset
from empirical.data_fit import data_bound, data_range, fit_spec, round_up


@pytest.mark.parametrize("value", [14.81926, 28.0, 7.2111, 0.0012345, 99999.5, 1.0, 3.0000000001, 0.1 + 0.2])
def test_round_up_never_falls_below_and_keeps_four_digits(value):
    up = round_up(value)
    assert up >= value and up <= value * (1 + 1e-3)


def _images(n: int = 50, dim: int = 784, seed: int = 0) -> Dataset:
    x = np.random.default_rng(seed).random((n + 10, dim)).astype(np.float32)
    return Dataset("images", x[:n], x[n:], (1, 28, 28))


def test_the_bound_covers_every_train_and_test_point_and_the_run_checks_the_same_number():
    data = _images()
    largest = max(np.linalg.norm(data.train, axis=1).max(), np.linalg.norm(data.test, axis=1).max())
    bound = data_bound(data, bernoulli=True)
    assert largest <= bound <= math.sqrt(784) and bound >= data.describe()["max_norm"]


def test_fit_takes_what_the_user_did_not_name_and_keeps_what_they_did():
    data = _images()
    tree = digits_spec().to_dict()
    fitted, changes = fit_spec(tree, data, given={})
    assert fitted["model"]["data_dim"] == 784 and fitted["model"]["data_bound"] == data_bound(data, False)
    assert any(c.startswith("data_dim 64 -> 784") for c in changes) and tree["model"]["data_dim"] == 64
    VAESpec.from_dict(fitted)  # a valid spec
    kept, changes = fit_spec(tree, data, given={"model": {"data_bound": 40.0}})
    assert kept["model"]["data_bound"] == tree["model"]["data_bound"] and not any("data_bound" in c for c in changes)
    logistic = {**tree, "model": {**tree["model"], "kind": "logistic"}}
    assert fit_spec(logistic, data, given={}) == (logistic, [])  # its rows are the posterior's data: left alone


def test_the_range_covers_every_training_coordinate_and_images_keep_the_unit_interval():
    images = _images()
    assert data_range(images) == [0.0, 1.0]
    fitted, changes = fit_spec(digits_spec().to_dict(), images, given={})
    assert not any(c.startswith("data_range") for c in changes)  # the preset's (0, 1) already
    shifted = Dataset("shifted", images.train * 3 - 1.23456, images.test, (1, 28, 28))
    low, high = data_range(shifted)
    assert low <= float(shifted.train.min()) and high >= float(shifted.train.max()) and high - low < 3.001
    fitted, changes = fit_spec(digits_spec().to_dict(), shifted, given={})
    assert fitted["model"]["data_range"] == [low, high] and VAESpec.from_dict(fitted).model.data_range == (low, high)
    kept, _ = fit_spec(digits_spec().to_dict(), shifted, given={"model": {"data_range": [0, 1]}})
    assert tuple(kept["model"]["data_range"]) == (0.0, 1.0)
