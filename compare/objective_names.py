"""One sign convention for the objective wherever it is shown: the negative objective (the negative ELBO, negative
beta-ELBO, negative IWAE or VR bound), in nats per example, lower is better, as the paper reports it. The trace keeps
the objective itself (`objective_test`, the ELBO: higher is better); everything that prints or plots it negates it
and names it with `negative_objective`."""
from __future__ import annotations

from typing import Any

NAMES = {"elbo": "negative ELBO", "beta": "negative beta-ELBO", "iwae": "negative IWAE bound",
         "vr_iwae": "negative VR-IWAE bound"}


def negative_objective(kind: str | None) -> str:
    """What the negated objective of this kind is called ('negative ELBO', ...); a mix of kinds: the generic name."""
    return NAMES.get(kind or "", "negative objective")


def family_name(specs: Any) -> str:
    """The one name for the objectives of several runs: theirs if they share a kind, else 'negative objective'."""
    kinds = {s.objective.kind for s in specs}
    return negative_objective(kinds.pop()) if len(kinds) == 1 else "negative objective"


def held_out_sentence(spec: Any, objective: float, se: float, points: int, of: int) -> str:
    """'held-out negative ELBO 254.7 (+- 1.3, on 512 of 10,000 test points)': the negated objective and what it was
    measured on."""
    where = "all" if points >= of else f"{points:,} of"
    return (f"held-out {negative_objective(spec.objective.kind)} {-objective:.4g} (+- {se:.2g}, on {where} {of:,} "
            "test points)")
