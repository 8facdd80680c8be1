"""The working folder of one calibration, a resumable chunk store (``model.io.store``):

- ``manifest.json``: what is calibrated, with which settings and code (format ``FORMAT``);
- ``designs/wave-WW.npz``: each wave's (ABC-SMC: generation's) points (and parents, their
  weights, covariance), saved before its runs;
- ``parts/wWW-cCCCCC.npz``: per chunk of runs, the per-point means and variances of the targets
  (wave ``FINAL_WAVE`` of ``model.calibration.fit``: the re-runs of history matching).

Everything ``model.io.store`` guarantees holds here: the folder is locked while a calibration
writes it (a second one is refused), files are written atomically and every part and design is
sealed with the calibration's fingerprint and a checksum, so an interruption at any moment
(Ctrl-C, SIGTERM, SIGKILL) leaves only whole files and temporaries that ``open`` removes. A part
or design counts as done only when its seal matches and it reads back whole with the expected
shape; one that does not (truncated, garbage, copied from another calibration) is computed
again, with a note naming it (``rejected``), never mixed in; a resumed calibration computes only
the missing parts. A folder holding another calibration (other seed, budget, period, settings or
code) is refused, naming the differing entries. What cannot be recomputed is refused with a
message naming the file and what to do (``--fresh``, or another ``--out``): a manifest that is not
JSON or not a JSON object, a manifest or part folder that is not what it should be (a folder
where a file belongs, a file where a folder belongs).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from model.calibration.settings import CalibrationError
from model.io.store import MANIFEST, Parts
from model.io.store import Store as ChunkStore

FORMAT = "afpak-calibration/1"
PARTS = Parts("parts", "w{:02d}-c{:05d}.npz")
DESIGNS = Parts("designs", "wave-{:02d}.npz")
#: The result files a finished calibration writes beside its store (``calibration.posterior``).
RESULTS = ("posterior.csv", "provenance.csv", "identification.csv")
WHAT_TO_DO = "use --fresh to start over in this folder, or another --out"


def _manifest_problem(path: Path) -> str | None:
    """Why the manifest at ``path`` cannot be read as a JSON object (None: it can, or there is
    none)."""
    if not path.exists() and not path.is_symlink():
        return None
    if not path.is_file():
        return "not a regular file"
    try:
        man = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return "not text (binary bytes)"
    except ValueError as exc:
        return f"not JSON ({exc})"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return None if isinstance(man, dict) else f"not a JSON object (a {type(man).__name__})"


class Store:
    """The working folder of one calibration: manifest, wave designs and part files."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.chunks = ChunkStore(self.out, FORMAT, (PARTS, DESIGNS), files=RESULTS,
                                 what="calibration", theirs="this calibration",
                                 error=CalibrationError)
        #: parts and designs present but computed again, with the reason (file -> why)
        self.rejected: dict[Path, str] = {}

    def _check_layout(self, fresh: bool) -> None:
        """Refuse what recomputing cannot repair: a manifest that is not a JSON object (unless
        ``fresh``: then it goes), a part folder that is a file, a part name that is a folder."""
        path = self.out / MANIFEST
        why = _manifest_problem(path)
        if why is not None and (not fresh or not path.is_file()):
            raise CalibrationError(f"{path}: the calibration's manifest is {why}; {WHAT_TO_DO}"
                                   if path.is_file() else
                                   f"{path}: {why}; remove it, or give another --out")
        if why is not None:
            path.unlink()                   # --fresh on a corrupt manifest: under the lock
        for fam in (PARTS, DESIGNS):
            folder = self.out / fam.folder
            if folder.exists() and not folder.is_dir():
                raise CalibrationError(f"{folder}: should be the calibration's folder of "
                                       f"{fam.folder}, but it is a file; {WHAT_TO_DO}")
            for key in fam.keys(self.out):
                p = self.chunks.path(fam, key)
                if not p.is_file():
                    raise CalibrationError(f"{p}: not a regular file where a calibration part "
                                           f"belongs; remove it, or give another --out")

    def open(self, manifest: dict, resume: bool, fresh: bool = False) -> None:
        """Start (or, with ``resume``, continue) the calibration described by ``manifest``;
        ``fresh`` discards a previous one. Refuses to resume a different calibration. Takes the
        folder's writer lock (``close`` releases it)."""
        if self.out.exists() and not self.out.is_dir():
            raise CalibrationError(f"{self.out}: exists and is not a folder; give another --out")
        if _manifest_problem(self.out / MANIFEST) is None and self.chunks.exists() \
                and not fresh and not resume:
            raise CalibrationError(
                f"{self.out} holds a calibration already; pass --resume to continue it or "
                f"choose another --out")
        self.chunks.lock()
        try:
            self._check_layout(fresh)
            self.chunks.open(manifest, fresh=fresh)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the writer lock."""
        self.chunks.unlock()

    def _usable(self, fam: Parts, key, rows: int | None) -> bool:
        why = self.chunks.verify(fam, key, rows)
        if why not in (None, "missing"):
            self.rejected[self.chunks.path(fam, key)] = why
        return why is None

    def has_part(self, wave: int, chunk: int, points: int, targets: int) -> bool:
        """Whether the part of (wave, chunk) is there, sealed, whole, with ``points`` rows of
        ``targets`` means and variances; a damaged one is noted in ``rejected``."""
        if not self._usable(PARTS, (wave, chunk), points):
            return False
        z = self.chunks.read_arrays(PARTS, (wave, chunk))
        if all(k in z and z[k].shape == (points, targets) for k in ("mean", "var")):
            return True
        self.rejected[self.chunks.path(PARTS, (wave, chunk))] = "arrays of another shape"
        return False

    def part_keys(self) -> list[tuple[int, int]]:
        """(wave, chunk) of every part present."""
        return PARTS.keys(self.out)

    def read_part(self, wave: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
        z = self.chunks.read_arrays(PARTS, (wave, chunk))
        return z["mean"], z["var"]

    def write_part(self, wave: int, chunk: int, mean: np.ndarray, var: np.ndarray) -> None:
        self.chunks.write_arrays(PARTS, (wave, chunk), {"mean": mean, "var": var})

    def read_design(self, wave: int, points: int, dim: int) -> dict[str, np.ndarray] | None:
        """Wave ``wave``'s saved design (``u``: ``points`` x ``dim``), or None when it is not
        there or damaged (noted in ``rejected``)."""
        if not self._usable(DESIGNS, wave, None):
            return None
        des = self.chunks.read_arrays(DESIGNS, wave)
        if "u" in des and des["u"].shape == (points, dim):
            return des
        self.rejected[self.chunks.path(DESIGNS, wave)] = "arrays of another shape"
        return None

    def write_design(self, wave: int, **arrays: np.ndarray) -> None:
        self.chunks.write_arrays(DESIGNS, wave, arrays)
