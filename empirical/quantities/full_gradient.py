"""||grad L(theta_k)||^2 of the whole training objective, without bias, with its standard error."""
from __future__ import annotations

from .base import ProbeContext, Quantity


def measure(ctx: ProbeContext) -> dict[str, float]:
    from ..probes import full_grad_norm_sq
    points = len(ctx.X) if ctx.full_grad_points is None else min(ctx.full_grad_points, len(ctx.X))
    est, se = full_grad_norm_sq(ctx.spec, ctx.flat, ctx.X, ctx.generator, ctx.config.full_grad_replicates,
                                points=points)
    return {"full_grad_norm_sq": est, "full_grad_norm_sq_se": se, "full_grad_points": points}


QUANTITIES = [Quantity("full_gradient", {
    "full_grad_norm_sq": "probe: ||grad L(theta_k)||^2 of the whole training objective (per-example mean), unbiased: "
                         "exact for the linear ELBO, else a U-statistic of independent full-data estimates",
    "full_grad_norm_sq_se": "probe: standard error of full_grad_norm_sq (jackknife over the replicates, the "
                            "subsampling included; 0 when exact)",
    "full_grad_points": "probe: training points of each full-gradient replicate (all of them, or an independent "
                        "random subset under the probe budget: empirical.probe_plan)",
}, order=10, measure=measure)]
