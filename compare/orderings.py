"""Orderings: across runs that differ in one setting (beta, K, B, sharpness s, optimiser, estimator), does the measured
ordering agree with the bound's ordering and with the paper's claims? Spearman rank correlations.

The measured quantity is the theorem's running average at the last step (mean over seeds), and beside it the
held-out negative objective at the last probe (the paper's claims about K and s are about it); the bound is the
derived bound at the same n (a-posteriori where the derived one does not apply is not used: orderings compare
the theory as stated).
"""
from __future__ import annotations

import json
import math
import warnings
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from bounds.registry import ordering_factors
from .tightness import Assessment

# factor -> (value of a spec, the spec-dict paths it occupies, the paper's claim). The numeric factors are the
# registry's settings with a claim; the optimiser and the estimator are categorical (no symbol) and drop their
# whole spec section from the family key.
FACTORS: dict[str, tuple[Callable[[Any], Any], tuple[tuple[str, ...], ...], str]] = {
    **{name: (setting.read, (setting.path,), setting.claim) for name, setting in ordering_factors().items()},
    "optimizer": (lambda s: s.optimizer.name, (("optimizer",),), "no claim"),
    "estimator": (lambda s: s.estimator, (("estimator",),), "no claim"),
}
EXPECTED_SIGN = {name: setting.sign for name, setting in ordering_factors().items() if setting.sign}
# The paper's experimental claims about the held-out negative objective (negative ELBO, or IWAE bound).
NELBO_CLAIMS = {"K": "larger K gives a lower negative ELBO", "s": "s = 5 gives the lowest negative ELBO"}


def _final_nelbo(a: Assessment) -> float:
    held = a.run.trace["objective_test"].dropna() if "objective_test" in a.run.trace else []
    return -float(held.iloc[-1]) if len(held) else math.nan


def setting_key(a: Assessment, drop: tuple[tuple[str, ...], ...]) -> str:
    """What identifies a run's setting apart from its seed and the spec paths in `drop` (runs sharing it are
    seeds of one setting, or members of one family)."""
    spec = a.spec.to_dict()
    spec.pop("seed", None)
    for path in drop:
        node = spec
        for part in path[:-1]:
            node = node.get(part, {})
        node.pop(path[-1], None)
    train = dict(a.run.config.get("train", {}))
    return json.dumps({"spec": spec, "train": train, "data": a.run.config.get("data", {}).get("name")},
                      sort_keys=True, default=str)


def _spearman(x: Sequence[float], y: Sequence[float]) -> float:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(x[ok], y[ok]).statistic)


def orderings(assessments: Sequence[Assessment]) -> pd.DataFrame:
    """One row per family of runs that differ in exactly one factor (seeds averaged)."""
    rows = []
    for factor, (get, paths, claim) in FACTORS.items():
        groups: dict[str, dict[Any, list[Assessment]]] = {}
        for a in assessments:
            groups.setdefault(setting_key(a, paths), {}).setdefault(get(a.spec), []).append(a)
        for members in groups.values():
            if len(members) < 2:
                continue
            values = sorted(members, key=lambda v: (isinstance(v, str), v))
            measured = [float(np.mean([m.average.final()[1] for m in members[v]])) for v in values]
            bound = [float(np.mean([m.bound_curve[-1] for m in members[v]])) for v in values]
            numeric = not isinstance(values[0], str)
            rho_f = _spearman(values, measured) if numeric else math.nan
            agrees: bool | None = None
            if factor in EXPECTED_SIGN and math.isfinite(rho_f):
                agrees = bool(np.sign(rho_f) == EXPECTED_SIGN[factor])
            elif factor == "s" and 5 in values:
                agrees = bool(values[int(np.argmin(measured))] == 5)
            rho_b = _spearman(bound, measured)
            nelbo = [float(np.mean([_final_nelbo(m) for m in members[v]])) for v in values]
            nelbo_agrees: bool | None = None
            if factor == "K" and numeric:
                rho_n = _spearman(values, nelbo)
                nelbo_agrees = None if math.isnan(rho_n) else bool(rho_n < 0)
            elif factor == "s" and 5 in values:
                nelbo_agrees = bool(values[int(np.nanargmin(nelbo))] == 5)
            rows.append({"factor": factor, "values": values, "measured": measured, "bound": bound,
                         "seeds": [len(members[v]) for v in values], "rank_corr_factor_measured": rho_f,
                         "paper_claim": claim, "agrees_with_paper": agrees, "rank_corr_bound_measured": rho_b,
                         "bound_order_agrees": None if math.isnan(rho_b) else bool(rho_b > 0),
                         "nelbo": nelbo, "nelbo_claim": NELBO_CLAIMS.get(factor, "no claim"),
                         "nelbo_agrees": nelbo_agrees})
    table = pd.DataFrame(rows, columns=["factor", "values", "measured", "bound", "seeds", "rank_corr_factor_measured",
                                        "paper_claim", "agrees_with_paper", "rank_corr_bound_measured",
                                        "bound_order_agrees", "nelbo", "nelbo_claim", "nelbo_agrees"])
    # Verdicts stay Python True / False / None (pandas would make an all-bool column numpy bools).
    return table.astype({"agrees_with_paper": object, "bound_order_agrees": object, "nelbo_agrees": object})
