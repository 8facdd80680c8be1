"""Numba compilation of the kernel, with an on-disk cache keyed to every file the kernel bakes in.

Numba's ``cache=True`` checks only the source file of each function (``kernel.py``); the module
globals a compiled function reads (the Goldstein weights from ``model/data/event_types.yaml``,
the layouts derived from ``spec.py``) are frozen into the cached machine code, and an edit to
those files alone would run a stale kernel. ``njit`` here therefore puts the cache in a
directory named after a hash of every such file (``KERNEL_INPUTS``): an edit to any of them
selects a fresh directory, so the kernel is recompiled from the files as they are.

How: Numba picks a function's cache directory when it is decorated, from
``numba.config.CACHE_DIR`` if set (``numba.core.caching.UserProvidedCacheLocator``; the
``NUMBA_CACHE_DIR`` environment variable sets it). ``njit`` sets it to the keyed directory for
the duration of the decoration only, so other Numba code in the process is unaffected. The keyed
directory lies under ``NUMBA_CACHE_DIR`` when the user set one, else in this package's
``__pycache__`` (or, where that is read-only, Numba's user-wide cache directory); where no
directory is writable, the kernel is compiled without a cache rather than with an unkeyed one.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numba
from numba.misc.appdirs import AppDirs

_CORE = Path(__file__).resolve().parent
#: Data files whose values the compiled kernel bakes in (besides every module of this package).
DATA_INPUTS: tuple[str, ...] = ("event_types.yaml", "parameters.yaml")
#: Keyed cache directories not used for this long are removed when another one is made.
_STALE_S = 7 * 24 * 3600


def kernel_inputs() -> list[tuple[str, bytes]]:
    """(name, content) of every file the compiled kernel depends on: the modules of
    ``model.core`` (vocabulary, layouts, bundles, kernel) and ``DATA_INPUTS``."""
    files = [(f"core/{p.name}", p.read_bytes()) for p in sorted(_CORE.glob("*.py"))]
    data = resources.files("model.data")
    files += [(f"data/{n}", data.joinpath(n).read_bytes()) for n in DATA_INPUTS]
    return files


def inputs_hash() -> str:
    """A short hash of ``kernel_inputs()`` (names and contents) and Numba's version."""
    h = hashlib.sha256(numba.__version__.encode())
    for name, blob in kernel_inputs():
        h.update(name.encode() + b"\0" + hashlib.sha256(blob).digest())
    return h.hexdigest()[:20]


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def _prune(base: Path, keep: Path) -> None:
    """Remove keyed directories beside ``keep`` that have not been touched for ``_STALE_S``."""
    for old in base.glob("kernel-*"):
        try:
            if old != keep and time.time() - old.stat().st_mtime > _STALE_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue


def cache_dir() -> Path | None:
    """The kernel's keyed cache directory, created; None where none is writable."""
    if numba.config.CACHE_DIR:
        bases = [Path(numba.config.CACHE_DIR)]
    else:
        bases = [_CORE / "__pycache__", Path(AppDirs(appname="numba").user_cache_dir)]
    key = f"kernel-{inputs_hash()}"
    for base in bases:
        if _writable(base / key):
            _prune(base, base / key)
            return base / key
    return None


CACHE_DIR = cache_dir()


def njit(**options) -> Callable:
    """``numba.njit(**options)``, its ``cache=True`` kept in ``CACHE_DIR`` (see the module
    docstring); without a writable ``CACHE_DIR`` the function is compiled afresh each run."""

    def decorate(fn: Callable) -> Callable:
        if not options.get("cache") or CACHE_DIR is None:
            return numba.njit(**{**options, "cache": False})(fn)
        saved = numba.config.CACHE_DIR
        numba.config.CACHE_DIR = str(CACHE_DIR)
        try:
            return numba.njit(**options)(fn)
        finally:
            numba.config.CACHE_DIR = saved

    return decorate
