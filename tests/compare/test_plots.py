"""The figures as a reader sees them: runs of another regime in their own panel, seeds as a band, the y-label naming
the quantity plotted, rounded labels, legends outside the curves, heat maps only over a real two-setting family."""
from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PolyCollection

from compare.present import plots
from compare.tightness import assess
from empirical import TrainConfig
from tests.compare.fakes import fake_run, theory_spec

PRACTICAL = TrainConfig(batches="epochs", project=False)
# A number with more than 3 significant digits, such as C_gamma=3.002161177349813e-07 (0.000361 has three).
LONG_FLOAT = re.compile(r"[1-9]\d*\.\d{4,}|0\.0*[1-9]\d{3,}")


@pytest.fixture(scope="module")
def runs():
    """A practical beta family (two values, two seeds, an awkward step) and one projected run in another regime."""
    out = []
    for beta in (0.5, 1.0):
        for seed in (0, 1):
            spec = theory_spec(n=60, beta=beta, seed=seed, C_gamma=3.002161177349813e-03)
            run = fake_run(spec, lambda k, lv=beta + 0.1 * seed: lv / np.sqrt(k + 1), config=PRACTICAL)
            out.append(assess(run, f"practical-beta{beta}-seed{seed}"))
    theory = fake_run(theory_spec(n=60), lambda k: np.ones(len(k)), mapping=lambda k: np.full(len(k), 0.5))
    out.append(assess(theory, "theory"))
    return out


def legend_texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for leg in [ax.get_legend()] if leg for t in leg.get_texts()]


def test_a_run_of_another_regime_gets_its_own_panel(runs):
    groups = plots.families(runs)
    assert sorted(len(g) for g in groups) == [1, 4]
    fig = plots.family(runs)
    assert len(fig.axes) == 2
    plt.close(fig)


def test_seeds_are_one_curve_with_a_band_and_labels_are_rounded(runs):
    fig = plots.family(runs)
    practical = next(ax for ax in fig.axes if len(ax.get_lines()) >= 2)
    assert len(practical.get_lines()) == 2  # two settings (beta), not four runs
    assert sum(isinstance(c, PolyCollection) for c in practical.collections) == 2  # one seed band each
    texts = legend_texts(fig) + [ax.get_title() for ax in fig.axes]
    assert texts and not any(LONG_FLOAT.search(t) for t in texts), texts
    assert any("2 seeds" in t for t in texts)
    plt.close(fig)


def test_the_y_label_names_the_gradient_mapping_when_that_is_what_is_plotted(runs):
    theory = next(a for a in runs if a.label == "theory")
    assert plots.is_mapping(theory) and not plots.is_mapping(runs[0])
    for a, needle in [(theory, "G_\\gamma"), (runs[0], "nabla")]:
        fig = plots.bound_vs_measured(a)
        assert needle in fig.axes[0].get_ylabel()
        plt.close(fig)


def test_the_legend_never_covers_the_axes(runs):
    fig = plots.bound_vs_measured(runs[0])
    fig.canvas.draw()
    ax = fig.axes[0]
    legend, area = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= area.x1 or legend.y1 <= area.y0
    plt.close(fig)


def test_a_heat_map_needs_two_settings_varied_within_one_family(runs):
    assert plots.heatmap_axes(runs) is None  # beta alone varies in the family; the theory run is elsewhere
    grid = []
    for beta in (0.5, 1.0):
        for B in (8, 16):
            if (beta, B) == (1.0, 16):
                continue  # a missing cell
            spec = theory_spec(n=60, beta=beta, B=B, C_gamma=3e-3)
            grid.append(assess(fake_run(spec, lambda k: np.ones(len(k)), config=PRACTICAL), f"b{beta}-B{B}"))
    members, x, y = plots.heatmap_axes(grid + runs)
    assert (x, y) == ("beta", "B") and len(members) == 3
    fig = plots.heatmap(members, x, y)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("no run") == 1
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["8", "16"]
    plt.close(fig)


def test_a_comparison_folder_holds_no_figure_of_an_earlier_comparison(runs, tmp_path):
    from compare.present.outputs import write_outputs
    stale = tmp_path / "plots" / "heatmap-beta-C_gamma.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"an earlier comparison's figure")
    write_outputs(tmp_path, runs[:2], "t")
    names = {p.name for p in (tmp_path / "plots").iterdir()}
    assert "heatmap-beta-C_gamma.png" not in names and "family.png" in names


def test_settings_are_ordered_as_numbers():
    labels = ["B=128", "B=16", "B=8", "C_gamma=0.2", "C_gamma=1.49e-07"]
    assert sorted(labels, key=plots.natural) == ["B=8", "B=16", "B=128", "C_gamma=1.49e-07", "C_gamma=0.2"]
