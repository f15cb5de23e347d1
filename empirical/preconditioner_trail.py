"""What an adaptive run records for its certificate (docs/derivations.md, "A certificate for an adaptive run").

An adaptive step is Delta_k = gamma_k D_k mhat_k: D_k the diagonal preconditioner (it depends on the step's own
gradient, through v_k) and mhat_k = sum_{j<=k} c_kj ghat_j the momentum, c_kj = c_kk beta1^(k-j). The certificate
replaces D_k by a predictable one: Dbar_k = D_{k-1}, the previous step's preconditioner (known before ghat_k is drawn;
0 at the first step, which the predictable form then leaves out), capped at kappa times its smallest entry, Dtilde_k =
min(Dbar_k, kappa min Dbar_k), so that its range is at most kappa. With Mtilde_k = sum_j c_kj Dtilde_j ghat_j (the
momentum of the predictably preconditioned gradients), each step records, for every kappa of KAPPAS:

- precond_lag.<kappa> = ||D_k mhat_k - Mtilde_k||, what the update moved that the predictable form does not explain;
- precond_grad.<kappa> = ||Dtilde_k ghat_k||, the predictable form's step before momentum;

and once: precond_min = min Dbar_k, precond_max = max Dbar_k, momentum_weight = c_kk and step_norm_sq = ||Delta_k||^2.
A small kappa makes the range small and the lag large (kappa = 1 is SGD at step gamma min Dbar); a large one the
reverse. The certificate takes the best, paying a union over KAPPAS.
"""
from __future__ import annotations

import math

import torch

KAPPAS = (1.0, 10.0, 100.0, 1000.0, math.inf)
# float32 rounding of the recorded differences: each lag is recorded this much of the vectors' norms above its value
ROUNDING = 1e-6


def kappa_name(kappa: float) -> str:
    return "inf" if math.isinf(kappa) else f"{kappa:g}"


def trail_columns() -> list[str]:
    return ["precond_min", "precond_max", "momentum_weight", "step_norm_sq",
            *(f"precond_{what}.{kappa_name(k)}" for what in ("lag", "grad") for k in KAPPAS)]


def new_trail(like: torch.Tensor) -> torch.Tensor:
    """The trail's state: the unscaled Mtilde for every kappa, [len(KAPPAS), *like.shape] (batched over leading
    dimensions like the optimiser's state, and saved in its checkpoint, so that a resumed run records what an
    uninterrupted one would)."""
    return torch.zeros((len(KAPPAS), *like.shape), dtype=like.dtype, device=like.device)


def trail_step(state: torch.Tensor, ghat: torch.Tensor, bar: torch.Tensor, direction: torch.Tensor, beta1: float,
               scale: float, lr: float) -> torch.Tensor:
    """Update the trail in place and return its columns for one step, as a tensor [..., columns] in `trail_columns`'s
    order. bar: Dbar_k; direction: D_k mhat_k; the momentum mhat_k = scale m_k with m_k = beta1 m_{k-1} +
    (1 - beta1) ghat_k, so c_kk = scale (1 - beta1); lr: gamma_k."""
    low, high = bar.amin(-1, keepdim=True), bar.amax(-1, keepdim=True)
    # every kappa at once, and every norm in one call (a few tensor operations a step, not a few per kappa)
    pre = torch.minimum(bar, _caps(bar).view(-1, *([1] * bar.dim())) * low) * ghat
    state.mul_(beta1).add_((1 - beta1) * pre)
    tilde = scale * state
    n = len(KAPPAS)
    norms = torch.cat([direction - tilde, tilde, pre, direction[None]]).norm(dim=-1).movedim(0, -1)
    lags = norms[..., :n] + ROUNDING * (norms[..., -1:] + norms[..., n:2 * n])
    fixed = torch.cat([low, high, torch.full_like(low, scale * (1 - beta1)), (lr * norms[..., -1:]) ** 2], dim=-1)
    return torch.cat([fixed, lags, norms[..., 2 * n:3 * n]], dim=-1)


def _caps(like: torch.Tensor) -> torch.Tensor:
    """KAPPAS as a tensor, inf as the largest float, so that a zero Dbar (the first step) caps at 0, not inf * 0."""
    return torch.tensor(KAPPAS, dtype=like.dtype, device=like.device).clamp(max=torch.finfo(like.dtype).max)


def trail_row(columns: torch.Tensor, coordinate_sum: torch.Tensor | None = None) -> dict[str, float]:
    """One step's trail columns (a [columns] tensor) by name, with the optimiser's `coordinate_sum` (the adaptive
    theorems' per-coordinate sum) as adaptive_coordinate_sum where given: one host sync for both."""
    if coordinate_sum is None:
        return dict(zip(trail_columns(), columns.tolist()))
    *values, last = torch.cat([columns, coordinate_sum.reshape(1).to(columns)]).tolist()
    return {**dict(zip(trail_columns(), values)), "adaptive_coordinate_sum": last}
