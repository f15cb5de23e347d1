"""Two processes training into one run folder at once: exactly one writes it, the other is refused (exit 2), and the
folder holds the winner's run, whole. Real processes, started together."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
WRITER = """
import sys, time
start, out, seed = float(sys.argv[1]), sys.argv[2], int(sys.argv[3])
from compare.cli import main
time.sleep(max(0.0, start - time.time()))
sys.exit(main(["train", "--config", sys.argv[4], "--out", out, "--seed", str(seed), "--no-progress"]))
"""
CONFIG = ('data = "synthetic"\n[spec]\nB = 8\nn = 6\n[spec.model]\ndata_dim = 6\nlatent_dim = 2\nencoder_widths = [4]\n'
          'decoder_widths = [4]\ndata_bound = 4.0\n[train]\nprobes = 2\nfull_grad_replicates = 3\n'
          'variance_draws = 2\nhessian_points = 8\neval_points = 16\nlanczos = false\n')


def race(tmp_path: Path, i: int) -> None:
    out = tmp_path / f"run{i}"
    config = tmp_path / "c.toml"
    config.write_text(CONFIG)
    start = time.time() + 4.0  # both processes have imported torch by then
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(start), str(out), str(seed), str(config)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    codes = [code for code, _ in results]
    assert sorted(codes) == [0, 2], results  # never both "wrote"
    winner = (1, 2)[codes.index(0)]
    loser_err = results[codes.index(2)][1]
    assert "another process" in loser_err or "holds a different run" in loser_err, loser_err
    record = json.loads((out / "config.json").read_text())
    assert record["spec"]["seed"] == winner and record["status"] == "finished"
    assert (out / "parameters.npy").exists() and (out / "trace.parquet").exists()


def test_two_writers_of_one_run_folder(tmp_path):
    for i in range(3):
        race(tmp_path, i)


@pytest.mark.slow
def test_two_writers_of_one_run_folder_fifty_times(tmp_path):
    for i in range(50):
        race(tmp_path, i)
