"""Each example's own gradient norm at a step, for the run's certificate (compare.certificate_noise): the step's
gradient is the mean of its B examples' gradients h_i (each the K-draw mean of one example), and the certificate
bounds the martingale's square terms by (||h_i|| + ||m_k||)^2, summed over the batch.

On reshuffled epochs also the ghost batch (the certificate's ghost form, docs/derivations.md, "Reshuffled epochs"):
the fresh batch a step already draws for its unbiased ||grad L||^2 (B' points with replacement, fresh noise, so its
gradient ghost_k has E[ghost_k | past] = grad L(theta_k), where the epoch's own batch does not), recorded by
||ghat_k - ghost_k||^2 and its examples' gradient norms."""
from __future__ import annotations

from typing import Any

import torch
from torch.func import grad, vmap

from bounds.spec import VAESpec
from .estimators import estimate

CHUNK_ENTRIES = 2 ** 24  # at most about this many gradient entries at once (B x parameters), to bound memory
GHOST_COLUMNS = ("ghost_gap_sq", "ghost_example_norm_sum", "ghost_example_norm_sq_sum", "ghost_batch")


def example_norm_sums(spec: VAESpec, flat: torch.Tensor, x: torch.Tensor, eps: torch.Tensor, estimator: str,
                      baseline: str) -> torch.Tensor:
    """[sum_i ||h_i||, sum_i ||h_i||^2] over the batch x (B, d_x) with noise eps (B, K, d_z), from one vectorised
    per-example gradient (every estimator is a mean over examples of per-example terms, so mean_i h_i = ghat).
    E runs at once (an ensemble's members, one spec): flat [E, P], x [E, B, d_x], eps [E, B, K, d_z] -> [E, 2]."""
    def one(theta: torch.Tensor, xi: torch.Tensor, ei: torch.Tensor) -> torch.Tensor:
        return estimate(spec, theta, xi[None], ei[None], estimator, baseline)[0]

    runs = flat.ndim == 2
    theta = flat.detach()
    if runs:  # every (run, example) pair as one example of its own run's parameters
        E, B = x.shape[:2]
        theta = theta.repeat_interleave(B, 0)
        x, eps = x.reshape(E * B, *x.shape[2:]), eps.reshape(E * B, *eps.shape[2:])
    chunk = max(1, min(len(x), CHUNK_ENTRIES // max(1, flat.shape[-1])))
    h = vmap(grad(one), in_dims=(0 if runs else None, 0, 0), chunk_size=chunk)(theta, x, eps)
    norms = h.norm(dim=1)
    if runs:
        norms = norms.reshape(E, B)
    return torch.stack([norms.sum(-1), (norms * norms).sum(-1)], dim=-1)


def records_ghost(config: Any) -> bool:
    """Whether a run with this TrainConfig records its ghost batch: reshuffled epochs, the examples' norms and
    ghost_batch on, and a fresh batch drawn at each step (for the unbiased norm or the gradient mapping)."""
    return (config.example_norms and config.ghost_batch and config.batches != "independent"
            and (config.unbiased_norm or config.project))


def ghost_record(spec: VAESpec, flat: torch.Tensor, x: torch.Tensor, eps: torch.Tensor, estimator: str,
                 baseline: str, ghat: torch.Tensor, ghost: torch.Tensor) -> torch.Tensor:
    """[..., 4] in the order of GHOST_COLUMNS, for one run (flat [P], x the ghost's B' points, eps [B', K, d_z]) or
    an ensemble's members at once (a leading axis E on each)."""
    sums = example_norm_sums(spec, flat, x, eps, estimator, baseline)
    gap = ((ghat - ghost) ** 2).sum(-1, keepdim=True)
    return torch.cat([gap, sums, torch.full_like(gap, eps.shape[-3])], dim=-1)


def record_example_norms(trainer: Any, row: dict[str, Any], requests: list, results: list) -> None:
    """A trainer's step: the training batch's per-example gradient norm sums at theta_k before the update, where
    recorded, and on reshuffled epochs the ghost batch's columns (the fresh batch is requests[1])."""
    spec, config = trainer.spec, trainer.config
    if config.example_norms:
        training = requests[0]
        sums = example_norm_sums(spec, trainer.flat, trainer.X[training.idx], training.eps, spec.estimator,
                                 config.baseline).tolist()
        row.update(example_norm_sum=sums[0], example_norm_sq_sum=sums[1])
    if records_ghost(config):
        ghost = ghost_record(spec, trainer.flat, trainer.X[requests[1].idx], requests[1].eps, spec.estimator,
                             config.baseline, results[0].gradient, results[1].gradient)
        row.update(zip(GHOST_COLUMNS, ghost.tolist()))
