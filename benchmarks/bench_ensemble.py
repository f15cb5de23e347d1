"""Benchmark: an ensemble (torch.func grad + vmap over E runs) against the same runs one after another.

Both train the same E seeds of one spec with the same TrainConfig, one torch thread, on synthetic data of the
model's dimension; the figure is the ratio sequential / ensemble time, measured in one run. The traces are equal
up to rounding (tests/empirical/test_ensemble.py). Sizes: the digits default (64-32-4), a 64-128-8 VAE, an
MNIST-sized 784-400-20 VAE.
Run: python benchmarks/bench_ensemble.py [--members 8] [--steps 200]
"""
from __future__ import annotations

import argparse
import time

import torch

from bounds.spec import ModelSpec, OptimizerSpec, VAESpec
from empirical import TrainConfig, synthetic_linear_gaussian, train
from empirical.ensemble import train_ensemble

SIZES = {"digits 64-32-4": (64, 32, 4), "64-128-8": (64, 128, 8), "MNIST-sized 784-400-20": (784, 400, 20)}


def specs_for(dims: tuple[int, int, int], members: int, steps: int) -> list[VAESpec]:
    d, h, z = dims
    model = ModelSpec(data_dim=d, latent_dim=z, encoder_widths=(h,), decoder_widths=(h,), data_bound=float(d) ** 0.5)
    return [VAESpec(model=model, B=32, n=steps, seed=s, optimizer=OptimizerSpec("sgd", C_gamma=0.05))
            for s in range(members)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    configs = {"steps only (probes at 0 and n, no Lanczos)": TrainConfig(probes=2, lanczos=False),
               "default recording (12 probes)": TrainConfig()}
    for size, dims in SIZES.items():
        specs = specs_for(dims, args.members, args.steps)
        datas = [synthetic_linear_gaussian(s.model.data_dim, s.model.latent_dim, 1000, data_bound=s.model.data_bound,
                                           seed=s.seed) for s in specs]
        for label, cfg in configs.items():
            train_ensemble(specs[:2], TrainConfig(steps=5, probes=2, lanczos=False), datas[:2])  # warm-up
            t0 = time.perf_counter()
            train_ensemble(specs, cfg, datas)
            t_ens = time.perf_counter() - t0
            t0 = time.perf_counter()
            for s, d in zip(specs, datas):
                train(s, cfg, d)
            t_seq = time.perf_counter() - t0
            print(f"{size:<24s} {specs[0].n_parameters:>8d} params, {args.members} runs x {args.steps} steps, "
                  f"{label}: sequential {t_seq:6.1f} s, ensemble {t_ens:6.1f} s, speed-up {t_seq / t_ens:.2f}x")


if __name__ == "__main__":
    main()
