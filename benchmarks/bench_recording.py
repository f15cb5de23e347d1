"""Benchmark: the cost of recording a run.

1. Per-step recording overhead: the trainer's step (gradient norms per block, ||theta||_inf and ||phi||_inf, the
   objective, one host sync) against a plain PyTorch step of the same model (same estimator, same update, nothing
   recorded). Goal (issue 3): at most 5%. Runs alternate in rounds, so machine noise hits both alike; the figure is
   the median ratio.
   The per-step unbiased ||grad L||^2 estimate (TrainConfig.unbiased_norm) and the examples' gradient norms
   (TrainConfig.example_norms, for the certificate) are off for this figure and timed apart: the split-batch estimator reads it off the training batch with independent batches and needs one fresh
   batch with epoch reshuffling; the two-fresh-batches reference (norm_estimator="fresh") is timed beside it.
2. Probe costs at one step: the unbiased full-gradient norm, the gradient-noise/SNR probe, the Lanczos top
   eigenvalue (with its number of Hessian-vector products), the parameter norms, in seconds and in multiples of
   one training step.
3. The per-layer norms of a step with and without the carried spectral bounds (empirical/spectral_bounds.py), over
   the iterates of real training steps.
4. An Adam direction with the certificate's preconditioner trail (empirical/preconditioner_trail.py: five capped
   momenta and their norms) against torch's Adam update alone, on the same parameter count; and the adaptive
   theorems' main-part estimate <g, P g'> (`FlatOptimizer.main_part_preconditioner`, `Pair.inner`) a step.
Run: make bench   (or: python benchmarks/bench_recording.py [--steps N] [--rounds R])
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from bounds.presets import digits_spec
from bounds.spec import OptimizerSpec
from empirical import TrainConfig, digits
from empirical import probes as P
from empirical.estimators import estimate
from empirical.optimizers import FlatOptimizer
from empirical.step_gradients import LayerGroups, Pair
from empirical.trainer import Trainer


def plain_steps(trainer: Trainer, steps: int) -> float:
    """The same model and update without any recording: the baseline."""
    spec, X, gen = trainer.spec, trainer.X, torch.Generator().manual_seed(0)
    flat = trainer.flat.clone()
    t0 = time.perf_counter()
    for k in range(steps):
        idx = torch.randint(0, len(X), (spec.B,), generator=gen)
        eps = torch.randn(spec.B, spec.objective.K, spec.model.latent_dim, generator=gen)
        p = flat.detach().requires_grad_(True)
        surrogate, _ = estimate(spec, p, X[idx], eps)
        g = torch.autograd.grad(surrogate, p)[0]
        with torch.no_grad():
            flat = flat + spec.optimizer.C_gamma / (k + 1) ** 0.5 * g
    return time.perf_counter() - t0


def recorded_steps(trainer: Trainer, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        row = {"step": trainer.step, "epoch": trainer.epoch}
        trainer.train_step(row)
        trainer.rows.append(row)
        trainer.step += 1
    return time.perf_counter() - t0


def spectral_cost(trainer: Trainer, steps: int) -> tuple[float, float, int]:
    """(seconds a step for the per-layer norms with the carried spectral bounds, without them, anchors renewed), over
    the iterates of `steps` real training steps, replayed in the same order."""
    flats = []
    for _ in range(steps):
        row = {"step": trainer.step, "epoch": trainer.epoch}
        trainer.train_step(row)
        trainer.step += 1
        flats.append(trainer.flat.clone()[None])
    with_bounds, without = LayerGroups(trainer.spec.layout), LayerGroups(trainer.spec.layout)
    without.spectral = None
    times, anchors = [], 0
    for groups in (with_bounds, without):
        t0 = time.perf_counter()
        for flat in flats:
            groups.norms(flat).tolist()  # the step's sync, as recorded
            if groups.spectral is not None and groups.spectral.stale is not None:
                anchors += int(groups.spectral.stale.sum())
        times.append((time.perf_counter() - t0) / steps)
    return times[0], times[1], anchors


def adam_direction_cost(size: int, steps: int) -> tuple[float, float, float]:
    """(seconds an Adam direction takes with the trail, the bias-corrected Adam update alone, what the main part's
    stand-in preconditioner and <g, P g'> of a split pair add to the step's recorded denominator) on `size`
    parameters."""
    spec, gen = OptimizerSpec("adam", C_gamma=1e-3), torch.Generator().manual_seed(0)
    grads = [torch.randn(size, generator=gen) for _ in range(steps)]
    opt = FlatOptimizer(spec, "torch", grads[0])
    t0 = time.perf_counter()
    for g in grads:
        opt.direction(g, 1e-3)
        opt.columns.tolist()  # the trail's values reach the row
    with_trail = (time.perf_counter() - t0) / steps
    t0 = time.perf_counter()
    for g in grads:
        opt.denominator(g)  # what a step recorded before the stand-in
    denominator = time.perf_counter() - t0
    t0 = time.perf_counter()
    for g in grads:
        _, stand_in = opt.recorded_views(g)  # the same denominator and the stand-in, from one second moment
        Pair(0.5 * g, g, 0.5).inner(stand_in)
    stand_in = (time.perf_counter() - t0 - denominator) / steps
    m, v = torch.zeros(size), torch.zeros(size)
    t0 = time.perf_counter()
    for k, g in enumerate(grads, start=1):
        m.mul_(spec.beta1).add_((1 - spec.beta1) * g)
        v.mul_(spec.beta2).add_((1 - spec.beta2) * g * g)
        (m / (1 - spec.beta1**k)) / (torch.sqrt(v / (1 - spec.beta2**k)) + spec.delta)
    return with_trail, (time.perf_counter() - t0) / steps, stand_in


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    spec, data = digits_spec(), digits()
    # The per-step recording alone: the examples' gradient norms (on by default, for the certificate) are timed apart.
    trainer = Trainer(spec, TrainConfig(unbiased_norm=False, example_norms=False), data, progress=False)
    plain_steps(trainer, 20), recorded_steps(trainer, 20)  # warm-up
    ratios, plain_times = [], []
    for _ in range(args.rounds):
        t_plain = plain_steps(trainer, args.steps)
        t_rec = recorded_steps(trainer, args.steps)
        ratios.append(t_rec / t_plain)
        plain_times.append(t_plain / args.steps)
    step_s = statistics.median(plain_times)
    print(f"model: digits default, {spec.n_parameters} parameters, B={spec.B}, K={spec.objective.K}, 1 thread")
    print(f"plain step: {step_s * 1e3:.3f} ms")
    print(f"recording overhead: median ratio recorded/plain = {statistics.median(ratios):.3f} "
          f"(rounds: {', '.join(f'{r:.3f}' for r in ratios)}); goal <= 1.05")
    norms = Trainer(spec, TrainConfig(unbiased_norm=False), data, progress=False)
    recorded_steps(norms, 20)
    rounds = [recorded_steps(norms, args.steps) / plain_steps(trainer, args.steps) for _ in range(3)]
    print(f"with the examples' gradient norms (TrainConfig.example_norms, the default): median ratio to plain = "
          f"{statistics.median(rounds):.2f}")
    for ghost in (False, True):  # reshuffled epochs: the certificate's ghost batch (its examples' norms and its gap)
        other = Trainer(spec, TrainConfig(ghost_batch=ghost), data, progress=False)
        recorded_steps(other, 20)
        rounds = [recorded_steps(other, args.steps) / plain_steps(trainer, args.steps) for _ in range(3)]
        print(f"reshuffled epochs with unbiased_norm and example_norms, ghost_batch={ghost}: median ratio to plain = "
              f"{statistics.median(rounds):.2f}")

    for batches in ("independent", "epochs"):
        for estimator in ("split", "fresh"):
            other = Trainer(spec, TrainConfig(batches=batches, norm_estimator=estimator), data, progress=False)
            recorded_steps(other, 20)
            rounds = [recorded_steps(other, args.steps) / plain_steps(trainer, args.steps) for _ in range(3)]
            print(f"with unbiased_norm, batches={batches}, norm_estimator={estimator}: median ratio to plain = "
                  f"{statistics.median(rounds):.2f}")

    spectral, frobenius, anchors = spectral_cost(Trainer(spec, TrainConfig(unbiased_norm=False), data, progress=False),
                                                 args.steps)
    print(f"per-layer norms a step: {frobenius * 1e3:.3f} ms (Frobenius and bias), {spectral * 1e3:.3f} ms with the "
          f"carried spectral bounds ({(spectral - frobenius) / step_s:.1%} of a plain step; {anchors} layer anchors "
          f"renewed in {args.steps} steps)")

    trail, adam, stand_in = adam_direction_cost(spec.n_parameters, args.steps)
    print(f"Adam direction: {trail * 1e3:.3f} ms with the certificate's trail, {adam * 1e3:.3f} ms alone "
          f"(the trail adds {(trail - adam) / step_s:.1%} of a plain step); the main part's <g, P g'> adds "
          f"{stand_in * 1e3:.3f} ms ({stand_in / step_s:.1%})")

    cfg, flat, X = trainer.config, trainer.flat, trainer.X
    gen = torch.Generator().manual_seed(1)
    # The first double backward of a process imports sympy inside torch (about 0.4 s, once): not a probe's cost.
    P.top_hessian_eigenvalue(P.frozen_objective(spec, X[:8], gen), flat, max_hvps=3)
    costs = {}
    t0 = time.perf_counter()
    P.full_grad_norm_sq(spec, flat, X, gen, cfg.full_grad_replicates)
    costs[f"full_grad_norm_sq ({cfg.full_grad_replicates} full-data gradients, {len(X)} points)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    P.gradient_noise(spec, flat, X, spec.B, spec.objective.K, cfg.variance_draws, gen, spec.estimator, cfg.baseline)
    costs[f"gradient noise / SNR ({cfg.variance_draws} mini-batch gradients)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    value, hvps = P.top_hessian_eigenvalue(P.frozen_objective(spec, X[:cfg.hessian_points], gen), flat)
    costs[f"Lanczos top eigenvalue ({hvps} Hessian-vector products, {cfg.hessian_points} points)"] = \
        time.perf_counter() - t0
    t0 = time.perf_counter()
    P.parameter_norms(spec, flat)
    costs["parameter norms (per-layer spectral and Frobenius)"] = time.perf_counter() - t0
    print("probe costs at one step:")
    for name, seconds in costs.items():
        print(f"  {name:<75s} {seconds * 1e3:9.1f} ms = {seconds / step_s:7.0f} training steps")


if __name__ == "__main__":
    main()
