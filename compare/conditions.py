"""Did a run meet the conditions of the theorem its bound comes from? Each condition is named and checked.

A bound applies to a run only if every condition holds; otherwise `compare` reports it as not applicable, names
the broken conditions, and shows only the a-posteriori bound.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bounds.bound import Bound
from bounds.derive import TORCH_ANALYSED
from bounds.spec import VAESpec
from empirical.runs import Run
from .measures import projection_acted
from .objective_gap import run_objective_gap


@dataclass(frozen=True)
class Condition:
    name: str
    holds: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "holds": self.holds, "detail": self.detail}


def check(run: Run, spec: VAESpec, bound: Bound | None, values: dict[str, float],
          measured: dict[str, float], theory: dict[str, float], projected: bool = False) -> list[Condition]:
    """Every condition of the theorem behind `bound`, checked against the run's settings and measurements.

    projected: `bound` is the projected-SGD theorem (on the gradient mapping); otherwise the unprojected theorem,
    which covers a projected run only if the projection never acted."""
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
                      if name.startswith("C_gamma * L") else "at the spec's settings")
            add(name, ok, detail)
    add("step sizes C_gamma k^{-1/2}", train.get("schedule") == "per_step",
        f"schedule={train.get('schedule')!r}" + ("" if train.get("schedule") == "per_step"
                                                 else ": the theorem analyses per-step decay"))
    if opt.name != "sgd":
        form = train.get("form")
        analysed = form == "theory" or (form == "torch" and opt.name in TORCH_ANALYSED)
        add("the analysed update", analysed,
            f"form={form!r}" + ("" if form == "theory" else f": torch.optim's {opt.name}, with its own theorem"
                                if analysed else ": torch.optim's AdaGrad (eps outside the root) is not analysed"))
    add("independent mini-batches", train.get("batches", "epochs") == "independent",
        f"batches={train.get('batches', 'epochs')!r}" + ("" if train.get("batches") == "independent" else
                                                         ": reshuffled epochs make E[ghat_k | past] != grad L"))
    add("fixed K", train.get("K_alpha") is None, "K schedule ceil(k^alpha) is not analysed"
        if train.get("K_alpha") is not None else f"K={spec.objective.K}")
    add("plain estimator", train.get("baseline", "none") == "none",
        "leave-one-out baseline: its variance is not derived" if train.get("baseline", "none") != "none"
        else f"{spec.estimator}")
    _compact_set(run, spec, measured, projected, add)
    max_norm = run.config.get("data", {}).get("max_norm")
    if max_norm is not None:
        add("data bound", max_norm <= spec.model.data_bound * (1 + 1e-6),
            f"largest ||x|| = {max_norm:.4g} against R_x = {spec.model.data_bound:g}")
    low, high = (run.config.get("data", {}).get(key) for key in ("min_value", "max_value"))
    if spec.model.data_range is not None and low is not None and high is not None:
        lo, hi = spec.model.data_range
        add("data range", lo <= low and high <= hi,
            f"coordinates in [{low:.4g}, {high:.4g}] against data_range [{lo:g}, {hi:g}]")
    _objective_gap(run, spec, theory["L_star"], measured, add)
    if "M" in theory:
        add("||H_k|| <= M", not measured["M"] > theory["M"],
            f"largest ||ghat_k|| = {measured['M']:.4g} against M = {theory['M']:.4g}")
    if "M_inf" in theory:
        if math.isfinite(measured["M_inf"]):
            add("|H_k,i| <= M_inf", not measured["M_inf"] > theory["M_inf"],
                f"largest |ghat_k,i| = {measured['M_inf']:.4g} against M_inf = {theory['M_inf']:.4g}")
        else:  # a run recorded before grad_abs_max: a coordinate is at most the norm
            add("|H_k,i| <= M_inf", not measured["M"] > theory["M_inf"],
                f"coordinates not recorded; largest ||ghat_k|| = {measured['M']:.4g} against M_inf = "
                f"{theory['M_inf']:.4g}")
    return out  # Adam's beta1 < beta2 is a condition of its bound, checked above


def _compact_set(run: Run, spec: VAESpec, measured: dict[str, float], projected: bool, add) -> None:
    """The parameters stay in the compact set: by projection, or as measured. A projected run meets the unprojected
    theorem only where the projection never acted; the projected theorem needs a Euclidean projection."""
    train, wb = run.config["train"], spec.weight_bound
    project = bool(train.get("project"))
    if project and projected:
        add("Euclidean projection onto a convex set", wb.kind in ("entrywise", "frobenius"),
            f"{wb.kind} set: " + ("the projection is Euclidean" if wb.kind != "spectral" else
                                  "rescaling by the spectral norm is a map into the set, not its Euclidean projection"))
        add("gradient mapping recorded", "grad_mapping_sq" in run.trace, "grad_mapping_sq column"
            if "grad_mapping_sq" in run.trace else "the run was recorded without grad_mapping_sq: train it again")
    elif project:
        acted = projection_acted(run.trace)
        add("projection never acted", acted is False,
            {None: "projection activity was not recorded", False: "every update stayed in the set",
             True: "the projection moved the iterate: the unprojected theorem does not describe this run"}[acted])
    if wb.kind == "entrywise":
        a_run = measured["a"]
        add("parameters in the compact set", project or a_run <= wb.a,
            f"largest ||theta||_inf, ||phi||_inf = {a_run:.4g} against a = {wb.a:g}"
            + (" (projected every step)" if project else ""))
    else:
        add("parameters in the compact set", project,
            "projected every step" if project else "per-layer norm bounds are checked only by projection")
    t = run.trace
    if spec.model.kind == "linear" and "logvar_low" in t and t["logvar_low"].notna().any():
        low, high = float(t["logvar_low"].min()), float(t["logvar_high"].max())
        m = spec.model
        add("log-variances in [logvar_min, logvar_max]", project or m.logvar_min <= low and high <= m.logvar_max,
            f"v in [{low:.4g}, {high:.4g}] against [{m.logvar_min:g}, {m.logvar_max:g}]")


def _objective_gap(run: Run, spec: VAESpec, L_star: float, measured: dict[str, float], add) -> None:
    """L_star must bound sup L - L(theta_0). Where the spec gives none it is certified: from the run's start
    (`compare.objective_gap`) or from the spec (sup - inf over the compact set), whichever is smaller; a given one is
    an assumption, confirmed where the run's certified gap is below it. The observed gain is only a lower bound on
    the gap: above L_star, the condition fails."""
    run_gap = run_objective_gap(run, spec)
    certified = run_gap.value if run_gap is not None else math.nan
    points = run.config.get("train", {}).get("eval_points")
    where = f"L(theta_0) measured on {points} training points" if points else "L(theta_0) as measured"
    observed = measured["L_star"]
    if observed > L_star:
        add("objective gap", False, f"the observed gain {observed:.4g} already exceeds L_star = {L_star:.4g}")
    elif spec.objective_gap is None and run_gap is not None and run_gap.certifies(L_star):
        add("objective gap", True, f"{run_gap.detail} (observed gain {observed:.4g})")
    elif spec.objective_gap is None:
        add("objective gap", True, f"certified from the spec: sup L - inf L over the compact set = {L_star:.4g} "
            f"(observed gain {observed:.4g})")
    elif certified <= L_star:
        add("objective gap", True, f"certified: sup L - L(theta_0) <= {certified:.4g} <= L_star = "
            f"{L_star:g} (the objective's upper bound minus its start; {where})")
    else:
        add("objective gap", False, f"L_star = {L_star:g} is an assumption the run cannot confirm: the "
            f"certified sup L - L(theta_0) <= {certified:.4g} exceeds it (observed gain {observed:.4g}, "
            f"a lower bound); set objective_gap >= {certified:.4g} for a verdict, or leave it out to have it "
            "certified from the spec")


def broken(conditions: list[Condition]) -> list[Condition]:
    return [c for c in conditions if not c.holds]
