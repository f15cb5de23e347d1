"""Rates: the fitted exponent of the measured running average against n, with a confidence interval over seeds.

The theory promises O(n^{-1/2} log n). The fit removes the theory's own log factor: it regresses
log(y / (1 + log(n + 1))) on log(n + 1), so a curve C n^{-1/2} log n fits -1/2 and a slower n^{-1/4} does not
(over a short range of n the two are close, since 1/log n changes the local slope by ~ 1/log n: the fit is only
as sharp as the range of n it sees). Points are taken log-spaced in n, so every decade weighs the same.

A slope is compared with -1/2 only in the regime the theorem describes. A fit window in which the running average
is still rising (its log-log slope over the window's last half is positive: the run is still leaving its start), in
which it peaked later than the window's first fifth (in log n) and less than a decade before its end, or that covers
less than one epoch of a run trained on reshuffled epochs, is pre-asymptotic: its verdict says so and how many steps a
fit would need (one epoch, and a decade of n past the peak or the last rise), instead of "slower than the theory".
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats

THEORY_SLOPE = -0.5
TOLERANCE = 0.05  # a fitted slope within this of -1/2 counts as the theory's rate


@dataclass(frozen=True)
class SlopeFit:
    slope: float             # exponent p in y ~ C n^p (1 + log(n + 1))
    slope_se: float          # OLS standard error (one run: optimistic, the residuals are correlated)
    raw_slope: float         # plain log-log slope, no log correction (what a log-log plot shows)
    n_min: int
    n_max: int
    points: int
    pre_asymptotic: str = ""  # why the window is not yet the theorem's regime ("" where it is)
    steps_needed: int = 0     # steps a fit in the regime would need (0 where the window is in it)


def fit_points(n: np.ndarray, y: np.ndarray, points: int = 40, n_min: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Log-spaced (n, y) with y > 0 and n >= n_min (default: 10, or 1% of the run if that is later)."""
    n, y = np.asarray(n, dtype=float), np.asarray(y, dtype=float)
    n_min = n_min if n_min is not None else max(10, int(n.max() // 100))
    keep = (n >= n_min) & (y > 0) & np.isfinite(y)
    n, y = n[keep], y[keep]
    if len(n) < 3:
        return n, y
    grid = np.unique(np.round(np.geomspace(n.min(), n.max(), points)))
    idx = np.unique(np.searchsorted(n, grid).clip(0, len(n) - 1))
    return n[idx], y[idx]


def fit_slope(n: Sequence[float], y: Sequence[float], points: int = 40, n_min: int | None = None,
              steps_per_epoch: int | None = None) -> SlopeFit:
    """Fit y ~ C n^p (1 + log(n + 1)) on log-log axes; needs at least 3 usable points. steps_per_epoch: a run on
    reshuffled epochs (its window must cover one); None for independent batches."""
    n_fit, y_fit = fit_points(np.asarray(n), np.asarray(y), points, n_min)
    if len(n_fit) < 3:
        raise ValueError(f"a slope needs at least 3 positive points with n >= n_min; got {len(n_fit)}")
    x = np.log(n_fit + 1)
    corrected = stats.linregress(x, np.log(y_fit / (1 + np.log(n_fit + 1))))
    raw = stats.linregress(x, np.log(y_fit))
    reason, needed = regime(n_fit, y_fit, steps_per_epoch)
    return SlopeFit(float(corrected.slope), float(corrected.stderr), float(raw.slope), int(n_fit.min()),
                    int(n_fit.max()), len(n_fit), reason, needed)


def fit_run_slope(n: Sequence[float], y: Sequence[float], config: dict) -> SlopeFit | None:
    """`fit_slope` of a run's running average (None where it has too few points); a run on reshuffled epochs (its
    config.json's `train.batches`) passes its epoch's length, n_train // B."""
    epoch = None
    if config.get("train", {}).get("batches", "epochs") == "epochs":
        n_train, B = config.get("data", {}).get("n_train"), config.get("spec", {}).get("B")
        epoch = int(n_train) // int(B) if n_train and B else None
    try:
        return fit_slope(n, y, steps_per_epoch=epoch)
    except ValueError:
        return None


def regime(n_fit: np.ndarray, y_fit: np.ndarray, steps_per_epoch: int | None) -> tuple[str, int]:
    """(why the window is pre-asymptotic or "", the steps a fit would need or 0): still rising over the last half of
    the window (in log n), peaked after its first fifth and less than a decade before its end, or shorter than one
    epoch."""
    reasons, needed = [], 0
    logs = np.log(n_fit + 1)
    late = logs >= (logs[0] + logs[-1]) / 2
    peak = int(np.argmax(y_fit))
    if late.sum() >= 3 and stats.linregress(logs[late], np.log(y_fit[late])).slope > 0:
        reasons.append("the running average is still rising")
        needed = 10 * int(n_fit[-1])
    elif logs[peak] > logs[0] + 0.2 * (logs[-1] - logs[0]) and n_fit[-1] < 10 * n_fit[peak]:
        # it rose, then began to fall: the window mixes the rise with less than a decade of the decay
        reasons.append(f"the running average peaked at n = {int(n_fit[peak])}, less than a decade before the end")
        needed = 10 * int(n_fit[peak])
    if steps_per_epoch and n_fit[-1] < steps_per_epoch:
        reasons.append(f"the fit covers {int(n_fit[-1])} of one epoch's {steps_per_epoch} steps")
        needed = max(needed, steps_per_epoch)
    return " and ".join(reasons), needed


@dataclass(frozen=True)
class RateEstimate:
    slope: float
    ci_low: float
    ci_high: float
    seeds: int
    verdict: str

    def to_dict(self) -> dict[str, float | int | str]:
        return {"slope": self.slope, "ci_low": self.ci_low, "ci_high": self.ci_high, "seeds": self.seeds,
                "verdict": self.verdict}


def verdict(ci_low: float, ci_high: float) -> str:
    """Against the theory's -1/2: `as fast as the theory or faster`, `slower than the theory`, or `inconclusive`."""
    if ci_high <= THEORY_SLOPE + TOLERANCE:
        return "as fast as the theory or faster"
    if ci_low > THEORY_SLOPE + TOLERANCE:
        return "slower than the theory"
    return "inconclusive"


def combine(fits: Sequence[SlopeFit], level: float = 0.95) -> RateEstimate:
    """Mean slope over seeds with a t confidence interval; one seed: the OLS interval of its fit."""
    if not fits:
        raise ValueError("no slope fits to combine")
    slopes = np.array([f.slope for f in fits])
    if len(fits) == 1:
        half = stats.t.ppf((1 + level) / 2, max(fits[0].points - 2, 1)) * fits[0].slope_se
    else:
        half = stats.t.ppf((1 + level) / 2, len(fits) - 1) * slopes.std(ddof=1) / math.sqrt(len(fits))
    mean = float(slopes.mean())
    early = [f for f in fits if f.pre_asymptotic]
    if early:  # no comparison with -1/2 outside the regime the theorem describes
        worst = max(early, key=lambda f: f.steps_needed)
        said = (f"not yet in the theorem's regime ({worst.pre_asymptotic}"
                + (f" in {len(early)} of {len(fits)} seeds" if len(fits) > 1 else "")
                + f"): a fit needs at least {worst.steps_needed:,} steps")
        return RateEstimate(mean, mean - half, mean + half, len(fits), said)
    return RateEstimate(mean, mean - half, mean + half, len(fits), verdict(mean - half, mean + half))
