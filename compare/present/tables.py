"""Tables as pandas DataFrames, and their text, Markdown, LaTeX and CSV forms."""
from __future__ import annotations

import math
from typing import Any, Sequence

import pandas as pd

from . import FORMATS
from ..rates import RateEstimate, combine
from ..tightness import Assessment



def tightness_table(assessments: Sequence[Assessment]) -> pd.DataFrame:
    """One row per run: settings, the bound and the measurement at the last step, verdicts, slope."""
    rows = []
    for a in assessments:
        s = a.summary()
        rows.append({"run": s["run"], "status": _status(s["status"]), "theorem": _theorem(a),
                     "optimizer": s["optimizer"], "objective": s["objective"], "B": s["B"],
                     "K": s["K"], "beta": s["beta"], "seed": s["seed"], "n": s["n"], "measured": s["measured"],
                     "bound": s["bound"], "applicable": s["applicable"],
                     "broken conditions": ", ".join(s["broken_conditions"]) or "-",
                     "tightness ratio": s["tightness_ratio"], "sound": a.verdict,
                     "a-posteriori bound": s["a_posteriori_bound"], "a-posteriori ratio": s["a_posteriori_ratio"],
                     f"certificate (delta={s['certificate_delta']:g})": s["certificate"],
                     "certificate ratio": s["certificate_ratio"],
                     "certificate carried by": carried_by(s["certificate_terms"], s.get("certificate_form")),
                     "certificate at measured L, G (diagnosis)": s["certificate_at_measured_constants"],
                     "fitted slope": s["fitted_slope"]})
    return pd.DataFrame(rows)


def carried_by(terms: dict[str, float | None], form: str | None = None) -> str:
    """The certificate's largest term and its share of the value ('reshuffling (99.9%)'), and the form that gave it
    ('noise (98.0%), estimate form'); '-' where there is none. The terms add up to the certificate, so each share is
    exact, not an attribution."""
    shown = {name: v for name, v in (terms or {}).items() if v is not None and math.isfinite(v) and v >= 0}
    total = sum(shown.values())
    if not total > 0:
        return "-"
    name = max(shown, key=shown.get)
    return f"{name} ({shown[name] / total:.1%})" + (f", {form} form" if form else "")


def orderings_table(order: pd.DataFrame) -> pd.DataFrame:
    """The orderings as a reader sees them: the held-out objective named with its sign (the negative objective,
    lower is better), the bound's order in words ('tie (bounds within 0.1%)')."""
    return order.drop(columns=["bound_tie", "bound_order_agrees"]).rename(columns={
        "nelbo": "held-out negative objective (nats/example)", "nelbo_claim": "paper's claim (negative objective)",
        "nelbo_agrees": "agrees (negative objective)", "bound_order": "bound order vs measured"})


def _status(status: str | None) -> str:
    """finished, diverged, or unfinished (interrupted or still running): a reader must see a cut-short run."""
    return status if status in ("finished", "diverged") else "unfinished"


def _theorem(a: Assessment) -> str:
    """Which theorem judged the run: its section in the derivations."""
    return a.form.reference.split("#")[-1] if a.form is not None else "-"


def slack_table(a: Assessment) -> pd.DataFrame:
    return a.slack.drop(columns=["what is measured"]) if len(a.slack) else a.slack


def conditions_table(a: Assessment) -> pd.DataFrame:
    return pd.DataFrame([{"condition": c.name, "holds": "yes" if c.holds else "NO", "detail": c.detail}
                         for c in a.conditions])


def rates_table(assessments: Sequence[Assessment]) -> pd.DataFrame:
    """Fitted slopes grouped over seeds (runs whose spec and settings agree but for the seed)."""
    from ..orderings import setting_key
    groups: dict[str, list[Assessment]] = {}
    for a in assessments:
        if a.slope is not None:
            groups.setdefault(setting_key(a, ()), []).append(a)
    rows = []
    for members in groups.values():
        est: RateEstimate = combine([m.slope for m in members])
        rows.append({"runs": ", ".join(m.label for m in members), "seeds": est.seeds, "fitted slope": est.slope,
                     "95% CI low": est.ci_low, "95% CI high": est.ci_high, "theory": -0.5, "verdict": est.verdict})
    return pd.DataFrame(rows)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return str(value)


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""
    cells = [[_cell(v).replace("|", "\\|") for v in row] for row in df.itertuples(index=False)]
    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    return "\n".join([head, rule] + ["| " + " | ".join(r) + " |" for r in cells])


def to_latex(df: pd.DataFrame) -> str:
    """A booktabs LaTeX tabular."""
    return df.map(_cell).to_latex(index=False, escape=True)


def render(df: pd.DataFrame, fmt: str) -> str:
    """The table as text, markdown, latex or csv (json is the caller's: it carries more than a table)."""
    if fmt == "text":
        return df.map(_cell).to_string(index=False) if len(df) else "(empty)"
    if fmt == "markdown":
        return to_markdown(df)
    if fmt == "latex":
        return to_latex(df)
    if fmt == "csv":
        return df.to_csv(index=False)
    raise ValueError(f"format={fmt!r} is invalid: must be one of {', '.join(f for f in FORMATS if f != 'json')}")
