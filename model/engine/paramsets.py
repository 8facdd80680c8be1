"""Where parameter sets come from: the parameter table, a posterior sample (the shipped
``model/data/posterior.csv`` or any file of that format), or explicit rows.

The posterior file is written by the calibration (``model.calibration``); the engine reads it
here, so that running the model never needs the calibration code. Run ``i`` of master seed ``S``
takes the set drawn from its own stream ``SeedSequence(S, spawn_key=(i, 1))``: the draw is
independent of batch size, chunking and process count.

Parameter sets travel as arrays: per-run values are ``Columns`` (parameter name -> one float64
per run, NaN where a run leaves the parameter to its scenario), and ``records`` lays them over a
scenario's values (``base_record``) into the kernel's structured parameter array, column by
column. ``param_source`` turns the engine's ``params`` argument into a function of the run ids.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from model.core import params as P
from model.core import rng
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

    @cached_property
    def matrix(self) -> np.ndarray:
        """The sets as one float64 array, sets x ``names`` (read-only)."""
        vals = self.frame[list(self.names)].to_numpy(dtype=float)
        vals.setflags(write=False)
        return vals

    def sets(self) -> list[dict[str, float]]:
        return [dict(zip(self.names, map(float, row), strict=True)) for row in self.matrix]

    def best(self) -> dict[str, float]:
        """The set of smallest distance."""
        i = int(self.frame["distance"].to_numpy().argmin())
        return self.sets()[i]


def _numbers(df: pd.DataFrame, col: str, shown: str) -> np.ndarray:
    """Column ``col`` as float64; a text value, NaN or an infinity is a ``PosteriorError``
    naming the row (the file's line: the header is line 1)."""
    v = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(v)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raw = df[col].iloc[i]
        got = repr(raw) if isinstance(raw, str) else str(float(raw))
        raise PosteriorError(f"{shown}: column {col!r}, row {i + 1}: expected a finite number, "
                             f"got {got} ({int(bad.sum())} such value(s)); fix the file or "
                             f"re-run `python -m model calibrate`")
    return v


def _read_frame(path: str, shown: str) -> pd.DataFrame:
    from model.io import access

    with access.open_input(path, access.POSTERIOR, shown=shown) as fh:
        try:
            return pd.read_csv(fh, comment="#")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PosteriorError(f"{shown}: not a readable posterior CSV ({msg})") from None


@cache
def _load_cached(path: str, mtime: float, shown: str | None = None) -> Posterior:
    shown = shown if shown is not None else path
    df = _read_frame(path, shown)
    for col in ("distance", "weight"):
        if col not in df.columns:
            raise PosteriorError(f"{shown}: no {col!r} column")
    names = [c for c in df.columns if c not in ("distance", "weight")]
    for n in names:
        if n not in P.table():
            raise PosteriorError(
                f"{shown}: unknown parameter column {n!r}: the posterior is older than the "
                f"parameter table; re-run `python -m model calibrate`")
    if len(df) == 0:
        raise PosteriorError(f"{shown}: needs at least one row and non-negative weights")
    df = df.assign(**{c: _numbers(df, c, shown) for c in df.columns})
    for n in names:
        p = P.table()[n]
        v = df[n].to_numpy(dtype=float)
        if np.any(v < p.lo) or np.any(v > p.hi):
            raise PosteriorError(f"{shown}: {n} outside the table's bounds [{p.lo}, {p.hi}]")
    if not np.all(df["weight"].to_numpy() >= 0) or df["weight"].sum() <= 0:
        raise PosteriorError(f"{shown}: needs at least one row and non-negative weights")
    return Posterior(frame=df, path=Path(path))


def load_posterior(path: str | Path | None = None) -> Posterior:
    """The posterior sample (default: the shipped ``model/data/posterior.csv``). A user-given
    file goes through the file-access policy (``model.io.access``: a regular file of bounded
    size); messages name it as given."""
    from model.io import access

    p, shown = (POSTERIOR_PATH, str(POSTERIOR_PATH)) if path is None else (Path(path), str(path))
    if not os.path.exists(p):  # (False for a name with a NUL, too)
        raise PosteriorError(f"{shown}: no posterior (no such file; check the path, or run "
                             f"`python -m model calibrate`)")
    st = access.check_input(p, access.POSTERIOR, shown=shown)
    return _load_cached(str(p.resolve()), st.st_mtime, shown)


def posterior_exists(path: str | Path | None = None) -> bool:
    return (Path(path) if path is not None else POSTERIOR_PATH).exists()


def draw_index(seed: int, run_ids: Sequence[int], weights: np.ndarray) -> np.ndarray:
    """For each run id, the index of its posterior set: drawn by weight from the run's own
    stream ``SeedSequence(seed, spawn_key=(run, 1))``, so independent of batch size and order.

    The same numbers as ``rng.choice(len(p), p=p)`` per run (a test checks it): ``choice``
    draws one uniform ``rng.random()`` and looks it up in the normalised cumulative weights;
    here the uniforms are drawn per run (compiled, ``model.core.rng``) and looked up at once.
    """
    p = np.asarray(weights, dtype=float)
    p = p / p.sum()
    cdf = p.cumsum()
    cdf /= cdf[-1]
    return rng.choice_indices(seed, run_ids, cdf, key=(1,))  # compiled, numpy's numbers


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


#: Per-run parameter values: name -> one float64 per run (NaN: the scenario's value applies).
Columns = dict[str, np.ndarray]


def base_record(params: Mapping[str, float] | None = None, where: str = "") -> np.ndarray:
    """One parameter record (a 0-d structured array): the table's defaults, ``params`` on top."""
    rec = np.empty((), dtype=P.dtype())
    for name, v in P.resolve(params, where).items():
        rec[name] = v
    return rec


def records(base: np.ndarray, n: int, columns: Columns) -> np.ndarray:
    """``n`` parameter records: ``base`` for every run, ``columns`` laid over it."""
    out = np.full(n, base, dtype=P.dtype())
    for name, col in columns.items():
        unset = np.isnan(col)
        out[name] = np.where(unset, out[name], col) if unset.any() else col
    return out


def constant_columns(n: int, values: Mapping[str, float]) -> Columns:
    """The same (already validated) values for ``n`` runs."""
    return {k: np.full(n, float(v)) for k, v in values.items()}


def row_columns(rows: Sequence[Mapping], where: str = "params") -> Columns:
    """Columns from one validated mapping per run; a name a row leaves out is NaN there."""
    names = list(dict.fromkeys(k for row in rows for k in row))
    cols = {k: np.full(len(rows), np.nan) for k in names}
    for i, row in enumerate(rows):
        for k, v in row.items():
            cols[k][i] = P.check(k, v, where)
    return cols


def posterior_columns(post: Posterior, seed: int, run_ids: Sequence[int],
                      exclude: Sequence[str] = ()) -> Columns:
    """Each run's set drawn from ``post`` (``draw_index``), as columns; ``exclude``: names to
    leave out (e.g. those a scenario sets itself, so that a scenario's own values win)."""
    idx = draw_index(seed, run_ids, post.weights)
    skip = set(exclude)
    vals = post.matrix
    return {n: vals[idx, j] for j, n in enumerate(post.names) if n not in skip}


def param_source(scenario_params: Mapping, runs: int, seed: int, params,
                 overrides: Mapping | None = None) -> Callable[[int, int], Columns]:
    """A function (lo, hi) -> the ``Columns`` of runs lo..hi-1 (run ids are positions).

    ``params``: None (the shipped calibrated posterior, or the table's defaults where none is
    shipped), "default" (the table's defaults and the scenario's values), "posterior" (one set
    per run drawn from the shipped calibrated posterior by the run's own seed stream; the
    scenario's own values win), a path to a posterior CSV, one mapping for all runs (on top of
    the table's defaults), or a sequence of mappings (one per run). ``overrides`` apply on top of
    any of these. Every value is validated here, before any run.
    """
    extra = {k: P.check(k, v, "overrides") for k, v in (overrides or {}).items()}
    if params is None:
        params = "posterior" if posterior_exists() else "default"
    if isinstance(params, str | Path) and (str(params) == "posterior"
                                           or str(params).endswith(".csv")):
        post = load_posterior(None if str(params) == "posterior" else params)
        keep = tuple(scenario_params)
        return lambda lo, hi: {**posterior_columns(post, seed, range(lo, hi), exclude=keep),
                               **constant_columns(hi - lo, extra)}
    if isinstance(params, str):
        if params != "default":
            raise P.ParameterError(f"params: expected 'default', 'posterior', a posterior .csv "
                                   f"file, a mapping or a list of mappings, got {params!r}")
        params = {}
    if isinstance(params, Mapping):
        one = {**{k: P.check(k, v, "params") for k, v in params.items()}, **extra}
        return lambda lo, hi: constant_columns(hi - lo, one)
    rows = list(params)
    if len(rows) != runs:
        raise P.ParameterError(f"params: got {len(rows)} parameter sets for {runs} runs")
    cols = {**row_columns(rows), **constant_columns(runs, extra)}
    return lambda lo, hi: {k: v[lo:hi] for k, v in cols.items()}
