"""The probes of an instrumented module the bounds do not read (`empirical.instrument`), through the user's
objective(module, x) -> each example's objective: the full-data gradient norm, the mini-batch gradient noise and
SNR of the decoder and the encoder, the top Hessian eigenvalue, and the training and held-out objectives. The
same estimators as the toolkit's own probes (`empirical.probes`), on the module's parameters."""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn
from torch.func import functional_call

from .probes import top_hessian_eigenvalue

Objective = Callable[[nn.Module, torch.Tensor], torch.Tensor]


def _gradient(module: nn.Module, objective: Objective, params: list[nn.Parameter], x: torch.Tensor,
              weight: float) -> torch.Tensor:
    parts = torch.autograd.grad(objective(module, x).sum() * weight, params, allow_unused=True)
    return torch.cat([(q if q is not None else torch.zeros_like(p)).reshape(-1) for p, q in zip(params, parts)])


def full_gradient_norm(module: nn.Module, objective: Objective, params: list[nn.Parameter], X: torch.Tensor,
                       replicates: int, chunk: int = 512, points: int | None = None,
                       generator: torch.Generator | None = None) -> tuple[float, float]:
    """The U-statistic mean_{i != j} <g_i, g_j> of independent full-data gradients (or, points < len(X), gradients
    over independent random subsets of that many rows: still unbiased), and its jackknife error."""
    def replicate() -> torch.Tensor:
        rows = X if points is None or points >= len(X) else X[torch.randperm(len(X), generator=generator)[:points]]
        return sum(_gradient(module, objective, params, rows[i:i + chunk], 1 / len(rows))
                   for i in range(0, len(rows), chunk)).double()
    G = torch.stack([replicate() for _ in range(replicates)])
    R, total, squares = replicates, G.sum(0), (G * G).sum(1)
    u = (float(total @ total) - float(squares.sum())) / (R * (R - 1))
    loo = torch.tensor([(float((total - G[i]) @ (total - G[i])) - float(squares.sum() - squares[i]))
                        / ((R - 1) * (R - 2)) for i in range(R)])
    return u, math.sqrt((R - 1) / R * float(((loo - loo.mean()) ** 2).sum()))


def gradient_noise(module: nn.Module, objective: Objective, params: list[nn.Parameter], is_decoder: list[bool],
                   X: torch.Tensor, B: int, draws: int, generator: torch.Generator) -> dict[str, float]:
    """Variance trace and SNR of the B-example mini-batch gradient, for the decoder (theta) and the encoder (phi)."""
    G = torch.stack([_gradient(module, objective, params, X[torch.randperm(len(X), generator=generator)[:B]], 1 / B)
                     for _ in range(draws)]).double()
    decoder = torch.cat([torch.full((p.numel(),), d) for p, d in zip(params, is_decoder)])
    out = {}
    for name, mask in (("theta", decoder), ("phi", ~decoder)):
        g = G[:, mask]
        var = float(((g - g.mean(0)) ** 2).sum(1).sum() / (draws - 1))
        out[f"grad_var_{name}"] = var
        out[f"snr_{name}"] = float(g.mean(0).norm()) / math.sqrt(var) if var > 0 else math.inf
    return out


class _Objective(nn.Module):
    """objective(module, x) as a module's forward, so that torch.func.functional_call evaluates it at other
    parameters: the whole module tree is re-parametrised for the call, the objective's own methods included."""

    def __init__(self, module: nn.Module, objective: Objective) -> None:
        super().__init__()
        self.inner, self.objective = module, objective

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.objective(self.inner, x)


def top_eigenvalue(module: nn.Module, objective: Objective, params: list[nn.Parameter], X: torch.Tensor,
                   seed: int) -> tuple[float, int]:
    """The largest |eigenvalue| of the objective's Hessian on X, its randomness frozen (torch's generator re-seeded
    at every evaluation), by the toolkit's Lanczos."""
    names = {id(p): n for n, p in module.named_parameters()}
    keys, shapes = [f"inner.{names[id(p)]}" for p in params], [p.shape for p in params]
    wrapped = _Objective(module, objective)

    def f(flat: torch.Tensor) -> torch.Tensor:
        values = dict(zip(keys, (v.reshape(s) for v, s in zip(flat.split([math.prod(s) for s in shapes]), shapes))))
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return functional_call(wrapped, values, (X,), strict=False).mean()
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    return top_hessian_eigenvalue(f, flat)


def module_probes(module: nn.Module, objective: Objective, params: list[nn.Parameter], is_decoder: list[bool],
                  X: torch.Tensor, X_test: torch.Tensor, B: int, config: Any, seed: int,
                  points: int | None = None) -> dict[str, float]:
    """Every probe of an instrumented module outside the bounds' reading, with the run's probe settings (points:
    rows of each full-gradient replicate, `empirical.probe_plan`)."""
    generator = torch.Generator().manual_seed(seed)
    u, se = full_gradient_norm(module, objective, params, X, config.full_grad_replicates, points=points,
                               generator=generator)
    out = {"full_grad_norm_sq": u, "full_grad_norm_sq_se": se, "full_grad_points": min(points or len(X), len(X))}
    out.update(gradient_noise(module, objective, params, is_decoder, X, min(B, len(X)), config.variance_draws,
                              generator))
    if config.lanczos:
        subset = X[torch.randperm(len(X), generator=generator)[:config.hessian_points]]
        out["hessian_top_eig"], out["hessian_hvps"] = top_eigenvalue(module, objective, params, subset, seed)
    with torch.no_grad():
        for name, data in (("objective_train", X), ("objective_test", X_test)):
            values = torch.cat([objective(module, data[i:i + 512]) for i in range(0, len(data), 512)]).double()
            out[name], out[f"{name}_se"] = float(values.mean()), float(values.std() / math.sqrt(len(values)))
    return out
