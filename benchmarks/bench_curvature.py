"""Benchmark: the Lanczos probe of the top Hessian eigenvalue on an MNIST-sized net (784-400-20 Bernoulli MLP VAE,
652,824 parameters), against a converged reference.

Reports the probe's Hessian-vector products (goal: <= 25) and its relative error against a converged reference,
scipy's ARPACK (eigsh) to tol = 1e-10 (goal: <= 1e-3), with ARPACK's own products at the probe's tol = 1e-3 beside it, at the initial iterate and after 200 training steps, on 128 points with frozen noise
(what `TrainConfig.hessian_points` probes); and the cost of one Hessian-vector product (double backward through
the gradient's graph, built once) as a multiple of one gradient of the same objective, timed in the same run.

Run: python benchmarks/bench_curvature.py [--threads 2] [--device cpu|cuda]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from bounds.spec import ModelSpec, OptimizerSpec, VAESpec
from empirical import TrainConfig
from empirical import probes as P
from empirical.data import Dataset
from empirical.trainer import Trainer


def arpack_top(objective, flat: torch.Tensor, tol: float) -> tuple[float, int]:
    """The reference: scipy's eigsh (implicitly restarted Lanczos) on the same Hessian-vector products."""
    from scipy.sparse.linalg import LinearOperator, eigsh
    flat = flat.detach().requires_grad_(True)
    grad = torch.autograd.grad(objective(flat), flat, create_graph=True)[0]
    calls = [0]

    def hvp(v: np.ndarray) -> np.ndarray:
        calls[0] += 1
        tangent = torch.as_tensor(np.ravel(v), dtype=flat.dtype, device=flat.device)
        return torch.autograd.grad(grad, flat, tangent, retain_graph=True)[0].double().cpu().numpy()
    op = LinearOperator((flat.numel(),) * 2, matvec=hvp, dtype=np.float64)
    value = eigsh(op, k=1, which="LM", tol=tol, maxiter=5000, v0=np.random.default_rng(0).standard_normal(flat.numel()),
                  return_eigenvectors=False)
    return float(abs(value[0])), calls[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = ModelSpec(kind="bernoulli", data_dim=784, latent_dim=20, encoder_widths=(400,), decoder_widths=(400,))
    spec = VAESpec(model=model, B=64, n=200, optimizer=OptimizerSpec("sgd", C_gamma=1e-3))
    images = (np.random.default_rng(0).random((1024, 784)) < 0.3).astype(np.float32)
    data = Dataset("synthetic binary 28x28", images[:896], images[896:])
    trainer = Trainer(spec, TrainConfig(unbiased_norm=False, probes=2, device=args.device), data, progress=False)
    trainer.probes.clear()
    print(f"784-400-20 Bernoulli VAE, {spec.n_parameters:,} parameters, {args.device}, {args.threads} threads, "
          f"Hessian on 128 points with frozen noise")
    for label in ("initial iterate", "after 200 SGD steps"):
        if label.startswith("after"):
            for _ in range(200):
                trainer.train_step({"step": trainer.step, "epoch": trainer.epoch})
                trainer.step += 1
        objective = P.frozen_objective(spec, trainer.X[:128], torch.Generator(device=trainer.device).manual_seed(1))
        reference, ref_hvps = arpack_top(objective, trainer.flat, tol=1e-10)
        _, arpack_hvps = arpack_top(objective, trainer.flat, tol=1e-3)
        start = time.perf_counter()
        value, hvps = P.top_hessian_eigenvalue(objective, trainer.flat)
        seconds = time.perf_counter() - start
        flat = trainer.flat.detach().requires_grad_(True)
        gradients = []
        for _ in range(5):
            t0 = time.perf_counter()
            torch.autograd.grad(objective(flat), flat)
            gradients.append(time.perf_counter() - t0)
        gradient = statistics.median(gradients)
        grad = torch.autograd.grad(objective(flat), flat, create_graph=True)[0]
        products = []
        for _ in range(5):
            t0 = time.perf_counter()
            torch.autograd.grad(grad, flat, torch.ones_like(flat), retain_graph=True)
            products.append(time.perf_counter() - t0)
        product = statistics.median(products)
        print(f"  {label}: top |eigenvalue| {value:.6g}, reference {reference:.6g} ({ref_hvps} products); "
              f"relative error {abs(value - reference) / reference:.1e} (goal <= 1e-3) in {hvps} products "
              f"(goal <= 25; ARPACK at the same tol: {arpack_hvps}); one product = {product / gradient:.1f} "
              f"gradients; the probe {seconds:.2f} s = {seconds / gradient:.0f} gradients (the graph built once, then the "
              f"products)")


if __name__ == "__main__":
    main()
