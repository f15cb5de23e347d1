"""Activation constants against the sup of |f|, |f'|, |f''| measured on a dense grid with autograd."""
from __future__ import annotations

import pytest
import sympy as sp
import torch

from bounds.activations import NotSmoothError, constants
from bounds.spec import ActivationSpec
from empirical.activations import apply

SOFTCLIPS = [ActivationSpec("softclip", s, s1, s2) for s in (0.5, 1.0, 2.0, 5.0, 10.0)
             for s1, s2 in ((0.0, 50.0), (-50.0, 50.0), (-20.0, 20.0), (0.0, 1.0), (-1.0, 2.0))]
OTHERS = [ActivationSpec(n) for n in ("tanh", "sigmoid", "silu", "gelu", "elu", "identity")] + \
         [ActivationSpec("softplus", s=s) for s in (0.5, 1.0, 5.0)]


def measure(act: ActivationSpec, slope_curvature: bool = False):
    """sup |f|, |f(0)|, sup |f'|, sup |f''| on a dense grid covering where the activation varies (slope_curvature:
    and sup |f' f''|)."""
    lo, hi = (act.s1 - 40 / act.s - 5, act.s2 + 40 / act.s + 5) if act.name == "softclip" else (-40.0, 40.0)
    x = torch.linspace(lo, hi, 400_001, dtype=torch.float64, requires_grad=True)
    kw = dict(s=act.s, s1=act.s1, s2=act.s2, alpha=act.alpha)
    f = apply(act.name, x, **kw)
    (d1,) = torch.autograd.grad(f.sum(), x, create_graph=True)
    d2 = torch.autograd.grad(d1.sum(), x)[0] if d1.requires_grad else torch.zeros_like(x)
    at_zero = float(apply(act.name, torch.zeros(1, dtype=torch.float64), **kw).abs())
    sups = float(f.detach().abs().max()), at_zero, float(d1.detach().abs().max()), float(d2.detach().abs().max())
    return (*sups, float((d1.detach() * d2).abs().max())) if slope_curvature else sups


@pytest.mark.parametrize("act", SOFTCLIPS + OTHERS, ids=lambda a: f"{a.name}-{a.s}-{a.s1}-{a.s2}")
def test_constants_bound_the_measured_sup(act, tightness):
    k = constants(act, symbolic=False)
    sup_f, f0, sup_d1, sup_d2 = measure(act)
    lip, smooth = float(k.lipschitz), float(k.smoothness)
    assert sup_d1 <= lip * (1 + 1e-9), f"Lipschitz constant {lip} < measured {sup_d1}"
    assert sup_d2 <= smooth * (1 + 1e-9) + 1e-12, f"smoothness constant {smooth} < measured {sup_d2}"
    if k.bounded:
        assert sup_f <= float(k.value_bound) * (1 + 1e-12)
    assert f0 == pytest.approx(float(k.at_zero), rel=1e-9, abs=1e-9)
    tightness.record(f"activation lipschitz ({act.name})", sup_d1, lip)
    tightness.record(f"activation smoothness ({act.name})", sup_d2, smooth)
    # Tightness, the stated factor: the Lipschitz constants are exact (within the grid's resolution);
    # the smoothness constants are exact except soft-clipping's s/4, which is within 1% once
    # s (s2 - s1) >= 8 (the paper's settings have s (s2 - s1) >= 50).
    assert lip <= 1.001 * sup_d1
    if act.name != "softclip" or act.s * (act.s2 - act.s1) >= 8:
        assert smooth <= 1.01 * sup_d2 + 1e-12


def test_softclip_constants_stay_symbolic():
    k = constants(ActivationSpec("softclip"))
    assert {x.name for x in k.lipschitz.free_symbols} == {"s", "s1", "s2"}
    assert sp.simplify(k.smoothness - sp.Symbol("s", positive=True, real=True) / 4) == 0


@pytest.mark.parametrize("name", ["relu", "leaky_relu"])
def test_non_smooth_activations_need_explicit_consent(name):
    with pytest.raises(NotSmoothError, match="not smooth"):
        constants(ActivationSpec(name))
    assert constants(ActivationSpec(name), allow_outside_theory=True).status == "outside-theory"


def test_elu_with_alpha_not_one_is_not_smooth():
    with pytest.raises(NotSmoothError):
        constants(ActivationSpec("elu", alpha=2.0))


@pytest.mark.parametrize("act", SOFTCLIPS + OTHERS, ids=lambda a: f"{a.name}-{a.s}-{a.s1}-{a.s2}")
def test_slope_curvature_bounds_the_measured_sup(act, tightness):
    """sup |f' f''| (the networks' joint second-derivative form, docs/derivations.md, "Activations"): valid, and exact
    for tanh and sigmoid and for a soft-clip whose 4s/27 binds once s (s2 - s1) is large."""
    k = constants(act, symbolic=False)
    *_, sup_joint = measure(act, slope_curvature=True)
    bound = float(k.slope_curvature)
    assert sup_joint <= bound * (1 + 1e-9) + 1e-12, f"slope-curvature constant {bound} < measured {sup_joint}"
    assert bound <= float(k.lipschitz * k.smoothness) * (1 + 1e-12)
    tightness.record(f"activation slope-curvature ({act.name})", sup_joint, bound)
    if act.name in ("tanh", "sigmoid") or (act.name == "softclip" and act.s * (act.s2 - act.s1) >= 20):
        assert bound <= 1.01 * sup_joint


@pytest.mark.parametrize("s, s1, s2", [(5.0, -6.0, 2.0), (1.0, -2.0, 1.0), (2.0, -20.0, 20.0), (0.6, -1.0, 0.5),
                                       (10.0, -3.0, 3.0), (5.0, 0.0, 1.0)])
def test_scale_slope_bounds_the_log_variance_heads_sigma_times_slope(s, s1, s2, tightness):
    """sup_x exp(f(x)/2) f'(x) for a soft-clipped log-variance head (the standard deviation times the head's slope,
    `softclip_scale_slope`): valid on a dense grid, and within a recorded factor of it."""
    from bounds.activations import softclip_scale_slope
    x = torch.linspace(s1 - 40 / s - 5, s2 + 40 / s + 5, 400_001, dtype=torch.float64, requires_grad=True)
    f = apply("softclip", x, s=s, s1=s1, s2=s2)
    (slope,) = torch.autograd.grad(f.sum(), x)
    measured = float((torch.exp(f.detach() / 2) * slope).max())
    bound = float(softclip_scale_slope(sp.Float(s), sp.Float(s2)))
    assert measured <= bound * (1 + 1e-9)
    tightness.record("log-variance head's sigma x slope", measured, bound)


def test_scale_slope_is_infinite_where_the_supremum_is():
    """For s <= 1/2, exp(f/2) f' has no finite supremum bound of this form: the bound says so (infinite)."""
    from bounds.activations import softclip_scale_slope
    assert softclip_scale_slope(sp.Float(0.5), sp.Float(1.0)) == sp.oo
