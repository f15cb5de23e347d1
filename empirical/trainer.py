"""One training run as a step API: `Trainer` holds the iterate, the optimiser, the generators and the trace rows,
and takes one step at a time (`begin_row`, `train_step` or the split `training_batch` / `finish_step` that
`ensemble` batches across runs, `end_row`). `training.train` steps it; `runs.RunFolder` saves it.

The trace has one row per step k = 0..n: the state theta_k, and (for k < n) the mini-batch gradient used for the
update to theta_{k+1}; its columns are documented by the quantities (`empirical.quantities.trace_columns`).
Randomness: one torch.Generator, seeded from the spec's seed, draws every mini-batch and every eps of training; each
probe seeds its own generator from (seed, step), so probing never changes the training noise and a resumed run
reproduces an uninterrupted one.
"""
from __future__ import annotations

import math
import time
from typing import Any

import pandas as pd
import torch

from bounds.spec import VAESpec
from .config import TrainConfig
from .checks import check_trainable
from .data import Dataset
from .estimators import estimate, has_exact_objective
from .example_norms import record_example_norms
from .functional import box_masks, initial_parameters
from .optimizers import FlatOptimizer, step_size
from .preconditioner_trail import trail_row
from . import probes as P
from .probe_plan import full_gradient_points, probe_steps, take_probe
from .quantities import ProbeContext, probe_quantities
from .split_batch import Split, Tap, tapped_gradient
from .projected_step import mapping_sq, projected_update
from .step_gradients import (LayerGroups, Pair, Request, Result, as_index, gradient_pair, step_statistics,
                             sup_norm)

ANCHOR_STREAM = 1 << 40   # the anchors' seeds: seed * 1_000_003 + step + ANCHOR_STREAM, apart from the probes'
ANCHOR_POINTS = 256      # training points of each anchor replicate, unless anchor_points says otherwise


class Trainer:
    """One run's state and its step; validates the spec against the data and the settings before any work."""

    def __init__(self, spec: VAESpec, config: TrainConfig, data: Dataset, progress: bool) -> None:
        check_trainable(spec, config, data)
        self.spec, self.config, self.progress = spec, config, progress
        self.device = torch.device(config.device)
        self.dtype = getattr(torch, config.dtype)
        to = lambda a: torch.as_tensor(a, dtype=self.dtype, device=self.device)
        self.X, self.X_test = to(data.train), to(data.test)
        self.n_steps = config.steps or spec.n
        self.schedule = probe_steps(self.n_steps, config.probes)
        self.probes = set(self.schedule)
        self.probe_set = probe_quantities(config)
        self.full_grad_points = full_gradient_points(config, len(self.X), self.n_steps, spec.B)
        self.box = {k: as_index(v.to(self.device)) for k, v in box_masks(spec).items()}
        self.layers = LayerGroups(spec.layout, self.device)  # per-step ||W_l||_F, ||b_l|| (the certificate's norms)
        gen = torch.Generator().manual_seed(spec.seed)
        self.flat = initial_parameters(spec, gen, self.dtype).to(self.device)
        if config.project:
            P.project(spec, self.flat)
        self.start = self.flat.clone()  # theta_0: the last probe measures the gain from it with common draws
        self.opt = FlatOptimizer(spec.optimizer, config.form, self.flat)
        self.gen = torch.Generator(device=self.device).manual_seed(spec.seed)
        # Draws for the second gradient of grad_norm_sq_unbiased: its own stream, so training noise is unchanged.
        self.inner_gen = torch.Generator(device=self.device).manual_seed(spec.seed * 7919 + 17)
        self.step, self.epoch, self.pos, self.perm = 0, 0, 0, None
        self.paper_acc, self.elapsed, self.rows = 0.0, 0.0, []
        self.status, self.diverged_at = "running", None
        self.tap_zeros: torch.Tensor | None = None

    # -- checkpoints -------------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"step": self.step, "epoch": self.epoch, "pos": self.pos, "perm": self.perm, "flat": self.flat,
                "opt": self.opt.state_dict(), "gen": self.gen.get_state(),
                "inner_gen": self.inner_gen.get_state(), "paper_acc": self.paper_acc,
                "elapsed": self.elapsed, "rows": self.rows,
                "spectral": None if self.layers.spectral is None else self.layers.spectral.state(), "start": self.start}

    def load(self, state: dict[str, Any]) -> None:
        self.step, self.epoch, self.pos, self.perm = state["step"], state["epoch"], state["pos"], state["perm"]
        self.flat = state["flat"].to(self.device)
        self.opt.load_state_dict(state["opt"])
        # A checkpoint loaded with map_location=cuda carries the generator states there; set_state takes CPU bytes.
        self.gen.set_state(state["gen"].cpu())
        self.inner_gen.set_state(state["inner_gen"].cpu())
        self.paper_acc, self.elapsed, self.rows = state["paper_acc"], state["elapsed"], state["rows"]
        if self.layers.spectral is not None:
            self.layers.spectral.load(state.get("spectral"), self.device)
        self.start = state["start"].to(self.device) if state.get("start") is not None else None  # None: older record

    # -- one step ------------------------------------------------------------------------------------------------
    def K_at(self, k: int) -> int:
        alpha = self.config.K_alpha
        return self.spec.objective.K if alpha is None else max(1, math.ceil((k + 1) ** alpha - 1e-12))

    def norm_tensors(self) -> list[torch.Tensor]:
        return [sup_norm(self.flat[self.box["theta"]]), sup_norm(self.flat[self.box["phi"]])]

    def norm_columns(self, theta: float, phi: float, logvar: list[float] | None = None) -> dict[str, float]:
        """The norm columns; logvar: the lowest and highest log-variance where step_statistics measured them."""
        out = {"inf_norm_theta": theta, "inf_norm_phi": phi, "inf_norm_sum": theta + phi}
        if self.spec.layout.logvars is not None:  # the log-variances have their own range (not a)
            if logvar is None:
                v = self.flat[self.spec.layout.logvars]
                logvar = [float(v.min()), float(v.max())]
            out.update(logvar_low=logvar[0], logvar_high=logvar[1])
        return out

    def probe(self, row: dict[str, Any]) -> None:
        """The probe quantities of this run, in order, each on the probe generator of (seed, step)."""
        if not bool(torch.isfinite(self.flat).all()):
            return  # a diverged iterate: probe columns stay empty
        start = time.perf_counter()
        gen = torch.Generator(device=self.device).manual_seed(self.spec.seed * 1_000_003 + self.step + 1)
        ctx = ProbeContext(self.spec, self.config, self.flat, self.X, self.X_test, gen, self.K_at(self.step), self.step,
                           self.full_grad_points, self.start if self.step == self.n_steps else None)
        for quantity in self.probe_set:
            row.update(quantity.measure(ctx))
        row["probe_seconds"] = time.perf_counter() - start

    # The step is split so that `empirical.ensemble` can batch the gradients of several runs and share the rest.
    def draw_eps(self, size: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randn(size, self.K_at(self.step), self.spec.model.latent_dim, generator=gen, dtype=self.dtype,
                           device=self.device)

    def training_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(indices, eps) of this step's mini-batch, from the training generator. Independent batches draw their B
        indices with replacement: i.i.d. examples, so that any two parts of the batch are independent given theta_k
        (the split-batch estimator needs it; without replacement they are not, see docs/empirical.md)."""
        B = self.spec.B
        if self.config.batches == "independent":
            idx = torch.randint(len(self.X), (B,), generator=self.gen, device=self.device)
        else:
            if self.perm is None:
                self.perm = torch.randperm(len(self.X), generator=self.gen, device=self.device)
            idx = self.perm[self.pos:self.pos + B]
        return idx, self.draw_eps(B, self.gen)

    def fresh_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(indices, eps) of i.i.d. examples (`TrainConfig.norm_batch`, default B) from the second generator,
        independent of training given theta_k."""
        size = self.config.norm_batch or self.spec.B
        idx = torch.randint(len(self.X), (size,), generator=self.inner_gen, device=self.device)
        return idx, self.draw_eps(size, self.inner_gen)

    @property
    def wants_pair(self) -> bool:
        """Whether steps record two conditionally independent unbiased gradients at theta_k (for
        grad_norm_sq_unbiased, and for the gradient mapping of projected runs)."""
        return self.config.unbiased_norm or self.config.project

    @property
    def splits(self) -> bool:
        """Whether the pair is the two halves of one batch (`TrainConfig.norm_estimator`; a batch of one cannot
        split)."""
        return self.config.norm_estimator == "split" and self.spec.B >= 2

    def requests(self, final: bool = False) -> list[Request]:
        """The mini-batch gradients at theta_k this step needs, training batch first (none at the final row), in
        the order their randomness is drawn; `gradient_pair` reads the pair off their results."""
        independent = self.config.batches == "independent"
        out = [] if final else [Request(*self.training_batch())]
        if not self.wants_pair:
            return out
        if self.splits and independent and not final:
            return [Request(*out[0][:2], split=True)]  # the training batch's own halves
        if self.splits:  # a reshuffled epoch's batch is not unbiased given the past: a fresh one
            return out + [Request(*self.fresh_batch(), split=True)]
        fresh = 2 if final or not independent else 1  # the reference: whole fresh batches
        return out + [Request(*self.fresh_batch()) for _ in range(fresh)]

    def minibatch_gradient(self, idx: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(gradient, objective value) of the mini-batch estimator at theta_k on the points idx with noise eps."""
        flat = self.flat.detach().requires_grad_(True)
        surrogate, value = estimate(self.spec, flat, self.X[idx], eps, self.spec.estimator, self.config.baseline)
        return torch.autograd.grad(surrogate, flat)[0], value.detach()

    def split_gradient(self, idx: torch.Tensor, eps: torch.Tensor) -> Result:
        """The mini-batch gradient and value and its two halves' mean gradients, from one backward pass where the
        layers allow it (`empirical.split_batch`), else from one gradient per half (the linear VAE)."""
        split = Split.halves(len(idx))
        w = split.n_a / split.n
        if self.spec.layout.pieces is None:
            (g_a, v_a), (g_b, v_b) = (self.minibatch_gradient(idx[part], eps[part])
                                      for part in (slice(None, split.n_a), slice(split.n_a, None)))
            return Result(w * g_a + (1 - w) * g_b, w * v_a + (1 - w) * v_b, Pair(g_a, g_b))
        flat = self.flat.detach().requires_grad_(True)
        if self.tap_zeros is None:  # never written to (autograd only reads a leaf): one for the whole run
            self.tap_zeros = torch.zeros_like(flat, requires_grad=True)
        tap = Tap(self.tap_zeros, split)
        surrogate, value = estimate(self.spec, flat, self.X[idx], eps, self.spec.estimator, self.config.baseline,
                                    tap=tap)
        g, part_a = tapped_gradient(surrogate, flat, tap)
        return Result(g, value.detach(), Pair(part_a, g, w))

    def compute(self, request: Request) -> Result:
        if request.split:
            return self.split_gradient(request.idx, request.eps)
        return Result(*self.minibatch_gradient(request.idx, request.eps))

    def step_stats(self, ghat: torch.Tensor, value: torch.Tensor, pair: Pair | None) -> torch.Tensor:
        """Everything recorded at a step, as one tensor (one host sync): see `step_statistics`."""
        pair = None if pair is None else Pair(pair.first[None], pair.second[None], pair.w)
        denominator, bar = self.opt.recorded_views(ghat)
        return step_statistics(self.box, ghat[None], value[None], self.flat[None], pair, self.spec.layout.logvars,
                               None if denominator is None else denominator[None], self.layers,
                               preconditioners=None if bar is None else bar[None])[0]

    def finish_step(self, row: dict[str, Any], stats: list[float], ghat: torch.Tensor,
                    pair: Pair | None = None) -> bool:
        """Record the step and update; False if the objective or the gradient is not finite (the run diverged).
        pair: two conditionally independent unbiased gradients at theta_k (for the gradient mapping)."""
        spec, B = self.spec, self.spec.B
        lr = step_size(spec.optimizer.C_gamma, self.config.schedule, self.step, self.epoch)
        logvar_columns = 2 if spec.layout.logvars is not None else 0
        logvar = stats[6:6 + logvar_columns] or None
        end = 6 + logvar_columns + self.layers.count
        row.update(K=self.K_at(self.step), lr=lr, objective_batch=stats[0], grad_norm_sq=stats[1],
                   grad_norm_sq_theta=stats[2], grad_norm_sq_phi=stats[1] - stats[2], grad_abs_max=stats[3],
                   **self.norm_columns(stats[4], stats[5], logvar), **self.layers.columns(stats[6 + logvar_columns:end]))
        extra = stats[end:]  # (<g, g'>, ||g||^2 where a pair is given), (the adaptive sum)
        if pair is not None:
            row["grad_norm_sq_unbiased"], row["pair_first_norm_sq"] = extra.pop(0), extra.pop(0)
        if extra and spec.optimizer.name != "sgd":
            row["adaptive_step_sq"] = extra.pop(0)
            if extra:  # <g, P g'> with the main part's stand-in preconditioner P (where a pair is drawn)
                row["grad_precond_sq_estimate"] = extra.pop(0)
        if not (math.isfinite(stats[0]) and math.isfinite(stats[1])):
            return False
        with torch.no_grad():
            target = self.flat + lr * self.opt.direction(ghat, lr)
            self.flat = projected_update(self, row, target, pair) if self.config.project else target
        if self.opt.columns is not None:  # an adaptive step's trail, for its certificate
            row.update(trail_row(self.opt.columns, self.opt.coordinate_sum))
        self.paper_acc += B * B * stats[1]  # ||grad of the batch-summed loss||^2 = B^2 ||mean gradient||^2
        self.pos += B
        if self.pos + B > len(self.X):
            row["paper_grad_stat"] = self.paper_acc / (len(self.X) * spec.n_parameters)
            self.paper_acc, self.pos, self.perm = 0.0, 0, None
            self.epoch += 1
        return True

    @property
    def records_example_norms(self) -> bool:
        """Whether steps record their examples' gradient norms (`TrainConfig.example_norms`, for the certificate)."""
        return self.config.example_norms

    def train_step(self, row: dict[str, Any]) -> bool:
        """One update of this run alone."""
        requests = self.requests()
        results = [self.compute(request) for request in requests]
        ghat, value, _ = results[0]
        pair = gradient_pair(results)
        record_example_norms(self, row, requests, results)
        return self.finish_step(row, self.step_stats(ghat, value, pair).tolist(), ghat, pair)

    def final_row(self, row: dict[str, Any]) -> None:
        """The last row (theta_n, no update): its norms and its unbiased ||grad L||^2."""
        row.update(self.norm_columns(*torch.stack(self.norm_tensors()).tolist()),
                   **self.layers.columns(self.layers.norms(self.flat[None])[0].tolist()))
        if not self.wants_pair or not bool(torch.isfinite(self.flat).all()):
            return
        pair = gradient_pair([self.compute(request) for request in self.requests(final=True)])
        if self.config.unbiased_norm:
            row["grad_norm_sq_unbiased"] = float(pair.inner())
            bar = self.opt.main_part_preconditioner(pair.mean())
            if bar is not None:
                row["grad_precond_sq_estimate"] = float(pair.inner(bar))
        if self.config.project:
            row["grad_mapping_sq"] = mapping_sq(self, pair)

    def begin_row(self) -> dict[str, Any]:
        """The row of theta_k before its update: probes at probe steps (within the budget), and the last row's own
        columns."""
        row: dict[str, Any] = {"step": self.step, "epoch": self.epoch}
        if self.step in self.probes:
            if take_probe(self.config, len(self.X), self.schedule, self.step, self.rows, self.elapsed):
                self.probe(row)
            else:
                row["probe_skipped"] = True
        if self.config.anchor_every and self.step % self.config.anchor_every == 0:
            self.anchor(row)
        if self.step == self.n_steps:
            self.final_row(row)
        return row

    def anchor(self, row: dict[str, Any]) -> None:
        """An anchor at theta_k (`TrainConfig.anchor_every`): the probes' unbiased ||grad L||^2 with its standard
        error, on anchor_points random training points, from a stream of its own (training and the probes draw as
        they would without it)."""
        if not bool(torch.isfinite(self.flat).all()):
            return
        gen = torch.Generator(device=self.device).manual_seed(ANCHOR_STREAM + self.spec.seed * 1_000_003 + self.step)
        points = min(self.config.anchor_points or ANCHOR_POINTS, len(self.X))
        if has_exact_objective(self.spec):
            row.update(anchor_grad_norm_sq=P.full_grad_norm_sq(self.spec, self.flat, self.X, gen)[0],
                       anchor_grad_norm_sq_se=0.0)
            return
        G = P.replicate_gradients(self.spec, self.flat, self.X, gen, self.config.full_grad_replicates, points)
        est, se = P.u_statistic(G)
        # each replicate's ||g_j||^2: the certificate's estimate form from the anchors weighs their noise by them
        row.update(anchor_grad_norm_sq=est, anchor_grad_norm_sq_se=se, anchor_points=points,
                   **{f"anchor_replicate_sq.{j}": float(g @ g) for j, g in enumerate(G)})

    def end_row(self, row: dict[str, Any], ok: bool, clock: float, checkpoint) -> bool:
        """Append the row and move to the next step; True once the run is over (finished or diverged)."""
        row["wall_time"] = self.elapsed = time.perf_counter() - clock
        self.rows.append(row)
        if not ok:
            self.status, self.diverged_at = "diverged", self.step
            return True
        if self.step == self.n_steps:
            self.status = "finished"
            return True
        self.step += 1
        if self.step % self.config.checkpoint_every == 0:
            checkpoint(self)
        return False

    def trace(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)
