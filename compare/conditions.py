"""Did a run meet the conditions of the theorem its bound comes from? Each condition is named and checked.

A bound applies to a run only if every condition holds; otherwise `compare` reports it as not applicable, names
the broken conditions, and shows only the a-posteriori bound.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bounds.bound import Bound
from bounds.derive import objective_upper_bound
from bounds.spec import VAESpec
from empirical.runs import Run


@dataclass(frozen=True)
class Condition:
    name: str
    holds: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "holds": self.holds, "detail": self.detail}


def check(run: Run, spec: VAESpec, bound: Bound | None, values: dict[str, float],
          measured: dict[str, float], theory: dict[str, float]) -> list[Condition]:
    """Every condition of the theorem behind `bound`, checked against the run's settings and measurements."""
    train, opt = run.config["train"], spec.optimizer
    out: list[Condition] = []

    def add(name: str, holds: bool, detail: str) -> None:
        out.append(Condition(name, bool(holds), detail))

    act = spec.model.activation
    add("smooth activations", spec.model.kind == "linear" or act.smooth,
        "linear model" if spec.model.kind == "linear" else f"activation {act.name} "
        + ("is smooth (assumption (i))" if act.smooth else "is not smooth: outside the theory"))
    if bound is not None:
        for name, ok in bound.check_conditions(values).items():
            detail = (f"C_gamma L = {values['C_gamma']:g} x {theory['L']:.4g} = {values['C_gamma'] * theory['L']:.4g}"
                      if name == "C_gamma * L <= 1" else "at the spec's settings")
            add(name, ok, detail)
    add("step sizes C_gamma k^{-1/2}", train.get("schedule") == "per_step",
        f"schedule={train.get('schedule')!r}" + ("" if train.get("schedule") == "per_step"
                                                 else ": the theorem analyses per-step decay"))
    if opt.name != "sgd":
        add("the analysed update", train.get("form") == "theory",
            f"form={train.get('form')!r}" + ("" if train.get("form") == "theory" else
                                            ": torch.optim's bias correction and eps placement are not analysed"))
    add("independent mini-batches", train.get("batches", "epochs") == "independent",
        f"batches={train.get('batches', 'epochs')!r}" + ("" if train.get("batches") == "independent" else
                                                         ": reshuffled epochs make E[ghat_k | past] != grad L"))
    add("fixed K", train.get("K_alpha") is None, "K schedule ceil(k^alpha) is not analysed"
        if train.get("K_alpha") is not None else f"K={spec.objective.K}")
    add("plain estimator", train.get("baseline", "none") == "none",
        "leave-one-out baseline: its variance is not derived" if train.get("baseline", "none") != "none"
        else f"{spec.estimator}")
    projected = bool(train.get("project"))
    if spec.weight_bound.kind == "entrywise":
        a_run = measured["a"]
        add("parameters in the compact set", projected or a_run <= spec.weight_bound.a,
            f"largest ||theta||_inf, ||phi||_inf = {a_run:.4g} against a = {spec.weight_bound.a:g}"
            + (" (projected every step)" if projected else ""))
    else:
        add("parameters in the compact set", projected,
            "projected every step" if projected else "per-layer norm bounds are checked only by projection")
    max_norm = run.config.get("data", {}).get("max_norm")
    if max_norm is not None:
        add("data bound", max_norm <= spec.model.data_bound * (1 + 1e-6),
            f"largest ||x|| = {max_norm:.4g} against R_x = {spec.model.data_bound:g}")
    gap = measured["L_star"]
    start = run.trace["objective_train"].dropna()
    certified = objective_upper_bound(spec) - float(start.iloc[0]) if len(start) else math.nan
    add("objective gap", not gap > spec.objective_gap,
        f"observed gap {gap:.4g} against L_star = {spec.objective_gap:g}; sup L - L(theta_0) <= {certified:.4g} "
        "(the objective's upper bound minus its measured start)")
    if "M" in theory:
        add("||H_k|| <= M", not measured["M"] > theory["M"],
            f"largest ||ghat_k|| = {measured['M']:.4g} against M = {theory['M']:.4g}")
    if opt.name == "adam":
        add("beta1 < sqrt(beta2)", opt.beta1 < math.sqrt(opt.beta2), f"beta1={opt.beta1:g}, beta2={opt.beta2:g}")
    return out


def broken(conditions: list[Condition]) -> list[Condition]:
    return [c for c in conditions if not c.holds]
