"""The certified spectral-norm bounds (empirical/spectral_bounds.py): never below ||W||_2 (valid), never more than
the proved d^(1 / 2^(p+2)) above it (tight), alone, in batches, and carried along a path of iterates."""
from __future__ import annotations

import pytest
import torch

from empirical.spectral_bounds import ROUNDING, SQUARINGS, CarriedSpectralBounds, spectral_upper_bound
from empirical.step_gradients import LayerGroups
from tests.problems import LINEAR_3_2, small_mlp_spec


def _matrices() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    gauss = [torch.randn(*shape, generator=g, dtype=torch.float64) for shape in
             [(32, 64), (64, 32), (8, 32), (1, 7), (7, 1), (50, 50), (120, 300)]]
    flat_spectrum = torch.linalg.qr(torch.randn(40, 40, generator=g, dtype=torch.float64))[0]  # every value 1
    low_rank = torch.randn(30, 2, generator=g, dtype=torch.float64) @ torch.randn(2, 20, generator=g,
                                                                                 dtype=torch.float64)
    return [*gauss, flat_spectrum, low_rank, 1e-3 * gauss[0], 1e3 * gauss[1]]


@pytest.mark.parametrize("W", _matrices(), ids=lambda W: "x".join(map(str, W.shape)))
def test_bound_is_valid_and_within_its_proved_factor(W, tightness):
    exact = float(torch.linalg.matrix_norm(W, 2))
    bound = float(spectral_upper_bound(W))
    tightness.record("spectral-norm upper bound", exact, bound)
    assert bound >= exact
    worst = min(W.shape) ** (1 / 2 ** (SQUARINGS + 2)) * (1 + ROUNDING) * (1 + 1e-9)
    assert bound <= exact * worst


def test_flat_spectrum_is_the_worst_case_and_meets_the_factor():
    """An orthogonal matrix (every singular value 1) is where the bound is loosest: exactly the proved factor."""
    Q = torch.linalg.qr(torch.randn(64, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64))[0]
    assert float(spectral_upper_bound(Q)) == pytest.approx(64 ** (1 / 2 ** (SQUARINGS + 2)) * (1 + ROUNDING), rel=1e-9)


def test_batches_match_single_matrices_and_zero_is_zero():
    Ws = torch.randn(5, 16, 9, generator=torch.Generator().manual_seed(2))
    one_by_one = torch.stack([spectral_upper_bound(W) for W in Ws])
    assert torch.allclose(spectral_upper_bound(Ws), one_by_one, rtol=1e-12)
    assert float(spectral_upper_bound(torch.zeros(3, 4))) == 0.0
    Ws[2] = 0
    assert float(spectral_upper_bound(Ws)[2]) == 0.0 and bool((spectral_upper_bound(Ws)[[0, 1, 3, 4]] > 0).all())


def test_carried_bounds_stay_valid_along_a_random_walk(tightness):
    """An SGD-like walk of E = 3 float32 iterates: every step's carried bound is at least the exact norm, it stays
    within a few percent of it (re-anchoring at 1% drift), and re-anchors happen (the rule acts)."""
    g = torch.Generator().manual_seed(3)
    shapes = [(16, 12), (6, 16)]
    sizes = [a * b for a, b in shapes]
    weights = [slice(0, sizes[0]), slice(sizes[0] + 5, sizes[0] + 5 + sizes[1])]  # a gap: other entries are ignored
    carried = CarriedSpectralBounds(weights, shapes)
    flats = torch.randn(3, weights[1].stop + 2, generator=g)
    anchors, loosest = 0, 1.0
    for step in range(200):
        before = None if carried.anchor_flat is None else carried.anchor_flat.clone()
        bounds = carried.bounds(flats)
        anchors += before is None or not torch.equal(before, carried.anchor_flat)
        for l, (part, shape) in enumerate(zip(weights, shapes)):
            exact = torch.linalg.matrix_norm(flats[:, part].reshape(3, *shape).double(), 2)
            assert bool((bounds[:, l] >= exact).all()), (step, l)
            assert bool((bounds[:, l] <= 1.08 * exact).all()), (step, l)
            loosest = min(loosest, float((exact / bounds[:, l]).min()))
        flats = flats + 0.01 * torch.randn(flats.shape, generator=g)
    tightness.record("spectral-norm bound carried along a path (loosest step)", loosest, 1.0)
    assert 5 < anchors < 200


def test_runs_carried_together_equal_each_run_carried_alone():
    """`together` (an ensemble's one call, each row with its own member's anchors) against one carrier per run called
    alone, along a random walk where the members re-anchor at different steps; every bound stays valid."""
    g = torch.Generator().manual_seed(5)
    shapes, weights = [(6, 5), (3, 6)], [slice(0, 30), slice(30, 48)]
    together = [CarriedSpectralBounds(weights, shapes) for _ in range(3)]
    alone = [CarriedSpectralBounds(weights, shapes) for _ in range(3)]
    flats = torch.randn(3, 48, generator=g, dtype=torch.float64)
    scales = torch.tensor([[0.002], [0.02], [0.05]], dtype=torch.float64)  # members drifting at different speeds
    for _ in range(60):
        joint = CarriedSpectralBounds.together(together, flats)
        single = torch.cat([c.bounds(flats[e:e + 1]) for e, c in enumerate(alone)])
        assert torch.allclose(joint, single, rtol=1e-12)
        for l, (part, shape) in enumerate(zip(weights, shapes)):
            assert bool((joint[:, l] >= torch.linalg.matrix_norm(flats[:, part].reshape(3, *shape), 2)).all())
        flats = flats + scales * torch.randn(flats.shape, generator=g, dtype=torch.float64)


def test_carried_bounds_restart_when_the_ensemble_changes_size():
    shapes = [(4, 3)]
    carried = CarriedSpectralBounds([slice(0, 12)], shapes)
    carried.bounds(torch.randn(3, 12))
    two = torch.randn(2, 12)
    assert carried.bounds(two).shape == (2, 1)
    assert bool((carried.bounds(two)[:, 0] >= torch.linalg.matrix_norm(two.reshape(2, 4, 3).double(), 2)).all())


@pytest.mark.parametrize("spec", [small_mlp_spec(), LINEAR_3_2], ids=["mlp", "linear"])
def test_layer_groups_record_a_bound_per_layer(spec):
    groups = LayerGroups(spec.layout)
    flats = torch.randn(2, spec.n_parameters, generator=torch.Generator().manual_seed(4))
    values = groups.norms(flats)
    columns = groups.columns(values[0].tolist())
    for slot in spec.layout:
        W = flats[0, slot.weight].reshape(slot.shape).double()
        assert columns[f"spectral_bound.{slot.name}"] >= float(torch.linalg.matrix_norm(W, 2))
        assert columns[f"spectral_bound.{slot.name}"] <= columns[f"frobenius_norm.{slot.name}"] * 1.0001
