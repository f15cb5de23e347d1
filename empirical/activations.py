"""Torch activations matching `bounds.spec.ActivationSpec`, generalized soft-clipping included."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def softclip(x: torch.Tensor, s: float, s1: float, s2: float) -> torch.Tensor:
    """Generalized soft-clipping: softplus_s(x - s1) - softplus_s(x - s2) + s1, values in (s1, s2).

    Written with softplus (not the log of a ratio of exponentials) so that it never overflows.
    """
    return (F.softplus(s * (x - s1)) - F.softplus(s * (x - s2))) / s + s1


def apply(name: str, x: torch.Tensor, *, s: float = 5.0, s1: float = 0.0, s2: float = 50.0,
          alpha: float = 1.0, negative_slope: float = 0.01) -> torch.Tensor:
    """Apply the activation `name` (see bounds.spec.ACTIVATIONS) with the spec's parameters."""
    if name == "softclip":
        return softclip(x, s, s1, s2)
    if name == "tanh":
        return torch.tanh(x)
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "softplus":
        return F.softplus(x, beta=s)
    if name == "silu":
        return F.silu(x)
    if name == "gelu":
        return F.gelu(x)
    if name == "elu":
        return F.elu(x, alpha=alpha)
    if name == "identity":
        return x
    if name == "relu":
        return F.relu(x)
    if name == "leaky_relu":
        return F.leaky_relu(x, negative_slope)
    raise ValueError(f"activation={name!r} is unknown")
