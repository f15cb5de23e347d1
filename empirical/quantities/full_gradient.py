"""||grad L(theta_k)||^2 of the whole training objective, without bias, with its standard error."""
from __future__ import annotations

from .base import ProbeContext, Quantity


def measure(ctx: ProbeContext) -> dict[str, float]:
    from ..probes import full_grad_norm_sq
    est, se = full_grad_norm_sq(ctx.spec, ctx.flat, ctx.X, ctx.generator, ctx.config.full_grad_replicates)
    return {"full_grad_norm_sq": est, "full_grad_norm_sq_se": se}


QUANTITIES = [Quantity("full_gradient", {
    "full_grad_norm_sq": "probe: ||grad L(theta_k)||^2 of the whole training objective (per-example mean), unbiased: "
                         "exact for the linear ELBO, else a U-statistic of independent full-data estimates",
    "full_grad_norm_sq_se": "probe: standard error of full_grad_norm_sq (jackknife; 0 when exact)",
}, order=10, measure=measure)]
