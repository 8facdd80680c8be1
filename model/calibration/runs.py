"""What both calibration methods share (``model.calibration.smc``, ABC-SMC, and
``model.calibration.fit``, history matching then ABC rejection): running parameter points on the
batched engine (``evaluate_points``), a progress bar, the stage runner that computes points chunk
by chunk through the resumable store (``Stages``), and the result of a calibration
(``Calibration``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.calibration import targets as TG
from model.calibration.problem import Problem
from model.calibration.settings import Settings
from model.calibration.store import Store
from model.engine import runner as engine
from model.io.store import chunk_bounds


class InterruptedForTestError(Exception):
    """Raised by the test hook ``stop_after`` to simulate an interruption between chunks."""


def evaluate_points(prob: Problem, x: np.ndarray, seed: int, run_base: int, replicates: int,
                    common: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Run every point ``replicates`` times (run ids ``run_base + i * R + r``; with ``common``,
    ``run_base + r`` for every point: common random numbers) and return the per-point means and
    variances of the targets."""
    rows = prob.rows(x)
    prm = [row for row in rows for _ in range(replicates)]
    if common:
        ids = run_base + np.tile(np.arange(replicates, dtype=np.int64), len(rows))
    else:
        ids = run_base + np.arange(len(prm), dtype=np.int64)
    res = engine.run_block(prob.scenario, seed, ids, prm, months=prob.months)
    f = TG.evaluate(res, prob.targets)
    return TG.point_summary(f, replicates)


@dataclass
class Calibration:
    """The outcome of a calibration: every evaluated point and the accepted posterior.

    ``wave``: the history-matching wave or ABC-SMC generation of each point. ``cand``: the
    points the posterior is chosen from (history matching: the re-run candidates; ABC-SMC: the
    last generation's population), with their target summaries over ``final_reps`` runs each.
    ``generations``: ABC-SMC's record per generation (tolerance, ESS, ...)."""

    problem: Problem
    settings: Settings
    u: np.ndarray                   # all evaluated points, unit coordinates (N x d)
    wave: np.ndarray                # wave (generation) of each point
    mean: np.ndarray                # N x J target means
    var: np.ndarray                 # N x J
    imp: np.ndarray                 # N x J implausibilities
    orders: list[int]               # order used at each wave (history matching)
    nroy: list[int]                 # points kept at each wave (cumulative pool)
    nroy_at_cutoff: list[int]       # points of the wave NROY at the nominal order
    cand: np.ndarray                # indices (into u) of the candidates
    cand_mean: np.ndarray
    cand_var: np.ndarray
    cand_dist: np.ndarray
    accepted: np.ndarray            # indices into cand, best first
    weights: np.ndarray             # of the accepted, summing to 1
    ess: float
    seconds: float
    runs_done: int
    method: str = "hm"
    final_reps: int = 0
    generations: list[dict] = field(default_factory=list)

    @property
    def names(self) -> tuple[str, ...]:
        return self.problem.names

    def posterior_frame(self) -> pd.DataFrame:
        x = self.problem.to_values(self.u[self.cand[self.accepted]])
        df = pd.DataFrame(x, columns=list(self.names))
        df["distance"] = self.cand_dist[self.accepted]
        df["weight"] = self.weights
        return df

    def best(self) -> dict[str, float]:
        x = self.problem.to_values(self.u[self.cand[self.accepted[0]]])
        return dict(zip(self.names, map(float, x), strict=True))


class Progress:
    """A tqdm bar of runs on stderr, or nothing."""

    def __init__(self, total: int, initial: int, enabled: bool, desc: str) -> None:
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="run", unit_scale=True,
                            dynamic_ncols=True, desc=desc, smoothing=0.1,
                            file=sys.stderr)

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def note(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)

    def line(self, text: str) -> None:
        """A line above the bar (one per generation or wave)."""
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Stages:
    """Runs the stages of one calibration (a wave, a generation, the re-runs) chunk by chunk
    through its store: finished parts are read, the rest computed and saved."""

    def __init__(self, store: Store, prob: Problem, s: Settings, bar: Progress,
                 stop_after: int | None) -> None:
        self.store, self.prob, self.s, self.bar = store, prob, s, bar
        self.stop_after = stop_after
        self.new_chunks = 0

    def run(self, wave: int, x: np.ndarray, run_base: int, reps: int,
            common: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-point target means and variances of points ``x``, ``reps`` runs each (common
        random numbers when ``common``; None: the settings' ``common_numbers``)."""
        s = self.s
        common = s.common_numbers if common is None else common
        means, vars_ = [], []
        for c, (lo, hi) in enumerate(chunk_bounds(len(x), s.chunk // reps)):
            if self.store.has_part(wave, c, hi - lo, len(self.prob.targets)):
                m, v = self.store.read_part(wave, c)
            else:
                if self.stop_after is not None and self.new_chunks >= self.stop_after:
                    raise InterruptedForTestError
                first = run_base if common else run_base + lo * reps
                m, v = evaluate_points(self.prob, x[lo:hi], s.seed, first, reps, common)
                self.store.write_part(wave, c, m, v)
                self.new_chunks += 1
                self.bar.update((hi - lo) * reps)
            means.append(m)
            vars_.append(v)
        return np.concatenate(means), np.concatenate(vars_)


def report_rejected(store: Store) -> None:
    """Name on stderr the damaged checkpoints that were computed again."""
    for path, why in store.rejected.items():
        sys.stderr.write(f"note: {path}: {why}; computed again\n")
