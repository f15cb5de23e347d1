"""The flat parameter vector, described once: where each layer's weight and bias sit, read by the spec (its layer
shapes and parameter count), by `empirical.functional` (unflatten, initialisation, projection, masks) and by the
probes (per-layer norms).

Layout: the layers in order, encoder first (conv layers, linear layers, then the heads), then the decoder, each as
its weight (row-major; a 4x4 conv kernel (out, in, 4, 4) stored as the matrix (out, in * 16)) then its bias. The
linear VAE is (V, W, b, v): its encoder "layer" is V with the log-variances v in the place of a bias, its decoder
is W with bias b. The logistic model (black-box VI) is (mu, v), its log-variances v in the place of a bias, or the
product-Bernoulli logits phi alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any


@dataclass(frozen=True)
class Slot:
    """One layer in the flat vector: name, weight slice, weight shape (out, in), bias slice."""
    name: str
    weight: slice
    shape: tuple[int, int]
    bias: slice

    @property
    def decoder(self) -> bool:
        return self.name.startswith("decoder")


@dataclass(frozen=True)
class Layout:
    slots: tuple[Slot, ...]
    size: int
    logvars: slice | None = None  # the linear VAE's log-variances v (bounded by [logvar_min, logvar_max], not a)
    network: bool = True  # layers of a network (False: black-box VI's free variational parameters)

    def __iter__(self):
        return iter(self.slots)

    def __len__(self) -> int:
        return len(self.slots)

    @cached_property  # read by every forward pass; a layout is built once per model (parameter_layout)
    def pieces(self) -> tuple[int, ...] | None:
        """The sizes of weight, bias, weight, bias, ... where they tile the vector in that order (the networks), so
        that it splits into them in one operation; None where they do not (the linear VAE) or where there is no network
        (black-box VI: its parameters are not read through layers, so no split-batch tap)."""
        if not self.network:
            return None
        bounds = [(part.start, part.stop) for slot in self.slots for part in (slot.weight, slot.bias)]
        if [start for start, _ in bounds] != [0] + [stop for _, stop in bounds[:-1]] or bounds[-1][1] != self.size:
            return None
        return tuple(stop - start for start, stop in bounds)


def weight_shapes(model: Any) -> list[tuple[str, tuple[int, int]]]:
    """(name, (out, in)) of every weight matrix of a `ModelSpec`, encoder first, then decoder."""
    m = model
    if m.kind == "logistic":  # no networks: the variational means (or logits) as one column
        return [("posterior.mean" if m.family == "gaussian" else "posterior.logits", (m.latent_dim, 1))]
    if m.kind == "linear":
        return [("encoder.V", (m.latent_dim, m.data_dim)), ("decoder.W", (m.data_dim, m.latent_dim))]
    shapes = []
    flat_in = m.data_dim
    channels = (m.image_shape[0], *m.conv_channels) if m.architecture == "conv" else ()
    if m.architecture == "conv":
        for i in range(len(m.conv_channels)):
            shapes.append((f"encoder.conv{i}", (channels[i + 1], channels[i] * 16)))
        flat_in = m.conv_channels[-1] * m.conv_grid[0] * m.conv_grid[1]
    widths = (flat_in, *m.encoder_widths)
    for i in range(len(m.encoder_widths)):
        shapes.append((f"encoder.{i}", (widths[i + 1], widths[i])))
    shapes.append(("encoder.heads", (2 * m.latent_dim, widths[-1])))
    widths = (m.latent_dim, *m.decoder_widths, flat_in)
    for i in range(len(widths) - 1):
        shapes.append((f"decoder.{i}", (widths[i + 1], widths[i])))
    if m.architecture == "conv":  # transposed convs back to the image
        for i in reversed(range(len(m.conv_channels))):
            shapes.append((f"decoder.deconv{len(m.conv_channels) - 1 - i}", (channels[i], channels[i + 1] * 16)))
    return shapes


@lru_cache(maxsize=256)
def parameter_layout(model: Any) -> Layout:
    """The flat layout of a `ModelSpec`'s parameters."""
    m = model
    if m.kind == "logistic":  # (mu, v) with v the log-variances, or the logits phi alone
        d = m.latent_dim
        if m.family == "bernoulli":
            return Layout((Slot("posterior.logits", slice(0, d), (d, 1), slice(d, d)),), d, network=False)
        return Layout((Slot("posterior.mean", slice(0, d), (d, 1), slice(d, 2 * d)),), 2 * d, logvars=slice(d, 2 * d), network=False)
    if m.kind == "linear":
        nV, nW = m.latent_dim * m.data_dim, m.data_dim * m.latent_dim
        end = nV + nW + m.data_dim
        slots = (Slot("encoder.V", slice(0, nV), (m.latent_dim, m.data_dim), slice(end, end + m.latent_dim)),
                 Slot("decoder.W", slice(nV, nV + nW), (m.data_dim, m.latent_dim), slice(nV + nW, end)))
        return Layout(slots, end + m.latent_dim, logvars=slice(end, end + m.latent_dim))
    slots, i = [], 0
    for name, (o, n_in) in weight_shapes(m):
        slots.append(Slot(name, slice(i, i + o * n_in), (o, n_in), slice(i + o * n_in, i + o * n_in + o)))
        i += o * n_in + o
    return Layout(tuple(slots), i)
