"""Shared fixtures. `tightness` collects the worst measured/bound ratio of each bound test and prints a
table at the end of the run: 1.0 would be a tight bound, > 1.0 a violation (and a failing test)."""
from __future__ import annotations

import pytest

_RATIOS: dict[str, tuple[float, int]] = {}


class Tightness:
    def record(self, name: str, measured: float, bound: float) -> None:
        ratio = measured / bound if bound > 0 else (0.0 if measured == 0 else float("inf"))
        worst, count = _RATIOS.get(name, (0.0, 0))
        _RATIOS[name] = (max(worst, ratio), count + 1)


@pytest.fixture
def tightness() -> Tightness:
    return Tightness()


def pytest_terminal_summary(terminalreporter):
    if not _RATIOS:
        return
    terminalreporter.section("bound tightness: worst measured / bound (<= 1 is sound)")
    for name, (worst, count) in sorted(_RATIOS.items()):
        terminalreporter.write_line(f"{name:<55s} worst ratio {worst:9.3e} over {count} measurements")
