"""The test problems, declared once (BackPACK's problems-as-data): small specs and settings the tests share."""
from __future__ import annotations

import dataclasses
import math

import torch

from bounds.spec import ActivationSpec, ModelSpec, ObjectiveSpec, OptimizerSpec, ParameterBound, VAESpec

# A small smooth Gaussian MLP VAE (6 - 8 - 2): training, ensembles, comparisons.
SMALL_MLP = ModelSpec(data_dim=6, latent_dim=2, encoder_widths=(8,), decoder_widths=(8,))
# Probe settings that keep a test run to seconds.
SMALL_RUN_CONFIG = dict(probes=4, full_grad_replicates=3, variance_draws=3, hessian_points=32, eval_points=64)

# A tiny deep Gaussian VAE (3 - 3 - 2) with every clip and sharpness away from its default: bound checks.
TINY_BOUNDED = ModelSpec(kind="gaussian", data_dim=3, latent_dim=2, encoder_widths=(3,), decoder_widths=(3,),
                         data_bound=1.5, decoder_std=0.8, mean_clip=2.0, logvar_min=-2.0, logvar_max=1.0, head_s=2.0,
                         activation=ActivationSpec("softclip", 2.0, -1.0, 2.0))
# Estimator checks: the linear VAE (closed-form ELBO) and a tiny MLP with an identity output (3 - 4 - 2).
LINEAR_3_2 = VAESpec(model=ModelSpec(kind="linear", data_dim=3, latent_dim=2, logvar_min=-3, logvar_max=1))
TINY_MLP = VAESpec(model=ModelSpec(data_dim=3, latent_dim=2, encoder_widths=(4,), decoder_widths=(4,),
                                   decoder_output="identity"))


def small_mlp_spec(n: int = 60, B: int = 16, C_gamma: float = 0.05, **changes) -> VAESpec:
    """SGD on `SMALL_MLP`."""
    return VAESpec(model=SMALL_MLP, B=B, n=n, optimizer=OptimizerSpec("sgd", C_gamma=C_gamma), **changes)


def tiny_spec(**model_changes) -> VAESpec:
    """`TINY_BOUNDED` with the entry-wise bound a = 0.4, changed as asked (objective= and a= included)."""
    objective = model_changes.pop("objective", ObjectiveSpec())
    a = model_changes.pop("a", 0.4)
    return VAESpec(model=dataclasses.replace(TINY_BOUNDED, **model_changes), objective=objective,
                   weight_bound=ParameterBound(a=a))


def data_point(spec: VAESpec, gen: torch.Generator) -> torch.Tensor:
    """A data point on the sphere of radius R_x (Gaussian), a random corner of the data's range [lo, hi]^d where the
    spec gives one (inside the ball: the spec's R_x must hold them), or a random binary image (Bernoulli)."""
    d = spec.model.data_dim
    if spec.model.kind == "bernoulli":
        return torch.rand(d, generator=gen, dtype=torch.float64).round()
    if spec.model.data_range is not None:
        low, high = spec.model.data_range
        x = low + (high - low) * torch.rand(d, generator=gen, dtype=torch.float64).round()
        assert float(x.norm()) <= spec.model.data_bound, "the range's corners must lie in the data ball"
        return x
    x = torch.randn(d, generator=gen, dtype=torch.float64)
    return spec.model.data_bound * x / x.norm()


def score_spec(beta: float) -> VAESpec:
    """A spec where |f| is small (x = 0, 2 pi c^2 = 1, narrow heads) so beta s dominates the encoder block."""
    model = ModelSpec(kind="gaussian", data_dim=2, latent_dim=2, encoder_widths=(2,), decoder_widths=(2,),
                      data_bound=0.0, decoder_std=(2 * math.pi) ** -0.5, mean_clip=0.05, logvar_min=-0.05,
                      logvar_max=0.05, head_s=1.0, activation=ActivationSpec("softclip", 1.0, -0.1, 0.1),
                      decoder_output="identity")
    return VAESpec(model=model, objective=ObjectiveSpec("beta", beta), estimator="score",
                   weight_bound=ParameterBound(a=0.05))


def devices() -> list:
    """The devices a device-parametrised test runs on: the CPU always, CUDA where this machine has it (CI has none;
    a user's or a GPU machine's run covers it)."""
    import pytest
    import torch
    cuda = [pytest.param("cuda", id="cuda")] if torch.cuda.is_available() else []
    return [pytest.param("cpu", id="cpu"), *cuda]
