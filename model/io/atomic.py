"""Atomic file writes: the one place where the model writes a file that must never be seen half
written.

Every writer here follows one rule: write to a temporary file *beside* the target (same folder,
so the final rename stays on one file system), optionally ``fsync`` it, ``os.replace`` it onto
the target, then (with ``fsync``) ``fsync`` the folder so that the rename itself survives a
crash. On any failure, ``KeyboardInterrupt`` included, the temporary file is removed and the
target is left as it was. A reader therefore only ever sees the old file or the whole new one.

Temporary files are named ``.<target name>.<pid>-<random>.tmp<target suffix>``: hidden, unique
per writer, recognisable by ``is_temp`` / ``TEMP_GLOB`` (so a resumable store can sweep up what a
killed process left, see ``model.io.store``), and ending in the target's own suffix so that
libraries choosing a format from the file name (numpy's ``.npz``, matplotlib, pandas'
compression) pick the target's format.

API (``path`` always first):

- ``atomic_output(path, *, fsync=True)``: context manager yielding the temporary path to write;
  moved into place when the block ends without an exception;
- ``write_text(path, text, *, encoding="utf-8", fsync=True) -> Path``;
- ``write_bytes(path, data, *, fsync=True) -> Path``;
- ``write_npz(path, arrays, *, fsync=True) -> Path``: ``np.savez`` of a mapping name -> array;
- ``write_parquet(path, table, *, compression="zstd", fsync=True) -> Path``: a ``pyarrow.Table``;
- ``write_csv(path, frame, *, fsync=False, **to_csv) -> Path``: a pandas DataFrame
  (``index=False`` unless given);
- ``save_figure(path, fig, *, fsync=False, **savefig) -> Path``: a matplotlib figure;
- ``temp_path(path) -> Path``, ``is_temp(name) -> bool``, ``TEMP_GLOBS``,
  ``clean_temp(*folders) -> int``: every temporary file in the folders (a store's folders, used
  by one writer at a time under the store's lock);
- ``clean_stale(path) -> int``: the temporary files of target ``path`` whose writer process is
  gone (for targets that no lock guards, e.g. ``run --out``'s long table);
- ``terminate_cleanly(signals=(SIGTERM, SIGHUP))``: context manager under which those signals
  raise ``Terminated`` (a ``KeyboardInterrupt``), so that a ``kill`` unwinds through the same
  ``finally`` blocks as Ctrl-C and leaves no temporary file; ``Terminated.exit_code`` is
  ``128 + signal``. A command line wraps its ``main`` in it (see ``model.cli``).

A killed process (SIGKILL, power loss) cannot clean up: its temporary files stay until the next
writer of the same store (``clean_temp`` on ``Store.open``) or target (``clean_stale``) sweeps
them up.

``fsync`` defaults to True for files that a resumable computation relies on (parts, manifests,
arrays) and to False for outputs that are cheap to regenerate (CSV tables, figures).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import secrets
import signal
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

#: Globs matching the temporary files of this module and of older versions (``.x.PID.tmp``
#: of the sweep store, ``.x.RANDOM.part`` of the long table's writer).
TEMP_GLOBS = (".*.tmp*", ".*.part")
TEMP_GLOB = TEMP_GLOBS[0]


def temp_path(path: Path) -> Path:
    """A fresh temporary name beside ``path`` (hidden, unique, ending in ``path``'s suffix)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}")


def is_temp(name: str) -> bool:
    """Whether a file name is a temporary file of an atomic write (a leftover when found later)."""
    return name.startswith(".") and (".tmp" in name or name.endswith(".part"))


def clean_temp(*folders: Path) -> int:
    """Remove the temporary files left in ``folders`` (not recursive) by killed writers; returns
    how many were removed. Missing folders are skipped. Only for folders that one writer uses
    at a time (a locked store): a live writer's temporary file would go too."""
    n = 0
    for folder in map(Path, folders):
        if not folder.is_dir():
            continue
        for p in {q for g in TEMP_GLOBS for q in folder.glob(g)}:
            if p.is_file() and is_temp(p.name):
                p.unlink(missing_ok=True)
                n += 1
    return n


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True    # someone else's process (or not a pid): leave its file alone
    return True


def clean_stale(path: Path) -> int:
    """Remove the temporary files of target ``path`` left by writers that are no longer
    running (``.<name>.<pid>-<random>.tmp…`` of a dead pid; the older writer's
    ``.<name>.<random>.part``, which no running version makes); returns how many."""
    path = Path(path)
    if not path.parent.is_dir():
        return 0
    own = re.compile(re.escape(f".{path.name}.") + r"(\d+)(?:-[0-9a-f]+)?\.tmp")
    n = 0
    for p in path.parent.glob(glob.escape(f".{path.name}.") + "*"):
        m = own.match(p.name)
        stale = (m is not None and not _alive(int(m.group(1)))) or (
            m is None and p.name.endswith(".part"))
        if stale and p.is_file():
            p.unlink(missing_ok=True)
            n += 1
    return n


class Terminated(KeyboardInterrupt):
    """Raised in the main thread by a signal under ``terminate_cleanly``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        return f"terminated by {signal.Signals(self.signum).name}"


@contextlib.contextmanager
def terminate_cleanly(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGHUP)
                      ) -> Iterator[None]:
    """Under this block, ``signals`` raise ``Terminated`` (a ``KeyboardInterrupt``) in the main
    thread, so a ``kill`` leaves the files as Ctrl-C does: temporary files removed, targets old
    or whole. Later signals are ignored while the first one unwinds; the previous handlers are
    back when the block ends. Outside the main thread (where Python cannot install a handler)
    it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handler(signum, _frame) -> None:
        if fired:
            return
        fired.append(signum)
        raise Terminated(signum)

    old = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    # POSIX makes a rename durable by syncing the folder; elsewhere this is not possible.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_output(path: Path, *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only when the block succeeds.

    The parent folder is created if needed. The temporary file exists, empty, when the block
    starts (writers overwrite or append to it); if the block raises, the target is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        if fsync:
            _fsync_file(tmp)
        os.replace(tmp, path)
        if fsync:
            _fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text(path: Path, text: str, *, encoding: str = "utf-8", fsync: bool = True) -> Path:
    """Write ``text`` to ``path`` atomically; returns ``path``."""
    with atomic_output(path, fsync=fsync) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def write_bytes(path: Path, data: bytes, *, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_output(path, fsync=fsync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_npz(path: Path, arrays: Mapping[str, Any], *, fsync: bool = True) -> Path:
    """``np.savez`` the named arrays to ``path`` (which should end in ``.npz``) atomically."""
    import numpy as np

    with atomic_output(path, fsync=fsync) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return Path(path)


def write_parquet(path: Path, table, *, compression: str = "zstd", fsync: bool = True) -> Path:
    """Write a ``pyarrow.Table`` to ``path`` as Parquet atomically."""
    import pyarrow.parquet as pq

    with atomic_output(path, fsync=fsync) as tmp:
        pq.write_table(table, tmp, compression=compression)
    return Path(path)


def write_csv(path: Path, frame, *, fsync: bool = False, **to_csv: Any) -> Path:
    """Write a pandas DataFrame to ``path`` as CSV atomically (``index=False`` unless given)."""
    to_csv.setdefault("index", False)
    with atomic_output(path, fsync=fsync) as tmp:
        frame.to_csv(tmp, **to_csv)
    return Path(path)


def save_figure(path: Path, fig, *, fsync: bool = False, **savefig: Any) -> Path:
    """Save a matplotlib figure to ``path`` atomically (format from ``path``'s suffix)."""
    path = Path(path)
    savefig.setdefault("format", path.suffix.lstrip(".") or None)
    with atomic_output(path, fsync=fsync) as tmp:
        fig.savefig(tmp, **savefig)
    return path
