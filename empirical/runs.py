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

from .quantities import trace_columns

CONFIG, TRACE, CHECKPOINT, PARAMETERS = "config.json", "trace.parquet", "checkpoint.pt", "parameters.npy"


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

    def parameters(self):
        """The final parameters theta_n as the flat vector (numpy; layout `spec.layout`), None if the folder keeps
        none (runs written before 0.2, or a run without a folder)."""
        if self.path is None or not (self.path / PARAMETERS).exists():
            return None
        import numpy as np
        return np.load(self.path / PARAMETERS)

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
    except (OSError, ValueError) as exc:  # ValueError: bad JSON, or bytes that are not UTF-8
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
    missing = [c for c in ("step", "grad_norm_sq") if c not in trace]
    if missing:
        raise RunError(f"{str(file)!r} is not a vaebound trace: it has no column {missing[0]!r}")
    return Run(config, trace, folder)


def run_record(spec: Any, config: Any, data: Any) -> dict[str, Any]:
    """What identifies a run (spec, training settings, data): a folder holding another record is a different run."""
    return {"spec": spec.to_dict(), "train": config.to_dict(), "data": data.describe()}


def json_roundtrip(data: dict[str, Any]) -> dict[str, Any]:
    """The record as it reads back from config.json (tuples become lists)."""
    return json.loads(json.dumps(data, default=str))


# Provenance of the data that does not change what was trained on: the same content (its fingerprint) read from a
# moved folder is the same run.
DATA_PROVENANCE = ("path", "files")


def same_run(existing: dict[str, Any], record: dict[str, Any]) -> bool:
    """Whether a stored record is the run `record` describes: the same spec, training settings and data content.
    Data fields added since the stored record was written (its fingerprint, format) are not asked of it."""
    old, new = comparable(existing), json_roundtrip(record)
    old_data, new_data = dict(old.get("data") or {}), dict(new.get("data") or {})
    for key in DATA_PROVENANCE:
        old_data.pop(key, None)
        new_data.pop(key, None)
    for key in set(new_data) - set(old_data):
        new_data.pop(key)
    return {**old, "data": old_data} == {**new, "data": new_data}


def comparable(existing: dict[str, Any]) -> dict[str, Any]:
    """A stored record in today's form: spec fields and training settings added since it was written take their
    defaults, so a run folder from an earlier version still resumes."""
    from bounds.spec import VAESpec
    from .config import TrainConfig
    out = {k: existing.get(k) for k in ("spec", "train", "data")}
    for key, kind in (("spec", VAESpec), ("train", TrainConfig)):
        try:
            out[key] = json_roundtrip(kind.from_dict(existing.get(key, {})).to_dict())
        except (TypeError, ValueError):
            pass  # left as stored: it differs, and the caller says so
    return out


class RunFolder:
    """The folder side of one run: its record, resuming from it, saving the trace and checkpoints atomically.

    trainer: a `Trainer` (anything with spec, config, step, status, diverged_at, n_steps, device, state(),
    load(state) and trace())."""

    def __init__(self, trainer: Any, data: Any, out: str | Path | None) -> None:
        spec, config = trainer.spec, trainer.config
        self.trainer, self.folder = trainer, (Path(out) if out is not None else None)
        self.record = run_record(spec, config, data)
        self.full_record = {**self.record, "seeds": {"spec": spec.seed, "training_generator": spec.seed,
                                                     "probe_generator": f"{spec.seed} * 1000003 + step + 1"},
                            "versions": versions(), "n_steps": trainer.n_steps, "n_parameters": spec.n_parameters,
                            "columns": trace_columns()}

    def resume(self) -> Run | None:
        """Load an unfinished run's checkpoint into the trainer; a finished run is returned as it is; a folder
        holding a different run is an error (nothing is overwritten)."""
        folder = self.folder
        if folder is None:
            return None
        if folder.exists() and not folder.is_dir():
            raise RunError(f"--out {str(folder)!r} is a file: give a run folder")
        if not (folder / CONFIG).exists():
            # A process killed inside its first save leaves the trace (written before the record) and temporaries:
            # that is a run that never started, not somebody else's folder.
            if folder.exists() and any(not _first_save_leftover(p) for p in folder.iterdir()):
                raise RunError(f"folder {str(folder)!r} is not empty and holds no run ({CONFIG} is missing): "
                               "choose an empty or a new folder")
            return None
        existing = read_config(folder)
        if not same_run(existing, self.record):
            raise RunError(f"run folder {str(folder)!r} holds a different run (its spec, training settings or data "
                           "differ): choose another --out")
        if existing.get("status") in ("finished", "diverged"):
            (folder / CHECKPOINT).unlink(missing_ok=True)  # left if the process died between the two writes
            return load_run(folder)
        if (folder / CHECKPOINT).exists():
            try:
                import torch
                self.trainer.load(torch.load(folder / CHECKPOINT, map_location=self.trainer.device,
                                             weights_only=False))
            except Exception as exc:
                raise RunError(f"checkpoint {str(folder / CHECKPOINT)!r} is corrupt: {exc}") from None
        return None

    def with_status(self, status: str) -> dict[str, Any]:
        t = self.trainer
        return {**self.full_record, "status": status, "diverged_at": t.diverged_at, "steps_done": t.step}

    def save(self, status: str) -> None:
        if self.folder is None:
            return
        write_trace(self.folder / TRACE, self.trainer.trace())
        write_json(self.folder / CONFIG, self.with_status(status))

    def checkpoint(self, t: Any) -> None:
        if self.folder is None:
            return
        import torch
        atomic_write(self.folder / CHECKPOINT, lambda tmp: torch.save(t.state(), tmp))
        self.save("interrupted" if t.status == "interrupted" else "running")

    def finish(self) -> Run:
        """Save the final status; a finished or diverged run needs its checkpoint no more."""
        status = self.trainer.status
        done = self.folder is not None and status in ("finished", "diverged")
        if done:  # the parameters before the record that says done: a run recorded as done always has them
            flat = self.trainer.flat.detach().cpu().numpy()  # kept, so the run can be probed again later
            atomic_write(self.folder / PARAMETERS, lambda tmp: _save_array(tmp, flat))
        self.save(status)
        if done:
            (self.folder / CHECKPOINT).unlink(missing_ok=True)
        return Run(self.with_status(status), self.trainer.trace(), self.folder)


def _first_save_leftover(path: Path) -> bool:
    return path.name == TRACE or (path.name.startswith(".") and path.name.endswith(".tmp"))


def _save_array(path: Path, array: Any) -> None:
    import numpy as np
    with open(path, "wb") as handle:  # a handle: np.save would add ".npy" to the temporary file's name
        np.save(handle, array)
