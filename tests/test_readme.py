"""The README's commands, run exactly as written, in a fresh folder holding only what the README names
(docs/examples/). The quick suite runs the `vaebound bound` lines; the slow suite every command in order, then the
Python snippets. Excluded, each for its reason: `make` (what CI runs), a line naming a placeholder path the user
fills in, and `reproduce all` (its experiments run in tests/compare/test_reproduce.py)."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
PLACEHOLDERS = ("path/to/", "my.toml")


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.S | re.M)


def commands() -> list[str]:
    """The README's `vaebound` lines, comments removed, in the order a reader meets them."""
    lines = [line.split("  #")[0].strip() for block in blocks("bash") for line in block.splitlines()]
    return [line for line in lines if line.startswith("vaebound ")]


def runnable() -> list[str]:
    return [c for c in commands() if not any(p in c for p in PLACEHOLDERS) and not c.startswith("vaebound reproduce")]


def run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    vaebound = Path(sys.executable).parent / "vaebound"
    argv = [str(vaebound) if vaebound.exists() else sys.executable, *([] if vaebound.exists() else ["-m", "compare.cli"])]
    return subprocess.run(argv + shlex.split(command)[1:], cwd=cwd, capture_output=True, text=True, timeout=900)


@pytest.fixture
def reader(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    return tmp_path


def test_the_readme_names_what_these_tests_run():
    assert len(commands()) >= 10 and any(c.startswith("vaebound train") for c in runnable())
    assert len(blocks("python")) == 2


# a bound at a run's norms needs the run: the in-order test below covers it
@pytest.mark.parametrize("command", [c for c in runnable() if c.startswith("vaebound bound") and "--norms-from" not in c])
def test_every_bound_command_of_the_readme_runs(command, reader):
    result = run(command, reader)
    assert result.returncode == 0, f"{command}: {result.stderr[-1500:]}"
    assert result.stdout.strip()


@pytest.mark.slow
def test_every_command_and_snippet_of_the_readme_runs_in_order(reader):
    for command in runnable():
        result = run(command, reader)
        assert result.returncode == 0, f"{command}: {result.stderr[-1500:]}"
    for snippet in blocks("python"):
        result = subprocess.run([sys.executable, "-c", snippet], cwd=reader, capture_output=True, text=True,
                                timeout=900)
        assert result.returncode == 0, f"{snippet}\n{result.stderr[-1500:]}"
    assert (reader / "report.html").exists() and (reader / "runs" / "digits-api" / "parameters.npy").exists()
