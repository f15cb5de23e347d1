"""Benchmark: what the default probes cost on a 784-dimensional data set (issue 19).

A generated 60,000 x 784 image set in [0, 1] (ten blurred prototypes with pixel noise, MNIST's size and range; no
download), a 784-256-16 soft-clipped Bernoulli MLP VAE under the paper's protocol (torch.optim's Adam, lr
1e-3 / sqrt(epoch + 1), reshuffled epochs, B = 128), for one epoch (468 steps). Three ways, in one process:

- default: `TrainConfig()`'s probes (12 scheduled, the probe budget 0.25 of the training's time, the full-gradient
  replicates on subsets of the training set);
- no probes: the same steps with the probe schedule emptied (everything else recorded as usual);
- unbudgeted (once, --unbudgeted): probe_budget=None, every scheduled probe over all 60,000 images, as before.

The default and the no-probe runs alternate over --rounds, so machine noise hits both alike; the figure is the ratio
of their medians. Goal: default / no probes <= 1.3.
Run: python benchmarks/bench_probes.py [--rounds 3] [--epochs 1] [--unbudgeted]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from bounds.spec import ModelSpec, OptimizerSpec, VAESpec
from empirical import TrainConfig
from empirical.data import Dataset
from empirical.runs import RunFolder
from empirical.trainer import Trainer
from empirical.training import _run


def generated_images(n_train: int = 60_000, n_test: int = 10_000, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((10, 28, 28)) > 0.7).astype(np.float32)
    prototypes = (prototypes + np.roll(prototypes, 1, 1) + np.roll(prototypes, 1, 2)) / 3  # a little smoother
    labels = rng.integers(0, 10, n_train + n_test)
    images = np.clip(prototypes[labels] * 0.85 + 0.15 * rng.random((n_train + n_test, 28, 28)), 0, 1)
    flat = images.reshape(len(images), -1).astype(np.float32)
    return Dataset("generated-784", flat[:n_train], flat[n_train:], (1, 28, 28))


def spec_for(data: Dataset, steps: int) -> VAESpec:
    model = ModelSpec(kind="bernoulli", data_dim=784, latent_dim=16, encoder_widths=(256,), decoder_widths=(256,),
                      data_bound=float(np.sqrt(784)))
    return VAESpec(model=model, optimizer=OptimizerSpec("adam", C_gamma=1e-3), B=128, n=steps)


def timed(spec: VAESpec, config: TrainConfig, data: Dataset, probes: bool) -> tuple[float, float, int]:
    """(wall seconds, probe seconds, probes taken) of one run, no folder."""
    trainer = Trainer(spec, config, data, progress=False)
    if not probes:
        trainer.probes = set()
    start = time.perf_counter()
    run = _run(trainer, RunFolder(trainer, data, None), None)
    seconds = time.perf_counter() - start
    taken = run.trace["probe_seconds"].dropna() if "probe_seconds" in run.trace else []
    return seconds, float(np.sum(taken)), len(taken)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--unbudgeted", action="store_true")
    args = parser.parse_args()
    torch.set_flush_denormal(True)  # saturated soft-clips make subnormals: without this a step is 10x slower
    data = generated_images()
    spec = spec_for(data, args.epochs * (len(data.train) // 128))
    config = TrainConfig(schedule="per_epoch", form="torch")
    print(f"{len(data.train):,} x {data.dim} generated images; 784-256-16 Bernoulli VAE, {spec.n_parameters:,} "
          f"parameters; {spec.n} steps (B = 128); torch threads {torch.get_num_threads()}")
    timed(spec, TrainConfig(schedule="per_epoch", form="torch", steps=20), data, True)  # warm the process up
    with_probes, without = [], []
    for r in range(args.rounds):
        with_probes.append(timed(spec, config, data, True))
        without.append(timed(spec, config, data, False))
        print(f"  round {r + 1}: default probes {with_probes[-1][0]:.2f} s ({with_probes[-1][2]} probes, "
              f"{with_probes[-1][1]:.2f} s in them), no probes {without[-1][0]:.2f} s")
    ratio = statistics.median(w[0] for w in with_probes) / statistics.median(w[0] for w in without)
    print(f"default probes / no probes: {ratio:.2f}x (goal <= 1.3)")
    if args.unbudgeted:
        seconds, in_probes, taken = timed(spec, TrainConfig(schedule="per_epoch", form="torch", probe_budget=None),
                                          data, True)
        print(f"unbudgeted (every probe over all {len(data.train):,} images): {seconds:.1f} s, {taken} probes, "
              f"{in_probes:.1f} s in them: {seconds / statistics.median(w[0] for w in without):.2f}x no probes")


if __name__ == "__main__":
    main()
