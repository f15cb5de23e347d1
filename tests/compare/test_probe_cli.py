"""`vaebound probe RUN`: a finished run measured again at its kept parameters, without retraining."""
from __future__ import annotations

import json
import math

import pytest

from bounds.presets import digits_spec
from compare.cli import main
from empirical import TrainConfig, digits, load_run, train


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("probe") / "run"
    spec = digits_spec()
    train(spec, TrainConfig(steps=20, probes=3, hessian_points=32, eval_points=64), digits(), out=out)
    return out


def test_the_runs_own_settings_measure_its_last_probes_again(finished, capsys):
    assert main(["probe", str(finished), "--format", "json"]) == 0
    values = json.loads(capsys.readouterr().out)
    last = load_run(finished).trace.iloc[-1]
    for name in ("full_grad_norm_sq", "hessian_top_eig", "objective_train", "grad_var_phi"):
        assert values[name] == pytest.approx(float(last[name]), rel=1e-6), name


def test_other_settings_and_a_quantity_are_appended_never_overwritten(finished, capsys):
    assert main(["probe", str(finished), "--quantities", "hessian_trace", "--set", "hessian_points=64",
                 "--seed", "3"]) == 0
    assert "hessian_trace" in capsys.readouterr().out
    entries = json.loads((finished / "reprobe.json").read_text())["entries"]
    assert entries[-1]["changes"] == {"hessian_points": 64} and math.isfinite(entries[-1]["values"]["hessian_trace"])
    before = len(entries)
    assert main(["probe", str(finished), "--set", "nope=1"]) == 2  # a bad setting: exit 2, nothing appended
    assert main(["probe", str(finished), "--seed", "-1"]) == 2
    assert len(json.loads((finished / "reprobe.json").read_text())["entries"]) == before
    assert main(["probe", str(finished / "missing")]) == 2
