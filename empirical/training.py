"""Train the VAE of a spec and record what the theorems bound.

    >>> from bounds.spec import VAESpec
    >>> from empirical import TrainConfig, train
    >>> run = train(VAESpec(n=200), TrainConfig(), out="runs/demo")
    >>> run.trace[["step", "grad_norm_sq", "full_grad_norm_sq"]]

The step is `trainer.Trainer`'s; the folder (record, checkpoints, resuming) is `runs.RunFolder`'s; the columns are
the quantities' (`empirical.quantities.trace_columns()`).
"""
from __future__ import annotations

import time
from pathlib import Path

from bounds.spec import VAESpec
from bounds.validate import count
from .config import TrainConfig
from .data import Dataset, load_for_spec
from .quantities import trace_columns
from .locks import exclusive
from .runs import Run, RunError, RunFolder
from .trainer import Trainer

TRACE_COLUMNS = trace_columns()


def default_data(spec: VAESpec, config: TrainConfig) -> Dataset:
    """Draws from a linear-Gaussian model of the spec's dimensions."""
    return load_for_spec("synthetic", spec, config.held_out)


def train(spec: VAESpec, config: TrainConfig | None = None, data: Dataset | None = None,
          out: str | Path | None = None, progress: bool = False, stop_after: int | None = None) -> Run:
    """Train `spec` and return its Run (config record + trace DataFrame).

    data: defaults to draws from a linear-Gaussian model of the spec's dimensions. out: a run folder; if it holds
    an unfinished run of the same record it resumes from its checkpoint, a finished one is returned as it is, and
    a different run is an error (nothing is overwritten). stop_after: stop (as an interruption, with a checkpoint)
    before this step; a later call resumes.
    """
    config = config or TrainConfig()
    if stop_after is not None:
        count("stop_after", stop_after, minimum=0)
    data = data or default_data(spec, config)
    trainer = Trainer(spec, config, data, progress)
    folder = RunFolder(trainer, data, out)
    if out is None:
        return _run(trainer, folder, stop_after)
    if Path(out).exists() and not Path(out).is_dir():
        raise RunError(f"--out {str(out)!r} is a file: give a run folder")
    with exclusive(Path(out)):
        return _run(trainer, folder, stop_after)


def _run(trainer: Trainer, folder: RunFolder, stop_after: int | None) -> Run:
    done = folder.resume()
    if done is not None:
        return done
    folder.save("running")
    try:
        _steps(trainer, folder.checkpoint, stop_after)
    except BaseException:  # interrupted or failed: record how far it got, then let the error through
        folder.save(trainer.status)
        raise
    return folder.finish()


def _steps(trainer: Trainer, checkpoint, stop_after: int | None) -> None:
    """Step `trainer` to its end (or to `stop_after`, as an interruption with a checkpoint), with a progress bar."""
    from tqdm.auto import tqdm
    bar = tqdm(total=trainer.n_steps, initial=trainer.step, disable=not trainer.progress, unit="step", leave=False)
    clock = time.perf_counter() - trainer.elapsed
    try:
        while True:
            if stop_after is not None and trainer.step >= stop_after and trainer.step < trainer.n_steps:
                trainer.status = "interrupted"
                checkpoint(trainer)  # a clean step boundary: resuming continues exactly here
                break
            row = trainer.begin_row()
            ok = trainer.step == trainer.n_steps or trainer.train_step(row)
            if trainer.end_row(row, ok, clock, checkpoint):
                break
            bar.update(1)
            if trainer.progress and trainer.step % 10 == 0:
                bar.set_postfix(objective=f"{row['objective_batch']:.4g}")
    except KeyboardInterrupt:
        # Mid-step state is not saved: resuming starts from the last periodic checkpoint, so the trace is the same
        # as an uninterrupted run's.
        trainer.status = "interrupted"
        raise
    finally:
        bar.close()
