"""vaebound.bounds: the convergence theory of VAEs as symbolic, checkable bounds (sympy and numpy only).

Names are loaded on first use (PEP 562), so that `import bounds.spec` (which `empirical` needs) costs no sympy.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "NotSmoothError": "activations", "activation_constants": ("activations", "constants"),
    "STATUSES": "bound", "Bound": "bound",
    "convergence": "derive", "derive_all": "derive", "smoothness": "derive", "spec_values": "derive",
    "variance": "derive", "NotDerivedError": "support",
    "ActivationSpec": "spec", "ModelSpec": "spec", "ObjectiveSpec": "spec", "OptimizerSpec": "spec",
    "ParameterBound": "spec", "SpecError": "spec", "VAESpec": "spec", "default_spec": "spec",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'bounds' has no attribute {name!r}")
    module, attr = where if isinstance(where, tuple) else (where, name)
    return getattr(import_module(f".{module}", __name__), attr)
