"""Hand-made runs: a spec inside the theorem's conditions and a trace whose measured values the test chooses."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from bounds import derive as D
from bounds.spec import ObjectiveSpec, OptimizerSpec, VAESpec
from empirical import TrainConfig
from empirical.runs import Run
from tests.problems import SMALL_MLP

MODEL = SMALL_MLP
INSIDE = TrainConfig(batches="independent", project=True)
THEORY_STEP = 0.49  # C_gamma L: inside both theorems' caps


def theory_spec(n: int = 200, beta: float = 1.0, K: int = 1, B: int = 16, seed: int = 0,
                C_gamma: float | None = None) -> VAESpec:
    """SGD with C_gamma = 0.49 / L for the derived L (or the C_gamma given): the step-size conditions of the
    unprojected (C_gamma L <= 1) and the projected (C_gamma L <= 1/2) theorems hold."""
    spec = VAESpec(model=MODEL, objective=ObjectiveSpec("beta", beta=beta, K=K), B=B, n=n, seed=seed,
                   optimizer=OptimizerSpec("sgd", C_gamma=1.0))
    L = float(D.smoothness(spec).evaluate(D.spec_values(spec)))
    d = spec.to_dict()
    d["optimizer"]["C_gamma"] = THEORY_STEP / L if C_gamma is None else C_gamma
    return VAESpec.from_dict(d)


def fake_run(spec: VAESpec, per_step: Callable[[np.ndarray], np.ndarray], config: TrainConfig = INSIDE,
             hessian: float = 1.0, variance: float = 1.0, norm: float = 0.05, gap: float = 0.5,
             nelbo: float = 10.0, mapping: Callable[[np.ndarray], np.ndarray] | None = None) -> Run:
    """A finished run whose per-step unbiased estimates are per_step(k), k = 0..n, with the given probe values.
    mapping: per-step grad_mapping_sq; with it the projection acted (projection_distance > 0), without it never."""
    k = np.arange(spec.n + 1)
    probes = np.unique(np.geomspace(1, spec.n + 1, 6).astype(int) - 1)
    is_probe = np.isin(k, probes)
    x = per_step(k).astype(float)
    trace = pd.DataFrame({
        "step": k, "grad_norm_sq_unbiased": x, "grad_norm_sq": x + variance,
        "inf_norm_theta": norm, "inf_norm_phi": norm,
        "full_grad_norm_sq": np.where(is_probe, x, np.nan), "full_grad_norm_sq_se": np.where(is_probe, 0.0, np.nan),
        "hessian_top_eig": np.where(is_probe, hessian, np.nan),
        "grad_var_theta": np.where(is_probe, variance / 2, np.nan),
        "grad_var_phi": np.where(is_probe, variance / 2, np.nan),
        "objective_train": np.where(is_probe, -10.0 + gap * (k > 0), np.nan),
        "objective_test": np.where(is_probe, -nelbo, np.nan),
        "projection_distance": np.where(k < spec.n, 0.0 if mapping is None else 1e-3, np.nan),
    })
    if mapping is not None:
        trace["grad_mapping_sq"] = mapping(k).astype(float)
    config = {"spec": spec.to_dict(), "train": config.to_dict(), "status": "finished",
              "data": {"name": "hand-made", "max_norm": 1.0}}
    return Run(config, trace, None)


def with_running_average(target: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Per-step values whose running mean (1/(n+1)) sum_{k<=n} x_k equals target(n) exactly."""
    def per_step(k: np.ndarray) -> np.ndarray:
        total = (k + 1) * target(k)
        return np.diff(np.concatenate([[0.0], total]))
    return per_step
