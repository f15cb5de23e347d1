"""Half a batch's share of every layer gradient, read off the user's own backward pass: forward hooks on a module's
nn.Linear, nn.Conv2d and nn.ConvTranspose2d layers keep each call's input, and a hook on its output computes the
weight and bias gradients of the first half of the examples (the batch's leading dimension, example-major), as
`empirical.split_batch` does for the toolkit's own layers. The rest of the gradient is the second half's, so one
backward gives two conditionally independent half-batch gradients, whose inner product estimates ||grad L||^2
without bias.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

TAPPED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


class HalfBatchTap:
    """Collects half A's gradient of every tapped layer's parameters while the module trains (`parts`, by parameter).
    The first tapped call after `reset` fixes the batch size B (its leading dimension); every call's leading
    dimension must be a multiple of B, example-major."""

    def __init__(self, module: nn.Module) -> None:
        self.layers = [m for m in module.modules() if isinstance(m, TAPPED)]
        self.handles = [m.register_forward_hook(self._forward) for m in self.layers]
        self.covered = {id(p) for m in self.layers for p in (m.weight, m.bias) if p is not None}
        self.parts: dict[int, torch.Tensor] = {}
        self.B: int | None = None
        self.active = True

    def reset(self) -> None:
        self.parts, self.B = {}, None

    @contextlib.contextmanager
    def paused(self):
        """No collecting inside (the probes' own passes through the module)."""
        self.active = False
        try:
            yield
        finally:
            self.active = True

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()

    def _forward(self, layer: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if not self.active or not torch.is_grad_enabled() or not output.requires_grad:
            return  # a probe's or an evaluation's pass: no training gradient to split
        x = inputs[0].detach()
        if self.B is None:
            self.B = len(x)
        if len(x) % self.B:
            raise ValueError(f"{type(layer).__name__} was called with {len(x)} rows in a batch of {self.B}: a tapped "
                             "layer's leading dimension must be a multiple of the batch size, example-major")
        rows = len(x) // self.B * (self.B // 2)
        output.register_hook(lambda grad: self._collect(layer, x[:rows], grad[:rows]))

    def _collect(self, layer: nn.Module, x: torch.Tensor, grad: torch.Tensor) -> None:
        # Subnormal entries (a soft-clip's saturated units give them) slow a CPU product by 40x, and what they add to
        # the gradient is below the dtype's smallest normal number: flushed to zero here, as the hardware would.
        x, grad = _flush_subnormal(x), _flush_subnormal(grad)
        if isinstance(layer, nn.Linear):
            g, xs = grad.reshape(-1, grad.shape[-1]), x.reshape(-1, x.shape[-1])
            gW, gb = g.T @ xs, g.sum(0)
        else:
            transposed = isinstance(layer, nn.ConvTranspose2d)
            _, gW, gb = torch.ops.aten.convolution_backward(
                grad, x, layer.weight, [layer.weight.shape[1 if transposed else 0]], list(layer.stride),
                list(layer.padding), list(layer.dilation), transposed,
                list(layer.output_padding) if transposed else [0, 0], layer.groups, [False, True, True])
        for p, part in ((layer.weight, gW), (layer.bias, gb)):
            if p is not None:
                self.parts[id(p)] = self.parts[id(p)] + part if id(p) in self.parts else part

    def half_parts(self, params: list[nn.Parameter]) -> list[torch.Tensor] | None:
        """Half A's share of the gradient of each of `params` (None where a parameter is outside the tapped layers:
        its gradient cannot be split by example)."""
        if any(id(p) not in self.covered for p in params):
            return None
        return [self.parts[id(p)] if id(p) in self.parts else torch.zeros_like(p) for p in params]


FLUSH_FROM = 4096  # entries: below this a product is too short for subnormal slowness to outweigh the flush


def _flush_subnormal(t: torch.Tensor) -> torch.Tensor:
    if t.numel() < FLUSH_FROM:
        return t
    return torch.where(t.abs() < torch.finfo(t.dtype).tiny, torch.zeros((), dtype=t.dtype, device=t.device), t)
