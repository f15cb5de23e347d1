"""The top |eigenvalue| of the objective's Hessian (Lanczos on Hessian-vector products, noise frozen): L."""
from __future__ import annotations

from .base import Constant, ProbeContext, Quantity, column_max


def measure(ctx: ProbeContext) -> dict[str, float]:
    from ..probes import frozen_objective, top_hessian_eigenvalue
    objective = frozen_objective(ctx.spec, ctx.X[:ctx.config.hessian_points], ctx.generator)
    top, hvps = top_hessian_eigenvalue(objective, ctx.flat)
    return {"hessian_top_eig": top, "hessian_hvps": hvps}


QUANTITIES = [Quantity("hessian", {
    "hessian_top_eig": "probe: largest |eigenvalue| of the Hessian of the objective on `hessian_points` training "
                       "points with frozen noise (Lanczos)",
    "hessian_hvps": "probe: Hessian-vector products the Lanczos run used",
}, order=30, measure=measure, enabled_by=lambda config: config.lanczos, constant=Constant(
    "L", "smoothness: largest top Hessian eigenvalue at the probes (noise frozen)",
    lambda t: column_max(t, "hessian_top_eig")))]
