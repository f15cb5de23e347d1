"""Orderings: across runs that differ in one setting (beta, K, B, sharpness s, optimiser, estimator), does the measured
ordering agree with the bound's ordering and with the paper's claims? Spearman rank correlations.

Whether an ordering is resolved beyond seed noise is a permutation test on the individual runs (seeds not averaged):
the null hypothesis is that the measured value does not depend on the factor, so that any assignment of the runs to
the factor's values is as likely as the observed one. The statistic is |Spearman| between the factor and the runs'
measurements (a numeric factor) or the Kruskal-Wallis H (a categorical one); the p-value is exact (every
permutation) up to eight runs and a Monte-Carlo estimate above. Two values with two seeds each can never reach
p < 0.05 (p >= 1/3): such an ordering is reported as not resolved, whatever its sign.

Bounds that differ by less than a relative `BOUND_TIE_RTOL` (0.1%) are ties: a bound tens of decades above its
measurement does not order two settings by a difference in its fourth digit, and such differences are often the
rounding of a long expression. The table says so (`bound_order`: "tie (bounds within 0.1%)").

The sharpness family s holds the soft-clipping runs by their s and, beside them, the runs of another hidden
activation (ReLU, the paper's baseline) by its name: their measurements enter the paper's claim about s = 5 (the
lowest of the whole family), the rank correlations use the soft-clipping runs only, and the permutation test is the
categorical one when the family mixes them.

The measured quantity is the theorem's running average at the last step (mean over seeds), and beside it the
held-out negative objective at the last probe (the paper's claims about K and s are about it); the bound is the
derived bound at the same n (a-posteriori where the derived one does not apply is not used: orderings compare
the theory as stated).
"""
from __future__ import annotations

import itertools
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
def sharpness(spec: Any) -> Any:
    """A run's value in the s family: soft-clipping's s, or the activation's name (its own s where it reads one)."""
    act = spec.model.activation
    if act.name == "softclip":
        return float(act.s)
    return f"softplus(s={act.s:g})" if act.name == "softplus" else act.name


FACTORS: dict[str, tuple[Callable[[Any], Any], tuple[tuple[str, ...], ...], str]] = {
    **{name: (setting.read, (setting.path,), setting.claim) for name, setting in ordering_factors().items()},
    "optimizer": (lambda s: s.optimizer.name, (("optimizer",),), "no claim"),
    "estimator": (lambda s: s.estimator, (("estimator",),), "no claim"),
}
# the s family spans the activation's name too, so that ReLU sits beside the soft-clipping runs it is compared with
FACTORS["s"] = (sharpness, (("model", "activation", "s"), ("model", "activation", "name")), FACTORS["s"][2])
EXPECTED_SIGN = {name: setting.sign for name, setting in ordering_factors().items() if setting.sign}
# The paper's experimental claims about the held-out negative objective (negative ELBO, or IWAE bound).
NELBO_CLAIMS = {"K": "larger K gives a lower negative ELBO", "s": "s = 5 gives the lowest negative ELBO"}
BOUND_TIE_RTOL = 1e-3  # bounds closer than this (relative) are ties: no ordering is read from the fourth digit
SIGNIFICANCE = 0.05  # an ordering is resolved beyond seed noise when its permutation p-value is below this
EXACT_UP_TO = 8  # runs: up to 8! = 40,320 permutations are enumerated; above, MONTE_CARLO random ones
MONTE_CARLO = 20_000


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


def merge_ties(values: Sequence[float], rtol: float = BOUND_TIE_RTOL) -> np.ndarray:
    """values with each one within rtol (relative) of the smallest member of its group replaced by that member
    (groups formed in sorted order), so that rank statistics see them as ties."""
    v = np.asarray(values, dtype=float)
    out = v.copy()
    order = np.argsort(v, kind="stable")
    anchor = None
    for i in order:
        if not math.isfinite(v[i]):
            continue
        if anchor is not None and abs(v[i] - anchor) <= rtol * max(abs(anchor), abs(v[i])):
            out[i] = anchor
        else:
            anchor = v[i]
    return out


def bound_order_text(tie: bool, agrees: bool | None) -> str:
    """The bound's ordering against the measured one in words: 'agrees', 'disagrees', 'tie (bounds within 0.1%)', or
    '-' (fewer than two bounds, or no measured order)."""
    if tie:
        return f"tie (bounds within {BOUND_TIE_RTOL:.1%})"
    return "-" if agrees is None else ("agrees" if agrees else "disagrees")


def _statistics(labels: np.ndarray, ranks: np.ndarray, numeric: bool) -> np.ndarray:
    """The test statistic for each row of `ranks` (permuted ranks of the measurements, one row per assignment):
    |Spearman| against the factor's ranks, or the Kruskal-Wallis H without its tie correction (a constant factor
    for every permutation, so the p-value is unchanged)."""
    if numeric:
        x = stats.rankdata(labels) - (len(labels) + 1) / 2
        r = ranks - ranks.mean(axis=1, keepdims=True)
        denominator = np.sqrt((x ** 2).sum() * (r ** 2).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nan_to_num(np.abs(r @ x) / denominator)
    n = len(labels)
    h = np.zeros(len(ranks))
    for g in set(labels.tolist()):
        members = labels == g
        h += ranks[:, members].sum(axis=1) ** 2 / members.sum()
    return 12 / (n * (n + 1)) * h - 3 * (n + 1)


def permutation_p_value(labels: Sequence[Any], measured: Sequence[float], numeric: bool, seed: int = 0) -> float:
    """P(statistic >= observed) when the runs' measurements are assigned to the factor's values at random (the
    observed assignment counts once): exact up to EXACT_UP_TO runs, else MONTE_CARLO random permutations."""
    y = np.asarray(measured, dtype=float)
    ok = np.isfinite(y)
    lab = np.asarray(labels, dtype=float if numeric else object)[ok]
    y = y[ok]
    if len(y) < 3 or len(set(lab.tolist())) < 2:
        return math.nan
    ranks = stats.rankdata(y)
    observed = _statistics(lab, ranks[None, :], numeric)[0] * (1 - 1e-9)  # ties with it count as extreme
    if len(y) <= EXACT_UP_TO:
        permuted = ranks[np.array(list(itertools.permutations(range(len(y)))))]
        return float(np.mean(_statistics(lab, permuted, numeric) >= observed))
    rng = np.random.default_rng(seed)
    permuted = ranks[np.argsort(rng.random((MONTE_CARLO, len(y))), axis=1)]
    return float((1 + np.sum(_statistics(lab, permuted, numeric) >= observed)) / (1 + MONTE_CARLO))


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
            number = [not isinstance(v, str) for v in values]  # s: the soft-clipping runs (ReLU beside them)
            numeric = all(number)
            on_numbers = lambda seq: [x for x, is_number in zip(seq, number) if is_number]
            rho_f = _spearman(on_numbers(values), on_numbers(measured)) if any(number) else math.nan
            agrees: bool | None = None
            if factor in EXPECTED_SIGN and math.isfinite(rho_f):
                agrees = bool(np.sign(rho_f) == EXPECTED_SIGN[factor])
            elif factor == "s" and 5 in values:
                agrees = bool(values[int(np.argmin(measured))] == 5)
            runs = [(v, m.average.final()[1]) for v in values for m in members[v]]
            p_value = permutation_p_value([r[0] for r in runs], [r[1] for r in runs], numeric)
            resolved = None if math.isnan(p_value) else bool(p_value < SIGNIFICANCE)
            ranked_bound = merge_ties(bound)
            finite_bound = ranked_bound[np.isfinite(ranked_bound)]
            bound_tie = bool(len(finite_bound) > 1 and np.all(finite_bound == finite_bound[0]))
            rho_b = _spearman(ranked_bound, measured)
            nelbo = [float(np.mean([_final_nelbo(m) for m in members[v]])) for v in values]
            nelbo_agrees: bool | None = None
            if factor == "K" and numeric:
                rho_n = _spearman(values, nelbo)
                nelbo_agrees = None if math.isnan(rho_n) else bool(rho_n < 0)
            elif factor == "s" and 5 in values and np.isfinite(nelbo).any():
                nelbo_agrees = bool(values[int(np.nanargmin(nelbo))] == 5)
            order_agrees = None if bound_tie or math.isnan(rho_b) else bool(rho_b > 0)
            rows.append({"factor": factor, "values": values, "measured": measured, "bound": bound,
                         "seeds": [len(members[v]) for v in values], "rank_corr_factor_measured": rho_f,
                         "p_value": p_value, "resolved": resolved, "bound_tie": bound_tie,
                         "paper_claim": claim, "agrees_with_paper": agrees, "rank_corr_bound_measured": rho_b,
                         "bound_order_agrees": order_agrees,
                         "bound_order": bound_order_text(bound_tie, order_agrees),
                         "nelbo": nelbo, "nelbo_claim": NELBO_CLAIMS.get(factor, "no claim"),
                         "nelbo_agrees": nelbo_agrees})
    table = pd.DataFrame(rows, columns=["factor", "values", "measured", "bound", "seeds", "rank_corr_factor_measured",
                                        "p_value", "resolved", "bound_tie", "paper_claim", "agrees_with_paper",
                                        "rank_corr_bound_measured", "bound_order_agrees", "bound_order",
                                        "nelbo", "nelbo_claim",
                                        "nelbo_agrees"])
    # Verdicts stay Python True / False / None (pandas would make an all-bool column numpy bools).
    return table.astype({"agrees_with_paper": object, "bound_order_agrees": object, "nelbo_agrees": object,
                         "resolved": object})
