"""L_star for one run, certified from its start: (an upper bound on the objective over all parameters) minus
(a lower bound on L(theta_0)). It bounds sup L - L(theta_0) for this run's own theta_0, which is what the theorems
use, and is often decades below the spec's certificate (sup - inf over the whole compact set)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from bounds.derive import objective_upper_bound
from bounds.spec import VAESpec
from empirical.runs import Run

SE_FACTOR = 3.0  # standard errors below an estimated L(theta_0): about 0.999 one-sided under the normal approximation


@dataclass(frozen=True)
class RunGap:
    """ceiling - (start - SE_FACTOR * start_se), and how it was obtained."""
    value: float
    ceiling: float
    start: float
    start_se: float

    @property
    def has_error_bar(self) -> bool:
        """False for a run recorded before objective_train_se: its start is used as measured (to confirm a given
        L_star, as then), but never to replace the spec's certificate."""
        return math.isfinite(self.start_se)

    def certifies(self, L_star: float) -> bool:
        """Whether this certificate is used in place of (or confirms) the spec's L_star: it has an error bar and is
        no larger."""
        return self.has_error_bar and self.value <= L_star

    @property
    def detail(self) -> str:
        se = ("exact" if self.start_se == 0 else f"minus {SE_FACTOR:g} standard errors ({self.start_se:.3g})"
              if self.has_error_bar else "as measured, no standard error recorded")
        return (f"certified from the run's start: objective ceiling {self.ceiling:.6g} minus L(theta_0) = "
                f"{self.start:.6g} ({se}) = {self.value:.4g}")


def run_objective_gap(run: Run, spec: VAESpec) -> RunGap | None:
    """The run's certified gap, or None where its trace cannot give one (no objective at step 0)."""
    t = run.trace
    if "objective_train" not in t or "step" not in t:
        return None
    start = t.loc[t["step"] == 0]
    if start.empty:
        return None
    value = float(start["objective_train"].iloc[0])
    se = float(start["objective_train_se"].iloc[0]) if "objective_train_se" in t else math.nan
    ceiling = objective_upper_bound(spec)
    if "objective_ceiling" in t:
        data = t["objective_ceiling"].dropna()
        if len(data):
            ceiling = min(ceiling, float(data.iloc[0]))
    if not (math.isfinite(value) and math.isfinite(ceiling)):
        return None
    gap = ceiling - value + (SE_FACTOR * se if math.isfinite(se) else 0.0)
    return RunGap(gap, ceiling, value, se) if gap > 0 else None  # <= 0: the estimate contradicts the ceiling
