"""Per-layer norms of the weights and biases (spectral, Frobenius, Euclidean)."""
from __future__ import annotations

from .base import ProbeContext, Quantity


def measure(ctx: ProbeContext) -> dict[str, float]:
    from ..probes import parameter_norms
    return {k: v for k, v in parameter_norms(ctx.spec, ctx.flat).items() if not k.startswith("inf_norm")}


QUANTITIES = [Quantity("layer_norms", {
    "spectral_norm.<layer>": "probe: spectral norm of the layer's weight matrix",
    "frobenius_norm.<layer>": "Frobenius norm of the layer's weight matrix, at every step (the run's certificate "
                              "reads it) and at the probes",
    "spectral_bound.<layer>": "certified upper bound on the layer's spectral norm, at every step (the run's "
                              "certificate evaluates its smoothness constants at it; empirical/spectral_bounds.py)",
    "bias_norm.<layer>": "Euclidean norm of the layer's bias, at every step and at the probes (the linear VAE's "
                         "encoder.V: its log-variances)",
}, order=50, measure=measure)]
