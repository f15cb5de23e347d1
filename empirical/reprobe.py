"""Measure a finished run again without retraining: the probe quantities at its final parameters theta_n (kept in
parameters.npy), with other probe settings (more Lanczos points, an opt-in quantity, more replicates) or another
seed. Each measurement is appended to the run's reprobe.json; nothing recorded before is changed.

    >>> from empirical.reprobe import reprobe
    >>> reprobe(load_run("runs/digits"), changes={"hessian_points": 512}, quantities=("hessian_trace",))
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from .config import TrainConfig
from .data import Dataset, load_for_spec
from .probe_plan import full_gradient_points
from .quantities import ProbeContext, probe_quantities
from .runs import Run, RunError, write_json

REPROBE = "reprobe.json"


def reprobe(run: Run, data: Dataset | None = None, changes: dict[str, Any] | None = None,
            quantities: tuple[str, ...] = (), seed: int | None = None) -> dict[str, float]:
    """The probe quantities at the run's theta_n on its data (`data`, or the source its record names), under its
    training settings with `changes` and the opt-in `quantities`; appended to RUN/reprobe.json where the run has a
    folder. seed: the probes' generator is the trainer's at (seed, the last step); the run's own seed by default, so
    that the run's settings measure its recorded last probes again exactly. RunError where the run keeps no
    parameters in its spec's layout."""
    flat = run.parameters()
    instrumented = run.config.get("instrumented", {})
    if flat is None or (instrumented and not instrumented.get("spec_read", False)):
        raise RunError(f"run {str(run.path)!r} keeps no parameters in its spec's layout (a run finished by vaebound "
                       "0.2 or later, or an instrumented module the bounds read): nothing to measure again")
    settings = {**run.config["train"], **(changes or {})}
    settings["quantities"] = tuple(dict.fromkeys(tuple(settings.get("quantities", ())) + tuple(quantities)))
    config = TrainConfig.from_dict(settings)
    spec = run.spec
    if data is None:
        recorded = run.config.get("data", {})
        name, path = recorded.get("name"), recorded.get("path")
        if name in ("digits", "breast-cancer", "synthetic-linear-gaussian"):
            data = load_for_spec("synthetic" if name.startswith("synthetic") else name, spec, config.held_out)
        elif path and Path(path).exists():  # read from where the run recorded it
            data = load_for_spec(path, spec, config.held_out)
        else:
            raise RunError(f"the run's data {name!r} is not embedded and its recorded path {path!r} is not here: "
                           "give its path (--data)")
    fingerprint = run.config.get("data", {}).get("fingerprint")
    if fingerprint and data.fingerprint != fingerprint:
        raise RunError(f"the data given ({data.fingerprint}) are not the data the run trained on ({fingerprint}): "
                       "give the run's own data set (--data)")
    dtype = getattr(torch, config.dtype)
    X, X_test = (torch.as_tensor(a, dtype=dtype) for a in (data.train, data.test))
    step = int(run.trace["step"].max())
    seed = spec.seed if seed is None else seed
    gen = torch.Generator().manual_seed(seed * 1_000_003 + step + 1)
    points = full_gradient_points(config, len(X), int(run.config.get("n_steps", step)), spec.B)
    ctx = ProbeContext(spec, config, torch.as_tensor(flat, dtype=dtype), X, X_test, gen, spec.objective.K, step,
                       points)
    values: dict[str, float] = {}
    for quantity in probe_quantities(config):
        values.update(quantity.measure(ctx))
    if run.path is not None:
        file = run.path / REPROBE
        entries = json.loads(file.read_text())["entries"] if file.exists() else []
        entries.append({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "step": step, "seed": seed,
                        "changes": changes or {}, "quantities": list(quantities), "values": values})
        write_json(file, {"entries": entries})
    return values
