"""Torch activations matching `bounds.spec.ActivationSpec`, generalized soft-clipping included."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def exact_softplus(t: torch.Tensor) -> torch.Tensor:
    """log(1 + e^t) without overflow. torch's F.softplus switches to the identity above its threshold
    (20), which makes its derivative jump there: the function would no longer be the smooth one the
    bounds are derived for. Each branch sees clamped inputs so that no branch, selected or not, makes
    an infinite value whose gradient (or second derivative) would turn into NaN."""
    positive = t + torch.log1p(torch.exp(-t.clamp(min=0)))
    negative = torch.log1p(torch.exp(t.clamp(max=0)))
    return torch.where(t > 0, positive, negative)


def softclip(x: torch.Tensor, s: float, s1: float, s2: float) -> torch.Tensor:
    """Generalized soft-clipping: softplus_s(x - s1) - softplus_s(x - s2) + s1, values in (s1, s2)."""
    return (exact_softplus(s * (x - s1)) - exact_softplus(s * (x - s2))) / s + s1


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
        return exact_softplus(s * x) / s
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
