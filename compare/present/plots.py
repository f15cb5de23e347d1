"""Plots (matplotlib, no display needed): bound against measurement, families of runs, a tightness heat map, and
the slack decomposition. Each function draws on a new figure and returns it; `save` writes PNG and PDF.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..measures import probe_series  # noqa: E402
from ..rates import fit_points  # noqa: E402
from ..slack import THEORY_SLACK  # noqa: E402
from ..tightness import Assessment  # noqa: E402

Y_LABEL = r"$\frac{1}{n+1}\sum_{k\leq n}\|\nabla \mathcal{L}(\theta_k)\|^2$ (per-example objective)"


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


def _positive(n: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = (n >= 1) & (y > 0) & np.isfinite(y)
    return n[keep], y[keep]


def bound_vs_measured(a: Assessment) -> plt.Figure:
    """Log-log: the measured running average (with +-2 se), the derived bound (dashed if it does not apply), the
    a-posteriori bound, the probes' ||grad L(theta_k)||^2, and the fitted slope."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    avg = a.average
    n, y = _positive(avg.n.astype(float), avg.value)
    ax.plot(n, y, color="C0", lw=2, label=f"measured running average ({avg.source})")
    lo = np.clip(avg.value - 2 * avg.se, 1e-300, None)
    keep = (avg.n >= 1) & np.isfinite(avg.value)
    ax.fill_between(avg.n[keep], lo[keep], (avg.value + 2 * avg.se)[keep], color="C0", alpha=0.15, lw=0)
    probes = probe_series(a.run, "full_grad_norm_sq")
    pn, py = _positive(probes["step"].to_numpy(float), probes["full_grad_norm_sq"].to_numpy(float))
    ax.plot(pn, py, "o", color="C2", ms=4, label=r"probe: $\|\nabla\mathcal{L}(\theta_k)\|^2$")
    if a.bound is not None:
        bn, by = _positive(avg.n.astype(float), a.bound_curve)
        style = dict(color="C3", lw=2) if a.applicable else dict(color="0.5", lw=1.5, ls="--")
        ax.plot(bn, by, **style, label="derived bound" + ("" if a.applicable else " (not applicable)"))
        pn2, py2 = _positive(avg.n.astype(float), a.posterior_curve)
        ax.plot(pn2, py2, color="C1", lw=1.5, ls="-.", label="a-posteriori bound (measured constants)")
    if a.slope is not None:
        fn, _ = fit_points(avg.n, avg.value)
        if len(fn):
            anchor = np.interp(fn[-1], avg.n, avg.value)
            shape = fn ** a.slope.slope * (1 + np.log(fn + 1))
            ax.plot(fn, anchor * shape / shape[-1], color="k", lw=1, ls=":",
                    label=f"fit $\\propto n^{{{a.slope.slope:.2f}}}(1+\\log n)$ (theory: $n^{{-1/2}}\\log n$)")
    ax.set(xscale="log", yscale="log", xlabel="step n (iterations)", ylabel=Y_LABEL,
           title=_title(a))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return fig


def _title(a: Assessment) -> str:
    s = a.spec
    verdict = a.verdict
    return (f"{a.label}: {s.optimizer.name}, {s.objective.kind}, B={s.B}, K={s.objective.K}, "
            f"beta={s.objective.beta:g} ({verdict})")


def family(assessments: Sequence[Assessment], by: str = "label") -> plt.Figure:
    """The measured running averages of several runs on one log-log plot, coloured by run."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, a in enumerate(assessments):
        n, y = _positive(a.average.n.astype(float), a.average.value)
        ax.plot(n, y, color=f"C{i % 10}", lw=1.8, label=f"{a.label} (measured)")
        if a.bound is not None and a.applicable:
            bn, by_ = _positive(a.average.n.astype(float), a.bound_curve)
            ax.plot(bn, by_, color=f"C{i % 10}", lw=1, ls="--", label=f"{a.label} (bound)")
    ax.set(xscale="log", yscale="log", xlabel="step n (iterations)", ylabel=Y_LABEL,
           title="measured running averages of the runs")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def heatmap(assessments: Sequence[Assessment], x: str, y: str, value: str = "a_posteriori_ratio") -> plt.Figure:
    """A heat map of log10 of a ratio (a summary key) over two settings (summary keys such as beta, K, B),
    averaged over runs that share a cell."""
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
    im = ax.imshow(grid, cmap="viridis", origin="lower", aspect="auto")
    ax.set_xticks(range(len(xs)), [f"{v:g}" if isinstance(v, float) else str(v) for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:g}" if isinstance(v, float) else str(v) for v in ys])
    for i in range(len(ys)):
        for j in range(len(xs)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", color="w", fontsize=8)
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


def setting_labels(assessments: Sequence[Assessment]) -> list[str]:
    """For each run, the settings in which the runs differ (the seed aside), e.g. 'activation.s=5'."""
    flats = [_flat({"spec": a.spec.to_dict(), "train": a.run.config.get("train", {})}) for a in assessments]
    keys = sorted(k for k in set().union(*flats) if k != "spec.seed" and len({str(f.get(k)) for f in flats}) > 1)
    short = lambda k: k.split(".", 1)[1].replace("model.", "").replace("objective.", "").replace("optimizer.", "")
    return [", ".join(f"{short(k)}={f.get(k)}" for k in keys) or "base" for f in flats]


def paper_figures(assessments: Sequence[Assessment]) -> plt.Figure:
    """The paper's two figures for a family of runs (seeds averaged): its per-epoch gradient statistic beside the
    theorem's running average, and the negative ELBO on held-out data, against epochs."""
    labels = setting_labels(assessments)
    groups: dict[str, list[Assessment]] = {}
    for label, a in zip(labels, assessments):
        groups.setdefault(label, []).append(a)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, (label, members) in enumerate(groups.items()):
        colour = f"C{i % 10}"
        paper = [m.run.trace.dropna(subset=["paper_grad_stat"])[["epoch", "paper_grad_stat"]] for m in members
                 if "paper_grad_stat" in m.run.trace]
        if paper and all(len(p) for p in paper):
            mean = sum(p["paper_grad_stat"].to_numpy() for p in paper) / len(paper)
            left.plot(paper[0]["epoch"].to_numpy() + 1, mean, color=colour, lw=1.8, label=f"{label}: paper's statistic")
        theorem = []
        for m in members:
            t = m.run.trace
            ends = t.dropna(subset=["paper_grad_stat"]) if "paper_grad_stat" in t else t.iloc[:0]
            steps = ends["step"].to_numpy()
            theorem.append((ends["epoch"].to_numpy() + 1, np.interp(steps, m.average.n, m.average.value)))
        if theorem and len(theorem[0][0]):
            size = min(len(e) for e, _ in theorem)
            left.plot(theorem[0][0][:size], sum(v[:size] for _, v in theorem) / len(theorem), color=colour, lw=1.2,
                      ls="--", label=f"{label}: theorem's running average")
        held = [m.run.trace.dropna(subset=["objective_test"]) for m in members]
        if held and all(len(h) for h in held):
            size = min(len(h) for h in held)
            nelbo = -sum(h["objective_test"].to_numpy()[:size] for h in held) / len(held)
            steps_per_epoch = max(1, int(members[0].run.config.get("data", {}).get("n_train", 1)) // members[0].spec.B)
            right.plot(held[0]["step"].to_numpy()[:size] / steps_per_epoch, nelbo, "o-", color=colour, ms=3,
                       label=label)
    left.set(yscale="log", xlabel="epoch", ylabel="squared gradient norm")
    left.set_title("paper's statistic (solid), theorem's quantity (dashed)", fontsize=10)
    right.set(xlabel="epoch", ylabel="negative objective, held-out (nats / example)")
    right.set_title("negative ELBO (held-out)", fontsize=10)
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6)
    return fig
