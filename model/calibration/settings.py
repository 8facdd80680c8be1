"""The calibration's settings: the algorithm's knobs (``algorithm`` in
``model/data/calibration.yaml``, overridable from the command line), their checks, and the
optional start point of the search (a ``parameter,value`` CSV)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model.calibration import targets as TG
from model.core import params as P
from model.engine.paramsets import PosteriorError
from model.inputs.scenario import month_index
from model.io.paths import DATA


class CalibrationError(PosteriorError):
    """A calibration that cannot be started or resumed; the message says why."""


@dataclass(frozen=True)
class Settings:
    """The algorithm's settings (defaults: ``algorithm`` in calibration.yaml)."""

    seed: int = 0
    budget: int = 420_000
    until: str | None = None
    replicates: int = 8
    waves: int = 16
    cutoff: float = 3.0
    order: int = 2
    min_keep: float = 0.10
    kernel_scale: float = 0.5
    subspace: float = 1.0
    common_numbers: bool = False
    start: str | None = None
    start_share: float = 0.0
    start_scale: float = 0.05
    candidates: int = 400
    final_replicates: int = 32
    posterior: int = 250
    chunk: int = 2048

    @classmethod
    def from_config(cls, cfg: Mapping | None = None, **overrides) -> Settings:
        alg = dict((cfg if cfg is not None else TG.config()).get("algorithm", {}))
        alg.update({k: v for k, v in overrides.items() if v is not None})
        known = set(cls.__dataclass_fields__)
        bad = set(alg) - known
        if bad:
            raise CalibrationError(f"calibration.yaml algorithm: unknown settings {sorted(bad)}")
        s = cls(**alg)
        s.check()
        return s

    def check(self) -> None:
        """Refuse settings the algorithm cannot run with (CalibrationError saying which)."""
        self._check_sizes()
        self._check_search()
        if self.until is not None:
            try:
                month_index("2000-01", self.until)
            except Exception as exc:
                raise CalibrationError(f"--until: expected YYYY-MM, got {self.until!r}") from exc
        if self.points_per_wave < 16:
            raise CalibrationError(
                f"--budget {self.budget} is too small: the re-runs need "
                f"{self.candidates * self.final_replicates} runs and each of {self.waves} waves "
                f"at least {16 * self.replicates}")

    def _check_sizes(self) -> None:
        if self.seed < 0:
            raise CalibrationError(f"--seed must be >= 0, got {self.seed}")
        if self.replicates < 2 or self.final_replicates < 2:
            raise CalibrationError("replicates and final_replicates must be >= 2")
        if self.posterior > self.candidates:
            raise CalibrationError(
                f"posterior ({self.posterior}) cannot exceed candidates ({self.candidates})")
        if self.chunk % self.replicates or self.chunk % self.final_replicates:
            raise CalibrationError(
                f"chunk ({self.chunk}) must be a multiple of replicates ({self.replicates}) and "
                f"final_replicates ({self.final_replicates})")

    def _check_search(self) -> None:
        if self.waves < 1 or self.order < 1 or not 0 < self.min_keep <= 1:
            raise CalibrationError("need waves >= 1, order >= 1 and 0 < min_keep <= 1")
        if not 0 < self.subspace <= 1:
            raise CalibrationError(f"subspace must be in (0, 1], got {self.subspace}")
        if not 0 <= self.start_share < 1 or self.start_scale <= 0:
            raise CalibrationError("need 0 <= start_share < 1 and start_scale > 0")
        if self.start_share > 0 and not self.start:
            raise CalibrationError("start_share > 0 needs a start: file of parameter values")

    @property
    def proposal_has_density(self) -> bool:
        """Whether the waves' proposal is the prior and Gaussian mixtures (``log_proposal``),
        so that importance weights prior / proposal can be formed."""
        return self.subspace == 1.0 and self.start_share == 0.0

    @property
    def final_runs(self) -> int:
        return self.candidates * self.final_replicates

    @property
    def points_per_wave(self) -> int:
        return max(0, (self.budget - self.final_runs) // (self.waves * self.replicates))

    @property
    def total_runs(self) -> int:
        return self.waves * self.points_per_wave * self.replicates + self.final_runs


def load_start(name: str | Path) -> dict[str, float]:
    """The calibration's starting point: a CSV of ``parameter,value`` rows ('#' comments), in
    ``model/data`` unless a path is given. Every name and value is checked against the table."""
    path = Path(name) if Path(name).is_absolute() or Path(name).exists() else DATA / name
    try:
        df = pd.read_csv(path, comment="#")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise CalibrationError(f"{path}: cannot read the start point: {exc}") from exc
    if list(df.columns) != ["parameter", "value"]:
        raise CalibrationError(f"{path}: expected the columns parameter,value; "
                               f"got {','.join(map(str, df.columns))}")
    out: dict[str, float] = {}
    for i, (name_, value) in enumerate(zip(df["parameter"], df["value"], strict=True)):
        where = f"{path}: row {i + 1}"
        if name_ in out:
            raise CalibrationError(f"{where}: {name_!r} is given twice")
        try:
            out[str(name_)] = P.check(str(name_), value, where)
        except P.ParameterError as exc:
            raise CalibrationError(str(exc)) from exc
    return out
