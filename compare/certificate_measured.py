"""The certificate's form at the run's measured constants: a diagnosis, not a guarantee.

The certificate is loose where its certified constants are: the segments' smoothness L_k and the per-example gradient
bounds G_k, M_k, all derived a priori. Put in instead the run's own largest top Hessian eigenvalue (the Lanczos probe,
`hessian_top_eig`) and its largest sqrt(example_norm_sq_sum) (at least every drawn example's gradient norm at its
step), with no truncation, and the same form gives what the certificate would be if those constants were certified as
tight as the run measured them. Between that figure and the measurement lies the form's own price (the martingale's
logarithm, the reshuffling and lag terms' structure); between it and the certificate, the constants'.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd


def measured_constants(t: pd.DataFrame) -> tuple[float, float] | None:
    """(L, G) measured on the run: the largest probed top Hessian eigenvalue and the largest sqrt(example_norm_sq_sum)
    over its steps; None where it recorded either not at all."""
    if "hessian_top_eig" not in t or "example_norm_sq_sum" not in t:
        return None
    L = float(np.nanmax(np.abs(t["hessian_top_eig"].to_numpy(float)), initial=-math.inf))
    G = float(np.sqrt(np.nanmax(t["example_norm_sq_sum"].iloc[:-1].to_numpy(float), initial=-math.inf)))
    return (L, G) if math.isfinite(L) and math.isfinite(G) and L > 0 and G > 0 else None
