"""Benchmark: the paper's CIFAR-100 soft-clipping VAE trained by vaebound against the same network written by hand in
torch.nn, as the paper's code writes it (nn.Conv2d / nn.ConvTranspose2d layers, soft-clipping from F.softplus,
fc_mu / fc_logvar heads, torch.optim.Adam, per-parameter gradient norms logged every step with one host sync).

Both sides: B = 64, K = 1, the reparameterised single-sample ELBO with a Bernoulli decoder, synthetic 3x32x32 inputs
in [0, 1]. Rounds alternate (plain; vaebound without the unbiased norm; with its default recording under independent
batches, where the split-batch estimate comes from the training batch; under the paper's reshuffled epochs, where it
needs one fresh batch; and the two-fresh-batches reference), so machine noise hits all alike; the figures are medians of the per-round ratios. Probes are off here (they run on a
log-spaced schedule and are timed by bench_recording.py); this is the per-step cost.

Run: python benchmarks/bench_paper_net.py [--steps 30] [--rounds 3] [--threads 2] [--device cpu|cuda]
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from bounds.presets import paper_image_spec
from empirical import paper_train_config
from empirical.data import Dataset
from empirical.trainer import Trainer


def paper_softclip(x: torch.Tensor, s: float, s1: float, s2: float) -> torch.Tensor:
    """As the paper's code writes it: F.softplus with its default threshold."""
    return F.softplus(s * (x - s1)) / s - F.softplus(s * (x - s2)) / s + s1


class PaperVAE(nn.Module):
    """The CIFAR-100 net of `paper_image_spec('cifar100')`, as a user writes it."""

    def __init__(self, spec) -> None:
        super().__init__()
        m = spec.model
        a = m.activation
        self.m, self.act = m, (lambda x: paper_softclip(x, a.s, a.s1, a.s2))
        c = (3, *m.conv_channels)
        self.convs = nn.ModuleList(nn.Conv2d(c[i], c[i + 1], 4, 2, 1) for i in range(len(c) - 1))
        flat = m.conv_channels[-1] * m.conv_grid[0] * m.conv_grid[1]
        hidden = m.encoder_widths[0]
        self.fc = nn.Linear(flat, hidden)
        self.fc_mu, self.fc_logvar = nn.Linear(hidden, m.latent_dim), nn.Linear(hidden, m.latent_dim)
        self.dec_fc1, self.dec_fc2 = nn.Linear(m.latent_dim, hidden), nn.Linear(hidden, flat)
        r = c[::-1]
        self.deconvs = nn.ModuleList(nn.ConvTranspose2d(r[i], r[i + 1], 4, 2, 1) for i in range(len(r) - 1))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        m = self.m
        h = x.reshape(-1, *m.image_shape)
        for conv in self.convs:
            h = self.act(conv(h))
        h = self.act(self.fc(h.flatten(1)))
        mu = paper_softclip(self.fc_mu(h), m.head_s, -m.mean_clip, m.mean_clip)
        logvar = paper_softclip(self.fc_logvar(h), m.head_s, m.logvar_min, m.logvar_max)
        eps = torch.randn_like(mu)
        z = mu + torch.exp(logvar / 2) * eps
        h = self.act(self.dec_fc2(self.act(self.dec_fc1(z))))
        h = h.reshape(-1, m.conv_channels[-1], *m.conv_grid)
        for i, deconv in enumerate(self.deconvs):
            h = deconv(h)
            if i < len(self.deconvs) - 1:
                h = self.act(h)
        log_lik = -F.binary_cross_entropy_with_logits(h.flatten(1), x, reduction="none").sum(-1)
        kl = 0.5 * (z ** 2).sum(-1) - 0.5 * (eps ** 2).sum(-1) - 0.5 * logvar.sum(-1)
        return -(log_lik - kl).mean()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def plain_steps(model: PaperVAE, opt: torch.optim.Optimizer, X: torch.Tensor, B: int, steps: int) -> float:
    sync(X.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, len(X), (B,), device=X.device)
        opt.zero_grad(set_to_none=True)
        model.loss(X[idx]).backward()
        norms = torch.stack([p.grad.norm() for p in model.parameters()])  # the paper logs these
        opt.step()
        norms.sum().item()
    sync(X.device)
    return time.perf_counter() - t0


def recorded_steps(trainer: Trainer, steps: int) -> float:
    sync(trainer.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        row = {"step": trainer.step, "epoch": trainer.epoch}
        trainer.train_step(row)
        trainer.step += 1
    sync(trainer.device)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    spec = dataclasses.replace(paper_image_spec("cifar100"), B=64, n=10_000)
    images = np.random.default_rng(0).random((2048, 3 * 32 * 32), dtype=np.float32)
    data = Dataset("synthetic 3x32x32", images[:1984], images[1984:], image_shape=(3, 32, 32))
    model = PaperVAE(spec).to(device)
    assert sum(p.numel() for p in model.parameters()) == spec.n_parameters, "not the same network"
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    X = torch.as_tensor(data.train, device=device)
    settings = {"plain": dict(unbiased_norm=False), "default": {}, "independent": dict(batches="independent"),
                "small": dict(norm_batch=16), "reference": dict(norm_estimator="fresh")}
    trainers = {name: Trainer(spec, paper_train_config(device=args.device, probes=2, **changes), data, progress=False)
                for name, changes in settings.items()}
    for t in trainers.values():
        t.probes.clear()  # the per-step cost only: probes are timed by bench_recording.py
    plain_steps(model, opt, X, spec.B, 3)
    for t in trainers.values():
        recorded_steps(t, 3)
    times: dict[str, list[float]] = {"torch.nn": [], **{name: [] for name in trainers}}
    for _ in range(args.rounds):
        times["torch.nn"].append(plain_steps(model, opt, X, spec.B, args.steps) / args.steps)
        for name, t in trainers.items():
            times[name].append(recorded_steps(t, args.steps) / args.steps)
    base = statistics.median(times["torch.nn"])
    print(f"paper CIFAR-100 soft-clipping VAE: {spec.n_parameters:,} parameters, B={spec.B}, {args.device}, "
          f"{args.threads} threads, medians of {args.rounds} rounds of {args.steps} steps")
    print(f"  hand-written torch.nn step: {base * 1e3:.1f} ms")
    for name, label, goal in (
            ("plain", "unbiased_norm=False", "goal <= 1.0, bar 1.15"),
            ("independent", "default recording, independent batches (split of the training batch)",
             "goal <= 1.0, bar 1.15"),
            ("default", "default recording, epochs (split of one fresh batch)", "one extra gradient"),
            ("small", "epochs, norm_batch=16 (split of a fresh batch of 16)", "a quarter gradient"),
            ("reference", "epochs, norm_estimator='fresh' (two fresh batches)", "before: two extra gradients")):
        ratio = statistics.median(r / b for r, b in zip(times[name], times["torch.nn"]))
        print(f"  vaebound, {label:<72s} {statistics.median(times[name]) * 1e3:7.1f} ms = {ratio:.2f}x ({goal})")


if __name__ == "__main__":
    main()
