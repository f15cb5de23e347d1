"""The certificate's free choices, made after the run: among the martingale's candidates (theta, its bound) and the
two Young's inequalities' weights, eta (the truncation's bias and the ghost's gap) and, for an adaptive run, eta_2
(the preconditioner's lag), the smallest right side divided by its left side's factor (docs/derivations.md, "A
certificate for the run" and "A certificate for an adaptive run"). Every choice holds at once (the inequalities
they weigh are deterministic, path by path, or already under the union of the martingale's grids), so choosing
costs no probability."""
from __future__ import annotations

from typing import Any

import numpy as np

ETA2_GRID = np.geomspace(1e-3, 0.5, 28)  # Young's weights tried for the lag and transport (besides none)


def best_eta(fixed: np.ndarray, b: float, c: np.ndarray) -> np.ndarray:
    """The eta in (0, c) that minimises (fixed + b / eta) / (c - eta): the root of fixed eta^2 + 2 b eta - b c = 0
    (gamma ||grad L|| beta <= eta gamma ||grad L||^2 + gamma beta^2 / (4 eta) holds for every eta > 0 at once)."""
    fixed, c = np.asarray(fixed, dtype=float), np.asarray(c, dtype=float)
    if b <= 0:
        return np.zeros(np.broadcast(fixed, c).shape)
    safe = np.where(fixed > 0, fixed, 1.0)
    return np.where(fixed > 0, (-b + np.sqrt(b * b + safe * b * c)) / safe, c / 2)


def young_options(terms: dict[str, float], lag_steps: tuple[np.ndarray, np.ndarray] | None,
                  transport_steps: tuple[np.ndarray, ...] | None) -> list[tuple[float, float, dict[str, float]]]:
    """(the left side's share taken, eta_2, the adaptive terms) for each way of bounding the preconditioner's lag and
    the momentum's transport: Cauchy-Schwarz at Gbar (the form's own terms, nothing taken), or, for each e of the grid,
    step by step the smaller of that and Young's coefficient / e, which takes e of the left side (the lag) and 2 e (the
    transport's two parts)."""
    plain = {k: terms[k] for k in ("preconditioner lag", "momentum transport") if k in terms}
    out = [(0.0, 0.0, plain)]
    for e in ETA2_GRID if lag_steps is not None else ():
        least = lambda schwarz, young: float(np.minimum(schwarz, young / e).sum())
        lag = {"preconditioner lag": least(*lag_steps)}
        out.append((float(e), float(e), {**plain, **lag}))
        if transport_steps is not None:
            k_cs, k_young, j_cs, j_young = transport_steps
            moved = {"momentum transport": least(k_cs, k_young) + least(j_cs, j_young)}
            out += [(2 * float(e), float(e), {**plain, **moved}), (3 * float(e), float(e), {**lag, **moved})]
    return out


def best_of(best: tuple | None, candidates: list[tuple[float, float]], gain: float, curvature: float,
            extra: dict[str, float], bias: float, truncation: float, total: float, ghost: bool, kappa: Any,
            family: str, lag_steps: tuple[np.ndarray, np.ndarray] | None = None,
            transport_steps: tuple[np.ndarray, ...] | None = None) -> tuple | None:
    """The smallest certificate among `best` and the candidates (theta, noise), each at its best eta and its best
    way of bounding the adaptive terms (`young_options`): (theta, the terms, eta, kappa, family, the Young weight e)."""
    if not candidates:
        return best
    theta, noise = (np.array(column, dtype=float) for column in zip(*candidates))
    others = {k: v for k, v in extra.items() if k not in ("preconditioner lag", "momentum transport")}
    for taken, eta2, adaptive in young_options(extra, lag_steps, transport_steps):
        fixed = gain + curvature + noise + sum(others.values()) + sum(adaptive.values())
        room = 1 - theta / 2 - taken
        eta = best_eta(fixed, bias, np.maximum(room, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            value = (fixed + np.where(eta > 0, bias / eta, 0.0)) / ((room - eta) * total)
        value = np.where((room > 0) & (room - eta > 0), value, np.inf)
        i = int(np.argmin(value))
        if not np.isfinite(value[i]) or (best is not None and value[i] >= sum(best[1].values())):
            continue
        scale = 1 / float((room[i] - eta[i]) * total)
        e = float(eta[i])
        parts = {"objective gain": gain * scale, "step curvature": curvature * scale, "noise": float(noise[i]) * scale,
                 "truncation": (truncation / e if e > 0 else 0.0) * scale,
                 **{k: v * scale for k, v in {**others, **adaptive}.items()}}
        if ghost:  # the ghost's gap: the rest of bias / eta (added to, never in place of, a reshuffling term)
            parts["reshuffling"] = parts.get("reshuffling", 0.0) + ((bias - truncation) / e if e > 0 else 0.0) * scale
        best = (float(theta[i]), parts, e, kappa, family, eta2)
    return best
