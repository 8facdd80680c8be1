"""The calibration's settings: the algorithm's knobs (``algorithm`` in
``model/data/calibration.yaml``, overridable from the command line) and their checks.

Two methods share them (``method``): ``smc``, ABC-SMC with importance weights
(``model.calibration.smc``; keys ``generations``, ``accept``, ``moves``, ``smc_replicates``,
``smc_scale``), and ``hm``, history-matching waves then ABC rejection (``model.calibration.fit``;
keys ``replicates`` .. ``posterior``), kept for the equal-budget comparison. Both start from the
prior alone: there is no start point."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from model.calibration import targets as TG
from model.engine.paramsets import PosteriorError
from model.inputs.scenario import month_index

METHODS = ("smc", "hm")
#: ABC-SMC: the fewest particles a tolerance may keep alive (their covariance sets the moves).
MIN_ALIVE = 16


class CalibrationError(PosteriorError):
    """A calibration that cannot be started or resumed; the message says why."""


@dataclass(frozen=True)
class Settings:
    """The algorithm's settings (defaults: ``algorithm`` in calibration.yaml)."""

    seed: int = 0
    budget: int = 420_000
    until: str | None = None
    method: str = "smc"
    generations: int = 6
    accept: float = 0.3
    moves: int = 3
    smc_replicates: int = 4
    smc_posterior: int = 1000
    smc_scale: float = 1.0
    replicates: int = 8
    waves: int = 16
    cutoff: float = 3.0
    order: int = 2
    min_keep: float = 0.10
    kernel_scale: float = 0.5
    subspace: float = 1.0
    common_numbers: bool = False
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
        if self.method not in METHODS:
            raise CalibrationError(f"method must be one of {', '.join(METHODS)}, got "
                                   f"{self.method!r}")
        self._check_sizes()
        if self.method == "smc":
            self._check_smc()
        else:
            self._check_search()
        if self.until is not None:
            try:
                month_index("2000-01", self.until)
            except Exception as exc:
                raise CalibrationError(f"--until: expected YYYY-MM, got {self.until!r}") from exc
        if self.method == "hm" and self.points_per_wave < 16:
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

    def _check_smc(self) -> None:
        if self.generations < 1 or not 0 < self.accept < 1 or self.moves < 1:
            raise CalibrationError("need generations >= 1, moves >= 1 and 0 < accept < 1")
        if self.smc_replicates < 1 or self.smc_scale <= 0 or self.smc_posterior < 1:
            raise CalibrationError("need smc_replicates >= 1, smc_scale > 0 and "
                                   "smc_posterior >= 1")
        if self.chunk % self.smc_replicates:
            raise CalibrationError(f"chunk ({self.chunk}) must be a multiple of "
                                   f"smc_replicates ({self.smc_replicates})")
        if self.population < MIN_ALIVE:
            need = math.ceil(MIN_ALIVE / self.accept) * self.batches * self.smc_replicates
            raise CalibrationError(
                f"--budget {self.budget} is too small: {self.batches} batches of "
                f"{self.per_generation} particles x {self.smc_replicates} runs keep "
                f"{self.population} alive each (accept {self.accept}); need at least "
                f"{MIN_ALIVE}, i.e. a budget of {need}")

    @property
    def proposal_has_density(self) -> bool:
        """Whether the waves' proposal is the prior and Gaussian mixtures (``log_proposal``),
        so that importance weights prior / proposal can be formed."""
        return self.subspace == 1.0

    @property
    def batches(self) -> int:
        """ABC-SMC: batches of points run: the prior's, then ``moves`` per later generation."""
        return 1 + (self.generations - 1) * self.moves

    @property
    def per_generation(self) -> int:
        """ABC-SMC: particles N (each batch runs N points ``smc_replicates`` times)."""
        return self.budget // (self.batches * self.smc_replicates)

    @property
    def population(self) -> int:
        """ABC-SMC: particles kept alive by each generation's tolerance (the ``accept``
        share)."""
        return int(self.accept * self.per_generation)

    @property
    def final_runs(self) -> int:
        return self.candidates * self.final_replicates

    @property
    def points_per_wave(self) -> int:
        return max(0, (self.budget - self.final_runs) // (self.waves * self.replicates))

    @property
    def total_runs(self) -> int:
        if self.method == "smc":
            return self.batches * self.per_generation * self.smc_replicates
        return self.waves * self.points_per_wave * self.replicates + self.final_runs

