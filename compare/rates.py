"""Rates: the fitted exponent of the measured running average against n, with a confidence interval over seeds.

The theory promises O(n^{-1/2} log n). The fit removes the theory's own log factor: it regresses
log(y / (1 + log(n + 1))) on log(n + 1), so a curve C n^{-1/2} log n fits -1/2 and a slower n^{-1/4} does not
(over a short range of n the two are close, since 1/log n changes the local slope by ~ 1/log n: the fit is only
as sharp as the range of n it sees). Points are taken log-spaced in n, so every decade weighs the same.
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


def fit_slope(n: Sequence[float], y: Sequence[float], points: int = 40, n_min: int | None = None) -> SlopeFit:
    """Fit y ~ C n^p (1 + log(n + 1)) on log-log axes; needs at least 3 usable points."""
    n_fit, y_fit = fit_points(np.asarray(n), np.asarray(y), points, n_min)
    if len(n_fit) < 3:
        raise ValueError(f"a slope needs at least 3 positive points with n >= n_min; got {len(n_fit)}")
    x = np.log(n_fit + 1)
    corrected = stats.linregress(x, np.log(y_fit / (1 + np.log(n_fit + 1))))
    raw = stats.linregress(x, np.log(y_fit))
    return SlopeFit(float(corrected.slope), float(corrected.stderr), float(raw.slope), int(n_fit.min()),
                    int(n_fit.max()), len(n_fit))


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
    return RateEstimate(mean, mean - half, mean + half, len(fits), verdict(mean - half, mean + half))
