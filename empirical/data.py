"""Data sets as flat float arrays: generated, embedded, or read from a local path (never downloaded).

- `synthetic_linear_gaussian`: x = W z + b + c xi from a known linear-Gaussian model, true parameters stored.
- `digits`: the 8x8 handwritten digits (1,797 images) that ship inside scikit-learn: the embedded real default.
- `breast_cancer`: scikit-learn's breast-cancer table as label-signed rows, for black-box VI (`model='logistic'`).
- `load_path` (`empirical.data_files`): MNIST (idx files), CIFAR-100 (the python pickle release), CelebA (image
  folder with its partition file), or any .npy/.npz array. A missing or malformed path raises `DataError` (a
  ValueError) naming it.
Pixels are scaled to [0, 1]; images are flattened (the shape is kept in `image_shape`).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np


class DataError(ValueError):
    """A data path is missing or its content is not what its format promises."""


@dataclass
class Dataset:
    name: str
    train: np.ndarray  # (N, d) float32
    test: np.ndarray
    image_shape: tuple[int, ...] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.train.shape[1])

    @cached_property
    def fingerprint(self) -> str:
        """A content hash of exactly what a run trains and evaluates on: the train and test arrays as loaded
        (after scaling, in their order), with their shapes; two data sets with the same fingerprint are the same."""
        h = hashlib.blake2b(digest_size=16)
        for part in (self.train, self.test):
            part = np.ascontiguousarray(part, dtype=np.float32)
            h.update(repr(part.shape).encode())
            h.update(memoryview(part).cast("B"))
        return f"blake2b-128:{h.hexdigest()}"

    def describe(self) -> dict[str, Any]:
        """What a run records about its data (no arrays): its name, format and source path (where it was read from
        one), its content fingerprint, sizes and range."""
        norms = np.linalg.norm(np.concatenate([self.train, self.test]), axis=1)
        return {"name": self.name, "n_train": len(self.train), "n_test": len(self.test), "dim": self.dim,
                "image_shape": list(self.image_shape) if self.image_shape else None,
                "max_norm": float(norms.max()), "min_value": float(self.train.min()),
                "max_value": float(self.train.max()), "fingerprint": self.fingerprint, **self.meta}


def check_split(held_out: Any, seed: Any) -> None:
    """held_out in (0, 1), seed an integer >= 0 (DataError naming the parameter)."""
    from bounds.validate import count, finite
    try:
        fraction = finite("held_out", held_out)
        count("seed", seed, minimum=0)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    if not 0 < fraction < 1:
        raise DataError(f"held_out={held_out!r} is invalid: the held-out fraction must lie in (0, 1)")


def split(name: str, x: np.ndarray, held_out: float, seed: int, **kw: Any) -> Dataset:
    """A seeded random train/test split of one array (at least two rows: one to train on, one held out)."""
    check_split(held_out, seed)
    x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    if len(x) < 2:
        raise DataError(f"data set {name!r} has {len(x)} rows: a train/test split needs at least 2")
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = max(1, int(round(held_out * len(x))))
    return Dataset(name, x[order[n_test:]], x[order[:n_test]], **kw)


def synthetic_linear_gaussian(data_dim: int, latent_dim: int, n_points: int = 2000, noise_std: float = 0.5,
                              data_bound: float | None = None, held_out: float = 0.2, seed: int = 0) -> Dataset:
    """Draws from p(z) = N(0, I), x | z ~ N(W z + b, noise_std^2 I); rows longer than data_bound are rescaled onto
    the sphere of that radius (so the bounds' ||x|| <= R_x holds; the count is stored)."""
    from bounds.validate import count, finite
    try:
        count("data_dim", data_dim)
        count("latent_dim", latent_dim)
        count("n_points", n_points, minimum=2)
        if finite("noise_std", noise_std) < 0:
            raise DataError(f"noise_std={noise_std!r} is invalid: must be >= 0")
        if data_bound is not None and finite("data_bound", data_bound) <= 0:
            raise DataError(f"data_bound={data_bound!r} is invalid: must be > 0")
    except DataError:
        raise
    except ValueError as exc:
        raise DataError(str(exc)) from None
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, 1.0 / np.sqrt(latent_dim), (data_dim, latent_dim))
    b = rng.normal(0.0, 0.5, data_dim)
    x = rng.normal(size=(n_points, latent_dim)) @ W.T + b + noise_std * rng.normal(size=(n_points, data_dim))
    clipped = 0
    if data_bound is not None:
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        too_long = norms[:, 0] > data_bound
        clipped = int(too_long.sum())
        x[too_long] *= data_bound / norms[too_long]
    return split("synthetic-linear-gaussian", x, held_out, seed,
                 meta={"format": "generated", "true_W": W.tolist(), "true_b": b.tolist(), "noise_std": noise_std,
                       "rows_rescaled": clipped})


def digits(held_out: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's 8x8 digits, pixels / 16 in [0, 1]: real images, embedded in an installed package."""
    check_split(held_out, seed)
    from sklearn.datasets import load_digits
    images = load_digits().images.astype(np.float32) / 16.0
    return split("digits", images, held_out, seed, image_shape=(1, 8, 8),
                 meta={"format": "embedded (scikit-learn's load_digits)"})


BREAST_CANCER_COLUMNS = 31  # the intercept and the 30 features


def breast_cancer(held_out: float = 0.2, seed: int = 0, columns: int = BREAST_CANCER_COLUMNS) -> Dataset:
    """scikit-learn's breast-cancer data (569 tumours, 30 features) for Bayesian logistic regression: features
    standardised, an intercept column of ones first, each row multiplied by its label y in {-1, +1} (rows u = y x,
    so that log p(y | x, z) = log sigmoid(u . z)). `columns` < 31 keeps the intercept and the first columns - 1
    features (11: the ten "mean" features). Embedded in an installed package."""
    check_split(held_out, seed)
    if not isinstance(columns, int) or not 2 <= columns <= BREAST_CANCER_COLUMNS:
        raise DataError(f"the breast-cancer data has {BREAST_CANCER_COLUMNS} columns (an intercept and 30 features): "
                        f"data_dim={columns!r} must lie in [2, {BREAST_CANCER_COLUMNS}]")
    from sklearn.datasets import load_breast_cancer
    found = load_breast_cancer()
    x = (found.data - found.data.mean(0)) / found.data.std(0)
    signs = 2.0 * found.target - 1.0
    rows = np.concatenate([np.ones((len(x), 1)), x[:, :columns - 1]], axis=1) * signs[:, None]
    return split("breast-cancer", rows, held_out, seed,
                 meta={"rows": "y * (1, standardised x), y in {-1, +1}",
                       "format": "embedded (scikit-learn's load_breast_cancer)"})


def load_source(source: str, data_dim: int, latent_dim: int, data_bound: float, held_out: float = 0.2,
                seed: int = 0) -> Dataset:
    """A data set named the way run files and the command line name it: 'digits' (embedded), 'synthetic' (drawn
    from a linear-Gaussian model of the given dimensions) or a local path; split by `seed`."""
    if not isinstance(source, str) or not source.strip():
        raise DataError(f"data={source!r} is invalid: give 'digits', 'breast-cancer', 'synthetic' or a local path")
    if source == "digits":
        return digits(held_out, seed)
    if source == "breast-cancer":
        return breast_cancer(held_out, seed, data_dim)
    if source == "synthetic":
        return synthetic_linear_gaussian(data_dim, latent_dim, data_bound=data_bound, held_out=held_out, seed=seed)
    return load_path(source, held_out, seed)


def load_for_spec(source: str, spec: Any, held_out: float = 0.2) -> Dataset:
    """`load_source` with the dimensions and the seed of a `VAESpec`."""
    m = spec.model
    return load_source(source, m.data_dim, m.latent_dim, m.data_bound, held_out, spec.seed)


# The readers of local files build on this module's Dataset, so they are imported last (and re-exported here).
from .data_files import array_file, celeba, cifar100, load_path, mnist  # noqa: E402,F401
