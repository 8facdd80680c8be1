"""One chunk of a sweep, as a worker computes it: the task (picklable, small), the batched engine
run of its run ids and the reduction to one row per run (and, on request, one row per run and
step).

This module is what worker processes and Dask workers import (``compute_chunk`` is sent by
reference), so it depends only on the engine and the outcome registry, not on the rest of
``model.experiments``.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from model.analysis import outcomes as O
from model.core import spec
from model.engine.paramsets import Posterior, posterior_columns
from model.inputs.scenario import Scenario


@dataclass(frozen=True)
class ChunkTask:
    """Everything a worker needs to compute one chunk; picklable, small."""

    index: int
    run_lo: int
    run_hi: int
    scenario: Scenario
    months: int
    seed: int
    replicates: int
    names: tuple[str, ...]
    matrix: np.ndarray          # (run_hi - run_lo) x parameters, one row per run
    fixed: dict[str, float]
    outcomes: tuple[O.Outcome, ...]
    timeseries: tuple[str, ...]
    #: numba threads for the kernel: None = numba's default (all cores, for the in-process
    #: backend); 1 in worker processes, where the processes are the parallelism.
    numba_threads: int | None = None
    #: the posterior each run draws the parameters not swept from (None: the table's defaults)
    posterior: Posterior | None = None


def parameter_columns(task: ChunkTask, ids: np.ndarray) -> dict[str, np.ndarray]:
    """The chunk's parameter values, one column per parameter: the run's posterior draw
    (``paramsets.posterior_columns``, as ``simulate`` draws it; the scenario's own values win),
    then ``fixed``, then the swept values."""
    cols: dict[str, np.ndarray] = {}
    if task.posterior is not None:
        cols.update(posterior_columns(task.posterior, task.seed, ids,
                                      exclude=tuple(task.scenario.params)))
    for name, v in task.fixed.items():
        cols[name] = np.full(len(ids), float(v))
    for k, name in enumerate(task.names):
        cols[name] = task.matrix[:, k].astype(np.float64)
    return cols


@dataclass
class ChunkOut:
    """What a worker sends back: the rows of its chunk (and time series on request)."""

    index: int
    table: pa.Table
    series: pa.Table | None
    pid: int
    maxrss_kib: int
    seconds: float


def compute_chunk(task: ChunkTask) -> ChunkOut:
    """Run one chunk on the batched engine and reduce it to one row per run."""
    from model.engine.runner import run_block

    if task.numba_threads:
        import numba

        numba.set_num_threads(min(task.numba_threads, numba.config.NUMBA_NUM_THREADS))
    t0 = time.perf_counter()
    ids = np.arange(task.run_lo, task.run_hi, dtype=np.int64)
    res = run_block(task.scenario, task.seed, ids, parameter_columns(task, ids), task.months)
    cols: dict[str, Any] = {
        "run_id": pa.array(ids, pa.int64()),
        "sample": pa.array(ids // task.replicates, pa.int64()),
        "replicate": pa.array((ids % task.replicates).astype(np.int32), pa.int32()),
        "seed": pa.array(np.full(len(ids), task.seed, dtype=np.int64), pa.int64()),
    }
    for k, name in enumerate(task.names):
        cols[name] = pa.array(task.matrix[:, k].astype(np.float64), pa.float64())
    for name, vals in O.compute_all(task.outcomes, res).items():
        cols[name] = pa.array(vals, pa.float64())
    series = _series_table(res, ids, task.timeseries) if task.timeseries else None
    return ChunkOut(index=task.index, table=pa.table(cols), series=series, pid=os.getpid(),
                    maxrss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                    seconds=time.perf_counter() - t0)


def _series_table(res, ids: np.ndarray, names: Sequence[str]) -> pa.Table:
    n, t1 = res.runs, res.months + 1
    cols: dict[str, Any] = {
        "run_id": pa.array(np.repeat(ids, t1), pa.int64()),
        "step": pa.array(np.tile(np.arange(t1, dtype=np.int32), n), pa.int32()),
        "date": pa.DictionaryArray.from_arrays(
            pa.array(np.tile(np.arange(t1, dtype=np.int32), n)), pa.array(res.dates)),
    }
    ix = spec.ACTOR_INDEX
    for name in names:
        if name.startswith("trust_"):
            a, b = _split_pair(name.removeprefix("trust_"))
            vals = res.trust[:, :, ix[a], ix[b]]
        elif name.startswith("aid_"):
            a, b = _split_pair(name.removeprefix("aid_"))
            vals = res.aid[:, :, spec.AID_FLOWS.index((a, b))]
        elif name.startswith("action_"):
            acts = np.full((n, t1), -1, dtype=np.int8)
            acts[:, 1:] = res.actions[:, :, ix[name.removeprefix("action_")]]
            cols[name] = pa.array(acts.ravel(), pa.int8())
            continue
        else:
            vals = res.state[:, :, spec.STATE_INDEX[name]]
        cols[name] = pa.array(np.ascontiguousarray(vals, dtype=np.float32).ravel(), pa.float32())
    return pa.table(cols)


def _split_pair(text: str) -> tuple[str, str]:
    for a in spec.ACTORS:
        if text.startswith(a + "_") and text[len(a) + 1:] in spec.ACTOR_INDEX:
            return a, text[len(a) + 1:]
    raise ValueError(f"not a pair of actors: {text!r}")


def chunk_tasks(sw, x: np.ndarray, bounds: list[tuple[int, int]], todo: Iterable[int],
                numba_threads: int | None = None) -> Iterator[ChunkTask]:
    """The tasks of chunks ``todo`` of sweep ``sw`` (a ``Sweep``) over sample matrix ``x``."""
    post = sw.posterior()
    for k in todo:
        lo, hi = bounds[k]
        ids = np.arange(lo, hi)
        yield ChunkTask(index=k, run_lo=lo, run_hi=hi, scenario=sw.scenario, months=sw.months,
                        seed=sw.seed, replicates=sw.replicates, names=sw.names,
                        matrix=x[ids // sw.replicates], fixed=sw.fixed,
                        outcomes=sw.outcomes, timeseries=sw.timeseries,
                        numba_threads=numba_threads, posterior=post)
