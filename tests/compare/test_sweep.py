"""Sweeps: grid expansion and validation, parallel runs, failures recorded, resume, SIGKILL, the Dask backend."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from bounds.spec import SpecError
from compare.sweeps import plan as S
from compare.cli import main
from compare.sweeps.runner import MANIFEST, run_sweep
from empirical import load_run

TINY = {"model": {"data_dim": 6, "latent_dim": 2, "encoder_widths": [8], "decoder_widths": [8], "data_bound": 10.0},
        "n": 40, "B": 16, "optimizer": {"C_gamma": 0.05}}
TRAIN = {"probes": 3, "full_grad_replicates": 3, "variance_draws": 3, "hessian_points": 16, "eval_points": 32,
         "checkpoint_every": 10}
TIMING = ["wall_time", "probe_seconds"]


def sweep_data(**changes):
    return {"name": "t", "data": "synthetic", "seeds": [0, 1], "spec": TINY, "train": TRAIN,
            "grid": {"objective.kind": ["beta"], "objective.beta": [0.5, 1.0]}, **changes}


def traces(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("trace.parquet"))}


def test_the_grid_expands_to_every_combination_with_seeds():
    sweep = S.parse(sweep_data(grid={"objective.kind": ["beta"], "objective.beta": [0.5, 1.0],
                                     "train.batches": ["epochs", "independent"]}))
    assert len(sweep.points) == 2 * 2 * 2
    assert len({p.key for p in sweep.points}) == 8 and len({p.folder_name for p in sweep.points}) == 8
    p = sweep.points[-1]
    assert p.spec["objective"]["beta"] == 1.0 and p.train["batches"] == "independent" and p.spec["seed"] == 1
    assert p.folder_name.startswith("beta=1_batches=independent_seed=1-")  # single-valued kind is not shown
    # The key is the record's: the same settings give the same key, a changed one another.
    again = S.parse(sweep_data(grid={"objective.kind": ["beta"], "objective.beta": [0.5, 1.0],
                                     "train.batches": ["epochs", "independent"]}))
    assert [q.key for q in again.points] == [q.key for q in sweep.points]
    other = S.parse(sweep_data(train={**TRAIN, "probes": 4}))
    assert not {q.key for q in other.points} & {q.key for q in sweep.points}


@pytest.mark.parametrize("changes,needle", [
    (dict(colour=1), "unknown key 'colour'"),
    (dict(grid={"objective.bta": [1.0]}), "'objective.bta' is not a setting"),
    (dict(grid={"objective.beta": []}), "must be a non-empty list"),
    (dict(grid={"objective.kind": ["beta"], "objective.beta": [-1.0]}), "beta=-1.0"),
    (dict(grid={"B": [0]}), "B=0"),
    (dict(grid={"train.colour": [1]}), "'train.colour' is not a training setting"),
    (dict(seeds=[-1]), "seeds=[-1]"),
    (dict(train={"probes": 0}), "probes=0"),
    (dict(grid={"objective.kind": ["beta"], "objective.beta": [0.5, 0.5]}), "the same run"),
])
def test_bad_sweeps_name_the_setting(changes, needle):
    with pytest.raises(SpecError, match=None) as err:
        S.parse(sweep_data(**changes))
    assert needle in str(err.value)


def test_local_parallel_sweep_runs_every_point_records_failures_and_resumes(tmp_path):
    data = sweep_data(grid={"B": [16, 100_000]}, seeds=[0])  # B = 100000 exceeds the data: that point fails
    sweep = S.parse(data)
    result = run_sweep(sweep, tmp_path, workers=2, progress=False)
    statuses = {name: p["status"] for name, p in result["points"].items()}
    assert sorted(statuses.values()) == ["failed", "finished"]
    failed = next(p for p in result["points"].values() if p["status"] == "failed")
    assert "B=100000 exceeds" in failed["error"]
    assert json.loads((tmp_path / MANIFEST).read_text())["points"] == json.loads(json.dumps(result["points"]))
    before = traces(tmp_path)
    again = run_sweep(sweep, tmp_path, workers=2, progress=False)  # finished skipped, failed retried
    assert traces(tmp_path) == before
    assert sorted(p["status"] for p in again["points"].values()) == ["failed", "finished"]


def test_sweep_points_are_ordinary_runs_the_same_as_a_single_training(tmp_path):
    from bounds.spec import VAESpec
    from empirical import TrainConfig, synthetic_linear_gaussian, train
    sweep = S.parse(sweep_data(seeds=[1], grid={}))
    run_sweep(sweep, tmp_path, workers=1, progress=False)
    p = sweep.points[0]
    spec = VAESpec.from_dict(p.spec)
    config = TrainConfig.from_dict(p.train)
    alone = train(spec, config, synthetic_linear_gaussian(6, 2, data_bound=10.0, held_out=config.held_out, seed=1))
    pd.testing.assert_frame_equal(load_run(tmp_path / p.folder_name).trace.drop(columns=TIMING),
                                  alone.trace.drop(columns=TIMING))


def test_sweep_cli_then_compare_and_bad_input(capsys, tmp_path):
    file = tmp_path / "grid.toml"
    file.write_text('data = "synthetic"\nseeds = [0]\n[spec]\nn = 30\nB = 16\n[spec.model]\ndata_dim = 6\n'
                    'latent_dim = 2\nencoder_widths = [8]\ndecoder_widths = [8]\n[train]\nprobes = 3\n'
                    'hessian_points = 16\neval_points = 32\n[grid]\n"objective.kind" = ["beta"]\n'
                    '"objective.beta" = [0.5, 1.0]\n')
    assert main(["sweep", str(file), "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress"]) == 0
    assert "2 finished" in capsys.readouterr().out
    assert main(["compare", str(tmp_path / "out"), "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["runs"]) == 2
    for argv, needle in [(["sweep", str(tmp_path / "none.toml"), "--out", "x"], "does not exist"),
                         (["sweep", str(file), "--out", "x", "--workers", "0"], "--workers=0"),
                         (["sweep", str(file), "--out", "x", "--threads", "0"], "--threads=0"),
                         (["sweep", str(file), "--out", "x", "--backend", "dask"], "needs --address")]:
        assert main(argv) == 2 and needle in capsys.readouterr().err
    (tmp_path / "bad.toml").write_text("[grid\n")
    assert main(["sweep", str(tmp_path / "bad.toml"), "--out", "x"]) == 2
    assert "not valid TOML" in capsys.readouterr().err and not Path("x").exists()


@pytest.mark.parametrize("ensemble,workers", [("never", "2"), pytest.param("auto", "1", marks=pytest.mark.slow)])
def test_sigkill_loses_no_finished_run_and_leaves_no_corrupt_file(tmp_path, ensemble, workers):
    """Kill the whole sweep (parent and workers) with SIGKILL mid-way, start it again: finished runs are kept
    byte for byte, every file reads, and the sweep completes. With ensembles (auto: the three seeds of each beta
    train together) one worker runs one group after the other, so the kill lands between or inside groups."""
    file = tmp_path / "grid.toml"
    data = sweep_data(seeds=[0, 1, 2], spec={**TINY, "n": 150})
    lines = ['name = "kill"', 'data = "synthetic"', "seeds = [0, 1, 2]", "[spec]", "n = 150", "B = 16",
             "[spec.model]", "data_dim = 6", "latent_dim = 2", "encoder_widths = [8]", "decoder_widths = [8]",
             "data_bound = 10.0", "[spec.optimizer]", "C_gamma = 0.05", "[train]"]
    lines += [f"{k} = {v}" for k, v in TRAIN.items()]
    lines += ["[grid]", '"objective.kind" = ["beta"]', '"objective.beta" = [0.5, 1.0]']
    file.write_text("\n".join(lines) + "\n")
    assert len(S.load(file).points) == len(S.parse(data).points) == 6
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "compare.cli", "sweep", str(file), "--out", str(out), "--workers", workers,
           "--ensemble", ensemble, "--no-progress"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    finished: list[str] = []
    while time.time() < deadline and proc.poll() is None:
        if (out / MANIFEST).exists():
            try:
                points = json.loads((out / MANIFEST).read_text())["points"]
            except json.JSONDecodeError:  # the manifest is replaced atomically: this must never happen
                pytest.fail("sweep.json was read half-written")
            finished = [n for n, p in points.items() if p["status"] == "finished"]
            if 1 <= len(finished) < 6:
                break
        time.sleep(0.05)
    assert proc.poll() is None, f"the sweep ended before it could be killed: {proc.stderr.read()[-500:]}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for config in out.rglob("config.json"):
        json.loads(config.read_text())  # every record reads
    kept = {n: (out / n / "trace.parquet").read_bytes() for n in finished}
    for n in finished:
        load_run(out / n)
    resumed = subprocess.run(cmd, timeout=300, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    points = json.loads((out / MANIFEST).read_text())["points"]
    assert all(p["status"] == "finished" for p in points.values())
    assert all((out / n / "trace.parquet").read_bytes() == b for n, b in kept.items())
    assert not list(out.rglob("*.tmp")) and not list(out.rglob("checkpoint.pt"))


@pytest.mark.slow
def test_dask_backend_on_a_local_cluster_gives_the_same_runs(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    sweep = S.parse(sweep_data(seeds=[0]))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
        result = run_sweep(sweep, tmp_path / "dask", backend="dask", address=cl.scheduler_address, progress=False)
    assert all(p["status"] == "finished" for p in result["points"].values())
    run_sweep(sweep, tmp_path / "local", workers=1, progress=False)
    for p in sweep.points:
        pd.testing.assert_frame_equal(load_run(tmp_path / "dask" / p.folder_name).trace.drop(columns=TIMING),
                                      load_run(tmp_path / "local" / p.folder_name).trace.drop(columns=TIMING))


def test_jobs_batch_the_seeds_of_small_models_only():
    from compare.sweeps.runner import ENSEMBLE_MAX_PARAMETERS, plan_jobs
    small = S.parse(sweep_data(seeds=[0, 1, 2])).points
    assert sorted(len(j) for j in plan_jobs(small, "auto")) == [3, 3]
    assert all(len(j) == 1 for j in plan_jobs(small, "never"))
    big_model = {**TINY, "model": {**TINY["model"], "data_dim": 400, "encoder_widths": [200],
                                   "decoder_widths": [200]}}
    big = S.parse(sweep_data(seeds=[0, 1], spec=big_model, grid={})).points
    from bounds.spec import VAESpec
    assert VAESpec.from_dict(big[0].spec).n_parameters > ENSEMBLE_MAX_PARAMETERS
    assert [len(j) for j in plan_jobs(big, "auto")] == [1, 1] and [len(j) for j in plan_jobs(big, "always")] == [2]
    with pytest.raises(ValueError, match="ensemble='x'"):
        plan_jobs(small, "x")


def test_ensemble_and_single_sweeps_give_the_same_runs(tmp_path):
    sweep = S.parse(sweep_data(seeds=[0, 1], grid={}))
    run_sweep(sweep, tmp_path / "ens", workers=1, progress=False, ensemble="always")
    run_sweep(sweep, tmp_path / "one", workers=1, progress=False, ensemble="never")
    import numpy as np
    for p in sweep.points:
        a = load_run(tmp_path / "ens" / p.folder_name).trace.drop(columns=TIMING)
        b = load_run(tmp_path / "one" / p.folder_name).trace.drop(columns=TIMING)
        np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-4, atol=1e-6, equal_nan=True)


def die_on_seed_zero(job, out, threads):
    """A job function whose worker process dies on seed 0 (as if killed for memory)."""
    from compare.sweeps.runner import _job
    if job[0].settings["seed"] == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    return _job(job, out, threads)


def test_a_worker_that_dies_fails_its_point_and_not_the_others(tmp_path):
    from compare.sweeps.runner import _run_local
    sweep = S.parse(sweep_data(seeds=[0, 1, 2], grid={}))
    outcomes = {}
    _run_local([[p] for p in sweep.points], tmp_path, 2, lambda p, o: outcomes.__setitem__(p.settings["seed"], o),
               job_fn=die_on_seed_zero)
    assert outcomes[0]["status"] == "failed" and "died" in outcomes[0]["error"]
    assert outcomes[1]["status"] == outcomes[2]["status"] == "finished"


def test_threads_per_worker_default_to_the_shared_cores_and_can_be_given(tmp_path):
    """Two sweeps side by side must not each take every core: --threads sets each worker's torch threads."""
    from compare.sweeps.runner import _run_local, cores
    sweep = S.parse(sweep_data(seeds=[0], grid={}))
    seen = []

    def record(job, out, threads):
        seen.append(threads)
        return [{"status": "finished"} for _ in job]
    _run_local([[p] for p in sweep.points], tmp_path, 1, lambda p, o: None, job_fn=record)
    _run_local([[p] for p in sweep.points], tmp_path, 1, lambda p, o: None, job_fn=record, threads=1)
    assert seen == [cores(), 1]


def test_extra_points_join_the_grid_with_every_seed():
    sweep = S.parse(sweep_data(grid={"model.activation.s": [1.0, 5.0]},
                               points=[{"model.activation.name": "relu"}]))
    names = [p.spec["model"]["activation"]["name"] for p in sweep.points]
    assert names.count("relu") == 2 and names.count("softclip") == 4
    only = S.parse(sweep_data(grid={}, points=[{"B": 8}, {"B": 16}], seeds=[0]))
    assert [p.spec["B"] for p in only.points] == [8, 16]
    with pytest.raises(SpecError, match="points must be a list"):
        S.parse(sweep_data(points={"B": 8}))


def test_seeds_and_step_constants_of_one_model_form_one_ensemble():
    from compare.sweeps.runner import plan_jobs
    points = S.parse(sweep_data(seeds=[0, 1], grid={"optimizer.C_gamma": [0.01, 0.05, 0.1]})).points
    assert [len(j) for j in plan_jobs(points, "auto")] == [6]
