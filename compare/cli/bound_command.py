"""`vaebound bound`: derive a bound symbolically and evaluate it at the given settings, or over a grid."""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
from typing import TYPE_CHECKING, Callable, Sequence

from bounds.spec import (ACTIVATIONS, ESTIMATORS, MODELS, NORM_KINDS, OBJECTIVES, OPTIMIZERS, ActivationSpec,
                         ModelSpec, ObjectiveSpec, OptimizerSpec, ParameterBound, SpecError, VAESpec)
from .usage import UsageError

if TYPE_CHECKING:
    import pandas as pd

# Grid names -> (spec section, field). The section is replaced with the new value, which re-runs validation.
GRID_FIELDS: dict[str, tuple[str, str]] = {
    "B": ("", "B"), "n": ("", "n"), "L_star": ("", "objective_gap"),
    "K": ("objective", "K"), "beta": ("objective", "beta"),
    "C_gamma": ("optimizer", "C_gamma"), "beta1": ("optimizer", "beta1"), "beta2": ("optimizer", "beta2"),
    "delta": ("optimizer", "delta"), "a": ("weight_bound", "a"),
    "c": ("model", "decoder_std"), "R_x": ("model", "data_bound"), "mu_max": ("model", "mean_clip"),
    "logvar_min": ("model", "logvar_min"), "logvar_max": ("model", "logvar_max"), "head_s": ("model", "head_s"),
    "s": ("activation", "s"), "s1": ("activation", "s1"), "s2": ("activation", "s2"),
}
INTEGER_FIELDS = {"B", "n", "K"}


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
                       description="Derive a bound symbolically and evaluate it at the given settings.")
    d = ModelSpec()
    b.add_argument("--which", choices=("convergence", "smoothness", "variance"), default="convergence")
    b.add_argument("--model", choices=MODELS, default=d.kind)
    b.add_argument("--objective", choices=OBJECTIVES, default=None,
                   help="default: elbo, or beta when --beta is given")
    b.add_argument("--estimator", choices=ESTIMATORS, default="pathwise")
    b.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    b.add_argument("--B", type=int, default=VAESpec.B, help="mini-batch size (>= 1)")
    b.add_argument("--K", type=int, default=1, help="variational samples per data point (>= 1)")
    b.add_argument("--beta", type=float, default=None, help="beta-VAE weight (>= 0)")
    b.add_argument("--n", type=int, default=VAESpec.n, help="iterations (>= 1)")
    b.add_argument("--L-star", dest="L_star", type=float, default=VAESpec.objective_gap,
                   help="objective gap sup L - L(theta_0) (> 0)")
    o = OptimizerSpec()
    b.add_argument("--C-gamma", dest="C_gamma", type=float, default=o.C_gamma)
    b.add_argument("--beta1", type=float, default=o.beta1)
    b.add_argument("--beta2", type=float, default=o.beta2)
    b.add_argument("--delta", type=float, default=o.delta)
    b.add_argument("--M", type=float, default=None, help="almost-sure gradient bound for adaptive methods")
    b.add_argument("--data-dim", type=int, default=d.data_dim)
    b.add_argument("--latent-dim", type=int, default=d.latent_dim)
    b.add_argument("--encoder-widths", type=_ints, default=d.encoder_widths)
    b.add_argument("--decoder-widths", type=_ints, default=d.decoder_widths)
    b.add_argument("--data-bound", type=float, default=d.data_bound, help="R_x >= ||x||")
    b.add_argument("--decoder-std", type=float, default=d.decoder_std, help="c > 0 (decoder variance c^2)")
    b.add_argument("--mean-clip", type=float, default=d.mean_clip)
    b.add_argument("--logvar-min", type=float, default=d.logvar_min)
    b.add_argument("--logvar-max", type=float, default=d.logvar_max)
    b.add_argument("--head-s", type=float, default=d.head_s)
    b.add_argument("--decoder-output", choices=("sigmoid", "identity"), default=d.decoder_output)
    act = ActivationSpec()
    b.add_argument("--activation", choices=ACTIVATIONS, default=act.name)
    b.add_argument("--s", type=float, default=act.s, help="soft-clipping/softplus sharpness (> 0)")
    b.add_argument("--s1", type=float, default=act.s1)
    b.add_argument("--s2", type=float, default=act.s2)
    b.add_argument("--alpha", type=float, default=act.alpha)
    b.add_argument("--negative-slope", type=float, default=act.negative_slope)
    b.add_argument("--norm-kind", choices=NORM_KINDS, default="entrywise")
    b.add_argument("--a", type=float, default=ParameterBound().a, help="entry-wise parameter bound (> 0)")
    b.add_argument("--layer-norms", type=_floats, default=())
    b.add_argument("--bias-norms", type=_floats, default=())
    b.add_argument("--outside-theory", action="store_true",
                   help="allow non-smooth activations (ReLU); the result is labelled outside-theory")
    b.add_argument("--grid", action="append", default=[], metavar="NAME=v1,v2,...",
                   help=f"evaluate over a grid; NAME one of {', '.join(GRID_FIELDS)} (repeatable: product)")
    b.add_argument("--format", choices=("text", "json", "latex", "csv"), default="text")
    b.add_argument("--show-expression", action="store_true", help="text format: print the full expression")
    b.set_defaults(handler=cmd_bound)


def spec_from_args(args: argparse.Namespace) -> VAESpec:
    objective = args.objective or ("beta" if args.beta is not None else "elbo")
    beta = 1.0 if args.beta is None else args.beta
    activation = ActivationSpec(args.activation, args.s, args.s1, args.s2, args.alpha, args.negative_slope)
    model = ModelSpec(args.model, args.data_dim, args.latent_dim, args.encoder_widths, args.decoder_widths,
                      args.data_bound, args.decoder_std, args.mean_clip, args.logvar_min, args.logvar_max,
                      args.head_s, activation, args.decoder_output)
    return VAESpec(model=model, objective=ObjectiveSpec(objective, beta, args.K), estimator=args.estimator,
                   optimizer=OptimizerSpec(args.optimizer, args.C_gamma, args.beta1, args.beta2, args.delta),
                   weight_bound=ParameterBound(args.norm_kind, args.a, args.layer_norms, args.bias_norms),
                   B=args.B, n=args.n, objective_gap=args.L_star)


def replace_field(spec: VAESpec, name: str, value: float) -> VAESpec:
    """A copy of `spec` with the grid variable `name` set to `value` (validated like any spec)."""
    section, field = GRID_FIELDS[name]
    if name in INTEGER_FIELDS:
        if not float(value).is_integer():
            raise SpecError(f"{name}={value!r} is invalid: must be an integer >= 1")
        value = int(value)
    if section == "":
        return dataclasses.replace(spec, **{field: value})
    if section == "activation":
        act = dataclasses.replace(spec.model.activation, **{field: value})
        return dataclasses.replace(spec, model=dataclasses.replace(spec.model, activation=act))
    return dataclasses.replace(spec, **{section: dataclasses.replace(getattr(spec, section), **{field: value})})


def parse_grid(items: Sequence[str]) -> dict[str, list[float]]:
    grid: dict[str, list[float]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip()
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
                   allow_outside_theory: bool) -> pd.DataFrame:
    """One row of symbol values per grid point; each point is validated as a spec."""
    import pandas as pd
    from bounds import derive as D
    rows = []
    names = list(grid)
    for combo in itertools.product(*(grid[k] for k in names)) if names else [()]:
        point = spec
        for name, value in zip(names, combo):
            point = replace_field(point, name, value)
        values = D.spec_values(point, allow_outside_theory)
        if M is not None and "M" in values:
            values["M"] = M
        rows.append(values)
    return pd.DataFrame(rows)


def select_bound(spec: VAESpec, which: str, allow_outside_theory: bool):
    from bounds import derive as D
    makers: dict[str, Callable] = {"convergence": D.convergence, "smoothness": D.smoothness, "variance": D.variance}
    return makers[which](spec, None, allow_outside_theory)


def render(bound, frame: pd.DataFrame, grid_names: list[str], fmt: str, show_expression: bool) -> str:
    table = bound.evaluate_frame(frame)
    shown = grid_names or []
    if fmt == "csv":
        cols = shown + [c for c in table.columns if c == "value" or c.startswith(("term:", "condition:"))]
        return table[cols].to_csv(index=False)
    if fmt == "json":
        lines = []
        for i in range(len(frame)):
            row = frame.iloc[i].to_dict()
            rep = bound.report(row)
            rep["settings"] = {k: row[k] for k in shown} if shown else {}
            lines.append(json.dumps(rep))
        return "\n".join(lines)
    if fmt == "latex":
        out = [f"% {bound.name} ({bound.status}; {bound.reference})",
               "\\begin{equation}", bound.latex(), "\\end{equation}"]
        for i in range(len(table)):
            setting = ", ".join(f"{k}={table[k].iloc[i]:g}" for k in shown)
            out.append(f"% {setting + ': ' if setting else ''}value = {table['value'].iloc[i]:.6g}")
        return "\n".join(out)
    out = [f"{bound.name}  [{bound.status}]  {bound.description}", f"reference: {bound.reference}"]
    if show_expression:
        out.append(f"expression: {bound.expr}")
    for i in range(len(table)):
        row = table.iloc[i]
        setting = ", ".join(f"{k}={row[k]:g}" for k in shown)
        terms = {name: row[f"term:{name}"] for name in bound.terms}
        dominant = max(terms, key=terms.get)
        out.append(f"\n{setting + ': ' if setting else ''}value = {row['value']:.6g}")
        for name, v in terms.items():
            out.append(f"  {name:<28s} {v:.6g}{'   <- dominant' if name == dominant else ''}")
        for name in bound.conditions:
            ok = row[f"condition:{name}"]
            out.append(f"  condition {name}: {'holds' if ok else 'VIOLATED (the bound does not apply)'}")
    out.append("\nassumptions:\n  - " + "\n  - ".join(bound.assumptions))
    return "\n".join(out)


def cmd_bound(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    grid = parse_grid(args.grid)
    if args.M is not None and not args.M > 0:
        raise UsageError(f"--M={args.M!r} is invalid: must be > 0")
    bound = select_bound(spec, args.which, args.outside_theory)
    frame = settings_frame(spec, grid, args.M, args.outside_theory)
    print(render(bound, frame, list(grid), args.format, args.show_expression))
    return 0


