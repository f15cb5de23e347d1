"""Bring your own VAE: a Gaussian MLP VAE written as a plain torch.nn.Module, trained by its own loop on the embedded
8x8 digits, instrumented with three added lines (marked), then compared against its derived bound.

    python docs/examples/instrument_digits.py [--steps 300] [--out runs/my-vae]
    vaebound compare runs/my-vae
"""
from __future__ import annotations

import argparse
import math

import torch
from torch import nn

from empirical.activations import softclip
from empirical.data import digits
from empirical.instrument import Instrument
from empirical.module_spec import Heads, SoftClip

LATENT = 4


class VAE(nn.Module):
    """Encoder 64-32, heads mu and log-variance, decoder 4-32-64 with a sigmoid mean; soft-clipping throughout."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(64, 32), SoftClip())
        self.fc_mu, self.fc_logvar = nn.Linear(32, LATENT), nn.Linear(32, LATENT)
        self.decoder = nn.Sequential(nn.Linear(LATENT, 32), SoftClip(), nn.Linear(32, 64), nn.Sigmoid())

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """Each example's one-draw ELBO estimate, heads soft-clipped (the theory needs bounded heads)."""
        h = self.encoder(x)
        mu, logvar = softclip(self.fc_mu(h), 5.0, -5.0, 5.0), softclip(self.fc_logvar(h), 5.0, -6.0, 2.0)
        eps = torch.randn_like(mu)
        z = mu + torch.exp(logvar / 2) * eps
        log_lik = -((x - self.decoder(z)) ** 2).sum(-1) / 2 - x.shape[-1] / 2 * math.log(2 * math.pi)
        return log_lik - 0.5 * (z ** 2).sum(-1) + 0.5 * (eps ** 2).sum(-1) + 0.5 * logvar.sum(-1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--out", default="runs/my-vae")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    data = digits()
    X, X_test = torch.as_tensor(data.train), torch.as_tensor(data.test)
    model = VAE()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    inst = Instrument(model, lambda m, x: m.elbo(x), data=X, test=X_test, out=args.out, steps=args.steps,  # added
                      optimizer=opt, likelihood="gaussian", heads=Heads(), data_bound=8.0, B=32)
    for _ in range(args.steps):
        x = X[torch.randint(len(X), (32,))]
        loss = -model.elbo(x).sum()
        opt.zero_grad()
        loss.backward()
        inst.step(x, loss)  # added
        opt.step()
    trace = inst.finish()  # added
    print(f"recorded {len(trace)} rows in {args.out}: final ||grad L||^2 = {trace['full_grad_norm_sq'].iloc[-1]:.4g}")


if __name__ == "__main__":
    main()
