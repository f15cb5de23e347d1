"""Convolutions in the network recursion (docs/derivations.md, "Convolutions"): the operator-norm factor against a
power iteration on the actual map, the kernel Jacobian's input gain against its worst case, and L_P of small conv
VAEs against their autograd Hessians (valid and tight tiers)."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch.func import hessian

from bounds import derive as D
from bounds.objectives.pieces import CONV_INPUT_GAIN, conv_geometry, network_layers
from bounds.spec import ModelSpec, ParameterBound, VAESpec
from empirical.functional import log_weight, random_parameters
from tests.helpers import top_abs_eig
from tests.problems import data_point

# A small conv VAE: 1 x 8 x 8 images, conv channels (2,), a 3-unit linear layer, 2 latents.
CONV = ModelSpec(data_dim=64, latent_dim=2, encoder_widths=(3,), decoder_widths=(3,), architecture="conv",
                 image_shape=(1, 8, 8), conv_channels=(2,), data_bound=2.0, decoder_std=0.8, mean_clip=2.0,
                 logvar_min=-2.0, logvar_max=1.0, head_s=2.0, decoder_output="identity")


def operator(kernel: torch.Tensor, transposed: bool, shape: tuple[int, int, int]):
    """h -> the (transposed) 4x4 stride-2 padding-1 convolution of images of `shape`, as a function of flat h."""
    conv = F.conv_transpose2d if transposed else F.conv2d
    return lambda h: conv(h.reshape(1, *shape), kernel, stride=2, padding=1).reshape(-1)


def power_norm(op, d: int, gen: torch.Generator, iters: int = 300) -> float:
    """||op||_2 by power iteration on op^T op (op linear; its adjoint by autograd)."""
    v = torch.randn(d, generator=gen, dtype=torch.float64)
    for _ in range(iters):
        h = v.clone().requires_grad_(True)
        out = op(h)
        v = torch.autograd.grad(out, h, out.detach())[0]
        v = v / v.norm()
    return float(op(v).norm())


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("kind", ["entrywise", "spectral", "frobenius"])
def test_conv_operator_norm_bound(transposed, kind, tightness):
    """The bound on ||h -> A(W) h|| (factor x the weight matrix's bound) holds for random and worst-case kernels;
    the entry-wise box's worst case (every entry +a) comes within a boundary factor of it."""
    gen = torch.Generator().manual_seed(1)
    c_in, c_out, side = 3, 2, 8
    a = 0.3
    for trial in range(6):
        W = a * (torch.ones(c_out, c_in * 16, dtype=torch.float64) if trial == 0 else
                 2 * torch.rand(c_out, c_in * 16, generator=gen, dtype=torch.float64) - 1)
        kernel = W.reshape(c_out, c_in, 4, 4)
        if transposed:  # conv_transpose2d's weight is (in, out, 4, 4): W's rows are its output channels
            op, d = operator(kernel.transpose(0, 1), True, (c_in, side, side)), c_in * side * side
        else:
            op, d = operator(kernel, False, (c_in, side, side)), c_in * side * side
        factor = {False: CONV_INPUT_GAIN, True: 4 if kind == "spectral" else CONV_INPUT_GAIN}[transposed]
        matrix_bound = {"entrywise": (c_out * c_in * 16) ** 0.5 * a, "spectral": float(torch.linalg.matrix_norm(W, 2)),
                        "frobenius": float(torch.linalg.matrix_norm(W))}[kind]
        measured = power_norm(op, d, gen)
        tightness.record(f"conv operator norm ({'transposed' if transposed else 'conv'}, {kind})", measured,
                         factor * matrix_bound)
        assert measured <= factor * matrix_bound * (1 + 1e-9), (measured, factor * matrix_bound)


@pytest.mark.parametrize("transposed", [False, True])
def test_conv_kernel_jacobian_gain(transposed, tightness):
    """||A(dW) h|| <= input_gain ||dW||_F ||h||: random pairs and the worst case (constant kernel and image)."""
    gen = torch.Generator().manual_seed(2)
    c_in, c_out, side = 2, 3, 8
    conv = F.conv_transpose2d if transposed else F.conv2d
    for trial in range(20):
        ones = trial == 0
        dW = torch.ones(c_out, c_in, 4, 4, dtype=torch.float64) if ones else \
            torch.randn(c_out, c_in, 4, 4, generator=gen, dtype=torch.float64)
        h = torch.ones(1, c_in if not transposed else c_out, side, side, dtype=torch.float64) if ones else \
            torch.randn(1, c_in if not transposed else c_out, side, side, generator=gen, dtype=torch.float64)
        out = conv(h, dW, stride=2, padding=1)
        bound = CONV_INPUT_GAIN * float(dW.norm() * h.norm())
        tightness.record(f"conv kernel Jacobian ({'transposed' if transposed else 'conv'})", float(out.norm()), bound)
        assert float(out.norm()) <= bound * (1 + 1e-12)


def test_conv_layers_read_the_paper_geometry():
    spec = VAESpec(model=dataclasses.replace(CONV, image_shape=(3, 32, 32), data_dim=3072, conv_channels=(32, 64, 128)))
    geometry = conv_geometry(spec)
    assert geometry["encoder.conv0"][0] == 256 and geometry["encoder.conv2"][0] == 16
    assert geometry["decoder.deconv0"][0] == 64 and geometry["decoder.deconv2"][0] == 1024
    net = network_layers(spec)
    assert net.encoder[0].width_out == 32 * 256 and net.encoder[0].width_in == 3 * 1024
    assert net.decoder[-1].width_out == 3 * 1024 and net.decoder[-1].width_in == 32 * 256


@pytest.mark.parametrize("a", [0.3, 0.6])
def test_conv_vae_L_P_bounds_the_expected_hessian(a, tightness):
    spec = VAESpec(model=CONV, weight_bound=ParameterBound(a=a))
    L = float(D.smoothness(spec).evaluate(D.spec_values(spec)))
    gen = torch.Generator().manual_seed(int(100 * a))
    for trial in range(4):
        flat, x = random_parameters(spec, gen, corners=trial % 2 == 0), data_point(spec, gen)
        eps = torch.randn(64, spec.model.latent_dim, generator=gen, dtype=torch.float64)
        H = hessian(lambda p: log_weight(spec, p, x.expand(len(eps), -1), eps).mean())(flat)
        eig = top_abs_eig(H)
        tightness.record("conv VAE L_P", eig, L)
        assert eig <= L, (eig, L)
