"""`vaebound bound --norms-from RUN`: the bound at the per-layer norm set a trained run reached, the network's
norms as the compact set (the entry-wise box is the special case)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from bounds import derive as D
from compare.cli import main
from compare.measures import reached_norms
from empirical import load_run


def test_the_reached_set_holds_every_recorded_norm_and_no_more(run_dirs):
    run = load_run(run_dirs / "practical")
    wb = reached_norms(run)
    final = run.parameters()
    assert wb.kind == "spectral" and len(wb.layer_norms) == len(run.spec.layout)
    for slot, w, b in zip(run.spec.layout, wb.layer_norms, wb.bias_norms):
        probed = run.trace[f"spectral_norm.{slot.name}"].max()
        at_end = np.linalg.norm(final[slot.weight].reshape(slot.shape), 2)
        assert w == pytest.approx(max(probed, at_end))
        assert b == pytest.approx(max(run.trace[f"bias_norm.{slot.name}"].max(), np.linalg.norm(final[slot.bias])))


def test_the_command_prints_the_bound_at_the_reached_norms_and_it_bounds_the_measured_curvature(run_dirs, capsys):
    folder = run_dirs / "practical"
    run = load_run(folder)
    code = main(["bound", "--norms-from", str(folder), "--which", "smoothness", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    spec = dataclasses.replace(run.spec, weight_bound=reached_norms(run))
    expected = D.smoothness(spec).evaluate(D.spec_values(spec))
    assert out["points"][0]["value"] == pytest.approx(expected)
    # valid on the probed path: every measured top Hessian eigenvalue lies below the bound at the reached norms
    assert run.trace["hessian_top_eig"].max() <= expected
    code = main(["bound", "--norms-from", str(folder)])
    text = capsys.readouterr().out
    assert code == 0 and "norm set reached by" in text and f"C_gamma={run.spec.optimizer.C_gamma:.4g}" in text


def test_a_missing_run_or_one_without_norms_is_refused(run_dirs, tmp_path, capsys):
    assert main(["bound", "--norms-from", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
    run = load_run(run_dirs / "practical")
    bare = dataclasses.replace(run, trace=run.trace.drop(columns=[c for c in run.trace if "_norm." in c]), path=None)
    with pytest.raises(ValueError, match="recorded no norms of layer"):
        reached_norms(bare)
