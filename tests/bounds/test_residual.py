"""The Gaussian decoder's residual bound ||x - G(z)|| <= min(R_x + C_G, sqrt(d_x) max(hi, 1 - lo)) for a sigmoid
decoder and data in [lo, hi]^d (`bounds.objectives.residual.residual_bound`), measured at saturating corners."""
from __future__ import annotations

import itertools

import pytest
import sympy as sp
import torch

from bounds import derive as D
from bounds.objectives.residual import (gradient_residual, residual_bound, sigmoid_curvature_weight,
                                       sigmoid_residual_weight)
from bounds.rpoly import RPoly
from empirical.functional import decode, random_parameters, unflatten
from tests.problems import tiny_spec


def _vertices_in_ball(d: int, radius: float) -> torch.Tensor:
    """The 0/1 vertices of the unit cube inside the data ball (data on [0, 1]^d at the box's extremes)."""
    points = torch.tensor(list(itertools.product((0.0, 1.0), repeat=d)), dtype=torch.float64)
    return points[points.norm(dim=1) <= radius]


@pytest.mark.parametrize("data_range", [(0.0, 1.0), (-0.5, 1.0)])
def test_residual_bound_holds_and_is_tight(data_range, tightness):
    spec = tiny_spec(data_range=data_range, a=3.0)
    values = D.spec_values(spec)
    poly = residual_bound(spec, D._pieces(spec, False).decoder_joint.H)
    assert poly.degree == 0  # the sigmoid's cap: no dependence on eps
    expr = sp.sympify(poly.coeffs[0])
    bound = float(expr.xreplace({s: values[s.name] for s in expr.free_symbols}))
    assert bound < spec.model.data_bound + spec.model.data_dim ** 0.5  # the range's bound, not R_x + C_G
    low = data_range[0]
    xs = _vertices_in_ball(spec.model.data_dim, spec.model.data_bound) * (1 - low) + low
    xs = xs[xs.norm(dim=1) <= spec.model.data_bound]
    gen = torch.Generator().manual_seed(6)
    worst = 0.0
    for trial in range(64):
        layers = unflatten(spec, random_parameters(spec, gen, corners=True))
        z = 3 * torch.randn(16, spec.model.latent_dim, generator=gen, dtype=torch.float64)
        G = decode(spec, layers, z)
        worst = max(worst, float((xs[:, None, :] - G[None]).norm(dim=-1).max()))
    assert worst <= bound, (worst, bound)
    tightness.record("decoder residual ||x - G||", worst, bound)


@pytest.mark.parametrize("data_range", [(0.0, 1.0), (-0.5, 1.0), (0.2, 0.4)])
def test_the_sigmoids_per_entry_residual_weight_holds_and_is_tight(data_range, tightness):
    """|sigmoid'(a) (x - sigmoid(a))| <= kappa for every pre-activation a and x in [lo, hi]: the weight that bounds
    a sigmoid output's gradient terms entry by entry (`residual.gradient_residual`), measured on a dense grid."""
    kappa = sigmoid_residual_weight(*data_range)
    a = torch.linspace(-30, 30, 200001, dtype=torch.float64)
    s = torch.sigmoid(a)
    x = torch.linspace(*data_range, 101, dtype=torch.float64)
    worst = float((s * (1 - s) * (x[:, None] - s[None]).abs()).max())
    assert worst <= kappa, (worst, kappa)
    tightness.record("sigmoid output's per-entry residual weight", worst, kappa)
    spec = tiny_spec(data_range=data_range, a=3.0)
    assert gradient_residual(spec, RPoly([100])).coeffs[0] != 100  # the weight is used where it is smaller than A1


@pytest.mark.parametrize("data_range", [(0.0, 1.0), (-0.5, 1.0), (0.2, 0.4)])
def test_the_sigmoids_per_entry_curvature_weight_holds_and_is_tight(data_range, tightness):
    """|sigmoid''(a) (x - sigmoid(a))| <= kappa2 for every pre-activation a and x in [lo, hi]: the weight of the
    likelihood's second-derivative term sum_i r_i sigmoid''(a_i) da_i^2 entry by entry
    (`residual.likelihood_curvature_weights`), measured on a dense grid."""
    kappa2 = sigmoid_curvature_weight(*data_range)
    a = torch.linspace(-30, 30, 200001, dtype=torch.float64)
    s = torch.sigmoid(a)
    x = torch.linspace(*data_range, 101, dtype=torch.float64)
    worst = float((s * (1 - s) * (1 - 2 * s) * (x[:, None] - s[None])).abs().max())
    assert worst <= kappa2, (worst, kappa2)
    tightness.record("sigmoid output's per-entry curvature weight", worst, kappa2)
