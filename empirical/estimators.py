"""Mini-batch gradient estimators of the objectives, as surrogates for autograd.

`estimate(...)` returns (surrogate, value): the gradient of `surrogate` with respect to the flat parameters IS the
estimator ghat of grad L (ascent direction), and `value` is the unbiased (ELBO, beta) or consistent (IWAE,
VR-IWAE) estimate of the objective. Reduction: both are per-example means over the batch and over the K draws.

- pathwise, elbo/beta: mean of log p(x|z) + beta (log p(z) - log q(z|x)) at z = mu + sigma eps;
- pathwise, iwae / vr_iwae: sum_k wt_k grad log w_k with wt = softmax((1 - alpha) log w) DETACHED (alpha = 0: IWAE);
- score, elbo/beta: f(z) grad_phi log q(z|x) + grad f(z) with z a sample only (no path), f the per-sample
  objective; `baseline='loo'` subtracts from f the mean of the other K - 1 draws (unbiased, needs K >= 2).
"""
from __future__ import annotations

import math

import torch

from bounds.spec import VAESpec
from bounds.support import refuse_untrained
from .functional import MAX_ENUMERATED_LATENTS, bernoulli_family_elbo, latent_parts, linear_elbo
from .split_batch import Tap


def check_supported(spec: VAESpec, estimator: str) -> None:
    """Raise for a combination that does not train (the table in `bounds.support`), e.g. the score-function IWAE
    asked for through `estimate(..., estimator='score')` on an IWAE spec."""
    why = refuse_untrained(spec.objective.kind, estimator)
    if why:
        raise ValueError(why)


def estimate(spec: VAESpec, flat: torch.Tensor, x: torch.Tensor, eps: torch.Tensor, estimator: str | None = None,
             baseline: str = "none", tap: Tap | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(surrogate, value) for a batch x of shape (B, d_x) and noise eps of shape (B, K, d_z). tap: collect half
    A's share of the gradient in the same backward pass (`empirical.split_batch`)."""
    estimator = estimator or spec.estimator
    obj = spec.objective
    K = eps.shape[1]
    x = x[:, None, :]
    if estimator == "pathwise":
        lw = _log_weights(spec, flat, x, eps, tap)
        value = _per_example(spec, lw).mean()
        if obj.kind in ("elbo", "beta"):
            return value, value
        weights = torch.softmax((1.0 - obj.alpha) * lw, dim=1).detach()
        return (weights * lw).sum(1).mean(), value
    check_supported(spec, estimator)
    log_lik, log_prior, log_q = latent_parts(spec, flat, x, eps, detach_z=True, tap=tap)
    f = log_lik + obj.beta * (log_prior - log_q)
    weight = f.detach()
    if baseline == "loo":
        if K < 2:
            raise ValueError("baseline='loo' needs K >= 2 draws per data point (the leave-one-out mean)")
        weight = weight - (weight.sum(1, keepdim=True) - weight) / (K - 1)
    return (weight * log_q + f).mean(), f.mean()


def _log_weights(spec: VAESpec, flat: torch.Tensor, x: torch.Tensor, eps: torch.Tensor,
                 tap: Tap | None = None) -> torch.Tensor:
    """log p(x|z) + beta (log p(z) - log q(z|x)) at the reparameterised z, (B, K) for x of shape (B, 1, d_x); beta = 1
    for IWAE and VR-IWAE."""
    beta = 1.0 if spec.objective.kind in ("iwae", "vr_iwae") else spec.objective.beta
    log_lik, log_prior, log_q = latent_parts(spec, flat, x, eps, tap=tap)
    return log_lik + beta * (log_prior - log_q)


def _per_example(spec: VAESpec, lw: torch.Tensor) -> torch.Tensor:
    """Each example's objective estimate from its K log-weights (B, K): their mean (ELBO, beta) or the
    (1 - alpha)-scaled log-mean-exp (IWAE at alpha = 0, VR-IWAE)."""
    obj = spec.objective
    if obj.kind in ("elbo", "beta"):
        return lw.mean(1)
    scale = 1.0 - obj.alpha
    return (torch.logsumexp(scale * lw, dim=1) - math.log(lw.shape[1])) / scale


def objective_values(spec: VAESpec, flat: torch.Tensor, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Each example's objective (B,): exact where the objective has a closed form (eps unused), else the pathwise
    estimate from the K draws eps (B, K, d_z)."""
    if has_exact_objective(spec):
        return _exact_per_example(spec, flat, x)
    return _per_example(spec, _log_weights(spec, flat, x[:, None, :], eps))


def has_exact_objective(spec: VAESpec) -> bool:
    """Whether the objective has a closed form: the linear VAE's ELBO and beta-ELBO, and black-box VI's
    product-Bernoulli ELBO on few enough latents to sum over their states."""
    m = spec.model
    if m.kind == "logistic":
        return m.family == "bernoulli" and m.latent_dim <= MAX_ENUMERATED_LATENTS
    return m.kind == "linear" and spec.objective.kind in ("elbo", "beta")


def _exact_per_example(spec: VAESpec, flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return bernoulli_family_elbo(spec, flat, x) if spec.model.kind == "logistic" else linear_elbo(spec, flat, x)


def exact_objective(spec: VAESpec, flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor | None:
    """The objective in closed form where it exists, per-example mean; else None."""
    return _exact_per_example(spec, flat, x).mean() if has_exact_objective(spec) else None
