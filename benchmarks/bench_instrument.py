"""Benchmark: what instrumenting a user's own loop costs per step (empirical.instrument).

The same plain PyTorch loop (the documented example's MLP VAE on the embedded digits, B = 32, SGD) is timed bare and
with the instrument's three lines, probes off (probes=0), so the figure is the per-step record alone: the gradient
norms read off the loop's own backward, the half-batch split from its hooks (the unbiased ||grad L||^2), the norms.
Runs alternate in rounds so that machine noise hits both alike; the figure is the median ratio. Goal (issue 18):
within 1.1x of the toolkit trainer's own recording of the same network, timed here too (default recording,
independent batches, against a plain step). --flush-denormal flushes subnormal numbers in every loop: without it
a bare module loop can spend most of its time on them (a saturated soft-clip makes them), which flatters a ratio.
Run: python benchmarks/bench_instrument.py [--steps N] [--rounds R]
"""
from __future__ import annotations

import argparse
import runpy
import statistics
import tempfile
import time
from pathlib import Path

import torch

from empirical.data import digits
from empirical.instrument import Instrument
from empirical.module_spec import Heads

EXAMPLE = runpy.run_path(str(Path(__file__).parents[1] / "docs" / "examples" / "instrument_digits.py"))


class WideVAE(torch.nn.Module):
    """A 784-512-16 Gaussian MLP VAE, the size of an MNIST model, with the example's ELBO."""

    def __init__(self) -> None:
        super().__init__()
        from empirical.module_spec import SoftClip
        nn = torch.nn
        self.encoder = nn.Sequential(nn.Linear(784, 512), SoftClip())
        self.fc_mu, self.fc_logvar = nn.Linear(512, 16), nn.Linear(512, 16)
        self.decoder = nn.Sequential(nn.Linear(16, 512), SoftClip(), nn.Linear(512, 784), nn.Sigmoid())

    elbo = EXAMPLE["VAE"].elbo


def loop(steps: int, instrumented: bool, X: torch.Tensor, folder: Path, wide: bool = False) -> float:
    torch.manual_seed(0)
    model = WideVAE() if wide else EXAMPLE["VAE"]()
    B = 128 if wide else 32
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    inst = (Instrument(model, lambda m, x: m.elbo(x), data=X, out=folder, steps=steps, optimizer=opt, probes=0,
                       likelihood="gaussian", heads=Heads(), data_bound=X.norm(dim=1).max().item(),
                       B=B) if instrumented else None)
    batches = [X[torch.randint(len(X), (B,))] for _ in range(steps)]
    t0 = time.perf_counter()
    for x in batches:
        loss = -model.elbo(x).sum()
        opt.zero_grad()
        loss.backward()
        if inst is not None:
            inst.step(x, loss)
        opt.step()
    elapsed = time.perf_counter() - t0
    if inst is not None:
        inst.finish()
    return elapsed


def trainer_overhead(X: torch.Tensor, wide: bool, steps: int, rounds: int) -> float:
    """The toolkit trainer's own recording (default, independent batches: the split-batch estimate from the training
    batch) against a plain step of the same network, the spec read from the same module (bench_recording.py's
    loops)."""
    from empirical import TrainConfig
    from empirical.data import Dataset
    from empirical.module_spec import spec_from_module
    from empirical.trainer import Trainer
    recording = runpy.run_path(str(Path(__file__).parent / "bench_recording.py"))
    module = WideVAE() if wide else EXAMPLE["VAE"]()
    read = spec_from_module(module, X.shape[1], likelihood="gaussian", heads=Heads(),
                            data_bound=float(X.norm(dim=1).max()), B=128 if wide else 32)
    data = Dataset("bench", X.numpy(), X[:64].numpy())
    plain = Trainer(read.spec, TrainConfig(unbiased_norm=False), data, progress=False)
    recorded = Trainer(read.spec, TrainConfig(batches="independent"), data, progress=False)
    recording["plain_steps"](plain, 3), recording["recorded_steps"](recorded, 3)
    return statistics.median(recording["recorded_steps"](recorded, steps) / recording["plain_steps"](plain, steps)
                             for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--flush-denormal", action="store_true", help="flush subnormal numbers to zero in both loops")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(args.flush_denormal)
    data = {"digits 64-32-4, B = 32": (torch.as_tensor(digits().train), False),
            "784-512-16, B = 128": (torch.rand(2048, 784, generator=torch.Generator().manual_seed(0)), True)}
    for label, (X, wide) in data.items():
        ratios = []
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds):
                bare = loop(args.steps, False, X, Path(tmp) / f"bare{r}", wide)
                inst = loop(args.steps, True, X, Path(tmp) / f"inst{r}", wide)
                ratios.append(inst / bare)
        own = trainer_overhead(X, wide, args.steps, args.rounds)
        print(f"{label}: bare {bare / args.steps * 1e3:.3f} ms/step; instrumented / bare, per step (median of "
              f"{args.rounds}): {statistics.median(ratios):.2f}x; the trainer's own recording / plain step "
              f"{own:.2f}x; instrument / trainer {statistics.median(ratios) / own:.2f} (goal <= 1.1)")


if __name__ == "__main__":
    main()
