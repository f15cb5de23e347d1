"""The objective's Hessian (IWAE; the ELBO at K = 1) with one derivative on the sampling density
(bounds/objectives/one_score.py): the identity it rests on, measured part by part, each part against its bound (valid)
with its ratio recorded (tight tier), and the new pieces it uses (the score's second moment, the decoder's mixed second
derivative in theta and z).

Along psi + t u the objective's Hessian is E[sum_l wt_l Jt_l] + E[Cov_wt(g, a)] + E[G S^T]: Jt_l the Jacobian in psi of
the l-th draw's gradient g_l written at fixed z, a_l the gradient of its log-weight at fixed z, G = sum_l wt_l g_l and
S = sum_l s_l, s_l the gradient of log q(z_l|x) at fixed z."""
from __future__ import annotations

import pytest
import torch
from torch.func import grad, hessian, jacrev, vmap

from bounds import derive as D
from bounds.objectives.one_score import one_score_parts, one_score_smoothness
from bounds.spec import ActivationSpec, ModelSpec, ObjectiveSpec, ParameterBound, VAESpec
from empirical.functional import _activation, decode, encode, log_likelihood, log_weight, unflatten
from tests.bounds.test_smoothness import worst_found_point
from tests.bounds.test_weighted import IWAE_432, points
from tests.helpers import number, poly_at, top_abs_eig
from tests.problems import tiny_spec

DRAWS = 2048


def z_form(spec, x: torch.Tensor):
    """(log-weight at fixed z, the pathwise gradient written at fixed z, log q at fixed z, z of eps) for one data point.

    The pathwise log-weight is l(psi, eps) = log w at z = mu + sigma o eps; at fixed z it is
    log p(x|z) + log p(z) - log q_psi(z|x), and the pathwise gradient at fixed z is
    grad l(psi, (z - mu_psi) / sigma_psi).
    Each without the shared 2 pi constants, as `log_weight`."""
    def heads(p):
        return encode(spec, unflatten(spec, p), x)

    def log_q(p, z):
        mu, logvar = heads(p)
        return (-0.5 * (z - mu) ** 2 / torch.exp(logvar) - logvar / 2).sum(-1)

    def weight_at_z(p, z):
        return log_likelihood(spec, x, decode(spec, unflatten(spec, p), z)) - 0.5 * (z ** 2).sum(-1) - log_q(p, z)

    def gradient_at_z(p, z):
        mu, logvar = heads(p)
        return grad(lambda q, e: log_weight(spec, q, x, e, beta=1.0))(p, (z - mu) / torch.exp(logvar / 2))

    def z_of(p, eps):
        mu, logvar = heads(p)
        return mu + torch.exp(logvar / 2) * eps
    return weight_at_z, gradient_at_z, log_q, z_of


def hessian_parts(spec, flat: torch.Tensor, x: torch.Tensor, eps: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per draw of K (eps of shape (N, K, d_z)): the pathwise Hessian of log (1/K) sum_l w_l and its three parts at
    fixed z, each of shape (N, d, d)."""
    weight_at_z, gradient_at_z, log_q, z_of = z_form(spec, x)

    def per_tuple(e):
        z = vmap(z_of, in_dims=(None, 0))(flat, e).detach()
        lw = vmap(weight_at_z, in_dims=(None, 0))(flat, z)
        wt = torch.softmax(lw, 0)
        g = vmap(gradient_at_z, in_dims=(None, 0))(flat, z)
        a = vmap(grad(weight_at_z), in_dims=(None, 0))(flat, z)
        s = vmap(grad(log_q), in_dims=(None, 0))(flat, z)
        jt = vmap(jacrev(gradient_at_z), in_dims=(None, 0))(flat, z)
        G, abar = wt @ g, wt @ a
        fixed_z = torch.einsum("l,lij->ij", wt, jt)
        covariance = torch.einsum("l,li,lj->ij", wt, g, a) - G[:, None] * abar[None, :]
        score = G[:, None] * s.sum(0)[None, :]
        pathwise = hessian(lambda p: torch.logsumexp(vmap(lambda e1: log_weight(spec, p, x, e1, beta=1.0))(e), 0))(flat)
        return {"pathwise": pathwise, "fixed z": fixed_z, "covariance": covariance, "score": score}
    chunks = [vmap(per_tuple)(part) for part in eps.split(256)]
    return {key: torch.cat([c[key] for c in chunks]) for key in chunks[0]}


def symmetric(matrix: torch.Tensor) -> torch.Tensor:
    return 0.5 * (matrix + matrix.transpose(-1, -2))


DEEP_DECODER = VAESpec(model=ModelSpec(kind="gaussian", data_dim=5, latent_dim=2, encoder_widths=(4,),
                                       decoder_widths=(4, 4), activation=ActivationSpec("tanh"),
                                       decoder_output="identity", data_bound=4.0),
                       weight_bound=ParameterBound(a=2.0))
# name -> (spec, the stored worst point in tests/fixtures/ or None for random points of the box, how many points)
CASES = {"iwae-tiny": (tiny_spec(objective=ObjectiveSpec("iwae", 1.0, 3)), None, 3),
         "iwae-432-worst-found": (IWAE_432, "curvature_worst_point_432_iwae.json", 1),
         "elbo-tiny": (tiny_spec(), None, 3),
         # a deeper decoder on a wider box, where the route is the smaller L_P of the ELBO (1.25e8 against 3.74e8)
         "elbo-tanh-5-(4, 4)-2-a2-worst-found": (DEEP_DECODER, "curvature_worst_point_5442_a2.json", 1)}


# The pieces that depend on the model alone, measured at random points of each model's box.
MODELS = {"tiny": tiny_spec(), "tanh 4-3-2, a = 1": IWAE_432, "tanh 5-(4, 4)-2, a = 2": DEEP_DECODER}


def case_points(name: str, count: int | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    spec, fixture, default = CASES[name]
    return [worst_found_point(spec, fixture)] if fixture else list(points(spec, 11, count or default))


def case_parts(name: str):
    """(spec, the parts at each of the case's points) over DRAWS fresh draws of K (K = 1 for the ELBO)."""
    spec = CASES[name][0]
    K = spec.objective.K if spec.objective.kind == "iwae" else 1
    eps = torch.randn(DRAWS, K, spec.model.latent_dim, generator=torch.Generator().manual_seed(8),
                      dtype=torch.float64)
    return spec, K, [(flat, hessian_parts(spec, flat, x, eps)) for flat, x in case_points(name)]


def test_the_hessian_is_its_fixed_z_covariance_and_score_parts(tightness):
    """The identity behind `one_score_smoothness`, per direction u: the mean over draws of u^T (pathwise - fixed z -
    covariance - score) u is within four standard errors of zero, along the pathwise Hessian's top eigenvectors and
    random directions, while the score part alone is not (so a missing part would show); and each part's top
    |eigenvalue| against its bound in `one_score_parts` (the fixed-z blocks; the covariance and the score parts with
    their standard deviations)."""
    for name in CASES:
        spec, K, measured_at = case_parts(name)
        values = D.spec_values(spec)
        bounds = one_score_parts(D._pieces(spec, False), 1.0, K)
        fixed_z_bound = number(bounds.fixed_z(), values)
        sd_theta, sd_phi, sd_s = (number(e, values) for e in (bounds.sd_theta, bounds.sd_phi, bounds.sd_score))
        for flat, parts in measured_at:
            residual = parts["pathwise"] - parts["fixed z"] - parts["covariance"] - parts["score"]
            mean_hessian = parts["pathwise"].mean(0)
            directions = torch.linalg.eigh(symmetric(mean_hessian)).eigenvectors[:, [0, -1]].T
            directions = torch.cat([directions, torch.randn(4, len(flat), generator=torch.Generator().manual_seed(1),
                                                            dtype=torch.float64)])
            score_significant = False
            for u in directions / directions.norm(dim=1, keepdim=True):
                per_draw = torch.einsum("i,nij,j->n", u, residual, u)
                error = float(per_draw.std() / len(per_draw) ** 0.5)
                assert abs(float(per_draw.mean())) <= 4 * error + 1e-9 * float(mean_hessian.abs().max()), (name, u)
                score = torch.einsum("i,nij,j->n", u, parts["score"], u)
                score_significant |= abs(float(score.mean())) > 4 * float(score.std() / len(score) ** 0.5)
            assert score_significant, name
            fixed_z = top_abs_eig(parts["fixed z"].mean(0))
            tightness.record(f"one score: the fixed-z part ({name})", fixed_z, fixed_z_bound)
            assert fixed_z <= fixed_z_bound, (name, fixed_z, fixed_z_bound)
            if K > 1:  # one draw has no weights
                covariance = top_abs_eig(parts["covariance"].mean(0))
                covariance_bound = (K - 1) / 2 * (sd_theta + sd_s) * (sd_theta + sd_phi)
                tightness.record(f"one score: the covariance part ({name})", covariance, covariance_bound)
                assert covariance <= covariance_bound, (name, covariance, covariance_bound)
            score = top_abs_eig(parts["score"].mean(0))
            score_bound = K * sd_s * (sd_theta + sd_phi)
            tightness.record(f"one score: the score part ({name})", score, score_bound)
            assert score <= score_bound, (name, score, score_bound)


def test_the_one_score_bound_holds_on_the_iwae_hessian(tightness):
    """||E hess|| of IWAE (K = 3) and of the ELBO (K = 1) against `one_score_smoothness` at the cases' points (2,048
    draws of K), and on the deeper decoder against the spec's L_P, which takes this route there."""
    for name in CASES:
        spec, K, measured_at = case_parts(name)
        values = D.spec_values(spec)
        bound = number(one_score_smoothness(D._pieces(spec, False), 1, 1.0, K), values)
        L_P = float(D.smoothness(spec).evaluate(values))
        for _, parts in measured_at:
            measured = top_abs_eig(parts["pathwise"].mean(0))
            tightness.record(f"one score L_P ({name})", measured, bound)
            assert measured <= min(bound, L_P), (name, measured, bound, L_P)
        if name == "elbo-tanh-5-(4, 4)-2-a2-worst-found":
            assert L_P == pytest.approx(bound, rel=1e-12)


def test_the_score_second_moment_bound_holds(tightness):
    """sup_u E_eps s_u^2, the top eigenvalue of E[s s^T] with s the gradient of log q(z|x) at fixed z, against
    `Pieces.score_sq_mean`, at random points of the box and at points whose log-variance head is pushed to its
    lowest (sigma at its smallest, where the bound's 1 / sigma_min is reached)."""
    for name, spec in MODELS.items():
        bound = number(D._pieces(spec, False).score_sq_mean, D.spec_values(spec))
        eps = torch.randn(4096, spec.model.latent_dim, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
        box = list(points(spec, 12, 4))  # random points: a worst point of the curvature may saturate the heads
        for flat, x in box + [_lowest_variance(spec, flat, x) for flat, x in box]:
            _, _, log_q, z_of = z_form(spec, x)
            z = vmap(z_of, in_dims=(None, 0))(flat, eps)
            s = vmap(grad(log_q), in_dims=(None, 0))(flat, z)
            measured = top_abs_eig(s.T @ s / len(eps))
            tightness.record(f"score second moment sup_u E s_u^2 ({name})", measured, bound)
            assert measured <= bound, (name, measured, bound)


def _lowest_variance(spec, flat: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The point with its log-variance head's weights and biases at -a times the sign of what they read: its
    pre-activations, and so sigma, at their smallest on this x."""
    layers, head = unflatten(spec, flat), spec.model.n_encoder_layers - 1
    h = x
    for layer in layers[:head]:
        h = _activation(spec, layer.linear(h))
    d_z, a, slots = spec.model.latent_dim, spec.weight_bound.a, spec.layout.pieces
    flat = flat.clone()
    start = sum(slots[:2 * head])
    weight = flat[start:start + slots[2 * head]].view(2 * d_z, -1)
    bias = flat[start + slots[2 * head]:start + slots[2 * head] + slots[2 * head + 1]]
    weight[d_z:] = -a * torch.sign(h.detach())
    bias[d_z:] = -a
    return flat, x


def test_the_decoders_mixed_second_derivative_bounds_log_ps_theta_z_block(tightness):
    """|u^T hess_(theta, z) log p(x|G(theta, z)) v| over unit u (theta) and v (z), the block's top singular value,
    against `Pieces.theta_z_curvature` at r = ||eps|| for z = mu + sigma o eps, at random points of the box."""
    for name, spec in MODELS.items():
        values, m = D.spec_values(spec), spec.model
        curvature = poly_at(D._pieces(spec, False).theta_z_curvature, values)
        gen = torch.Generator().manual_seed(10)
        decoder = slice(sum(spec.layout.pieces[:2 * m.n_encoder_layers]), spec.n_parameters)
        for flat, x in points(spec, 13, 6):
            for radius in (0.0, 1.0, 2.5):
                eps = torch.randn(m.latent_dim, generator=gen, dtype=torch.float64)
                eps = radius * eps / eps.norm()
                _, _, _, z_of = z_form(spec, x)
                z = z_of(flat, eps)

                def log_p(theta, z):
                    full = torch.cat([flat[:decoder.start], theta])
                    return log_likelihood(spec, x, decode(spec, unflatten(spec, full), z))
                block = jacrev(grad(log_p, argnums=0), argnums=1)(flat[decoder], z)
                measured = float(torch.linalg.matrix_norm(block, ord=2))
                tightness.record(f"decoder's mixed curvature in theta and z ({name})", measured, curvature(radius))
                assert measured <= curvature(radius), (name, measured, curvature(radius))
