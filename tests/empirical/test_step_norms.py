"""The per-step norms' fast paths against their obvious references: sup-norms by aminmax (above AMINMAX_FROM
entries) against torch's inf norm, and every layer's Frobenius and bias norms by one split against per-slot slices."""
from __future__ import annotations

import pytest
import torch

from bounds.presets import logistic_spec, paper_image_spec
from empirical.step_gradients import AMINMAX_FROM, LayerGroups, sup_norm
from tests.problems import LINEAR_3_2, small_mlp_spec


@pytest.mark.parametrize("size", [5, AMINMAX_FROM - 1, AMINMAX_FROM, 3 * AMINMAX_FROM + 7])
def test_sup_norm_equals_the_inf_norm(size):
    t = torch.randn(3, size, generator=torch.Generator().manual_seed(size))
    t[1] *= -4  # the largest entry negative in one row
    assert torch.equal(sup_norm(t, dim=1), torch.linalg.vector_norm(t, float("inf"), dim=1))
    assert torch.equal(sup_norm(t[0]), torch.linalg.vector_norm(t[0], float("inf")))
    assert float(sup_norm(t[:, :0], dim=1).abs().sum()) == 0 and float(sup_norm(t[0, :0])) == 0


@pytest.mark.parametrize("spec", [small_mlp_spec(), LINEAR_3_2, logistic_spec(), paper_image_spec("cifar100", 8)],
                         ids=["mlp", "linear", "black-box VI", "paper conv"])
def test_layer_norms_equal_the_per_slot_norms(spec):
    groups = LayerGroups(spec.layout)
    flats = torch.randn(2, spec.n_parameters, generator=torch.Generator().manual_seed(0))
    expected = torch.stack([torch.stack([flats[e, part].norm() for slot in spec.layout
                                         for part in (slot.weight, slot.bias)]) for e in range(2)])
    width = expected.shape[1]  # then the spectral bounds (tests/empirical/test_spectral_bounds.py)
    assert torch.allclose(groups.norms(flats)[:, :width], expected, rtol=1e-5)          # an ensemble's rows
    assert torch.allclose(groups.norms(flats[:1])[:, :width], expected[:1], rtol=1e-5)  # one run: the split path
    assert list(groups.columns(expected[0].tolist())) == [f"{kind}.{slot.name}" for slot in spec.layout
                                                          for kind in ("frobenius_norm", "bias_norm")]
