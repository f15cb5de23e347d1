"""Run a sweep's points: in local worker processes (default) or on a Dask cluster, resumably.

Each point is an ordinary run folder (`vaebound compare DIR` reads the sweep folder as it is). The sweep's own
record, `sweep.json`, lists every point with its status and error; it is rewritten atomically after each point,
so killing the sweep at any moment (even SIGKILL) leaves only whole files: finished points are skipped when the
sweep starts again, unfinished ones resume from their checkpoints, and failed ones are tried again.
"""
from __future__ import annotations

import json
import os
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable

from empirical.data_fit import fits_by_default
from empirical.locks import exclusive
from empirical.runs import CHECKPOINT, CONFIG, RunError, read_config, write_json
from .plan import Point, Sweep

MANIFEST = "sweep.json"
DONE = ("finished", "diverged")
ENSEMBLE_MODES = ("auto", "always", "never")
# benchmarks/bench_ensemble.py: 8 seeds trained together ran 3.1x faster at 4.6k parameters, 1.6x at 20k and
# 0.46x at 650k (steps only, one thread); `auto` batches seeds below this size.
ENSEMBLE_MAX_PARAMETERS = 50_000


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def point_status(folder: Path) -> str:
    """The status recorded in a point's run folder ('missing' if it has none yet)."""
    if not (folder / CONFIG).exists():
        return "missing"
    try:
        return str(read_config(folder).get("status", "unknown"))
    except RunError:
        return "corrupt"


def clean_temporaries(folder: Path) -> None:
    """Remove what a killed sweep can leave: half-written temporary files (the real files were never touched), and
    the checkpoint of a run that was recorded as done just before the kill."""
    for tmp in folder.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
    if point_status(folder) in DONE:
        (folder / CHECKPOINT).unlink(missing_ok=True)


def _limit_threads(threads: int) -> None:
    """One worker, `threads` torch threads (intra-op, and inter-op where it is still settable)."""
    import torch
    torch.set_num_threads(max(1, threads))
    try:
        torch.set_num_interop_threads(max(1, threads))
    except RuntimeError:  # only settable before the first parallel work in this process
        pass


def run_point(point: Point, folder: str, threads: int) -> dict[str, Any]:
    """Train one point into its folder (resuming if unfinished); never raises: errors come back as data."""
    from bounds.spec import VAESpec
    from empirical import TrainConfig, train
    from empirical.data import load_for_spec
    _limit_threads(threads)
    start = time.perf_counter()
    try:
        spec, config = VAESpec.from_dict(point.spec), TrainConfig.from_dict(point.train)
        run = train(spec, config, load_for_spec(point.data, spec, config.held_out), out=folder)
        return {"status": run.status, "error": None, "seconds": time.perf_counter() - start}
    except Exception as exc:  # a failed point is recorded and the sweep goes on
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - start,
                "traceback": traceback.format_exc(limit=5)}


def run_group(points: list[Point], folders: list[str], threads: int) -> list[dict[str, Any]]:
    """Train points whose gradients can be batched together (an ensemble); if that fails, each alone, so that
    every point gets its own outcome and error."""
    from bounds.spec import VAESpec
    from empirical import TrainConfig
    from empirical.ensemble import train_ensemble
    from empirical.data import load_for_spec
    _limit_threads(threads)
    start = time.perf_counter()
    try:
        specs = [VAESpec.from_dict(p.spec) for p in points]
        config = TrainConfig.from_dict(points[0].train)
        datas = [load_for_spec(p.data, s, config.held_out) for p, s in zip(points, specs)]
        runs = train_ensemble(specs, config, datas, folders)
    except Exception:  # find out which point fails, and record each one's outcome
        return [run_point(p, f, threads) for p, f in zip(points, folders)]
    seconds = (time.perf_counter() - start) / len(points)
    return [{"status": r.status, "error": None, "seconds": seconds, "ensemble": len(points)} for r in runs]


def plan_jobs(points: list[Point], ensemble: str) -> list[list[Point]]:
    """Jobs: groups of points whose gradients can be batched (the same model, objective, estimator, B, n, training
    settings and data; seeds and optimiser settings may differ) as ensembles where they pay, single points
    otherwise."""
    if ensemble not in ENSEMBLE_MODES:
        raise ValueError(f"ensemble={ensemble!r} is invalid: must be one of {', '.join(ENSEMBLE_MODES)}")
    if ensemble == "never":
        return [[p] for p in points]
    from bounds.spec import VAESpec
    from empirical.ensemble import gradient_key
    groups: dict[str, list[Point]] = {}
    for p in points:
        key = json.dumps({"gradient": gradient_key(VAESpec.from_dict(p.spec)), "train": p.train, "data": p.data},
                         sort_keys=True, default=str)
        groups.setdefault(key, []).append(p)
    jobs = []
    for members in groups.values():
        small = VAESpec.from_dict(members[0].spec).n_parameters <= ENSEMBLE_MAX_PARAMETERS
        batchable = members[0].train.get("K_alpha") is None
        if len(members) > 1 and batchable and (ensemble == "always" or small):
            jobs.append(members)
        else:
            jobs.extend([p] for p in members)
    return jobs


class Manifest:
    """sweep.json: the sweep's points, statuses and errors, rewritten atomically after every change."""

    def __init__(self, out: Path, sweep: Sweep, backend: str) -> None:
        self.path, self.out = out / MANIFEST, out
        self.data = {"name": sweep.name, "backend": backend, "data": data_source(sweep), "points": {
            p.folder_name: {"settings": p.settings, "key": p.key, "status": point_status(out / p.folder_name),
                            "error": None} for p in sweep.points}}
        for p in sweep.points:  # points finished before an interruption
            self.record_fingerprint(p)
        self.save()

    def update(self, point: Point, outcome: dict[str, Any]) -> None:
        self.data["points"][point.folder_name].update(outcome)
        self.record_fingerprint(point)
        self.save()

    def record_fingerprint(self, point: Point) -> None:
        """The content fingerprint of the data the point's run trained on (from its config.json); a point whose
        data differ from the others' (the files changed during the sweep) is named."""
        try:
            found = json.loads((self.out / point.folder_name / "config.json").read_text())["data"]["fingerprint"]
        except (OSError, ValueError, KeyError, TypeError):
            return
        data = self.data["data"]
        if data.get("fingerprint") in (None, found):
            data["fingerprint"] = found
        else:
            data.setdefault("differing_points", []).append(point.folder_name)

    def save(self) -> None:
        write_json(self.path, self.data)


def data_source(sweep: Sweep) -> dict[str, Any]:
    """What the sweep trains on: its source as given and, for a local path, the path resolved (the content
    fingerprint follows once a point has run)."""
    source = sweep.points[0].data if sweep.points else None
    out: dict[str, Any] = {"source": source}
    if source and fits_by_default(source) and Path(source).exists():  # a local path, not an embedded source
        out["path"] = str(Path(source).resolve())
    return out


def run_sweep(sweep: Sweep, out: str | Path, workers: int | None = None, backend: str = "local",
              address: str | None = None, progress: bool = True, ensemble: str = "auto",
              on_done: Callable[[Point, dict[str, Any]], None] | None = None,
              threads: int | None = None) -> dict[str, Any]:
    """Run every point not yet finished; returns the manifest's data.

    workers: local worker processes (default: one per core, each with one torch thread, since separate
    single-threaded processes outrun one multi-threaded process on small models). backend: 'local' or 'dask'
    (address: the scheduler, tcp://HOST:PORT; the workers must see `out`). ensemble: `auto` trains points that
    differ only in seed or optimiser settings together (torch.func) when the model is small enough for that to pay, `always`
    whenever they can, `never` one by one. threads: torch threads of each local worker (default: the cores shared
    among the workers; give fewer when other work shares the machine, e.g. two sweeps side by side).
    """
    out = Path(out)
    with exclusive(out, "sweep folder"):  # one sweep process per folder (its workers write the point folders)
        for tmp in out.glob(".*.tmp"):  # the manifest's own half-written temporary, from a sweep killed mid-write
            tmp.unlink(missing_ok=True)
        for p in sweep.points:
            if (out / p.folder_name).is_dir():
                clean_temporaries(out / p.folder_name)
        manifest = Manifest(out, sweep, backend)
        todo = [p for p in sweep.points if point_status(out / p.folder_name) not in DONE]
        jobs = plan_jobs(todo, ensemble)
        from tqdm.auto import tqdm
        bar = tqdm(total=len(sweep.points), initial=len(sweep.points) - len(todo), unit="run", disable=not progress,
                   desc=f"sweep {sweep.name}")

        def done(point: Point, outcome: dict[str, Any]) -> None:
            manifest.update(point, outcome)
            bar.update(1)
            if on_done:
                on_done(point, outcome)

        try:
            if backend == "dask":
                _run_dask(jobs, out, address, done)
            else:
                _run_local(jobs, out, workers or cores(), done, threads=threads)
        finally:
            bar.close()
        return manifest.data


def _job(points: list[Point], out: Path, threads: int) -> list[dict[str, Any]]:
    folders = [str(out / p.folder_name) for p in points]
    if len(points) == 1:
        return [run_point(points[0], folders[0], threads)]
    return run_group(points, folders, threads)


def _run_local(jobs: list[list[Point]], out: Path, workers: int, done, job_fn=_job,
               threads: int | None = None) -> None:
    if not jobs:
        return
    workers = max(1, min(workers, len(jobs)))
    threads = threads or max(1, cores() // workers)
    if workers == 1:  # no pool: simpler to debug, same results
        for job in jobs:
            for p, outcome in zip(job, job_fn(job, out, threads)):
                done(p, outcome)
        return
    # spawn, not fork: torch's thread pools do not survive a fork safely. A worker that dies (killed, out of
    # memory) breaks the pool and every job in flight with it: those jobs then run again, each in a pool of its own,
    # so only the job that kills its worker fails.
    broken: list[list[Point]] = []
    context = get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending = {pool.submit(job_fn, job, out, threads): job for job in jobs}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                job = pending.pop(fut)
                try:
                    outcomes = fut.result()
                except BrokenProcessPool:
                    broken.append(job)
                    continue
                for p, outcome in zip(job, outcomes):
                    done(p, outcome)
    for job in broken:
        with ProcessPoolExecutor(1, mp_context=context) as alone:
            try:
                outcomes = alone.submit(job_fn, job, out, cores()).result()
            except BrokenProcessPool:
                outcomes = [{"status": "failed", "error": "its worker process died (killed, or out of memory?)",
                             "seconds": None}] * len(job)
        for p, outcome in zip(job, outcomes):
            done(p, outcome)


def _run_dask(jobs: list[list[Point]], out: Path, address: str | None, done) -> None:
    if not address:
        raise ValueError("--backend dask needs --address tcp://HOST:PORT (the Dask scheduler)")
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise ValueError("--backend dask needs dask.distributed: pip install 'vaebound[dask]'") from None
    with Client(address, timeout=30) as client:
        futures = {client.submit(_job, job, out.resolve(), 1, pure=False): job for job in jobs}
        for fut in as_completed(list(futures)):
            for p, outcome in zip(futures[fut], fut.result()):
                done(p, outcome)
