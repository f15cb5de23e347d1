"""What is supported, in one place: which (objective, estimator) pairs train, which have a derived bound, which
architectures and projected optimisers have one, and which settings each objective reads. Every model (linear,
gaussian, bernoulli) and every optimiser (sgd, adam, adagrad, rmsprop) trains and is bounded, with an MLP or the
paper's conv nets.

Both sides read this table: `VAESpec` refuses a combination that does not train or a setting the objective would
ignore (so a bound is never derived for a setting training does not use), `bounds.derive` raises `NotDerivedError`
for a combination that trains but has no derived bound, and `compare` reads only that error as "no bound".
"""
from __future__ import annotations


class NotDerivedError(ValueError):
    """A declared refusal: the combination trains and is measured, but no bound is derived for it (yet).

    Any other exception raised while deriving a bound is a bug, never "no bound".
    """


TRAINED = frozenset({("elbo", "pathwise"), ("elbo", "score"), ("beta", "pathwise"), ("beta", "score"),
                     ("iwae", "pathwise"), ("vr_iwae", "pathwise")})
BOUNDED = frozenset({("elbo", "pathwise"), ("elbo", "score"), ("beta", "pathwise"), ("beta", "score"),
                     ("iwae", "pathwise"), ("vr_iwae", "pathwise")})

# The objective settings each objective reads; any other must keep its neutral value (beta = 1, alpha = 0).
READS = {"elbo": ("K",), "beta": ("K", "beta"), "iwae": ("K",), "vr_iwae": ("K", "alpha")}
NEUTRAL = {"beta": 1.0, "alpha": 0.0}

# Architectures the network recursion covers (docs/derivations.md, "Convolutions"), and optimisers with a theorem for projection onto the compact set.
BOUNDED_ARCHITECTURES = frozenset({"mlp", "conv"})
PROJECTED_OPTIMIZERS = frozenset({"sgd"})

# Why a trained combination has no bound, where a reason more specific than "not derived" is known.
NOT_DERIVED_WHY: dict[tuple[str, str], str] = {}


def trains(objective: str, estimator: str) -> bool:
    return (objective, estimator) in TRAINED


def trained_estimators(objective: str) -> str:
    """The estimators that train with this objective, as 'a or b'."""
    return " or ".join(sorted(e for o, e in TRAINED if o == objective))


def refuse_untrained(objective: str, estimator: str) -> str | None:
    """Why this pair cannot be trained (None if it can)."""
    if trains(objective, estimator):
        return None
    return (f"estimator={estimator!r} with objective={objective!r} is not supported: "
            f"use {trained_estimators(objective)}")


def require_bounded_architecture(architecture: str) -> None:
    """Raise `NotDerivedError` for an architecture the network recursion does not cover."""
    if architecture not in BOUNDED_ARCHITECTURES:
        raise NotDerivedError(f"architecture={architecture!r} has no derived bound (the network recursion covers "
                              f"{' and '.join(sorted(BOUNDED_ARCHITECTURES))})")


def require_bounded(objective: str, estimator: str, architecture: str = "mlp") -> None:
    """Raise `NotDerivedError` for a trained combination without a derived bound."""
    require_bounded_architecture(architecture)
    if (objective, estimator) not in BOUNDED:
        raise NotDerivedError(NOT_DERIVED_WHY.get((objective, estimator),
                                                  f"estimator={estimator!r} with objective={objective!r} is not "
                                                  "derived"))


def require_projected_theorem(optimizer: str) -> None:
    """Raise `NotDerivedError` for an optimiser without a theorem for projection onto the compact set."""
    if optimizer not in PROJECTED_OPTIMIZERS:
        raise NotDerivedError(f"optimizer={optimizer!r} with projection onto the compact set has no derived bound: "
                              "only projected SGD is analysed")
