"""Where batches of runs are computed: in this process or in a pool of worker processes.

Every back end computes the same chunks with the same run ids, so the numbers never depend on
where they were computed.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor


def _worker_init() -> None:
    # One numba thread per worker process: the processes are the parallelism.
    import numba

    numba.set_num_threads(1)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool safe to use beside numba's OpenMP threads (spawned, not forked)."""
    import multiprocessing

    return ProcessPoolExecutor(max_workers=workers, initializer=_worker_init,
                               mp_context=multiprocessing.get_context("spawn"))
