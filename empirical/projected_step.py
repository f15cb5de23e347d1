"""The projected run's step (`TrainConfig.project`): the projection back into the spec's compact set, how far it moved
the iterate (the run's certificate reads it), and the gradient mapping at theta_k, the projected theorem's
stationarity measure."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from . import probes as P
from .estimators import has_exact_objective
from .step_gradients import Pair

if TYPE_CHECKING:
    from .trainer import Trainer


def mapping_sq(trainer: "Trainer", pair: Pair) -> float:
    """||G_t(theta_k)||^2 at t = C_gamma: exact where the objective has a closed form, else <G_t(g), G_t(g')>."""
    spec, flat = trainer.spec, trainer.flat
    t = spec.optimizer.C_gamma
    if has_exact_objective(spec):
        with torch.enable_grad():  # called from the update, under no_grad
            # the closed form draws no noise: the generator is not consumed, training noise is unchanged
            g = P.full_gradient(spec, flat, trainer.X, trainer.gen)
        G = P.gradient_mapping(spec, flat, g, t)
        return float(G @ G)
    g, g2 = pair.vectors()
    return float(P.gradient_mapping(spec, flat, g, t) @ P.gradient_mapping(spec, flat, g2, t))


def projected_update(trainer: "Trainer", row: dict[str, Any], target: torch.Tensor, pair: Pair | None) -> torch.Tensor:
    """Pi(target), recording how far the projection moved it and the gradient mapping at theta_k."""
    moved = target.clone()
    P.project(trainer.spec, moved)
    row["projection_distance"] = float((moved - target).norm())
    if pair is not None:
        row["grad_mapping_sq"] = mapping_sq(trainer, pair)
    return moved
