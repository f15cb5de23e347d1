"""A process killed right after any one of its file writes (every file is written by an atomic rename, so these are
the states a folder can be left in) resumes to the run an uninterrupted process writes: exit 0, the same trace.

Deterministic where a timed SIGKILL is not: the writer renames through a patched `os.replace` that ends the process
(os._exit, as abrupt as SIGKILL for the folder) after its N-th rename. The quick suite kills after a few chosen
writes, train and an ensemble of seeds (a sweep) each; the slow suite after every write."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from empirical import load_run

ROOT = Path(__file__).parents[2]
KILLED = 137
WRITER = """
import os, sys
after, argv = int(sys.argv[1]), sys.argv[2:]
rename, count = os.replace, [0]
def replace(src, dst):
    rename(src, dst)
    count[0] += 1
    if count[0] == after:
        os._exit(137)
os.replace = replace
from compare.cli import main
code = main(argv)
print("writes:", count[0])
sys.exit(code)
"""
SPEC = ('data = "synthetic"\nseeds = [0, 1]\n[spec]\nB = 8\nn = 12\n[spec.model]\ndata_dim = 6\nlatent_dim = 2\n'
        'encoder_widths = [4]\ndecoder_widths = [4]\ndata_bound = 4.0\n[train]\nprobes = 2\n'
        'full_grad_replicates = 3\nvariance_draws = 2\nhessian_points = 8\neval_points = 16\nlanczos = false\n'
        'checkpoint_every = 4\n')
TIMING = ["wall_time", "probe_seconds"]


def commands(tmp_path: Path, out: Path) -> dict[str, list[str]]:
    train_file, sweep_file = tmp_path / "train.toml", tmp_path / "sweep.toml"
    train_file.write_text(SPEC.replace("seeds = [0, 1]\n", ""))
    sweep_file.write_text('name = "k"\n' + SPEC + '[grid]\n"objective.kind" = ["beta"]\n"objective.beta" = [0.5]\n')
    return {"train": ["train", "--config", str(train_file), "--out", str(out), "--no-progress"],
            "ensemble": ["sweep", str(sweep_file), "--out", str(out), "--workers", "1", "--ensemble", "always",
                         "--no-progress"]}


def write(argv: list[str], after: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WRITER, str(after), *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def traces(out: Path) -> dict[str, pd.DataFrame]:
    folders = sorted({p.parent for p in out.rglob("config.json")})
    return {str(f.relative_to(out)): load_run(f).trace.drop(columns=TIMING) for f in folders}


def check_kill_after(tmp_path: Path, kind: str, afters: list[int] | None) -> None:
    reference = tmp_path / "reference"
    whole = write(commands(tmp_path, reference)[kind], 0)
    assert whole.returncode == 0, whole.stderr[-2000:]
    n_writes = int(whole.stdout.rsplit("writes:", 1)[1])
    expected = traces(reference)
    for after in afters or range(1, n_writes):
        out = tmp_path / f"killed-after-{after}"
        argv = commands(tmp_path, out)[kind]
        assert write(argv, after).returncode == KILLED
        resumed = write(argv, 0)
        assert resumed.returncode == 0, f"killed after write {after} of {n_writes}: {resumed.stderr[-2000:]}"
        got = traces(out)
        assert got.keys() == expected.keys()
        for name, trace in expected.items():
            # An ensemble's resumed members may be batched (vmapped) with other co-members than before the kill, so
            # float32 reductions can differ in their last bits: an inner product of O(1) gradients that cancels to
            # 6e-4 came back 1.8e-8 apart. A single run keeps pandas' default tolerance.
            atol = 1e-6 if kind == "ensemble" else 1e-8
            pd.testing.assert_frame_equal(got[name], trace, obj=f"{name} (killed after write {after})", atol=atol)
        assert not list(out.rglob("checkpoint.pt")) and not list(out.rglob("*.tmp"))
        assert all((f.parent / "parameters.npy").exists() for f in out.rglob("trace.parquet"))


# after the first trace (before its record), after the first record, after the first checkpoint
@pytest.mark.parametrize("kind,afters", [("train", [1, 2, 3]),
                                         pytest.param("ensemble", [2, 3, 6], marks=pytest.mark.slow)])
def test_killed_after_a_chosen_write_resumes_to_the_same_run(tmp_path, kind, afters):
    check_kill_after(tmp_path, kind, afters)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["train", "ensemble"])
def test_killed_after_any_write_resumes_to_the_same_run(tmp_path, kind):
    check_kill_after(tmp_path, kind, None)
