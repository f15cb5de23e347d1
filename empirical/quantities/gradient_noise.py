"""The mini-batch estimator's variance and signal-to-noise ratio per block (decoder theta, encoder phi): sigma^2."""
from __future__ import annotations

import numpy as np

from .base import Constant, ProbeContext, Quantity


def measure(ctx: ProbeContext) -> dict[str, float]:
    from ..probes import gradient_noise
    cfg = ctx.config
    return gradient_noise(ctx.spec, ctx.flat, ctx.X, ctx.spec.B, ctx.K, cfg.variance_draws, ctx.generator,
                          ctx.spec.estimator, cfg.baseline)


def largest_variance(trace) -> float:
    if "grad_var_theta" not in trace:
        return float("nan")
    total = (trace["grad_var_theta"] + trace["grad_var_phi"]).to_numpy(dtype=float)
    total = total[~np.isnan(total)]
    return float(total.max()) if len(total) else float("nan")


QUANTITIES = [Quantity("gradient_noise", {
    "grad_var_theta": "probe: E||ghat - E ghat||^2 of the mini-batch estimator, decoder block",
    "grad_var_phi": "probe: the same for the encoder block",
    "snr_theta": "probe: ||E ghat_theta|| / sqrt(grad_var_theta)",
    "snr_phi": "probe: the same for phi",
}, order=20, measure=measure, constant=Constant(
    "sigma2", "variance: largest E||ghat - E ghat||^2 of the mini-batch estimator at the probes", largest_variance))]
