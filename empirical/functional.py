"""The VAE of a `VAESpec` as pure functions of one flat parameter vector.

A flat vector makes Hessians, per-sample gradients and projections onto the compact set plain tensor
operations (torch.func.hessian of a function of one tensor). Layout: the layers of
`spec.layer_shapes` in order, each as its weight (row-major) then its bias; the linear VAE is
(V, W, b, v). Reduction: every function returns the objective of each data point (no batch sum): inputs may
carry leading batch dimensions (x of shape (..., d_x), eps of shape (..., d_z), broadcast together).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from bounds.spec import VAESpec
from .activations import apply, softclip
from .split_batch import Tap


@dataclass(frozen=True)
class Layer:
    """One layer's weight (the flat layout's (out, in) matrix) and bias; unpacks as (W, b). With a tap (see
    `empirical.split_batch`), its backward also hands half A's weight gradient to the tap's views."""

    W: torch.Tensor
    b: torch.Tensor
    tap: tuple[Tap, torch.Tensor, torch.Tensor] | None = None

    def __iter__(self):
        return iter((self.W, self.b))

    def linear(self, h: torch.Tensor) -> torch.Tensor:
        if self.tap is None:
            return F.linear(h, self.W, self.b)
        tap, W_tap, b_tap = self.tap
        return tap.linear(h, self.W, self.b, W_tap, b_tap)

    def conv(self, h: torch.Tensor, transposed: bool) -> torch.Tensor:
        """The 4x4, stride-2, padding-1 convolution (transposed: its transpose) of the paper's nets."""
        kernel = _conv_weight(self.W, transposed)
        if self.tap is None:
            conv = F.conv_transpose2d if transposed else F.conv2d
            return conv(h, kernel, self.b, stride=2, padding=1)
        tap, W_tap, b_tap = self.tap
        return tap.conv(h, kernel, self.b, _conv_weight(W_tap, transposed), b_tap, transposed)


def unflatten(spec: VAESpec, flat: torch.Tensor, tap: Tap | None = None) -> list[Layer]:
    """[Layer(W_l, b_l)] in the order of `spec.layout`; for the linear VAE [(V, v), (W, b)]. tap: collect half A's
    gradient (networks only: the linear VAE's parameters are not all layer weights)."""
    pieces = spec.layout.pieces
    if pieces is None:  # the linear VAE, black-box VI
        if tap is not None:
            raise ValueError("a split-batch tap needs a network: the linear VAE's log-variances are not layer weights")
        return [Layer(flat[slot.weight].reshape(slot.shape), flat[slot.bias]) for slot in spec.layout]
    # One split, not a slice per piece: the backward of a split is one concatenation, where each slice's backward
    # fills a zero vector of the full size (17% of a step of the paper's CIFAR-100 net).
    parts = flat.split(pieces, dim=-1)
    taps = tap.flat.split(pieces, dim=-1) if tap is not None else None
    layers = []
    for i, slot in enumerate(spec.layout):
        W, b = parts[2 * i].reshape(slot.shape), parts[2 * i + 1]
        layers.append(Layer(W, b) if taps is None else
                      Layer(W, b, (tap, taps[2 * i].reshape(slot.shape), taps[2 * i + 1])))
    return layers


def _activation(spec: VAESpec, x: torch.Tensor) -> torch.Tensor:
    a = spec.model.activation
    return apply(a.name, x, s=a.s, s1=a.s1, s2=a.s2, alpha=a.alpha, negative_slope=a.negative_slope)


def _conv_weight(W: torch.Tensor, transposed: bool) -> torch.Tensor:
    """The (out, in * 16) matrix of the flat layout as a 4x4 kernel: (out, in, 4, 4), or (in, out, 4, 4) for
    conv_transpose2d."""
    out_c = W.shape[0]
    kernel = W.reshape(out_c, W.shape[1] // 16, 4, 4)
    return kernel.transpose(0, 1) if transposed else kernel


def encode(spec: VAESpec, layers, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, logvar) of q(z|x), heads soft-clipped to (-mean_clip, mean_clip) and (logvar_min, logvar_max)."""
    m = spec.model
    h = x
    n_conv = len(m.conv_channels)
    if n_conv:
        lead = x.shape[:-1]
        h = x.reshape(-1, *m.image_shape)
        for layer in layers[:n_conv]:
            h = _activation(spec, layer.conv(h, transposed=False))
        h = h.reshape(*lead, -1)
    for layer in layers[n_conv:m.n_encoder_layers - 1]:
        h = _activation(spec, layer.linear(h))
    u = layers[m.n_encoder_layers - 1].linear(h)
    mu = softclip(u[..., :m.latent_dim], m.head_s, -m.mean_clip, m.mean_clip)
    logvar = softclip(u[..., m.latent_dim:], m.head_s, m.logvar_min, m.logvar_max)
    return mu, logvar


def decode(spec: VAESpec, layers, z: torch.Tensor) -> torch.Tensor:
    """The decoder's output: the Gaussian mean G(z), or the Bernoulli logits."""
    m = spec.model
    dec = layers[m.n_encoder_layers:]
    n_conv = len(m.conv_channels)
    n_linear = len(dec) - n_conv
    h = z
    for i, layer in enumerate(dec[:n_linear]):
        h = layer.linear(h)
        if i < len(dec) - 1:
            h = _activation(spec, h)
    if n_conv:
        lead = z.shape[:-1]
        h = h.reshape(-1, m.conv_channels[-1], *m.conv_grid)
        for i, layer in enumerate(dec[n_linear:]):
            h = layer.conv(h, transposed=True)
            if i < n_conv - 1:
                h = _activation(spec, h)
        h = h.reshape(*lead, -1)
    if m.kind == "gaussian" and m.decoder_output == "sigmoid":
        h = torch.sigmoid(h)
    return h


def log_likelihood(spec: VAESpec, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """log p(x | z) given the decoder output (mean or logits), summed over coordinates."""
    m = spec.model
    if m.kind == "bernoulli":
        return -F.binary_cross_entropy_with_logits(out, x.expand_as(out), reduction="none").sum(-1)
    c2 = m.decoder_std ** 2
    return -((x - out) ** 2).sum(-1) / (2 * c2) - m.data_dim / 2 * math.log(2 * math.pi * c2)


def latent_parts(spec: VAESpec, flat: torch.Tensor, x: torch.Tensor, eps: torch.Tensor,
                 detach_z: bool = False, tap: Tap | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(log p(x|z), log p(z), log q(z|x)) at z = mu + exp(logvar/2) eps, each without the shared 2 pi constant
    (it cancels in log p(z) - log q(z|x)). detach_z: z is a sample only (no path to phi), as the score-function
    estimator needs; log q is then the density of the fixed z under the current encoder. tap: see `unflatten`."""
    m = spec.model
    if m.kind == "logistic":
        if tap is not None:
            raise ValueError("a split-batch tap needs a network: the logistic model's parameters are not layer weights")
        return logistic_parts(spec, flat, x, eps, detach_z)
    layers = unflatten(spec, flat, tap)
    if m.kind == "linear":
        (V, v), (W, b) = layers
        mu, logvar = F.linear(x - b, V), v
    else:
        mu, logvar = encode(spec, layers, x)
    z, log_q = gaussian_draw(mu, logvar, eps, detach_z)
    out = F.linear(z, W, b) if m.kind == "linear" else decode(spec, layers, z)
    return log_likelihood(spec, x, out), -0.5 * (z ** 2).sum(-1), log_q


def gaussian_draw(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor,
                  detach_z: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, log q(z)) for z = mu + exp(logvar/2) eps, log q without its 2 pi constant. detach_z: z is a sample only (no
    path to mu, logvar), and log q is the density of that fixed z under the current parameters."""
    z = mu + torch.exp(logvar / 2) * eps
    if detach_z:
        z = z.detach()
        return z, -0.5 * ((z - mu) ** 2 * torch.exp(-logvar)).sum(-1) - 0.5 * logvar.sum(-1)
    return z, -0.5 * (eps ** 2).sum(-1) - 0.5 * logvar.sum(-1)


def logistic_parts(spec: VAESpec, flat: torch.Tensor, u: torch.Tensor, eps: torch.Tensor,
                   detach_z: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`latent_parts` of black-box VI on a logistic regression (rows u = y x): (N log sigmoid(u . z), log p(z),
    log q(z)). Gaussian family: z = mu + exp(v/2) eps, p = N(0, I). Bernoulli family: z_j = 1 where Phi(eps_j) <
    sigmoid(phi_j) (a sample, never a path), the uniform prior dropped as a constant."""
    m = spec.model
    slot = spec.layout.slots[0]
    if m.family == "bernoulli":
        phi = flat[slot.weight]
        z = (torch.special.ndtr(eps) < torch.sigmoid(phi)).to(flat.dtype)
        log_q = (z * F.logsigmoid(phi) + (1 - z) * F.logsigmoid(-phi)).sum(-1)
        log_prior = torch.zeros_like(log_q)
    else:
        z, log_q = gaussian_draw(flat[slot.weight], flat[slot.bias], eps, detach_z)
        log_prior = -0.5 * (z ** 2).sum(-1)
    log_lik = m.n_observations * F.logsigmoid((u * z).sum(-1))
    return log_lik, log_prior, log_q


MAX_ENUMERATED_LATENTS = 16  # the product-Bernoulli ELBO is summed over the 2^d states up to this d


def bernoulli_family_elbo(spec: VAESpec, flat: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Each row's objective E_q[N log sigmoid(u . z) - log q(z)] for the product-Bernoulli family, exactly: the sum
    over the 2^d states z in {0, 1}^d (d <= MAX_ENUMERATED_LATENTS)."""
    d = spec.model.latent_dim
    if d > MAX_ENUMERATED_LATENTS:
        raise ValueError(f"latent_dim={d}: the product-Bernoulli ELBO is enumerated exactly only up to "
                         f"{MAX_ENUMERATED_LATENTS} latents")
    phi = flat[spec.layout.slots[0].weight]
    states = ((torch.arange(2 ** d, device=flat.device)[:, None] >> torch.arange(d, device=flat.device)) & 1)
    z = states.to(flat.dtype)
    log_q = z @ F.logsigmoid(phi) + (1 - z) @ F.logsigmoid(-phi)  # (2^d,)
    log_lik = spec.model.n_observations * F.logsigmoid(u @ z.T)    # (rows, 2^d)
    return ((log_lik - log_q) * log_q.exp()).sum(-1)


def log_weight(spec: VAESpec, flat: torch.Tensor, x: torch.Tensor, eps: torch.Tensor,
               beta: float | None = None) -> torch.Tensor:
    """log p(x|z) + beta [log p(z) - log q(z|x)] at z = mu + exp(logvar/2) eps: the reparameterised
    per-sample objective (beta = 1: log w, whose expectation is the ELBO)."""
    beta = spec.objective.beta if beta is None else beta
    log_lik, log_prior, log_q = latent_parts(spec, flat, x, eps)
    return log_lik + beta * (log_prior - log_q)


def iwae_objective(spec: VAESpec, flat: torch.Tensor, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """log (1/K) sum_k w(x, z_k) for eps of shape (K, d_z)."""
    logw = torch.stack([log_weight(spec, flat, x, e, beta=1.0) for e in eps])
    return torch.logsumexp(logw, 0) - math.log(eps.shape[0])


def linear_elbo(spec: VAESpec, flat: torch.Tensor, x: torch.Tensor, beta: float | None = None) -> torch.Tensor:
    """The linear VAE's closed-form beta-ELBO for one data point."""
    beta = spec.objective.beta if beta is None else beta
    m = spec.model
    (V, v), (W, b) = unflatten(spec, flat)
    c2 = m.decoder_std ** 2
    xt = x - b
    code = F.linear(xt, V)
    e = xt - F.linear(code, W)
    D = torch.exp(v)
    recon = -((e ** 2).sum(-1) + ((W ** 2) @ D).sum()) / (2 * c2) - m.data_dim / 2 * math.log(2 * math.pi * c2)
    kl = 0.5 * (D.sum() + (code ** 2).sum(-1) - m.latent_dim - v.sum())
    return recon - beta * kl


def random_parameters(spec: VAESpec, generator: torch.Generator, corners: bool = False,
                      dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A point of the entry-wise compact set [-a, a]^d (corners: every entry at +-a); the linear VAE's
    log-variances v are drawn in [logvar_min, logvar_max]."""
    a = spec.weight_bound.a
    d = spec.n_parameters
    if corners:
        flat = a * (2 * torch.randint(0, 2, (d,), generator=generator, dtype=dtype) - 1)
    else:
        flat = a * (2 * torch.rand(d, generator=generator, dtype=dtype) - 1)
    v = spec.layout.logvars
    if v is not None:
        lo, hi = spec.model.logvar_min, spec.model.logvar_max
        flat[v] = lo + (hi - lo) * torch.rand(v.stop - v.start, generator=generator, dtype=dtype)
    return flat


def layer_slices(spec: VAESpec) -> list[tuple[str, slice, tuple[int, int], slice]]:
    """(name, weight slice, weight shape, bias slice) of every layer of `spec.layout` (linear VAE: V and W, with
    the decoder bias b as W's bias and the encoder log-variances v as V's)."""
    return [(slot.name, slot.weight, slot.shape, slot.bias) for slot in spec.layout]


def block_masks(spec: VAESpec) -> dict[str, torch.Tensor]:
    """Boolean masks of the decoder parameters theta and the encoder parameters phi in the flat vector."""
    theta = torch.zeros(spec.n_parameters, dtype=torch.bool)
    for name, w, _, b in layer_slices(spec):
        if name.startswith("decoder"):
            theta[w] = True
            theta[b] = True
    return {"theta": theta, "phi": ~theta}


def box_masks(spec: VAESpec) -> dict[str, torch.Tensor]:
    """`block_masks` restricted to the entries the entry-wise bound a applies to (all but the linear VAE's
    log-variances v, which lie in [logvar_min, logvar_max])."""
    masks = block_masks(spec)
    if spec.layout.logvars is not None:
        masks["phi"][spec.layout.logvars] = False
    return masks


def initial_parameters(spec: VAESpec, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """PyTorch's default initialisation (uniform in +-1/sqrt(fan_in)) as a flat vector; the linear VAE's
    log-variances start at 0 (clamped into [logvar_min, logvar_max]). Black-box VI starts at the prior's mean
    (mu = 0, or logits 0) with its log-variances as the linear VAE's."""
    flat = torch.empty(spec.n_parameters, dtype=dtype)
    if spec.model.kind == "logistic":
        flat.zero_()
        if spec.layout.logvars is not None:
            flat[spec.layout.logvars] = min(max(0.0, spec.model.logvar_min), spec.model.logvar_max)
        return flat
    for _, w, (_, fan_in), b in layer_slices(spec):
        bound = 1 / math.sqrt(fan_in)
        flat[w] = bound * (2 * torch.rand(w.stop - w.start, generator=generator, dtype=dtype) - 1)
        flat[b] = bound * (2 * torch.rand(b.stop - b.start, generator=generator, dtype=dtype) - 1)
    if spec.layout.logvars is not None:
        m = spec.model
        flat[spec.layout.logvars] = min(max(0.0, m.logvar_min), m.logvar_max)
    return flat
