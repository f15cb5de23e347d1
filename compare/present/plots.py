"""Plots (matplotlib, no display needed): bound against measurement, families of runs, a tightness heat map, and
the slack decomposition. Each function draws on a new figure and returns it; `save` writes PNG and PDF.
"""
from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..objective_names import family_name  # noqa: E402
from ..slack import THEORY_SLACK  # noqa: E402
from ..tightness import Assessment  # noqa: E402
# the per-run figure and the labels it shares with the family plots (re-exported: plots.bound_vs_measured)
from .run_plot import bound_vs_measured, is_mapping, positive as _positive, y_label  # noqa: E402,F401


def short(value: object) -> str:
    """A setting's value as a label shows it: floats to 3 significant digits (3.0e-07, not 3.002161177e-07)."""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def save(fig: plt.Figure, stem: Path, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Write fig as stem.png and stem.pdf; returns the paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.parent / f"{stem.name}.{fmt}"
        fig.savefig(path, dpi=120, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths


def _family_paths() -> tuple[tuple[str, ...], ...]:
    """The spec paths of the settings a family varies (the numeric factors of the orderings: beta, K, B, s)."""
    from ..orderings import FACTORS
    return tuple(path for name, (_, ps, _) in FACTORS.items() if name not in ("optimizer", "estimator") for path in ps)


def families(assessments: Sequence[Assessment]) -> list[list[Assessment]]:
    """Runs grouped into families that differ only in the settings the orderings study (beta, K, B, s) and the seed:
    runs trained in another regime (another step, optimiser, projection or batch scheme) form their own family, so
    that a plot never puts a projected tiny-step run among a family of practical ones."""
    from ..orderings import setting_key
    groups: dict[str, list[Assessment]] = {}
    for a in assessments:
        groups.setdefault(setting_key(a, _family_paths()), []).append(a)
    return list(groups.values())


def _settings(members: Sequence[Assessment]) -> dict[str, list[Assessment]]:
    """A family's runs by setting (seeds pooled), labelled by what differs and in numeric order of the labels."""
    from ..orderings import setting_key
    by_key: dict[str, list[Assessment]] = {}
    for a in members:
        by_key.setdefault(setting_key(a, ()), []).append(a)
    labels = setting_labels([seeds[0] for seeds in by_key.values()])
    return dict(sorted(zip(labels, by_key.values()), key=lambda item: natural(item[0])))


def natural(label: str) -> tuple:
    """A sort key that orders 'B=8' before 'B=16' (numbers compared as numbers)."""
    parts = re.split(r"(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)", label)
    return tuple((0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts) if p)


def _seed_band(seeds: Sequence[Assessment]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n, the mean over seeds of the running average, and the lowest and highest seed (on the shortest common n)."""
    size = min(len(a.average.n) for a in seeds)
    n = seeds[0].average.n[:size].astype(float)
    values = np.stack([a.average.value[:size] for a in seeds])
    return n, values.mean(axis=0), values.min(axis=0), values.max(axis=0)


def family(assessments: Sequence[Assessment]) -> plt.Figure:
    """The measured running averages, one panel per family of runs (see `families`), one curve per setting: the mean
    over its seeds, a band from the lowest to the highest seed, and the derived bound where it applies (dashed)."""
    groups = families(assessments)
    ignore = {"spec." + ".".join(path) for path in _family_paths()}
    panel_titles = setting_labels([g[0] for g in groups], ignore) if len(groups) > 1 else [""]
    fig, axes = plt.subplots(1, len(groups), figsize=(6.5 * len(groups), 4.5), squeeze=False)
    fig.subplots_adjust(wspace=0.35)  # room for each panel's y-label; legends below grow the saved figure (tight)
    for ax, members, panel in zip(axes[0], groups, panel_titles):
        mixed = len({is_mapping(a) for a in members}) > 1
        for i, (label, seeds) in enumerate(_settings(members).items()):
            colour = f"C{i % 10}"
            n, mean, low, high = _seed_band(seeds)
            keep = (n >= 1) & np.isfinite(mean) & (mean > 0)
            marked = " [||G||^2]" if mixed and is_mapping(seeds[0]) else ""
            count = f"{len(seeds)} seeds" if len(seeds) > 1 else f"seed {seeds[0].spec.seed}"
            label = "measured" if label == "base" else label
            ax.plot(n[keep], mean[keep], color=colour, lw=1.8, label=f"{label} ({count}){marked}")
            if len(seeds) > 1:
                ax.fill_between(n[keep], low[keep], high[keep], color=colour, alpha=0.2, lw=0)
            lead = seeds[0]
            if lead.bound is not None and lead.applicable:
                bn, by_ = _positive(lead.average.n.astype(float), lead.bound_curve)
                ax.plot(bn, by_, color=colour, lw=1, ls="--",
                        label="derived bound" if label == "measured" else f"{label}: derived bound")
        ax.set(xscale="log", yscale="log", xlabel="step n (iterations)", ylabel=y_label(members))
        ax.set_title(textwrap.fill(panel or "measured running averages (band: lowest to highest seed)", 60),
                     fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    return fig


def heatmap_axes(assessments: Sequence[Assessment]) -> tuple[list[Assessment], str, str] | None:
    """The family and the two settings a heat map can be drawn over: the largest family in which at least two of
    beta, K, B, s vary (None if there is none)."""
    best = None
    for members in families(assessments):
        summaries = [a.summary() for a in members]
        varied = [k for k in ("beta", "K", "B", "s") if len({s[k] for s in summaries}) > 1]
        if len(varied) >= 2 and (best is None or len(members) > len(best[0])):
            best = (members, varied[0], varied[1])
    return best


def heatmap(assessments: Sequence[Assessment], x: str, y: str, value: str = "a_posteriori_ratio") -> plt.Figure:
    """A heat map of log10 of a ratio (a summary key) over two settings (summary keys such as beta, K, B),
    averaged over the seeds that share a cell; a cell with no run is hatched and says so."""
    cells: dict[tuple, list[float]] = {}
    for a in assessments:
        s = a.summary()
        v = s.get(value)
        if v is not None and v > 0 and math.isfinite(v):
            cells.setdefault((s[x], s[y]), []).append(math.log10(v))
    xs = sorted({k[0] for k in cells})
    ys = sorted({k[1] for k in cells})
    grid = np.full((len(ys), len(xs)), np.nan)
    for (xv, yv), vals in cells.items():
        grid[ys.index(yv), xs.index(xv)] = np.mean(vals)
    fig, ax = plt.subplots(figsize=(1.2 * len(xs) + 3, 0.8 * len(ys) + 2.5))
    ax.set_facecolor("0.92")
    im = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", origin="lower", aspect="auto")
    ax.set_xticks(range(len(xs)), [short(v) for v in xs])
    ax.set_yticks(range(len(ys)), [short(v) for v in ys])
    for i in range(len(ys)):
        for j in range(len(xs)):
            if np.isfinite(grid[i, j]):
                seeds = len(cells[(xs[j], ys[i])])
                ax.text(j, i, f"{grid[i, j]:.2f}" + (f"\n({seeds} seeds)" if seeds > 1 else ""), ha="center",
                        va="center", color="w", fontsize=8)
            else:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", color="0.6", lw=0))
                ax.text(j, i, "no run", ha="center", va="center", color="0.3", fontsize=8)
    ax.set(xlabel=x, ylabel=y, title=f"log10 {value.replace('_', ' ')} (0 = exact; larger = looser)")
    fig.colorbar(im, ax=ax, label=f"log10 {value.replace('_', ' ')}")
    return fig


def slack_bars(a: Assessment) -> plt.Figure:
    """How many decades of the gap log10(bound / measured) each factor explains."""
    t = a.slack
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(t) + 1.8))
    colours = ["C1" if f == THEORY_SLACK else ("C0" if v >= 0 else "C3") for f, v in zip(t["factor"],
                                                                                         t["log10 factor"])]
    ax.barh(t["factor"], t["log10 factor"], color=colours)
    ax.axvline(0, color="k", lw=0.8)
    total = float(t["log10 factor"].sum())
    ax.set(xlabel="decades of looseness explained, log10 (negative: the measurement enlarges the bound)",
           title=f"{a.label}: slack of the bound, {total:.1f} decades in all at n = {a.average.final()[0]}")
    ax.invert_yaxis()
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _read_settings(spec) -> dict:
    """The spec as a dict without the activation parameters its activation does not read (a ReLU run is 'relu', not
    'relu, s=5')."""
    d = spec.to_dict()
    act = spec.model.activation
    d["model"]["activation"] = {k: v for k, v in d["model"]["activation"].items() if k == "name" or k in act.reads}
    return d


def setting_labels(assessments: Sequence[Assessment], ignore: set[str] = frozenset()) -> list[str]:
    """For each run, the settings in which the runs differ (the seed and the keys in `ignore` aside), e.g.
    'activation.s=5'."""
    flats = [_flat({"spec": _read_settings(a.spec), "train": a.run.config.get("train", {})}) for a in assessments]
    keys = sorted(k for k in set().union(*flats)
                  if k != "spec.seed" and k not in ignore and len({str(f.get(k)) for f in flats}) > 1)
    name = lambda k: k.split(".", 1)[1].replace("model.", "").replace("objective.", "").replace("optimizer.", "")
    return [", ".join(f"{name(k)}={short(f[k])}" for k in keys if k in f) or "base" for f in flats]


def paper_figures(assessments: Sequence[Assessment]) -> plt.Figure:
    """The paper's two figures for a family of runs (seeds averaged): its per-epoch gradient statistic beside the
    theorem's running average, and the negative ELBO on held-out data, against epochs."""
    labels = setting_labels(assessments)
    groups: dict[str, list[Assessment]] = {}
    for label, a in sorted(zip(labels, assessments), key=lambda item: natural(item[0])):
        groups.setdefault(label, []).append(a)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    fig.subplots_adjust(wspace=0.25)
    for i, (label, members) in enumerate(groups.items()):
        colour = f"C{i % 10}"
        paper = [m.run.trace.dropna(subset=["paper_grad_stat"])[["epoch", "paper_grad_stat"]] for m in members
                 if "paper_grad_stat" in m.run.trace]
        if paper and all(len(p) for p in paper):
            mean = sum(p["paper_grad_stat"].to_numpy() for p in paper) / len(paper)
            # markers: a run with one epoch end has a single point, which a bare line would not show
            left.plot(paper[0]["epoch"].to_numpy() + 1, mean, "o-", color=colour, lw=1.8, ms=4,
                      label=f"{label}: paper's statistic")
        theorem = []
        for m in members:
            t = m.run.trace
            ends = t.dropna(subset=["paper_grad_stat"]) if "paper_grad_stat" in t else t.iloc[:0]
            steps = ends["step"].to_numpy()
            theorem.append((ends["epoch"].to_numpy() + 1, np.interp(steps, m.average.n, m.average.value)))
        if theorem and len(theorem[0][0]):
            size = min(len(e) for e, _ in theorem)
            left.plot(theorem[0][0][:size], sum(v[:size] for _, v in theorem) / len(theorem), "s--", color=colour,
                      lw=1.2, ms=3, label=f"{label}: theorem's running average")
        held = [m.run.trace.dropna(subset=["objective_test"]) for m in members]
        if held and all(len(h) for h in held):
            size = min(len(h) for h in held)
            nelbo = -sum(h["objective_test"].to_numpy()[:size] for h in held) / len(held)
            steps_per_epoch = max(1, int(members[0].run.config.get("data", {}).get("n_train", 1)) // members[0].spec.B)
            right.plot(held[0]["step"].to_numpy()[:size] / steps_per_epoch, nelbo, "o-", color=colour, ms=3,
                       label=label)
    left.set(yscale="log", xlabel="epoch", ylabel="squared gradient norm")
    left.set_title("paper's statistic (solid), theorem's quantity (dashed)", fontsize=10)
    name = family_name(a.spec for a in assessments)
    right.set(xlabel="epoch", ylabel=f"held-out {name} (nats / example, lower is better)")
    right.set_title(f"{name} (held-out)", fontsize=10)
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)  # below: covers no curve
    return fig
