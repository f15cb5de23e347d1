"""`vaebound bound`: derive a bound symbolically and evaluate it at the given settings, or over a grid."""
from __future__ import annotations

import argparse
import itertools
import json
import math
from typing import TYPE_CHECKING, Callable, Sequence

from bounds.registry import CONSTANTS, SETTINGS, with_settings, write_settings
from bounds.presets import digits_spec, logistic_spec, paper_image_spec
from bounds.spec import ACTIVATIONS, ESTIMATORS, MODELS, NORM_KINDS, OBJECTIVES, OPTIMIZERS, VAESpec
from .usage import UsageError

if TYPE_CHECKING:
    import pandas as pd

PRESETS: dict[str, Callable[[], VAESpec]] = {"digits": digits_spec, "cifar100": lambda: paper_image_spec("cifar100"),
                                             "celeba": lambda: paper_image_spec("celeba"),
                                             "logistic": logistic_spec,
                                             "logistic-bernoulli": lambda: logistic_spec("bernoulli")}
LARGEST_STEP = 1 - 1e-9  # C_gamma L for the default step: the theorem's cap C_gamma L <= 1, kept clear of rounding
SHOWN = ("n", "B", "K", "beta", "C_gamma", "a", "L_star")  # the settings the text format prints with every bound

# Every setting of the bounds' registry is a grid name and (where it has one) an option.
GRID_FIELDS = [setting.name for setting in SETTINGS]


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("bound", help="derive and evaluate a convergence bound",
                       description="Derive a bound symbolically and evaluate it at the given settings. The defaults "
                                   "are the digits VAE that `vaebound train` trains; without --C-gamma, SGD takes "
                                   "the largest step its theorem allows, C_gamma = 1/L for the derived L.")
    # Every option below defaults to None, "not given": the spec is the preset's (the digits VAE unless --preset says
    # otherwise) with the options given put in; beta picks the objective, M (and M_inf) default to the derived
    # bound, C_gamma to 1/L (SGD).
    b.add_argument("--preset", choices=tuple(PRESETS), default="digits",
                   help="the spec the other options change: the digits VAE that `vaebound train` trains, or the "
                        "paper's CIFAR-100 or CelebA conv VAE (Bernoulli decoder, Adam), or black-box VI of the "
                        "Bayesian logistic regression on the embedded breast-cancer data (Gaussian or "
                        "product-Bernoulli family)")
    b.add_argument("--which", choices=("convergence", "smoothness", "variance"), default="convergence")
    b.add_argument("--model", choices=MODELS, help="default: the preset's")
    b.add_argument("--objective", choices=OBJECTIVES, default=None,
                   help="default: the preset's (elbo), or beta when --beta is given")
    b.add_argument("--estimator", choices=ESTIMATORS, help="default: the preset's (pathwise)")
    b.add_argument("--optimizer", choices=OPTIMIZERS, help="default: the preset's (digits: sgd)")
    b.add_argument("--form", choices=("theory", "torch"), default="theory",
                   help="the update the adaptive theorem is for: the analysed one, or torch.optim's Adam and RMSProp "
                        "(bias-corrected, eps outside the square root; docs/derivations.md, \"Torch's Adam and "
                        "RMSProp\")")
    for setting in SETTINGS + CONSTANTS:
        if setting.flag is None:
            continue
        b.add_argument(setting.flag, dest=setting.name, type=int if setting.integer else float, default=None,
                       help=setting.description)
    b.add_argument("--data-dim", type=int)
    b.add_argument("--latent-dim", type=int)
    b.add_argument("--encoder-widths", type=_ints)
    b.add_argument("--decoder-widths", type=_ints)
    b.add_argument("--decoder-output", choices=("sigmoid", "identity"))
    b.add_argument("--activation", choices=ACTIVATIONS)
    b.add_argument("--alpha", type=float, help="ELU's alpha (the hidden activation's, not VR-IWAE's: --renyi-alpha)")
    b.add_argument("--negative-slope", type=float)
    b.add_argument("--norm-kind", choices=NORM_KINDS)
    b.add_argument("--layer-norms", type=_floats, default=())
    b.add_argument("--bias-norms", type=_floats, default=())
    b.add_argument("--norms-from", metavar="RUN", default=None,
                   help="the spec of a trained run, its compact set the per-layer spectral and bias norms the run "
                        "reached (largest at its probes and final parameters): the bound as a function of the "
                        "network's norms; its other settings are the run's (vary them with --grid)")
    b.add_argument("--outside-theory", action="store_true",
                   help="allow non-smooth activations (ReLU); the result is labelled outside-theory")
    b.add_argument("--grid", action="append", default=[], metavar="NAME=v1,v2,...",
                   help=f"evaluate over a grid; NAME one of {', '.join(GRID_FIELDS)} (repeatable: product)")
    b.add_argument("--format", choices=("text", "json", "latex", "csv"), default="text")
    b.add_argument("--show-expression", action="store_true", help="text and json formats: include the full expression")
    b.set_defaults(handler=cmd_bound)


def spec_from_args(args: argparse.Namespace) -> VAESpec:
    """The spec of the command line: the architecture's options and every registry setting from its option, put
    into the default spec's dict and validated once."""
    def given(**options):
        return {k: v for k, v in options.items() if v is not None}
    tree = PRESETS[args.preset]().to_dict()
    model = tree["model"]
    model.update(given(kind=args.model, data_dim=args.data_dim, latent_dim=args.latent_dim,
                       encoder_widths=args.encoder_widths, decoder_widths=args.decoder_widths,
                       decoder_output=args.decoder_output))
    model["activation"].update(given(name=args.activation, alpha=args.alpha, negative_slope=args.negative_slope))
    tree["objective"]["kind"] = args.objective or ("beta" if args.beta is not None else tree["objective"]["kind"])
    tree["optimizer"].update(given(name=args.optimizer))
    tree.update(given(estimator=args.estimator))
    tree["weight_bound"].update(given(kind=args.norm_kind), layer_norms=args.layer_norms, bias_norms=args.bias_norms)
    settings = {s.name: getattr(args, s.name) for s in SETTINGS if getattr(args, s.name) is not None}
    settings["beta"] = 1.0 if args.beta is None else args.beta
    return VAESpec.from_dict(write_settings(tree, settings))


def parse_grid(items: Sequence[str]) -> dict[str, list[float]]:
    grid: dict[str, list[float]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip()
        if name in grid:
            raise UsageError(f"--grid {item!r}: {name} is given twice (one --grid per name; values are "
                             "comma-separated)")
        if not sep or name not in GRID_FIELDS:
            raise UsageError(f"--grid {item!r}: expected NAME=v1,v2,... with NAME one of {', '.join(GRID_FIELDS)}")
        try:
            grid[name] = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise UsageError(f"--grid {item!r}: values must be numbers")
        if not grid[name]:
            raise UsageError(f"--grid {item!r}: no values given")
    return grid


def settings_frame(spec: VAESpec, grid: dict[str, list[float]], M: float | None,
                   allow_outside_theory: bool, step_from_L: bool = False, M_inf: float | None = None) -> pd.DataFrame:
    """One row of symbol values per grid point; each point is validated as a spec. step_from_L: SGD's C_gamma is
    the theorem's largest, 1/L for the derived L at that point. M, M_inf: the adaptive methods' gradient bounds where
    given (a coordinate is at most the norm, so M_inf is at most M)."""
    import pandas as pd
    from bounds import derive as D
    rows = []
    names = list(grid)
    for combo in itertools.product(*(grid[k] for k in names)) if names else [()]:
        point = with_settings(spec, dict(zip(names, combo)))
        values = D.spec_values(point, allow_outside_theory)
        if M is not None and "M" in values:
            values["M"] = values["M_inf"] = M
        if M_inf is not None and "M_inf" in values:
            values["M_inf"] = min(M_inf, values["M"])
        rows.append(values)
    frame = pd.DataFrame(rows)
    if step_from_L and spec.optimizer.name == "sgd":
        # A grid changes only symbol values, so one derived L, evaluated at every row, serves every point.
        frame["C_gamma"] = LARGEST_STEP / D.smoothness(spec, None, allow_outside_theory).evaluate(frame)
    return frame


def select_bound(spec: VAESpec, which: str, allow_outside_theory: bool, form: str = "theory"):
    from bounds import derive as D
    if which == "convergence":
        return D.convergence(spec, None, allow_outside_theory, form=D.update_form(spec, form))
    makers: dict[str, Callable] = {"smoothness": D.smoothness, "variance": D.variance}
    return makers[which](spec, None, allow_outside_theory)


READING = {"E||grad L(theta_R)||^2": "the expected squared gradient norm of the objective at an iterate drawn uniformly "
                                    "from the first n steps is at most this value (a stationarity guarantee)",
           "L_P": "the objective's Hessian has norm at most this value on the compact set (pathwise estimator)",
           "L_S": "the objective's Hessian has norm at most this value on the compact set (score-function route)",
           "sigma2": "the mini-batch gradient estimator's variance is at most this value on the compact set"}


def render(bound, frame: pd.DataFrame, grid_names: list[str], fmt: str, show_expression: bool) -> str:
    table = bound.evaluate_frame(frame)
    shown = grid_names or []
    if fmt == "csv":
        cols = shown + [c for c in table.columns if c == "value" or c.startswith(("term:", "condition:"))]
        return table[cols].to_csv(index=False)
    if fmt == "json":  # one document: what the bound is once, then one entry per setting
        per_setting = ("value", "terms", "dominant_term", "conditions")
        points = []
        for i in range(len(frame)):
            row = frame.iloc[i].to_dict()
            rep = bound.report(row)
            points.append({"settings": {k: row[k] for k in shown}, **{k: rep[k] for k in per_setting}})
        about = {k: v for k, v in bound.report(frame.iloc[0].to_dict()).items() if k not in per_setting}
        if not show_expression:  # thousands of characters: asked for with --show-expression
            about.pop("expression")
            about.pop("latex")
        return json.dumps({"bound": about, "points": points}, indent=1)
    if fmt == "latex":
        out = [f"% {bound.name} ({bound.status}; {bound.reference})",
               "\\begin{equation}", bound.latex(), "\\end{equation}"]
        for i in range(len(table)):
            setting = ", ".join(f"{k}={table[k].iloc[i]:g}" for k in shown)
            out.append(f"% {setting + ': ' if setting else ''}value = {table['value'].iloc[i]:.6g}")
        return "\n".join(out)
    used = {sym.name for sym in bound.symbols}  # a setting the bound does not depend on is not printed with it
    # the grid's settings, and any shown setting that follows them (the default C_gamma = 1/L), printed per row
    per_row = shown + [k for k in SHOWN if k in table and k not in shown and table[k].nunique() > 1]
    out = [f"{bound.name}  [{bound.status}]  {bound.description}", f"reference: {bound.reference}",
           "settings: " + ", ".join(f"{k}={table[k].iloc[0]:.4g}" for k in SHOWN
                                    if k in table and k not in per_row and k in used),
           f"read: {READING.get(bound.name, 'an upper bound on the quantity named above, at these settings')}"]
    if show_expression:
        out.append(f"expression: {bound.expr}")
    width = max([28] + [len(name) for name in bound.terms])  # term names in one column
    for i in range(len(table)):
        row = table.iloc[i]
        setting = ", ".join(f"{k}={row[k]:.4g}" for k in per_row)
        terms = {name: row[f"term:{name}"] for name in bound.terms}
        dominant = max(terms, key=terms.get)
        out.append(f"\n{setting + ': ' if setting else ''}value = {row['value']:.6g}")
        for name, v in terms.items():
            out.append(f"  {name:<{width}s} {v:.6g}{'   <- dominant' if name == dominant else ''}")
        for name in bound.conditions:
            ok = row[f"condition:{name}"]
            out.append(f"  condition {name}: {'holds' if ok else 'VIOLATED (the bound does not apply)'}")
        if "M" in table and bound.name.startswith("E||grad L") and row["value"] > row["M"] ** 2:
            out.append(f"  vacuous: above M^2 = {row['M'] ** 2:.6g}, which bounds ||grad L||^2 by assumption")
    out.append("\nassumptions:\n  - " + "\n  - ".join(bound.assumptions))
    return "\n".join(out)


def spec_from_run(folder: str) -> VAESpec:
    """A run's spec with the per-layer norm set it reached (`compare.measures.reached_norms`)."""
    import dataclasses
    from empirical.runs import load_run
    from ..measures import reached_norms
    run = load_run(folder)
    return dataclasses.replace(run.spec, weight_bound=reached_norms(run))


def cmd_bound(args: argparse.Namespace) -> int:
    spec = spec_from_run(args.norms_from) if args.norms_from else spec_from_args(args)
    grid = parse_grid(args.grid)
    for flag, given in (("--M", args.M), ("--M-inf", args.M_inf)):
        if given is None:
            continue
        if not (math.isfinite(given) and given > 0):
            raise UsageError(f"{flag}={given!r} is invalid: must be a finite number > 0")
        if spec.optimizer.name == "sgd":
            raise UsageError(f"{flag} is the adaptive methods' gradient bound: SGD's theorem does not use it (give "
                             f"--optimizer adam, adagrad or rmsprop, or leave {flag} out)")
    if spec.weight_bound.kind == "entrywise" and (args.layer_norms or args.bias_norms):
        raise UsageError("--layer-norms and --bias-norms bound the per-layer norms: they need --norm-kind spectral "
                         "or frobenius (the entry-wise set reads --a only)")
    if args.form == "torch" and spec.optimizer.name not in ("adam", "rmsprop"):
        raise UsageError(f"--form torch is a theorem for torch.optim's Adam and RMSProp: the optimiser here is "
                         f"{spec.optimizer.name!r} (give --optimizer adam or rmsprop, or leave --form out)")
    bound = select_bound(spec, args.which, args.outside_theory, args.form)
    # a run's bound keeps its own step; otherwise SGD's default step is the theorem's largest
    frame = settings_frame(spec, grid, args.M, args.outside_theory,
                           step_from_L=args.C_gamma is None and not args.norms_from, M_inf=args.M_inf)
    if args.norms_from and args.format == "text":
        wb = spec.weight_bound
        print(f"norm set reached by {args.norms_from} (probes and final parameters): "
              + ", ".join(f"{slot.name} ||W|| <= {w:.4g}, ||b|| <= {b:.4g}"
                          for slot, w, b in zip(spec.layout, wb.layer_norms, wb.bias_norms)) + "\n")
    print(render(bound, frame, list(grid), args.format, args.show_expression))
    return 0


