"""The conv encoder/decoder of the flat layout against the same network built from torch.nn layers."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from bounds import derive as D
from bounds.spec import ModelSpec, SpecError, VAESpec
from empirical import TrainConfig, digits, train
from empirical.activations import softclip
from empirical.functional import decode, encode, initial_parameters, layer_slices, unflatten

MODEL = ModelSpec(data_dim=64, latent_dim=3, encoder_widths=(5,), decoder_widths=(6,), architecture="conv",
                  image_shape=(1, 8, 8), conv_channels=(2, 4), data_bound=8.0)
SPEC = VAESpec(model=MODEL, B=16, n=30)


class Act(nn.Module):
    def forward(self, h):
        a = MODEL.activation
        return softclip(h, a.s, a.s1, a.s2)


def reference(flat: torch.Tensor) -> tuple[nn.Module, nn.Module]:
    """The paper's layout with torch.nn layers, weights copied from the flat vector."""
    enc = nn.Sequential(nn.Conv2d(1, 2, 4, 2, 1), Act(), nn.Conv2d(2, 4, 4, 2, 1), Act(), nn.Flatten(),
                        nn.Linear(16, 5), Act(), nn.Linear(5, 6))
    dec = nn.Sequential(nn.Linear(3, 6), Act(), nn.Linear(6, 16), Act(), nn.Unflatten(1, (4, 2, 2)),
                        nn.ConvTranspose2d(4, 2, 4, 2, 1), Act(), nn.ConvTranspose2d(2, 1, 4, 2, 1), nn.Sigmoid())
    params = [m for m in [*enc, *dec] if isinstance(m, (nn.Conv2d, nn.Linear, nn.ConvTranspose2d))]
    for module, (W, b) in zip(params, unflatten(SPEC, flat)):
        shape = module.weight.shape
        if isinstance(module, nn.ConvTranspose2d):  # stored as (out, in * 16)
            W = W.reshape(shape[1], shape[0], 4, 4).transpose(0, 1)
        module.weight.data = W.reshape(shape).clone()
        module.bias.data = b.clone()
    return enc, dec


def test_conv_layers_match_torch_nn():
    flat = initial_parameters(SPEC, torch.Generator().manual_seed(0))
    enc, dec = reference(flat)
    x = torch.rand(7, 64, generator=torch.Generator().manual_seed(1))
    mu, logvar = encode(SPEC, unflatten(SPEC, flat), x)
    u = enc(x.reshape(7, 1, 8, 8))
    m = MODEL
    assert torch.allclose(mu, softclip(u[:, :3], m.head_s, -m.mean_clip, m.mean_clip), atol=1e-6)
    assert torch.allclose(logvar, softclip(u[:, 3:], m.head_s, m.logvar_min, m.logvar_max), atol=1e-6)
    z = torch.randn(7, 3)
    assert torch.allclose(decode(SPEC, unflatten(SPEC, flat), z), dec(z).reshape(7, 64), atol=1e-6)
    assert sum(w.stop - w.start + b.stop - b.start for _, w, _, b in layer_slices(SPEC)) == SPEC.n_parameters


def test_conv_vae_trains_on_the_embedded_digits_and_is_compared_with_its_bound():
    from compare.tightness import assess
    run = train(SPEC, TrainConfig(probes=3, hessian_points=16, eval_points=64), digits())
    assert run.status == "finished" and run.trace["grad_norm_sq"].iloc[:-1].notna().all()
    assert float(D.convergence(SPEC).evaluate(D.spec_values(SPEC))) > 0
    summary = assess(run, "conv").summary()  # a bound, not "no bound": the conditions say what the run broke
    assert summary["error"] is None and summary["theorem_reference"].endswith("#sgd")


@pytest.mark.parametrize("changes,match", [
    (dict(image_shape=(1, 2, 32)), "divisible by 2"), (dict(data_dim=63), "must equal C\\*H\\*W"),
    (dict(conv_channels=()), "conv needs"), (dict(architecture="mlp"), "only architecture='conv'")])
def test_conv_spec_validation(changes, match):
    import dataclasses
    with pytest.raises(SpecError, match=match):
        dataclasses.replace(MODEL, **changes)


def test_paper_image_specs_have_the_paper_parameter_counts():
    """Counted against torch.nn: 1,459,211 for CIFAR-100's nets (docs/reproduction.md)."""
    from bounds.presets import paper_image_spec
    enc = [nn.Conv2d(3, 32, 4), nn.Conv2d(32, 64, 4), nn.Conv2d(64, 128, 4), nn.Linear(2048, 256), nn.Linear(256, 200)]
    dec = [nn.Linear(100, 256), nn.Linear(256, 2048), nn.ConvTranspose2d(128, 64, 4), nn.ConvTranspose2d(64, 32, 4),
           nn.ConvTranspose2d(32, 3, 4)]
    expected = sum(p.numel() for layer in enc + dec for p in layer.parameters())
    assert paper_image_spec("cifar100").n_parameters == expected
    assert paper_image_spec("celeba").model.conv_grid == (4, 4)
    with pytest.raises(SpecError, match="dataset='mnist'"):
        paper_image_spec("mnist")
