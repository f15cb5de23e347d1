"""Benchmark: sweep throughput on this machine's cores.

1. 8 MNIST-sized runs (784-400-20 Gaussian VAE, synthetic 784-d data): one worker process per core, each with one
   torch thread, against one process running them one after another with every core's threads. Goal: >= 1.3x.
2. 8 digits-sized runs (seeds of one spec): ensembles (torch.func) against one run at a time, one worker.
3. The same 8 digits-sized runs on a Dask LocalCluster (one single-threaded worker per core) against the local
   backend's default.
Each figure is a ratio of wall times measured in one run. Run: python benchmarks/bench_sweep.py [--steps N]
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from compare.sweeps import plan as S
from compare.sweeps.runner import cores, run_sweep

TRAIN = {"probes": 2, "lanczos": False}


def mnist_sized(steps: int) -> S.Sweep:
    model = {"data_dim": 784, "latent_dim": 20, "encoder_widths": [400], "decoder_widths": [400], "data_bound": 28.0}
    return S.parse({"name": "mnist-sized", "data": "synthetic", "seeds": list(range(8)), "train": TRAIN,
                    "spec": {"model": model, "n": steps, "B": 64}})


def digits_sized(steps: int) -> S.Sweep:
    return S.parse({"name": "digits", "data": "digits", "seeds": list(range(8)), "train": TRAIN, "spec": {"n": steps}})


def timed(sweep: S.Sweep, **kw) -> float:
    out = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        t0 = time.perf_counter()
        result = run_sweep(sweep, out, progress=False, **kw)
        assert all(p["status"] == "finished" for p in result["points"].values()), result
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    n = cores()
    print(f"{n} cores")
    big = mnist_sized(args.steps)
    seq = timed(big, workers=1, ensemble="never")
    par = timed(big, workers=n, ensemble="never")
    print(f"8 MNIST-sized runs x {args.steps} steps: sequential ({n} threads) {seq:.1f} s, {n} single-threaded "
          f"workers {par:.1f} s: {seq / par:.2f}x (goal >= 1.3x)")
    small = digits_sized(4 * args.steps)
    one = timed(small, workers=1, ensemble="never")
    ens = timed(small, workers=1, ensemble="always")
    auto = timed(small, workers=n)
    print(f"8 digits-sized runs x {4 * args.steps} steps: one at a time {one:.1f} s, one ensemble {ens:.1f} s: "
          f"{one / ens:.2f}x (goal >= 2x); local default (auto, {n} workers) {auto:.1f} s")
    try:
        from dask.distributed import LocalCluster
    except ImportError:
        print("dask.distributed is not installed: no Dask figure")
        return
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        timed(digits_sized(5), backend="dask", address=cluster.scheduler_address)  # warm the workers' imports
        dask_time = timed(small, backend="dask", address=cluster.scheduler_address, ensemble="never")
    print(f"Dask LocalCluster ({n} workers), the digits sweep one run per task: {dask_time:.1f} s, "
          f"{one / dask_time:.2f}x one at a time locally")


if __name__ == "__main__":
    main()
