"""Shared fixtures. `tightness` is the two tiers every bound test has (PEPit's habit):

- valid: the test itself asserts bound >= measurement;
- tight: the worst measured/bound ratio a test records for a bound must stay above that bound's floor in
  `tests/floors.py` (recorded from the measured ratios with a margin), so a bound made 10x looser fails.

The worst ratio of each bound over the run is printed at the end: 1.0 would be a tight bound, > 1.0 a violation.
Set VAEBOUND_RATIOS_OUT=file.json to write every test's worst ratios (to re-record the floors). Under pytest-xdist
(`make test` runs one worker per core) each worker sends its ratios to the controller, which prints and writes them
all.
"""
from __future__ import annotations

import json
import os

import pytest

from tests.floors import floor_for

_RATIOS: dict[str, tuple[float, int]] = {}
_PER_TEST: list[dict] = []


class Tightness:
    def __init__(self) -> None:
        self.local: dict[str, float] = {}

    def record(self, name: str, measured: float, bound: float) -> None:
        if bound > 0:
            ratio = measured / bound
        elif measured == 0:  # 0 <= 0: valid, but says nothing of tightness (it would mask a looser bound elsewhere)
            return
        else:
            ratio = float("inf")
        worst, count = _RATIOS.get(name, (0.0, 0))
        _RATIOS[name] = (max(worst, ratio), count + 1)
        self.local[name] = max(self.local.get(name, 0.0), ratio)

    def check_tight(self) -> list[str]:
        """The bounds whose worst ratio in this test fell below their floor."""
        out = []
        for name, worst in self.local.items():
            floor = floor_for(name)
            if floor is None:
                out.append(f"{name}: no floor recorded in tests/floors.py (every bound needs a tight test)")
            elif worst < floor:
                out.append(f"{name}: worst measured/bound {worst:.3e} is below its floor {floor:.3e} "
                           "(the bound got looser)")
        return out


@pytest.fixture
def tightness(request) -> Tightness:
    t = Tightness()
    yield t
    _PER_TEST.extend({"test": request.node.nodeid, "name": k, "worst": v} for k, v in t.local.items())
    problems = t.check_tight()
    if problems:
        pytest.fail("tight tier: " + "; ".join(problems), pytrace=False)


def pytest_configure(config):
    if hasattr(config, "workerinput"):
        # One worker per core: one intra-op thread each, or torch's default of one per core oversubscribes.
        import torch
        torch.set_num_threads(1)


def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):  # an xdist worker: hand this worker's ratios to the controller
        session.config.workeroutput["vaebound_ratios"] = json.dumps(
            {"ratios": {k: list(v) for k, v in _RATIOS.items()}, "per_test": _PER_TEST})


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """The controller merges a finished worker's ratios (its own lists stay empty: it runs no test)."""
    payload = getattr(node, "workeroutput", {}).get("vaebound_ratios")
    if payload is None:
        return
    data = json.loads(payload)
    for name, (worst, count) in data["ratios"].items():
        old_worst, old_count = _RATIOS.get(name, (0.0, 0))
        _RATIOS[name] = (max(old_worst, worst), old_count + count)
    _PER_TEST.extend(data["per_test"])


def pytest_terminal_summary(terminalreporter):
    out = os.environ.get("VAEBOUND_RATIOS_OUT")
    if out:
        with open(out, "w") as f:
            json.dump(_PER_TEST, f, indent=1)
    if not _RATIOS:
        return
    terminalreporter.section("bound tightness: worst measured / bound (valid: <= 1; tight: >= its floor)")
    for name, (worst, count) in sorted(_RATIOS.items()):
        floor = floor_for(name)
        floor_text = f"floor {floor:9.3e}" if floor is not None else "no floor"
        terminalreporter.write_line(f"{name:<58s} worst {worst:9.3e}  {floor_text}  ({count} measurements)")
