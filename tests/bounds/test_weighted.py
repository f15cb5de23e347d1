"""The importance-weighted objectives' pieces (bounds/objectives/weighted.py): the weight covariance's two bounds,
the centred gradient's second moment with the expectation before the supremum, and the pointwise Hessian's split
into its second-derivative and Gauss-Newton parts. Each against a measurement (valid) and with its ratio recorded
(tight tier)."""
from __future__ import annotations

import torch
from torch.func import grad, hessian, jacrev, vmap

from bounds import derive as D
from bounds.objectives.smoothness import pathwise_pointwise
from bounds.objectives.weighted import centred_gradient_second_moment, weight_covariance
from bounds.spec import ActivationSpec, ModelSpec, ObjectiveSpec, ParameterBound, VAESpec
from empirical.functional import decode, encode, log_weight, random_parameters, unflatten
from tests.bounds.test_smoothness import SPECS, worst_found_point
from tests.helpers import number, poly_at, top_abs_eig
from tests.problems import data_point, tiny_spec

IWAE_432 = VAESpec(model=ModelSpec(kind="gaussian", data_dim=4, latent_dim=2, encoder_widths=(3,), decoder_widths=(3,),
                                   activation=ActivationSpec("tanh"), decoder_output="identity", data_bound=4.0),
                   objective=ObjectiveSpec("iwae", 1.0, 3), weight_bound=ParameterBound(a=1.0))


def weighted_covariance(g: torch.Tensor, wt: torch.Tensor) -> torch.Tensor:
    """Cov_wt(g) = sum_l wt_l g_l g_l^T - gbar gbar^T over the last-but-one axis (draws)."""
    gbar = (wt[..., None] * g).sum(-2)
    return torch.einsum("...l,...li,...lj->...ij", wt, g, g) - gbar[..., :, None] * gbar[..., None, :]


def test_the_covariance_is_below_half_the_draws_outer_products_about_their_mean(tightness):
    """Cov_wt(g) <= (1/2) sum_l (g_l - gbar)(g_l - gbar)^T (gbar the draws' plain mean) in the Loewner order, below
    2 sum_l wt_l (1 - wt_l) (g_l - c)(g_l - c)^T <= (1/2) sum_l (g_l - c)(g_l - c)^T for any c: random gradients,
    weights from spread and concentrated logits (and the worst two-point weights), random centres; the first is an
    equality at K = 2 with equal weights and at K = 3 with one draw at the midpoint of the other two."""
    gen = torch.Generator().manual_seed(0)
    name = "IWAE weight covariance <= (1/2) sum_l (g_l - gbar)(g_l - gbar)^T"
    for trial in range(200):
        K, dim = 2 + trial % 5, 1 + trial % 4
        g = torch.randn(K, dim, generator=gen, dtype=torch.float64) * (1 + trial % 3)
        if trial % 4 == 3:  # half the weight on each of two draws: the most spread weights along one direction
            wt = torch.zeros(K, dtype=torch.float64)
            wt[:2] = 0.5
        else:
            wt = torch.softmax(torch.randn(K, generator=gen, dtype=torch.float64) * (0.1 + trial % 7), 0)
        c = torch.randn(dim, generator=gen, dtype=torch.float64) * (trial % 2)
        cov, centred, about_mean = weighted_covariance(g, wt), g - c, g - g.mean(0)
        half_mean = 0.5 * about_mean.T @ about_mean
        weighted = 2 * torch.einsum("l,li,lj->ij", wt * (1 - wt), centred, centred)
        half = 0.5 * centred.T @ centred
        assert float(torch.linalg.eigvalsh(half_mean - cov).min()) >= -1e-10
        assert float(torch.linalg.eigvalsh(weighted - cov).min()) >= -1e-10
        assert float(torch.linalg.eigvalsh(half - weighted).min()) >= -1e-10
        assert float(torch.linalg.eigvalsh(half - half_mean).min()) >= -1e-10
        tightness.record(name, top_abs_eig(cov), top_abs_eig(half_mean))
    for g, wt in ((torch.tensor([[1.0, 2.0], [-1.0, 0.0]]), torch.tensor([0.5, 0.5])),
                  (torch.tensor([[1.0, 2.0], [0.0, 1.0], [-1.0, 0.0]]), torch.tensor([0.5, 0.0, 0.5]))):
        g, wt = g.double(), wt.double()
        about_mean = g - g.mean(0)
        tightness.record(name, top_abs_eig(weighted_covariance(g, wt)), top_abs_eig(0.5 * about_mean.T @ about_mean))


def per_draw_gradients(spec: VAESpec, flat: torch.Tensor, x: torch.Tensor, eps: torch.Tensor):
    """(log w, grad log w, c) per draw (eps of shape (..., d_z)), c the entropy term's gradient grad (sum_j v_j / 2)
    (beta = 1), the same for every draw."""
    def lw(p, e):
        return log_weight(spec, p, x, e, beta=1.0)
    flat_eps = eps.reshape(-1, spec.model.latent_dim)
    values = vmap(lw, in_dims=(None, 0))(flat, flat_eps).reshape(eps.shape[:-1])
    grads = vmap(grad(lw), in_dims=(None, 0))(flat, flat_eps).reshape(*eps.shape[:-1], -1)
    c = grad(lambda p: 0.5 * encode(spec, unflatten(spec, p), x)[1].sum())(flat)
    return values, grads, c


def points(spec: VAESpec, seed: int, count: int):
    """Random points of the box (corners and interior), each with a data point."""
    gen = torch.Generator().manual_seed(seed)
    for trial in range(count):
        yield random_parameters(spec, gen, corners=trial % 2 == 0), data_point(spec, gen)


CASES = {"iwae-tiny": (tiny_spec(objective=ObjectiveSpec("iwae", 1.0, 3)), None),
         "iwae-432-worst-found": (IWAE_432, "curvature_worst_point_432_iwae.json")}


def case_points(name: str, count: int = 6):
    spec, fixture = CASES[name]
    return [worst_found_point(spec, fixture)] if fixture else list(points(spec, 11, count))


def test_the_centred_gradient_second_moment_bounds_the_gradients_covariance(tightness):
    """sup_u Var_eps(u . grad l), the top eigenvalue of the gradient's covariance over 4,096 draws, against
    `centred_gradient_second_moment` (a bound on sup_u min_c E (u . grad l - c)^2: the encoder block's expectation
    taken before the supremum over directions, and the prior's part centred at its mean); the measured second moment
    about the entropy's gradient is recorded too, where the bound's first route is still above it."""
    for name in CASES:
        spec = CASES[name][0]
        bound = number(centred_gradient_second_moment(D._pieces(spec, False), 1.0), D.spec_values(spec))
        eps = torch.randn(4096, spec.model.latent_dim, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
        for flat, x in case_points(name):
            _, g, c = per_draw_gradients(spec, flat, x, eps)
            about_mean = g - g.mean(0)
            measured = top_abs_eig(about_mean.T @ about_mean / len(eps))
            tightness.record(f"centred gradient covariance sup_u Var(u.g) ({name})", measured, bound)
            assert measured <= bound, (name, measured, bound)
            centred = g - c
            second_moment = top_abs_eig(centred.T @ centred / len(eps))
            assert measured <= second_moment * (1 + 1e-9)  # the mean minimises the second moment


def test_the_weight_covariance_bound_holds(tightness):
    """||E Cov_wt(grad l_l)|| over 2,048 draws of K = 3 against `weight_covariance` (the smaller of E max_l of the
    centred g_sq and (K - 1)/2 times the centred second moment)."""
    for name in CASES:
        spec = CASES[name][0]
        K = spec.objective.K
        bound = number(weight_covariance(D._pieces(spec, False), 1.0, K), D.spec_values(spec))
        eps = torch.randn(2048, K, spec.model.latent_dim, generator=torch.Generator().manual_seed(6),
                          dtype=torch.float64)
        for flat, x in case_points(name):
            lw, g, _ = per_draw_gradients(spec, flat, x, eps)
            measured = top_abs_eig(weighted_covariance(g, torch.softmax(lw, -1)).mean(0))
            tightness.record(f"IWAE weight covariance ||E Cov_wt|| ({name})", measured, bound)
            assert measured <= bound, (name, measured, bound)


def gauss_newton_part(spec: VAESpec, flat: torch.Tensor, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """The Gauss-Newton terms of hess l at one eps: J_G^T (-hess_G log p) J_G + beta Jz^T Jz (positive
    semi-definite; l's Hessian is the second-derivative terms minus this)."""
    beta = spec.objective.beta

    def z_of(p):
        mu, logvar = encode(spec, unflatten(spec, p), x)
        return mu + torch.exp(logvar / 2) * eps

    def out_of(p):
        return decode(spec, unflatten(spec, p), z_of(p))
    J_out, J_z = jacrev(out_of)(flat), jacrev(z_of)(flat)
    if spec.model.kind == "bernoulli":
        s = torch.sigmoid(out_of(flat))
        curvature = torch.diag(s * (1 - s))
    else:
        curvature = torch.eye(spec.model.data_dim, dtype=flat.dtype) / spec.model.decoder_std ** 2
    return J_out.T @ curvature @ J_out + beta * J_z.T @ J_z


def test_the_pointwise_hessian_splits_into_second_derivatives_and_gauss_newton(tightness):
    """hess l = R - N with N the Gauss-Newton terms: ||N|| <= `Pointwise.gauss_newton` and
    ||hess l + N|| <= `Pointwise.second_derivatives`, at random points and draws of the ELBO's test specs."""
    for name in ("gaussian-softclip", "gaussian-tanh-identity-out", "bernoulli-softclip"):
        spec = SPECS[name]
        values = D.spec_values(spec)
        pw = pathwise_pointwise(D._pieces(spec, False), spec.objective.beta)
        R_bound, N_bound = poly_at(pw.second_derivatives, values), poly_at(pw.gauss_newton, values)
        gen = torch.Generator().manual_seed(2)
        for trial, (flat, x) in enumerate(points(spec, 2, 20)):
            eps = torch.randn(spec.model.latent_dim, generator=gen, dtype=torch.float64) * (1 + trial % 3)
            r = float(eps.norm())
            H = hessian(lambda p: log_weight(spec, p, x, eps))(flat)
            N = gauss_newton_part(spec, flat, x, eps)
            assert float(torch.linalg.eigvalsh(N).min()) >= -1e-9
            n_norm, r_norm = top_abs_eig(N), top_abs_eig(H + N)
            tightness.record(f"VAE pointwise Gauss-Newton part ({name})", n_norm, N_bound(r))
            tightness.record(f"VAE pointwise second-derivative part ({name})", r_norm, R_bound(r))
            assert n_norm <= N_bound(r) and r_norm <= R_bound(r), (name, n_norm, N_bound(r), r_norm, R_bound(r))


def test_the_expected_second_derivatives_bound_their_mean(tightness):
    """||E_eps R|| (R = hess l + N, the per-draw Hessian's second-derivative terms, over 512 draws) <=
    `expected_second_derivatives`, a bound on sup_u E|u^T R u| >= ||E R||: at the 4-3-2 box's worst found IWAE point
    and at random points of the tiny IWAE spec. IWAE takes K times it where that is below Hartley-David-Gumbel's
    E max_l R(r_l)."""
    from bounds.objectives.smoothness import expected_second_derivatives
    for name in CASES:
        spec = CASES[name][0]
        bound = number(expected_second_derivatives(D._pieces(spec, False), 1.0), D.spec_values(spec))
        eps = torch.randn(512, spec.model.latent_dim, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
        for flat, x in case_points(name, count=3):
            H = vmap(hessian(lambda p, e: log_weight(spec, p, x, e, beta=1.0)), in_dims=(None, 0))(flat, eps)
            N = vmap(lambda e: gauss_newton_part(spec, flat, x, e))(eps)
            measured = top_abs_eig((H + N).mean(0))
            tightness.record(f"IWAE expected second derivatives ||E R|| ({name})", measured, bound)
            assert measured <= bound, (name, measured, bound)
