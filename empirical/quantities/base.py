"""What a measured quantity is: the trace columns it writes, when it is measured, how, and which constant of a bound
it measures (Cockpit's quantities are the model: one small object per quantity, one file each)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from bounds.spec import VAESpec

STEP, PROBE, EPOCH = "step", "probe", "epoch"  # every step (inside the trainer's one host sync), probe steps, epoch ends


@dataclass(frozen=True)
class ProbeContext:
    """What a probe sees at step k: the iterate, the data, and a generator of its own (seeded from (seed, k)), so that
    probing never changes the training noise."""
    spec: "VAESpec"
    config: Any  # the run's TrainConfig (not imported: the config validates quantity names against this package)
    flat: "torch.Tensor"
    X: "torch.Tensor"
    X_test: "torch.Tensor"
    generator: "torch.Generator"
    K: int  # draws per data point at this step (the K schedule)
    step: int = 0
    full_grad_points: int | None = None  # training points per full-gradient replicate (None: all; probe_plan)
    start: "torch.Tensor | None" = None  # theta_0, at the run's last probe: the objective's gain from it is measured


@dataclass(frozen=True)
class Constant:
    """A constant of the theorem and how a finished trace measures it (NaN where the trace lacks the columns)."""
    name: str
    description: str
    from_trace: Callable[["pd.DataFrame"], float]


@dataclass(frozen=True)
class Quantity:
    """One measured quantity.

    columns: trace column -> what it holds (a column name ending in '.<layer>' stands for one column per layer).
    when: `step` (computed by the trainer's step, listed here for its documentation and its constant), `probe` (at
    the log-spaced probe steps, by `measure`) or `epoch`. order: probes run in this order (they share one generator,
    so the order fixes what each draws). default: measured unless the training settings say otherwise; a quantity
    that is not default is measured when its name is in `TrainConfig.quantities`. constant: the bound constant the
    quantity measures, if any.
    """
    name: str
    columns: Mapping[str, str]
    when: str = PROBE
    order: int = 100
    default: bool = True
    constant: Constant | None = None
    measure: Callable[[ProbeContext], dict[str, Any]] | None = None
    enabled_by: Callable[[Any], bool] | None = field(default=None, compare=False)

    def enabled(self, config: Any) -> bool:
        """Whether a run with these training settings measures this quantity."""
        if self.when != PROBE:
            return True
        if self.name in config.quantities:
            return True
        if self.enabled_by is not None:
            return self.enabled_by(config)
        return self.default


def column_max(trace: "pd.DataFrame", column: str) -> float:
    """The largest finite value of a column (NaN if it has none)."""
    import numpy as np
    if column not in trace:
        return float("nan")
    v = trace[column].to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    return float(v.max()) if len(v) else float("nan")
