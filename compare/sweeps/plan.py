"""Sweep files: a base spec, training settings, data, seeds and a grid; every combination is one point.

    # sweep.toml
    base = "digits"                 # the base spec: digits (default), cifar100 or celeba (the paper's image nets)
    data = "digits"                 # digits | synthetic | a local path
    fit_data = true                 # data_dim, data_bound from the data (default: a local path with the digits base)
    seeds = [0, 1]
    [spec]                          # the base spec: VAESpec fields over the digits default (nested tables)
    n = 300
    [spec.optimizer]
    C_gamma = 0.2
    [train]                         # TrainConfig fields
    probes = 8
    [grid]                          # dotted path -> values; "train.<field>" sets a training setting
    "objective.kind" = ["beta"]
    "objective.beta" = [0.5, 1.0]
    "model.activation.s" = [1, 5]
    [[points]]                      # optional extra points, each with every seed (not crossed with the grid)
    "model.activation.name" = "relu"

A point is keyed by the hash of its full record (spec, training settings, data source): its run folder is
`<out>/<name>-<hash>`, so a finished point is found again after any interruption, and a changed setting is a new
point.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bounds.presets import digits_spec, paper_image_spec
from bounds.spec import SpecError, VAESpec
from bounds.validate import merge_tree, set_path
from empirical import TrainConfig
from empirical.data_fit import fits_by_default

KNOWN = {"base", "data", "seeds", "spec", "train", "grid", "points", "name", "fit_data"}
BASES = ("digits", "cifar100", "celeba")


@dataclass(frozen=True)
class Point:
    """One run of a sweep: its settings by name (for folders and tables) and its full record."""
    settings: dict[str, Any]
    spec: dict[str, Any]
    train: dict[str, Any]
    data: str
    shown: tuple[str, ...] | None = None  # the settings that name the folder (those that vary); None: all

    @property
    def key(self) -> str:
        record = json.dumps({"spec": self.spec, "train": self.train, "data": self.data}, sort_keys=True, default=str)
        return hashlib.sha256(record.encode()).hexdigest()[:12]

    @property
    def name(self) -> str:
        parts = [f"{path.split('.')[-1]}={_short(v)}" for path, v in self.settings.items()
                 if self.shown is None or path in self.shown]
        return re.sub(r"[^A-Za-z0-9_.=+-]", "-", "_".join(parts) or "base")

    @property
    def folder_name(self) -> str:
        return f"{self.name}-{self.key}"


@dataclass
class Sweep:
    name: str
    points: list[Point] = field(default_factory=list)


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def fitted_to(spec: dict[str, Any], data_source: str, train: dict[str, Any], given: dict[str, Any],
              source: str) -> dict[str, Any]:
    """The base spec with data_dim, data_bound (and a conv net's image_shape) from the data, where the sweep's
    [spec] does not set them (`empirical.data_fit`); the data are read once, here, before any run."""
    from empirical.data import DataError, load_source
    from empirical.data_fit import fit_spec
    m = spec["model"]
    try:
        found = load_source(data_source, m["data_dim"], m["latent_dim"], m["data_bound"],
                            train.get("held_out", 0.2), spec.get("seed", 0))
    except DataError as exc:
        raise SpecError(f"{source}: {exc}") from None
    return fit_spec(spec, found, given)[0]


def parse(data: dict[str, Any], source: str = "sweep") -> Sweep:
    """Validate a sweep (a parsed TOML document) and expand its grid; every point is checked before any runs."""
    unknown = sorted(set(data) - KNOWN)
    if unknown:
        raise SpecError(f"{source}: unknown key {unknown[0]!r} (known: {', '.join(sorted(KNOWN))})")
    base = data.get("base", "digits")
    if base not in BASES:
        raise SpecError(f"{source}: base={base!r} is invalid: must be one of {', '.join(BASES)}")
    start = digits_spec() if base == "digits" else paper_image_spec(base)
    base_spec = merge_tree(start.to_dict(), data.get("spec", {}), f"{source} [spec]")
    base_train = {**TrainConfig().to_dict(), **data.get("train", {})}
    TrainConfig.from_dict(data.get("train", {}))  # unknown or bad training settings fail here, by name
    grid = data.get("grid", {})
    for path, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SpecError(f"{source} [grid]: {path!r} must be a non-empty list of values")
    seeds = data.get("seeds", [base_spec["seed"]])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise SpecError(f"{source}: seeds={seeds!r} is invalid: must be a non-empty list of integers >= 0")
    source_data = data.get("data", "digits")
    if not isinstance(source_data, str) or not source_data.strip():
        raise SpecError(f"{source}: data={source_data!r} is invalid: 'digits', 'synthetic' or a local path")
    if source_data not in ("digits", "synthetic") and not Path(source_data).exists():
        raise SpecError(f"{source}: data path {source_data!r} does not exist (checked before any run)")
    fit = data.get("fit_data", None)
    if fit is not None and not isinstance(fit, bool):
        raise SpecError(f"{source}: fit_data={fit!r} is invalid: must be true or false")
    # local data fit the digits base (the paper's image bases are built for their own data sets)
    if fit if fit is not None else (base == "digits" and fits_by_default(source_data)):
        base_spec = fitted_to(base_spec, source_data, base_train, data.get("spec", {}), source)
    extra = data.get("points", [])
    if not isinstance(extra, list) or not all(isinstance(e, dict) for e in extra):
        raise SpecError(f"{source}: points must be a list of tables of settings ([[points]])")
    sweep = Sweep(str(data.get("name", Path(source).stem)))
    paths = list(grid)
    # The grid's combinations (just the base point if there is no grid and no extra point), then the extra points.
    combos = [dict(zip(paths, values)) for values in itertools.product(*(grid[p] for p in paths))]
    if not grid and extra:
        combos = []
    for settings, seed in itertools.product(combos + list(extra), seeds):
        settings = dict(settings)
        spec, train = copy.deepcopy(base_spec), dict(base_train)
        for path, value in settings.items():
            if path.startswith("train."):
                if path[6:] not in train:
                    raise SpecError(f"{source} [grid]: {path!r} is not a training setting")
                train[path[6:]] = value
            else:
                set_path(spec, path, value, f"{source} [grid]")
        spec["seed"] = seed
        where = ", ".join(f"{k}={v!r}" for k, v in {**settings, "seed": seed}.items())
        try:
            checked_spec = VAESpec.from_dict(spec).to_dict()
            checked_train = TrainConfig.from_dict(train).to_dict()
        except (SpecError, TypeError, ValueError) as exc:
            raise SpecError(f"{source}: the point {where} is invalid: {exc}") from None
        sweep.points.append(Point({**settings, "seed": seed}, json.loads(json.dumps(checked_spec)),
                                  checked_train, source_data))
    varying = tuple(path for path in {k: None for p in sweep.points for k in p.settings}
                    if len({json.dumps(p.settings.get(path), default=str) for p in sweep.points}) > 1)
    sweep.points = [dataclasses.replace(p, shown=varying) for p in sweep.points]
    keys = [p.key for p in sweep.points]
    if len(set(keys)) != len(keys):
        raise SpecError(f"{source}: two grid points are the same run (a grid value repeats)")
    return sweep


def load(path: str | Path) -> Sweep:
    """Read and validate a TOML sweep file; errors name the file and the setting."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"sweep file {str(path)!r} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SpecError(f"sweep file {str(path)!r} is not valid TOML: {exc}") from None
    return parse(data, str(path))
