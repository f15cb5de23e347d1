"""Each example's own gradient norm at a step, for the run's certificate (compare.certificate_noise): the step's
gradient is the mean of its B examples' gradients h_i (each the K-draw mean of one example), and the certificate
bounds the martingale's square terms by (||h_i|| + ||m_k||)^2, summed over the batch."""
from __future__ import annotations

import torch
from torch.func import grad, vmap

from bounds.spec import VAESpec
from .estimators import estimate

CHUNK_ENTRIES = 2 ** 24  # at most about this many gradient entries at once (B x parameters), to bound memory


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
