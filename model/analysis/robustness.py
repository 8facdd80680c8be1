"""Robustness of what-if answers: does a difference between two scenarios keep its sign across
the calibrated posterior's parameter sets, or does it depend on which equally good fit is used?

The design (``Design``): ``K`` parameter sets drawn by weight from the posterior (``draw_index``
with the master seed: set ``k`` is the one run ``k`` of an ordinary ensemble would draw), laid
over the runs round-robin (run ``i`` takes set ``i % K``, so with 200 runs and 20 sets each set
has 10 runs). A and B are run with the same sets *and* the same seeds (run ``i`` has the same
random stream under A and B): each run's B − A is a paired difference, free of the dice.

For each headline difference: the mean paired difference of each set's runs, and the share of
sets whose mean difference has the same sign as the overall mean difference (over all runs;
a set whose runs show no difference at all does not count as agreeing with a non-zero one).
A difference is **robust** when that share is at least ``ROBUST_SHARE``, and **depends on the
calibration** otherwise. Intervals computed from these runs are over runs drawn across the sets,
so they include the spread across parameter sets, not only across random streams.

Caveat: the share measures agreement *within* the posterior a fit produced. A fit from another
start point may land elsewhere (issue 16); that spread is not in these figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.engine.paramsets import Posterior, draw_index, load_posterior, posterior_exists
from model.engine.runner import Results, simulate
from model.inputs.scenario import Scenario, from_mapping, load_scenario

__all__ = ["DEFAULT_SETS", "DEPENDS", "NOT_MEASURED", "ROBUST", "ROBUST_SHARE", "Design",
           "Robustness", "design", "label", "measure", "measure_many", "simulate_pair"]

#: A difference is robust when it has the same sign in at least this share of parameter sets.
ROBUST_SHARE = 0.9
#: Parameter sets drawn from the posterior for a comparison (fewer when there are fewer runs).
DEFAULT_SETS = 20
ROBUST = "robust"
DEPENDS = "depends on the calibration"
#: The label where the runs share one parameter set (table defaults, or one mapping).
NOT_MEASURED = "one parameter set: not measured"


def label(share: float) -> str:
    """``ROBUST`` for a same-sign share of at least ``ROBUST_SHARE``, else ``DEPENDS``."""
    return ROBUST if share >= ROBUST_SHARE else DEPENDS


@dataclass(frozen=True)
class Design:
    """``sets`` (K parameter mappings, free parameters only) laid over ``runs`` runs: run ``i``
    takes set ``i % K``. ``index``: each set's row in the posterior file."""

    sets: tuple[Mapping[str, float], ...]
    index: tuple[int, ...]
    runs: int
    source: str

    @property
    def k(self) -> int:
        return len(self.sets)

    @property
    def set_of_run(self) -> np.ndarray:
        return np.arange(self.runs) % self.k

    def rows(self, scenario: Scenario) -> list[dict[str, float]]:
        """One mapping per run; a parameter the scenario sets itself is left out, so that the
        scenario's own value wins (as in the engine's per-run posterior draws)."""
        own = set(scenario.params)
        sets = [{k: v for k, v in s.items() if k not in own} for s in self.sets]
        return [sets[k] for k in self.set_of_run]

    def describe(self) -> str:
        per = self.runs // self.k
        runs = f"{per} runs each" if per * self.k == self.runs else f"{per}-{per + 1} runs each"
        return (f"{self.k} parameter sets from {self.source}, {runs}, A and B on the same sets "
                f"and seeds; intervals are over runs drawn across the sets")


def _posterior(params) -> Posterior | None:
    if params is None:
        return load_posterior() if posterior_exists() else None
    if isinstance(params, str | Path) and (str(params) == "posterior"
                                           or str(params).endswith(".csv")):
        return load_posterior(None if str(params) == "posterior" else params)
    return None


def design(runs: int, seed: int = 0, sets: int = DEFAULT_SETS, params=None) -> Design | None:
    """The comparison design for ``runs`` runs under master seed ``seed``: ``sets`` parameter
    sets (at most one per run) drawn by weight from the posterior ``params`` names (None: the
    shipped one; "posterior"; a posterior CSV). None where ``params`` is not a posterior
    ("default", a mapping, one mapping per run) or none is shipped: one parameter set."""
    post = _posterior(params)
    if post is None:
        return None
    if runs < 1 or sets < 1:
        raise ValueError(f"runs and sets must be >= 1, got {runs} and {sets}")
    k = min(int(sets), int(runs))
    idx = draw_index(seed, range(k), post.weights)
    all_sets = post.sets()
    source = "the calibrated posterior" if params in (None, "posterior") else str(post.path)
    return Design(sets=tuple(all_sets[i] for i in idx), index=tuple(int(i) for i in idx),
                  runs=int(runs), source=source)


def _scenario(sc) -> Scenario:
    if isinstance(sc, Scenario):
        return sc
    if isinstance(sc, Mapping):
        return from_mapping(dict(sc))
    return load_scenario(sc)


def simulate_pair(a, b, runs: int, seed: int = 0, months: int | None = None, params=None,
                  sets: int = DEFAULT_SETS, trace: bool = False
                  ) -> tuple[Results, Results, Design | None]:
    """Run ``a`` and ``b`` (paths, Scenarios or mappings) with the same seeds and, where
    ``params`` is a posterior, the same ``design`` of parameter sets; also returns the design
    (None: one parameter set, ``params`` passed to the engine as given)."""
    sa, sb = _scenario(a), _scenario(b)
    d = design(runs, seed, sets, params)
    pa, pb = (d.rows(sa), d.rows(sb)) if d is not None else (params, params)
    ra = simulate(sa, runs=runs, seed=seed, months=months, params=pa, trace=trace)
    rb = simulate(sb, runs=runs, seed=seed, months=months, params=pb, trace=trace)
    return ra, rb, d


@dataclass(frozen=True)
class Robustness:
    """How a difference (B − A) holds across parameter sets: the overall mean paired difference,
    each set's mean paired difference, and the share of sets with the overall's sign."""

    difference: float
    per_set: np.ndarray
    share: float

    @property
    def label(self) -> str:
        return label(self.share)

    @property
    def sets(self) -> int:
        return len(self.per_set)

    def text(self) -> str:
        """e.g. 'robust: same sign in 95% of 20 parameter sets'."""
        if self.difference == 0 and not np.any(self.per_set):
            return f"no difference in any of {self.sets} parameter sets"
        return f"{self.label}: same sign in {self.share:.0%} of {self.sets} parameter sets"


def measure(values_a: np.ndarray, values_b: np.ndarray, design_: Design) -> Robustness | None:
    """``Robustness`` of B − A from one value per run under each (paired: run ``i`` of A and of
    B share a seed and a set). None where any value is missing (NaN)."""
    va, vb = (np.asarray(v, dtype=np.float64) for v in (values_a, values_b))
    if va.shape != (design_.runs,) or vb.shape != (design_.runs,):
        raise ValueError(f"expected {design_.runs} values per scenario, got {va.shape} and "
                         f"{vb.shape}")
    diff = vb - va
    if not np.isfinite(diff).all():
        return None
    groups = design_.set_of_run
    per_set = np.bincount(groups, weights=diff, minlength=design_.k) / np.bincount(
        groups, minlength=design_.k)
    overall = float(diff.mean())
    share = float(np.mean(np.sign(per_set) == np.sign(overall)))
    return Robustness(difference=overall, per_set=per_set, share=share)


def measure_many(pairs: Sequence[tuple[np.ndarray, np.ndarray]], design_: Design | None
                 ) -> list[Robustness | None]:
    """``measure`` of each (A values, B values); all None without a design."""
    if design_ is None:
        return [None] * len(pairs)
    return [measure(a, b, design_) for a, b in pairs]
