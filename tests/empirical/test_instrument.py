"""Instrumenting a user's own nn.Module and loop (empirical/instrument.py): the spec read from the module, the recorded
quantities against the toolkit trainer's on the same weights, batch and noise, a module outside the theory, and the
run folder `vaebound compare` reads."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from empirical.activations import softclip
from empirical.config import TrainConfig
from empirical.data import digits
from empirical.instrument import Instrument
from empirical.module_spec import Heads, SoftClip, spec_from_module
from empirical.split_batch import Split

D, H, Z = 64, 16, 3


class MLPVAE(nn.Module):
    """A Gaussian MLP VAE written the common way; its heads are soft-clipped in the objective below."""

    def __init__(self, hidden: nn.Module | None = None) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(D, H), hidden or SoftClip())
        self.fc_mu, self.fc_logvar = nn.Linear(H, Z), nn.Linear(H, Z)
        self.decoder = nn.Sequential(nn.Linear(Z, H), SoftClip(), nn.Linear(H, D), nn.Sigmoid())


def elbo(model: nn.Module, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Each example's single-draw ELBO estimate, as the toolkit writes it (constants included)."""
    h = model.encoder(x)
    mu, logvar = softclip(model.fc_mu(h), 5.0, -5.0, 5.0), softclip(model.fc_logvar(h), 5.0, -6.0, 2.0)
    z = mu + torch.exp(logvar / 2) * eps
    log_lik = -((x - model.decoder(z)) ** 2).sum(-1) / 2 - D / 2 * math.log(2 * math.pi)
    return log_lik - 0.5 * (z ** 2).sum(-1) + 0.5 * (eps ** 2).sum(-1) + 0.5 * logvar.sum(-1)


class PaperConvVAE(nn.Module):
    """The paper's CIFAR-100 soft-clipping VAE as its authors wrote it (nn.Sequential encoder of 4x4 / stride 2 convs,
    fc_mu / fc_logvar heads, a ConvTranspose decoder with Bernoulli logits), at 3 x 8 x 8 with few channels."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(3, 4, 4, 2, 1), SoftClip(), nn.Conv2d(4, 6, 4, 2, 1), SoftClip(),
                                     nn.Flatten(), nn.Linear(24, H), SoftClip())
        self.fc_mu, self.fc_logvar = nn.Linear(H, Z), nn.Linear(H, Z)
        self.decoder = nn.Sequential(nn.Linear(Z, H), SoftClip(), nn.Linear(H, 24), SoftClip(), nn.Unflatten(1, (6, 2, 2)),
                                     nn.ConvTranspose2d(6, 4, 4, 2, 1), SoftClip(), nn.ConvTranspose2d(4, 3, 4, 2, 1))


def conv_elbo(model: nn.Module, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """The single-draw ELBO with the Bernoulli likelihood (the paper's summed BCE), x flat in [0, 1]."""
    h = model.encoder(x.reshape(-1, 3, 8, 8))
    mu, logvar = softclip(model.fc_mu(h), 5.0, -5.0, 5.0), softclip(model.fc_logvar(h), 5.0, -6.0, 2.0)
    z = mu + torch.exp(logvar / 2) * eps
    logits = model.decoder(z).reshape(len(x), -1)
    log_lik = -nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    return log_lik - 0.5 * (z ** 2).sum(-1) + 0.5 * (eps ** 2).sum(-1) + 0.5 * logvar.sum(-1)


def objective(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return elbo(model, x, torch.randn(len(x), Z, dtype=x.dtype))


def data() -> tuple[torch.Tensor, torch.Tensor]:
    d = digits()
    return torch.as_tensor(d.train[:256]), torch.as_tensor(d.test[:64])


def test_the_spec_is_read_from_the_module():
    read = spec_from_module(MLPVAE(), D, likelihood="gaussian", heads=Heads(), data_bound=8.0)
    assert read.spec is not None and not read.outside
    m = read.spec.model
    assert (m.encoder_widths, m.decoder_widths, m.latent_dim, m.decoder_output) == ((H,), (H,), Z, "sigmoid")
    assert read.flat().numel() == read.spec.n_parameters
    outside = spec_from_module(MLPVAE(nn.Sequential(nn.BatchNorm1d(H), nn.ReLU())), D).outside
    assert any("BatchNorm1d" in reason for reason in outside)


MODELS = {"mlp": (MLPVAE, elbo, D, "gaussian", 8.0), "paper conv": (PaperConvVAE, conv_elbo, 192, "bernoulli", None)}


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("name", list(MODELS))
def test_a_step_records_what_the_trainer_records_on_the_same_weights_batch_and_noise(name, reduction, tmp_path):
    """One step of the user's loop against the trainer's own split-batch gradient (`Trainer.split_gradient`) at the
    same flat weights, batch and eps: every per-step column the trainer records (the gradient norms, the unbiased
    ||grad L||^2, the objective, the iterate's sup-norms and every layer's norms) agrees to float32 rounding."""
    from empirical.data import Dataset
    from empirical.trainer import Trainer
    make, per_example_elbo, dim, likelihood, bound = MODELS[name]
    torch.manual_seed(0)
    model = make()
    X = torch.rand(256, dim) if dim != D else data()[0]
    read = spec_from_module(model, dim, likelihood=likelihood, heads=Heads(), data_bound=bound, B=32)
    assert read.spec is not None and not read.outside, read.outside
    inst = Instrument(model, lambda m, x: per_example_elbo(m, x, torch.randn(len(x), Z)), data=X, out=tmp_path / "run",
                      steps=3, reduction=reduction, module_spec=read, probes=2)
    x, eps = X[:32], torch.randn(32, Z)
    per_example = per_example_elbo(model, x, eps)
    loss = -(per_example.sum() if reduction == "sum" else per_example.mean())
    loss.backward()
    inst.step(x, loss)
    row = inst.rows[0]
    trainer = Trainer(read.spec, TrainConfig(steps=3), Dataset("same", X.numpy(), X[:64].numpy()), False)
    trainer.flat = read.flat(torch.float32)
    result = trainer.split_gradient(torch.arange(32), eps[:, None, :])
    assert Split.halves(32).n_a == 16
    own: dict = {}  # the trainer's own record of that step (its update is not used)
    trainer.finish_step(own, trainer.step_stats(*result).tolist(), result[0], result[2])
    columns = ["grad_norm_sq", "grad_norm_sq_theta", "grad_norm_sq_phi", "grad_abs_max", "grad_norm_sq_unbiased",
               "objective_batch", "inf_norm_theta", "inf_norm_phi"]
    columns += [c for c in own if c.startswith(("frobenius_norm.", "bias_norm."))]
    assert len(columns) == 8 + 2 * len(read.spec.layout)
    loose = {"grad_norm_sq_unbiased": dict(rel=1e-4, abs=1e-6),  # a difference of two sums: cancellation
             "objective_batch": dict(rel=1e-6)}
    for column in columns:
        assert row[column] == pytest.approx(own[column], **loose.get(column, dict(rel=1e-5))), column
    assert math.isfinite(row["full_grad_norm_sq"]) and "hessian_top_eig" in row  # the toolkit's probes ran


def loop(model: nn.Module, out, steps: int = 12, **options) -> Instrument:
    """The user's loop, with its three added lines."""
    X, X_test = data()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    inst = Instrument(model, objective, data=X, test=X_test, out=out, steps=steps, optimizer=opt, probes=3,
                      **options)                                                        # added line 1
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x = X[torch.randint(len(X), (32,), generator=gen)]
        loss = -objective(model, x).sum()
        opt.zero_grad()
        loss.backward()
        inst.step(x, loss)                                                              # added line 2
        opt.step()
    inst.finish()                                                                       # added line 3
    return inst


def test_an_instrumented_run_is_a_run_folder_compare_reads(tmp_path, capsys):
    from compare.cli import main
    from empirical import load_run
    torch.manual_seed(1)
    loop(MLPVAE(), tmp_path / "mine", likelihood="gaussian", heads=Heads(), data_bound=8.0, B=32,
         quantities=("hessian_trace",))
    run = load_run(tmp_path / "mine")
    assert np.isfinite(run.trace["hessian_trace"].dropna()).all() and run.trace["hessian_trace"].notna().sum() >= 3
    assert run.status == "finished" and len(run.trace) == 13 and run.parameters() is not None
    assert np.isfinite(run.trace["grad_norm_sq_unbiased"].iloc[:-1]).all()
    assert main(["compare", str(tmp_path / "mine")]) == 0
    out = capsys.readouterr().out
    assert "mine" in out and "no bound" not in out


def test_a_module_outside_the_theory_is_still_measured_and_compare_names_the_layer(tmp_path, capsys):
    from compare.cli import main
    from compare.tightness import assess
    from empirical import load_run
    torch.manual_seed(2)
    model = MLPVAE(nn.Sequential(nn.ReLU()))
    loop(model, tmp_path / "relu")
    run = load_run(tmp_path / "relu")
    assert np.isfinite(run.trace["grad_norm_sq"].iloc[:-1]).all()
    assert np.isfinite(run.trace["full_grad_norm_sq"].dropna()).all()
    found = assess(run)
    assert found.bound is None and "encoder.1" in (found.error or "")
    assert main(["compare", str(tmp_path / "relu")]) == 0


def test_the_papers_loop_instrumented_end_to_end(tmp_path):
    """The paper's conv VAE trained as its code does (summed BCE, Adam at lr 1e-3 / sqrt(epoch + 1)), instrumented:
    the spec read is the conv net, every step has its unbiased ||grad L||^2, and compare gives the run its bound."""
    from compare.tightness import assess
    from empirical import load_run
    torch.manual_seed(3)
    model, X = PaperConvVAE(), torch.rand(128, 192)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1 / math.sqrt(epoch + 1))
    objective_ = lambda m, x: conv_elbo(m, x, torch.randn(len(x), Z))
    inst = Instrument(model, objective_, data=X, out=tmp_path / "paper", steps=8, optimizer=opt, probes=3,
                      likelihood="bernoulli", heads=Heads(), B=32)
    for epoch in range(2):
        for x in X[torch.randperm(len(X))].split(32):
            loss = -objective_(model, x).sum()
            opt.zero_grad()
            loss.backward()
            inst.step(x, loss)
            opt.step()
        schedule.step()
    inst.finish()
    run = load_run(tmp_path / "paper")
    assert run.spec.model.architecture == "conv" and run.spec.model.conv_channels == (4, 6)
    assert np.isfinite(run.trace["grad_norm_sq_unbiased"].iloc[:-1]).all()
    assert run.trace["lr"].iloc[4] == pytest.approx(1e-3 / math.sqrt(2))
    found = assess(run)
    assert found.bound is not None and found.verdict == "not applicable"  # bounded; torch's Adam is not analysed


def test_the_documented_example_runs(tmp_path, capsys):
    """docs/examples/instrument_digits.py, the README's example, runs as written (with fewer steps)."""
    import runpy
    from pathlib import Path
    example = runpy.run_path(str(Path(__file__).parents[2] / "docs" / "examples" / "instrument_digits.py"))
    example["main"](["--steps", "20", "--out", str(tmp_path / "my-vae")])
    assert "recorded 21 rows" in capsys.readouterr().out


def test_the_probes_of_a_module_outside_the_theory_measure_the_same_things(tmp_path):
    """Outside the bounds' reading the probes go through the user's objective; on a module the bounds do read, they
    agree with the toolkit's own probes at the same parameters (the Hessian's top eigenvalue within the Lanczos
    tolerance and the noise of the frozen draws; the objective's mean within its standard errors)."""
    from empirical.module_probes import module_probes
    torch.manual_seed(4)
    model, (X, X_test) = MLPVAE(), data()
    read = spec_from_module(model, D, likelihood="gaussian", heads=Heads(), data_bound=8.0, B=32)
    inst = Instrument(model, objective, data=X, test=X_test, out=tmp_path / "run", steps=2, module_spec=read, probes=2)
    row: dict = {}
    inst._probe(row)
    config = TrainConfig(hessian_points=256, variance_draws=8)
    with inst.tap.paused():
        mine = module_probes(model, objective, read.parameters(), inst.is_decoder, X, X_test, 32, config, 7)
    assert mine["hessian_top_eig"] == pytest.approx(row["hessian_top_eig"], rel=0.3)
    assert abs(mine["objective_train"] - row["objective_train"]) < 4 * (mine["objective_train_se"]
                                                                        + row["objective_train_se"])
    assert mine["grad_var_phi"] > 0 and mine["grad_var_theta"] > 0 and math.isfinite(mine["full_grad_norm_sq"])
