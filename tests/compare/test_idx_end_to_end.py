"""The whole path on real-size images in the MNIST format, as a new user takes it (issue 19): a generated idx folder
of 28 x 28 images, `vaebound train` with the example spec (docs/examples/mnist.toml, smaller widths and fewer steps)
and its default probes, compare, report, and the example's three-point sharpness sweep (s = 1, 5 and ReLU) with its
orderings. Each surprise the 784-dimensional runs showed is asserted: provenance, the fitted spec, one sign
convention, the probes' coverage said, ties within the stated tolerance, ReLU's verdict, rate verdicts only in the
theorem's regime, no empty panel, the report's PNGs written."""
from __future__ import annotations

import gzip
import json
import re
import struct
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from compare.cli import main
from empirical.data import load_path

ROOT = Path(__file__).parents[2]
N_TRAIN, N_TEST = 4_500, 600  # more than 4,096 training points: the large-data probes are in play


def write_idx(path: Path, images: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08, 3) + struct.pack(">3I", *images.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + images.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def idx_folder(tmp_path_factory) -> Path:
    """Ten blurred strokes with pixel noise, in MNIST's layout and byte format (train-, t10k-images-idx3-ubyte.gz)."""
    folder = tmp_path_factory.mktemp("data") / "my-digits"
    folder.mkdir()
    rng = np.random.default_rng(0)
    prototypes = (rng.random((10, 28, 28)) > 0.75) * 230.0
    for name, n in (("train-images-idx3-ubyte.gz", N_TRAIN), ("t10k-images-idx3-ubyte.gz", N_TEST)):
        images = prototypes[rng.integers(0, 10, n)] + rng.integers(0, 25, (n, 28, 28))
        write_idx(folder / name, images)
    return folder


def small(example: str, out: Path, data: Path | None = None) -> Path:
    """The example file with smaller networks and runs (the same fields a user edits), written to `out`."""
    spec = tomllib.loads((ROOT / "docs" / "examples" / example).read_text())
    lines = [] if data is None else [f'data = "{data}"', "seeds = [0]"]
    lines += ["[spec]", "B = 64", "n = 90", "[spec.model]", 'kind = "bernoulli"', "latent_dim = 3",
              "encoder_widths = [24]", "decoder_widths = [24]"]
    if "activation" in spec["spec"]["model"]:
        lines += ["[spec.model.activation]", 'name = "softclip"', "s = 5.0"]
    lines += ["[spec.optimizer]", 'name = "adam"', "C_gamma = 1e-3", "[train]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in spec["train"].items()]
    if "grid" in spec:
        lines += ["[grid]", '"model.activation.s" = [1.0, 5.0]', "[[points]]", '"model.activation.name" = "relu"']
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.fixture(scope="module")
def trained(idx_folder, tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    config = small("mnist.toml", work / "mnist.toml")
    return work, main(["train", "--config", str(config), "--data", str(idx_folder), "--out", str(work / "run"),
                       "--no-progress"])


def test_train_fits_the_spec_and_records_what_it_trained_on(trained, idx_folder, capsys):
    work, code = trained
    assert code == 0
    config = json.loads((work / "run" / "config.json").read_text())
    data = config["data"]
    assert data["name"] == "my-digits" and data["format"] == "mnist-idx"  # not "mnist": the folder says what it is
    assert data["path"] == str(idx_folder.resolve()) and data["fingerprint"] == load_path(idx_folder).fingerprint
    model = config["spec"]["model"]
    assert model["data_dim"] == 784 and data["max_norm"] <= model["data_bound"] <= 1.001 * data["max_norm"]
    assert config["spec"]["objective_gap"] is None  # certified from the spec, not a default that runs break


def test_one_sign_convention_named_in_every_label(trained, capsys):
    """The trace keeps the ELBO itself; compare and the report show its negation and say so."""
    work, _ = trained
    trace = pd.read_parquet(work / "run" / "trace.parquet")
    assert (trace["objective_test"].dropna() < 0).all()
    assert main(["compare", str(work / "run"), "--format", "json"]) == 0
    notes = " ".join(json.loads(capsys.readouterr().out)["runs"][0]["notes"])
    assert "held-out objective on 512 of 600 test points" in notes
    assert main(["report", str(work / "run"), "-o", str(work / "signs.html")]) == 0
    from compare.collect import assess_all
    from compare.present import plots
    right = plots.paper_figures(assess_all([str(work / "run")])).axes[1]
    assert right.get_ylabel().startswith("held-out negative ELBO") and "lower is better" in right.get_ylabel()
    assert all(y > 0 for line in right.lines for y in line.get_ydata())


def test_the_train_command_prints_the_negative_elbo(idx_folder, tmp_path, capsys):
    config = small("mnist.toml", tmp_path / "mnist.toml")
    assert main(["train", "--config", str(config), "--data", str(idx_folder), "--out", str(tmp_path / "run"),
                 "--steps", "5", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "spec fitted to the data 'my-digits': data_dim 64 -> 784" in out
    found = re.search(r"held-out negative ELBO ([0-9.e+]+) \(\+- [0-9.e+-]+, on 512 of 600 test points\)", out)
    trace = pd.read_parquet(tmp_path / "run" / "trace.parquet")
    assert found and float(found.group(1)) == pytest.approx(-trace["objective_test"].dropna().iloc[-1], rel=1e-3)


def test_the_probes_on_large_data_say_what_they_covered(trained, capsys):
    work, _ = trained
    trace = pd.read_parquet(work / "run" / "trace.parquet")
    points = trace["full_grad_points"].dropna()
    assert len(points) >= 2 and (points < N_TRAIN).all()  # random subsets, not all 4,500 images every probe
    assert (trace["full_grad_norm_sq_se"].dropna() > 0).all()
    assert main(["compare", str(work / "run"), "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert any(f"random training points of {N_TRAIN:,}" in note for note in run["notes"])
    # the rate is compared with -1/2 only in the theorem's regime
    assert run["fitted_slope"] is not None and run["rate_regime"]
    assert main(["compare", str(work / "run")]) == 0
    text = capsys.readouterr().out
    if run["rate_regime"] != "the theorem's":
        assert "not yet in the theorem's regime" in text and "slower than the theory" not in text


def test_the_report_writes_its_pngs_and_no_panel_is_empty(trained):
    import matplotlib.image as mpimg
    from compare.collect import assess_all
    from compare.present import plots
    work, _ = trained
    assert main(["report", str(work / "run"), "-o", str(work / "report.html")]) == 0
    pngs = sorted((work / "report-figures").glob("*.png"))
    assert {p.name for p in pngs} >= {"run-bound.png", "run-slack.png", "paper-figures.png"}
    assert all(mpimg.imread(p).shape[0] > 100 for p in pngs)
    html = (work / "report.html").read_text()
    assert html.count("data:image/png;base64") >= len(pngs)
    assessments = assess_all([str(work / "run")])
    # 90 steps of 70 a epoch: one epoch end, a single point on the paper's left panel, marked so that it shows
    for fig in (plots.paper_figures(assessments), plots.bound_vs_measured(assessments[0])):
        for ax in fig.axes:
            if ax.get_legend_handles_labels()[0] or ax.lines:
                drawn = [line for line in ax.lines if len(line.get_xdata()) and
                         (len(line.get_xdata()) > 1 or line.get_marker() not in (None, "None", ""))]
                assert drawn, f"an empty panel: {ax.get_title()}"
    left = plots.paper_figures(assessments).axes[0]
    assert all(line.get_marker() not in (None, "None", "") for line in left.lines)


@pytest.mark.slow  # a sweep of eight trainings: about 1.5 minutes on two cores
def test_the_sharpness_sweep_orders_relu_beside_soft_clipping(idx_folder, tmp_path, capsys):
    sweep = small("mnist_sweep.toml", tmp_path / "sweep.toml", data=idx_folder)
    out = tmp_path / "sweep"
    assert main(["sweep", str(sweep), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    capsys.readouterr()
    manifest = json.loads((out / "sweep.json").read_text())
    assert len(manifest["points"]) == 3 and all(p["status"] == "finished" for p in manifest["points"].values())
    assert manifest["data"]["path"] == str(idx_folder.resolve())
    assert manifest["data"]["fingerprint"] == load_path(idx_folder).fingerprint
    assert main(["compare", str(out), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    rows = [r for r in summary["orderings"] if r["factor"] == "s"]
    assert len(rows) == 1, summary["orderings"]
    s = rows[0]
    assert s["values"] == [1.0, 5.0, "relu"]                   # ReLU is in the family, by its name
    assert isinstance(s["agrees_with_paper"], bool) and isinstance(s["nelbo_agrees"], bool)  # its verdict
    assert all(v is not None and v > 0 for v in s["nelbo"])  # the negative ELBO, positive, for every member
    bounds = [b for b in s["bound"] if b is not None]
    tie = len(bounds) > 1 and max(bounds) - min(bounds) <= 1e-3 * max(bounds)
    assert s["bound_order"] == ("tie (bounds within 0.1%)" if tie else s["bound_order"]) and (
        tie or not s["bound_order"].startswith("tie"))
    assert main(["compare", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Orderings (bounds within 0.1% of each other are ties)" in text
    assert "held-out negative objective (nats/example)" in text and "activation.s=5.0" not in text
