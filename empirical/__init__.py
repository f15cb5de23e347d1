"""Measurement: train the VAE of a spec and record what the theorems bound (torch, never sympy).

Names are loaded on first use (PEP 562), so that importing one module of the package does not load torch.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "TrainConfig": "config", "paper_train_config": "config",
    "DataError": "data", "Dataset": "data", "digits": "data", "load_path": "data",
    "synthetic_linear_gaussian": "data",
    "Run": "runs", "RunError": "runs", "load_run": "runs",
    "TRACE_COLUMNS": "training", "train": "training",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'empirical' has no attribute {name!r}")
    return getattr(import_module(f".{_WHERE[name]}", __name__), name)
