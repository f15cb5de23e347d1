"""`vaebound compare`, `report` and `demo`: formats, the JSON keys, and bad input (exit 2, nothing changed)."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from compare.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_json_has_the_required_keys_per_run(capsys, run_dirs):
    code, out, _ = run(capsys, "compare", run_dirs, "--format", "json")
    data = json.loads(out)
    assert code == 0 and len(data["runs"]) == 2
    by = {r["run"]: r for r in data["runs"]}
    for r in by.values():
        assert {"tightness_ratio", "sound", "fitted_slope", "slack"} <= r.keys()
    assert by["inside"]["sound"] is True and by["inside"]["tightness_ratio"] > 1
    assert by["practical"]["sound"] is None and by["practical"]["tightness_ratio"] is None
    assert "C_gamma * L <= 1" in by["practical"]["broken_conditions"]
    assert {"L", "sigma2", "L_star", "theorem form"} <= by["practical"]["slack"].keys()


@pytest.mark.parametrize("fmt,needle", [("text", "Tightness"), ("markdown", "| run |"), ("latex", "\\begin{tabular}"),
                                        ("csv", "run,status,theorem,optimizer")])
def test_formats(capsys, run_dirs, fmt, needle):
    code, out, _ = run(capsys, "compare", run_dirs / "inside", run_dirs / "practical", "--format", fmt)
    assert code == 0 and needle in out and "inside" in out


def test_report_writes_one_html_file(capsys, run_dirs, tmp_path):
    out_file = tmp_path / "report.html"  # its folder must exist: a missing one is not created
    code, out, _ = run(capsys, "report", run_dirs, "-o", out_file)
    assert code == 0 and out_file.exists()
    text = out_file.read_text()
    assert text.count("data:image/png;base64") >= 5 and "inside" in text and "practical" in text


def corrupt_copy(run_dirs: Path, tmp_path: Path, file: str, content: bytes) -> Path:
    bad = tmp_path / "bad"
    shutil.copytree(run_dirs / "inside", bad)
    (bad / file).write_bytes(content)
    return bad


@pytest.mark.parametrize("file,content,needle", [
    ("config.json", b"{not json", "config.json' is corrupt"),
    ("config.json", b'{"spec": {}}', "not a vaebound run config"),
    ("trace.parquet", b"PAR1 garbage", "trace.parquet' is corrupt"),
])
@pytest.mark.parametrize("command", ["compare", "report"])
def test_corrupt_run_folders_exit_2_and_change_nothing(capsys, run_dirs, tmp_path, file, content, needle, command):
    bad = corrupt_copy(run_dirs, tmp_path, file, content)
    before, before_good = snapshot(bad), snapshot(run_dirs)
    extra = ["-o", tmp_path / "report.html"] if command == "report" else []
    code, out, err = run(capsys, command, run_dirs / "inside", bad, *extra)
    assert code == 2 and needle in err and err.count("\n") == 1
    assert snapshot(bad) == before and snapshot(run_dirs) == before_good
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("argv,needle", [
    (["compare", "no/such/dir"], "'no/such/dir' does not exist"),
    (["report", "no/such/dir", "-o", "r.html"], "does not exist"),
])
def test_missing_paths_exit_2(capsys, argv, needle):
    code, _, err = run(capsys, *argv)
    assert code == 2 and needle in err


def test_a_folder_without_runs_and_a_file_exit_2(capsys, tmp_path):
    code, _, err = run(capsys, "compare", tmp_path)
    assert code == 2 and "holds no run" in err
    (tmp_path / "x.txt").write_text("x")
    code, _, err = run(capsys, "compare", tmp_path / "x.txt")
    assert code == 2 and "is not a folder" in err


def test_report_into_a_folder_is_an_error(capsys, run_dirs, tmp_path):
    code, _, err = run(capsys, "report", run_dirs, "-o", tmp_path)
    assert code == 2 and "is a folder" in err


@pytest.mark.parametrize("argv,needle", [(["--steps", "0"], "--steps=0"), (["--seeds", "0"], "--seeds=0")])
def test_demo_bad_options_exit_2(capsys, tmp_path, argv, needle):
    code, _, err = run(capsys, "demo", "--out", tmp_path / "d", *argv)
    assert code == 2 and needle in err and not (tmp_path / "d").exists()


def test_demo_runs_end_to_end_and_reuses_its_runs(capsys, tmp_path):
    out_dir = tmp_path / "demo"
    code, out, _ = run(capsys, "demo", "--out", out_dir, "--steps", "30", "--seeds", "1", "--no-progress")
    assert code == 0, out
    assert "report:" in out and "theory" in out and "sound" in out and "a-posteriori ratio" in out
    summary = json.loads((out_dir / "summary.json").read_text())
    runs = {r["run"]: r for r in summary["runs"]}
    assert runs["theory"]["sound"] is True
    assert all(runs[name]["sound"] is None for name in runs if name.startswith("practical"))
    for name in ("tightness.md", "tightness.tex", "tightness.csv", "orderings.md"):
        assert (out_dir / "tables" / name).exists()
    assert (out_dir / "plots" / "theory-bound.png").exists() and (out_dir / "plots" / "theory-bound.pdf").exists()
    traces = {p: p.read_bytes() for p in out_dir.rglob("trace.parquet")}
    code, _, _ = run(capsys, "demo", "--out", out_dir, "--steps", "30", "--seeds", "1", "--no-progress")
    assert code == 0 and all(p.read_bytes() == b for p, b in traces.items())


@pytest.mark.slow
def test_the_full_demos_certificates_are_within_ten_times_what_they_bound(capsys, tmp_path, tightness):
    """The demo as the README runs it (500 steps, two seeds, anchors over the whole training set): every run's
    certificate lies above the step-weighted average it bounds and within 10x of it (the certificate's goal on the
    demo's practical runs; measured 5.2 - 7.8, the theory run 2.65)."""
    code, out, _ = run(capsys, "demo", "--out", tmp_path / "demo", "--no-progress")
    assert code == 0, out
    runs = json.loads((tmp_path / "demo" / "summary.json").read_text())["runs"]
    assert len(runs) == 5
    for r in runs:
        assert r["certificate_form"] == "anchor estimate", r["run"]
        tightness.record("certificate (the demo's runs, anchors over the whole training set)",
                         r["certificate_measured"], r["certificate"])
        assert 1 <= r["certificate_ratio"] <= 10, (r["run"], r["certificate_ratio"])


def test_check_exits_1_on_a_violated_run_and_0_otherwise(capsys, run_dirs, tmp_path):
    """`compare --check` gates a CI job on soundness; the text table says which theorem judged each run."""
    import numpy as np
    from bounds import derive as D
    from empirical.runs import CONFIG, TRACE, write_json, write_trace
    from tests.compare.fakes import fake_run, theory_spec
    code, out, _ = run(capsys, "compare", run_dirs, "--check")
    assert code == 0 and "projected-sgd" in out and "finished" in out
    spec = theory_spec()
    values = D.spec_values(spec)
    above = fake_run(spec, lambda k: 3 * np.asarray(D.convergence(spec).evaluate({**values, "n": k + 1.0})))
    folder = tmp_path / "violated"
    folder.mkdir()
    write_json(folder / CONFIG, above.config)
    write_trace(folder / TRACE, above.trace)
    code, out, err = run(capsys, "compare", folder, "--check")
    assert code == 1 and "VIOLATED" in err
    code, _, _ = run(capsys, "compare", folder)
    assert code == 0
