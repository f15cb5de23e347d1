"""The spec's leaf sections: the hidden activation and the compact parameter set (`bounds.spec` re-exports them).

Plain frozen dataclasses, validated on construction like the rest of the spec.
"""
from __future__ import annotations

from dataclasses import dataclass

from .validate import choice, finite, invalid, positive

ACTIVATIONS = ("softclip", "tanh", "sigmoid", "softplus", "silu", "elu", "gelu", "identity", "relu", "leaky_relu")
NORM_KINDS = ("entrywise", "spectral", "frobenius")


@dataclass(frozen=True)
class ActivationSpec:
    """An activation and its parameters.

    softclip: generalized soft-clipping with sharpness `s` > 0 and range (`s1`, `s2`), s1 < s2.
    softplus: sharpness `s` (softplus_s(x) = log(1 + e^{s x}) / s). elu: `alpha` > 0.
    leaky_relu: `negative_slope` >= 0. relu and leaky_relu are not smooth: outside the theory.
    """

    name: str = "softclip"
    s: float = 5.0
    s1: float = 0.0
    s2: float = 50.0
    alpha: float = 1.0
    negative_slope: float = 0.01

    def __post_init__(self) -> None:
        choice("activation", self.name, ACTIVATIONS)
        positive("s", self.s)
        finite("s1", self.s1)
        finite("s2", self.s2)
        if self.name == "softclip" and not self.s1 < self.s2:
            invalid("s1", self.s1, f"must be < s2 (s2={self.s2})")
        positive("alpha", self.alpha)
        if finite("negative_slope", self.negative_slope) < 0:
            invalid("negative_slope", self.negative_slope, "must be >= 0")

    @property
    def reads(self) -> tuple[str, ...]:
        """The parameters this activation reads (the others keep their defaults and mean nothing for it)."""
        return {"softclip": ("s", "s1", "s2"), "softplus": ("s",), "elu": ("alpha",),
                "leaky_relu": ("negative_slope",)}.get(self.name, ())

    @property
    def smooth(self) -> bool:
        """Whether the activation is Lipschitz and smooth (assumption (i) of the theory)."""
        if self.name == "elu":
            return self.alpha == 1.0  # ELU's derivative jumps at 0 unless alpha = 1
        return self.name not in ("relu", "leaky_relu")


@dataclass(frozen=True)
class ParameterBound:
    """The compact parameter set.

    entrywise: every weight and bias entry in [-a, a] (the paper's ||theta||_inf <= a).
    spectral / frobenius: per-layer bounds on ||W_l|| (in that norm) and on ||b_l||_2, one value per
    layer in the order encoder layers, then decoder layers (see `VAESpec.layer_shapes`).
    """

    kind: str = "entrywise"
    a: float = 0.1
    layer_norms: tuple[float, ...] = ()
    bias_norms: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        choice("weight_bound.kind", self.kind, NORM_KINDS)
        positive("a", self.a)
        object.__setattr__(self, "layer_norms", tuple(positive("layer_norms", v) for v in self.layer_norms))
        object.__setattr__(self, "bias_norms", tuple(finite("bias_norms", v) for v in self.bias_norms))
        if any(v < 0 for v in self.bias_norms):
            invalid("bias_norms", self.bias_norms, "every entry must be >= 0")
        if self.kind != "entrywise" and len(self.layer_norms) != len(self.bias_norms):
            invalid("bias_norms", self.bias_norms, "needs one entry per entry of layer_norms")
