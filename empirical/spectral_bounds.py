"""Certified upper bounds on the spectral norms of weight matrices, cheap enough for every step.

`spectral_upper_bound` never falls below ||W||_2 (up to a stated rounding margin), unlike power iteration, whose
estimate approaches ||W||_2 from below: the run's certificate (compare/certificate.py) needs a bound, not an
estimate. With A = W^T W (the smaller side, float64), normalised repeated squaring gives B_j = A^(2^j) / prod(...),
each of Frobenius norm 1; since lambda_max(B_p) <= ||B_p||_F = 1,

    log lambda_max(A) <= sum_{j=0..p} 2^-j log c_j,   c_0 = ||A||_F,  c_j = ||B_{j-1}^2||_F,

so ||W||_2 <= exp(sum_j 2^-j log c_j / 2), at most d^(1 / 2^(p+2)) above ||W||_2 (d the smaller side; with p = 5
under 1.06 for d <= 784, and far closer when the spectrum decays). `CarriedSpectralBounds` spends this only when
needed: ||W_k||_2 <= bound(W_j) + ||W_k - W_j||_F for an anchor iterate W_j, re-anchored once the carried drift
passes 1% of the anchor's bound.
"""
from __future__ import annotations

import torch

SQUARINGS = 5
ROUNDING = 1e-6   # relative margin for float64 rounding in the products (their error is ~ d * 1e-16)
DRIFT_ROUNDING = 1e-3  # relative margin on a float32 difference's Frobenius norm (rounding of the difference)
REANCHOR_AT = 0.01     # re-anchor a layer once its carried drift passes this share of the anchor's bound


@torch.no_grad()
def spectral_upper_bound(W: torch.Tensor, squarings: int = SQUARINGS) -> torch.Tensor:
    """Upper bounds on ||W||_2 of a matrix [m, n] or a batch [E, m, n] ([] or [E]), in float64.

    The normalisations of the squarings telescope, so one at the start serves: sum_j 2^-j log c_j =
    log c_0 + 2^-p log ||B_0^(2^p)||_F. Nothing overflows (||B_0||_F = 1) and the top eigenvalue of B_0^(2^p) is at
    least d^(-2^(p-1)) (1e-64 for d = 10^4 at p = 5), far above float64's underflow."""
    W = W.double()
    A = W.mT @ W if W.shape[-1] <= W.shape[-2] else W @ W.mT  # the smaller Gram matrix: same top eigenvalue
    c = torch.linalg.matrix_norm(A)
    nonzero = c > 0
    B = A / torch.where(nonzero, c, 1.0)[..., None, None]
    for _ in range(squarings):
        B = B @ B
    top = torch.linalg.matrix_norm(B).clamp_min(1e-300) ** (0.5 ** (squarings + 1))  # >= lambda_max(B_0)^(1/2)
    return torch.where(nonzero, c.sqrt() * top * (1 + ROUNDING), 0.0)


class CarriedSpectralBounds:
    """Per-layer bounds on ||W_l||_2 at every step of E runs (flat vectors [E, P]), each the bound at an anchor
    iterate plus the Frobenius distance travelled since (the triangle inequality, ||.||_2 <= ||.||_F).

    Which layers to re-anchor is read at the next step from the drift the last step left on the device: after the
    step's one host sync that tensor is already computed, so reading it never waits on the device. Any anchor gives
    a valid bound; the rule only keeps the bounds close."""

    def __init__(self, weights: list[slice], shapes: list[tuple[int, int]]) -> None:
        self.weights, self.shapes = weights, shapes
        self.anchor_flat: torch.Tensor | None = None   # [E, P]: the anchors' weights (other entries unused)
        self.anchor_bound: torch.Tensor | None = None  # [E, L] float64
        self.stale: torch.Tensor | None = None         # [E, L] bool: re-anchor at the next step

    def state(self) -> dict[str, torch.Tensor | None]:
        """The anchors, for a checkpoint: a resumed run then records the bounds the uninterrupted one would."""
        return {"anchor_flat": self.anchor_flat, "anchor_bound": self.anchor_bound, "stale": self.stale}

    def load(self, state: dict[str, torch.Tensor | None] | None, device: torch.device | str) -> None:
        """Restore `state` (None, from a checkpoint written before the bounds: start afresh, as valid)."""
        state = state or {}
        move = lambda t: None if t is None else t.to(device)
        self.anchor_flat, self.anchor_bound, self.stale = (move(state.get(k)) for k in
                                                           ("anchor_flat", "anchor_bound", "stale"))

    def bounds(self, flats: torch.Tensor) -> torch.Tensor:
        """[E, L] float64 upper bounds on each layer's ||W||_2 at the iterates `flats` (E runs sharing the anchors)."""
        E, L = len(flats), len(self.weights)
        if self.anchor_flat is None or self.anchor_flat.shape != flats.shape:
            self.anchor_flat, self.anchor_bound = flats.detach().clone(), flats.new_zeros(E, L, dtype=torch.float64)
            self.stale = None
            renew = range(L)
        else:
            renew = [l for l, s in enumerate(self.stale.any(0).tolist()) if s] if self.stale is not None else []
        self._renew(flats, renew)
        bound, self.stale = self._carry(flats, self.anchor_flat, self.anchor_bound)
        return bound

    @staticmethod
    def together(carriers: list["CarriedSpectralBounds"], flats: torch.Tensor) -> torch.Tensor:
        """[E, L] bounds for E runs at once, each row from its own run's anchors (`carriers[e]`), so that each run
        records what it would alone (an ensemble's members, their own checkpoints)."""
        if len(carriers) == 1:
            return carriers[0].bounds(flats)
        fresh = [c.anchor_flat is None or c.anchor_flat.shape != flats[:1].shape for c in carriers]
        known = [c.stale for c, new in zip(carriers, fresh) if not new and c.stale is not None]
        stale = iter(torch.cat(known).tolist() if known else [])  # one read for every member
        for c, flat, new in zip(carriers, flats, fresh):
            if new:
                c.bounds(flat[None])  # anchors every layer
            elif c.stale is not None:
                c._renew(flat[None], [l for l, s in enumerate(next(stale)) if s])
        bound, stale_rows = carriers[0]._carry(flats, torch.cat([c.anchor_flat for c in carriers]),
                                               torch.cat([c.anchor_bound for c in carriers]))
        for e, c in enumerate(carriers):
            c.stale = stale_rows[e:e + 1]
        return bound

    def _renew(self, flats: torch.Tensor, layers) -> None:
        """Anchor these layers at `flats`."""
        for l in layers:
            part = self.weights[l]
            self.anchor_flat[:, part] = flats[:, part]
            self.anchor_bound[:, l] = spectral_upper_bound(flats[:, part].reshape(len(flats), *self.shapes[l]))

    def _carry(self, flats: torch.Tensor, anchor_flat: torch.Tensor,
               anchor_bound: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the bounds anchor + drift, [E, L] whether each run's layer is due for a new anchor)."""
        diff = flats - anchor_flat
        if len(diff) == 1:  # one run: one fused kernel over the layers
            drift = torch.stack(torch._foreach_norm([diff[0, part] for part in self.weights]))[None].double()
        else:
            drift = torch.stack([torch.linalg.vector_norm(diff[:, part], dim=1) for part in self.weights], 1).double()
        drift = drift * (1 + DRIFT_ROUNDING)
        return anchor_bound + drift, drift > REANCHOR_AT * anchor_bound
