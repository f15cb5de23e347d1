"""The paper's experiments as ready-made sweeps: load one (at reduced or paper scale), run it, assess every point and
write the comparison's outputs."""
from __future__ import annotations

import tomllib
from pathlib import Path

from bounds.spec import SpecError
from ..collect import assess_all
from ..present.outputs import write_outputs
from . import experiments as X
from . import plan as S
from .runner import run_sweep


def load_experiment(name: str, scale: str, data: str | None) -> S.Sweep:
    file = X.path(name, scale)
    spec = tomllib.loads(file.read_text())
    if scale == "paper":
        if not data:
            raise SpecError("--data is required at --scale paper: the local folder of the data set "
                            f"({spec.get('base')}); nothing is downloaded")
        spec["data"] = data
    elif data:
        spec["data"] = data
    return S.parse(spec, str(file.name))


def run_experiment(name: str, scale: str, data: str | None, out: Path, workers: int | None = None,
                   ensemble: str = "auto", progress: bool = True) -> dict:
    """Sweep, assess, and write DIR/NAME/{report.html, plots/, tables/, summary.json}; returns the summary."""
    sweep = load_experiment(name, scale, data)
    folder = out / name
    result = run_sweep(sweep, folder / "runs", workers, ensemble=ensemble, progress=progress)
    # The sweep's own points only: a folder may also hold runs of an earlier version of the sweep file.
    assessments = assess_all([folder / "runs" / p.folder_name for p in sweep.points])
    return write_outputs(folder, assessments, f"vaebound: the paper's {name} experiment ({scale} scale)",
                         {"experiment": name, "scale": scale, "points": result["points"]})
