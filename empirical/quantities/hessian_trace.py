"""tr(hess L) by Hutchinson's estimator: the mean of v' H v over Rademacher vectors v (E[v v'] = I), with its
standard error; the Hessian of the objective on `hessian_points` training points with frozen noise, as for the top
eigenvalue. Opt-in: TrainConfig(quantities=("hessian_trace",))."""
from __future__ import annotations

import math

from .base import ProbeContext, Quantity

VECTORS = 16  # v' H v samples: the standard error shrinks as 1/sqrt(VECTORS)


def hutchinson_trace(objective, flat, generator, vectors: int = VECTORS) -> tuple[float, float]:
    """(estimate, standard error) of tr(hess objective) at flat from `vectors` Rademacher probes."""
    import torch
    flat = flat.detach().requires_grad_(True)
    grad = torch.autograd.grad(objective(flat), flat, create_graph=True)[0]
    samples = []
    for _ in range(vectors):
        v = (2 * torch.randint(0, 2, flat.shape, generator=generator, device=flat.device) - 1).to(flat.dtype)
        hv = torch.autograd.grad(grad, flat, v, retain_graph=True)[0]
        samples.append(float(v.double() @ hv.double()))
    mean = sum(samples) / vectors
    var = sum((s - mean) ** 2 for s in samples) / (vectors - 1)
    return mean, math.sqrt(var / vectors)


def measure(ctx: ProbeContext) -> dict[str, float]:
    from ..probes import frozen_objective
    objective = frozen_objective(ctx.spec, ctx.X[:ctx.config.hessian_points], ctx.generator)
    trace, se = hutchinson_trace(objective, ctx.flat, ctx.generator)
    return {"hessian_trace": trace, "hessian_trace_se": se}


QUANTITIES = [Quantity("hessian_trace", {
    "hessian_trace": "probe (opt-in): tr(hess) of the objective on `hessian_points` training points with frozen "
                     "noise, Hutchinson's estimator over Rademacher vectors",
    "hessian_trace_se": "probe (opt-in): standard error of hessian_trace",
}, order=60, default=False, measure=measure)]
