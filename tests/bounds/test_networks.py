"""Network bounds against random MLPs inside the entry-wise weight set (autograd measurements)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
from torch.func import hessian, jacrev

from bounds.activations import constants
from bounds.networks import Layer, mlp_bounds
from bounds.spec import ActivationSpec
from empirical.activations import apply
from tests.helpers import spectral_norm, top_abs_eig

ACTS = [ActivationSpec("softclip", 2.0, -1.0, 2.0), ActivationSpec("softclip", 5.0, 0.0, 50.0),
        ActivationSpec("tanh"), ActivationSpec("silu"), ActivationSpec("gelu"), ActivationSpec("softplus", s=1.0)]


def random_network(rng: np.random.Generator):
    depth = int(rng.integers(1, 4))
    widths = [int(w) for w in rng.integers(1, 4, size=depth + 1)]
    act = ACTS[int(rng.integers(len(ACTS)))]
    last = ActivationSpec(["identity", "sigmoid", "tanh"][int(rng.integers(3))])
    a = float(rng.choice([0.3, 0.8, 1.5]))
    return widths, act, last, a


def forward(flat, x, widths, act, last):
    i, h = 0, x
    for l in range(len(widths) - 1):
        o, n_in = widths[l + 1], widths[l]
        W = flat[i:i + o * n_in].reshape(o, n_in); i += o * n_in
        b = flat[i:i + o]; i += o
        spec = act if l < len(widths) - 2 else last
        h = apply(spec.name, W @ h + b, s=spec.s, s1=spec.s1, s2=spec.s2)
    return h


def bounds_for(widths, act, last, a, radius):
    layers = []
    for l in range(len(widths) - 1):
        o, n_in = widths[l + 1], widths[l]
        spec = act if l < len(widths) - 2 else last
        layers.append(Layer(o, n_in, sp.sqrt(o * n_in) * a, sp.sqrt(o) * a, constants(spec, symbolic=False),
                            sp.sqrt(n_in) * a))
    nb = mlp_bounds(layers, sp.nsimplify(radius))
    return tuple(float(p.coeffs[0]) for p in (nb.H, nb.J, nb.S)) + (float(nb.lipschitz), float(nb.J2.coeffs[0]))


@pytest.mark.parametrize("seed", range(8))
def test_random_networks_never_exceed_the_bounds(seed, tightness):
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(25):  # 8 seeds x 25 = 200 random networks
        widths, act, last, a = random_network(rng)
        n_par = sum(widths[l + 1] * widths[l] + widths[l + 1] for l in range(len(widths) - 1))
        corners = bool(rng.integers(2))
        flat = a * (2 * torch.randint(0, 2, (n_par,), generator=gen) - 1).double() if corners \
            else a * (2 * torch.rand(n_par, generator=gen, dtype=torch.float64) - 1)
        radius = float(rng.choice([0.5, 2.0]))
        x = torch.randn(widths[0], generator=gen, dtype=torch.float64)
        x = radius * x / x.norm()
        H, J, S, lip, J2 = bounds_for(widths, act, last, a, radius)
        f = lambda p: forward(p, x, widths, act, last)
        out = f(flat)
        jac_p = jacrev(f)(flat)
        jac_x = jacrev(lambda xx: forward(flat, xx, widths, act, last))(x)
        hess = hessian(f)(flat)  # (out, P, P)
        directions = [torch.eye(out.numel(), dtype=torch.float64)[k] for k in range(out.numel())]
        directions += [v / v.norm() for v in torch.randn(3, out.numel(), generator=gen, dtype=torch.float64)]
        second = max(top_abs_eig(torch.einsum("o,opq->pq", u, hess)) for u in directions)
        measured = dict(H=float(out.norm()), J=spectral_norm(jac_p), S=second, lip=spectral_norm(jac_x))
        measured["J2"] = measured["J"] ** 2
        for key, bound in dict(H=H, J=J, J2=J2, S=S, lip=lip).items():
            tightness.record(f"network {key}", measured[key], bound)
            assert measured[key] <= bound * (1 + 1e-9), (key, measured[key], bound, widths, act, last, a)


def test_depth_dependence_has_the_papers_shape():
    """With entry-wise bound a, the squared parameter-gradient bound J2_N has the paper's N a^{2(N-1)}
    shape: its degree in a is exactly 2(N-1), and for a >= 1, J2_N <= 4 N a^{2(N-1)} with the same
    constant 4 = (1 + sup|tanh|)^2 at every depth (unit widths, tanh)."""
    a = sp.Symbol("a", positive=True)
    act = constants(ActivationSpec("tanh"), symbolic=False)
    grid = np.linspace(1, 50, 200)
    for N in range(1, 7):
        layers = [Layer(1, 1, a, a, act) for _ in range(N)]
        J2 = mlp_bounds(layers, sp.Integer(1)).J2.coeffs[0]
        # H_l = Min(sup|tanh| = 1, affine bound 2a): the cap (first argument) binds for a >= 1/2.
        J2 = sp.expand(J2.replace(sp.Min, lambda *args: args[0]))
        assert sp.degree(J2, a) == 2 * (N - 1)
        ratio = np.broadcast_to(sp.lambdify(a, J2 / (N * a ** (2 * (N - 1))))(grid), grid.shape)
        assert ratio.max() <= 4 + 1e-9
        assert 0 < sp.limit(J2 / a ** (2 * (N - 1)), a, sp.oo) < sp.oo


def test_capped_bounds_the_minimum_of_cap_and_affine():
    """`capped`: Min(cap, a_0) + a_1 r bounds min(cap, a_0 + a_1 r) at every r, with a_0 below and above the cap."""
    from bounds.networks import capped
    from bounds.rpoly import RPoly
    r = np.linspace(0, 10, 201)
    for a0, a1, cap in [(1.0, 0.5, 3.0), (5.0, 0.5, 3.0), (0.0, 2.0, 1.0)]:
        bound = capped(RPoly([a0, a1]), sp.Float(cap))
        values = np.array([float(sum(c * x**k for k, c in enumerate(bound.coeffs))) for x in r])
        assert (values >= np.minimum(cap, a0 + a1 * r) - 1e-12).all()


@pytest.mark.parametrize("activation", ["softclip", "tanh"])
def test_heads_mean_square_bounds_the_latents_jacobian(activation, tightness):
    """Jz2_mean >= sup_u E_eps ||dz_u||^2 = the top eigenvalue of E_eps[J^T J], J = dz/dphi at
    z = mu + sigma eps (the encoder's parameters only), on 256 draws at random and corner points of the box."""
    from bounds import derive as D
    from empirical.functional import block_masks, encode, random_parameters, unflatten
    from tests.problems import data_point, tiny_spec
    spec = tiny_spec() if activation == "softclip" else tiny_spec(activation=ActivationSpec("tanh"))
    values = D.spec_values(spec)
    expr = sp.sympify(D._pieces(spec, False).Jz2_mean)
    bound = float(expr.xreplace({s: values[s.name] for s in expr.free_symbols}))
    phi = block_masks(spec)["phi"]
    gen = torch.Generator().manual_seed(4)

    def z_of(flat, x, eps):
        mu, logvar = encode(spec, unflatten(spec, flat), x)
        return mu + torch.exp(logvar / 2) * eps
    for trial in range(8):
        flat, x = random_parameters(spec, gen, corners=trial % 2 == 0), data_point(spec, gen)
        eps = torch.randn(256, spec.model.latent_dim, generator=gen, dtype=torch.float64)
        J = torch.stack([jacrev(z_of)(flat, x, e)[:, phi] for e in eps])
        measured = float(torch.linalg.eigvalsh(torch.einsum("kij,kil->jl", J, J) / len(eps)).max())
        tightness.record("latents' mean-square Jacobian Jz2_mean", measured, bound)
        assert measured <= bound, (measured, bound)


@pytest.mark.parametrize("activation", ["softclip", "tanh"])
def test_heads_value_range_holds(activation, tightness):
    """||mu|| <= R_z's constant term (the mean head's bound) and exp(logvar / 2) within [sigma_min, sigma_max] (the
    log-variance head's pre-activation bound through the increasing soft-clip), at random and corner points of the
    box and data points on the ball; with a = 0.4 both sit inside the clips, so the heads' own bounds are tested."""
    from bounds import derive as D
    from empirical.functional import encode, random_parameters, unflatten
    from tests.problems import data_point, tiny_spec
    spec = tiny_spec() if activation == "softclip" else tiny_spec(activation=ActivationSpec("tanh"))
    values, pieces = D.spec_values(spec), D._pieces(spec, False)
    number = lambda e: float(sp.sympify(e).xreplace({s: values[s.name] for s in sp.sympify(e).free_symbols}))
    mu_bound, low, high = number(pieces.R_z.coeffs[0]), number(pieces.sigma_min), number(pieces.sigma_max)
    assert mu_bound < np.sqrt(spec.model.latent_dim) * spec.model.mean_clip  # the head's bound, not the clip's
    assert high < np.exp(spec.model.logvar_max / 2) and low > np.exp(spec.model.logvar_min / 2)
    gen = torch.Generator().manual_seed(5)
    mu_max = sigma_max = 0.0
    sigma_min = np.inf
    for trial in range(64):
        flat, x = random_parameters(spec, gen, corners=trial % 2 == 0), data_point(spec, gen)
        mu, logvar = encode(spec, unflatten(spec, flat), x)
        sigma = torch.exp(logvar / 2)
        mu_max, sigma_max = max(mu_max, float(mu.norm())), max(sigma_max, float(sigma.max()))
        sigma_min = min(sigma_min, float(sigma.min()))
    assert mu_max <= mu_bound and sigma_max <= high and sigma_min >= low, (mu_max, mu_bound, sigma_min, sigma_max,
                                                                          low, high)
    tightness.record("mean head's ||mu|| bound", mu_max, mu_bound)
    tightness.record("log-variance head's sigma_max", sigma_max, high)
    tightness.record("log-variance head's sigma_min (bound / measured)", low, sigma_min)


def test_the_weighted_moments_of_the_latents_derivatives():
    """The identity behind `weighted_decoder_S`: E[r^j ||a + b o eps||^2] = ||a||^2 E r^j + ||b||^2 E r^(j+2) / d_z
    (E[r^j eps_i] = 0, E[r^j eps_i^2] = E r^(j+2) / d_z), at most (1 + j/d_z) E[r^j] (||a||^2 + ||b||^2) by the chi
    moments' recurrence E r^(k+2) = (d + k) E r^k; on 400,000 draws each, and the recurrence exactly."""
    from bounds.rpoly import chi_moment
    gen = torch.Generator().manual_seed(11)
    for d in (1, 2, 3, 5):
        for k in range(6):
            assert sp.simplify(chi_moment(k + 2, d) - (d + k) * chi_moment(k, d)) == 0
        for j in (1, 2, 3):
            a, b = (torch.randn(d, generator=gen, dtype=torch.float64) for _ in range(2))
            eps = torch.randn(400_000, d, generator=gen, dtype=torch.float64)
            sample = eps.norm(dim=1) ** j * ((a + b * eps) ** 2).sum(1)
            exact = float(a @ a * chi_moment(j, d) + b @ b * chi_moment(j + 2, d) / d)
            assert abs(float(sample.mean()) - exact) <= 4 * float(sample.std()) / math.sqrt(len(sample))
            assert exact <= (1 + j / d) * float(chi_moment(j, d)) * float(a @ a + b @ b) * (1 + 1e-12)


@pytest.mark.parametrize("j", [0, 1])
def test_the_weighted_decoder_second_derivative(j, tightness):
    """E[r^j ||d^2 G_u||] <= E[r^j S_j(r)] (`objectives.pieces.weighted_decoder_S`; j = 0 is E||d^2 G_u||) for
    directions u of all the parameters, on the tiny spec with a wide soft-clip (0, 50) and an identity output (where
    the residual's bound A1 grows with ||eps||, so the likelihood's term takes r^1's weight), at corner and random
    points of the box, 4,096 draws each."""
    from torch.func import jvp, vmap
    from bounds import derive as D
    from bounds.rpoly import RPoly
    from empirical.functional import decode, encode, random_parameters, unflatten
    from tests.problems import data_point, tiny_spec
    spec = tiny_spec(activation=ActivationSpec("softclip", 2.0, 0.0, 50.0), decoder_output="identity")
    pieces, values = D._pieces(spec, False), D.spec_values(spec)
    assert len(pieces.decoder_S_weighted) == pieces.A1.degree >= 1
    S_j = pieces.decoder_S_mean if j == 0 else pieces.decoder_S_weighted[j - 1]
    expr = sp.sympify((RPoly([0] * j + [1]) * S_j).expectation(spec.model.latent_dim))
    bound = float(expr.xreplace({s: values[s.name] for s in expr.free_symbols}))

    def G_of(flat, x, eps):
        layers = unflatten(spec, flat)
        mu, logvar = encode(spec, layers, x)
        return decode(spec, layers, mu + torch.exp(logvar / 2) * eps)
    gen = torch.Generator().manual_seed(5 + j)
    for trial in range(6):
        flat, x = random_parameters(spec, gen, corners=trial % 2 == 0), data_point(spec, gen)
        u = torch.randn(flat.shape, generator=gen, dtype=torch.float64)
        u = u / u.norm()
        second = lambda e: jvp(lambda f: jvp(lambda g: G_of(g, x, e), (f,), (u,))[1], (flat,), (u,))[1]
        eps = torch.randn(4096, spec.model.latent_dim, generator=gen, dtype=torch.float64)
        measured = float((eps.norm(dim=1) ** j * vmap(second)(eps).norm(dim=-1)).mean())
        tightness.record(f"decoder's second derivative in expectation, weight r^{j}", measured, bound)
        assert measured <= bound, (measured, bound)
