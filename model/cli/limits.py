"""Memory caps of the command line: what a command would hold in memory, checked before any work.

Commands that keep every run in memory (``history-check``, ``compare``, ``run --bands``) are
refused above a stated limit with a message that says how to go bigger; ``--workers`` is capped
by the memory each worker process needs (and by the cores). ``run`` without ``--bands`` streams
chunk by chunk; only its summary (one number per run and quantity, about 8 million runs within
the default limit) bounds ``--runs``.

The limit is ``DEFAULT_LIMIT`` bytes or 60% of the machine's memory, whichever is smaller; the
environment variable ``AFPAK_MEMORY_LIMIT_GB`` sets another (e.g. ``AFPAK_MEMORY_LIMIT_GB=32``
on a large machine). The estimates are the bytes of the result arrays (``engine.results.
allocate``) times a factor measured for each command (see ``benchmarks/memory.py``).
"""

from __future__ import annotations

import os
import sys

from model.io.errors import ModelInputError

#: Environment variable that sets the memory limit, in GB.
LIMIT_ENV = "AFPAK_MEMORY_LIMIT_GB"
#: The limit when the variable is not set (and the machine has more than 1/0.6 of it).
DEFAULT_LIMIT = 4_000_000_000
#: What one worker process holds besides its chunk (interpreter, numpy, numba, the kernel).
WORKER_BASE = 300_000_000
#: Measured peak / result-array bytes: history-check scores copies of the series; compare holds
#: two traced ensembles; bands stack every series as float64 and take quantiles of it; run's
#: summary keeps one float64 per run and quantity and joins them to take quantiles.
FACTOR = {"history-check": 1.3, "compare": 1.2, "bands": 4.5, "chunk": 3.0, "summary": 3.0}


def _physical() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _available() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def limit() -> int:
    """The memory limit in bytes (``AFPAK_MEMORY_LIMIT_GB``, else the default)."""
    text = os.environ.get(LIMIT_ENV)
    if text is not None:
        try:
            gb = float(text)
        except ValueError:
            gb = float("nan")
        if not gb > 0 or gb == float("inf"):
            raise ModelInputError(f"{LIMIT_ENV}={text!r}: expected a number of GB > 0")
        return int(gb * 1e9)
    phys = _physical()
    return min(DEFAULT_LIMIT, int(0.6 * phys)) if phys else DEFAULT_LIMIT


def run_bytes(months: int, trace_events: int | None = None) -> int:
    """Bytes of one run's result arrays over ``months`` months (with the trace's ledgers when
    ``trace_events`` gives the number of event rows)."""
    import numpy as np

    from model.core import params as P
    from model.engine.results import allocate

    arrays = allocate(1, months, trace_events)
    return sum(a.nbytes for a in arrays.values()) + np.empty(1, P.dtype()).nbytes


def _gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB"


def check(what: str, runs: int, per_run: float, advice: str, *, option: str = "--runs") -> None:
    """Refuse ``what`` when ``runs`` runs of ``per_run`` bytes (factor included) exceed the
    limit; the message gives the need, the limit, the most runs that fit, ``advice`` (how to do
    without, e.g. "Use fewer --runs, or ...") and how to raise the limit."""
    cap = limit()
    need = runs * per_run
    if need <= cap:
        return
    most = max(1, int(cap // per_run))
    raise ModelInputError(
        f"{option} {runs:,}: {what} would hold about {_gb(need)} in memory; the limit is "
        f"{_gb(cap)} (at most about {most:,} runs). {advice}; or raise the limit with "
        f"{LIMIT_ENV}=<GB> if this machine has the memory")


def workers(requested: int, chunk_bytes: float) -> int:
    """``requested`` worker processes, capped by the cores and by the memory each needs
    (``WORKER_BASE`` plus its chunk); a note on stderr says when it is capped."""
    if requested <= 1:
        return requested
    cores = os.cpu_count() or 1
    per = WORKER_BASE + chunk_bytes
    room = min(limit(), _available() or limit())
    by_memory = max(1, int(room // per))
    allowed = min(requested, cores, by_memory)
    if allowed < requested:
        why = (f"{cores} core(s)" if allowed == cores else
               f"memory: about {_gb(per)} per worker, {_gb(room)} available")
        sys.stderr.write(f"note: --workers {requested}: using {allowed} ({why}); the numbers "
                         f"do not depend on the number of workers\n")
    return allowed


def steady_allocator(threshold: int = 1 << 20) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes, so that memory stays flat over many
    chunks: by default glibc raises the threshold after the first large blocks are freed, later
    blocks of the same size then come from the heap and fragment it (``run --out`` grew by 15%
    from 2,000 to 20,000 runs; fixed: within 5%, no slower). True when set; elsewhere (not
    glibc) nothing is done."""
    import ctypes

    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    m_mmap_threshold = -3  # <malloc.h> M_MMAP_THRESHOLD
    return bool(mallopt(m_mmap_threshold, int(threshold)))
