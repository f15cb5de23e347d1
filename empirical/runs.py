"""A run is a folder: config.json (spec, training settings, data, seeds, versions, status) and trace.parquet (one
row per step), both written atomically (a temporary file, then a rename), plus checkpoint.pt while it is unfinished.
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

CONFIG, TRACE, CHECKPOINT = "config.json", "trace.parquet", "checkpoint.pt"


class RunError(ValueError):
    """A run folder is missing, corrupt, or holds a different run."""


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """write(tmp) into a temporary file beside path, then rename it over path: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a result file gets the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str)))


def write_trace(path: Path, trace: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: trace.to_parquet(tmp, index=False))


def versions() -> dict[str, str]:
    import numpy
    import torch
    from importlib.metadata import PackageNotFoundError, version
    try:
        own = version("vaebound")
    except PackageNotFoundError:
        own = "unknown"
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "pandas": pd.__version__, "vaebound": own}


@dataclass
class Run:
    """A training run: its folder (if any), its full config record, its trace and status."""

    config: dict[str, Any]
    trace: pd.DataFrame
    path: Path | None = None

    @property
    def status(self) -> str:
        return self.config.get("status", "unknown")

    @property
    def spec(self):
        from bounds.spec import VAESpec
        return VAESpec.from_dict(self.config["spec"])


def read_config(folder: Path) -> dict[str, Any]:
    file = folder / CONFIG
    if not file.exists():
        raise RunError(f"run folder {str(folder)!r} has no {CONFIG}")
    try:
        config = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError(f"{str(file)!r} is corrupt: {exc}") from None
    if not isinstance(config, dict) or "spec" not in config or "train" not in config:
        raise RunError(f"{str(file)!r} is not a vaebound run config (needs keys 'spec' and 'train')")
    return config


def load_run(folder: str | Path) -> Run:
    """Read a run folder; a missing or corrupt file raises RunError naming it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"run folder {str(folder)!r} does not exist")
    config = read_config(folder)
    file = folder / TRACE
    if not file.exists():
        raise RunError(f"run folder {str(folder)!r} has no {TRACE} (status: {config.get('status', 'unknown')})")
    try:
        trace = pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise RunError(f"{str(file)!r} is corrupt: {exc}") from None
    return Run(config, trace, folder)
