"""What a derived bound states about itself: its hypotheses in words, and its status."""
from __future__ import annotations

from .objectives.pieces import Pieces
from .spec import VAESpec

BASE_ASSUMPTIONS = (
    "parameters in the compact set of the spec's weight bound (entry-wise a, or per-layer norms)",
    "data bounded: ||x|| <= R_x",
    "encoder heads soft-clipped: |mu_j| < mu_max, logvar_min < logvar_j < logvar_max",
)


def bound_status(pieces: Pieces, spec: VAESpec) -> str:
    """derived; extension (beyond the paper: the Bernoulli decoder, the VR-IWAE objective); outside-theory where a
    piece is."""
    if "outside-theory" in pieces.statuses:
        return "outside-theory"
    return "extension" if spec.model.kind == "bernoulli" or spec.objective.kind == "vr_iwae" else "derived"


def hypotheses(spec: VAESpec) -> list[str]:
    """The hypotheses a derived bound of `spec` rests on, in words."""
    out = list(BASE_ASSUMPTIONS)
    if spec.model.kind != "linear":
        out.append(f"activation {spec.model.activation.name}: Lipschitz and smooth (assumption (i))"
                   if spec.model.activation.smooth else
                   f"activation {spec.model.activation.name} is NOT smooth: outside the theory")
    if spec.model.kind == "bernoulli":
        out.append("Bernoulli decoder, data in [0, 1]^d: beyond the paper's theory (this project's extension)")
    if spec.objective.kind == "vr_iwae":
        out.append("VR-IWAE objective, alpha in [0, 1): the paper's first open question (this project's extension)")
    return out
