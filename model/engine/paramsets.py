"""Where parameter sets come from: the parameter table, a posterior sample (the shipped
``model/data/posterior.csv`` or any file of that format), or explicit rows.

The posterior file is written by the calibration (``model.calibration``); the engine reads it
here, so that running the model never needs the calibration code. Run ``i`` of master seed ``S``
takes the set drawn from its own stream ``SeedSequence(S, spawn_key=(i, 1))``: the draw is
independent of batch size, chunking and process count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from model.core import params as P
from model.io.errors import ModelInputError
from model.io.paths import DATA

POSTERIOR_PATH = DATA / "posterior.csv"


class PosteriorError(ModelInputError):
    """A posterior file that cannot be used; the message names the file and the problem."""


def seeded_rng(seed: int, *key: int) -> np.random.Generator:
    """The generator of stream ``key`` under master seed ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


@dataclass(frozen=True)
class Posterior:
    """A posterior sample: ``frame`` (one row per set; free parameters, distance, weight)."""

    frame: pd.DataFrame
    path: Path

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c for c in self.frame.columns if c not in ("distance", "weight"))

    @property
    def weights(self) -> np.ndarray:
        w = self.frame["weight"].to_numpy(dtype=float)
        return w / w.sum()

    def sets(self) -> list[dict[str, float]]:
        vals = self.frame[list(self.names)].to_numpy(dtype=float)
        return [dict(zip(self.names, map(float, row), strict=True)) for row in vals]

    def best(self) -> dict[str, float]:
        """The set of smallest distance."""
        i = int(self.frame["distance"].to_numpy().argmin())
        return self.sets()[i]


@cache
def _load_cached(path: str, mtime: float) -> Posterior:
    df = pd.read_csv(path, comment="#")
    for col in ("distance", "weight"):
        if col not in df.columns:
            raise PosteriorError(f"{path}: no {col!r} column")
    names = [c for c in df.columns if c not in ("distance", "weight")]
    for n in names:
        if n not in P.table():
            raise PosteriorError(
                f"{path}: unknown parameter column {n!r}: the posterior is older than the "
                f"parameter table; re-run `python -m model calibrate`")
        p = P.table()[n]
        v = df[n].to_numpy(dtype=float)
        if np.any(v < p.lo) or np.any(v > p.hi):
            raise PosteriorError(f"{path}: {n} outside the table's bounds [{p.lo}, {p.hi}]")
    if len(df) == 0 or not np.all(df["weight"].to_numpy() >= 0) or df["weight"].sum() <= 0:
        raise PosteriorError(f"{path}: needs at least one row and non-negative weights")
    return Posterior(frame=df, path=Path(path))


def load_posterior(path: str | Path | None = None) -> Posterior:
    """The posterior sample (default: the shipped ``model/data/posterior.csv``)."""
    p = Path(path) if path is not None else POSTERIOR_PATH
    if not p.exists():
        raise PosteriorError(f"{p}: no posterior (run `python -m model calibrate`)")
    return _load_cached(str(p.resolve()), p.stat().st_mtime)


def posterior_exists(path: str | Path | None = None) -> bool:
    return (Path(path) if path is not None else POSTERIOR_PATH).exists()


def draw_index(seed: int, run_ids: Sequence[int], weights: np.ndarray) -> np.ndarray:
    """For each run id, the index of its posterior set: drawn by weight from the run's own
    stream ``SeedSequence(seed, spawn_key=(run, 1))``, so independent of batch size and order."""
    p = np.asarray(weights, dtype=float)
    p = p / p.sum()
    return np.array([seeded_rng(int(seed), int(i), 1).choice(len(p), p=p) for i in run_ids],
                    dtype=np.int64)


def draw_params(seed: int, run_ids: Sequence[int], posterior: Posterior | None = None,
                exclude: Sequence[str] = ()) -> list[dict[str, float]]:
    """One parameter mapping per run id, drawn from the posterior (free parameters only; the
    engine fills the rest from the table). ``exclude``: names to leave out, e.g. those a
    scenario sets itself, so that a scenario's own values win over the posterior."""
    post = posterior if posterior is not None else load_posterior()
    sets = post.sets()
    skip = set(exclude)
    idx = draw_index(seed, run_ids, post.weights)
    return [{k: v for k, v in sets[i].items() if k not in skip} for i in idx]
