"""vaebound.bounds: the convergence theory of VAEs as symbolic, checkable bounds (sympy and numpy only)."""
from .activations import NotSmoothError, constants as activation_constants
from .bound import STATUSES, Bound
from .derive import convergence, derive_all, smoothness, spec_values, variance
from .support import NotDerivedError
from .spec import (ActivationSpec, ModelSpec, ObjectiveSpec, OptimizerSpec, ParameterBound, SpecError, VAESpec,
                   default_spec)

__all__ = ["ActivationSpec", "Bound", "ModelSpec", "NotDerivedError", "NotSmoothError", "ObjectiveSpec", "OptimizerSpec",
           "ParameterBound", "STATUSES", "SpecError", "VAESpec", "activation_constants", "convergence",
           "default_spec", "derive_all", "smoothness", "spec_values", "variance"]
