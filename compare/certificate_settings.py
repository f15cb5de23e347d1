"""The settings at which the run's certificate evaluates its derived constants, read off the trace: each step's segment
[theta_k, theta_{k+1}] and iterate theta_k, on the entry-wise box and on the layers' recorded norms (Frobenius, the
certified spectral bounds), so that every constant is taken at the least of the sets that hold the path; and the spec
fitted to the run's own data (`fitted_to_data`)."""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

from bounds import symbols as S
from bounds.spec import ParameterBound


def segment_values(spec: Any, t: pd.DataFrame, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The settings of each step's segment [theta_k, theta_{k+1}] (for L_k) and of theta_k (for G_k): the box a as the
    larger entry-wise norm, and the log-variances' range where they are parameters (linear VAE, black-box VI)."""
    a = np.maximum(t["inf_norm_theta"].to_numpy(float), t["inf_norm_phi"].to_numpy(float))
    seg = {**values, "a": np.maximum(a[:-1], a[1:])}
    point = {**values, "a": a[:-1]}
    if spec.layout.logvars is not None and "logvar_low" in t:
        low, high = t["logvar_low"].to_numpy(float), t["logvar_high"].to_numpy(float)
        high = np.maximum(high, low + 1e-9)  # a degenerate range (every v equal) as a tiny interval
        seg.update(logvar_min=np.minimum(low[:-1], low[1:]), logvar_max=np.maximum(high[:-1], high[1:]))
        point.update(logvar_min=low[:-1], logvar_max=high[:-1])
    return seg, point


LAYER_NORMS = (("frobenius", "frobenius_norm"), ("spectral", "spectral_bound"))  # (norm kind, its trace column)


def _layered_spec(spec: Any, t: pd.DataFrame, kind: str, column: str) -> Any | None:
    """The spec with per-layer bounds of this kind in place of the box, where the trace has every layer's per-step
    norms of that kind (`column`) and biases (the trainer records them) and the derivation covers per-layer norms;
    else None."""
    names = [slot.name for slot in spec.layout]
    if spec.model.kind == "logistic" or any(f"{column}.{n}" not in t or f"bias_norm.{n}" not in t for n in names):
        return None
    if not all(np.isfinite(t[f"{column}.{n}"].to_numpy(float)).all() for n in names):
        return None  # runs recorded before the column existed, resumed after: no value at some steps
    # The values are the path's norms; the spec's own are its largest, where the derivation picks between a bounded
    # layer's cap and its affine bound (`bounds.objectives.pieces.value_choice`): both hold, one is tighter there.
    largest = lambda col: tuple(max(float(t[f"{col}.{n}"].max()), 1e-12) for n in names)
    return dataclasses.replace(spec, weight_bound=ParameterBound(kind, layer_norms=largest(column),
                                                                 bias_norms=largest("bias_norm")))


def _norm_values(spec: Any, t: pd.DataFrame, seg: dict[str, Any], point: dict[str, Any],
                 column: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The segment's and the point's settings with each layer's norm (from `column`) and bias norm: at the segment,
    the larger of the two ends (a norm is convex)."""
    seg, point = dict(seg), dict(point)
    for i, slot in enumerate(spec.layout):
        for symbol, name in ((S.layer_norm_symbol(i).name, f"{column}.{slot.name}"),
                             (S.bias_norm_symbol(i).name, f"bias_norm.{slot.name}")):
            x = t[name].to_numpy(float)
            seg[symbol], point[symbol] = np.maximum(x[:-1], x[1:]), x[:-1]
    return seg, point


def least_over_norms(spec: Any, t: pd.DataFrame, seg: dict[str, Any], point: dict[str, Any],
                      evaluate) -> tuple[np.ndarray, ...]:
    """evaluate(spec, seg, point) -> arrays, on the box and again on the iterates' own layer norms where the trace has
    them (Frobenius, certified spectral): every one holds, so the elementwise least is used."""
    out = evaluate(spec, seg, point)
    for kind, column in LAYER_NORMS:
        layered = _layered_spec(spec, t, kind, column)
        if layered is not None:
            seg_l, point_l = _norm_values(spec, t, seg, point, column)
            out = tuple(np.minimum(a, b) for a, b in zip(out, evaluate(layered, seg_l, point_l)))
    return out


def fitted_to_data(run: Any) -> Any:
    """The run's spec with R_x the largest ||x|| of its own data (recorded, train and held-out; a 1e-6 margin for the
    float32 copy it trained on) and the data's range its training points' smallest and largest coordinates: a run
    draws only its training points, so the constants need hold only there. Inside the spec's bounds this tightens
    every constant; outside them, it is what makes them valid. Black-box VI keeps its spec."""
    spec, data = run.spec, run.config.get("data") or {}
    largest, low, high = (data.get(key) for key in ("max_norm", "min_value", "max_value"))
    if spec.model.kind == "logistic" or not largest or not math.isfinite(largest):
        return spec
    model = dataclasses.replace(spec.model, data_bound=float(largest) * (1 + 1e-6))
    if low is not None and high is not None and math.isfinite(low) and math.isfinite(high) and low < high:
        margin = 1e-6 * max(abs(low), abs(high))
        model = dataclasses.replace(model, data_range=(float(low) - margin, float(high) + margin))
    return dataclasses.replace(spec, model=model)
