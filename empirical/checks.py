"""What a run needs before any work (before any file is written): data, spec and settings that agree."""
from __future__ import annotations

import numpy as np
import torch

from bounds.spec import VAESpec
from .config import TrainConfig
from .data import DataError, Dataset
from .estimators import check_supported

MAX_PARAMETERS = 2**31 - 1  # torch's index range; far beyond what a CPU trains in reasonable time anyway


def check_trainable(spec: VAESpec, config: TrainConfig, data: Dataset) -> None:
    """Raise DataError or ValueError naming the setting, if `spec` cannot be trained on `data` under `config`."""
    for part, array in (("training", data.train), ("test", data.test)):
        if not np.isfinite(array).all():
            raise DataError(f"data {data.name!r}: the {part} set holds NaN or infinite values")
    if spec.n_parameters > MAX_PARAMETERS:
        raise ValueError(f"the spec has {spec.n_parameters:,} parameters: more than {MAX_PARAMETERS:,} cannot be "
                         "trained in memory here (reduce data_dim, latent_dim or the widths)")
    if data.dim != spec.model.data_dim:
        raise ValueError(f"data has {data.dim} features but model.data_dim={spec.model.data_dim}: they must match")
    if spec.model.kind == "bernoulli" and (data.train.min() < 0 or data.train.max() > 1):
        raise ValueError("model='bernoulli' needs data in [0, 1]")
    if spec.model.kind == "logistic" and spec.model.n_observations != len(data.train):
        raise ValueError(f"model.n_observations={spec.model.n_observations} but the data has {len(data.train)} training "
                         "rows: the per-example objective's mean is the ELBO only when they match")
    if len(data.train) < spec.B:
        raise ValueError(f"B={spec.B} exceeds the {len(data.train)} training points: B must be <= n_train")
    check_supported(spec, spec.estimator)  # before any file is written
    if config.baseline == "loo" and (spec.objective.K < 2 or config.K_alpha is not None):
        raise ValueError("baseline='loo' needs a fixed K >= 2 (objective.K) and no K schedule")
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={config.device!r} is not available here: use device='cpu'")
