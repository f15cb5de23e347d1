"""Find and load run folders: a DIR is a run folder (it holds config.json) or a folder of them (a sweep)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from empirical.runs import CONFIG, Run, RunError, load_run
from .tightness import Assessment, assess


def run_folders(paths: Iterable[str | Path]) -> list[Path]:
    """Every run folder named by `paths`, in order; a folder of runs contributes its runs sorted by path.

    A missing path, or a folder with no run in it, raises RunError naming it.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise RunError(f"run folder {str(path)!r} does not exist")
        if not path.is_dir():
            raise RunError(f"{str(path)!r} is not a folder: give a run folder (with {CONFIG}) or a folder of runs")
        if (path / CONFIG).exists():
            found.append(path)
            continue
        inner = sorted(p.parent for p in path.rglob(CONFIG))
        if not inner:
            raise RunError(f"{str(path)!r} holds no run: a run folder has a {CONFIG} (write one with vaebound train)")
        found.extend(inner)
    if not found:
        raise RunError("no run folder given")
    return list(dict.fromkeys(found))


def load_runs(paths: Iterable[str | Path]) -> list[Run]:
    """Load every run under `paths`; any missing or corrupt file raises RunError before anything is computed."""
    return [load_run(folder) for folder in run_folders(paths)]


def run_label(run: Run, runs: list[Run]) -> str:
    """A short name for a run: its folder's name, or the path from the runs' common parent if names repeat."""
    if run.path is None:
        return f"run {runs.index(run)}"
    names = [r.path.name for r in runs if r.path is not None]
    if names.count(run.path.name) == 1:
        return run.path.name
    parents = [r.path.resolve() for r in runs if r.path is not None]
    common = Path(os.path.commonpath(parents)) if len(parents) > 1 else run.path.resolve().parent
    return str(run.path.resolve().relative_to(common))


def assess_all(dirs: Sequence[str | Path]) -> list[Assessment]:
    """Load every run first (a missing or corrupt one is an error before any work), then assess each."""
    runs = load_runs(dirs)
    out = []
    for run in runs:
        label = run_label(run, runs)
        try:
            out.append(assess(run, label))
        except (ValueError, KeyError) as exc:  # a run whose record or trace the comparison cannot read
            raise RunError(f"run {label!r} ({str(run.path) if run.path else 'no folder'}): {exc}") from None
    return out
