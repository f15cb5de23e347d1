"""The objective on training and held-out points: the run's own gain, a lower bound on L_star."""
from __future__ import annotations

from .base import Constant, ProbeContext, Quantity


def measure(ctx: ProbeContext) -> dict[str, float]:
    import torch
    from ..estimators import estimate, exact_objective
    from ..probes import draw_eps
    spec, out = ctx.spec, {}
    with torch.no_grad():
        for name, X in (("objective_train", ctx.X), ("objective_test", ctx.X_test)):
            x = X[:ctx.config.eval_points]
            exact = exact_objective(spec, ctx.flat, x)
            out[name] = float(exact if exact is not None else estimate(
                spec, ctx.flat, x, draw_eps(spec, len(x), spec.objective.K, ctx.generator, ctx.flat), "pathwise")[1])
    return out


def observed_gain(trace) -> float:
    objective = trace["objective_train"].dropna() if "objective_train" in trace else []
    return float(max(objective.max() - objective.iloc[0], 0.0)) if len(objective) else float("nan")


QUANTITIES = [Quantity("objectives", {
    "objective_train": "probe: objective on `eval_points` training points, per-example mean",
    "objective_test": "probe: objective on held-out points, per-example mean",
}, order=40, measure=measure, constant=Constant(
    "L_star", "objective gap: largest observed objective_train minus its value at step 0 (a lower bound)",
    observed_gain))]
