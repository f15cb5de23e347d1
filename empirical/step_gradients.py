"""What one step computes besides the update: the mini-batch gradients it requests (`Request`, `Result`), the pair of
conditionally independent unbiased gradients at theta_k read off them (`Pair`, `gradient_pair`), and everything the
step records as one tensor (`step_statistics`, one host sync). Shared by `trainer.Trainer` (one run) and
`ensemble` (E runs at once, [E, P] tensors)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from .spectral_bounds import CarriedSpectralBounds


@dataclass(frozen=True)
class Pair:
    """Two conditionally independent unbiased gradients g, g' at theta_k (one run's [P] or an ensemble's [E, P]).

    Plain: g = first, g' = second. Halves of one batch (`w` set): first is half A's share w g_A of the batch
    gradient `second`, so g = first / w and g' = (second - first) / (1 - w); kept in that form, their inner product
    needs one new parameter-sized vector, not three (on the paper's CIFAR-100 net each costs about 5% of a step)."""

    first: torch.Tensor
    second: torch.Tensor
    w: float | None = None

    def inner(self, weights: torch.Tensor | None = None) -> torch.Tensor:
        """<g, g'> (per run); with weights D, <g, D g'>: unbiased for grad L^T D grad L where D was fixed before the
        pair was drawn."""
        first = self.first if weights is None else self.first * weights
        if self.w is None:
            return _dot(first, self.second)
        # <first, second - first>, not <first, second> - <first, first>: that difference cancels where the halves
        # are nearly orthogonal (noise-dominated), and differs from the ensemble's direct halves beyond rounding
        return _dot(first, self.second - self.first) / (self.w * (1 - self.w))

    def mean(self) -> torch.Tensor:
        """The gradient of the pair's whole batch: w g + (1 - w) g' for halves (`second`), else (g + g') / 2."""
        return self.second if self.w is not None else (self.first + self.second) / 2

    def first_sq(self) -> torch.Tensor:
        """||g||^2 (per run)."""
        return _dot(self.first, self.first) / (1.0 if self.w is None else self.w ** 2)

    def vectors(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.w is None:
            return self.first, self.second
        return self.first / self.w, (self.second - self.first) / (1 - self.w)

    def member(self, e: int) -> "Pair":
        """Run e's pair, of an ensemble's."""
        return Pair(self.first[e], self.second[e], self.w)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise inner products without an elementwise product the size of the rows."""
    return a @ b if a.ndim == 1 else (a[:, None, :] @ b[:, :, None]).flatten()


class Request(NamedTuple):
    """A mini-batch gradient a step needs at theta_k; split: with its two halves' mean gradients."""
    idx: torch.Tensor
    eps: torch.Tensor
    split: bool = False


class Result(NamedTuple):
    """A requested gradient (of a batch-mean objective), its objective value, and its two halves' gradients."""
    gradient: torch.Tensor
    value: torch.Tensor
    halves: Pair | None = None


def gradient_pair(results: list[Result]) -> Pair | None:
    """The two conditionally independent unbiased gradients at theta_k among a step's results (see
    `Trainer.requests`): the last request's halves, else its last two gradients (the training gradient may be the
    first of them when batches are independent), else none. Works alike on one run's [P] tensors and an
    ensemble's [E, P] ones."""
    if results and results[-1].halves is not None:
        return results[-1].halves
    return Pair(results[-2].gradient, results[-1].gradient) if len(results) >= 2 else None


def pair_batch(train: dict[str, Any], B: int) -> int:
    """The fewest examples behind either gradient of a step's pair (as `Trainer.requests` forms it, final row
    included), from a run's recorded training settings: a pair's noise is that of a batch of this size. Runs recorded
    before the split estimator paired whole batches of B."""
    if "norm_estimator" not in train:
        return B
    fresh = train.get("norm_batch") or B
    smallest = min(B, fresh) if train.get("batches") == "independent" else fresh
    return smallest // 2 if train["norm_estimator"] == "split" and B >= 2 else smallest


class LayerGroups:
    """Each layer's weight and bias in the flat vector, for the per-step norms (`spec.layout` order: weight i, then bias
    i; the linear VAE's V has its log-variances as its bias): ||W_i||_F and ||b_i||, then (networks and the linear
    VAE) a certified upper bound on ||W_i||_2 (`spectral_bounds.CarriedSpectralBounds`)."""

    def __init__(self, layout, device: torch.device | str = "cpu") -> None:
        self.parts = [part for slot in layout for part in (slot.weight, slot.bias)]
        self.pieces = layout.pieces  # where weights and biases tile the vector: one split gives every part
        self.keys = [f"{kind}.{slot.name}" for slot in layout for kind in ("frobenius_norm", "bias_norm")]
        self.spectral = (CarriedSpectralBounds([slot.weight for slot in layout], [slot.shape for slot in layout])
                         if layout.network else None)  # black-box VI: free parameters, no weight matrices
        if self.spectral is not None:
            self.keys += [f"spectral_bound.{slot.name}" for slot in layout]
        self.count = len(self.keys)

    def norms(self, flats: torch.Tensor, carriers: list[CarriedSpectralBounds] | None = None) -> torch.Tensor:
        """[E, count]: ||W_i||_F and ||b_i|| of every layer, then the bounds on ||W_i||_2, for E parameter vectors
        (slices: a scatter-add over the whole vector cost 2.4 ms a step on a 0.8M-parameter net, these 0.2 ms).
        carriers: each vector's own carried bounds (an ensemble's members'); default: this group's."""
        if len(flats) == 1:  # one run: a single fused kernel over the layers' parts
            parts = flats[0].split(self.pieces) if self.pieces else [flats[0, part] for part in self.parts]
            out = torch.stack(torch._foreach_norm(parts))[None]
        else:
            out = torch.stack([torch.linalg.vector_norm(flats[:, part], dim=1) for part in self.parts], dim=1)
        if self.spectral is None:
            return out
        # float64 bounds cast to the run's dtype: ROUNDING's margin exceeds float32's relative rounding (6e-8)
        spectral = CarriedSpectralBounds.together(carriers or [self.spectral], flats)
        return torch.cat([out, spectral.to(out.dtype)], dim=1)

    def columns(self, values: list[float]) -> dict[str, float]:
        return dict(zip(self.keys, values))


AMINMAX_FROM = 1 << 16  # entries: below this one vector_norm kernel beats aminmax and its two extra operations


def sup_norm(t: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """||t||_inf (along dim), with no |t| copy; 0 for an empty block (black-box VI has no decoder theta)."""
    if t.shape[-1] == 0:
        return t.new_zeros(t.shape[:-1]) if dim is not None else t.new_zeros(())
    if t.shape[-1] < AMINMAX_FROM:
        return torch.linalg.vector_norm(t, float("inf"), dim=dim)
    # max(|min|, |max|): aminmax is one pass, about 10x faster on CPU than vector_norm's inf (2.3 ms on 0.8M entries)
    low, high = torch.aminmax(t, dim=dim) if dim is not None else torch.aminmax(t)
    return torch.maximum(-low, high)


def step_statistics(box: dict[str, slice | torch.Tensor], G: torch.Tensor, values: torch.Tensor, flats: torch.Tensor,
                    pair: Pair | None, logvars: slice | None = None,
                    denominators: torch.Tensor | None = None, layers: "LayerGroups | None" = None,
                    carriers: list[CarriedSpectralBounds] | None = None,
                    preconditioners: torch.Tensor | None = None) -> torch.Tensor:
    """The per-step columns of E runs at once, rows [objective, ||ghat||^2, its theta part, ||ghat||_inf,
    ||theta||_inf, ||phi||_inf, (lowest and highest log-variance), (each layer's ||W||_F and ||b||, then its
    certified bound on ||W||_2), (<g, g'>, ||g||^2), (sum_i ghat_i^2 / denominator_i), (<g, P g'> with a pair and
    the adaptive theorems' main-part preconditioners P [E, P], `FlatOptimizer.main_part_preconditioner`)], from
    gradients G [E, P], objective values [E], iterates [E, P], the pair of conditionally independent unbiased
    gradients ([E, P] each, or None), the linear VAE's log-variances and an adaptive optimiser's denominators [E, P]
    (`FlatOptimizer.denominator`), and each run's carried spectral bounds (`LayerGroups.norms`). One tensor, so that
    recording costs one host sync."""
    theta, phi = box["theta"], box["phi"]
    G2 = G.square()
    sup = lambda part: sup_norm(flats[:, part], dim=1)
    columns = [values, G2.sum(1), G2[:, theta].sum(1), torch.linalg.vector_norm(G, float("inf"), dim=1),
               sup(theta), sup(phi)]
    if logvars is not None:
        v = flats[:, logvars]
        columns += [v.amin(1), v.amax(1)]
    tail = []
    if pair is not None:
        tail += [pair.inner(), pair.first_sq()]
    if denominators is not None:
        tail.append((G2 / denominators).sum(1))
    if pair is not None and preconditioners is not None:
        tail.append(pair.inner(preconditioners))
    parts = [torch.stack(columns, dim=1)]
    if layers is not None:  # each layer's norms, one block (no per-column views to stack)
        parts.append(layers.norms(flats, carriers).to(G.dtype))
    if tail:
        parts.append(torch.stack(tail, dim=1))
    return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]


def as_index(mask: torch.Tensor) -> slice | torch.Tensor:
    """A contiguous boolean mask as a slice (cheaper to index with every step), else the mask itself."""
    where = mask.nonzero().flatten()
    if not len(where):  # an empty block (black-box VI has no decoder theta)
        return slice(0, 0)
    first, last = int(where[0]), int(where[-1])
    return slice(first, last + 1) if last - first + 1 == len(where) else mask
