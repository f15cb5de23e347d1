"""The paper's experiments: every ready-made sweep file is valid; the reduced versions run in the slow set."""
from __future__ import annotations

import json

import pytest

from compare.sweeps import experiments as X
from compare.cli import main
from compare.sweeps.reproduce import load_experiment, run_experiment


@pytest.mark.parametrize("scale", X.SCALES)
def test_every_experiment_file_is_a_valid_sweep(scale, tmp_path):
    assert len(X.names(scale)) >= 6
    where = str(tmp_path)  # the paper's data path must exist (it is checked before any run)
    for name in X.names(scale):
        sweep = load_experiment(name, scale, where if scale == "paper" else None)
        assert len(sweep.points) >= 2
        if scale == "paper":
            assert all(p.spec["model"]["architecture"] == "conv" and p.data == where for p in sweep.points)


def test_the_reduced_sharpness_sweep_has_relu_beside_four_sharpnesses():
    sweep = load_experiment("sharpness", "reduced", None)
    acts = {(p.spec["model"]["activation"]["name"], p.spec["model"]["activation"]["s"]) for p in sweep.points}
    assert {a for a, _ in acts} == {"softclip", "relu"} and {s for a, s in acts if a == "softclip"} == {1, 2, 5, 10}


@pytest.mark.parametrize("argv,needle", [
    (["reproduce", "iwae_k", "--scale", "paper"], "--data is required"),
    (["reproduce", "nope"], "'nope' is unknown"),
    (["reproduce", "beta", "--scale", "huge"], "invalid choice"),
])
def test_bad_requests_exit_2(capsys, argv, needle):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2 and needle in capsys.readouterr().err


def test_list(capsys):
    assert main(["reproduce", "--list"]) == 0
    assert "sharpness" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("name", X.names("reduced"))
def test_reduced_experiment_runs_compares_and_reports(tmp_path, name):
    summary = run_experiment(name, "reduced", None, tmp_path, progress=False)
    assert all(p["status"] in ("finished", "diverged") for p in summary["points"].values())
    folder = tmp_path / name
    text = (folder / "report.html").read_text()
    assert "The paper&#x27;s figures" in text or "The paper's figures" in text
    assert json.loads((folder / "summary.json").read_text())["orderings"] or name in ("estimator", "optimizer")
    for run in summary["runs"]:
        assert run["sound"] is not False, run


def test_the_example_sweep_file_the_readme_names_is_valid():
    from pathlib import Path
    from compare.sweeps import plan
    sweep = plan.load(Path(__file__).parents[2] / "docs" / "examples" / "grid.toml")
    assert len(sweep.points) == 3 * 2 * 2
