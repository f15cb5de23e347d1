"""What the probes measure on, and when: the log-spaced probe steps, the full-gradient probe's subsample under the
probe budget, and the fixed evaluation subsets of the objectives.

The full-gradient probe is the one whose cost grows with the data set: R replicates of a gradient over all N training
points cost R N example-gradients, at every probe. On a small data set (up to `FULL_DATA_UP_TO` points) it keeps the
whole set. Beyond, each replicate takes an independent uniform random subset of m points (with fresh noise): each
replicate is still an unbiased estimate of grad L, so the U-statistic of their inner products stays unbiased for
||grad L||^2, and its jackknife standard error now carries the subsampling too. m is `TrainConfig.probe_points`, or
chosen so that this probe's work over the run, probes x R x m example-gradients, is at most `probe_budget` times the
training's, steps x B (never below `MIN_SUBSAMPLE`). The subsample depends on counts only, not on timings.

The probe budget in time (`within_budget`): on a training set of more than `FULL_DATA_UP_TO` points, the probes
together keep to `probe_budget` of the training's time. Each of the P scheduled probes owns 1/P of the allowance
(probe_budget x the training's projected time, from the seconds per step so far), so that a probe is taken once the
probes before it and this one (costed as the median of those after the first, which also pays the warm-up) fit the
share of the probes up to it: the allowance is spread over the log-spaced schedule instead of being spent on its
first steps. Every probe counts, the first's warm-up included, so a short run on a large network may get only its
first and last probes: raise probe_budget (or give None) to buy more. The first and the last step are always
probed. A skipped probe is marked in its row (`probe_skipped`); training never depends on it (probes draw from
their own generator), so the training trace is the same whatever the budget decides. Small training sets are not
budgeted, so that their runs reproduce probe for probe.
"""
from __future__ import annotations

from typing import Any

import numpy as np

FULL_DATA_UP_TO = 4096  # training sets up to this size are probed whole
MIN_SUBSAMPLE = 256     # points per full-gradient replicate at the least (its standard error grows as 1/sqrt(m))


def probe_steps(n_steps: int, count: int) -> list[int]:
    """`count` log-spaced steps in [0, n_steps], always with 0 and n_steps."""
    raw = np.unique(np.round(np.geomspace(1, n_steps + 1, count)).astype(int) - 1)
    return sorted(set(raw.tolist()) | {0, n_steps})


def full_gradient_points(config: Any, n_train: int, n_steps: int, B: int) -> int:
    """m, the training points of each full-gradient replicate (n_train: the whole set)."""
    if config.probe_points is not None:
        return min(config.probe_points, n_train)
    if config.probe_budget is None or n_train <= FULL_DATA_UP_TO:
        return n_train
    probes = len(probe_steps(n_steps, config.probes))
    affordable = int(config.probe_budget * n_steps * B / (probes * config.full_grad_replicates))
    return int(min(n_train, max(MIN_SUBSAMPLE, affordable)))


def evaluation_subset(n: int, points: int, seed: int):
    """The rows the objectives are evaluated on: all n, or the first `points` of a permutation seeded by the run's
    seed (the same rows at every probe, so the curve compares like with like; a random sample, so the standard error
    means what it says even when the file's order is not random: MNIST's test images come in writer blocks)."""
    import torch
    if points >= n:
        return slice(None)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:points]


def budgeted(config: Any, n_train: int) -> bool:
    """Whether a run's probes keep to the time budget: a budget is set and the training set is large."""
    return config.probe_budget is not None and n_train > FULL_DATA_UP_TO


def take_probe(config: Any, n_train: int, schedule: list[int], step: int, rows: list[dict[str, Any]],
               elapsed: float) -> bool:
    """Whether to take the probe scheduled at `step`: always on a small training set, without a budget, and at the
    first and last step; else where it fits the budget (`within_budget`)."""
    return (not budgeted(config, n_train) or step in (schedule[0], schedule[-1])
            or within_budget(config.probe_budget, schedule, step, rows, elapsed))


def within_budget(budget: float, schedule: list[int], step: int, rows: list[dict[str, Any]], elapsed: float) -> bool:
    """Whether the probe scheduled at `step` fits: the probes so far (the rows' probe_seconds) plus this one within
    its share (index + 1) / len(schedule) of budget x the training's projected seconds (elapsed minus the probes,
    per step so far, times the run's steps)."""
    if step == 0:
        return True
    spent = [r["probe_seconds"] for r in rows if r.get("probe_seconds") is not None]
    probe_seconds = float(sum(spent))
    projected = (elapsed - probe_seconds) / step * schedule[-1]
    share = (schedule.index(step) + 1) / len(schedule)
    # This probe's cost: the median of the probes after the first (which also pays the process's warm-up of the
    # probes' kernels), or the first's while there are none.
    cost = float(np.median(spent[1:] if len(spent) > 1 else spent)) if spent else 0.0
    return probe_seconds + cost <= budget * projected * share
