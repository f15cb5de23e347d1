"""Floors of the tight tier: for each bound, the smallest worst-ratio (measured / bound) any single test recorded,
divided by MARGIN. A bound inflated by 10x drops every ratio 10x, below its floor, and the test fails.

Re-record after a deliberate change (a tighter bound raises the ratios; lower a floor only with a reason):
    VAEBOUND_RATIOS_OUT=ratios.json python -m pytest -q -m "slow or not slow"
then take min(worst) per name / MARGIN.
"""
from __future__ import annotations

MARGIN = 3.0

RECORDED: dict[str, float] = {}


def floor_for(name: str) -> float | None:
    recorded = RECORDED.get(name)
    return None if recorded is None else recorded / MARGIN
