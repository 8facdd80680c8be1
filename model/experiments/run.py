"""Running a sweep: sample, then compute the missing chunks on an executor and store each one.

Run ``run_id`` draws its random numbers from ``SeedSequence(seed, spawn_key=(run_id,))``
(``model.engine.runner``), so a chunk gives the same numbers wherever and whenever it is
computed: a rerun of the same command completes the missing chunks only, and the result equals an
uninterrupted sweep's. Where chunks run (this process, local processes, Dask) is
``model.engine.executors``; the folder is ``model.experiments.folder``.

The folder's writer lock is taken right after the folder is checked and held until the sweep
ends, so a second sweep on the same ``--out`` is refused at once and nothing of it is written;
parts that fail their seal (another sweep's, changed bytes) are named and recomputed.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from model.engine.executors import Executor, ExecutorError, make_executor
from model.experiments import compute
from model.experiments.folder import (
    DEFAULT_CHUNK,
    ROWS,
    SAMPLES,
    SERIES,
    check_out_dir,
    done_chunks,
    load_samples,
    manifest_for,
    rejected_text,
    sweep_store,
)
from model.experiments.spec import Sweep, SweepError
from model.io import atomic
from model.io.store import Store, chunk_bounds

#: Modules a local worker process imports once, before its first chunk.
WORKER_MODULES = ("model.experiments.compute",)


@dataclass
class SweepReport:
    """What a sweep call did."""

    out: Path
    runs: int
    chunks: int
    computed_chunks: int
    computed_runs: int
    resumed_chunks: int
    seconds: float
    backend: str
    driver_maxrss_kib: int = 0
    worker_maxrss_kib: dict[int, int] = field(default_factory=dict)
    compute_seconds: float = 0.0

    @property
    def runs_per_s(self) -> float:
        return self.computed_runs / self.seconds if self.seconds > 0 else float("nan")

    def text(self) -> str:
        lines = [f"sweep folder {self.out}: {self.runs:,} runs in {self.chunks} chunk(s)"]
        if self.resumed_chunks:
            lines.append(f"resumed: {self.resumed_chunks} chunk(s) were already complete")
        lines.append(f"computed {self.computed_chunks} chunk(s), {self.computed_runs:,} runs in "
                     f"{self.seconds:.1f} s ({self.runs_per_s:,.0f} runs/s) on {self.backend}")
        return "\n".join(lines)


def _executor(workers: int, dask: str | None, scheduler: str | None, client) -> Executor:
    try:
        return make_executor(workers, dask, scheduler, client, preload=WORKER_MODULES)
    except ExecutorError as exc:
        raise SweepError(str(exc)) from None


def _prepare(st: Store, sw: Sweep, x: np.ndarray, chunk: int, fresh: bool,
             say: Callable[[str], None]) -> tuple[dict, np.ndarray]:
    """The (locked) folder ready to receive parts: its manifest and the sample matrix."""
    out = st.root
    old = st.check(sw.spec_dict(), fresh=fresh)     # again, now that no one else writes
    if fresh:
        st.clear()
    if old is None:
        # the samples before the manifest: a folder with a manifest always has its samples
        atomic.write_parquet(out / SAMPLES,
                             pa.table({n: x[:, k] for k, n in enumerate(sw.names)}))
        return st.open(manifest_for(sw, chunk)), x
    if old["chunk"] != chunk:
        say(f"resuming with the folder's chunk size {old['chunk']} (not {chunk})")
    man = st.open(old)                      # checks again, sweeps up temporary leftovers
    saved = load_samples(out)[list(sw.names)].to_numpy()
    if saved.shape != x.shape or not np.array_equal(saved, x):
        say("note: this installation draws a different sample matrix than the folder's; "
            "resuming with the folder's samples.parquet")
        x = saved
    return man, x


def run_sweep(sw: Sweep, out: str | Path, *, workers: int = 1, dask: str | None = None,
              scheduler: str | None = None, client=None, chunk: int = DEFAULT_CHUNK,
              fresh: bool = False, progress: bool = True,
              on_chunk: Callable[[int, int], None] | None = None,
              log: Callable[[str], None] | None = None) -> SweepReport:
    """Run (or resume) a sweep into folder ``out``.

    The folder is checked before anything is written; a folder holding the same sweep is
    resumed (only missing chunks run; the folder's chunk size is kept), one holding anything else
    is refused (``fresh``: a folder holding another sweep is emptied and started over).
    ``workers > 1``: a local process pool; ``dask="local"``: a Dask LocalCluster of ``workers``
    single-threaded processes; ``scheduler``: an existing Dask scheduler; ``client``: an existing
    ``distributed.Client``. ``on_chunk(index, chunks_done)`` is called after each part file is in
    place.
    """
    say = log or (lambda s: print(s, file=sys.stderr))  # noqa: T201
    out = Path(out)
    if chunk < 1:
        raise SweepError(f"--chunk must be >= 1, got {chunk}")
    check_out_dir(out, sw, fresh=fresh)          # refuse before starting any worker
    # the writer lock: a second sweep on this folder is refused here; a folder this call
    # created is removed again if it fails before writing anything
    with sweep_store(out) as st:
        x = sw.sample_matrix()
        executor = _executor(workers, dask, scheduler, client)
        t0 = time.perf_counter()
        with executor:
            report = _run(st, sw, x, executor, chunk, fresh, progress, on_chunk, say)
    report.seconds = time.perf_counter() - t0
    report.driver_maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return report


def _run(st: Store, sw: Sweep, x: np.ndarray, executor: Executor, chunk: int, fresh: bool,
         progress: bool, on_chunk, say: Callable[[str], None]) -> SweepReport:
    """Prepare the locked folder and compute its missing chunks."""
    man, x = _prepare(st, sw, x, chunk, fresh, say)
    bounds = chunk_bounds(sw.runs, man["chunk"])
    done = done_chunks(st, man)
    todo = [k for k in range(len(bounds)) if k not in done]
    if st.rejected:
        say(f"note: {rejected_text(st).removeprefix('; ')}; they are recomputed")
    if done:
        say(f"resuming {st.root}: {len(done)} of {len(bounds)} chunk(s) already complete")
    report = SweepReport(out=st.root, runs=sw.runs, chunks=len(bounds), computed_chunks=0,
                         computed_runs=0, resumed_chunks=len(done), seconds=0.0,
                         backend=executor.label)
    tasks = compute.chunk_tasks(sw, x, bounds, todo, executor.numba_threads)
    _drive(executor, tasks, st, report, progress, on_chunk,
           initial=sum(bounds[k][1] - bounds[k][0] for k in done), name=sw.name)
    return report


def _drive(executor: Executor, tasks, st: Store, report: SweepReport, progress: bool,
           on_chunk, initial: int, name: str) -> None:
    """Compute the tasks on the executor and store each chunk as it comes back."""
    from tqdm import tqdm

    bar = tqdm(total=report.runs, initial=initial, unit="run", unit_scale=True,
               dynamic_ncols=True, desc=f"sweep {name}", disable=not progress, file=sys.stderr,
               smoothing=0.05)
    finished = report.resumed_chunks
    # looked up here, not imported by name: a test may replace compute.compute_chunk
    results = executor.submit_all(compute.compute_chunk, tasks)
    try:
        for res in results:
            if res.series is not None:
                st.write_table(SERIES, res.index, res.series)
            st.write_table(ROWS, res.index, res.table)
            n = res.table.num_rows
            finished += 1
            report.computed_chunks += 1
            report.computed_runs += n
            report.compute_seconds += res.seconds
            report.worker_maxrss_kib[res.pid] = max(
                report.worker_maxrss_kib.get(res.pid, 0), res.maxrss_kib)
            bar.update(n)
            if on_chunk is not None:
                on_chunk(res.index, finished)
    except ExecutorError as exc:
        raise SweepError(str(exc)) from None
    finally:
        results.close()
        bar.close()
