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
- **Parts are written atomically** (``model.io.atomic``): a part file either exists whole or not
  at all. A part counts as done only when it can be read back with the expected number of rows
  (``part_ok``), so a file damaged outside the store is recomputed, not trusted.
- **A folder is never mixed up.** ``check`` refuses a path that is a file, a folder holding
  files the store does not own, a manifest of another format, or a manifest whose identity (the
  entry that determines the numbers) differs from the caller's, naming each differing key with
  both values; ``fresh=True`` in ``open`` clears the store's own files first (never foreign ones).
- **Leftovers are swept up**: ``open`` removes the temporary files that a killed writer left.

API:

- ``chunk_bounds(total: int, size: int) -> list[tuple[int, int]]``
- ``class StoreError(ModelInputError)``
- ``Parts(folder: str, pattern: str)``: a family of numbered parts, e.g.
  ``Parts("parts", "part-{:06d}.parquet")`` or ``Parts("parts", "w{:02d}-c{:05d}.npz")``
  (a key is an int or a tuple of ints, formatted into ``pattern``); ``.name(key)``,
  ``.keys(root)`` (the keys of the part files present, parsed back from their names).
- ``Store(root, fmt, parts=(), *, files=(), what="output", theirs="this run", hint="",
  error=StoreError)``: ``what`` and ``theirs`` name the computation in messages ("sweep",
  "this spec"), ``hint`` ends the "not a ... folder" message, ``error`` is the exception raised;

  - ``exists() -> bool``: a manifest is there;
  - ``read_manifest() -> dict``: the manifest, checked to be of format ``fmt``;
  - ``check(identity, key=None, *, fresh=False) -> dict | None``: the refusals above; the old
    manifest when the folder holds the same computation, None when the folder is new or empty
    (or ``fresh``). ``key`` names the manifest entry compared with ``identity`` (the whole
    manifest when None); values are compared as JSON;
  - ``open(manifest, key=None, *, fresh=False) -> dict``: ``check`` (or clear, with ``fresh``),
    create the folder, remove temporary leftovers, write the manifest if new; returns the
    manifest in force (the folder's own when resuming). A part folder is created with its first
    part;
  - ``clear()``: remove the manifest, every part file and the owned ``files``;
  - ``path(parts, key) -> Path``;
  - ``write_table(parts, key, table)``, ``write_arrays(parts, key, arrays)``,
    ``read_arrays(parts, key) -> dict``, ``read_table(parts, key, columns=None)``;
  - ``part_ok(parts, key, rows=None) -> bool``; ``done(parts, rows: Mapping[key, int | None])
    -> set`` of the keys whose parts are complete;
  - ``clean_temp() -> int``.
"""

from __future__ import annotations

import json
import re
import shutil
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.io import atomic
from model.io.errors import ModelInputError

MANIFEST = "manifest.json"

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

    def _regex(self) -> re.Pattern:
        out = []
        for literal, field_name, _spec, _conv in string.Formatter().parse(self.pattern):
            out.append(re.escape(literal))
            if field_name is not None:
                out.append(r"(\d+)")
        return re.compile("".join(out) + r"\Z")

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


def describe_diff(old: Mapping, new: Mapping, theirs: str = "this run", width: int = 80) -> str:
    """One line per top-level key whose value differs: ``key: folder has X, <theirs> has Y``."""
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return "\n".join(f"  {k}: folder has {json.dumps(old.get(k))[:width]}, {theirs} has "
                     f"{json.dumps(new.get(k))[:width]}" for k in keys)


class Store:
    """A resumable chunk store in folder ``root`` (see the module docstring)."""

    def __init__(self, root: str | Path, fmt: str, parts: Sequence[Parts] = (), *,
                 files: Iterable[str] = (), what: str = "output", theirs: str = "this run",
                 hint: str = "", error: type[Exception] = StoreError) -> None:
        self.root = Path(root)
        self.fmt = fmt
        self.parts = tuple(parts)
        self.files = tuple(files)
        self.what = what
        self.theirs = theirs
        self.hint = hint
        self.error = error

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def owned(self) -> set[str]:
        """Names directly under ``root`` that belong to the store."""
        return {MANIFEST, *self.files, *(p.folder for p in self.parts)}

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def read_manifest(self) -> dict:
        """The folder's manifest; ``error`` when the folder is not a store of format ``fmt``."""
        if not self.root.is_dir():
            raise self.error(f"{self.root}: no such folder (expected a {self.what} folder)")
        if not self.manifest_path.is_file():
            raise self.error(f"{self.root}: not a {self.what} folder (no {MANIFEST}){self.hint}")
        try:
            man = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise self.error(f"{self.manifest_path}: unreadable manifest ({exc})") from None
        if not isinstance(man, dict) or man.get("format") != self.fmt:
            raise self.error(f"{self.manifest_path}: not a {self.what} manifest of format "
                             f"{self.fmt}")
        return man

    def check(self, identity: Any, key: str | None = None, *, fresh: bool = False
              ) -> dict | None:
        """Refuse a folder this store may not use; the old manifest when it can be resumed.

        ``fresh``: the folder will be cleared, so only refuse what is not this store's (a file,
        foreign files, another format) and return None."""
        if self.root.exists() and not self.root.is_dir():
            raise self.error(f"{self.root}: exists and is not a folder")
        if not self.root.exists():
            return None
        if not self.manifest_path.exists():
            others = sorted(p.name for p in self.root.iterdir()
                            if p.name not in self.owned() and not p.name.startswith("."))
            if others:
                raise self.error(
                    f"{self.root}: the folder exists and is not a {self.what} folder (it holds "
                    f"{', '.join(others[:5])}); give a new or empty folder")
            return None
        man = self.read_manifest()
        if fresh:
            return None
        old = man.get(key) if key is not None else man
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
        """Remove the store's own files: manifest, part files (of every family), owned files."""
        for parts in self.parts:
            for k in parts.keys(self.root):
                self.path(parts, k).unlink(missing_ok=True)
        for name in self.files:
            p = self.root / name
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)
        self.manifest_path.unlink(missing_ok=True)
        self.clean_temp()

    def open(self, manifest: Mapping, key: str | None = None, *, fresh: bool = False) -> dict:
        """Make the folder ready: check it (``fresh``: a store of this format is cleared
        instead of compared), create it, remove temporary leftovers and write the manifest when
        new. Returns the manifest in force."""
        manifest = {"format": self.fmt, **manifest}
        identity = manifest.get(key) if key is not None else manifest
        old = self.check(identity, key, fresh=fresh)     # never clears a folder of another kind
        if fresh and self.exists():
            self.clear()
        self.root.mkdir(parents=True, exist_ok=True)   # part folders: on their first part
        self.clean_temp()
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

    def write_table(self, parts: Parts, key: Key, table) -> Path:
        """Write a ``pyarrow.Table`` part (Parquet, zstd) atomically and durably."""
        return atomic.write_parquet(self.path(parts, key), table)

    def read_table(self, parts: Parts, key: Key, columns: Sequence[str] | None = None):
        import pyarrow.parquet as pq

        return pq.read_table(self.path(parts, key),
                             columns=list(columns) if columns is not None else None)

    def write_arrays(self, parts: Parts, key: Key, arrays: Mapping[str, Any]) -> Path:
        """Write named numpy arrays as an ``.npz`` part atomically and durably."""
        return atomic.write_npz(self.path(parts, key), arrays)

    def read_arrays(self, parts: Parts, key: Key) -> dict:
        import numpy as np

        with np.load(self.path(parts, key)) as z:
            return {k: z[k] for k in z.files}

    def part_ok(self, parts: Parts, key: Key, rows: int | None = None) -> bool:
        """Whether the part exists and reads back whole (with ``rows`` rows when given: the
        Parquet row count, or the length of an ``.npz`` part's first array)."""
        p = self.path(parts, key)
        if not p.is_file():
            return False
        try:
            if p.suffix == ".parquet":
                import pyarrow.parquet as pq

                n = pq.read_metadata(p).num_rows
            else:
                arrays = self.read_arrays(parts, key)
                n = len(next(iter(arrays.values()))) if arrays else 0
        except Exception:  # noqa: BLE001 - any unreadable part is simply not done
            return False
        return rows is None or n == rows

    def done(self, parts: Parts, rows: Mapping[Key, int | None]) -> set:
        """The keys of ``rows`` whose parts are complete (``part_ok`` with that row count)."""
        return {k for k, n in rows.items() if self.part_ok(parts, k, n)}
