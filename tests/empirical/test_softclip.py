"""The fast soft-clipping (torch's fused softplus kernel with a dtype-aware threshold) against its slow reference,
the clamped two-branch formula, in float64; its derivatives carry no jump at the kernel's switch, where torch's
default threshold leaves one."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from empirical.activations import exact_softplus, jump_free_threshold, softclip


def reference_softplus(t: torch.Tensor) -> torch.Tensor:
    """log(1 + e^t) by two clamped branches (what the library computed before): slow, exact, no overflow."""
    positive = t + torch.log1p(torch.exp(-t.clamp(min=0)))
    negative = torch.log1p(torch.exp(t.clamp(max=0)))
    return torch.where(t > 0, positive, negative)


def derivatives(f, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = x.clone().requires_grad_(True)
    y = f(x)
    (d1,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), x)
    return y.detach(), d1.detach(), d2.detach()


@pytest.mark.parametrize("s,s1,s2", [(5.0, 0.0, 50.0), (1.0, -3.0, 3.0), (20.0, 0.0, 1.0), (0.5, -1.0, 2.0)])
def test_softclip_equals_the_two_branch_formula_in_float64(s, s1, s2):
    x = torch.linspace(-80, 80, 20001, dtype=torch.float64)
    slow = lambda z: (reference_softplus(s * (z - s1)) - reference_softplus(s * (z - s2))) / s + s1
    fast = lambda z: softclip(z, s, s1, s2)
    for got, want in zip(derivatives(fast, x), derivatives(slow, x)):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softplus_is_the_exact_function_to_rounding(dtype):
    t = torch.linspace(-60, 60, 12001, dtype=torch.float64).to(dtype)
    t64 = t.double()
    exact = torch.log1p(torch.exp(-t64.abs())) + t64.clamp(min=0)  # float64 truth at the same inputs
    got = exact_softplus(t).double()
    ulps = (got - exact).abs() / (torch.finfo(dtype).eps * exact.abs())
    assert float(ulps.max()) <= 4


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_no_derivative_jump_at_the_kernel_switch(dtype):
    """Across the switch the first derivative moves by what the function's own curvature allows (sigmoid' ~ e^-T
    times the step), not by the e^-T jump of a switch to the identity; torch's default threshold jumps in float64."""
    T = jump_free_threshold(dtype)
    eps = torch.finfo(dtype).eps
    x = torch.tensor([T * (1 - 4 * eps), T * (1 + 4 * eps)], dtype=dtype)
    _, d1, _ = derivatives(exact_softplus, x)
    assert abs(float(d1[1] - d1[0])) <= eps
    if dtype == torch.float64:  # what F.softplus's default threshold does at 20
        x20 = torch.tensor([20 - 1e-9, 20 + 1e-9], dtype=dtype)
        _, default, _ = derivatives(F.softplus, x20)
        _, ours, _ = derivatives(exact_softplus, x20)
        assert float(default[1] - default[0]) > 1e-9 > abs(float(ours[1] - ours[0]))
        assert math.isclose(float(ours[0]), 1 / (1 + math.exp(-20)), rel_tol=1e-15)
