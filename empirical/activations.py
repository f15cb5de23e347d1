"""Torch activations matching `bounds.spec.ActivationSpec`, generalized soft-clipping included."""
from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=None)  # called for every activation of every step
def jump_free_threshold(dtype: torch.dtype) -> float:
    """The input above which F.softplus returns its input, chosen so that the switch is invisible in `dtype`.

    torch's softplus kernel computes log1p(exp(t)) below a threshold and t above it. The function jumps there by
    log1p(e^-T) ~ e^-T and its derivative by sigmoid(-T) ~ e^-T. With T = ceil(-log eps) + 4 (20 in float32, 41 in
    float64), e^-T < eps/50 is far below half an ulp of T (about eps T / 2): the kernel rounds to the exact
    function on both sides, so it is the smooth function the bounds are derived for, at the kernel's cost (one
    fused op forward and backward, where the clamped formula took eight). The default threshold 20 would leave a
    jump of 2e-9 in float64, 10^7 ulps of the derivative near 20."""
    return float(math.ceil(-math.log(torch.finfo(dtype).eps)) + 4)


def exact_softplus(t: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """log(1 + e^(beta t)) / beta, exact to rounding in t's dtype, without overflow and without the derivative jump
    of F.softplus's default threshold (see `jump_free_threshold`)."""
    return F.softplus(t, beta=beta, threshold=jump_free_threshold(t.dtype))


def softclip(x: torch.Tensor, s: float, s1: float, s2: float) -> torch.Tensor:
    """Generalized soft-clipping: softplus_s(x - s1) - softplus_s(x - s2) + s1, values in (s1, s2)."""
    return exact_softplus(x - s1, s) - exact_softplus(x - s2, s) + s1


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
        return exact_softplus(x, s)
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
