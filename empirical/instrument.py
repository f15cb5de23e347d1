"""Instrument your own VAE training loop: three added lines, and the run is an ordinary run folder that
`vaebound compare` and `vaebound report` read.

    inst = Instrument(model, objective, data=X_train, test=X_test, out="runs/mine", steps=n, optimizer=opt)
    for x in batches:
        loss = -objective(model, x).sum(); opt.zero_grad(); loss.backward()
        inst.step(x, loss)                  # after backward, before opt.step()
        opt.step()
    inst.finish()

`objective(module, x)` returns each example's objective (the ELBO, to maximise); the loop's `loss` is its negative,
summed (`reduction="sum"`, the paper's code) or averaged (`"mean"`). At every step the instrument records what the
toolkit's trainer records (the mini-batch gradient norm, its decoder part, the largest coordinate, the per-step
unbiased ||grad L||^2 from the two halves of the batch read off the loop's own backward (`empirical.halves`), the
iterate's norms), and at log-spaced probe steps the expensive quantities. Where the module is a VAE the bounds know
(`empirical.module_spec`), the probes are the toolkit's own on its flat layout, and the run gets its derived bound;
where it is not, the full-gradient norm and the objectives are measured through `objective`, and the run records
which layer keeps it outside the theory.
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from bounds.spec import ModelSpec, OptimizerSpec, VAESpec
from .config import TrainConfig
from .halves import HalfBatchTap
from .module_probes import module_probes
from .module_spec import ModuleSpec, spec_from_module
from .quantities import ProbeContext, probe_quantities
from .runs import CONFIG, PARAMETERS, TRACE, _save_array, atomic_write, versions, write_json, write_trace
from .probe_plan import full_gradient_points, probe_steps, take_probe

Objective = Callable[[nn.Module, torch.Tensor], torch.Tensor]
OPTIMIZER_NAMES = {"SGD": "sgd", "Adam": "adam", "Adagrad": "adagrad", "RMSprop": "rmsprop"}


class Instrument:
    """Records the theorems' quantities for a user's module and loop into the run folder `out`.

    data / test: the training and held-out examples (tensors of shape (N, ...), as the module takes them), for the
    probes. steps: the number of steps the loop will take (the probe schedule). optimizer: the loop's optimiser (its
    learning rate is recorded as the step size). module_spec: `spec_from_module`'s reading (read here with
    `spec_options` when not given). probes: how many log-spaced probe steps (0: none); K: the draws per example the
    objective uses (recorded); quantities: opt-in probe quantities of the toolkit (e.g. "hessian_trace") for a module
    read as a spec; probe_budget: on more than 4,096 training rows, the probes' share of the loop's time (and the
    full-gradient subsample's), as in `TrainConfig` (None: every probe on every row)."""

    def __init__(self, module: nn.Module, objective: Objective, *, data: torch.Tensor, out: str | Path, steps: int,
                 test: torch.Tensor | None = None, optimizer: torch.optim.Optimizer | None = None,
                 reduction: str = "sum", module_spec: ModuleSpec | None = None, probes: int = 12, K: int = 1,
                 seed: int = 0, quantities: tuple[str, ...] = (), probe_budget: float | None = 0.25,
                 **spec_options: Any) -> None:
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction={reduction!r} is invalid: the loop's loss sums ('sum') or averages ('mean') "
                             "the examples' negative objective")
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps={steps!r} is invalid: the number of steps the loop takes, an integer >= 1")
        self.module, self.objective, self.optimizer, self.reduction = module, objective, optimizer, reduction
        self.out, self.steps, self.K, self.seed = Path(out), steps, K, seed
        self.X, self.X_test = data, data if test is None else test
        dim = int(np.prod(data.shape[1:]))
        self.read = module_spec or spec_from_module(module, dim, **spec_options)
        self.params = self.read.parameters() if self.read.spec is not None else [p for p in module.parameters()]
        names = {id(p): name for name, p in module.named_parameters()}
        self.is_decoder = [names.get(id(p), "").startswith("decoder") for p in self.params]
        self.groups = self._groups()
        self.tap = HalfBatchTap(module)
        self.schedule = probe_steps(steps, probes) if probes else []  # probes=0: the per-step record only
        self.probe_at = set(self.schedule)
        self.config = TrainConfig(steps=steps, form="torch", schedule="per_epoch", probes=max(probes, 1),
                                  unbiased_norm=True, quantities=tuple(quantities), probe_budget=probe_budget)
        self.rows: list[dict[str, Any]] = []
        self.k, self.B, self.started = 0, None, None
        self._write("running")

    # -- what a step records -----------------------------------------------------------------------------------
    def step(self, x: torch.Tensor, loss: torch.Tensor | float) -> None:
        """Record step k: call after the loop's backward and before its optimiser's step."""
        row: dict[str, Any] = {"step": self.k, "epoch": 0}
        self.started = self.started or time.perf_counter()  # the loop's time: from its first recorded step
        if self.k in self.probe_at:
            elapsed = time.perf_counter() - self.started
            if take_probe(self.config, len(self.X), self.schedule, self.k, self.rows, elapsed):
                self._probe(row)
            else:  # over the probe budget (a large data set): docs/empirical.md#probes-on-large-data
                row["probe_skipped"] = True
        B = self.B = len(x)
        scale = 1.0 / B if self.reduction == "sum" else 1.0  # the loss's gradient -> the per-example mean's
        grads = [p.grad.detach() if p.grad is not None else torch.zeros_like(p) for p in self.params]
        half = self.tap.half_parts(self.params) if self.tap.B == B and B >= 2 else None
        self.tap.reset()
        per_param = [torch._foreach_norm(grads, 2), _sup_norms(grads)]
        if half is not None:  # g_A = -scale B h / n_a and g_B = -scale B (G - h) / (B - n_a) for the loop's gradient G
            inner = sum(torch.dot(h.reshape(-1), (G - h).reshape(-1)) for h, G in zip(half, grads))
            per_param.append([inner * (scale * B) ** 2 / ((B // 2) * (B - B // 2))])
        params = [p.detach() for p in self.params]  # the iterate's norms, in the same host sync
        per_param += [_sup_norms(params), torch._foreach_norm(params, 2)]
        stats = torch.stack([v for group in per_param for v in group]).double().tolist()
        n = len(self.params)
        norms = self._norms(stats[-2 * n:])
        squares = [(scale * v) ** 2 for v in stats[:n]]
        lr = float(self.optimizer.param_groups[0]["lr"]) if self.optimizer is not None else math.nan
        value = float(loss.detach() if isinstance(loss, torch.Tensor) else loss)
        theta = sum(sq for sq, dec in zip(squares, self.is_decoder) if dec)
        row.update(K=self.K, lr=lr, objective_batch=-value * scale, grad_norm_sq=sum(squares), grad_norm_sq_theta=theta,
                   grad_norm_sq_phi=sum(squares) - theta, grad_abs_max=scale * max(stats[n:2 * n]), **norms)
        if half is not None:
            row["grad_norm_sq_unbiased"] = stats[2 * n]
        self.rows.append(row)
        self.k += 1
        if self.k in self.probe_at:  # a probe step's record reaches the folder before the next probe's work
            self._write("running")

    def finish(self) -> pd.DataFrame:
        """The last row (theta_n: its norms and probes), the final parameters and the record as finished."""
        row: dict[str, Any] = {"step": self.k, "epoch": 0, **self._norms()}
        if self.probe_at:
            self._probe(row)
        self.rows.append(row)
        self.tap.close()
        flat = self._flat().cpu().numpy()
        atomic_write(self.out / PARAMETERS, lambda tmp: _save_array(tmp, flat))
        self._write("finished")
        return self.trace()

    def trace(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)

    # -- the parts -----------------------------------------------------------------------------------------------
    def _flat(self) -> torch.Tensor:
        if self.read.spec is not None:
            return self.read.flat(torch.float64)
        return torch.cat([p.detach().reshape(-1) for p in self.params]).double()

    def _groups(self) -> tuple[list[int], list[str]] | None:
        """Which layer's weight (2i) or bias (2i + 1) each parameter is, in the flat layout's order (the two heads share
        a layer), with the column names; None where the module was not read as a spec."""
        if self.read.spec is None:
            return None
        ids = [2 * i + j for i, (weights, biases) in enumerate(self.read.layers) for j, ps in enumerate((weights, biases))
               for _ in ps]
        names = [f"{kind}.{slot.name}" for slot in self.read.spec.layout for kind in ("frobenius_norm", "bias_norm")]
        return ids, names

    def _norms(self, values: list[float] | None = None) -> dict[str, float]:
        """||theta||_inf and ||phi||_inf (decoder, encoder) and every layer's Frobenius and bias norms, from the
        parameters' sup and Euclidean norms (`values`, measured here where not given)."""
        n = len(self.params)
        if values is None:
            params = [p.detach() for p in self.params]
            values = torch.stack(_sup_norms(params) + list(torch._foreach_norm(params, 2))).double().tolist()
        sup = lambda dec: max([v for v, d in zip(values[:n], self.is_decoder) if d == dec], default=0.0)
        out = {"inf_norm_theta": sup(True), "inf_norm_phi": sup(False)}
        out["inf_norm_sum"] = out["inf_norm_theta"] + out["inf_norm_phi"]
        if self.groups is not None:  # a layer's norms are its parameters' (the two heads: stacked)
            ids, names = self.groups
            totals = [0.0] * len(names)
            for i, v in zip(ids, values[n:]):
                totals[i] += v * v
            out.update(zip(names, (math.sqrt(t) for t in totals)))
        return out

    def _probe(self, row: dict[str, Any]) -> None:
        start = time.perf_counter()
        with self.tap.paused():
            self._measure(row)
        row["probe_seconds"] = time.perf_counter() - start

    def _measure(self, row: dict[str, Any]) -> None:
        gen = torch.Generator(device=self.X.device).manual_seed(self.seed * 1_000_003 + self.k + 1)
        if self.read.spec is not None:  # the toolkit's own probes, on its layout
            X = self.X.reshape(len(self.X), -1).to(torch.float64)
            X_test = self.X_test.reshape(len(self.X_test), -1).to(torch.float64)
            ctx = ProbeContext(self.read.spec, self.config, self.read.flat(torch.float64).to(X.device), X, X_test,
                               gen, self.K, self.k, self.full_grad_points)
            for quantity in probe_quantities(self.config):
                row.update(quantity.measure(ctx))
            return
        row.update(module_probes(self.module, self.objective, self.params, self.is_decoder, self.X, self.X_test,
                                 self.B or 32, self.config, self.seed * 1_000_003 + self.k + 1,
                                 self.full_grad_points))

    @property
    def full_grad_points(self) -> int:
        return full_gradient_points(self.config, len(self.X), self.steps, self.B or 32)

    def _write(self, status: str) -> None:
        spec = dataclasses.replace(self.read.spec or _placeholder(self), optimizer=_optimizer_spec(self.optimizer),
                                   B=self.B or (self.read.spec.B if self.read.spec is not None else 1))
        record = {"spec": spec.to_dict(), "train": self.config.to_dict(), "status": status, "n_steps": self.steps,
                  "data": {"name": "instrumented", "n_train": len(self.X), "n_test": len(self.X_test),
                           "dim": int(np.prod(self.X.shape[1:]))},
                  "instrumented": {"module": type(self.module).__name__, "reduction": self.reduction,
                                   "outside_theory": list(self.read.outside), "spec_read": self.read.spec is not None},
                  "versions": versions(), "steps_done": self.k, "n_parameters": int(sum(p.numel() for p in self.params))}
        if self.rows:
            write_trace(self.out / TRACE, self.trace())
        write_json(self.out / CONFIG, record)


def _sup_norms(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """Each tensor's largest |entry|, as max(-min, max): one aminmax pass (torch's inf norm is 10x slower on CPU)."""
    return [torch.maximum(-low, high) for low, high in (torch.aminmax(t) for t in tensors)]


def _placeholder(inst: Instrument) -> VAESpec:
    """A spec that only carries the loop's data dimension for a module the bounds do not read."""
    return VAESpec(model=ModelSpec(data_dim=int(np.prod(inst.X.shape[1:])), data_bound=1.0))


def _optimizer_spec(optimizer: torch.optim.Optimizer | None) -> OptimizerSpec:
    """The loop's optimiser as the spec names it: its kind and first learning rate (Adam's betas and eps)."""
    if optimizer is None:
        return OptimizerSpec()
    group = optimizer.param_groups[0]
    name = OPTIMIZER_NAMES.get(type(optimizer).__name__, "sgd")
    betas = group.get("betas", (0.9, 0.999))
    if name == "rmsprop":
        betas = (0.0, group.get("alpha", 0.99))
    return OptimizerSpec(name, C_gamma=float(group.get("initial_lr", group["lr"])), beta1=betas[0], beta2=betas[1],
                         delta=float(group.get("eps", 1e-8)))
