"""The figure of one run: the bound against the measurement on one log-log axis (bound, a-posteriori bound,
certificate, measured running average, probes, fitted slope) and, beside it, the measurement alone on its own scale:
a bound decades above the measurement flattens the measured curve on a shared axis, and its rise or fall would be
invisible there."""
from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..measures import probe_series  # noqa: E402
from ..rates import fit_points  # noqa: E402
from ..tightness import Assessment  # noqa: E402

GRADIENT = r"$\frac{1}{n+1}\sum_{k\leq n}\|\nabla \mathcal{L}(\theta_k)\|^2$ (per-example objective)"
MAPPING = r"$\frac{1}{n+1}\sum_{k\leq n}\|G_\gamma(\theta_k)\|^2$ (gradient mapping, per-example objective)"
EITHER = "running average of the theorem's quantity\n(||grad L||^2; ||G||^2, the gradient mapping, where marked)"
LEGEND_BELOW = dict(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)


def is_mapping(a: Assessment) -> bool:
    """Whether the run's measured quantity is the gradient mapping (projected SGD) rather than the gradient."""
    return a.average.source.startswith("gradient mapping")


def y_label(assessments: Sequence[Assessment]) -> str:
    kinds = {is_mapping(a) for a in assessments}
    return EITHER if len(kinds) > 1 else (MAPPING if kinds == {True} else GRADIENT)


def positive(n: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = (n >= 1) & (y > 0) & np.isfinite(y)
    return n[keep], y[keep]


def bound_vs_measured(a: Assessment) -> plt.Figure:
    """Two panels. Left, log-log: the measured running average (with +-2 se), the derived bound (dashed if it does
    not apply), the a-posteriori bound, the run's certificate over its step-weighted average, the probes'
    ||grad L||^2, the slope. Right: the measured running average, its band, the probes and the fit alone, on the
    measurement's own scale."""
    fig, (ax, own) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1.25, 1]})
    fig.subplots_adjust(wspace=0.28)
    _measurement(ax, a)
    if a.bound is not None:
        avg = a.average
        bn, by = positive(avg.n.astype(float), a.bound_curve)
        style = dict(color="C3", lw=2) if a.applicable else dict(color="0.5", lw=1.5, ls="--")
        ax.plot(bn, by, **style, label="derived bound" + ("" if a.applicable else " (not applicable)"))
        pn2, py2 = positive(avg.n.astype(float), a.posterior_curve)
        ax.plot(pn2, py2, color="C1", lw=1.5, ls="-.", label="a-posteriori bound (measured constants)")
    cert = a.certificate
    n, _ = positive(a.average.n.astype(float), a.average.value)
    if cert.applies and n.size and cert.measured > 0:  # one number, for the step-weighted average (x: measured)
        ax.plot([n[-1]] * 2, [cert.value, cert.measured], color="C4", marker="v", ms=7, ls=":",
                label=f"certificate, probability >= {1 - cert.delta:g}, over the step-weighted average")
    ax.set(xscale="log", yscale="log", xlabel="step n (iterations)", ylabel=y_label([a]))
    ax.set_title("bound against measurement", fontsize=10)
    ax.legend(fontsize=7, **LEGEND_BELOW)  # below the axes: it never covers a curve
    _measurement(own, a)
    own.set(xscale="log", yscale="log", xlabel="step n (iterations)", ylabel="the same quantity, on its own scale")
    own.set_title("the measurement on its own scale", fontsize=10)
    for axes in (ax, own):
        axes.grid(True, which="major", alpha=0.3)
    fig.suptitle(_title(a), fontsize=10)
    return fig


def _measurement(ax: plt.Axes, a: Assessment) -> None:
    """The measured running average with its +-2 se band, the probes' ||grad L||^2 and the fitted slope."""
    avg = a.average
    n, y = positive(avg.n.astype(float), avg.value)
    ax.plot(n, y, color="C0", lw=2, label=f"measured running average ({avg.source})")
    lo = np.clip(avg.value - 2 * avg.se, y.min() / 100 if len(y) else 1e-300, None)  # a band reaching 0: 2 decades
    keep = (avg.n >= 1) & np.isfinite(avg.value)
    ax.fill_between(avg.n[keep], lo[keep], (avg.value + 2 * avg.se)[keep], color="C0", alpha=0.15, lw=0)
    probes = probe_series(a.run, "full_grad_norm_sq")
    pn, py = positive(probes["step"].to_numpy(float), probes["full_grad_norm_sq"].to_numpy(float))
    ax.plot(pn, py, "o", color="C2", ms=4, label=r"probe: $\|\nabla\mathcal{L}(\theta_k)\|^2$")
    if a.slope is not None:
        fn, _ = fit_points(avg.n, avg.value)
        if len(fn):
            anchor = np.interp(fn[-1], avg.n, avg.value)
            shape = fn ** a.slope.slope * (1 + np.log(fn + 1))
            ax.plot(fn, anchor * shape / shape[-1], color="k", lw=1, ls=":",
                    label=f"fit $\\propto n^{{{a.slope.slope:.2f}}}(1+\\log n)$ (theory: $n^{{-1/2}}\\log n$)")


def _title(a: Assessment) -> str:
    s, verdict = a.spec, a.verdict
    return (f"{a.label}: {s.optimizer.name}, {s.objective.kind}, B={s.B}, K={s.objective.K}, "
            f"beta={s.objective.beta:.3g}, C_gamma={s.optimizer.C_gamma:.3g} ({verdict})")
