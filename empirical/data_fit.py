"""A spec fitted to the data it is given: the dimension, the data bound R_x from the data's largest row norm (rounded
up, so that every point lies in the bound the theorems assume), the coordinates' range (rounded outward) and, for a
conv net, the image shape. The objective gap needs nothing here: a spec without `objective_gap` has it certified
from its own constants.

Only what the user did not set is fitted: a [spec.model] table that names data_dim or data_bound keeps its value
(and a data_dim that disagrees with the data is then an error before any work, naming both).
"""
from __future__ import annotations

import copy
import math
from typing import Any, Mapping

from .data import Dataset

FITTED = ("data_dim", "data_bound", "data_range", "image_shape")
EMBEDDED = ("digits", "synthetic", "breast-cancer")


def round_up(value: float, digits: int = 4) -> float:
    """value rounded up to `digits` significant digits (never below it)."""
    if value <= 0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(value)) - digits + 1)
    rounded = math.ceil(value / step) * step
    return float(rounded if rounded >= value else rounded + step)  # the product may round below value


def data_bound(data: Dataset, bernoulli: bool) -> float:
    """The largest row norm over the training and the held-out points (the `max_norm` the run records, which compare's
    data-bound condition reads), rounded up (a Bernoulli model's bound is at most sqrt(d), which data in [0, 1]^d
    never exceed)."""
    largest = float(data.describe()["max_norm"])
    bound = round_up(largest)
    return min(bound, math.sqrt(data.dim)) if bernoulli and largest <= math.sqrt(data.dim) else bound


def data_range(data: Dataset) -> list[float]:
    """The training points' smallest and largest coordinates, rounded outward to 1e-4 (images in [0, 1] keep
    [0, 1])."""
    described = data.describe()
    low, high = math.floor(described["min_value"] * 1e4) / 1e4, math.ceil(described["max_value"] * 1e4) / 1e4
    return [low, high if high > low else low + 1e-4]


def fit_spec(tree: dict[str, Any], data: Dataset, given: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(the spec tree with the fields in FITTED that `given` (the user's [spec] table) does not set taken from the
    data, the changes in words). The black-box VI model is left as it is (its rows are the posterior's data)."""
    tree = copy.deepcopy(tree)
    model, named = tree["model"], dict(given.get("model", {}) or {})
    if model.get("kind") == "logistic":
        return tree, []
    fitted = {"data_dim": data.dim, "data_bound": data_bound(data, model.get("kind") == "bernoulli"),
              "data_range": data_range(data)}
    if model.get("architecture") == "conv" and data.image_shape:
        fitted["image_shape"] = list(data.image_shape)
    changes = []
    for name, value in fitted.items():
        current = model.get(name)
        if name in named or (list(current) if isinstance(current, tuple) else current) == value:
            continue
        changes.append(f"{name} {model.get(name)!r} -> {value!r}")
        model[name] = value
    return tree, changes


def fits_by_default(source: str) -> bool:
    """A local data set is fitted unless told otherwise; the embedded ones keep their presets' specs."""
    return source not in EMBEDDED
