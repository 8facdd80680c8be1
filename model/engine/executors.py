"""Where batches of runs are computed: in this process, in a pool of local worker processes, or on
a Dask cluster — one small interface for all three.

Every executor computes the same tasks with the same inputs, so the numbers never depend on where
they were computed; only the order in which results come back does.

API:

- ``process_pool(workers, preload=()) -> ProcessPoolExecutor``: the one local pool set-up.
  Workers start from a fresh interpreter (``forkserver`` where the platform has it, else
  ``spawn``; never a ``fork`` of a process running numba's threads), import the ``preload``
  modules once in the fork server, run numba on one thread (the processes are the parallelism)
  and ignore Ctrl-C, which the driver handles by shutting the pool down.
- ``Executor``: ``submit_all(fn, tasks) -> Iterator`` of ``fn(task)`` results in completion
  order, keeping at most ``window`` tasks in flight (``tasks`` is consumed lazily); closing the
  iterator early (an exception or Ctrl-C in the consumer) cancels what is pending. ``close()``
  (or ``with``) releases the workers. Attributes: ``label`` (for messages), ``workers``,
  ``window``, ``numba_threads`` (None: numba's default, all cores; 1 in worker processes).
- ``Inline()``, ``Processes(workers, preload=())``, ``Dask(client, cluster=None, label, own)``.
- ``make_executor(workers=1, dask=None, scheduler=None, client=None, preload=()) -> Executor``:
  ``client`` (an existing ``distributed.Client``) > ``scheduler`` (address of a running Dask
  scheduler, reached within ``CONNECT_TIMEOUT``) > ``dask="local"`` (a LocalCluster of
  ``workers`` single-threaded processes) > ``workers > 1`` (``Processes``) > ``Inline``.
- ``ExecutorError(ModelInputError)``: an unreachable scheduler, an unknown ``dask`` value, or a
  worker process that died (the message says so; finished work is the caller's to keep).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from model.io.errors import ModelInputError

#: How long ``make_executor(scheduler=...)`` waits to reach a Dask scheduler.
CONNECT_TIMEOUT = "10s"


class ExecutorError(ModelInputError):
    """An executor that cannot be set up or has lost a worker; the message says what to do."""


def _worker_init() -> None:
    # One numba thread per worker process: the processes are the parallelism. Ctrl-C goes to
    # the whole process group; the driver handles it and shuts the pool down.
    import signal

    import numba

    numba.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def process_pool(workers: int, preload: Sequence[str] = ()) -> ProcessPoolExecutor:
    """A process pool safe to use beside numba's OpenMP threads (workers are never forked from
    a threaded process); see the module docstring."""
    import multiprocessing as mp

    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        if preload:
            ctx.set_forkserver_preload(list(preload))
    else:  # pragma: no cover - Windows
        ctx = mp.get_context("spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init)


class Executor:
    """Where tasks run (see the module docstring); subclasses give submit, wait and result."""

    label = "this process"
    workers = 1
    window = 1
    numba_threads: int | None = None

    def submit(self, fn: Callable, task: Any) -> Any:
        raise NotImplementedError

    def wait(self, futures: Iterable) -> list:
        """Some finished futures among ``futures`` (at least one)."""
        raise NotImplementedError

    def result(self, future: Any) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        return None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit_all(self, fn: Callable, tasks: Iterable) -> Iterator:
        """``fn(task)`` for every task, yielded in completion order, ``window`` in flight."""
        it = iter(tasks)
        pending: dict = {}

        def fill() -> None:
            while len(pending) < self.window:
                t = next(it, None)
                if t is None:
                    return
                pending[self.submit(fn, t)] = t

        try:
            fill()
            while pending:
                for fut in self.wait(pending):
                    pending.pop(fut)
                    yield self.result(fut)
                fill()
        finally:
            for fut in pending:
                with contextlib.suppress(Exception):
                    fut.cancel()


class _Computed:
    """A finished 'future' of the inline executor (hashed by identity)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def cancel(self) -> bool:
        return False


class Inline(Executor):
    """Tasks run in this process, one at a time, as they are submitted."""

    def submit(self, fn, task):
        return _Computed(fn(task))

    def wait(self, futures):
        return list(futures)

    def result(self, future):
        return future.value


class Processes(Executor):
    """A local ``process_pool`` of ``workers`` processes, ``2 * workers`` tasks in flight."""

    def __init__(self, workers: int, preload: Sequence[str] = ()) -> None:
        self.pool = process_pool(workers, preload)
        self.workers = workers
        self.window = 2 * workers
        self.label = f"{workers} local processes"
        self.numba_threads = 1

    def submit(self, fn, task):
        return self.pool.submit(fn, task)

    def wait(self, futures):
        from concurrent.futures import FIRST_COMPLETED, wait

        return list(wait(list(futures), return_when=FIRST_COMPLETED).done)

    def result(self, future):
        from concurrent.futures.process import BrokenProcessPool

        try:
            return future.result()
        except BrokenProcessPool:
            raise ExecutorError("a worker process died (out of memory or killed); the finished "
                                "chunks are saved: run the same command again to resume"
                                ) from None

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class Dask(Executor):
    """A Dask cluster through ``client``; ``own``: close the client (and ``cluster``) at the
    end. A lost worker's tasks are rescheduled by Dask itself."""

    def __init__(self, client, cluster=None, label: str = "dask", own: bool = True) -> None:
        self.client = client
        self.cluster = cluster
        self.own = own
        nthreads = sum(client.nthreads().values()) or 1
        self.workers = nthreads
        self.window = max(2, 2 * nthreads)
        self.label = label
        self.numba_threads = 1

    def submit(self, fn, task):
        name = getattr(fn, "__name__", "task")
        return self.client.submit(fn, task, pure=False, key=f"{name}-{os.urandom(6).hex()}")

    def wait(self, futures):
        from distributed import wait

        return list(wait(list(futures), return_when="FIRST_COMPLETED").done)

    def result(self, future):
        out = future.result()
        future.release()
        return out

    def close(self) -> None:
        if self.own:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(workers: int = 1, dask: str | None = None, scheduler: str | None = None,
                  client=None, preload: Sequence[str] = ()) -> Executor:
    """The executor that the arguments name (see the module docstring)."""
    if client is not None:
        return Dask(client, label=f"dask client {client.scheduler.address}", own=False)
    if scheduler is not None:
        from distributed import Client

        try:
            cl = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there "
                                f"({exc}); start one with 'dask scheduler'") from None
        return Dask(cl, label=f"dask scheduler {scheduler}")
    if dask == "local":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        return Dask(Client(cluster), cluster, label=f"dask LocalCluster of {workers} worker(s)")
    if dask is not None:
        raise ExecutorError(f"--dask {dask}: expected 'local' (or use --scheduler ADDR)")
    if workers > 1:
        return Processes(workers, preload)
    return Inline()
