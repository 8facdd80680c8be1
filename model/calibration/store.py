"""The working folder of one calibration, a resumable chunk store (``model.io.store``):

- ``manifest.json``: what is calibrated, with which settings and code (format ``FORMAT``);
- ``designs/wave-WW.npz``: each wave's points (and parents, covariance), saved before its runs;
- ``parts/wWW-cCCCCC.npz``: per chunk of runs, the per-point means and variances of the targets
  (wave ``FINAL_WAVE`` of ``model.calibration.fit``: the re-runs).

Files are written atomically (``model.io.atomic``), so an interruption at any moment (Ctrl-C,
SIGKILL) leaves only whole files and temporaries that ``open`` removes; a part counts as done
only when it reads back whole, and a resumed calibration computes only the missing parts. A
folder holding another calibration (other seed, budget, period, settings or code) is refused,
naming the differing entries.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.calibration.settings import CalibrationError
from model.io.store import Parts
from model.io.store import Store as ChunkStore

FORMAT = "afpak-calibration/1"
PARTS = Parts("parts", "w{:02d}-c{:05d}.npz")
DESIGNS = Parts("designs", "wave-{:02d}.npz")


class Store:
    """The working folder of one calibration: manifest, wave designs and part files."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.chunks = ChunkStore(self.out, FORMAT, (PARTS, DESIGNS), what="calibration",
                                 theirs="this calibration", error=CalibrationError)

    def open(self, manifest: dict, resume: bool, fresh: bool = False) -> None:
        """Start (or, with ``resume``, continue) the calibration described by ``manifest``;
        ``fresh`` discards a previous one. Refuses to resume a different calibration."""
        if self.chunks.exists() and not fresh and not resume:
            raise CalibrationError(
                f"{self.out} holds a calibration already; pass --resume to continue it or "
                f"choose another --out")
        self.chunks.open(manifest, fresh=fresh)

    def has_part(self, wave: int, chunk: int, points: int) -> bool:
        """Whether the part of (wave, chunk) is there, whole, with ``points`` rows."""
        return self.chunks.part_ok(PARTS, (wave, chunk), points)

    def part_keys(self) -> list[tuple[int, int]]:
        """(wave, chunk) of every part present."""
        return PARTS.keys(self.out)

    def read_part(self, wave: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
        z = self.chunks.read_arrays(PARTS, (wave, chunk))
        return z["mean"], z["var"]

    def write_part(self, wave: int, chunk: int, mean: np.ndarray, var: np.ndarray) -> None:
        self.chunks.write_arrays(PARTS, (wave, chunk), {"mean": mean, "var": var})

    def read_design(self, wave: int) -> dict[str, np.ndarray] | None:
        if not self.chunks.part_ok(DESIGNS, wave):
            return None
        return self.chunks.read_arrays(DESIGNS, wave)

    def write_design(self, wave: int, **arrays: np.ndarray) -> None:
        self.chunks.write_arrays(DESIGNS, wave, arrays)
