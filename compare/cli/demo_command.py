"""`vaebound demo`: the README's main job, on the embedded digits and a small smooth Gaussian VAE.

It derives the bound, trains briefly in two regimes, compares and reports:
- `theory`: SGD exactly as the theorem analyses it (steps C_gamma k^{-1/2} with C_gamma L <= 1 for the derived L,
  independent mini-batches, projection onto the compact set), so its verdict is a real test of the bound;
- `practical-beta*`: the steps people use (C_gamma = 0.2, reshuffled epochs, no projection) at two values of the
  beta-VAE weight and two seeds, so the a-posteriori view, the rates and the orderings have something to say.
Every run records an unbiased ||grad L||^2 at every step (`anchor_every = 1`) from replicates over the whole training
set, which is what makes each run's certificate tight (docs/derivations.md, "Anchors at every step", "The estimate
form from the anchors").
Runs already finished in --out are reused; an interrupted one resumes.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from typing import TYPE_CHECKING

from bounds.presets import digits_spec
from bounds.spec import VAESpec
from bounds.validate import SpecError, count

if TYPE_CHECKING:
    from empirical import TrainConfig

PRACTICAL_C_GAMMA = 0.2
THEORY_STEP = 0.49  # C_gamma L for the theory run: inside the cap of projected SGD (1/2) and of SGD (1)
BETAS = (0.5, 1.0)
ANCHOR_POINTS = 2048  # above the digits' 1,438 training points: each anchor replicate is the whole training set


def add_parser(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("demo", help="derive, train, compare and report on the embedded digits (the main job)",
                       description=__doc__.split("\n\n")[1] if __doc__ else None)
    d.add_argument("--out", type=Path, default=Path("vaebound-demo"), help="folder for runs, plots, tables, report")
    d.add_argument("--steps", type=int, default=500, help="steps per run (>= 10)")
    d.add_argument("--seeds", type=int, default=2, help="seeds per practical setting (>= 1)")
    d.add_argument("--no-progress", action="store_true")
    d.set_defaults(handler=cmd_demo)


def plan(steps: int, seeds: int) -> dict[str, tuple[VAESpec, TrainConfig]]:
    """The demo's runs: name -> (spec, training settings)."""
    from bounds import derive as D
    from empirical import TrainConfig
    base = digits_spec().to_dict()
    base["n"] = steps
    base["objective"] = {**base["objective"], "kind": "beta", "beta": 1.0}
    spec = VAESpec.from_dict(base)
    L = float(D.smoothness(spec).evaluate(D.spec_values(spec)))
    theory = VAESpec.from_dict({**base, "optimizer": {**base["optimizer"], "C_gamma": THEORY_STEP / L}})
    anchors = {"anchor_every": 1, "anchor_points": ANCHOR_POINTS}
    runs = {"theory": (theory, TrainConfig(batches="independent", project=True, **anchors))}
    for beta in BETAS:
        for seed in range(seeds):
            d = {**base, "seed": seed, "objective": {**base["objective"], "beta": beta},
                 "optimizer": {**base["optimizer"], "C_gamma": PRACTICAL_C_GAMMA}}
            runs[f"practical-beta{beta:g}-seed{seed}"] = (VAESpec.from_dict(d), TrainConfig(**anchors))
    return runs


def cmd_demo(args: argparse.Namespace) -> int:
    from bounds import derive as D
    from empirical import TrainConfig, digits, train
    from ..present.outputs import write_outputs
    from ..tightness import assess
    steps = count("--steps", args.steps, 10)
    seeds = count("--seeds", args.seeds, 1)
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise SpecError(f"--out {str(out)!r} is a file: give a folder")
    runs = plan(steps, seeds)
    theory_spec = runs["theory"][0]
    bound = D.convergence(theory_spec)
    values = D.spec_values(theory_spec)
    print(f"bound: {bound.name} for {bound.description} [{bound.status}]")
    print(f"  derived smoothness L = {float(D.smoothness(theory_spec).evaluate(values)):.4g}, so the theorem's step "
          f"constant is C_gamma <= 1/(2L) = {theory_spec.optimizer.C_gamma / THEORY_STEP / 2:.3g} (projected SGD)")
    print(f"  at n = {steps}: {bound.evaluate({**values}):.4g} (dominant term: {bound.dominant_term(values)})")
    data = digits(TrainConfig().held_out, 0)
    from tqdm.auto import tqdm
    finished = []
    for name, (spec, config) in tqdm(runs.items(), desc="training", unit="run", disable=args.no_progress):
        finished.append(train(spec, config, data, out=out / "runs" / name, progress=False))
    assessments = [assess(run, name) for run, name in zip(finished, runs)]
    write_outputs(out, assessments, "vaebound demo: digits, small smooth Gaussian VAE")
    print(f"\nreport: {out / 'report.html'}   (plots in {out / 'plots'}, tables in {out / 'tables'})")
    for a in assessments:
        s = a.summary()
        verdict = a.verdict
        if not s["applicable"]:
            verdict += " (conditions broken: " + ", ".join(s["broken_conditions"]) + ")"
        elif s["theorem_reference"]:
            verdict += f" by {s['theorem_reference']}"
        ratio = f"tightness ratio {s['tightness_ratio']:.3g}" if s["tightness_ratio"] is not None else \
            f"a-posteriori ratio {s['a_posteriori_ratio']:.3g}"
        slope = f"{s['fitted_slope']:.2f}" if s["fitted_slope"] is not None else "-"
        print(f"  {a.label:<26s} {verdict}; {ratio}; fitted slope {slope} (theory -1/2)")
    return 0 if all(a.sound is not False for a in assessments) else 1
