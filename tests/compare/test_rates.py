"""Rates: the fitted slope recovers -1/2 from an n^{-1/2} log n decay and does not pass n^{-1/4} as -1/2."""
from __future__ import annotations

import numpy as np
import pytest

from compare.rates import THEORY_SLOPE, combine, fit_slope
from compare.tightness import assess
from tests.compare.fakes import fake_run, theory_spec, with_running_average

N = np.arange(0, 100_001)


def noisy(target, seed, noise=0.05):
    rng = np.random.default_rng(seed)
    return target(N) * np.exp(noise * rng.standard_normal(len(N)))


def sqrt_log(n):
    return (np.log(n + 2)) / np.sqrt(n + 1)


def quarter(n):
    return 1 / (n + 1) ** 0.25


def test_n_to_the_minus_half_log_n_fits_a_slope_near_minus_half():
    est = combine([fit_slope(N, noisy(sqrt_log, seed)) for seed in range(5)])
    assert abs(est.slope - THEORY_SLOPE) < 0.03
    assert est.verdict == "as fast as the theory or faster"


def test_n_to_the_minus_quarter_does_not_pass_as_minus_half():
    est = combine([fit_slope(N, noisy(quarter, seed)) for seed in range(5)])
    assert est.ci_low > THEORY_SLOPE + 0.05
    assert est.verdict == "slower than the theory"


def test_raw_slope_is_the_plain_log_log_slope():
    fit = fit_slope(N, 3.0 / (N + 1) ** 0.7)
    assert fit.raw_slope == pytest.approx(-0.7, abs=1e-3)


def test_a_single_seed_gets_the_fit_interval_and_too_few_points_are_an_error():
    est = combine([fit_slope(N, noisy(sqrt_log, 0))])
    assert est.seeds == 1 and est.ci_low < est.slope < est.ci_high
    with pytest.raises(ValueError, match="at least 3"):
        fit_slope([0, 1], [1.0, 0.5])


def test_the_assessment_fits_the_running_average_of_a_run():
    spec = theory_spec(n=20_000)
    a = assess(fake_run(spec, with_running_average(lambda n: 2 * sqrt_log(n))))
    assert abs(a.summary()["fitted_slope"] - THEORY_SLOPE) < 0.03


def test_a_running_average_still_rising_is_not_compared_with_the_theory():
    """The 784-dimensional runs: the running average falls until n ~ 80, then rises over the epoch. Its positive
    slope says that the run has not reached the theorem's regime, not that it is slower than the theory."""
    n = np.arange(1, 900)
    y = np.where(n < 80, 10.0 / np.sqrt(n), 10.0 / np.sqrt(80) * (n / 80) ** 0.6)
    fit = fit_slope(n, y)
    assert fit.pre_asymptotic == "the running average is still rising" and fit.steps_needed == 10 * 899
    est = combine([fit])
    assert est.verdict.startswith("not yet in the theorem's regime") and "8,990 steps" in est.verdict
    assert "slower" not in est.verdict


def test_a_window_shorter_than_an_epoch_is_not_compared_with_the_theory():
    n = np.arange(0, 300)
    y = 3.0 * np.log(n + 2) / np.sqrt(n + 1)
    assert fit_slope(n, y).pre_asymptotic == ""  # independent batches: no epoch to cover
    fit = fit_slope(n, y, steps_per_epoch=938)
    assert fit.pre_asymptotic == "the fit covers 299 of one epoch's 938 steps" and fit.steps_needed == 938
    assert "938 steps" in combine([fit, fit_slope(n, y)]).verdict  # one seed early: the estimate says so


def test_a_decreasing_average_past_an_epoch_gets_the_usual_verdict():
    est = combine([fit_slope(N, noisy(sqrt_log, seed), steps_per_epoch=50) for seed in range(3)])
    assert est.verdict == "as fast as the theory or faster"


def test_a_rise_then_a_short_fall_is_not_yet_the_regime():
    """Risen to n = 60 and falling for less than a decade since: the window mixes the rise into the slope."""
    n = np.arange(1, 400)
    y = np.where(n < 60, (n / 60) ** 0.8, (n / 60) ** -0.5)
    fit = fit_slope(n, y)
    assert fit.pre_asymptotic.startswith("the running average peaked at n = ") and fit.steps_needed >= 590
    longer = np.arange(1, 20_000)
    decayed = np.where(longer < 60, (longer / 60) ** 0.8, (longer / 60) ** -0.5 * np.log(longer) / np.log(60))
    assert fit_slope(longer, decayed).pre_asymptotic == ""  # more than a decade past the peak: compared
