"""The resumable chunk store: a folder that a long computation fills part by part, so that a run
killed at any moment can be continued by running the same command again.

Layout of a store folder ``ROOT``::

    manifest.json                 {"format": FORMAT, ...}: what is computed (the caller's keys)
    <folder>/<part name> ...      one file per finished chunk, per family of parts
    <other files the caller owns> (e.g. a sample matrix), listed in ``files``

Rules:

- **One chunk layout.** ``chunk_bounds(total, size)`` cuts items ``0 .. total-1`` into
  consecutive half-open ``[lo, hi)`` chunks of ``size`` (the last one shorter); chunk ``k`` is
  ``bounds[k]``. Every chunked computation uses it, so a chunk index names the same items
  everywhere.
- **One writer at a time.** ``open`` (or ``lock``, or ``with store:``) takes an exclusive
  ``flock`` on ``ROOT/.lock`` for as long as the store is used (``unlock``, the end of the
  ``with`` block, or the process's end releases it); a second writer is refused at once with a
  message naming the folder (``error``), before it writes anything.
- **Parts are written atomically** (``model.io.atomic``) **and sealed**: after each part, a
  hidden sidecar ``.<part>.check`` (JSON: the manifest identity's ``fingerprint``, the part's
  ``sha256`` and size) is written atomically. A part counts as done only when its seal is
  there, carries this store's fingerprint, matches the file's bytes, and the file reads back
  with the expected number of rows (``verify``/``part_ok``). So a part copied from another
  computation, one whose bytes were changed (even with an intact Parquet footer), one without
  a seal (written before this rule, or killed between part and seal) is not done: it is
  recomputed, never mixed in.
  ``rejected`` says which parts of the last ``done`` call failed and why.
- **A folder is never mixed up.** ``check`` refuses a path that is a file, a folder holding
  files the store does not own, a folder that holds part files but no manifest (the manifest was
  deleted, or the parts are someone else's), a manifest of another format, or a manifest whose
  identity (the entry that determines the numbers) differs from the caller's, naming each
  differing key with both values; ``fresh=True`` in ``open`` clears the store's own files first
  (never foreign ones).
- **Leftovers are swept up**: ``open`` removes the temporary files that a killed writer left
  (under the lock, so no live writer's).

API:

- ``chunk_bounds(total: int, size: int) -> list[tuple[int, int]]``
- ``class StoreError(ModelInputError)``
- ``Parts(folder: str, pattern: str)``: a family of numbered parts, e.g.
  ``Parts("parts", "part-{:06d}.parquet")`` or ``Parts("parts", "w{:02d}-c{:05d}.npz")``
  (a key is an int or a tuple of ints, formatted into ``pattern``); ``.name(key)``,
  ``.keys(root)`` (the keys of the part files present, parsed back from their names).
- ``fingerprint(identity) -> str``: sha256 of the identity's canonical JSON (for a sweep, its
  ``spec_hash``).
- ``Store(root, fmt, parts=(), *, files=(), key=None, what="output", theirs="this run",
  hint="", error=StoreError)``: ``key`` names the manifest entry that is the identity (None:
  the whole manifest); ``what`` and ``theirs`` name the computation in messages ("sweep",
  "this spec"), ``hint`` ends the "not a ... folder" message, ``error`` is the exception raised;

  - ``lock() -> Store``, ``unlock()``, ``with store: ...``: the writer lock (creates the
    folder; ``unlock`` removes a folder that ``lock`` created and nothing else filled);

  - ``exists() -> bool``: a manifest is there;
  - ``read_manifest() -> dict``: the manifest, checked to be of format ``fmt``;
  - ``check(identity, key=None, *, fresh=False) -> dict | None``: the refusals above; the old
    manifest when the folder holds the same computation, None when the folder is new or empty
    (or ``fresh``). ``key`` names the manifest entry compared with ``identity`` (the whole
    manifest when None); values are compared as JSON;
  - ``open(manifest, key=None, *, fresh=False) -> dict``: ``check``, ``lock``, ``check``
    again under the lock (or clear, with ``fresh``), remove temporary leftovers, write the
    manifest if new; returns the manifest in force (the folder's own when resuming). A part
    folder is created with its first part;
  - ``clear()``: remove the manifest, every part file and seal, and the owned ``files``;
  - ``path(parts, key) -> Path``;
  - ``write_table(parts, key, table)``, ``write_arrays(parts, key, arrays)``,
    ``read_arrays(parts, key) -> dict``, ``read_table(parts, key, columns=None)``;
  - ``verify(parts, key, rows=None) -> str | None`` (None: complete, else why not);
    ``part_ok(parts, key, rows=None) -> bool``; ``done(parts, rows: Mapping[key, int | None])
    -> set`` of the keys whose parts are complete (``rejected``: part path under ``root`` ->
    why, for parts present but not counted);
  - ``clean_temp() -> int``.

Every writer of a resumable folder (sweeps, ``model.experiments.folder``; the calibration,
``model.calibration.store``) gets these guarantees by writing through a ``Store``: ``open`` it
(it locks), write parts with ``write_table``/``write_arrays`` (they seal), count done parts with
``part_ok``/``done`` (they verify), and ``unlock`` (or use ``with``) when finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import string
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from model.io import atomic
from model.io.errors import ModelInputError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no writer lock
    fcntl = None  # type: ignore[assignment]

MANIFEST = "manifest.json"
#: The writer lock's file in the store folder (hidden; removed by ``unlock``).
LOCK = ".lock"
#: Suffix of a part's seal (fingerprint and checksum), ``.<part name>.check`` beside the part.
SEAL = ".check"

Key = int | tuple[int, ...]


def chunk_bounds(total: int, size: int) -> list[tuple[int, int]]:
    """Half-open bounds ``[lo, hi)`` of consecutive chunks of ``size`` covering ``0 .. total-1``.

    Chunk ``k`` is ``(k * size, min((k + 1) * size, total))``; no chunk is empty, so
    ``total == 0`` gives no chunks.
    """
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    if total < 0:
        raise ValueError(f"total must be >= 0, got {total}")
    return [(lo, min(lo + size, total)) for lo in range(0, total, size)]


class StoreError(ModelInputError):
    """A store folder that cannot be used; the message says why and what to do."""


def _key_tuple(key: Key) -> tuple[int, ...]:
    return key if isinstance(key, tuple) else (key,)


@dataclass(frozen=True)
class Parts:
    """A family of numbered part files ``<root>/<folder>/<pattern formatted with the key>``."""

    folder: str
    #: ``str.format`` pattern with one integer field per key element, e.g. ``part-{:06d}.parquet``
    pattern: str

    def name(self, key: Key) -> str:
        return self.pattern.format(*_key_tuple(key))

    def _regex(self, prefix: str = "", suffix: str = "") -> re.Pattern:
        out = [re.escape(prefix)]
        for literal, field_name, _spec, _conv in string.Formatter().parse(self.pattern):
            out.append(re.escape(literal))
            if field_name is not None:
                out.append(r"(\d+)")
        return re.compile("".join(out) + re.escape(suffix) + r"\Z")

    def files(self, root: Path) -> list[Path]:
        """Every part file and seal of this family present in ``root``."""
        folder = Path(root) / self.folder
        if not folder.is_dir():
            return []
        rx, rx_seal = self._regex(), self._regex(".", SEAL)
        return sorted(p for p in folder.iterdir() if rx.match(p.name) or rx_seal.match(p.name))

    def keys(self, root: Path) -> list[Key]:
        """Keys of the part files present in ``root`` (ints for one-field patterns), sorted."""
        folder = Path(root) / self.folder
        if not folder.is_dir():
            return []
        rx = self._regex()
        found = []
        for p in folder.iterdir():
            m = rx.match(p.name)
            if m:
                k = tuple(int(g) for g in m.groups())
                found.append(k[0] if len(k) == 1 else k)
        return sorted(found)


def _canonical(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value, sort_keys=True))


def fingerprint(identity: Any) -> str:
    """sha256 of ``identity``'s canonical JSON: what every part of a store is sealed with."""
    text = json.dumps(_canonical(identity), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=1 << 16)
def _digest(path: str, ino: int, size: int, mtime_ns: int, ctime_ns: int) -> str:
    """sha256 of a file's bytes (cached by inode, size and times: a rewrite changes them)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def file_digest(path: Path) -> str:
    st = Path(path).stat()
    return _digest(str(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _seal_path(path: Path) -> Path:
    """``.<part name>.check``: hidden, so that readers of the part folder (pyarrow datasets,
    ``*.parquet`` globs) see the parts only."""
    return path.with_name(f".{path.name}{SEAL}")


def _read_seal(path: Path) -> dict | None:
    try:
        seal = json.loads(_seal_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return seal if isinstance(seal, dict) else None


def describe_diff(old: Mapping, new: Mapping, theirs: str = "this run", width: int = 80) -> str:
    """One line per top-level key whose value differs: ``key: folder has X, <theirs> has Y``."""
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return "\n".join(f"  {k}: folder has {json.dumps(old.get(k))[:width]}, {theirs} has "
                     f"{json.dumps(new.get(k))[:width]}" for k in keys)


class Store:
    """A resumable chunk store in folder ``root`` (see the module docstring)."""

    def __init__(self, root: str | Path, fmt: str, parts: Sequence[Parts] = (), *,
                 files: Iterable[str] = (), key: str | None = None, what: str = "output",
                 theirs: str = "this run", hint: str = "",
                 error: type[Exception] = StoreError) -> None:
        self.root = Path(root)
        self.fmt = fmt
        self.parts = tuple(parts)
        self.files = tuple(files)
        self.key = key
        self.what = what
        self.theirs = theirs
        self.hint = hint
        self.error = error
        #: the identity's fingerprint, known once the store is opened or its manifest read
        self.fingerprint: str | None = None
        #: parts present but not counted by ``done`` calls: path under ``root`` -> why
        self.rejected: dict[str, str] = {}
        self._lock: tuple[weakref.finalize, bool] | None = None

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def owned(self) -> set[str]:
        """Names directly under ``root`` that belong to the store."""
        return {MANIFEST, *self.files, *(p.folder for p in self.parts)}

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def _identity(self, man: Mapping, key: str | None) -> Any:
        return man.get(key) if key is not None else man

    def read_manifest(self) -> dict:
        """The folder's manifest; ``error`` when the folder is not a store of format ``fmt``."""
        if not self.root.is_dir():
            raise self.error(f"{self.root}: no such folder (expected a {self.what} folder)")
        if not self.manifest_path.exists():
            raise self.error(f"{self.root}: not a {self.what} folder (no {MANIFEST}){self.hint}")
        from model.io import access

        try:   # a regular file of bounded size, else a message (a FIFO never blocks the read)
            man = json.loads(access.read_text(self.manifest_path, access.MANIFEST))
        except (OSError, ValueError) as exc:
            raise self.error(f"{self.manifest_path}: unreadable manifest ({exc}); use --fresh "
                             f"to start over in this folder, or another --out") from None
        if not isinstance(man, dict) or man.get("format") != self.fmt:
            raise self.error(f"{self.manifest_path}: not a {self.what} manifest of format "
                             f"{self.fmt}")
        self.fingerprint = fingerprint(self._identity(man, self.key))
        return man

    # --- the writer lock ----------------------------------------------------------------------

    def lock(self) -> Store:
        """Take the folder's writer lock, creating the folder; ``error`` at once when another
        process (or another ``Store`` of this folder) holds it. Held until ``unlock``."""
        if self._lock is not None or fcntl is None:
            return self
        if self.root.exists() and not self.root.is_dir():
            raise self.error(f"{self.root}: exists and is not a folder")
        created = not self.root.exists()
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / LOCK
        for _attempt in range(20):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                os.close(fd)
                raise self.error(
                    f"{self.root}: another {self.what} is writing this folder"
                    f"{f' (process {holder})' if holder.isdigit() else ''}; wait for it to "
                    f"finish, or give another --out") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:        # not a lock file that its holder removed as this one opened it
                break
            os.close(fd)
        else:  # pragma: no cover - twenty holders in a row released as this one opened
            raise self.error(f"{self.root}: cannot take the writer lock; try again")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock = (weakref.finalize(self, os.close, fd), created)
        return self

    def unlock(self) -> None:
        """Release the writer lock (removing the lock file, and the folder when ``lock`` made it
        and nothing else was written)."""
        if self._lock is None:
            return
        close, created = self._lock
        self._lock = None
        with contextlib.suppress(OSError):
            (self.root / LOCK).unlink()      # while still held: see ``lock``
        close()
        if created:
            with contextlib.suppress(OSError):
                self.root.rmdir()            # only when empty

    def __enter__(self) -> Store:
        return self.lock()

    def __exit__(self, *exc: object) -> None:
        self.unlock()

    # --- the folder ---------------------------------------------------------------------------

    def _refuse_unowned(self, parts_too: bool = True) -> None:
        """Refuse a folder without a manifest that holds foreign files (or, ``parts_too``,
        part files)."""
        others = sorted(p.name for p in self.root.iterdir()
                        if p.name not in self.owned() and not p.name.startswith("."))
        if others:
            raise self.error(
                f"{self.root}: the folder exists and is not a {self.what} folder (it holds "
                f"{', '.join(others[:5])}); give a new or empty folder")
        stray = [f for parts in self.parts for f in parts.files(self.root)]
        if stray and parts_too:
            raise self.error(
                f"{self.root}: the folder holds {len(stray)} {self.what} part file(s) but no "
                f"{MANIFEST}: the manifest was deleted, or the parts are another "
                f"{self.what}'s, so they cannot be trusted. Use --fresh to start over in this "
                f"folder, or another --out.")

    def check(self, identity: Any, key: str | None = None, *, fresh: bool = False
              ) -> dict | None:
        """Refuse a folder this store may not use; the old manifest when it can be resumed.

        ``fresh``: the folder will be cleared, so only refuse what is not this store's (a file,
        foreign files, another format) and return None."""
        key = key if key is not None else self.key
        if self.root.exists() and not self.root.is_dir():
            raise self.error(f"{self.root}: exists and is not a folder")
        if not self.root.exists():
            return None
        if not self.manifest_path.exists():
            self._refuse_unowned(parts_too=not fresh)   # --fresh clears the parts
            return None
        man = self.read_manifest()
        if fresh:
            return None
        old = self._identity(man, key)
        if _canonical(old) != _canonical(identity):
            diff = describe_diff(old if isinstance(old, Mapping) else {key: old},
                                 identity if isinstance(identity, Mapping) else {key: identity},
                                 self.theirs)
            raise self.error(
                f"{self.root}: the folder holds a different {self.what}; it can only be resumed "
                f"with the same inputs. Differences:\n{diff}\nUse --fresh to start over in this "
                f"folder, or another --out.")
        return man

    def clear(self) -> None:
        """Remove the store's own files: manifest, part files and seals (of every family),
        owned files."""
        for parts in self.parts:
            for f in parts.files(self.root):
                f.unlink(missing_ok=True)
        for name in self.files:
            p = self.root / name
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)
        self.manifest_path.unlink(missing_ok=True)
        self.clean_temp()

    def open(self, manifest: Mapping, key: str | None = None, *, fresh: bool = False) -> dict:
        """Make the folder ready: check it, take the writer lock, check again under it
        (``fresh``: a store of this format is cleared instead of compared), remove temporary
        leftovers and write the manifest when new. Returns the manifest in force."""
        key = key if key is not None else self.key
        manifest = {"format": self.fmt, **manifest}
        identity = self._identity(manifest, key)
        self.check(identity, key, fresh=fresh)   # refuse before creating anything
        self.lock()
        old = self.check(identity, key, fresh=fresh)   # never clears a folder of another kind
        if fresh:
            self.clear()
        self.clean_temp()
        self.fingerprint = fingerprint(identity)
        if old is not None:
            return old
        atomic.write_text(self.manifest_path, json.dumps(manifest, indent=1) + "\n")
        return manifest

    def clean_temp(self) -> int:
        """Remove temporary files of killed writers (root and part folders); how many."""
        return atomic.clean_temp(self.root, *(self.root / p.folder for p in self.parts))

    # --- parts --------------------------------------------------------------------------------

    def path(self, parts: Parts, key: Key) -> Path:
        return self.root / parts.folder / parts.name(key)

    def _seal(self, path: Path) -> Path:
        """Write the seal of a part just written: fingerprint, sha256 and size."""
        if self.fingerprint is None:
            raise RuntimeError("open the store before writing parts")
        seal = {"fingerprint": self.fingerprint, "sha256": file_digest(path),
                "bytes": path.stat().st_size}
        atomic.write_text(_seal_path(path), json.dumps(seal) + "\n")
        return path

    def write_table(self, parts: Parts, key: Key, table) -> Path:
        """Write a ``pyarrow.Table`` part (Parquet, zstd) atomically and durably, and seal it."""
        return self._seal(atomic.write_parquet(self.path(parts, key), table))

    def read_table(self, parts: Parts, key: Key, columns: Sequence[str] | None = None):
        import pyarrow.parquet as pq

        return pq.read_table(self.path(parts, key),
                             columns=list(columns) if columns is not None else None)

    def write_arrays(self, parts: Parts, key: Key, arrays: Mapping[str, Any]) -> Path:
        """Write named numpy arrays as an ``.npz`` part atomically and durably, and seal it."""
        return self._seal(atomic.write_npz(self.path(parts, key), arrays))

    def read_arrays(self, parts: Parts, key: Key) -> dict:
        import numpy as np

        with np.load(self.path(parts, key)) as z:
            return {k: z[k] for k in z.files}

    def _rows(self, parts: Parts, key: Key, p: Path) -> int:
        if p.suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_metadata(p).num_rows
        arrays = self.read_arrays(parts, key)
        return len(next(iter(arrays.values()))) if arrays else 0

    def verify(self, parts: Parts, key: Key, rows: int | None = None) -> str | None:
        """None when the part is complete and this store's; otherwise why it does not count:
        missing, unsealed, sealed for another computation, bytes changed, or unreadable / of
        another row count (``rows``: the Parquet row count, or the length of an ``.npz``
        part's first array)."""
        p = self.path(parts, key)
        if not p.is_file():
            return "missing"
        seal = _read_seal(p)
        if seal is None:
            return "no seal (checksum) beside it"
        if self.fingerprint is None:
            self.read_manifest()
        if seal.get("fingerprint") != self.fingerprint:
            return f"sealed for another {self.what} (fingerprint differs)"
        try:
            if seal.get("bytes") != p.stat().st_size or seal.get("sha256") != file_digest(p):
                return "its bytes differ from its checksum (damaged or replaced)"
            n = self._rows(parts, key, p)
        except Exception:  # noqa: BLE001 - any unreadable part is simply not done
            return "unreadable"
        return None if rows is None or n == rows else f"{n} rows, expected {rows}"

    def part_ok(self, parts: Parts, key: Key, rows: int | None = None) -> bool:
        """Whether the part is complete and this store's (``verify`` finds nothing wrong)."""
        return self.verify(parts, key, rows) is None

    def done(self, parts: Parts, rows: Mapping[Key, int | None]) -> set:
        """The keys of ``rows`` whose parts are complete; ``rejected`` gets the others that are
        present, with the reason."""
        out = set()
        for k, n in rows.items():
            why = self.verify(parts, k, n)
            if why is None:
                out.add(k)
            elif why != "missing":
                self.rejected[f"{parts.folder}/{parts.name(k)}"] = why
        return out
