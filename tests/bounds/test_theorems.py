"""The convergence theorems against simulated optimisation runs on a problem whose constants are known exactly.

V(theta) = a sum_i (1 - cos theta_i) is a-smooth with ||grad V|| <= a sqrt(d) and V* = 0; the estimator
H = grad V + xi adds noise uniform on the sphere of radius rho (mean zero, variance rho^2, ||H|| <= a sqrt(d) + rho).
Each optimiser runs exactly as its theorem states it (step C_gamma k^{-1/2}; Adam without bias correction, or, in
the form "torch", torch.optim's bias-corrected Adam and RMSProp with eps outside the square root), over many seeds,
and the measured (1/(n+1)) sum_k E||grad V(theta_k)||^2 must stay below the bound.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from bounds import symbols as S
from bounds import theorems as T

D, A, RHO, N_STEPS, SEEDS = 4, 1.0, 1.0, 300, 300
M = A * np.sqrt(D)   # ||grad V|| <= M
M_INF = A + RHO      # |H_i| <= |grad_i V| + |xi_i| <= A + RHO on every coordinate


def simulate(optimizer: str, C: float, beta1: float, beta2: float, delta: float, sums: bool = False,
             form: str = "theory"):
    """The measured (1/(n+1)) sum_k E||grad V(theta_k)||^2 (mean over seeds); with `sums`, also each seed's adaptive
    sums (X_gamma, X_gamma2, X_gamma_M and, for Adam and RMSProp, U_gamma) with the theorem's weights
    (docs/derivations.md, "The adaptive bounds a posteriori"; torch's form: "Torch's Adam and RMSProp")."""
    rng = np.random.default_rng(0)
    theta = np.full((SEEDS, D), np.pi / 2)
    m, v, second, per_coordinate, largest = (np.zeros_like(theta) for _ in range(5))
    total, X1, X2, top = np.zeros(SEEDS), np.zeros(SEEDS), np.zeros(SEEDS), np.zeros(SEEDS)
    trail = {"X": [], "weight": [], "length": []}  # per step, for U_gamma
    squares, preconditioned, bar = [], [], None  # E||g_k||^2, E g_k^T Dbar_k g_k (means over seeds), Dbar_k
    for k in range(N_STEPS + 1):
        g = A * np.sin(theta)
        total += (g**2).sum(1)
        squares.append(float((g**2).sum(1).mean()))
        xi = rng.standard_normal(theta.shape)
        H = g + RHO * xi / np.linalg.norm(xi, axis=1, keepdims=True)
        gamma = C / np.sqrt(k + 1)
        if optimizer == "sgd":
            step = H
        elif optimizer == "adagrad":
            second += H**2
            divisor = np.sqrt(delta + second / (k + 1))
            step = H / divisor
            Xi = H**2 / ((k + 1) * delta + second)
            weight = C
        elif form == "torch":  # torch.optim: Adam bias-corrected, RMSProp not; eps outside the square root
            m = beta1 * m + (1 - beta1) * H
            v = beta2 * v + (1 - beta2) * H**2
            corrected = optimizer == "adam"
            c1, c2 = (1 - beta1 ** (k + 1), 1 - beta2 ** (k + 1)) if corrected else (1.0, 1.0)
            divisor = np.sqrt(v / c2) + delta
            step = (m / c1) / divisor
            Xi = H**2 / (np.sqrt(v) + delta * np.sqrt(c2)) ** 2
            weight = gamma * np.sqrt(c2) / c1  # the effective step gamma'_{k+1}
        else:  # rmsprop, adam (rmsprop is adam with beta1 = 0)
            m = beta1 * m + (1 - beta1) * H
            v = beta2 * v + (1 - beta2) * H**2
            divisor = np.sqrt(delta + v)
            step = m / divisor
            Xi = H**2 / (delta + v)
            weight = gamma
        if optimizer != "sgd":
            X1, X2 = X1 + weight * Xi.sum(1), X2 + weight**2 * Xi.sum(1)
            per_coordinate += weight * Xi
            vhat = second / (k + 1) if optimizer == "adagrad" else v / (1 - beta2 ** (k + 1))
            largest = np.maximum(largest, np.sqrt(vhat))  # each coordinate's largest root second moment
            top = np.maximum(top, divisor.max(1))  # R_top: the preconditioner's largest inverse entry so far
            # the main part's sum_i g_i^2 P_i, P the smaller of the previous step's preconditioner and the step's
            # own (the trainer's stand-in, `FlatOptimizer.main_part_preconditioner`)
            own = 1 / divisor
            preconditioned.append(float((g**2 * (own if bar is None else np.minimum(own, bar))).sum(1).mean()))
            bar = own
            trail["X"].append(Xi.sum(1))
            trail["weight"].append(weight)
            trail["length"].append(gamma * np.linalg.norm(step, axis=1))
        theta = theta - gamma * step
    average = float(total.mean() / (N_STEPS + 1))
    XM = (largest * per_coordinate).sum(1)  # X_gamma_M: each coordinate's sum times its M_i
    if not sums:
        return average
    if optimizer == "sgd":  # W_steps: R_eff's ratio with the preconditioner the identity and no momentum
        return average, {"W_steps": np.full(SEEDS, effective_inverse(np.array(squares), np.array(squares), 0.0))}
    effective = effective_inverse(np.array(squares), np.array(preconditioned), beta1 if optimizer == "adam" else 0.0)
    run_sums = {"X_gamma": X1, "X_gamma2": X2, "X_gamma_M": XM, "R_eff": np.full(SEEDS, effective), "R_top": top}
    if optimizer != "adagrad":
        run_sums["U_gamma"] = steps_curvature(trail, beta1, beta2)
    return average, run_sums


def effective_inverse(squares: np.ndarray, preconditioned: np.ndarray, beta1: float) -> float:
    """R_eff, a ratio of expectations: gamma_{n+1} sum_j c_j E||g_j||^2 / sum_j w_j E[g_j^T P_j g_j] with
    c_j = 1 - beta1^{n-j+1} and the main part's weights w_j = sum_{k=j}^n gamma_{k+1} (1 - beta1) beta1^{k-j}
    (docs/derivations.md, "The preconditioned gradient"; C_gamma cancels)."""
    n, gamma = len(squares) - 1, (np.arange(len(squares)) + 1.0) ** -0.5
    c = 1 - beta1 ** (n + 1 - np.arange(n + 1))
    w = np.array([(gamma[j:] * (1 - beta1) * beta1 ** np.arange(n + 1 - j)).sum() if beta1 else gamma[j]
                  for j in range(n + 1)])
    return float(gamma[n] * (c * squares).sum() / (w * preconditioned).sum())


def _sums(run_sums: dict) -> dict:
    """The theorem's sums (means over the seeds) by name; R_top, the bound R_eff is under, is not one of them."""
    return {name: sp.Float(x.mean()) for name, x in run_sums.items() if name != "R_top"}


def steps_curvature(trail: dict, beta1: float, beta2: float) -> np.ndarray:
    """U_gamma of each seed, by its double sum: sum_k d_k^2 + 2 sum_k w_k sum_{j<k} (1 - beta1) beta1^{k-j}
    beta2^{-(k-j)/2} sqrt(X_j) sum_{l=j}^{k-1} d_l (d_k the step's length, w_k X_k's weight)."""
    X, d = np.array(trail["X"]), np.array(trail["length"])
    w = np.broadcast_to(np.array(trail["weight"], dtype=float)[:, None], X.shape)
    reach = np.vstack([np.zeros((1, X.shape[1])), np.cumsum(d, 0)])  # reach[k] = sum_{l<k} d_l
    total = (d**2).sum(0)
    for k in range(1, len(X)):
        j = np.arange(k)
        factor = (1 - beta1) * (beta1 / np.sqrt(beta2)) ** (k - j)
        total += 2 * w[k] * (factor[:, None] * np.sqrt(X[j]) * (reach[k] - reach[j])).sum(0)
    return total


def _values(C: float, beta1: float, beta2: float, delta: float) -> dict:
    return {S.n: N_STEPS, S.C_gamma: C, S.L_star: A * D, S.beta1: beta1, S.beta2: beta2, S.delta: delta,
            S.M: M, S.M_inf: M_INF}


def bound(optimizer: str, C: float, beta1: float, beta2: float, delta: float, sums=None, form: str = "theory") -> float:
    """The theorem's bound; sums: (X_gamma, X_gamma2) put in for the lemmas' bounds on them."""
    L = sp.Float(A)
    if optimizer == "sgd":
        terms, _ = T.sgd(L, sp.Float(RHO**2))
    elif optimizer == "adagrad":
        terms = T.adagrad(L, S.M_inf, D, sums=sums)
    else:  # rmsprop is adam with beta1 = 0
        terms, _ = T.adam(L, S.M_inf, S.M, D, beta1=S.beta1 if optimizer == "adam" else 0, sums=sums, form=form)
    return float(sum(terms.values()).xreplace(_values(C, beta1, beta2, delta)))


def lemma_sums(optimizer: str, C: float, beta2: float, delta: float, beta1: float = 0.0,
               form: str = "theory") -> tuple[float, float]:
    """Lemma 1's (AdaGrad) or Lemma 3's (Adam, RMSProp) bounds on X_gamma and X_gamma2."""
    pair = (T.adagrad_sums(S.M_inf, D) if optimizer == "adagrad"
            else T.adam_sums(S.M_inf, D, beta1=S.beta1 if optimizer == "adam" else 0, form=form))
    values = _values(C, beta1, beta2, delta)
    return tuple(float(x.xreplace(values)) for x in pair)


@pytest.mark.parametrize("optimizer,C,beta1,delta", [
    ("sgd", 1.0, 0.0, 0.5), ("sgd", 0.3, 0.0, 0.5), ("adagrad", 0.5, 0.0, 0.5), ("rmsprop", 0.5, 0.0, 0.5),
    ("adam", 0.5, 0.5, 0.5), ("adam", 0.5, 0.9, 0.5),
    # torch's default delta, where a bound in M^2 / delta is ~1e8 above one in ln(1 + M_inf^2 / delta)
    ("adagrad", 0.05, 0.0, 1e-8), ("rmsprop", 0.05, 0.0, 1e-8), ("adam", 0.05, 0.9, 1e-8)])
def test_measured_running_average_stays_below_the_bound(optimizer, C, beta1, delta, tightness):
    beta2 = 0.99
    measured = simulate(optimizer, C, beta1, beta2, delta)
    value = bound(optimizer, C, beta1, beta2, delta)
    regime = "" if delta == 0.5 else f", delta = {delta:g}"
    tightness.record(f"theorem {optimizer} (simulated, exact constants{regime})", measured, value)
    assert measured <= value


ADAPTIVE_CASES = [("adagrad", 0.5, 0.0, 0.5), ("rmsprop", 0.5, 0.0, 0.5), ("adam", 0.5, 0.9, 0.5),
                  ("adagrad", 0.05, 0.0, 1e-8), ("rmsprop", 0.05, 0.0, 1e-8), ("adam", 0.05, 0.9, 1e-8)]


@pytest.mark.parametrize("optimizer,C,beta1,delta", ADAPTIVE_CASES)
def test_every_runs_adaptive_sums_stay_below_their_lemma(optimizer, C, beta1, delta, tightness):
    """Lemma 1 (AdaGrad) and Lemma 3 (Adam, RMSProp) hold path by path: no seed's X_gamma or X_gamma2 exceeds its
    lemma bound. The tight tier reads the mean over seeds."""
    beta2 = 0.99
    _, run_sums = simulate(optimizer, C, beta1, beta2, delta, sums=True)
    X1, X2 = run_sums["X_gamma"], run_sums["X_gamma2"]
    assert np.all(run_sums["X_gamma_M"] <= M_INF * X1 * (1 + 1e-12))  # every coordinate's bound is at most M_inf
    assert np.all(run_sums["R_top"] <= np.sqrt(delta + M_INF**2))
    assert np.all(run_sums["R_eff"] <= run_sums["R_top"])
    if "U_gamma" in run_sums:  # the steps' curvature sum against the bound the lemma pays for it, path by path
        kappa, _, Lam = (float(c) for c in T.momentum_constants(sp.Float(beta1), sp.Float(beta2)))
        assert np.all(run_sums["U_gamma"] <= kappa * Lam * X2 * (1 + 1e-12))  # RMSProp: U_gamma = X_gamma2 exactly
    lemma = lemma_sums(optimizer, C, beta2, delta)
    regime = "" if delta == 0.5 else f", delta = {delta:g}"
    for name, run_sums, bound_value in (("X_gamma", X1, lemma[0]), ("X_gamma2", X2, lemma[1])):
        tightness.record(f"lemma bound on {optimizer}'s {name} (simulated{regime})", float(run_sums.mean()),
                         bound_value)
        assert run_sums.max() <= bound_value


@pytest.mark.parametrize("optimizer,C,beta1,delta", ADAPTIVE_CASES)
def test_the_theorem_with_the_runs_own_sums_still_bounds_the_run(optimizer, C, beta1, delta, tightness):
    """The theorem before its last lemma, with E X_gamma and E X_gamma2 (means over the seeds) put in: what compare's
    a-posteriori bound computes from a run's recorded sums. Sound, and tighter than the a-priori bound."""
    beta2 = 0.99
    measured, run_sums = simulate(optimizer, C, beta1, beta2, delta, sums=True)
    value = bound(optimizer, C, beta1, beta2, delta, sums=_sums(run_sums))
    regime = "" if delta == 0.5 else f", delta = {delta:g}"
    tightness.record(f"theorem {optimizer} with the run's sums (simulated{regime})", measured, value)
    assert measured <= value < bound(optimizer, C, beta1, beta2, delta)


@pytest.mark.parametrize("C", [1.0, 0.3])
def test_sgd_with_the_runs_step_weights_still_bounds_the_run(C, tightness):
    """SGD's theorem before its last step, with W_steps = gamma_{n+1} sum_k E||g_k||^2 / sum_k gamma_{k+1} E||g_k||^2
    (a ratio of the seeds' means) in place of the 1 the last step pays: what compare's a-posteriori bound computes from
    a run's per-step estimates (docs/derivations.md, "SGD"). Sound, and below the theorem."""
    measured, run_sums = simulate("sgd", C, 0.0, 0.99, 0.5, sums=True)
    weights = float(run_sums["W_steps"].mean())
    terms, _ = T.sgd(sp.Float(A), sp.Float(RHO**2), weights=sp.Float(weights))
    value = float(sum(terms.values()).xreplace({S.n: N_STEPS, S.C_gamma: C, S.L_star: A * D}))
    tightness.record("theorem sgd with the run's step weights (simulated)", measured, value)
    assert 0 < weights < 1 and measured <= value < bound("sgd", C, 0.0, 0.99, 0.5)


def test_adam_bound_grows_with_beta1_and_needs_beta1_below_beta2():
    """Momentum costs: the bound grows as beta1 -> beta2, is finite at beta1 = 0 (RMSProp), and its condition
    beta1 < beta2 is reported as broken beyond."""
    values = {S.n: 10**4, S.C_gamma: 0.1, S.L_star: 1.0, S.beta2: 0.999, S.delta: 1e-8, S.M: 3.0, S.M_inf: 1.0}
    terms, conditions = T.adam(sp.Float(2.0), S.M_inf, S.M, 10)
    total = sum(terms.values()).subs(values)
    at = [float(total.subs(S.beta1, b)) for b in (0.0, 0.9, 0.99)]
    assert np.isfinite(at[0]) and at[0] < at[1] < at[2]
    assert bool(conditions["beta1 < beta2"].subs({S.beta1: 0.9, S.beta2: 0.999}))
    assert not bool(conditions["beta1 < beta2"].subs({S.beta1: 0.999, S.beta2: 0.9}))


def test_adaptive_bounds_depend_on_delta_through_a_logarithm():
    """delta from 1e-2 to 1e-8 multiplies the bound by less than the logarithm's growth (ln(1 + M_inf^2/delta)
    grows about 4x over that range); the former M^2/delta form grew by 1e6 or more."""
    values = {S.n: 10**3, S.C_gamma: 0.1, S.L_star: 1.0, S.beta1: 0.9, S.beta2: 0.999, S.M: 3.0, S.M_inf: 1.0}
    for terms in (T.adagrad(sp.Float(2.0), S.M_inf, 10), T.adam(sp.Float(2.0), S.M_inf, S.M, 10)[0]):
        total = sum(terms.values()).subs(values)
        ratio = float(total.subs(S.delta, 1e-8)) / float(total.subs(S.delta, 1e-2))
        assert 1 < ratio < 5


# ---- each term of SGD alone, and projected SGD -----------------------------------------------------------------

def simulate_sgd(C: float, rho: float, start: float, box: float | None = None, shift: float = 0.0,
                 t: float | None = None) -> float:
    """(1/(n+1)) sum_k E||.||^2 for SGD on V = A sum (1 - cos(theta - shift)), exactly: ||grad V||^2 unprojected,
    ||G_t||^2 (the gradient mapping at t) when projected onto [-box, box]^D."""
    rng = np.random.default_rng(1)
    theta = np.full((SEEDS, D), start)
    total = np.zeros(SEEDS)
    for k in range(N_STEPS + 1):
        g = A * np.sin(theta - shift)
        if box is None:
            total += (g**2).sum(1)
        else:
            G = (theta - np.clip(theta - t * g, -box, box)) / t
            total += (G**2).sum(1)
        xi = rng.standard_normal(theta.shape)
        H = g + rho * xi / np.linalg.norm(xi, axis=1, keepdims=True)
        theta = theta - C / np.sqrt(k + 1) * H
        if box is not None:
            theta = np.clip(theta, -box, box)
    return float(total.mean() / (N_STEPS + 1))


def evaluate(terms, **values) -> dict[str, float]:
    table = {S.n: N_STEPS, S.C_gamma: values["C"], S.L_star: values["gap"]}
    return {k: float(v.subs(table)) for k, v in terms.items()}


@pytest.mark.parametrize("regime", ["gap only (no noise)", "noise only (start at the optimum)"])
def test_each_sgd_term_alone_bounds_its_regime(regime, tightness):
    """The initial-gap term alone (rho = 0) and the noise term alone (L* = 0): each is tested where it is the whole
    bound, so inflating either one fails the tight tier."""
    C = 1.0
    if regime.startswith("gap"):
        measured = simulate_sgd(C, rho=0.0, start=np.pi / 2)
        value = evaluate(T.sgd(sp.Float(A), sp.Float(0.0))[0], C=C, gap=A * D)["initial gap"]
    else:
        measured = simulate_sgd(C, rho=RHO, start=0.0)
        value = evaluate(T.sgd(sp.Float(A), sp.Float(RHO**2))[0], C=C, gap=0.0)["noise"]
    tightness.record(f"theorem sgd, {regime} (simulated)", measured, value)
    assert measured <= value


BOX, SHIFT = 0.5, np.pi / 2  # the minimiser of V over the box sits on its boundary, where grad V != 0


@pytest.mark.parametrize("regime", ["gap only (no noise)", "noise only (start at the optimum)", "both"])
def test_projected_sgd_bounds_the_gradient_mapping(regime, tightness):
    """Projected SGD on a box whose minimiser lies on the boundary: ||grad V||^2 stays away from 0 (the unprojected
    theorem does not apply), the gradient mapping's average obeys `projected_sgd`."""
    C = 0.5 / A
    rho = 0.0 if regime.startswith("gap") else RHO
    # noise only: the minimiser at 0 inside the box, started there (L* = 0); the noise still meets the boundary
    shift, start = (0.0, 0.0) if regime.startswith("noise") else (SHIFT, -BOX)
    V = lambda th: A * D * (1 - np.cos(th - shift))
    gap = V(start) - V(min(shift, BOX))
    measured = simulate_sgd(C, rho=rho, start=start, box=BOX, shift=shift, t=C)
    terms = evaluate(T.projected_sgd(sp.Float(A), sp.Float(rho**2))[0], C=C, gap=gap)
    value = sum(terms.values())
    tightness.record(f"theorem projected sgd, {regime} (simulated)", measured, value)
    assert measured <= value


TORCH_CASES = [("rmsprop", 0.5, 0.0, 0.5), ("adam", 0.5, 0.9, 0.5), ("rmsprop", 0.05, 0.0, 1e-8),
               ("adam", 0.05, 0.9, 1e-8)]


@pytest.mark.parametrize("optimizer,C,beta1,delta", TORCH_CASES)
def test_torchs_adam_and_rmsprop_stay_below_their_theorem(optimizer, C, beta1, delta, tightness):
    """torch.optim's updates (Adam bias-corrected, eps outside the square root) against the torch form of the
    theorem: a priori, with the runs' own sums, and each seed's sums below their lemma (path by path)."""
    beta2 = 0.99
    measured, run_sums = simulate(optimizer, C, beta1, beta2, delta, sums=True, form="torch")
    X1, X2 = run_sums["X_gamma"], run_sums["X_gamma2"]
    assert np.all(run_sums["R_top"] <= M_INF + delta)
    assert np.all(run_sums["R_eff"] <= run_sums["R_top"])
    a_priori = bound(optimizer, C, beta1, beta2, delta, form="torch")
    own = bound(optimizer, C, beta1, beta2, delta, sums=_sums(run_sums),
                form="torch")
    regime = "" if delta == 0.5 else f", delta = {delta:g}"
    tightness.record(f"theorem torch {optimizer} (simulated, exact constants{regime})", measured, a_priori)
    tightness.record(f"theorem torch {optimizer} with the run's sums (simulated{regime})", measured, own)
    assert measured <= own < a_priori
    lemma = lemma_sums(optimizer, C, beta2, delta, beta1, form="torch")
    for name, run_sums, bound_value in (("X_gamma", X1, lemma[0]), ("X_gamma2", X2, lemma[1])):
        tightness.record(f"lemma bound on torch {optimizer}'s {name} (simulated{regime})", float(run_sums.mean()),
                         bound_value)
        assert run_sums.max() <= bound_value


def test_the_steps_curvature_sums_recursion_is_its_double_sum():
    """compare's one-pass recursion for U_gamma (`steps_curvature_sum`) against the double sum written out."""
    from bounds.spec import OptimizerSpec
    from compare.measures import steps_curvature_sum
    rng = np.random.default_rng(3)
    X, w, d = rng.uniform(0, 2, 60), rng.uniform(0.1, 1, 60), rng.uniform(0, 0.3, 60)
    o = OptimizerSpec("adam", 1.0, 0.9, 0.99)
    curve = steps_curvature_sum(X, w, d, o, np.zeros(60))
    for n in (0, 1, 17, 59):
        trail = {"X": X[:n + 1, None], "weight": w[:n + 1], "length": d[:n + 1, None]}
        assert curve[n] == pytest.approx(float(steps_curvature(trail, 0.9, 0.99)[0]), rel=1e-12)


def test_the_preconditioners_recorded_top_is_its_running_largest_inverse_entry():
    """compare's R_top curve (`preconditioner_top_curve`) against the definition written out: at horizon n, the
    largest 1 / precond_min over the rows 1..n+1 (row k holds step k - 1's preconditioner), the last step's taken
    to be the largest before it; with nothing recorded, the theorem's bound at the measured M_inf."""
    from compare.measures import preconditioner_top_curve
    least = np.array([0.0, 0.5, 0.25, 1.0, 0.2, 0.4])
    curve = preconditioner_top_curve(least, 3.0, 1e-8, "torch")
    for n in range(len(least)):
        rows = range(1, min(n + 1, len(least) - 1) + 1)
        assert curve[n] == max(1 / least[r] for r in rows)
    assert np.all(preconditioner_top_curve(np.zeros(4), 3.0, 1e-8, "torch") == 3.0 + 1e-8)


def test_the_effective_inverse_curve_is_its_definition():
    """compare's R_eff curve (`effective_inverse_curve`) against the definition written out: at horizon n,
    R = gamma_{n+1} sum_{j<=n} c_j G_j / sum_{j<=n} w_j Q_j with c_j = 1 - beta1^{n-j+1} and the main part's weights
    w_j = sum_{k=j}^n gamma_{k+1} (1 - beta1) beta1^{k-j}, plus three of its standard errors, a row without Q counted
    as G_j / top_j, capped at top_n."""
    from compare.measures import effective_inverse_curve
    rng = np.random.default_rng(6)
    G = rng.uniform(0.5, 2.0, 40)
    Q = G * rng.uniform(5.0, 8.0, 40)
    Q[[0, 17]] = np.nan
    top = np.maximum.accumulate(rng.uniform(0.3, 0.6, 40))
    gamma = (np.arange(40) + 1.0) ** -0.5
    for beta1 in (0.0, 0.9):
        curve = effective_inverse_curve(G, Q, top, beta1)
        assert np.any(curve < top)  # the cap does not decide every n
        for n in (0, 1, 17, 39):
            j = np.arange(n + 1)
            c = 1 - beta1 ** (n - j + 1)
            w = np.array([sum(gamma[k] * (1 - beta1) * beta1 ** (k - i) for k in range(i, n + 1)) if beta1
                          else gamma[i] for i in j])
            q = np.where(np.isnan(Q[j]), G[j] / top[j], Q[j])
            b = w / gamma[n]
            ratio = (c * G[j]).sum() / (b * q).sum()
            se = np.sqrt(((c * G[j] - ratio * b * q) ** 2).sum()) / (b * q).sum()
            assert curve[n] == pytest.approx(min(ratio + 3 * se, top[n]), rel=1e-9)
    assert np.all(effective_inverse_curve(G, np.full(40, np.nan), top, 0.0) <= top)
    assert np.all(effective_inverse_curve(-G, Q, top, 0.0) == top)  # sums that are not positive: top


def test_torchs_adam_without_momentum_keeps_its_bias_correction():
    """torch's Adam at beta1 = 0 still corrects its second moment (effective steps gamma sqrt(1 - beta2^{k+1}), eps_k =
    eps sqrt(1 - beta2^{k+1})), so its lemma is Adam's, not RMSProp's: `corrected=True` says so for a numeric
    beta1 = 0, and every simulated seed's sums stay below that lemma."""
    C, beta2, delta = 0.05, 0.99, 1e-8
    _, run_sums = simulate("adam", C, 0.0, beta2, delta, sums=True, form="torch")
    values = _values(C, 0.0, beta2, delta)
    adam = [float(x.xreplace(values)) for x in T.adam_sums(S.M_inf, D, beta1=0, form="torch", corrected=True)]
    rmsprop = [float(x.xreplace(values)) for x in T.adam_sums(S.M_inf, D, beta1=0, form="torch")]
    assert adam[0] != pytest.approx(rmsprop[0], rel=0.1)  # the flag picks the lemma
    assert run_sums["X_gamma"].max() <= adam[0] and run_sums["X_gamma2"].max() <= adam[1]
