"""Train several runs of one architecture together: their gradients in one batched call (torch.func's grad + vmap),
everything else (randomness, optimiser state, probes, folders) per run, exactly as `train` does.

Each member draws its mini-batches and noise from its own generators in the same order as a run trained alone,
outside vmap (explicit randomness), so a member's trace equals its separate run's up to floating-point rounding
(tested). Members must agree on what the gradient depends on (model, objective, estimator, B, n) and share the
training settings; they may differ in seed, optimiser settings (each keeps its own optimiser) and parameter set,
and their data may differ (same size). It pays for small models, where a step is dominated by per-call overhead rather than arithmetic:
`benchmarks/bench_ensemble.py` measures it.

    >>> runs = train_ensemble([dataclasses.replace(spec, seed=s) for s in range(8)], config, [data] * 8, outs)
"""
from __future__ import annotations

import math
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Sequence

import torch
from torch.func import grad, vmap

from bounds.spec import VAESpec
from .config import TrainConfig
from .data import Dataset
from .estimators import estimate
from .example_norms import GHOST_COLUMNS, example_norm_sums, ghost_record, records_ghost
from .locks import exclusive
from .runs import Run, RunFolder
from .step_gradients import Pair, Result, gradient_pair, step_statistics
from .trainer import Trainer
from .training import default_data


# What the batched gradient depends on: members must agree on these. The seed, the optimiser (each member keeps its
# own), the parameter set (projection is per member) and the bounds' settings may differ.
GRADIENT_FIELDS = ("model", "objective", "estimator", "B", "n")


def gradient_key(spec: VAESpec) -> dict:
    d = spec.to_dict()
    return {k: d[k] for k in GRADIENT_FIELDS}


def _compatible(specs: Sequence[VAESpec]) -> None:
    keys = [gradient_key(s) for s in specs]
    if any(k != keys[0] for k in keys[1:]):
        raise ValueError("an ensemble's specs must agree on the model, objective, estimator, B and n (they may "
                         "differ in seed, optimiser and parameter set): train other settings separately")


def batched_gradient(spec: VAESpec, config: TrainConfig):
    """(flats [E, P], x [E, B, d], eps [E, B, K, d_z]) -> (gradients [E, P], values [E])."""
    def surrogate(flat: torch.Tensor, x: torch.Tensor, eps: torch.Tensor):
        s, value = estimate(spec, flat, x, eps, spec.estimator, config.baseline)
        return s, value.detach()
    return vmap(grad(surrogate, has_aux=True))


def train_ensemble(specs: Sequence[VAESpec], config: TrainConfig | None = None,
                   datas: Sequence[Dataset] | None = None, outs: Sequence[str | Path | None] | None = None,
                   progress: bool = False) -> list[Run]:
    """Train the runs of `specs` together; returns their Runs in order. Run folders behave as with `train`: a
    finished member is returned as it is, unfinished ones resume (together if they stopped at the same step, else
    each alone)."""
    config = config or TrainConfig()
    if not specs:
        return []
    _compatible(specs)
    datas = list(datas) if datas is not None else [default_data(s, config) for s in specs]
    outs = list(outs) if outs is not None else [None] * len(specs)
    if not len(datas) == len(outs) == len(specs):
        raise ValueError("specs, datas and outs must have the same length")
    if config.K_alpha is not None:
        raise ValueError("an ensemble needs a fixed K (no K schedule): train K-scheduled runs separately")
    trainers = [Trainer(s, config, d, progress=False) for s, d in zip(specs, datas)]
    if len({len(t.X) for t in trainers}) > 1:
        raise ValueError("an ensemble's data sets must have the same number of training points")
    with ExitStack() as held:  # one writer per run folder, as with `train`
        for out in outs:
            if out is not None:
                held.enter_context(exclusive(Path(out)))
        folders = [RunFolder(t, d, o) for t, d, o in zip(trainers, datas, outs)]
        results: list[Run | None] = [f.resume() for f in folders]
        active = [i for i, r in enumerate(results) if r is None]
        if len({trainers[i].step for i in active}) > 1:  # resumed at different steps: no lockstep
            held.close()  # each member trains alone, holding its own folder
            from .training import train
            for i in active:
                results[i] = train(specs[i], config, datas[i], outs[i])
            return results  # type: ignore[return-value]
        for i in active:
            folders[i].save("running")
        try:
            _run_together([trainers[i] for i in active], [folders[i] for i in active], progress)
        except BaseException:  # record how far each member got, then let the error through
            for i in active:
                folders[i].save(trainers[i].status)
            raise
        for i in active:
            results[i] = folders[i].finish()
        return results  # type: ignore[return-value]


def _run_together(trainers: list[Trainer], folders: list[RunFolder], progress: bool) -> None:
    if not trainers:
        return
    from tqdm.auto import tqdm
    lead = trainers[0]
    gradient = batched_gradient(lead.spec, lead.config)
    clock = time.perf_counter() - lead.elapsed
    live = list(range(len(trainers)))
    bar = tqdm(total=lead.n_steps, initial=lead.step, disable=not progress, unit="step", leave=False,
               desc=f"ensemble of {len(trainers)}")
    try:
        while live:
            rows = {i: trainers[i].begin_row() for i in live}
            if trainers[live[0]].step == lead.n_steps:  # members move in lockstep: the last row has no update
                ok = {i: True for i in live}
            else:
                ok = _step_together([trainers[i] for i in live], rows, live, gradient)
            for i in list(live):
                if trainers[i].end_row(rows[i], ok[i], clock, folders[i].checkpoint):
                    live.remove(i)
            bar.update(1)
    except KeyboardInterrupt:
        for t in trainers:
            t.status = "interrupted"
        raise
    finally:
        bar.close()


def _step_together(members: list[Trainer], rows: dict[int, dict[str, Any]], ids: list[int], gradient) -> dict[int, bool]:
    """One update of every live member: every gradient the step needs (`Trainer.requests`), for all members, in
    batched calls (a split request as its two halves)."""
    requests = [m.requests() for m in members]  # members share the settings: the same requests, in order
    flats = torch.stack([m.flat for m in members])
    groups = []  # each: one (indices, eps) per member
    for j, lead in enumerate(requests[0]):
        n_a = len(lead.idx) // 2  # where a split request splits (Split.halves)
        parts = (slice(None, n_a), slice(n_a, None)) if lead.split else (slice(None),)
        groups += [[(r[j].idx[part], r[j].eps[part]) for r in requests] for part in parts]
    outputs = iter(_batched_gradients(members, flats, groups, gradient))
    results = []
    for lead in requests[0]:
        if lead.split:
            (G_a, v_a), (G_b, v_b) = next(outputs), next(outputs)
            w = (len(lead.idx) // 2) / len(lead.idx)
            results.append(Result(w * G_a + (1 - w) * G_b, w * v_a + (1 - w) * v_b, Pair(G_a, G_b)))
        else:
            results.append(Result(*next(outputs)))
    G, values, _ = results[0]
    pair = gradient_pair(results)
    views = [m.opt.recorded_views(G[e]) for e, m in enumerate(members)]
    denominators = [denominator for denominator, _ in views]
    stacked = None
    if any(d is not None for d in denominators):  # an SGD member's column (0) is not recorded
        stacked = torch.stack([torch.full_like(G[e], math.inf) if d is None else d for e, d in enumerate(denominators)])
    bars = None
    if stacked is not None:  # the main part's stand-in preconditioners (an SGD member's: zeros, not recorded)
        bars = torch.stack([torch.zeros_like(G[e]) if b is None else b for e, (_, b) in enumerate(views)])
    carriers = None if members[0].layers.spectral is None else [m.layers.spectral for m in members]
    table = step_statistics(members[0].box, G, values, flats, pair,  # one host sync for every member
                            members[0].spec.layout.logvars, stacked, members[0].layers, carriers, bars).tolist()
    recording = [e for e, m in enumerate(members) if m.records_example_norms]
    if recording:  # as each member alone records them, in one vectorised call for all
        lead = members[recording[0]]
        xs = torch.stack([members[e].X[requests[e][0].idx] for e in recording])
        sums = example_norm_sums(lead.spec, flats[recording], xs, torch.stack([requests[e][0].eps for e in recording]),
                                 lead.spec.estimator, lead.config.baseline).tolist()
        for e, (total, squares) in zip(recording, sums):
            rows[ids[e]].update(example_norm_sum=total, example_norm_sq_sum=squares)
    ghosting = [e for e, m in enumerate(members) if records_ghost(m.config)]
    if ghosting:  # each member's fresh batch is its requests[1] (`empirical.example_norms`)
        lead = members[ghosting[0]]
        xs = torch.stack([members[e].X[requests[e][1].idx] for e in ghosting])
        eps = torch.stack([requests[e][1].eps for e in ghosting])
        ghosts = ghost_record(lead.spec, flats[ghosting], xs, eps, lead.spec.estimator, lead.config.baseline,
                              G[ghosting], results[1].gradient[ghosting]).tolist()
        for e, ghost in zip(ghosting, ghosts):
            rows[ids[e]].update(zip(GHOST_COLUMNS, ghost))
    return {i: m.finish_step(rows[i], table[e], G[e], None if pair is None else pair.member(e))
            for e, (i, m) in enumerate(zip(ids, members))}


def _batched_gradients(members: list[Trainer], flats: torch.Tensor, groups: list[list[tuple[torch.Tensor, torch.Tensor]]],
                       gradient) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(gradients [E, P], values [E]) of each group, all at theta_k: one vmap call over the groups of each batch
    size (halves of an odd batch differ by one)."""
    E, out = len(members), [None] * len(groups)
    for size in sorted({len(g[0][0]) for g in groups}):
        chosen = [j for j, g in enumerate(groups) if len(g[0][0]) == size]
        x = torch.stack([m.X[idx] for j in chosen for m, (idx, _) in zip(members, groups[j])])
        eps = torch.stack([e for j in chosen for _, e in groups[j]])
        G_all, values_all = gradient(flats.repeat(len(chosen), 1), x, eps)
        for n, j in enumerate(chosen):
            out[j] = (G_all[E * n:E * (n + 1)], values_all[E * n:E * (n + 1)])
    return out  # type: ignore[return-value]
