"""Every validation rule of the spec: a clear error naming the field and the allowed range."""
from __future__ import annotations

import math

import pytest

from bounds.spec import (ActivationSpec, ModelSpec, ObjectiveSpec, OptimizerSpec, ParameterBound, SpecError,
                         VAESpec, default_spec)
from bounds.presets import paper_image_spec

CASES = [
    (lambda: VAESpec(B=0), "B=0", ">= 1"),
    (lambda: VAESpec(B=-3), "B=-3", ">= 1"),
    (lambda: VAESpec(n=0), "n=0", ">= 1"),
    (lambda: ObjectiveSpec("iwae", K=0), "K=0", ">= 1"),
    (lambda: ObjectiveSpec("beta", beta=-0.1), "beta=-0.1", ">= 0"),
    (lambda: ObjectiveSpec("beta", beta=math.nan), "beta=nan", "finite"),
    (lambda: ActivationSpec("softclip", s=0.0), "s=0.0", "> 0"),
    (lambda: ActivationSpec("softclip", s1=2.0, s2=1.0), "s1=2.0", "< s2"),
    (lambda: ActivationSpec("softclip", s1=1.0, s2=1.0), "s1=1.0", "< s2"),
    (lambda: OptimizerSpec("adam", beta1=0.99, beta2=0.9), "beta1=0.99", "sqrt(beta2)"),
    (lambda: OptimizerSpec("adam", beta2=1.0), "beta2=1.0", "(0, 1)"),
    (lambda: OptimizerSpec(C_gamma=math.inf), "C_gamma=inf", "finite"),
    (lambda: ModelSpec(decoder_std=0.0), "decoder_std=0.0", "> 0"),
    (lambda: ModelSpec(logvar_min=1.0, logvar_max=0.0), "logvar_min=1.0", "< logvar_max"),
    (lambda: ModelSpec(data_dim=0), "data_dim=0", ">= 1"),
    (lambda: ModelSpec(kind="vq"), "model='vq'", "one of"),
    (lambda: ParameterBound(a=-1.0), "a=-1.0", "> 0"),
    (lambda: VAESpec(weight_bound=ParameterBound("spectral", layer_norms=(1.0,), bias_norms=(1.0,))),
     "layer_norms", "one bound per layer"),
    (lambda: VAESpec(estimator="reinforce"), "estimator='reinforce'", "one of"),
]


@pytest.mark.parametrize("make,field,allowed", CASES, ids=[c[1] for c in CASES])
def test_bad_values_name_the_field_and_the_range(make, field, allowed):
    with pytest.raises(SpecError) as err:
        make()
    assert field in str(err.value) and allowed in str(err.value)


@pytest.mark.parametrize("spec", [default_spec(), paper_image_spec("cifar100")], ids=["default", "conv"])
def test_spec_round_trips(spec):
    spec.layout  # a cached layout must not leak into the record or the comparison
    assert VAESpec.from_dict(spec.to_dict()) == spec and "layout" not in spec.to_dict()


@pytest.mark.parametrize("make,field,allowed", [
    (lambda: ObjectiveSpec("iwae", beta=0.5, K=3), "beta=0.5", "does not read beta"),
    (lambda: ObjectiveSpec("elbo", alpha=0.5), "alpha=0.5", "does not read alpha"),
    (lambda: VAESpec(objective=ObjectiveSpec("iwae", K=3), estimator="score"), "estimator='score'", "pathwise"),
    (lambda: VAESpec(objective=ObjectiveSpec("vr_iwae", K=3, alpha=0.5), estimator="score"), "estimator='score'",
     "pathwise"),
])
def test_a_setting_training_would_ignore_is_refused_on_both_sides(make, field, allowed):
    """One table (bounds.support) of what trains and what is bounded: a bound is never derived for a setting the
    trainer ignores (iwae with beta = 0.5 once got a beta = 0.5 bound)."""
    with pytest.raises(SpecError) as err:
        make()
    assert field in str(err.value) and allowed in str(err.value)


def test_every_trained_pair_is_bounded_or_declared_not_derived():
    from bounds import NotDerivedError, derive as D
    from bounds.support import BOUNDED, TRAINED
    for objective, estimator in sorted(TRAINED):
        obj = ObjectiveSpec(objective, K=2, alpha=0.5 if objective == "vr_iwae" else 0.0)
        spec = VAESpec(objective=obj, estimator=estimator)
        if (objective, estimator) in BOUNDED:
            assert D.smoothness(spec).evaluate(D.spec_values(spec)) > 0
        else:
            with pytest.raises(NotDerivedError):
                D.smoothness(spec)
