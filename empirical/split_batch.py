"""Two half-batch gradients from the one backward pass of the training gradient.

The per-step unbiased ||grad L(theta_k)||^2 is <g_A, g_B> for the mean gradients g_A, g_B of two halves of one
mini-batch of i.i.d. examples (docs/empirical.md, "The per-step estimate ..."). Computing the halves as two
separate gradients costs per-call overhead twice (2x a step on a small net); this module gets them from the
training gradient's own backward pass instead.

Every example reaches the parameters only through the weight gradients of the linear and conv layers, and there
the batch is summed: grad W = sum_i dY_i X_i^T. A `Tap` splits that sum at the halves' boundary: the layer's
backward computes the two partial sums (the same arithmetic as the full one), returns their total as the weight's
gradient, and returns the first half's part as the gradient of a "tap", a zero tensor of the parameters' layout
that the forward pass never reads. `torch.autograd.grad(surrogate, (flat, tap))` then gives the training gradient
and half A's contribution to it in one pass.

Examples must be batch-major in every layer's input (rows [0, n_a * r) belong to half A when the layer sees r rows
per example), which holds for the networks of `empirical.functional`: no operation mixes examples.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Split:
    """A batch of n examples whose first n_a form half A (the rest half B)."""

    n_a: int
    n: int

    def __post_init__(self) -> None:
        if not 0 < self.n_a < self.n:
            raise ValueError(f"a split needs 0 < n_a < n, got n_a={self.n_a}, n={self.n}")

    def rows(self, total: int) -> int:
        """How many of a layer's `total` input rows belong to half A."""
        if total % self.n:
            raise ValueError(f"{total} rows are not a whole number of rows for each of {self.n} examples")
        return total // self.n * self.n_a

    @staticmethod
    def halves(n: int) -> "Split":
        return Split(n // 2, n)


class _TappedLinear(torch.autograd.Function):
    """y = x W^T + b; backward: the weight and bias gradients as two partial sums, half A's also to the tap."""

    @staticmethod
    def forward(x, W, b, W_tap, b_tap, split):
        return F.linear(x, W, b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, W, _, _, _, split = inputs
        ctx.save_for_backward(x, W)
        ctx.split = split

    @staticmethod
    def backward(ctx, grad_y):
        x, W = ctx.saved_tensors
        gx = grad_y @ W if ctx.needs_input_grad[0] else None
        gy, xs = grad_y.reshape(-1, grad_y.shape[-1]), x.reshape(-1, x.shape[-1])
        r = ctx.split.rows(len(gy))
        gW_a, gW_b = gy[:r].T @ xs[:r], gy[r:].T @ xs[r:]
        gb_a, gb_b = gy[:r].sum(0), gy[r:].sum(0)
        return gx, gW_a + gW_b, gb_a + gb_b, gW_a, gb_a, None


class _TappedConv(torch.autograd.Function):
    """conv2d or conv_transpose2d (kernel 4, stride 2, padding 1, as the paper's nets); backward as above."""

    @staticmethod
    def forward(x, kernel, b, kernel_tap, b_tap, split, transposed):
        conv = F.conv_transpose2d if transposed else F.conv2d
        return conv(x, kernel, b, stride=2, padding=1)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, kernel, _, _, _, split, transposed = inputs
        ctx.save_for_backward(x, kernel)
        ctx.split, ctx.transposed = split, transposed

    @staticmethod
    def backward(ctx, grad_y):
        x, kernel = ctx.saved_tensors
        r = ctx.split.rows(len(x))

        def part(gy, xs, mask):
            return torch.ops.aten.convolution_backward(gy, xs, kernel, [kernel.shape[1 if ctx.transposed else 0]],
                                                       [2, 2], [1, 1], [1, 1], ctx.transposed, [0, 0], 1, mask)

        gx = part(grad_y, x, [True, False, False])[0] if ctx.needs_input_grad[0] else None
        _, gk_a, gb_a = part(grad_y[:r], x[:r], [False, True, True])
        _, gk_b, gb_b = part(grad_y[r:], x[r:], [False, True, True])
        return gx, gk_a + gk_b, gb_a + gb_b, gk_a, gb_a, None, None


@dataclass(frozen=True)
class Tap:
    """Where half A's gradient is collected: `flat`, a zero tensor of the parameters' layout (requires grad), and
    the split of the batch."""

    flat: torch.Tensor
    split: Split

    def linear(self, x: torch.Tensor, W: torch.Tensor, b: torch.Tensor, W_tap: torch.Tensor,
               b_tap: torch.Tensor) -> torch.Tensor:
        return _TappedLinear.apply(x, W, b, W_tap, b_tap, self.split)

    def conv(self, x: torch.Tensor, kernel: torch.Tensor, b: torch.Tensor, kernel_tap: torch.Tensor,
             b_tap: torch.Tensor, transposed: bool) -> torch.Tensor:
        return _TappedConv.apply(x, kernel, b, kernel_tap, b_tap, self.split, transposed)


def tapped_gradient(surrogate: torch.Tensor, flat: torch.Tensor, tap: Tap) -> tuple[torch.Tensor, torch.Tensor]:
    """(the gradient of `surrogate`, half A's contribution to it): the contribution is (n_a / n) g_A for the mean
    gradient g_A of half A, and the rest of the gradient is half B's."""
    grad, part_a = torch.autograd.grad(surrogate, (flat, tap.flat), materialize_grads=True)
    return grad, part_a
