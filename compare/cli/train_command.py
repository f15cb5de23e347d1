"""`vaebound train`: train a spec and write its run folder (config.json, trace.parquet)."""
from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path
from typing import Any

from bounds.presets import digits_spec, logistic_spec
from bounds.spec import SpecError, VAESpec
from bounds.validate import merge_tree, table


def add_parser(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="train a VAE and record what the theorems bound",
                       description="Train the VAE of a spec and write DIR/config.json and DIR/trace.parquet. With "
                                   "no --config: a small smooth Gaussian VAE on the embedded digits. An unfinished "
                                   "run in DIR resumes from its checkpoint.")
    t.add_argument("--config", type=Path, default=None,
                   help="JSON or TOML file with sections 'spec' (a VAESpec) and 'train' (a TrainConfig), and "
                        "optionally 'data'")
    t.add_argument("--preset", choices=tuple(PRESETS), default="digits",
                   help="the spec --config changes: the digits VAE, or black-box VI of the Bayesian logistic "
                        "regression (logistic: Gaussian family; logistic-bernoulli: product-Bernoulli family) on "
                        "the embedded breast-cancer data")
    t.add_argument("--estimator", choices=("pathwise", "score"), default=None,
                   help="overrides the spec's gradient estimator")
    t.add_argument("--data", default=None, help="'digits' (embedded), 'breast-cancer' (embedded), 'synthetic', or "
                                                "a local path (MNIST idx folder, CIFAR-100 python folder, CelebA "
                                                "folder, .npy/.npz); default: the preset's")
    t.add_argument("--seed", type=int, default=None, help="overrides the spec's seed (>= 0)")
    t.add_argument("--steps", type=int, default=None, help="optimisation steps (>= 1; default: the spec's n)")
    t.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default cpu)")
    t.add_argument("--anchor-every", dest="anchor_every", type=int, default=None,
                   help="record an unbiased ||grad L||^2 every this many steps (>= 0; 0: only at the probes): the "
                        "run's certificate is much tighter with one at every step (1)")
    t.add_argument("--out", type=Path, required=True, help="the run folder")
    t.add_argument("--fit-data", dest="fit_data", action="store_true", default=None,
                   help="take the spec's data_dim, data_bound (the data's largest row norm, rounded up) and a conv "
                        "net's image_shape from the data, where the config does not set them (the default for a "
                        "local data path)")
    t.add_argument("--no-fit-data", dest="fit_data", action="store_false",
                   help="keep the spec's data_dim and data_bound as the preset and the config give them")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(handler=cmd_train)


# name: (spec, the data it trains on by default)
PRESETS = {"digits": (digits_spec, "digits"), "logistic": (logistic_spec, "breast-cancer"),
           "logistic-bernoulli": (lambda: logistic_spec("bernoulli"), "breast-cancer")}


def read_config_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ValueError(f"--config {str(path)!r} does not exist")
    try:
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise ValueError(f"--config {str(path)!r} is not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: "
                         f"{exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"--config {str(path)!r} must hold a table with sections spec, train and data")
    unknown = sorted(set(data) - {"spec", "train", "data"})
    if unknown:
        raise ValueError(f"--config {str(path)!r}: unknown section {unknown[0]!r} (known: spec, train, data)")
    return data


def cmd_train(args: argparse.Namespace) -> int:
    from empirical import TrainConfig
    from empirical.data import load_for_spec, load_source
    from empirical.data_fit import fit_spec, fits_by_default
    file = read_config_file(args.config) if args.config else {}
    given = table("spec", file.get("spec", {}))
    where = f"--config {str(args.config)!r}"
    preset, default_data = PRESETS[args.preset]
    # a config changes what it names in the preset (the bare command trains the digits VAE); an error names the file
    tree = merge_tree(preset().to_dict(), given, f"{where} [spec]")
    for name in ("seed", "estimator"):
        if getattr(args, name) is not None:
            tree[name] = getattr(args, name)
    train_settings = dict(file.get("train", {}))
    for name in ("steps", "device", "anchor_every"):
        if getattr(args, name) is not None:
            train_settings[name] = getattr(args, name)
    config = TrainConfig.from_dict(train_settings)
    source = args.data if args.data is not None else file.get("data", default_data)
    fit = args.fit_data if args.fit_data is not None else fits_by_default(str(source))
    data, fitted = None, []
    if fit:  # the spec takes its dimension and data bound from the data (what the config does not set)
        seed = tree.get("seed", 0)
        data = load_source(source, tree["model"]["data_dim"], tree["model"]["latent_dim"],
                           tree["model"]["data_bound"], config.held_out, seed if isinstance(seed, int) else 0)
        tree, fitted = fit_spec(tree, data, given)
    try:
        spec = VAESpec.from_dict(tree)
    except (TypeError, SpecError) as exc:
        raise SpecError(f"{where}: {exc}" if args.config else str(exc)) from None
    if data is None:
        data = load_for_spec(source, spec, config.held_out)
    if fitted:
        print(f"spec fitted to the data {data.name!r}: {'; '.join(fitted)} (--no-fit-data keeps the config's)")
    return _train_and_report(spec, config, data, args)


def _train_and_report(spec: VAESpec, config: Any, data: Any, args: argparse.Namespace) -> int:
    from empirical import train
    from ..measures import probes_taken
    from ..objective_names import held_out_sentence
    try:
        run = train(spec, config, data, out=args.out, progress=not args.no_progress)
    except KeyboardInterrupt:
        print(f"vaebound: interrupted; run the same command again to resume from {args.out}/checkpoint.pt")
        return 130
    t = run.trace
    last = t.dropna(subset=["full_grad_norm_sq"]).iloc[-1]
    print(f"run {run.status} after {int(t['step'].iloc[-1])} steps on {data.name} "
          f"({len(data.train)} training points, {spec.n_parameters} parameters)")
    if run.status == "diverged":
        print(f"  diverged at step {run.config['diverged_at']}: the objective or its gradient was not finite")
    held = held_out_sentence(spec, last["objective_test"], last["objective_test_se"],
                             int(last.get("objective_test_points", len(data.test))), len(data.test))
    print(f"  ||grad L(theta_n)||^2 = {last['full_grad_norm_sq']:.4g} (+- {last['full_grad_norm_sq_se']:.2g}), {held}")
    taken, skipped = probes_taken(t)
    if skipped:
        print(f"  probes: {taken} of {taken + skipped} scheduled, within probe_budget={config.probe_budget} of the "
              "training's time (raise it in [train], or set probe_budget = inf for every probe)")
    print(f"  wrote {args.out / 'config.json'} and {args.out / 'trace.parquet'}")
    return 0
