"""What a run measured, in the terms of the bound: the theorem's running average and the measured constants."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from empirical.runs import Run


@dataclass(frozen=True)
class RunningAverage:
    """(1/(n+1)) sum_{k<=n} ||grad L(theta_k)||^2 at every recorded n.

    source: `per-step unbiased` (running mean of grad_norm_sq_unbiased: unbiased for the theorem's quantity) or
    `interpolated probes` (full_grad_norm_sq at the probe steps, linearly interpolated in k: an approximation).
    se: a standard error of `value` from the step-to-step spread of the per-step estimates (martingale noise).
    """

    n: np.ndarray
    value: np.ndarray
    se: np.ndarray
    source: str

    def final(self) -> tuple[int, float, float]:
        return int(self.n[-1]), float(self.value[-1]), float(self.se[-1])


def running_average(trace: pd.DataFrame) -> RunningAverage:
    """The theorem's quantity along the run; rows after a divergence (non-finite values) are left out."""
    steps = trace["step"].to_numpy()
    if "grad_norm_sq_unbiased" in trace and trace["grad_norm_sq_unbiased"].notna().any():
        x = trace["grad_norm_sq_unbiased"].to_numpy(dtype=float)
        ok = np.isfinite(x)
        last = int(np.argmin(ok)) if not ok.all() else len(x)  # stop at the first missing or non-finite value
        x, n = x[:last], steps[:last]
        if len(x) == 0:
            raise ValueError("the run recorded no finite grad_norm_sq_unbiased")
        count = np.arange(1, len(x) + 1)
        value = np.cumsum(x) / count
        # Var(x_k | theta_k) from half the squared successive differences (||grad L|| changes slowly in k).
        diffs = np.concatenate([[0.0], np.diff(x) ** 2 / 2])
        diffs[0] = diffs[1] if len(diffs) > 1 else 0.0
        se = np.sqrt(np.cumsum(diffs)) / count
        return RunningAverage(n, value, se, "per-step unbiased")
    probes = trace.dropna(subset=["full_grad_norm_sq"])
    probes = probes[np.isfinite(probes["full_grad_norm_sq"])]
    if len(probes) < 2:
        raise ValueError("the run has neither grad_norm_sq_unbiased nor two probes of full_grad_norm_sq")
    n = np.arange(int(probes["step"].iloc[0]), int(probes["step"].iloc[-1]) + 1)
    x = np.interp(n, probes["step"], probes["full_grad_norm_sq"])
    se_k = np.interp(n, probes["step"], probes["full_grad_norm_sq_se"].fillna(0.0))
    count = np.arange(1, len(n) + 1)
    return RunningAverage(n, np.cumsum(x) / count, np.cumsum(se_k) / count, "interpolated probes")


# The constants of the theorem, and what the run measured for each.
CONSTANTS = {
    "L": "smoothness: largest top Hessian eigenvalue at the probes (noise frozen)",
    "sigma2": "variance: largest E||ghat - E ghat||^2 of the mini-batch estimator at the probes",
    "M": "gradient bound: largest ||ghat_k|| along the run",
    "L_star": "objective gap: largest observed objective_train minus its value at step 0 (a lower bound)",
    "a": "parameter bound: largest ||theta||_inf or ||phi||_inf along the run",
}


def measured_constants(run: Run) -> dict[str, float]:
    """The measured counterpart of each constant in `CONSTANTS` (NaN where the run did not record it)."""
    t = run.trace

    def top(column: str) -> float:
        if column not in t:
            return float("nan")
        v = t[column].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        return float(v.max()) if len(v) else float("nan")

    variance = (t["grad_var_theta"] + t["grad_var_phi"]) if "grad_var_theta" in t else pd.Series(dtype=float)
    objective = t["objective_train"].dropna() if "objective_train" in t else pd.Series(dtype=float)
    gap = float(max(objective.max() - objective.iloc[0], 0.0)) if len(objective) else float("nan")
    return {"L": top("hessian_top_eig"),
            "sigma2": float(variance.max()) if variance.notna().any() else float("nan"),
            "M": float(np.sqrt(top("grad_norm_sq"))),
            "L_star": gap,
            "a": max(top("inf_norm_theta"), top("inf_norm_phi"))}


def probe_series(run: Run, column: str) -> pd.DataFrame:
    """(step, value) at the probes where `column` was measured."""
    t = run.trace
    if column not in t:
        return pd.DataFrame({"step": [], column: []})
    return t.loc[t[column].notna(), ["step", column]].reset_index(drop=True)
