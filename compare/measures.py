"""What a run measured, in the terms of the bound: the theorem's running average and the measured constants."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from bounds.derive import update_form
from bounds.theorems import momentum_constants, preconditioner_top
from empirical.optimizers import step_weight
from empirical.quantities import column_max, constants
from empirical.runs import Run


@dataclass(frozen=True)
class RunningAverage:
    """(1/(n+1)) sum_{k<=n} ||grad L(theta_k)||^2 at every recorded n.

    source: `per-step unbiased` (running mean of grad_norm_sq_unbiased: unbiased for the theorem's quantity) or
    `interpolated probes` (full_grad_norm_sq at the probe steps, linearly interpolated in k: an approximation).
    se: a standard error of `value` from the step-to-step spread of the per-step estimates (martingale noise).
    """

    n: np.ndarray
    value: np.ndarray
    se: np.ndarray
    source: str
    lower: np.ndarray | None = None   # where the estimate is biased: a band that holds the theorem's quantity
    upper: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.lower is None:
            object.__setattr__(self, "lower", self.value)
        if self.upper is None:
            object.__setattr__(self, "upper", self.value)

    def final(self) -> tuple[int, float, float]:
        return int(self.n[-1]), float(self.value[-1]), float(self.se[-1])

    def with_bias_band(self, half_width: float) -> "RunningAverage":
        """The band for a running mean of squares whose root is off by at most `half_width` at every step:
        (1/(n+1)) sum x_k^2 with |x_k - m_k| <= h lies in [(sqrt(avg m^2) - h)_+^2, (sqrt(avg m^2) + h)^2]
        (Minkowski's inequality)."""
        root = np.sqrt(np.maximum(self.value, 0.0))
        return RunningAverage(self.n, self.value, self.se, f"{self.source} (bias band +-{half_width:.3g})",
                              np.maximum(root - half_width, 0.0) ** 2, (root + half_width) ** 2)


GRADIENT_MAPPING = "grad_mapping_sq"


def running_average(trace: pd.DataFrame, column: str = "grad_norm_sq_unbiased") -> RunningAverage:
    """The theorem's quantity along the run (the running mean of `column`, by default the per-step unbiased
    ||grad L||^2; `grad_mapping_sq` for the projected theorem); rows after a divergence (non-finite values) are
    left out."""
    steps = trace["step"].to_numpy()
    if column in trace and trace[column].notna().any():
        x = trace[column].to_numpy(dtype=float)
        ok = np.isfinite(x)
        last = int(np.argmin(ok)) if not ok.all() else len(x)  # stop at the first missing or non-finite value
        x, n = x[:last], steps[:last]
        if len(x) == 0:
            raise ValueError(f"the run recorded no finite {column}")
        count = np.arange(1, len(x) + 1)
        value = np.cumsum(x) / count
        # Var(x_k | theta_k) from half the squared successive differences (||grad L|| changes slowly in k).
        diffs = np.concatenate([[0.0], np.diff(x) ** 2 / 2])
        diffs[0] = diffs[1] if len(diffs) > 1 else 0.0
        se = np.sqrt(np.cumsum(diffs)) / count
        return RunningAverage(n, value, se, "per-step unbiased" if column != GRADIENT_MAPPING else "gradient mapping")
    if column == GRADIENT_MAPPING:
        raise ValueError("the projected run recorded no grad_mapping_sq (recorded before the projected theorem)")
    probes = trace.dropna(subset=["full_grad_norm_sq"])
    probes = probes[np.isfinite(probes["full_grad_norm_sq"])]
    if len(probes) < 2:
        raise ValueError("the run has neither grad_norm_sq_unbiased nor two probes of full_grad_norm_sq")
    n = np.arange(int(probes["step"].iloc[0]), int(probes["step"].iloc[-1]) + 1)
    x = np.interp(n, probes["step"], probes["full_grad_norm_sq"])
    se_k = np.interp(n, probes["step"], probes["full_grad_norm_sq_se"].fillna(0.0))
    count = np.arange(1, len(n) + 1)
    return RunningAverage(n, np.cumsum(x) / count, np.cumsum(se_k) / count, "interpolated probes")


# The constants the theorems are written in that a run also measures (the parameter bound a is measured too, but
# enters the theorems only through the derived L, sigma2 and M).
THEOREM_CONSTANTS = ("L", "sigma2", "M", "M_inf", "L_star")


# The theorems' sums before their last step (bounds.registry): the adaptive theorems' and SGD's W_steps, measured as
# curves over n, not constants.
RUN_SUMS = ("X_gamma", "X_gamma2", "X_gamma_M", "U_gamma", "R_eff", "W_steps")


def constant_descriptions() -> dict[str, str]:
    """The constants of the theorem a run measures, each with how it is measured (declared by the quantities), and
    the adaptive sums."""
    from bounds.registry import BY_NAME
    return {**{name: c.description for name, c in constants().items()},
            **{name: f"{BY_NAME[name].description}, recorded at every step" for name in RUN_SUMS}}


def run_sums(run: Run, n: np.ndarray) -> dict[str, np.ndarray] | None:
    """The run's sums of its theorem at each n: SGD's W_steps (`sgd_step_weights`); an adaptive run's X_gamma,
    X_gamma2, X_gamma_M, R_eff and (Adam, RMSProp) U_gamma (cumulative over k <= n
    of the recorded adaptive_step_sq, with the theorem's weights: C_gamma (k+1)^{-1/2} and its square for Adam and
    RMSProp, C_gamma and C_gamma^2 for AdaGrad, docs/derivations.md "The adaptive bounds a posteriori"; torch's Adam:
    its effective step, "Torch's Adam and RMSProp"); None where the run did not record them. R_eff: see
    `effective_inverse_curve`. X_gamma_M is C_gamma times the recorded
    adaptive_coordinate_sum ("Per-coordinate bounds"); where a row lacks it (the last row, which has no update; a run
    recorded before it) its step adds the run's largest |ghat_k,i| times its X_gamma increment, the bound every M_i
    is under. The last row's X is the step before's."""
    t, spec = run.trace, run.spec
    index = np.asarray(n, dtype=int)
    per_step = lambda column: _per_step(t, column)
    if spec.optimizer.name == "sgd":
        return sgd_step_weights(per_step("grad_norm_sq_unbiased"), index)
    if "adaptive_step_sq" not in t or not t["adaptive_step_sq"].notna().any():
        return None
    x = pd.Series(per_step("adaptive_step_sq")).ffill().fillna(0.0).to_numpy()
    o, k = spec.optimizer, np.arange(len(x), dtype=float)
    C = o.C_gamma
    form = "theory" if o.name == "adagrad" else update_form(spec, run.config["train"].get("form"))
    w = step_weight(k, o.name, o.beta1, o.beta2, form)  # torch's Adam: its effective step gamma'_{k+1} / C
    X1 = np.cumsum(C * w * x)
    coordinate = C * per_step("adaptive_coordinate_sum")
    increments = np.diff(coordinate, prepend=0.0)
    fallback = column_max(t, "grad_abs_max") * C * w * x
    recorded = np.isfinite(increments) & np.isfinite(np.concatenate([[0.0], coordinate[:-1]]))
    XM = np.cumsum(np.where(recorded, increments, fallback))
    X2 = np.cumsum(C**2 * w**2 * x)
    top = preconditioner_top_curve(per_step("precond_min"), column_max(t, "grad_abs_max"), o.delta, form)
    effective = effective_inverse_curve(per_step("grad_norm_sq_unbiased"), per_step("grad_precond_sq_estimate"),
                                        top, o.beta1 if o.name == "adam" else 0.0)
    out = {"X_gamma": X1[index], "X_gamma2": X2[index], "X_gamma_M": XM[index], "R_eff": effective[index]}
    if o.name != "adagrad":
        lengths = C * (k + 1) ** -0.5 * np.sqrt(per_step("step_norm_sq")) / per_step("lr")  # ||gamma_{k+1} u_k||
        out["U_gamma"] = steps_curvature_sum(x, C * w, pd.Series(lengths).ffill().to_numpy(), o, X2)[index]
    return out


def _per_step(t: pd.DataFrame, column: str) -> np.ndarray:
    """The column at steps 0..last (NaN where a row lacks it, or everywhere where the trace has no such column)."""
    steps = t["step"].to_numpy()
    values = pd.Series(t[column].to_numpy(dtype=float), index=steps) if column in t else pd.Series(dtype=float)
    return values.reindex(np.arange(int(steps.max()) + 1)).to_numpy()


def sgd_step_weights(G: np.ndarray, index: np.ndarray) -> dict[str, np.ndarray] | None:
    """SGD's W_steps at the steps `index`: gamma_{n+1} sum_{k<=n} G_k / sum_{k<=n} gamma_{k+1} G_k, G_k the step's
    unbiased ||grad L(theta_k)||^2 estimate, taken at its upper value and capped at 1 as R_eff is (it is R_eff's
    ratio with the preconditioner the identity and no momentum, `effective_inverse_curve`); None where the run did not
    record G (docs/derivations.md, "SGD")."""
    if not np.isfinite(G).any():
        return None
    return {"W_steps": effective_inverse_curve(G, G, np.ones(len(G)), 0.0)[index]}


def preconditioner_top_curve(least: np.ndarray, M_inf: float, delta: float, form: str) -> np.ndarray:
    """R_top at every n: the largest inverse preconditioner entry of the steps k <= n. Row k records the least entry
    of step k - 1's preconditioner (precond_min, 0 at the first step), so step k's is row k + 1's; the last step's,
    which no row holds, is taken to be the largest before it. Where the run recorded none, the bound the theorem
    pays at the measured M_inf (docs/derivations.md, "Per-coordinate bounds and the steps' own curvature")."""
    with np.errstate(divide="ignore"):
        inverse = np.where(least > 0, 1 / least, np.nan)
    after_step = np.append(inverse[1:], np.nan)
    if not np.isfinite(after_step).any():
        return np.full(len(least), float(preconditioner_top(M_inf, delta, form)))
    running = np.fmax.accumulate(after_step)
    return pd.Series(running).ffill().bfill().to_numpy()


def effective_inverse_curve(G: np.ndarray, Q: np.ndarray, top: np.ndarray, beta1: float) -> np.ndarray:
    """R_eff at every n: R = gamma_{n+1} sum_{j<=n} c_j G_j / sum_{j<=n} w_j Q_j, with G_j = grad_norm_sq_unbiased and
    Q_j = grad_precond_sq_estimate, the step's estimates of ||g_j||^2 and g_j^T P_j g_j (P_j the main part's stand-in
    preconditioner, `FlatOptimizer.main_part_preconditioner`), c_j = 1 - beta1^{n-j+1} (1 without momentum) and
    w_j = sum_{k=j}^n gamma_{k+1} (1 - beta1) beta1^{k-j} (gamma_{j+1} without momentum) the weight the theorem's main
    part gives step j, gamma_{k+1} = (k+1)^{-1/2} (C_gamma cancels): the preconditioner's inverse, and the steps'
    weights, as the gradient meets them in the main part (docs/derivations.md, "The preconditioned gradient"). Taken at
    its upper value R + 3 se (the ratio estimator's standard error, sqrt(sum_j (c_j G_j - R b_j Q_j)^2) / sum_j b_j Q_j,
    b_j = w_j / gamma_{n+1}: a noisy run's ratio is not read as small). A row without Q (a run recorded before the
    column) counts G_j / top_j, what the main part pays there at the step's largest inverse entry. At most top
    (R_top's curve: every w_j >= gamma_{n+1} c_j), and top where the sums are not positive."""
    G = np.nan_to_num(np.asarray(G, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        Q = np.nan_to_num(np.where(np.isfinite(Q), Q, G / top))
    length = len(G)
    A = _main_part_tails(length + 1, beta1)  # w_j = A_j - beta1^{n+1-j} A_{n+1}
    a, last, scale = A[:length], A[1:], np.sqrt(np.arange(1, length + 1))  # scale = 1 / gamma_{n+1}

    def discounted(x: np.ndarray, r: float) -> np.ndarray:  # sum_{j<=n} r^{n+1-j} x_j at every n
        return r * lfilter([1.0], [1.0, -r], x) if r else np.zeros_like(x)

    b2 = beta1 * beta1
    num = np.cumsum(G) - discounted(G, beta1)
    den = scale * (np.cumsum(a * Q) - last * discounted(Q, beta1))
    z, y, x = G * Q, Q * Q, G * G
    cross = scale * (np.cumsum(a * z) - last * discounted(z, beta1) - discounted(a * z, beta1)
                     + last * discounted(z, b2))
    own = scale**2 * (np.cumsum(a * a * y) - 2 * last * discounted(a * y, beta1) + last**2 * discounted(y, b2))
    squares = np.cumsum(x) - 2 * discounted(x, beta1) + discounted(x, b2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = num / den
        spread = squares - 2 * ratio * cross + ratio**2 * own
        upper = ratio + 3 * np.sqrt(np.maximum(spread, 0.0)) / den
    return np.fmin(np.where((num > 0) & (den > 0), upper, np.inf), top)


def _main_part_tails(size: int, beta1: float) -> np.ndarray:
    """A_j = (1 - beta1) sum_{k>=j} beta1^{k-j} (k+1)^{-1/2} for j < size ((j+1)^{-1/2} without momentum), by a
    backward recursion from far enough beyond that the truncation is below 1e-20."""
    steps = np.arange(size, dtype=float)
    if not beta1:
        return (steps + 1) ** -0.5
    extra = int(np.ceil(np.log(1e-20) / np.log(beta1))) + 1
    weights = (np.arange(size + extra, dtype=float) + 1) ** -0.5
    return lfilter([1 - beta1], [1.0, -beta1], weights[::-1])[::-1][:size]


def steps_curvature_sum(x: np.ndarray, gamma: np.ndarray, lengths: np.ndarray, o, X2: np.ndarray) -> np.ndarray:
    """U_gamma at every n: sum_{k<=n} d_k^2 + 2 sum_{k<=n} gamma_{k+1} (1 - beta1) S_k, with d_k = ||gamma_{k+1} u_k||
    the theorem's step length at step k, gamma the weights of X_k (the effective steps) and
    S_k = sum_{j<k} rho^{k-j} sqrt(X_j) sum_{l=j}^{k-1} d_l, rho = beta1 / sqrt(beta2) (docs/derivations.md,
    "Per-coordinate bounds": the momentum's transport path by path). Where the run did not record its step lengths,
    the bound kappa Lam X_gamma2 that the lemma pays."""
    if not np.isfinite(lengths).all():
        kappa, _, Lam = momentum_constants(o.beta1 if o.name == "adam" else 0.0, o.beta2)
        return float(kappa * Lam) * X2
    beta1 = o.beta1 if o.name == "adam" else 0.0
    rho = beta1 / np.sqrt(o.beta2)
    roots = np.sqrt(x)
    transport = np.zeros_like(x)
    A = S = 0.0
    for k in range(1, len(x)):  # S_k = rho S_{k-1} + d_{k-1} A_k, A_k = rho (A_{k-1} + sqrt(X_{k-1}))
        A = rho * (A + roots[k - 1])
        S = rho * S + lengths[k - 1] * A
        transport[k] = gamma[k] * (1 - beta1) * S
    return np.cumsum(lengths**2 + 2 * transport)


def projection_acted(trace: pd.DataFrame) -> bool | None:
    """Whether the projection ever moved an iterate (None: the run did not record it)."""
    if "projection_distance" not in trace or not trace["projection_distance"].notna().any():
        return None
    return bool(np.nanmax(trace["projection_distance"].to_numpy(dtype=float)) > 0)


def measured_constants(run: Run) -> dict[str, float]:
    """The measured counterpart of each constant (L, sigma2, M, L_star, a), read from the trace as the quantity that
    measures it declares (NaN where the run did not record it)."""
    declared = constants()
    return {name: declared[name].from_trace(run.trace) for name in (*THEOREM_CONSTANTS, "a")}


def reached_norms(run: Run):
    """The per-layer norm set a run stayed in, as far as it recorded: a spectral `ParameterBound` whose bound on
    each layer's ||W_l||_2 and ||b_l|| is the largest the run reached at its probes (`parameter_norms`) and at its
    final parameters. Between probes the norms are not recorded: the set describes the probed path."""
    from bounds.spec import ParameterBound
    spec, t = run.spec, run.trace
    final = run.parameters()
    weights, biases = [], []
    for slot in spec.layout:
        w = [t[f"spectral_norm.{slot.name}"].max()] if f"spectral_norm.{slot.name}" in t else []
        b = [t[f"bias_norm.{slot.name}"].max()] if f"bias_norm.{slot.name}" in t else []
        if final is not None:
            w.append(float(np.linalg.norm(final[slot.weight].reshape(slot.shape), 2)))
            b.append(float(np.linalg.norm(final[slot.bias])))
        w, b = [v for v in w if np.isfinite(v)], [v for v in b if np.isfinite(v)]
        if not w or not b:
            raise ValueError(f"the run recorded no norms of layer {slot.name!r} (no parameter-norm probe and no "
                             "final parameters): its norm set is unknown")
        weights.append(max(w))
        biases.append(max(b))
    return ParameterBound(kind="spectral", layer_norms=tuple(weights), bias_norms=tuple(biases))


def probe_series(run: Run, column: str) -> pd.DataFrame:
    """(step, value) at the probes where `column` was measured."""
    t = run.trace
    if column not in t:
        return pd.DataFrame({"step": [], column: []})
    return t.loc[t[column].notna(), ["step", column]].reset_index(drop=True)


def uses_projected_theorem(run: Run) -> bool:
    """A run projected every step is judged by the projected-SGD theorem unless its projection provably never
    acted (then the run is an unprojected one and the unprojected theorem covers it)."""
    return bool(run.config["train"].get("project")) and projection_acted(run.trace) is not False


def probes_taken(trace: pd.DataFrame) -> tuple[int, int]:
    """(probes taken, scheduled probes the time budget skipped) of a trace."""
    skipped = int(trace["probe_skipped"].fillna(False).astype(bool).sum()) if "probe_skipped" in trace else 0
    return (int(trace["probe_seconds"].notna().sum()) if "probe_seconds" in trace else 0), skipped


def probe_notes(run: Run) -> list[str]:
    """What the probes measured on, where it was less than everything: scheduled probes the time budget skipped,
    full-gradient replicates on subsets of the training set, objectives on a subset of the points."""
    t, notes = run.trace, []
    n_train, n_test = (run.config.get("data", {}).get(k) for k in ("n_train", "n_test"))
    taken, skipped = probes_taken(t)
    if skipped:
        notes.append(f"probes: {taken} of {taken + skipped} scheduled taken, the others skipped to keep within the "
                     f"probe budget ({run.config.get('train', {}).get('probe_budget')} of the training's time)")
    points = t["full_grad_points"].dropna() if "full_grad_points" in t else []
    if len(points) and n_train and points.max() < n_train:
        notes.append(f"full-gradient probe: each replicate on {int(points.max()):,} random training points of "
                     f"{int(n_train):,} (unbiased; its standard error includes the subsampling)")
    for part, total in (("train", n_train), ("test", n_test)):
        used = t[f"objective_{part}_points"].dropna() if f"objective_{part}_points" in t else []
        if len(used) and total and used.max() < total:
            notes.append(f"{'held-out' if part == 'test' else 'training'} objective on {int(used.max()):,} of "
                         f"{int(total):,} {'test' if part == 'test' else 'training'} points (a seeded random subset; "
                         "its standard error is in the trace)")
    return notes
