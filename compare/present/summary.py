"""A comparison as text: the JSON summary of assessments, and the tightness, rates and orderings tables as text,
Markdown, LaTeX or CSV (what `vaebound compare` prints and `outputs` writes)."""
from __future__ import annotations

import json
import math
from typing import Any, Sequence

from ..orderings import orderings
from ..tightness import Assessment
from .tables import orderings_table, rates_table, render, tightness_table


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def as_json(assessments: Sequence[Assessment]) -> str:
    """{"runs": [per-run summary], "rates": [...], "orderings": [...]}; NaN becomes null and infinity "inf"."""
    data = {"runs": [a.summary() for a in assessments],
            "rates": rates_table(assessments).to_dict(orient="records"),
            "orderings": orderings(assessments).to_dict(orient="records")}
    return json.dumps(_json_safe(data), indent=1, default=str)


def as_text(assessments: Sequence[Assessment], fmt: str) -> str:
    table = tightness_table(assessments)
    if fmt == "csv":
        return render(table, "csv")
    sections = [("Tightness (bound / measured; >= 1: the bound held)", table),
                ("Rates (slope of the running average, log-corrected; theory -1/2)", rates_table(assessments))]
    order = orderings(assessments)
    if len(order):
        sections.append(("Orderings (bounds within 0.1% of each other are ties)", orderings_table(order)))
    out = []
    for title, df in sections:
        if fmt == "markdown":
            out.append(f"## {title}\n\n{render(df, fmt)}\n")
        elif fmt == "latex":
            out.append(f"% {title}\n{render(df, fmt)}")
        else:
            out.append(f"{title}\n{render(df, fmt)}\n")
    for a in assessments:
        if a.sound is False:
            out.append(f"WARNING: run {a.label}: the measurement EXCEEDED the bound ({len(a.violations)} steps or a "
                       "constant check): a derivation or a measurement is wrong")
    return "\n".join(out)
