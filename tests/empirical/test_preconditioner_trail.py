"""The adaptive certificate's trail (empirical/preconditioner_trail.py) against its definition, computed the obvious
way from the whole history: Dbar_k = D_{k-1}, Dtilde_k = min(Dbar_k, kappa min Dbar_k), Mtilde_k = sum_j c_kj
Dtilde_j ghat_j, and the lag ||D_k mhat_k - Mtilde_k||."""
from __future__ import annotations

import math

import pytest
import torch

from bounds.spec import OptimizerSpec
from empirical.optimizers import FlatOptimizer
from empirical.preconditioner_trail import KAPPAS, ROUNDING, kappa_name, trail_row


def reference_preconditioner(spec: OptimizerSpec, form: str, grads: list[torch.Tensor], k: int) -> torch.Tensor:
    """D_k after steps 1..k from scratch (k >= 1), straight from the update's formulas."""
    if spec.name == "adagrad":
        v = sum(g * g for g in grads[:k])
        return 1 / torch.sqrt(spec.delta + v / k) if form == "theory" else 1 / (torch.sqrt(v) + spec.delta)
    v = sum((1 - spec.beta2) * spec.beta2 ** (k - j) * grads[j - 1] ** 2 for j in range(1, k + 1))
    if form == "theory":
        return 1 / torch.sqrt(spec.delta + v)
    if spec.name == "adam":
        v = v / (1 - spec.beta2**k)
    return 1 / (torch.sqrt(v) + spec.delta)


@pytest.mark.parametrize("form", ["torch", "theory"])
@pytest.mark.parametrize("name", ["adam", "rmsprop", "adagrad"])
def test_the_trail_matches_its_definition(name, form):
    spec = OptimizerSpec(name, C_gamma=0.01)
    gen = torch.Generator().manual_seed(3)
    scales = torch.rand(6, generator=gen, dtype=torch.float64) * 5
    grads = [(1 + torch.randn(6, generator=gen, dtype=torch.float64)) * scales for _ in range(25)]
    grads[3][2] = 0.0  # a coordinate at zero for a step
    opt = FlatOptimizer(spec, form, grads[0])
    beta1 = spec.beta1 if name == "adam" else 0.0
    for k, g in enumerate(grads, start=1):
        lr = 0.01 / math.sqrt(k)
        direction = opt.direction(g, lr)
        row = trail_row(opt.columns)
        D = reference_preconditioner(spec, form, grads, k)
        bar = [torch.zeros(6, dtype=torch.float64)] + [reference_preconditioner(spec, form, grads, j)
                                                        for j in range(1, k)]  # Dbar_j = D_{j-1}, j = 1..k
        scale = 1 / (1 - beta1**k) if name == "adam" and form == "torch" else 1.0
        c = [scale * (1 - beta1) * beta1 ** (k - j) for j in range(1, k + 1)]
        mhat = sum(cj * gj for cj, gj in zip(c, grads[:k]))
        torch.testing.assert_close(direction, D * mhat)
        assert row["precond_min"] == pytest.approx(float(bar[-1].min()), rel=1e-9, abs=1e-300)
        assert row["precond_max"] == pytest.approx(float(bar[-1].max()), rel=1e-9, abs=1e-300)
        assert row["momentum_weight"] == pytest.approx(c[-1])
        assert row["step_norm_sq"] == pytest.approx(float((lr * direction).square().sum()))
        for kappa in KAPPAS:
            capped = [b if math.isinf(kappa) else torch.minimum(b, kappa * b.min()) for b in bar]
            tilde = sum(cj * dj * gj for cj, dj, gj in zip(c, capped, grads[:k]))
            lag = float((D * mhat - tilde).norm())
            margin = ROUNDING * float((D * mhat).norm() + tilde.norm())
            assert row[f"precond_lag.{kappa_name(kappa)}"] == pytest.approx(lag + margin, rel=1e-9, abs=1e-12)
            assert row[f"precond_grad.{kappa_name(kappa)}"] == pytest.approx(float((capped[-1] * g).norm()), rel=1e-9)


def test_sgd_records_no_trail():
    opt = FlatOptimizer(OptimizerSpec("sgd", C_gamma=0.1), "torch", torch.zeros(3))
    opt.direction(torch.ones(3), 0.1)
    assert opt.columns is None and "trail" not in opt.state
