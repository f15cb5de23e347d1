"""Tightness and soundness: a measurement above the bound is caught; conditions are named; the slack adds up."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from bounds import derive as D
from bounds.spec import OptimizerSpec
from compare.tightness import assess
from empirical import TrainConfig
from tests.compare.fakes import INSIDE, fake_run, theory_spec, with_running_average


@pytest.fixture(scope="module")
def spec():
    return theory_spec()


def bound_curve(spec):
    values = D.spec_values(spec)
    return lambda k: np.asarray(D.convergence(spec).evaluate({**values, "n": k.astype(float)}))


def test_a_run_inside_the_conditions_with_a_small_measurement_is_sound(spec):
    a = assess(fake_run(spec, lambda k: np.full(len(k), 0.3)))
    assert a.applicable and not [c.name for c in a.conditions if not c.holds]
    assert a.sound is True and a.tightness_ratio > 1


def test_a_measurement_above_the_bound_is_unsound(spec):
    """Ratio below 1 at some n: sound is False and the violating steps are listed."""
    above = bound_curve(spec)
    a = assess(fake_run(spec, lambda k: 3 * above(k)))
    assert a.applicable
    assert a.tightness_ratio < 1 and a.sound is False
    assert len(a.violations) > 0 and (a.violations["measured"] > a.violations["bound"]).all()
    s = a.summary()
    assert s["sound"] is False and s["tightness_ratio"] < 1


def test_a_measurement_just_below_the_bound_is_sound_and_just_above_is_not(spec):
    curve = bound_curve(spec)
    below = assess(fake_run(spec, with_running_average(lambda n: 0.99 * curve(n))))
    assert below.sound is True and below.tightness_ratio == pytest.approx(1 / 0.99, rel=1e-6)
    above = assess(fake_run(spec, with_running_average(lambda n: 1.01 * curve(n))))
    assert above.sound is False and above.tightness_ratio == pytest.approx(1 / 1.01, rel=1e-6)


def test_a_constant_measured_above_its_derived_value_is_unsound(spec):
    values = D.spec_values(spec)
    sigma2 = float(D.variance(spec).evaluate(values))
    a = assess(fake_run(spec, lambda k: np.full(len(k), 0.3), variance=2 * sigma2))
    assert a.sound is False and any(not c.holds and c.name == "sigma2" for c in a.constant_checks)


@pytest.mark.parametrize("change, broken", [
    (dict(batches="epochs"), "independent mini-batches"),
    (dict(schedule="per_epoch"), "step sizes C_gamma k^{-1/2}"),
    (dict(project=False), "parameters in the compact set"),
    (dict(K_alpha=0.5), "fixed K"),
])
def test_a_broken_condition_makes_the_bound_not_applicable_and_is_named(spec, change, broken):
    norm = 0.5 if "project" in change else 0.05  # unprojected and outside the set (a = 0.1)
    a = assess(fake_run(spec, lambda k: np.full(len(k), 0.3), dataclasses.replace(INSIDE, **change), norm=norm))
    names = [c.name for c in a.conditions if not c.holds]
    assert names == [broken]
    assert a.sound is None and a.tightness_ratio is None and a.summary()["broken_conditions"] == [broken]
    assert math.isfinite(a.posterior_ratio)


def test_step_size_above_one_over_L_breaks_the_theorem(spec):
    d = spec.to_dict()
    d["optimizer"]["C_gamma"] = spec.optimizer.C_gamma * 2.5
    from bounds.spec import VAESpec
    a = assess(fake_run(VAESpec.from_dict(d), lambda k: np.full(len(k), 0.3)))
    assert [c.name for c in a.conditions if not c.holds] == ["C_gamma * L <= 1"]


def test_an_observed_objective_gap_above_L_star_breaks_the_theorem(spec):
    a = assess(fake_run(spec, lambda k: np.full(len(k), 0.3), gap=2 * D.spec_values(spec)["L_star"]))
    assert [c.name for c in a.conditions if not c.holds] == ["objective gap"]


def test_slack_shares_add_up_to_the_whole_gap(spec):
    a = assess(fake_run(spec, lambda k: np.full(len(k), 0.3), hessian=5.0, variance=2.0, norm=0.05, gap=1.0))
    n, measured, _ = a.average.final()
    total = math.log10(a.bound_curve[-1] / measured)
    assert a.slack["log10 factor"].sum() == pytest.approx(total, rel=1e-9)
    assert a.slack["share of gap %"].sum() == pytest.approx(100, rel=1e-9)
    # With every constant measured, the a-posteriori bound is the theorem at the measured constants, times the
    # steps' weights as the run's gradients meet them (below 1: each step's gamma is at least the last one's).
    from compare.measures import run_sums
    weights = run_sums(a.run, a.average.n)["W_steps"][-1]
    assert 0 < weights < 1
    form = D.theorem(spec)
    values = D.spec_values(spec)
    expected = weights * form.evaluate({**values, "L": 5.0, "sigma2": 2.0, "L_star": 1.0, "n": n})
    assert a.posterior_curve[-1] == pytest.approx(expected, rel=1e-12)
    assert set(a.slack["factor"]) == {"a", "L", "sigma2", "L_star", "W_steps", "theorem form"}


def test_an_untied_step_makes_the_last_slack_row_the_a_posteriori_ratio():
    """C_gamma far above 1/L_derived (the cap broken): the measured L enters as it is, in both places."""
    a = assess(fake_run(theory_spec(C_gamma=1.0), lambda k: np.full(len(k), 0.3), hessian=5.0, variance=2.0))
    theorem_row = a.slack.set_index("factor").loc["theorem form", "log10 factor"]
    assert theorem_row == pytest.approx(math.log10(a.summary()["a_posteriori_ratio"]), rel=1e-9)


def test_the_theorem_form_at_the_derived_constants_is_the_derived_bound(spec):
    values = D.spec_values(spec)
    L = float(D.smoothness(spec).evaluate(values))
    sigma2 = float(D.variance(spec).evaluate(values))
    for n in (1, 100, 10_000):
        assert D.theorem(spec).evaluate({**values, "L": L, "sigma2": sigma2, "n": n}) == pytest.approx(
            D.convergence(spec).evaluate({**values, "n": n}), rel=1e-12)


def test_the_running_average_without_per_step_estimates_interpolates_the_probes(spec):
    run = fake_run(spec, lambda k: 1.0 + 0 * k)
    run = dataclasses.replace(run, trace=run.trace.drop(columns=["grad_norm_sq_unbiased"]))
    a = assess(run)
    assert a.average.source == "interpolated probes" and a.average.value[-1] == pytest.approx(1.0)
    assert any("interpolates" in note for note in a.notes)


def test_a_real_run_inside_the_conditions_is_sound(tmp_path):
    """Train the tiny VAE exactly as the theorem analyses it; the derived bound must hold at every step."""
    from empirical import synthetic_linear_gaussian, train
    spec = theory_spec(n=60)
    data = synthetic_linear_gaussian(6, 2, 200, data_bound=spec.model.data_bound, seed=1)
    config = TrainConfig(batches="independent", project=True, probes=4, full_grad_replicates=3, variance_draws=3,
                         hessian_points=32, eval_points=64)
    run = train(spec, config, data)
    a = assess(run)
    assert a.applicable, [c for c in a.conditions if not c.holds]
    # The projection acted (PyTorch's initialisation lies outside a = 0.1): the projected theorem judges the run.
    assert run.trace["projection_distance"].max() > 0 and a.form.name == D.PROJECTED_NAME
    assert a.sound is True and a.average.source.startswith("gradient mapping")


@pytest.mark.parametrize("optimizer,form", [("adam", "theory"), ("adagrad", "theory"), ("adam", "torch")])
def test_an_adaptive_run_puts_its_own_sums_in_the_a_posteriori_bound(optimizer, form, tightness):
    """The trainer records X_k at every step; the run's weighted sums stay below their lemma bound at the measured
    M_inf at every n (the lemmas hold path by path), and compare's a-posteriori bound uses them: below the same bound
    with the lemma's sums, and they appear in the slack."""
    from compare.measures import run_sums
    from empirical import synthetic_linear_gaussian, train
    spec = dataclasses.replace(theory_spec(n=60), optimizer=OptimizerSpec(optimizer, C_gamma=1e-3, beta1=0.9))
    data = synthetic_linear_gaussian(6, 2, 200, data_bound=spec.model.data_bound, seed=1)
    run = train(spec, TrainConfig(batches="independent", form=form, probes=3), data)
    a = assess(run)
    n = a.average.n
    sums = run_sums(run, n)
    derived = D.derive_for_run(spec, form=form)
    assert a.form.reference == derived.theorem.reference  # torch's Adam is held to its own form of the theorem
    assert next(c for c in a.conditions if c.name == "the analysed update").holds
    at_measured = {**derived.values, "M_inf": a.measured["M_inf"], "n": n.astype(float)}
    for name, curve in sums.items():
        lemma = np.broadcast_to(np.asarray(derived.sums[name].evaluate(at_measured)), curve.shape)
        assert np.all(curve <= lemma)
        assert name == "R_eff" or np.all(np.diff(curve) >= 0)  # a ratio of two sums need not grow with n
        label = optimizer if form == "theory" else f"torch {optimizer}"
        tightness.record(f"lemma bound on a VAE run's {label} {name}", float(curve[-1]), float(lemma[-1]))
    # the per-coordinate sum is recorded, and each coordinate's own largest |ghat_k,i| is below the run's M_inf
    assert run.trace["adaptive_coordinate_sum"].notna().sum() >= len(run.trace) - 1
    # <g, P g'> at every row, and R_eff below the largest inverse entry's curve
    assert run.trace["grad_precond_sq_estimate"].notna().all()
    from compare.measures import preconditioner_top_curve
    top = preconditioner_top_curve(run.trace["precond_min"].to_numpy(float), a.measured["M_inf"], spec.optimizer.delta,
                                   form)[n]
    assert np.all(sums["R_eff"] <= top) and sums["R_eff"][-1] < top[-1]
    assert sums["X_gamma_M"][-1] < a.measured["M_inf"] * sums["X_gamma"][-1]
    lemma_curves = {name: np.asarray(b.evaluate({**derived.values, **a.theory, "n": n.astype(float)}))
                    for name, b in derived.sums.items()}
    from compare.slack import a_posteriori
    with_lemma = a_posteriori(a.form, {**derived.values, **lemma_curves}, a.theory, a.measured, n.astype(float))
    assert np.all(a.posterior_curve <= with_lemma) and a.posterior_curve[-1] < with_lemma[-1] / 2
    rows = a.slack.set_index("factor")
    assert rows.loc["X_gamma_M", "measured"] == pytest.approx(sums["X_gamma_M"][-1])


def test_a_run_certifies_its_own_objective_gap_from_its_start(run_dirs):
    """With no objective_gap in the spec, L_star is the smaller of the spec's certificate (sup - inf over the set)
    and the run's (the objective's ceiling minus L(theta_0) less 3 standard errors); the bound uses it and the
    condition says which. The run's certificate is above the gain the run observed."""
    from compare.objective_gap import run_objective_gap
    from empirical import load_run
    run = load_run(run_dirs / "inside")
    spec = run.spec
    assert spec.objective_gap is None
    gap = run_objective_gap(run, spec)
    assert gap is not None and gap.start_se > 0  # a Monte Carlo start on 64 points: an error bar, not exact
    spec_certified = D.derive_for_run(spec, True).constants["L_star"]
    a = assess(run)
    assert a.theory["L_star"] == pytest.approx(min(gap.value, spec_certified))
    assert gap.value < spec_certified  # on this spec the run's start is the sharper certificate
    condition = next(c for c in a.conditions if c.name == "objective gap")
    assert condition.holds and condition.detail.startswith("certified from the run's start")
    assert a.measured["L_star"] <= gap.value
    # The bound follows: at the same n, the derived bound with the spec's L_star is larger.
    values = {**D.spec_values(spec), "n": float(spec.n)}
    assert a.bound_curve[-1] < float(a.bound.evaluate(values))


def test_a_run_without_a_derived_bound_is_measured_and_says_why(tmp_path):
    """Projected Adam (the projection acted) has no theorem: no bound, but measured, and the report says why."""
    from compare.present import report
    spec = dataclasses.replace(theory_spec(), optimizer=OptimizerSpec("adam", C_gamma=1e-3, beta1=0.5, beta2=0.9))
    a = assess(fake_run(spec, lambda k: np.full(len(k), 0.3), mapping=lambda k: np.full(len(k), 0.3)), "adam")
    s = a.summary()
    assert a.bound is None and s["sound"] is None and "projected SGD" in s["error"]
    assert s["measured"] == pytest.approx(0.3) and s["fitted_slope"] is not None
    text = report.build([a])
    assert "no bound" in text and "projected SGD" in text


def test_a_conv_run_is_compared_with_its_bound():
    """Conv nets have a derived bound (docs/derivations.md, "Convolutions"): a conv run's comparison shows its
    tightness, not "no bound"."""
    from bounds.spec import ModelSpec, VAESpec
    conv = ModelSpec(data_dim=64, latent_dim=3, encoder_widths=(5,), decoder_widths=(6,), architecture="conv",
                     image_shape=(1, 8, 8), conv_channels=(2, 4), data_bound=8.0)
    spec = VAESpec.from_dict({**theory_spec().to_dict(), "model": VAESpec(model=conv).to_dict()["model"]})
    L = float(D.smoothness(spec).evaluate(D.spec_values(spec)))
    spec = dataclasses.replace(spec, optimizer=dataclasses.replace(spec.optimizer, C_gamma=0.49 / L))
    a = assess(fake_run(spec, lambda k: np.full(len(k), 0.3)), "conv")
    s = a.summary()
    assert a.bound is not None and s["error"] is None and s["sound"] is True and s["tightness_ratio"] > 1


def test_a_vr_iwae_run_is_compared_with_its_bound():
    """VR-IWAE has a derived bound (docs/derivations.md, "VR-IWAE"): its run gets a verdict, not "no bound"."""
    from bounds.spec import ObjectiveSpec, VAESpec
    vr = VAESpec.from_dict({**theory_spec().to_dict(), "objective": ObjectiveSpec("vr_iwae", K=2, alpha=0.5).__dict__})
    L = float(D.smoothness(vr).evaluate(D.spec_values(vr)))
    spec = dataclasses.replace(vr, optimizer=dataclasses.replace(vr.optimizer, C_gamma=0.49 / L))
    a = assess(fake_run(spec, lambda k: np.full(len(k), 0.3)), "vr")
    s = a.summary()
    assert a.bound is not None and s["error"] is None and a.bound.status == "extension"
    assert s["sound"] is True and s["tightness_ratio"] > 1


def test_a_diverged_run_is_compared_up_to_its_divergence(spec):
    def per_step(k):
        x = np.full(len(k), 0.3)
        x[150:] = np.nan
        return x
    a = assess(fake_run(spec, per_step))
    assert a.average.n[-1] == 149 and a.sound is True


def test_an_L_star_the_run_cannot_certify_is_not_taken_on_trust(spec):
    """L_star below the certified sup L - L(theta_0) (the objective's upper bound minus its start): the observed gain
    fits under it, but that is only a lower bound on the true gap, so no verdict."""
    small = dataclasses.replace(spec, objective_gap=1.0)
    a = assess(fake_run(small, lambda k: np.full(len(k), 0.3), gap=0.5))
    broken = [c for c in a.conditions if not c.holds]
    assert [c.name for c in broken] == ["objective gap"] and "cannot confirm" in broken[0].detail
    assert a.sound is None


def test_a_derivation_bug_is_an_error_not_no_bound(spec, monkeypatch):
    """Only the declared NotDerivedError reads as "no bound"; any other error inside a derivation propagates."""
    def broken(*args, **kwargs):
        raise ValueError("a bug inside a derivation")
    monkeypatch.setattr(D, "smoothness", broken)
    with pytest.raises(ValueError, match="a bug inside"):
        assess(fake_run(spec, lambda k: np.full(len(k), 0.3)))


def test_a_tied_step_puts_the_cost_of_a_loose_L_on_L(spec):
    """C_gamma = 0.49 / L_derived: replacing L by its measurement also rescales the step it forced, so the theorem
    form's own slack is the theorem at measured constants with the step they allow (not the cost of a small step)."""
    a = assess(fake_run(spec, lambda k: np.full(len(k), 0.3), hessian=1.0))
    table = a.slack.set_index("factor")
    s = a.summary()
    assert table.loc["theorem form", "log10 factor"] < math.log10(s["a_posteriori_ratio"]) - 1
    assert table.loc["L", "log10 factor"] > 1
    total = table["log10 factor"].sum()
    assert total == pytest.approx(math.log10(s["bound"] / s["measured"]), rel=1e-6)


def test_measured_constants_below_the_derived_ones_never_raise_the_bound(spec):
    """A tiny step tied to the derived L and a measured L far below it: the theorem at the measured constants (its
    best L' between the measured and the derived L) is at most the a-priori bound at every n, and the measured L is
    used (a lower curve than the derived constants give)."""
    flat = lambda k: np.full(len(k), 0.3)
    for mapping in (None, flat):  # the unprojected theorem, and the projected one (its form has 1 / (C^3 L^2))
        a = assess(fake_run(spec, flat, hessian=1.0, variance=0.5, gap=0.01, mapping=mapping))
        assert a.theory["L"] > 100 * a.measured["L"]
        assert np.all(a.posterior_curve <= a.bound_curve * (1 + 1e-9)), a.form.name
        assert a.posterior_curve[-1] < 0.5 * a.bound_curve[-1]


def test_linear_vae_parameter_bound_leaves_out_the_log_variances():
    """The linear VAE's log-variances lie in [logvar_min, logvar_max], not [-a, a]: the measured a (and the slack's
    re-derivation at it) counts only the entries bounded by a, and the log-variances get their own condition."""
    from bounds.spec import ModelSpec, OptimizerSpec, ParameterBound, VAESpec
    from empirical import synthetic_linear_gaussian, train
    model = ModelSpec(kind="linear", data_dim=2, latent_dim=1, data_bound=1.0, logvar_min=-6.0, logvar_max=-3.0)
    spec = VAESpec(model=model, weight_bound=ParameterBound(a=0.9), B=8, n=20,
                   optimizer=OptimizerSpec("sgd", C_gamma=1e-3))
    data = synthetic_linear_gaussian(2, 1, 64, data_bound=1.0, seed=0)
    run = train(spec, TrainConfig(batches="independent", probes=3, variance_draws=2, hessian_points=8), data)
    a = assess(run)
    assert a.measured["a"] < 0.9  # counted |v| >= 3 before
    names = {c.name: c.holds for c in a.conditions}
    # v starts at logvar_max = -3 and the unprojected steps push it above: that condition, and only that, breaks
    assert run.trace["logvar_high"].max() > -3.0
    assert names["parameters in the compact set"] and not names["log-variances in [logvar_min, logvar_max]"]


@pytest.mark.parametrize("recorded, holds", [(0.5, True), (None, True), ("above", False)])
def test_adam_checks_its_coordinate_bound_and_its_beta1_condition_once(spec, recorded, holds):
    """An analysed-form Adam run: |H_k,i| <= M_inf is checked on the recorded grad_abs_max (a run recorded before the
    column falls back to the norm, which bounds every coordinate), and beta1 < beta2 is named once (its bound's)."""
    adam = dataclasses.replace(spec, optimizer=OptimizerSpec("adam", C_gamma=1e-3, beta1=0.9, beta2=0.999))
    run = fake_run(adam, lambda k: np.full(len(k), 0.3), dataclasses.replace(INSIDE, form="theory"))
    if recorded is not None:
        M_inf = D.spec_values(adam)["M_inf"]
        run.trace["grad_abs_max"] = 2 * M_inf if recorded == "above" else recorded
    a = assess(run)
    names = [c.name for c in a.conditions]
    assert names.count("beta1 < beta2") == 1 and "|H_k,i| <= M_inf" in names
    assert next(c.holds for c in a.conditions if c.name == "|H_k,i| <= M_inf") is holds
    assert a.applicable is holds


def test_a_step_chosen_from_a_looser_L_is_judged_at_the_best_L_prime():
    """Projected SGD's bound falls as C_gamma L grows to 1/2 (rho(C_gamma L)^2): a run whose step was chosen from a
    10x looser L is judged at the best L' in [L, 1/(2 C_gamma)], never above the theorem at the derived L, and the
    assessment says which L' it used."""
    from compare.slack import best_L
    base = theory_spec()
    L = float(D.smoothness(base).evaluate(D.spec_values(base)))
    spec = theory_spec(C_gamma=0.049 / L)
    a = assess(fake_run(spec, lambda k: np.full(len(k), 0.3), mapping=lambda k: np.full(len(k), 0.3)), "slow")
    values = {**D.spec_values(spec), "L_star": a.theory["L_star"]}
    at = lambda Lp, n: float(a.form.evaluate({**values, **{**a.theory, "L": Lp}, "n": n}))
    n = float(a.average.n[-1])
    assert a.theory["L"] > L and a.theory["L"] == pytest.approx(best_L(a.form, values, {**a.theory, "L": L}, n))
    assert a.bound_curve[-1] < at(L, n) and a.bound_curve[-1] <= at(10 * L, n) * (1 + 1e-9)
    assert a.constant_checks[1].theory == pytest.approx(L)  # the derived L is what measurements are checked against
    assert any("L' =" in note for note in a.notes)


def test_data_outside_the_specs_range_breaks_the_theorem(spec):
    ranged = dataclasses.replace(spec, model=dataclasses.replace(spec.model, data_range=(0.0, 1.0)))
    inside = fake_run(ranged, lambda k: np.full(len(k), 0.3))
    inside.config["data"].update(min_value=0.0, max_value=1.0)
    assert not [c.name for c in assess(inside).conditions if not c.holds]
    outside = fake_run(ranged, lambda k: np.full(len(k), 0.3))
    outside.config["data"].update(min_value=-0.5, max_value=1.0)
    assert [c.name for c in assess(outside).conditions if not c.holds] == ["data range"]
