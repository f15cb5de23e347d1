"""Measurements taken on a schedule: the theorem's ||grad L||^2 (unbiased), gradient noise and SNR per block,
the top Hessian eigenvalue (Lanczos on Hessian-vector products with frozen noise), parameter norms, projection.

Every probe draws its own noise from the generator it is given, so probing never changes a run's training noise.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from bounds.spec import VAESpec
from .estimators import estimate, exact_objective, has_exact_objective
from .functional import block_masks, box_masks, layer_slices
from .step_gradients import sup_norm

Objective = Callable[[torch.Tensor], torch.Tensor]


def draw_eps(spec: VAESpec, n: int, K: int, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.randn(n, K, spec.model.latent_dim, generator=generator, dtype=like.dtype, device=like.device)


def full_gradient(spec: VAESpec, flat: torch.Tensor, X: torch.Tensor, generator: torch.Generator,
                  chunk: int = 1024, use_exact: bool = True) -> torch.Tensor:
    """One pathwise estimate of grad L over the whole data set X (K = the objective's K, fresh noise); exact for
    the linear VAE's closed-form ELBO unless use_exact is False."""
    flat = flat.detach().requires_grad_(True)
    if use_exact and has_exact_objective(spec):
        return torch.autograd.grad(exact_objective(spec, flat, X), flat)[0]
    total = torch.zeros_like(flat)
    for start in range(0, len(X), chunk):
        x = X[start:start + chunk]
        eps = draw_eps(spec, len(x), spec.objective.K, generator, flat)
        surrogate, _ = estimate(spec, flat, x, eps, estimator="pathwise")
        total += torch.autograd.grad(surrogate, flat)[0] * (len(x) / len(X))
    return total


def full_grad_norm_sq(spec: VAESpec, flat: torch.Tensor, X: torch.Tensor, generator: torch.Generator,
                      replicates: int = 4, use_exact: bool = True, points: int | None = None) -> tuple[float, float]:
    """(estimate, standard error) of ||grad L(theta)||^2 over the data set, without bias.

    Exact objective: ||grad||^2 with error 0 (on the whole set). Otherwise R >= 3 independent estimates g_1..g_R of
    grad L, each over the whole set or (points < len(X)) over its own uniform random subset of `points` rows, with
    fresh noise, and the U-statistic mean_{i != j} <g_i, g_j> (unbiased since the g_i are independent with mean
    grad L), with a jackknife standard error (leave-one-out U-statistics, hence R >= 3).
    """
    if replicates < 3:
        raise ValueError(f"replicates={replicates} is invalid: the jackknife needs >= 3 full-data estimates")
    if use_exact and has_exact_objective(spec):
        g = full_gradient(spec, flat, X, generator)
        return float(g @ g), 0.0
    return u_statistic(replicate_gradients(spec, flat, X, generator, replicates, points))


def replicate_gradients(spec: VAESpec, flat: torch.Tensor, X: torch.Tensor, generator: torch.Generator,
                        replicates: int, points: int | None = None) -> torch.Tensor:
    """[R, P] (float64): R independent unbiased estimates of grad L, each over the whole set or (points < len(X))
    its own uniform random subset of `points` rows, without replacement, with fresh noise."""
    if points is not None and not 1 <= points:
        raise ValueError(f"points={points} is invalid: each replicate needs at least one point")

    def replicate() -> torch.Tensor:
        if points is None or points >= len(X):
            return full_gradient(spec, flat, X, generator, use_exact=False)
        rows = torch.randperm(len(X), generator=generator, device=generator.device)[:points].to(X.device)
        return full_gradient(spec, flat, X[rows], generator, use_exact=False)
    return torch.stack([replicate() for _ in range(replicates)]).double()


def u_statistic(G: torch.Tensor) -> tuple[float, float]:
    """(mean_{i != j} <g_i, g_j>, its jackknife standard error) of R >= 3 independent estimates G [R, P]."""
    R = len(G)
    total, squares = G.sum(0), (G * G).sum(1)
    u = (float(total @ total) - float(squares.sum())) / (R * (R - 1))
    loo = []
    for i in range(R):
        rest = total - G[i]
        loo.append((float(rest @ rest) - float(squares.sum() - squares[i])) / ((R - 1) * (R - 2)))
    loo = np.array(loo)
    se = math.sqrt((R - 1) / R * ((loo - loo.mean()) ** 2).sum())
    return u, se


def gradient_noise(spec: VAESpec, flat: torch.Tensor, X: torch.Tensor, B: int, K: int, draws: int,
                   generator: torch.Generator, estimator: str, baseline: str) -> dict[str, float]:
    """Variance trace E||ghat - E ghat||^2 and SNR ||E ghat|| / sqrt(variance) of the mini-batch estimator, for
    the decoder (theta) and the encoder (phi), from `draws` fresh mini-batches (B points, K draws each)."""
    flat = flat.detach().requires_grad_(True)
    masks = {name: mask.to(flat.device, torch.float64) for name, mask in block_masks(spec).items()}
    total = torch.zeros(flat.numel(), dtype=torch.float64, device=flat.device)
    squares = {name: 0.0 for name in masks}
    for _ in range(draws):
        # Without replacement, as training draws its batches: the variance of the estimator that trains.
        idx = torch.randperm(len(X), generator=generator, device=X.device)[:B]
        eps = draw_eps(spec, B, K, generator, flat)
        surrogate, _ = estimate(spec, flat, X[idx], eps, estimator, baseline)
        g = torch.autograd.grad(surrogate, flat)[0].double()
        total += g
        g2 = g * g
        for name, mask in masks.items():  # sums over a block as an inner product: no copy of the block
            squares[name] += float(g2 @ mask)
    out = {}
    mean_sq = (total / draws) ** 2
    for name, mask in masks.items():
        # sum_i ||g_i - mean||^2 = sum_i ||g_i||^2 - draws ||mean||^2, in float64 (the draws' sums, not a stack)
        mean_norm_sq = float(mean_sq @ mask)
        var = max(squares[name] - draws * mean_norm_sq, 0.0) / (draws - 1)
        out[f"grad_var_{name}"] = var
        out[f"snr_{name}"] = math.sqrt(mean_norm_sq) / math.sqrt(var) if var > 0 else float("inf")
    return out


def frozen_objective(spec: VAESpec, X: torch.Tensor, generator: torch.Generator) -> Objective:
    """The objective's estimate on X with its noise drawn once and then frozen (exact for the linear ELBO), so
    Hessian-vector products all see the same function."""
    eps = draw_eps(spec, len(X), spec.objective.K, generator, X)

    def objective(flat: torch.Tensor) -> torch.Tensor:
        exact = exact_objective(spec, flat, X)
        return exact if exact is not None else estimate(spec, flat, X, eps, estimator="pathwise")[1]
    return objective


def top_hessian_eigenvalue(objective: Objective, flat: torch.Tensor, tol: float = 1e-3,
                           max_hvps: int = 300) -> tuple[float, int]:
    """(largest |eigenvalue| of hess objective at flat, number of Hessian-vector products), by Lanczos
    (`lanczos_top`). The gradient's graph is built once; each product is one backward pass
    through it (double backward), so the noise and the data are the same for every product."""
    flat = flat.detach().requires_grad_(True)
    grad = torch.autograd.grad(objective(flat), flat, create_graph=True)[0]

    def hvp(v: torch.Tensor) -> torch.Tensor:
        return torch.autograd.grad(grad, flat, v.to(flat.dtype), retain_graph=True)[0]
    d = flat.numel()
    if d <= 2:  # a dense Hessian is cheap here
        H = torch.stack([hvp(e) for e in torch.eye(d, dtype=flat.dtype, device=flat.device)]).double()
        return float(torch.linalg.eigvalsh((H + H.T) / 2).abs().max()), d
    if not bool(torch.isfinite(grad).all()):
        return float("nan"), 0  # a diverging run: nothing to measure
    return lanczos_top(hvp, d, flat.device, tol, max_hvps)


def lanczos_top(hvp: Callable[[torch.Tensor], torch.Tensor], d: int, device: torch.device, tol: float,
                max_steps: int) -> tuple[float, int]:
    """(largest |eigenvalue| of the symmetric operator `hvp`, products used): Lanczos from a fixed random start
    (float64 vectors on the operator's device; the three-term recurrence, two vectors kept).

    Stops once the top Ritz value theta is within tol |theta| of an eigenvalue: with residual r = |beta_m s_m| there
    is an eigenvalue within r of theta, and within r^2 / gap where gap separates theta from the rest of the spectrum
    (estimated by the other Ritz values). Without reorthogonalisation a converged value can reappear as a ghost
    copy; that only shrinks the estimated gap, so the test falls back on r and stops later, not wrongly. Against
    ARPACK (scipy's eigsh, which checks at restarts of 20 products) it stops a third sooner at the same accuracy
    (benchmarks/bench_curvature.py)."""
    q = torch.randn(d, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(device)
    q, q_prev = q / q.norm(), torch.zeros_like(q)
    alphas: list[float] = []
    betas: list[float] = []
    theta, steps = float("nan"), min(max_steps, d)
    for step in range(1, steps + 1):
        w = hvp(q).double()
        alphas.append(float(w @ q))
        w -= alphas[-1] * q
        if betas:
            w -= betas[-1] * q_prev
        beta = float(w.norm())
        if not np.isfinite(beta):
            return float("nan"), step
        values, vectors = np.linalg.eigh(np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1))
        top = int(np.argmax(np.abs(values)))
        theta = float(values[top])
        residual = abs(beta * vectors[-1, top])
        gap = float(np.min(np.abs(np.delete(values, top) - theta))) if step > 1 else 0.0  # one value: no gap known
        error = min(residual, residual ** 2 / gap) if gap > 0 else residual
        if error <= tol * abs(theta) or beta <= 1e-12 * abs(theta):  # converged, or an invariant subspace
            return abs(theta), step
        betas.append(beta)
        q, q_prev = w / beta, q
    return abs(theta), steps


def parameter_norms(spec: VAESpec, flat: torch.Tensor) -> dict[str, float]:
    """||theta||_inf, ||phi||_inf, their sum (the paper's compact-set quantity), and per-layer spectral and
    Frobenius norms of the weight matrices and Euclidean norms of the biases."""
    flat = flat.detach()
    out = {f"inf_norm_{name}": float(sup_norm(flat[mask.to(flat.device)])) for name, mask in box_masks(spec).items()}
    out["inf_norm_sum"] = out["inf_norm_theta"] + out["inf_norm_phi"]
    for name, w, shape, b in layer_slices(spec):
        W = flat[w].reshape(shape).double()
        out[f"spectral_norm.{name}"] = float(torch.linalg.matrix_norm(W, 2))
        out[f"frobenius_norm.{name}"] = float(torch.linalg.matrix_norm(W))
        out[f"bias_norm.{name}"] = float(flat[b].norm())
    return out


@torch.no_grad()
def gradient_mapping(spec: VAESpec, flat: torch.Tensor, g: torch.Tensor, t: float) -> torch.Tensor:
    """G_t(theta, g) = (Pi(theta + t g) - theta) / t, the projected-ascent step per unit step size: the stationarity
    measure of projected SGD (equal to g where the projection does not act)."""
    target = flat + t * g
    project(spec, target)
    return (target - flat) / t


@torch.no_grad()
def project(spec: VAESpec, flat: torch.Tensor) -> None:
    """Put flat back into the spec's compact set, in place: entry-wise clipping to [-a, a] (the linear VAE's
    log-variances to [logvar_min, logvar_max]); for layer-norm bounds, each weight matrix and bias is rescaled
    onto its norm ball (the Euclidean projection for Frobenius; a map into the set for spectral)."""
    wb, m = spec.weight_bound, spec.model
    if wb.kind == "entrywise":
        v = spec.layout.logvars
        logvars = flat[v].clamp(m.logvar_min, m.logvar_max) if v is not None else None
        flat.clamp_(-wb.a, wb.a)
        if logvars is not None:
            flat[v] = logvars
        return
    for (name, w, shape, b), w_bound, b_bound in zip(layer_slices(spec), wb.layer_norms, wb.bias_norms):
        W = flat[w].reshape(shape)
        norm = float(torch.linalg.matrix_norm(W, 2 if wb.kind == "spectral" else "fro"))
        if norm > w_bound:
            flat[w] *= w_bound / norm
        bn = float(flat[b].norm())
        if bn > b_bound:
            flat[b] *= b_bound / bn if b_bound > 0 else 0.0
