"""The objective on training and held-out points, with standard errors, and a ceiling on the objective over all
parameters: the run's own gain (a lower bound on L_star) and, from its start, a certified upper bound on it."""
from __future__ import annotations

import math

from .base import Constant, ProbeContext, Quantity


def measure(ctx: ProbeContext) -> dict[str, float]:
    import torch
    from ..estimators import has_exact_objective, objective_values
    from ..probes import draw_eps
    from ..probe_plan import evaluation_subset
    spec, out = ctx.spec, {}
    with torch.no_grad():
        for name, X in (("objective_train", ctx.X), ("objective_test", ctx.X_test)):
            rows = evaluation_subset(len(X), ctx.config.eval_points, spec.seed)
            x = X[rows.to(X.device) if isinstance(rows, torch.Tensor) else rows]
            eps = draw_eps(spec, len(x), spec.objective.K, ctx.generator, ctx.flat)
            values = objective_values(spec, ctx.flat, x, eps)
            exact = has_exact_objective(spec) and len(x) == len(X)
            out[name] = float(values.mean())
            out[f"{name}_se"] = standard_error(values, exact_on_all=exact)
            out[f"{name}_points"] = len(x)
            if name == "objective_train" and ctx.start is not None:  # paired: the same points and draws at theta_0
                out["objective_gain"], out["objective_gain_se"] = paired_gain(spec, ctx.flat, ctx.start, x, eps, exact)
    # a constant of the run (the data's, not the iterate's): measured with the start, which is what it certifies
    out["objective_ceiling"] = data_ceiling(spec, ctx.X) if ctx.step == 0 else math.nan
    return out


def paired_gain(spec, flat, start, x, eps, exact_on_all: bool) -> tuple[float, float]:
    """(mean of l(theta_n) - l(theta_0) over the points x with the same draws eps at both ends, its standard error), in
    float64: the difference is small where the steps were, and float32's rounding of each value (about 1e-7 of it)
    would not be."""
    import torch
    from ..estimators import objective_values
    d = lambda a: a.detach().to(device=flat.device, dtype=torch.float64)
    gain = objective_values(spec, d(flat), d(x), d(eps)) - objective_values(spec, d(start), d(x), d(eps))
    return float(gain.mean()), standard_error(gain, exact_on_all)


def standard_error(values, exact_on_all: bool) -> float:
    """Standard error of the mean of per-example values as an estimate of the objective over the whole set: zero
    when they are exact and cover it; else their sample standard deviation / sqrt(m) (the m points are the first
    of a seeded random permutation, each with its own draws)."""
    m = len(values)
    if exact_on_all or m < 2:
        return 0.0 if exact_on_all else math.nan
    return float(values.std(unbiased=True)) / math.sqrt(m)


def data_ceiling(spec, X) -> float:
    """An upper bound on the training-set objective over every parameter value, where the data make one sharper
    than the spec's max_z log p(x|z) (NaN elsewhere; compare takes the smaller of the two).

    Linear VAE: every objective with beta >= 1 is below the ELBO, below log p(x) = log N(x; b, W W^T + c^2 I), whose
    average over the data is largest at probabilistic PCA's maximiser with the noise c^2 fixed (b the mean, W along
    the top d_z eigenvectors of the covariance S with scale sqrt(lambda - c^2) where lambda > c^2). With beta < 1,
    beta-ELBO = beta ELBO + (1 - beta) E_q log p(x|z) <= beta log p(x) + (1 - beta) max_z log p(x|z).
    (docs/derivations.md, "The objective gap".)
    """
    import torch
    m = spec.model
    if m.kind != "linear":
        return math.nan
    x = X.detach().to(torch.float64)
    c2 = m.decoder_std ** 2
    centred = x - x.mean(0)
    eig = torch.linalg.eigvalsh(centred.T @ centred / len(x)).flip(0).clamp_min(0.0)
    top = eig[:m.latent_dim]
    fitted = top[top > c2]
    rest = torch.cat([top[top <= c2], eig[m.latent_dim:]])
    log_two_pi = math.log(2 * math.pi)
    log_evidence = -0.5 * (m.data_dim * log_two_pi + float((fitted.log() + 1).sum())
                           + len(rest) * math.log(c2) + float(rest.sum()) / c2)
    likelihood_max = -m.data_dim / 2 * (log_two_pi + math.log(c2))
    obj = spec.objective
    weight = min(obj.beta, 1.0) if obj.kind in ("elbo", "beta") else 1.0
    return weight * log_evidence + (1 - weight) * likelihood_max


def observed_gain(trace) -> float:
    objective = trace["objective_train"].dropna() if "objective_train" in trace else []
    return float(max(objective.max() - objective.iloc[0], 0.0)) if len(objective) else float("nan")


QUANTITIES = [Quantity("objectives", {
    "objective_train": "probe: objective on `eval_points` training points (a seeded random subset), per-example mean",
    "objective_train_se": "probe: its standard error as an estimate of the objective over the whole training set",
    "objective_test": "probe: objective on `eval_points` held-out points (a seeded random subset), per-example mean",
    "objective_test_se": "probe: its standard error as an estimate over the whole held-out set",
    "objective_train_points": "probe: the training points objective_train was evaluated on (all, or `eval_points` "
                              "of a permutation seeded by the run's seed, the same at every probe)",
    "objective_test_points": "probe: the held-out points objective_test was evaluated on (likewise)",
    "objective_gain": "last probe: L(theta_n) - L(theta_0) on the training points of objective_train, both ends with "
                      "the same draws (paired: its error shrinks with ||theta_n - theta_0||; the run's certificate "
                      "reads it)",
    "objective_gain_se": "last probe: its standard error as an estimate over the whole training set",
    "objective_ceiling": "step-0 probe: an upper bound on the training-set objective over all parameters, from the "
                         "data (linear VAE: probabilistic PCA's maximum; NaN elsewhere)",
}, order=40, measure=measure, constant=Constant(
    "L_star", "objective gap: largest observed objective_train minus its value at step 0 (a lower bound)",
    observed_gain))]
