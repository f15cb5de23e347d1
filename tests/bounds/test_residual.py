"""The Gaussian decoder's residual bound ||x - G(z)|| <= min(R_x + C_G, sqrt(d_x) max(hi, 1 - lo)) for a sigmoid
decoder and data in [lo, hi]^d (`bounds.objectives.residual.residual_bound`), measured at saturating corners; the
sigmoid output's per-entry weights; and a tanh decoder's gradients in z and in theta and its likelihood curvature,
with the residual and the slope bounded together (`residual.tanh_z_gradient`, `residual.tanh_theta_gradient`,
`pieces.tanh_likelihood_curvature_mean`), against ascents."""
from __future__ import annotations

import dataclasses
import itertools

import pytest
import sympy as sp
import torch

from bounds import derive as D
from bounds.objectives.residual import (gradient_residual, residual_bound, sigmoid_curvature_weight,
                                       sigmoid_residual_weight, tanh_output_weight)
from bounds.rpoly import RPoly
from bounds.spec import ActivationSpec, ModelSpec, ParameterBound, VAESpec
from empirical.functional import decode, log_likelihood, random_parameters, unflatten
from tests.helpers import number, poly_at
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


def _tanh_decoder(data_dim: int, widths: tuple[int, ...], a: float, data_bound: float, c: float = 1.0,
                  encoder: tuple[int, ...] = (3,)) -> VAESpec:
    return VAESpec(model=ModelSpec(kind="gaussian", data_dim=data_dim, latent_dim=2, encoder_widths=encoder,
                                   decoder_widths=widths, activation=ActivationSpec("tanh"), decoder_output="identity",
                                   data_bound=data_bound, decoder_std=c), weight_bound=ParameterBound(a=a))


def _largest_likelihood_gradient(spec: VAESpec, wrt: str, starts: int, steps: int, seed: int, z_scale: float = 1.0,
                                 radius: float | None = None) -> float:
    """The largest ||grad log p(x|z)|| in z (wrt="z") or in the decoder's parameters at fixed z (wrt="theta") an
    ascent finds over the box, the data ball and ||z|| <= radius (every z where radius is None): Adam on
    (atanh(theta / a), x, z), theta = a tanh(.) in the box and x (and z) projected onto the ball, from random corners
    and interior points, z starting at z_scale times a standard draw."""
    a, R_x = spec.weight_bound.a, spec.model.data_bound
    gen, best = torch.Generator().manual_seed(seed), 0.0

    def gradient_norm(theta, x, z):
        log_p = log_likelihood(spec, x, decode(spec, unflatten(spec, theta), z))
        return torch.autograd.grad(log_p, z if wrt == "z" else theta, create_graph=True)[0].norm()
    for start in range(starts):
        theta = random_parameters(spec, gen, corners=start % 2 == 0)
        psi = torch.atanh((theta / a).clamp(-0.999, 0.999)).requires_grad_(True)
        x = torch.randn(spec.model.data_dim, generator=gen, dtype=torch.float64).requires_grad_(True)
        z = (z_scale * torch.randn(spec.model.latent_dim, generator=gen, dtype=torch.float64)).requires_grad_(True)
        opt = torch.optim.Adam([psi, x, z], lr=0.05)
        for _ in range(steps):
            theta_now = a * torch.tanh(psi)
            z_now = z if radius is None else z * torch.clamp(radius / z.norm(), max=1.0)
            value = gradient_norm(theta_now, x * torch.clamp(R_x / x.norm(), max=1.0), z_now)
            best = max(best, value.item())
            opt.zero_grad()
            (-value).backward()
            opt.step()
    return best


@pytest.mark.parametrize("name, spec", [
    ("tanh 4-3-2, a = 1, R_x = 4", _tanh_decoder(4, (3,), 1.0, 4.0)),
    ("tanh 5-(4, 3)-2, a = 0.7, R_x = 2, c = 0.5", _tanh_decoder(5, (4, 3), 0.7, 2.0, c=0.5)),
    ("tanh 3-6-2, a = 0.3, R_x = 1", _tanh_decoder(3, (6,), 0.3, 1.0)),
    ("tiny tanh, identity output", tiny_spec(activation=ActivationSpec("tanh"), decoder_output="identity"))])
def test_the_tanh_decoders_z_gradient_holds_and_is_tight(name, spec, tightness):
    """||grad_z log p(x|z)|| <= `tanh_z_gradient` at every point of the box, data ball and latent space (an ascent's
    largest), and the bound is below the product A1 lip_G it replaces."""
    pieces, values = D._pieces(spec, False), D.spec_values(spec)
    bound = number(pieces.z_gradient_coupled, values)
    product = number((pieces.A1g * pieces.decoder_joint.lipschitz).coeffs[0], values)
    assert bound < product, (bound, product)
    measured = _largest_likelihood_gradient(spec, "z", starts=8, steps=150, seed=8, z_scale=2.0)
    assert measured <= bound, (name, measured, bound)
    tightness.record("tanh decoder's gradient in z, residual and slope together", measured, bound)


def test_the_coupled_z_gradient_applies_only_where_its_derivation_does():
    """A soft-clip decoder, a sigmoid output and a spectral-norm spec keep the products A1 lip_G, A1 J_theta and
    A1 E||d^2 G_u||: no coupled weight, no coupled gradient in z or theta."""
    sigmoid_output = tiny_spec(activation=ActivationSpec("tanh"), decoder_output="sigmoid")
    spectral = dataclasses.replace(_tanh_decoder(4, (3,), 1.0, 4.0),
                                   weight_bound=ParameterBound(kind="spectral", layer_norms=(1.0,) * 4,
                                                               bias_norms=(1.0,) * 4))
    for spec in (tiny_spec(), sigmoid_output, spectral):
        assert tanh_output_weight(spec, [], RPoly([1])) is None
        pieces = D._pieces(spec, False)
        assert pieces.z_gradient_coupled is None and pieces.theta_gradient_coupled is None


def _likelihood_second_derivative_term(spec: VAESpec, flat: torch.Tensor, x: torch.Tensor,
                                       eps: torch.Tensor) -> torch.Tensor:
    """E_eps sum_i r_i hess G_i with r = (x - G) / c^2 held fixed: the Hessian of theta' -> E <r, G(theta')>, the
    likelihood's second-derivative term, whose top |eigenvalue| is sup_u |E <r, d^2 G_u>|."""
    from torch.func import hessian
    from empirical.functional import encode

    def G_of(p):
        layers = unflatten(spec, p)
        mu, logvar = encode(spec, layers, x)
        return decode(spec, layers, mu + torch.exp(logvar / 2) * eps)
    r = ((x - G_of(flat)) / spec.model.decoder_std ** 2).detach()
    return hessian(lambda p: (r * G_of(p)).sum(-1).mean())(flat)


@pytest.mark.parametrize("name, spec, fixture", [
    ("tanh 5-4-2, a = 1, R_x = 4", _tanh_decoder(5, (4,), 1.0, 4.0, encoder=(4,)),
     "likelihood_curvature_worst_point_542.json"),
    ("tanh 5-(4, 3)-2, a = 0.7, R_x = 2, c = 0.5", _tanh_decoder(5, (4, 3), 0.7, 2.0, c=0.5), None),
    ("tiny tanh, identity output", tiny_spec(activation=ActivationSpec("tanh"), decoder_output="identity"), None)])
def test_the_tanh_decoders_likelihood_curvature_holds_and_is_tight(name, spec, fixture, tightness):
    """sup_u |E <r, d^2 G_u>| (the top |eigenvalue| of the likelihood's second-derivative term over 4,096 draws) <=
    `tanh_likelihood_curvature_mean`, at the worst point an ascent on it found on the deep box (tests/fixtures/) or at
    corners and random points of the box; and the bound is below the product A1 E||d^2 G_u|| it replaces."""
    from tests.bounds.test_smoothness import worst_found_point
    from tests.helpers import top_abs_eig
    from tests.problems import data_point
    pieces, values = D._pieces(spec, False), D.spec_values(spec)
    bound = number(pieces.likelihood_curvature, values)
    product = number(pieces.A1.coeffs[0] * pieces.decoder_S_mean.expectation(spec.model.latent_dim), values)
    assert pieces.likelihood_curvature is not None and bound < product, (bound, product)
    gen = torch.Generator().manual_seed(12)
    points = ([worst_found_point(spec, fixture)] if fixture else
              [(random_parameters(spec, gen, corners=k % 2 == 0), data_point(spec, gen)) for k in range(6)])
    eps = torch.randn(4096, spec.model.latent_dim, generator=gen, dtype=torch.float64)
    for flat, x in points:
        measured = top_abs_eig(_likelihood_second_derivative_term(spec, flat, x, eps))
        assert measured <= bound, (name, measured, bound)
        tightness.record(f"tanh decoder's likelihood curvature in expectation ({name})", measured, bound)


@pytest.mark.parametrize("name, spec", [
    ("tanh 4-3-2, a = 1, R_x = 4", _tanh_decoder(4, (3,), 1.0, 4.0)),
    ("tanh 5-(4, 3)-2, a = 0.7, R_x = 2, c = 0.5", _tanh_decoder(5, (4, 3), 0.7, 2.0, c=0.5)),
    ("tanh 3-6-2, a = 0.3, R_x = 1", _tanh_decoder(3, (6,), 0.3, 1.0))])
@pytest.mark.parametrize("r", [0.0, 1.5])
def test_the_tanh_decoders_theta_gradient_holds_and_is_tight(name, spec, r, tightness):
    """||grad_theta log p(x|z)|| at fixed z <= `tanh_theta_gradient` (norm, and the root of its square) at ||eps|| = r,
    for every z with ||z|| <= R_z(r), at every point of the box and data ball (an ascent's largest); both bounds are
    below the products A1 J_theta and A1^2 J2_theta they replace."""
    pieces, values = D._pieces(spec, False), D.spec_values(spec)
    norm, square = (poly_at(poly, values)(r) for poly in pieces.theta_gradient_coupled)
    old_norm = poly_at(pieces.A1g * pieces.decoder_theta.J, values)(r)
    old_square = poly_at(pieces.A1g * pieces.A1g * pieces.decoder_theta.J2, values)(r)
    assert norm < old_norm and square < old_square, (norm, old_norm, square, old_square)
    measured = _largest_likelihood_gradient(spec, "theta", starts=8, steps=150, seed=9,
                                            radius=poly_at(pieces.R_z, values)(r))
    assert measured <= min(norm, square ** 0.5), (name, r, measured, norm, square ** 0.5)
    tightness.record("tanh decoder's gradient in theta, the lower layers' residual and slope together", measured,
                     square ** 0.5)
