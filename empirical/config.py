"""Training settings that are not part of the VAE's spec: schedules, probes, projection, device.

A plain dataclass like the spec (no torch), validated on construction: a bad value raises `SpecError` (a
ValueError) naming the field and the allowed range.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from bounds.validate import SpecError, choice, count, finite, invalid, positive

SCHEDULES = ("per_step", "per_epoch")
FORMS = ("theory", "torch")
BASELINES = ("none", "loo")
BATCHES = ("epochs", "independent")
DTYPES = ("float32", "float64")
NORM_ESTIMATORS = ("split", "fresh")


@dataclass(frozen=True)
class TrainConfig:
    """How a spec is trained and what is recorded.

    steps: optimisation steps (None: the spec's n). schedule: `per_step` is the theory's gamma_k = C_gamma k^{-1/2};
    `per_epoch` is the paper's code, C_gamma / sqrt(epoch + 1). form: `theory` runs each optimiser exactly as the
    theorem analyses it (Adam and RMSProp without bias correction, preconditioner (delta + v)^{-1/2}); `torch`
    follows torch.optim's formulas (bias correction, eps outside the square root). project: after each step, put
    the parameters back into the spec's compact set. K_alpha: the K schedule K_k = ceil(k^K_alpha) (None: the
    spec's K). baseline: `loo` subtracts the leave-one-out mean of the other K draws in the score-function estimator
    (needs K >= 2). probes: number of log-spaced steps at which the expensive quantities are measured.
    probe_points: training points of each full-gradient replicate, an independent random subset (None: chosen by
    probe_budget). probe_budget: on training sets of more than 4,096 points, the probes' share of the training's time
    (scheduled probes that would exceed it are skipped, the first and last never) and of its work (the full-gradient
    replicates' points: probes x replicates x points <= probe_budget x steps x B); None (or inf, as a TOML file
    writes it): every scheduled probe, on the whole training set (`empirical.probe_plan`).
    quantities: opt-in probe quantities measured besides the default ones (names in `empirical.quantities`, e.g.
    "hessian_trace").
    batches: `epochs` draws mini-batches by reshuffling the training set every epoch (the paper's code);
    `independent` draws each step's B points afresh, i.i.d. uniform (with replacement), which is what the theorems
    assume (E[ghat_k | past] = grad L(theta_k) holds only then). unbiased_norm: at every step also record
    grad_norm_sq_unbiased, the inner product of two conditionally independent, unbiased mini-batch gradients at
    theta_k: an unbiased estimate of ||grad L(theta_k)||^2 whose running mean estimates the theorem's quantity.
    norm_estimator: where the two gradients come from. `split` (default): the mean gradients of the two halves of
    one batch of i.i.d. examples, read off that batch's one backward pass: with `independent` batches the training
    batch itself (nearly free), with `epochs` one fresh batch (a reshuffled epoch's batch is not unbiased given the
    past; docs/empirical.md). `fresh`: two whole mini-batch gradients (the training gradient is one of them with
    `independent` batches), the reference the split estimator is tested against. norm_batch: the points of each
    fresh batch the estimate draws (epochs, the final row, the reference; None: B). A smaller one costs less (on the
    paper's CIFAR-100 net a fresh batch of 16 against B = 64) and stays unbiased; its variance grows as 1/norm_batch.
    example_norms: also record at every step the sum and the sum of squares of
    the batch's per-example gradient norms (one vectorised per-example gradient, about one more backward pass): the
    run's certificate then prices its noise by the gradients the run drew instead of the derived bound G
    (docs/derivations.md, "A certificate for the run"); on reshuffled epochs also the fresh batch's, and its gap to
    the training batch's gradient (the certificate's ghost form, in place of its derived reshuffling term), unless
    ghost_batch is false (it costs one more per-example gradient pass a step).
    anchor_every: every this many steps (0: never) also record an anchor, an unbiased estimate of ||grad L(theta_k)||^2
    with its standard error (the probes' U-statistic of full_grad_replicates estimates, each on anchor_points random
    training points, None: min(256, all of them)), on its own random stream: the run's certificate carries its bound on
    ||grad L|| from the nearest anchor, and between the log-spaced probes that bound is loose (docs/derivations.md,
    "A certificate for the run"). It costs full_grad_replicates x anchor_points example gradients per anchor.
    """

    steps: int | None = None
    schedule: str = "per_step"
    form: str = "theory"
    project: bool = False
    K_alpha: float | None = None
    baseline: str = "none"
    batches: str = "epochs"
    unbiased_norm: bool = True
    norm_estimator: str = "split"
    norm_batch: int | None = None
    example_norms: bool = True
    ghost_batch: bool = True
    anchor_every: int = 0
    anchor_points: int | None = None
    probes: int = 12
    probe_points: int | None = None
    probe_budget: float | None = 0.25
    full_grad_replicates: int = 4
    variance_draws: int = 8
    lanczos: bool = True
    hessian_points: int = 128
    eval_points: int = 512
    held_out: float = 0.2
    checkpoint_every: int = 200
    device: str = "cpu"
    dtype: str = "float32"
    quantities: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.steps is not None:
            object.__setattr__(self, "steps", count("steps", self.steps))
        choice("schedule", self.schedule, SCHEDULES)
        choice("form", self.form, FORMS)
        choice("baseline", self.baseline, BASELINES)
        choice("dtype", self.dtype, DTYPES)
        choice("batches", self.batches, BATCHES)
        choice("norm_estimator", self.norm_estimator, NORM_ESTIMATORS)
        if self.norm_batch is not None:  # two halves of at least one point each
            object.__setattr__(self, "norm_batch", count("norm_batch", self.norm_batch, 2))
        for name in ("project", "unbiased_norm", "lanczos", "example_norms", "ghost_batch"):
            if not isinstance(getattr(self, name), bool):
                invalid(name, getattr(self, name), "must be true or false")
        if self.K_alpha is not None and not 0 < finite("K_alpha", self.K_alpha) <= 1:
            invalid("K_alpha", self.K_alpha, "the K schedule ceil(k^K_alpha) needs 0 < K_alpha <= 1")
        object.__setattr__(self, "anchor_every", count("anchor_every", self.anchor_every, 0))
        if self.anchor_points is not None:
            object.__setattr__(self, "anchor_points", count("anchor_points", self.anchor_points))
        if self.probe_points is not None:
            object.__setattr__(self, "probe_points", count("probe_points", self.probe_points))
        if self.probe_budget is not None and self.probe_budget != float("inf"):  # a fraction of the training's
            positive("probe_budget", self.probe_budget)
        if self.probe_budget == float("inf"):  # TOML has no null: inf says "no budget" there
            object.__setattr__(self, "probe_budget", None)
        for name in ("probes", "checkpoint_every", "hessian_points", "eval_points"):
            object.__setattr__(self, name, count(name, getattr(self, name)))
        object.__setattr__(self, "full_grad_replicates", count("full_grad_replicates", self.full_grad_replicates, 3))
        object.__setattr__(self, "variance_draws", count("variance_draws", self.variance_draws, 2))
        if not 0 < positive("held_out", self.held_out) < 1:
            invalid("held_out", self.held_out, "the held-out fraction must lie in (0, 1)")
        if isinstance(self.quantities, str) or not isinstance(self.quantities, (list, tuple)):
            invalid("quantities", self.quantities, "must be a list of quantity names")
        object.__setattr__(self, "quantities", tuple(self.quantities))
        from .quantities import by_name
        known = by_name()
        for name in self.quantities:
            if name not in known or known[name].when != "probe":
                invalid("quantities", name, "must name a probe quantity: "
                        + ", ".join(q.name for q in known.values() if q.when == "probe"))
        if not isinstance(self.device, str) or not (self.device == "cpu" or self.device.startswith("cuda")):
            invalid("device", self.device, "must be cpu, cuda or cuda:N")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"train.{unknown[0]} is not a training setting: known are {', '.join(sorted(known))}")
        return cls(**data)


def paper_train_config(**changes: Any) -> TrainConfig:
    """The paper's training code: torch.optim's formulas, step C_gamma / sqrt(epoch + 1), no projection."""
    return TrainConfig(**{"schedule": "per_epoch", "form": "torch", **changes})
