"""A spec from a user's `torch.nn.Module`: where the module is a VAE built from layers and activations the bounds know,
its `VAESpec` and the map from its parameters to the spec's flat layout, so an instrumented run gets its derived
bound and the toolkit's own probes; where it is not, which layer keeps it outside the theory.

The shape read (the common way to write a VAE, and the paper's released code):
    encoder: nn.Sequential of nn.Linear (or the paper's 4x4 / stride 2 / padding 1 nn.Conv2d, then nn.Flatten) and
             activations; fc_mu, fc_logvar: nn.Linear heads; decoder: nn.Sequential of nn.Linear (then nn.Unflatten
             and nn.ConvTranspose2d) and activations, optionally ending in nn.Sigmoid (the Gaussian mean in (0, 1)).
The heads' soft-clipping happens in the module's forward, so it is declared (`heads=`), not read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from bounds.spec import ActivationSpec, ModelSpec, VAESpec
from .activations import softclip


class SoftClip(nn.Module):
    """Generalized soft-clipping as a layer (the paper's activation): values in (s1, s2), sharpness s."""

    def __init__(self, s: float = 5.0, s1: float = 0.0, s2: float = 50.0) -> None:
        super().__init__()
        self.s, self.s1, self.s2 = s, s1, s2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return softclip(x, self.s, self.s1, self.s2)


@dataclass(frozen=True)
class Heads:
    """The heads' soft-clipping the module applies in its forward: mu in (-mean_clip, mean_clip), the log-variance in
    (logvar_min, logvar_max), both with sharpness head_s (the theory needs bounded heads)."""
    mean_clip: float = 5.0
    logvar_min: float = -6.0
    logvar_max: float = 2.0
    head_s: float = 5.0


@dataclass
class ModuleSpec:
    """What was read of a module: the spec (None where the module is not a VAE of the shape read), the module's
    parameters in the spec's flat layout order (weight, bias per layer; the two heads stacked), and why the module is
    outside the theory (empty where it is inside)."""
    spec: VAESpec | None
    outside: list[str] = field(default_factory=list)
    layers: list[tuple[list[nn.Parameter], list[nn.Parameter]]] = field(default_factory=list)
    transposed: frozenset[int] = frozenset()  # id() of the ConvTranspose2d weights

    def flat(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """The module's parameters as the spec's flat vector (detached)."""
        out = torch.cat([x for weights, biases in self.layers for x in
                         (torch.cat([_matrix(w.detach(), id(w) in self.transposed) for w in weights], 0).reshape(-1),
                          torch.cat([b.detach() for b in biases]))])
        return out if dtype is None else out.to(dtype)

    def parameters(self) -> list[nn.Parameter]:
        """The module's parameters in the flat layout's order."""
        return [p for weights, biases in self.layers for p in (*weights, *biases)]


def _matrix(weight: torch.Tensor, transposed: bool) -> torch.Tensor:
    """A layer's weight as the layout's (out, in) matrix: a ConvTranspose2d kernel (in, out, 4, 4) is stored as the
    conv kernel (out, in, 4, 4) it is the transpose of, flattened per output channel."""
    w = weight.transpose(0, 1) if transposed else weight
    return w.reshape(len(w), -1)


ACTIVATIONS: dict[type, Any] = {nn.Tanh: lambda m: ActivationSpec("tanh"), nn.Sigmoid: lambda m: ActivationSpec("sigmoid"),
                                nn.SiLU: lambda m: ActivationSpec("silu"), nn.GELU: lambda m: ActivationSpec("gelu"),
                                nn.ELU: lambda m: ActivationSpec("elu", alpha=m.alpha),
                                nn.Softplus: lambda m: ActivationSpec("softplus", s=m.beta),
                                nn.ReLU: lambda m: ActivationSpec("relu"),
                                nn.LeakyReLU: lambda m: ActivationSpec("leaky_relu", negative_slope=m.negative_slope),
                                SoftClip: lambda m: ActivationSpec("softclip", s=m.s, s1=m.s1, s2=m.s2)}


def _leaves(seq: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """(dotted name, module) of an nn.Sequential's leaves, nested Sequentials opened; a lone module is its own leaf."""
    if not isinstance(seq, nn.Sequential):
        return [(prefix or "0", seq)]
    return [leaf for name, child in seq.named_children() for leaf in _leaves(child, f"{prefix}{name}" if not
                                                                               isinstance(child, nn.Sequential) else f"{prefix}{name}.")]


def _walk(seq: nn.Module, where: str, outside: list[str]) -> tuple[list[nn.Module], list[ActivationSpec], bool]:
    """(the affine layers, the activations, whether a final nn.Sigmoid ends it) of an nn.Sequential; anything else is
    named in `outside`."""
    layers, acts, children = [], [], _leaves(seq)
    for name, child in children:
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            layers.append(child)
        elif type(child) in ACTIVATIONS:
            acts.append(ACTIVATIONS[type(child)](child))
            if not acts[-1].smooth:
                outside.append(f"{where}.{name} ({type(child).__name__}): not smooth (assumption (i))")
        elif not isinstance(child, (nn.Flatten, nn.Unflatten, nn.Identity)):
            outside.append(f"{where}.{name} ({type(child).__name__}): not a layer the bounds know")
    final_sigmoid = bool(children) and isinstance(children[-1][1], nn.Sigmoid) and len(acts) == len(layers)
    return layers, acts[:-1] if final_sigmoid else acts, final_sigmoid


def spec_from_module(module: nn.Module, data_dim: int, *, likelihood: str = "bernoulli", decoder_std: float = 1.0,
                     data_bound: float | None = None, heads: Heads | None = None, B: int = 64,
                     objective: Any = None) -> ModuleSpec:
    """Read `module` as a VAE (see the module docstring). likelihood: 'bernoulli' (decoder logits) or 'gaussian'
    (decoder mean, N(mean, decoder_std^2 I)). heads: the soft-clipping the forward applies to the heads (None: it
    applies none, which keeps the module outside the theory)."""
    outside: list[str] = []
    parts = {name: getattr(module, name, None) for name in ("encoder", "fc_mu", "fc_logvar", "decoder")}
    missing = [name for name, part in parts.items() if part is None]
    if missing:
        return ModuleSpec(None, [f"no {', '.join(missing)}: not the encoder / fc_mu / fc_logvar / decoder shape read"])
    enc, enc_acts, _ = _walk(parts["encoder"], "encoder", outside)
    dec, dec_acts, sigmoid_out = _walk(parts["decoder"], "decoder", outside)
    mu, logvar = parts["fc_mu"], parts["fc_logvar"]
    if not (isinstance(mu, nn.Linear) and isinstance(logvar, nn.Linear)):
        return ModuleSpec(None, outside + ["fc_mu and fc_logvar must be nn.Linear heads"])
    if any(isinstance(m, nn.ConvTranspose2d) for m in enc) or any(isinstance(m, nn.Conv2d) and
                                                                  not isinstance(m, nn.ConvTranspose2d) for m in dec):
        return ModuleSpec(None, outside + ["conv layers must be Conv2d in the encoder, ConvTranspose2d in the decoder"])
    convs = [m for m in enc if isinstance(m, nn.Conv2d)]
    for m in convs + [m for m in dec if isinstance(m, nn.ConvTranspose2d)]:
        if m.kernel_size != (4, 4) or m.stride != (2, 2) or m.padding != (1, 1) or m.bias is None:
            outside.append(f"{type(m).__name__}{tuple(m.weight.shape)}: the bounds cover kernel 4, stride 2, padding 1 "
                           "with a bias")
    if any(m.bias is None for m in enc + dec + [mu, logvar]):
        outside.append("a layer without a bias (the layout has one per layer)")
    kinds = {a.name for a in enc_acts + dec_acts}
    if len({(a.name, a.s, a.s1, a.s2, a.alpha, a.negative_slope) for a in enc_acts + dec_acts}) > 1:
        outside.append(f"activations {sorted(kinds)} differ: the spec has one hidden activation")
    hidden = len(enc) + len(dec) - 1
    if len(enc_acts) + len(dec_acts) != hidden:
        outside.append(f"{len(enc_acts) + len(dec_acts)} activations for {hidden} hidden layers: every hidden layer "
                       "needs one")
    if heads is None:
        outside.append("heads not declared soft-clipped (heads=Heads(...)): the theory needs bounded heads")
    if outside and any("not a layer" in o or "must be" in o for o in outside):
        return ModuleSpec(None, outside)
    act = (enc_acts + dec_acts or [ActivationSpec("identity")])[0]
    h = heads or Heads()
    conv_channels = tuple(m.out_channels for m in convs)
    image_shape = ()
    if convs:
        side = int(round((data_dim / convs[0].in_channels) ** 0.5))
        image_shape = (convs[0].in_channels, side, side)
    linear_enc = [m for m in enc if isinstance(m, nn.Linear)]
    linear_dec = [m for m in dec if isinstance(m, nn.Linear)]
    model = ModelSpec(kind=likelihood, data_dim=data_dim, latent_dim=mu.out_features,
                      encoder_widths=tuple(m.out_features for m in linear_enc),
                      decoder_widths=tuple(m.out_features for m in linear_dec[:-1]),
                      data_bound=data_bound if data_bound is not None else (data_dim ** 0.5 if likelihood == "bernoulli"
                                                                            else 1.0),
                      decoder_std=decoder_std, mean_clip=h.mean_clip, logvar_min=h.logvar_min, logvar_max=h.logvar_max,
                      head_s=h.head_s, activation=act,
                      decoder_output="sigmoid" if sigmoid_out else "identity",
                      architecture="conv" if convs else "mlp", image_shape=image_shape, conv_channels=conv_channels)
    spec = VAESpec(model=model, objective=objective if objective is not None else VAESpec().objective, B=B)
    transposed = frozenset(id(m.weight) for m in dec if isinstance(m, nn.ConvTranspose2d))
    layers = [([m.weight], [m.bias]) for m in enc] + [([mu.weight, logvar.weight], [mu.bias, logvar.bias])]
    layers += [([m.weight], [m.bias]) for m in dec]
    shapes = [slot.shape for slot in spec.layout]
    got = [tuple(torch.cat([_matrix(w.detach(), id(w) in transposed) for w in ws], 0).shape) for ws, _ in layers]
    if got != [tuple(s) for s in shapes]:
        return ModuleSpec(None, outside + [f"layer shapes {got} do not match the layout {shapes}"])
    return ModuleSpec(spec, outside, layers, transposed)
