"""The derived convergence bound: the paper's qualitative claims as property tests, the registry of its symbols,
and the derived object compare reads."""
from __future__ import annotations

import dataclasses

import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from bounds import derive as D
from bounds import symbols as S
from bounds.presets import paper_image_spec
from bounds.registry import BY_NAME
from bounds.spec import ObjectiveSpec, OptimizerSpec, VAESpec, default_spec
from bounds.support import NotDerivedError
from bounds.validate import SpecError

SPEC = VAESpec(objective=ObjectiveSpec("beta", 1.0, 1))
BOUND = D.convergence(SPEC)
VARIANCE = D.variance(SPEC)
VALUES = D.spec_values(SPEC)


@settings(max_examples=40, deadline=None)
@given(B=st.integers(1, 10_000), K=st.integers(1, 1_000), beta=st.floats(0.0, 10.0), n=st.integers(1, 10**8))
def test_bound_decreases_in_B_and_K_and_increases_in_beta(B, K, beta, n):
    """Strictly in B and beta; in K strictly where sigma^2's noise bound exceeds its data bound (K averages the draws'
    noise, not the data's spread; where the data bound is the larger, the noise bound caps both and K drops out)."""
    at = lambda **kw: BOUND.evaluate({**VALUES, "B": B, "K": K, "beta": beta, "n": n, **kw})
    base = at()
    assert at(B=B + 1) < base
    terms = VARIANCE.evaluate_terms({**VALUES, "B": B, "K": 2, "beta": beta})
    assert at(K=K + 1) < base if terms["noise"] > terms["data"] * (1 + 1e-9) else at(K=K + 1) == pytest.approx(base)
    assert at(beta=beta + 0.5) > base


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad"])
def test_rate_is_log_n_over_sqrt_n(optimizer):
    """bound * sqrt(n) / log(n) tends to a finite positive limit (sympy limit)."""
    spec = dataclasses.replace(SPEC, optimizer=OptimizerSpec(optimizer))
    bound = D.convergence(spec)
    values = D.spec_values(spec)
    expr = bound.expr.xreplace({sym: sp.Float(values[sym.name], 30) for sym in bound.symbols if sym != S.n})
    limit = sp.limit(expr * sp.sqrt(S.n) / sp.log(S.n), S.n, sp.oo)
    assert limit.is_finite and limit > 0


def test_rmsprop_has_a_floor_that_does_not_vanish():
    """RMSProp with the current gradient in its preconditioner: our derivation leaves an O(1) term."""
    spec = dataclasses.replace(SPEC, optimizer=OptimizerSpec("rmsprop"))
    bound = D.convergence(spec)
    values = D.spec_values(spec)
    term = bound.terms["preconditioner dependence"].xreplace(
        {sym: sp.Float(values[sym.name], 30) for sym in bound.symbols if sym != S.n})
    assert 0 < sp.limit(term, S.n, sp.oo) < sp.oo


def test_bound_terms_sum_to_value_and_evaluate_vectorised():
    import numpy as np
    Bs = np.array([1, 10, 100, 1000])
    vals = BOUND.evaluate({**VALUES, "B": Bs})
    terms = BOUND.evaluate_terms({**VALUES, "B": Bs})
    assert vals.shape == (4,) and np.allclose(vals, sum(terms.values()))
    assert np.allclose(vals, [BOUND.evaluate({**VALUES, "B": int(b)}) for b in Bs])
    # The lambdified fast path against sympy's own point-by-point evaluation.
    slow = float(BOUND.expr.xreplace({s: sp.Float(VALUES[s.name], 30) for s in BOUND.symbols}).evalf())
    assert BOUND.evaluate(VALUES) == pytest.approx(slow, rel=1e-10)


def test_a_grid_larger_than_one_chunk_evaluates_as_sympy_does():
    """Above `CHUNK` settings the evaluation runs chunk by chunk (integer and float columns, a broadcast grid):
    every setting equals sympy's own value to 1e-9, and bad values are still refused."""
    import numpy as np
    from bounds.bound import CHUNK
    from bounds.validate import SpecError
    rng = np.random.default_rng(0)
    size = 2 * CHUNK + 17
    grid = {**VALUES, "B": rng.integers(1, 1024, size), "K": rng.integers(1, 100, size),
            "beta": rng.uniform(0, 4, size), "n": rng.integers(1, 10**7, (size,)).astype(float)}
    out = BOUND.evaluate(grid)
    assert out.shape == (size,)
    for i in (0, CHUNK - 1, CHUNK, CHUNK + 1, size - 1):
        point = {**VALUES, **{k: grid[k][i] for k in ("B", "K", "beta", "n")}}
        slow = float(BOUND.expr.xreplace({s: sp.Float(point[s.name], 30) for s in BOUND.symbols}).evalf())
        assert out[i] == pytest.approx(slow, rel=1e-9)
    mesh = BOUND.evaluate({**VALUES, "B": np.arange(1, 301)[:, None], "K": np.arange(1, 301)[None, :]})
    assert mesh.shape == (300, 300) and mesh[4, 6] == pytest.approx(BOUND.evaluate({**VALUES, "B": 5, "K": 7}))
    for bad, match in ((-1, "B=-1"), (2.5, "whole number"), (np.nan, "finite")):
        B = np.ones(size)
        B[CHUNK + 3] = bad
        with pytest.raises(SpecError, match=match):
            BOUND.evaluate({**grid, "B": B})


def test_the_shared_node_symbol_search_finds_what_sympy_finds():
    """`Bound.symbols` visits each shared subexpression once; sympy's free_symbols (the slow, obvious reference)
    walks the whole tree. The same set on every bound of specs with an IWAE Min, an adaptive M, a score-function L_S
    and the conditions' relations."""
    from bounds.bound import _symbols_in
    specs = (default_spec(), VAESpec(optimizer=OptimizerSpec("adam")), VAESpec(estimator="score"),
             VAESpec(objective=ObjectiveSpec("iwae", 1.0, 3)))
    for spec in specs:
        for bound in D.derive_all(spec).values():
            exprs = tuple(bound.terms.values()) + tuple(bound.conditions.values())
            assert _symbols_in(exprs) == set().union(*(e.free_symbols for e in exprs)), bound.name


def test_missing_symbol_names_the_symbol():
    with pytest.raises(ValueError, match="missing value for 'B'"):
        BOUND.evaluate({k: v for k, v in VALUES.items() if k != "B"})


# ---- one name per quantity, one derived object per run ------------------------------------------------------

def test_every_symbol_of_every_bound_has_a_registry_entry():
    for spec in (default_spec(), VAESpec(optimizer=OptimizerSpec("adam")), VAESpec(estimator="score")):
        for bound in D.derive_all(spec).values():
            names = {s.name for s in bound.symbols}
            assert names <= set(BY_NAME), names - set(BY_NAME)


def test_derived_object_carries_the_theorem_that_covers_the_run():
    spec = default_spec()
    plain, projected = D.derive_for_run(spec), D.derive_for_run(spec, projected=True)
    assert plain.theorem.reference.endswith("#sgd") and projected.theorem.reference.endswith("#projected-sgd")
    assert set(plain.sums) == {"W_steps"} and projected.sums == {}  # SGD's steps' weights, at most 1 a priori
    assert plain.convergence.evaluate(plain.values) == pytest.approx(
        plain.theorem.evaluate({**plain.values, **plain.constants, "W_steps": 1.0}))
    conv = D.derive_for_run(paper_image_spec("cifar100"))  # the paper's conv net has its theorem too
    assert conv.theorem.reference.endswith("#adam-and-rmsprop") and conv.constants["L"] > 0
    with pytest.raises(NotDerivedError, match="only projected SGD"):
        D.derive_for_run(VAESpec(optimizer=OptimizerSpec("adam")), projected=True)


def test_an_unknown_update_form_is_refused_by_name():
    from bounds.spec import OptimizerSpec
    spec = VAESpec(optimizer=OptimizerSpec("adam"))
    for call in (lambda: D.theorem(spec, form="pytorch"), lambda: D.lemma_sums(spec, "pytorch")):
        with pytest.raises(SpecError, match="form='pytorch'"):
            call()
