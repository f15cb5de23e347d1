"""A self-contained HTML report of one run or a set of runs: plots embedded as PNG, tables, each run's spec, its
bound in LaTeX (rendered by matplotlib, so no network is needed) and its verdict.

The page counts its own images once loaded (`data-images-loaded` / `data-images-total` on <body>), so a
headless browser can confirm that every plot rendered.
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import re
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import sympy as sp

from empirical.runs import atomic_write
from . import plots, tables
from ..orderings import orderings
from ..tightness import Assessment

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { border-bottom: 2px solid #444; } h2 { margin-top: 2em; border-bottom: 1px solid #aaa; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; } th { background: #eee; }
td:first-child, th:first-child { text-align: left; }
.verdict { padding: 0.5em 1em; border-radius: 4px; font-weight: bold; display: inline-block; }
.sound { background: #d9f2d9; } .violated { background: #f7c6c6; } .na { background: #fbeec2; }
img { max-width: 100%; } pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.8em; }
.note { color: #555; font-size: 0.9em; }
"""

COUNT_IMAGES = """
window.addEventListener('load', function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++; }
  document.body.setAttribute('data-images-loaded', ok);
  document.body.setAttribute('data-images-total', imgs.length);
});
"""


class Figures:
    """The report's figures: each one embedded in the page as a PNG and, where a folder is given, also written there
    under its name (`<name>.png`), so that a figure can be taken into a paper without cutting it out of the page."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder, self.written = folder, []

    def png(self, fig: plt.Figure, name: str) -> str:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        data = buf.getvalue()
        if self.folder is not None:
            safe = re.sub(r"[^A-Za-z0-9_.=+-]", "-", name)
            path = self.folder / f"{safe}.png"
            atomic_write(path, lambda tmp: tmp.write_bytes(data))
            self.written.append(path)
        return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _png(fig: plt.Figure) -> str:
    return Figures().png(fig, "")


def _math_image(latex: str) -> str | None:
    """The formula rendered by matplotlib's mathtext, or None where mathtext cannot parse it."""
    fig = plt.figure(figsize=(0.01, 0.01))
    fig.text(0, 0, f"${latex}$", fontsize=18)
    try:
        return _png(fig).replace('alt="plot"', 'alt="formula"')
    except (ValueError, RuntimeError):
        plt.close(fig)
        return None


def _table(df: pd.DataFrame) -> str:
    if df is None or not len(df):
        return "<p class='note'>(none)</p>"
    return df.map(tables._cell).to_html(index=False, escape=True, border=0)


def _verdict(a: Assessment) -> str:
    if a.bound is None:
        return f"<span class='verdict na'>no bound: {html.escape(a.error or '')}</span>"
    return _verdict_text(a) + (f" <span class='note'>Theorem: {html.escape(a.form.description)} "
                               f"({html.escape(a.form.reference)}).</span>" if a.form is not None else "")


def _verdict_text(a: Assessment) -> str:
    if a.inconclusive:
        return ("<span class='verdict na'>inconclusive: the measurement is a biased estimate whose band straddles "
                "the bound at some step</span>")
    if a.sound is None:
        names = ", ".join(c.name for c in a.conditions if not c.holds)
        return (f"<span class='verdict na'>bound not applicable: the run broke {html.escape(names)}; only the "
                f"a-posteriori bound is meaningful (ratio {a.posterior_ratio:.3g})</span>")
    if a.sound:
        return (f"<span class='verdict sound'>sound: the bound held at every recorded step and probe; tightness "
                f"ratio {a.tightness_ratio:.3g} (bound / measured at the tightest step)</span>")
    return (f"<span class='verdict violated'>VIOLATED: the measurement exceeded the bound at "
            f"{len(a.violations)} recorded steps or a constant check failed; a derivation or a measurement is "
            f"wrong</span>")


def _run_section(a: Assessment, figures: Figures) -> str:
    parts = [f"<h2 id='{html.escape(a.label)}'>Run {html.escape(a.label)}</h2>", _verdict(a)]
    parts += [f"<p class='note'>{html.escape(note)}</p>" for note in a.notes]
    parts.append(figures.png(plots.bound_vs_measured(a), f"{a.label}-bound"))
    if a.bound is not None:
        parts.append("<h3>Where the slack is</h3>")
        parts.append(figures.png(plots.slack_bars(a), f"{a.label}-slack"))
        parts.append(_table(tables.slack_table(a)))
        parts.append("<h3>Conditions of the theorem</h3>")
        parts.append(_table(tables.conditions_table(a)))
        if a.constant_checks:
            parts.append("<h3>Derived constants against their measurements</h3>")
            parts.append(_table(pd.DataFrame([{"constant": c.name, "theory": c.theory, "measured": c.measured,
                                               "holds": "yes" if c.holds else "NO", "exact comparison": c.exact}
                                              for c in a.constant_checks])))
        if a.sound is False:
            parts.append("<h3>Violations</h3>" + _table(a.violations.head(50)))
        parts.append("<h3>The bound</h3>")
        form_latex = sp.latex(a.form.expr)
        image = _math_image(form_latex)
        parts.append("<p>The theorem in its constants (L: smoothness, sigma2: variance, M: gradient bound, "
                     "L_star: objective gap):</p>" + (image or f"<pre>{html.escape(form_latex)}</pre>"))
        parts.append(f"<p>Status: <b>{html.escape(a.bound.status)}</b>; derivation: "
                     f"{html.escape(a.bound.reference)}.</p>")
        parts.append("<details><summary>The derived bound in LaTeX (every constant expanded)</summary>"
                     f"<pre>{html.escape(a.bound.latex())}</pre></details>")
        parts.append("<details><summary>Assumptions</summary><ul>"
                     + "".join(f"<li>{html.escape(x)}</li>" for x in a.bound.assumptions) + "</ul></details>")
    parts.append("<details><summary>Spec and training settings</summary><pre>"
                 + html.escape(json.dumps({"spec": a.run.config.get("spec"), "train": a.run.config.get("train"),
                                           "data": a.run.config.get("data")}, indent=1, default=str))
                 + "</pre></details>")
    return "\n".join(parts)


def build(assessments: Sequence[Assessment], title: str = "vaebound report", figures: Figures | None = None) -> str:
    """The report's HTML text (figures: where its PNGs are also written; None: embedded only)."""
    figures = figures or Figures()
    now = dt.datetime.now().isoformat(timespec="seconds")
    body = [f"<h1>{html.escape(title)}</h1>",
            f"<p class='note'>{len(assessments)} run(s); generated {now}. The measured quantity is the theorem's "
            "(1/(n+1)) sum_k ||grad L(theta_k)||^2; tightness ratio = bound / measured (>= 1: the bound held; "
            "closer to 1: tighter).</p>",
            "<h2>Tightness</h2>", _table(tables.tightness_table(assessments)),
            "<h2>Rates</h2>", _table(tables.rates_table(assessments))]
    order = orderings(assessments)
    if len(order):
        body += ["<h2>Orderings</h2><p class='note'>Bounds within 0.1% of each other are ties: no order is read "
                 "from them. The held-out objective is shown negated (the negative ELBO or bound, lower is "
                 "better).</p>", _table(tables.orderings_table(order))]
    if len(assessments) > 1:
        body += ["<h2>All runs</h2>", figures.png(plots.family(assessments), "family")]
    if any("paper_grad_stat" in a.run.trace for a in assessments):
        body += ["<h2>The paper's figures</h2><p class='note'>The paper plots a per-epoch statistic of the "
                 "batch-summed loss's gradient (stochastic, scaled by B): it is shown beside the theorem's own "
                 "running average, not in its place.</p>", figures.png(plots.paper_figures(assessments),
                                                                        "paper-figures")]
    axes = plots.heatmap_axes(assessments)
    if axes is not None:
        body += ["<h2>Tightness over two settings</h2>", figures.png(plots.heatmap(*axes), "heatmap")]
    body += [_run_section(a, figures) for a in assessments]
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style><script>{COUNT_IMAGES}</script></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def figures_folder(out: Path) -> Path:
    """Where the report `out` writes its PNGs: `<stem>-figures/` beside it."""
    return out.parent / f"{out.stem}-figures"


def write(assessments: Sequence[Assessment], out: str | Path, title: str = "vaebound report") -> Path:
    """Write the report atomically to `out` (a .html file), and each figure it embeds as a PNG in
    `figures_folder(out)` (a figure an earlier report wrote there and this one does not is removed)."""
    out = Path(out)
    figures = Figures(figures_folder(out))
    text = build(assessments, title, figures)
    for stale in set(figures.folder.glob("*.png")) - set(figures.written):
        stale.unlink()
    atomic_write(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return out
