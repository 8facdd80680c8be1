"""The one file-access policy: how every reader and writer of a *user-given* path treats it.

A path is user-given when a person typed it (a command-line argument, a dashboard field) or when
a file they gave names it (a scenario's ``extends``, a sweep spec's ``scenario``). The model's own
packaged data (``model/data``) is not user-given. The rules:

- **Inputs are regular files of bounded size.** A folder, a named pipe (FIFO), a device such as
  ``/dev/zero`` or a socket is refused *before* it is opened (``os.stat``), the file is opened
  non-blocking (so a FIFO swapped in meanwhile cannot hang the reader) and checked again on the
  open descriptor, and its size is checked against the limit of its ``Kind`` before a byte is
  read. Text must be UTF-8; the message says where it is not.
- **Paths named inside files are confined.** ``find_named`` resolves the name (symbolic links
  included) and accepts it only inside one of the allowed roots; a name that leads outside is
  refused whether or not the file exists (no probing of what exists on the server), and nothing
  of the outside file is read, so no message can quote it. ``extends`` chains are bounded
  (``MAX_EXTENDS_DEPTH``). Rule for scenarios (``scenario_roots``): a parent lies inside
  ``scenarios/`` or inside the folder of the scenario file the user named (its subfolders
  included); an upload has only ``scenarios/``.
- **Outputs are checked before any work** (``check_outputs``): the parent exists or can be
  created, the target is not a folder (or is one, for folder outputs) and not a pipe or device,
  it can be written, no name is too long for the file system, and no output is the same file as
  an input or as another output of the same command.
- **The dashboard reads results only under a configured root** (``RESULTS``, default ``out/``):
  ``list_results`` lists candidates without following symbolic links, ``results_path`` turns a
  listed name back into a path (the same message for a name that is outside, missing or not a
  results folder), and ``check_load_size`` refuses what is too big before loading.
- **Operating-system errors become messages** (``explain_os_error``, ``os_errors``): the
  ``errno`` kind (disk full, permission, read-only, name too long, ...) in words, the file as the
  user named it, and what to do (e.g. "choose another --out").

Messages name a path as the user gave it (never its resolved target, never a server path the
user did not type) and say what was expected. ``AccessError.problem`` is the message without the
path, for readers that add their own location (``file:line:col: extends: <problem>``).

API:

- ``AccessError(shown, problem, line=0)``; ``Kind(what, max_bytes)`` and the kinds ``SCENARIO``,
  ``SWEEP_SPEC``, ``POSTERIOR``, ``MANIFEST``, ``TABLE``, ``PARQUET_PART``, ``CHECKPOINT``;
- inputs: ``check_input(path, kind, *, shown=None) -> os.stat_result``,
  ``open_input(path, kind, *, shown=None)`` (context manager, binary file object),
  ``read_bytes(path, kind, *, shown=None) -> bytes``, ``read_text(path, kind, *, shown=None) ->
  str``, ``decode(raw, kind, shown) -> str`` (for uploaded bytes, size checked too);
- confinement: ``confine(path, roots, *, shown=None, what="the file") -> Path``,
  ``find_named(name, folders, roots, kind, *, what) -> Path | None``,
  ``find_extends(name, base_dir, roots, depth) -> Path | None``,
  ``scenario_roots(top=None, *, folder=None) -> dict[str, Path]``;
- outputs: ``check_output(path, option, *, folder=False) -> Path``,
  ``check_outputs(outputs, inputs=None, *, folders=()) -> None``,
  ``same_file(a, b) -> bool``, ``check_free_space(path, need_bytes, option) -> None``;
- results: ``RESULTS``, ``list_results(root=RESULTS, pattern="manifest.json", *, max_depth=3,
  max_bytes=MAX_RESULTS_BYTES) -> list[Path]``, ``results_path(name, root=RESULTS) -> Path``,
  ``check_load_size(path, max_bytes=MAX_RESULTS_BYTES, *, shown=None) -> int``;
- errors: ``explain_os_error(exc, path, *, option=None, action="write") -> AccessError``,
  ``os_errors(path, *, option=None, action="write")`` (context manager).
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import os
import shutil
import stat
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from model.io.errors import ModelInputError
from model.io.paths import ROOT, SCENARIOS

#: Where the dashboard looks for sweep results (a configured root; nothing outside it is read).
RESULTS = ROOT / "out"
#: Most files an ``extends`` chain may hold (a chain of 1,000 files used to end in RecursionError).
MAX_EXTENDS_DEPTH = 32
#: Most bytes (on disk) the dashboard loads from one results folder.
MAX_RESULTS_BYTES = 200_000_000
#: Most folders ``list_results`` visits (a huge tree is not walked to its end).
MAX_LISTED_FOLDERS = 5_000
#: File-name length when the file system does not say (POSIX NAME_MAX / PATH_MAX).
DEFAULT_NAME_MAX = 255
DEFAULT_PATH_MAX = 4096


class AccessError(ModelInputError):
    """A user-given path that may not or cannot be read or written.

    ``path`` is the path as the user gave it, ``problem`` what is wrong and what to do, ``line``
    the line of a text file where it is (0: none)."""

    def __init__(self, shown: str, problem: str, line: int = 0):
        self.path, self.problem, self.line = shown, problem, line
        super().__init__(f"{shown}{f':{line}' if line else ''}: {problem}")


@dataclass(frozen=True)
class Kind:
    """A kind of input file: what it is called in messages and its size limit in bytes.
    (``dataclasses.replace(kind, max_bytes=...)`` for a reader with its own limit.)"""

    what: str
    max_bytes: int


SCENARIO = Kind("a scenario file (YAML)", 2_000_000)
SWEEP_SPEC = Kind("a sweep spec (YAML)", 2_000_000)
POSTERIOR = Kind("a posterior sample (CSV)", 100_000_000)
MANIFEST = Kind("a manifest (JSON)", 10_000_000)
TABLE = Kind("a table (CSV)", 200_000_000)
PARQUET_PART = Kind("a Parquet part", 2_000_000_000)
CHECKPOINT = Kind("a checkpoint (NPZ)", 2_000_000_000)


def _shown(path: str | os.PathLike, shown: str | None) -> str:
    return shown if shown is not None else os.fspath(path)


def _type_name(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a file" if stat.S_ISREG(mode) else "not a regular file"


# ---------------------------------------------------------------------------------- inputs

def _check_stat(st: os.stat_result, kind: Kind, shown: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise AccessError(shown, f"is {_type_name(st.st_mode)}; expected {kind.what} (a "
                                 f"regular file)")
    if st.st_size > kind.max_bytes:
        raise AccessError(shown, f"is {st.st_size:,} bytes; the limit for {kind.what} is "
                                 f"{kind.max_bytes:,} bytes")


def check_input(path: str | os.PathLike, kind: Kind, *, shown: str | None = None
                ) -> os.stat_result:
    """Refuse, before opening, an input that is missing, not a regular file or too large;
    returns its ``os.stat`` (symbolic links followed)."""
    shown = _shown(path, shown)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise explain_os_error(exc, shown, action="read") from None
    except ValueError:  # a NUL character in the name
        raise AccessError(shown, "is not a valid file name") from None
    _check_stat(st, kind, shown)
    return st


@contextlib.contextmanager
def open_input(path: str | os.PathLike, kind: Kind, *, shown: str | None = None
               ) -> Iterator[BinaryIO]:
    """Open a user-given input for binary reading after ``check_input``; the descriptor is
    opened non-blocking and checked again, so the file read is the file checked."""
    shown = _shown(path, shown)
    check_input(path, kind, shown=shown)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise explain_os_error(exc, shown, action="read") from None
    try:
        _check_stat(os.fstat(fd), kind, shown)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh


def read_bytes(path: str | os.PathLike, kind: Kind, *, shown: str | None = None) -> bytes:
    """The bytes of a user-given input (``open_input``), never more than ``kind.max_bytes``."""
    shown = _shown(path, shown)
    with open_input(path, kind, shown=shown) as fh:
        try:
            data = fh.read(kind.max_bytes + 1)
        except OSError as exc:
            raise explain_os_error(exc, shown, action="read") from None
    if len(data) > kind.max_bytes:  # it grew after the check
        raise AccessError(shown, f"is more than {kind.max_bytes:,} bytes; the limit for "
                                 f"{kind.what} is {kind.max_bytes:,} bytes")
    return data


def decode(raw: bytes, kind: Kind, shown: str) -> str:
    """UTF-8 text of ``raw`` (a leading byte-order mark dropped), size checked: for bytes that
    did not come from a file, such as an upload."""
    if len(raw) > kind.max_bytes:
        raise AccessError(shown, f"is {len(raw):,} bytes; the limit for {kind.what} is "
                                 f"{kind.max_bytes:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise AccessError(shown, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                                 f"{exc.start}); expected {kind.what} saved as UTF-8", line,
                          ) from None
    return text.removeprefix("\ufeff")


def read_text(path: str | os.PathLike, kind: Kind, *, shown: str | None = None) -> str:
    """The UTF-8 text of a user-given input (``read_bytes`` then ``decode``)."""
    shown = _shown(path, shown)
    return decode(read_bytes(path, kind, shown=shown), kind, shown)


# ----------------------------------------------------------------------------- confinement

def _roots_text(roots: Mapping[str, Path]) -> str:
    labels = list(roots)
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


def _resolve(path: Path, shown: str) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a loop of symbolic links, a name too long, ...
        raise AccessError(shown, "cannot be resolved (a loop of symbolic links, or a name "
                                 "too long)") from None
    except ValueError:
        raise AccessError(shown, "is not a valid file name") from None


def _inside(real: Path, roots: Mapping[str, Path]) -> bool:
    for root in roots.values():
        with contextlib.suppress(OSError, RuntimeError, ValueError):
            if real.is_relative_to(Path(root).resolve()):
                return True
    return False


def confine(path: str | os.PathLike, roots: Mapping[str, Path], *, shown: str | None = None,
            what: str = "the file") -> Path:
    """``path`` resolved (symbolic links followed as far as they exist) if it lies inside one of
    ``roots`` (label -> folder); ``AccessError`` otherwise, whether or not it exists.

    The message names ``path`` as given and the roots by their labels, never the resolved
    target."""
    shown = _shown(path, shown)
    p = Path(path)
    real = _resolve(p, shown)
    if _inside(real, roots):
        return real
    lexical = Path(os.path.normpath(os.path.abspath(p)))
    if _inside(lexical, roots):
        raise AccessError(shown, f"{what} is a symbolic link that leads outside "
                                 f"{_roots_text(roots)}; only files inside them are read")
    raise AccessError(shown, f"{what} lies outside {_roots_text(roots)}; only files inside "
                             f"them are read")


def find_named(name: str, folders: Sequence[Path | None], roots: Mapping[str, Path],
               kind: Kind, *, what: str = "the file") -> Path | None:
    """The file a user's file names (``name``, relative to the first of ``folders`` where it
    exists, or absolute), confined to ``roots`` and checked as ``kind``; None if it is in none
    of the folders. The path is returned unresolved (``folder / name``), for messages.

    A candidate outside the roots (by its name, or through a symbolic link) is refused
    (``AccessError`` with ``shown=name``) before its existence is looked at, and the search
    stops there: a link that leads out is never silently replaced by a file further on."""
    for folder in dict.fromkeys(f for f in folders if f is not None):
        cand = Path(folder) / name
        confine(cand, roots, shown=name, what=what)
        if not _missing_target(cand, name):
            check_input(cand, kind, shown=name)
            return cand
    return None


def _missing_target(path: Path, shown: str) -> bool:
    """True when ``path`` does not lead to anything (a dangling link, a name too long)."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return True
    except OSError as exc:
        return exc.errno in (errno.ENAMETOOLONG, errno.ENOTDIR)
    except ValueError:
        raise AccessError(shown, "is not a valid file name") from None
    return False


def scenario_roots(top: str | os.PathLike | None = None, *,
                   folder: str | os.PathLike | None = None) -> dict[str, Path]:
    """Where a scenario's ``extends`` may lead: ``scenarios/``, and the folder of the scenario
    file the user named (``top``), or ``folder`` itself, subfolders included; only
    ``scenarios/`` when neither is given (an upload)."""
    roots = {"scenarios/": SCENARIOS}
    if top is not None:
        roots[f"the folder of {os.fspath(top)}"] = Path(os.path.dirname(os.fspath(top)) or ".")
    elif folder is not None:
        roots[f"the folder {os.fspath(folder)}"] = Path(folder)
    return roots


def find_extends(name: str, base_dir: Path | None, roots: Mapping[str, Path], depth: int
                 ) -> Path | None:
    """The parent a scenario ``extends``: ``name`` beside the extending file (``base_dir``),
    else in ``scenarios/``; confined to ``roots`` (``scenario_roots`` of the file the user
    named); None when not found. ``depth`` is how many files the chain holds already; a chain
    longer than ``MAX_EXTENDS_DEPTH`` is refused."""
    if depth >= MAX_EXTENDS_DEPTH:
        raise AccessError(name, f"the chain of 'extends' is more than {MAX_EXTENDS_DEPTH} "
                                f"files long; extend a scenario nearer the top")
    return find_named(name, (base_dir, SCENARIOS), roots, SCENARIO,
                      what="the scenario it extends")


# --------------------------------------------------------------------------------- outputs

def _existing_ancestor(p: Path) -> tuple[Path, os.stat_result]:
    """The nearest ancestor of ``p`` (as written, else the current folder) that exists."""
    for anc in p.parents:
        try:
            return anc, os.stat(anc)
        except OSError:
            continue
    return Path("."), os.stat(".")


def _limit(folder: Path, name: str, default: int) -> int:
    try:
        value = os.pathconf(folder, name)
    except (OSError, ValueError, AttributeError):
        return default
    return value if value and value > 0 else default


def _check_names(p: Path, anc: Path, shown: str, option: str) -> None:
    name_max = _limit(anc, "PC_NAME_MAX", DEFAULT_NAME_MAX)
    for part in p.parts:
        n = len(os.fsencode(part))
        if part != p.anchor and n > name_max:
            raise AccessError(shown, f"the name {part[:24]}... is {n} bytes; the file system "
                                     f"allows {name_max}; choose a shorter {option}")
    path_max = _limit(anc, "PC_PATH_MAX", DEFAULT_PATH_MAX)
    if len(os.fsencode(os.path.abspath(p))) >= path_max:
        raise AccessError(shown, f"the path is longer than the file system allows "
                                 f"({path_max} bytes); choose a shorter {option}")


def _writable(folder: Path) -> bool:
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        return not os.statvfs(folder).f_flag & os.ST_RDONLY
    except (OSError, AttributeError):
        return True


def _check_existing(p: Path, st: os.stat_result, shown: str, option: str, folder: bool) -> None:
    if folder:
        if not stat.S_ISDIR(st.st_mode):
            raise AccessError(shown, f"is {_type_name(st.st_mode)}, not a folder; {option} "
                                     f"expects a folder")
        ok = _writable(p)
    else:
        if stat.S_ISDIR(st.st_mode):
            raise AccessError(shown, f"is a folder; {option} expects a file name (e.g. "
                                     f"{os.path.join(shown, 'out' + (p.suffix or ''))})")
        if not stat.S_ISREG(st.st_mode):
            raise AccessError(shown, f"is {_type_name(st.st_mode)}; {option} expects a regular "
                                     f"file; choose another {option}")
        ok = os.access(p, os.W_OK) and _writable(p.parent)
    if not ok:
        raise AccessError(shown, f"cannot be written (no permission, or a read-only file "
                                 f"system); choose another {option}")


def check_output(path: str | os.PathLike, option: str, *, folder: bool = False) -> Path:
    """Refuse, before any work, an output path that cannot be written: a name too long, a
    folder (or, with ``folder=True``, a file), a pipe or device, a path under a file, a parent
    that cannot be created or written. Returns ``Path(path)``."""
    shown, p = os.fspath(path), Path(path)
    if "\x00" in shown or not shown.strip():
        raise AccessError(shown or "''", f"is not a valid file name; choose another {option}")
    anc, anc_st = _existing_ancestor(p)
    _check_names(p, anc, shown, option)
    if not stat.S_ISDIR(anc_st.st_mode):
        raise AccessError(shown, f"{anc} is {_type_name(anc_st.st_mode)}, not a folder, so "
                                 f"nothing can be written under it; choose another {option}")
    try:
        st = os.stat(p)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise explain_os_error(exc, shown, option=option) from None
    if st is not None:
        _check_existing(p, st, shown, option, folder)
        return p
    if not _writable(anc):
        raise AccessError(shown, f"cannot be created: the folder {anc} is not writable (no "
                                 f"permission, or a read-only file system); choose another "
                                 f"{option}")
    return p


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file: equal once resolved, or (both existing) the same
    inode, as hard links are."""
    try:
        if Path(a).resolve() == Path(b).resolve():
            return True
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    except (OSError, RuntimeError, ValueError):
        return False


def check_outputs(outputs: Mapping[str, str | os.PathLike | None],
                  inputs: Mapping[str, str | os.PathLike | None] | None = None, *,
                  folders: Collection[str] = ()) -> None:
    """``check_output`` each output (option -> path; None: not given; options in ``folders``
    are folder outputs), then refuse an output that is the same file as an input (name ->
    path, e.g. ``{"the scenario": ...}``) or as another output.

    Raises ``AccessError`` naming the option, e.g. "--out is the same file as the scenario"."""
    outs = {k: v for k, v in outputs.items() if v is not None}
    ins = {k: v for k, v in (inputs or {}).items() if v is not None}
    for option, path in outs.items():
        check_output(path, option, folder=option in folders)
    for option, path in outs.items():
        for name, src in ins.items():
            if same_file(path, src):
                raise AccessError(os.fspath(path), f"{option} is the same file as {name} "
                                                   f"({os.fspath(src)}); writing it would "
                                                   f"destroy it; choose another {option}")
    items = list(outs.items())
    for i, (opt_a, a) in enumerate(items):
        for opt_b, b in items[i + 1:]:
            if same_file(a, b):
                raise AccessError(os.fspath(a), f"{opt_a} and {opt_b} name the same file; "
                                                f"give them different paths")


def check_free_space(path: str | os.PathLike, need_bytes: int, option: str) -> None:
    """Refuse an output when the disk it goes to has less than ``need_bytes`` free."""
    anc, _ = _existing_ancestor(Path(path) / "x")
    try:
        free = shutil.disk_usage(anc).free
    except OSError:
        return
    if free < need_bytes:
        raise AccessError(os.fspath(path), f"needs about {need_bytes / 1e6:,.0f} MB but the "
                                           f"disk has {free / 1e6:,.0f} MB free; free some "
                                           f"space or choose another {option}")


# ---------------------------------------------------------------------------------- results

def _visible(name: str) -> bool:
    return not name.startswith(".")  # hidden files: temporary parts, editors' files


def list_results(root: Path = RESULTS, pattern: str = "manifest.json", *, max_depth: int = 3,
                 max_bytes: int = MAX_RESULTS_BYTES) -> list[Path]:
    """Regular files matching ``pattern`` (``fnmatch``) at most ``max_depth`` folders below
    ``root``, as paths relative to ``root``, sorted; a missing root gives [].

    Symbolic links are neither followed nor listed (so nothing outside ``root`` is reached),
    hidden names are skipped, files over ``max_bytes`` are left out and at most
    ``MAX_LISTED_FOLDERS`` folders are visited."""
    base = Path(root)
    if not base.is_dir():
        return []
    found: list[Path] = []
    visited = 0
    for folder, dirs, files in os.walk(base, followlinks=False):
        visited += 1
        rel = Path(folder).relative_to(base)
        depth = len(rel.parts)
        dirs[:] = sorted(d for d in dirs if _visible(d)) if depth < max_depth else []
        for name in sorted(files):
            if not (_visible(name) and fnmatch.fnmatch(name, pattern)):
                continue
            with contextlib.suppress(OSError):
                st = os.lstat(Path(folder) / name)
                if stat.S_ISREG(st.st_mode) and st.st_size <= max_bytes:
                    found.append(rel / name)
        if visited >= MAX_LISTED_FOLDERS:
            break
    return sorted(found)


def results_path(name: str | os.PathLike, root: Path = RESULTS, *, label: str = "out/"
                 ) -> Path:
    """The results folder ``name`` (relative to ``root``, as ``list_results`` gives it) as a
    path; one message for a name that is absolute, leaves the root, is missing or is not a
    folder, so that the answer reveals nothing about the server's files."""
    shown = os.fspath(name)
    refusal = AccessError(shown, f"is not a results folder under {label}; choose one of the "
                                 f"folders listed")
    rel = Path(shown)
    if not shown.strip() or rel.is_absolute() or ".." in rel.parts or "\x00" in shown:
        raise refusal
    try:
        real = confine(Path(root) / rel, {label: Path(root)}, shown=shown)
        if not real.is_dir() or Path(root, rel).is_symlink():
            raise refusal
    except (AccessError, OSError):
        raise refusal from None
    return real


def _tree_bytes(folder: Path) -> int:
    total = 0
    for sub, _dirs, files in os.walk(folder, followlinks=False):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.lstat(Path(sub) / name)
                if stat.S_ISREG(st.st_mode):
                    total += st.st_size
    return total


def check_load_size(path: str | os.PathLike, max_bytes: int = MAX_RESULTS_BYTES, *,
                    shown: str | None = None) -> int:
    """Bytes on disk of a results file, or of the regular files in a results folder (links not
    followed); ``AccessError`` when over ``max_bytes``, before anything is loaded."""
    shown = _shown(path, shown)
    p = Path(path)
    try:
        st = os.lstat(p)
    except OSError as exc:
        raise explain_os_error(exc, shown, action="read") from None
    if stat.S_ISDIR(st.st_mode):
        total = _tree_bytes(p)
    elif stat.S_ISREG(st.st_mode):
        total = st.st_size
    else:
        raise AccessError(shown, f"is {_type_name(st.st_mode)}; expected a results file or "
                                 f"folder")
    if total > max_bytes:
        raise AccessError(shown, f"holds {total / 1e6:,.0f} MB; the page loads at most "
                                 f"{max_bytes / 1e6:,.0f} MB; analyse it with `python -m "
                                 f"model analyze` instead")
    return total


# ------------------------------------------------------------------------- OS error messages

_WHY: dict[int, tuple[str, str]] = {
    # errno -> (what happened, what to do; {alt} is "choose another --out" or similar)
    errno.ENOSPC: ("the disk is full", "free some space or {alt}"),
    errno.EDQUOT: ("the disk quota is used up", "free some space or {alt}"),
    errno.EFBIG: ("the file is too large for the file system", "{alt}"),
    errno.EACCES: ("permission denied", "{alt}"),
    errno.EPERM: ("operation not permitted", "{alt}"),
    errno.EROFS: ("the file system is read-only", "{alt}"),
    errno.ENAMETOOLONG: ("a name in the path is too long for the file system", "{alt}"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "{alt}"),
    errno.EISDIR: ("it is a folder, not a file", "{alt}"),
    errno.ENOENT: ("no such file or folder", "check the path"),
    errno.EEXIST: ("it already exists", "{alt}"),
    errno.ELOOP: ("too many levels of symbolic links", "{alt}"),
    errno.ENXIO: ("no such device (a socket or an unconnected device?)", "{alt}"),
    errno.EMFILE: ("too many open files", "close other programs and try again"),
    errno.ENFILE: ("too many open files on the system", "try again later"),
    errno.EIO: ("input/output error (a failing disk?)", "{alt}"),
    errno.EBUSY: ("the file is busy", "try again, or {alt}"),
    errno.ETXTBSY: ("the file is busy", "try again, or {alt}"),
}


def explain_os_error(exc: OSError, path: str | os.PathLike, *, option: str | None = None,
                     action: str = "write") -> AccessError:
    """An ``AccessError`` for an ``OSError`` met while reading or writing ``path`` (as the
    user gave it): what happened in words and what to do. The error's own file name (perhaps
    a temporary or resolved server path) is not shown."""
    shown = os.fspath(path)
    alt = f"choose another {option}" if option else "choose another path"
    why, todo = _WHY.get(exc.errno or 0, (exc.strerror or type(exc).__name__, "{alt}"))
    if exc.errno == errno.ENOENT and action == "write":
        todo = "create the folder first, or {alt}"
    return AccessError(shown, f"cannot {action} ({why}); {todo.format(alt=alt)}")


@contextlib.contextmanager
def os_errors(path: str | os.PathLike, *, option: str | None = None, action: str = "write"
              ) -> Iterator[None]:
    """Turn any ``OSError`` raised in the block into ``explain_os_error``'s message
    (``AccessError`` passes through)."""
    try:
        yield
    except AccessError:
        raise
    except OSError as exc:
        raise explain_os_error(exc, path, option=option, action=action) from None
