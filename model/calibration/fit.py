"""The calibration's entry (``run``, ``fit_history``: the method of the settings) and the
second method, kept for the equal-budget comparison (docs/calibration.md, "Inference (issue
17)"): history matching in waves, then ABC rejection. The default method is ABC-SMC
(``model.calibration.smc``).

1. **History matching** (Vernon, Goldstein & Bower 2010; Andrianakis et al. 2015). Wave 0 is a
   scrambled Sobol design (``scipy.stats.qmc.Sobol``) of the prior box (uniform over the table's
   bounds). Every point is run ``replicates`` times (run ids ``point * R + r``), each target's
   implausibility I_j = |E f_j - z_j| / sqrt(var_model + sigma_disc^2 + sigma_obs^2) is computed
   and a point is *not ruled out yet* (NROY) when its ``order``-th largest I_j is below the
   cut-off 3. The population after a wave is every NROY point evaluated so far; when fewer than
   ``min_keep`` x wave size points are NROY, it is that many points of smallest ABC distance
   instead (an ABC-SMC generation with a quantile tolerance). Each later wave samples the
   population's region: members perturbed by quasi-random normal draws
   (``scipy.stats.qmc.MultivariateNormalQMC``) with ``kernel_scale`` times their covariance,
   reflected into the prior box. The NROY count of every wave is reported.
2. **ABC rejection** (Pritchard et al. 1999; Beaumont et al. 2002). The ``candidates`` NROY points
   of smallest ABC distance are re-run with ``final_replicates`` fresh replicates (run ids from
   ``FINAL_BASE``), which removes the selection bias of the noisy wave estimates, and the
   ``posterior`` smallest distances are accepted. Weights: the Epanechnikov kernel of the
   distance times the prior-to-proposal density ratio of the waves (self-normalised importance
   sampling), truncated at mean * sqrt(n) (Ionides 2008).

Long work done right: every chunk of runs writes one part of the working folder
(``model.calibration.store``); a rerun with ``resume`` computes only the missing parts, so an
interrupted calibration loses at most the chunk in flight, and the result equals that of an
uninterrupted run. The same seed gives the same posterior: designs derive from
``SeedSequence(seed, spawn_key=(wave, ...))`` and each run from ``SeedSequence(seed,
spawn_key=(run,))`` (``model.engine.runner``).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from model.calibration import smc
from model.calibration import targets as TG
from model.calibration.designs import abc_weights, perturbed_design, sobol_design
from model.calibration.problem import Problem, fingerprint, history_problem
from model.calibration.runs import (
    Calibration,
    InterruptedForTestError,
    Progress,
    Stages,
    evaluate_points,
    report_rejected,
)
from model.calibration.settings import Settings
from model.calibration.store import Store

__all__ = ["Calibration", "InterruptedForTestError", "evaluate_points", "fit_history",
           "history_settings", "run", "workdir"]

FINAL_BASE = 1 << 40                 # run ids of the re-runs: far from any wave's run ids
FINAL_WAVE = 99                      # wave number of the re-run stage in part names


def _runs_done(store: Store, s: Settings) -> int:
    """Runs whose parts are already in the store (for the progress bar of a resumed run)."""
    n = 0
    for wave, chunk in store.part_keys():
        reps = s.final_replicates if wave == FINAL_WAVE else s.replicates
        npts = s.candidates if wave == FINAL_WAVE else s.points_per_wave
        per = s.chunk // reps
        n += (min((chunk + 1) * per, npts) - chunk * per) * reps
    return n


def _select(mean: np.ndarray, var: np.ndarray, ts: TG.TargetSet, s: Settings, n_w: int
            ) -> tuple[np.ndarray, int]:
    """The current population (indices into all evaluated points) and how it was chosen.

    History matching: the points not ruled out yet (the ``order``-th largest implausibility
    below the cut-off). When fewer than ``min_keep`` x wave size points pass, the population is
    that many points of smallest ABC distance instead (an ABC-SMC generation with a quantile
    tolerance, Del Moral et al. 2012); the second value is then 0.
    """
    imp = TG.implausibility(mean, var, s.replicates, ts)
    nroy = np.flatnonzero(TG.kth_max(imp, s.order) < s.cutoff)
    need = max(2, math.ceil(s.min_keep * n_w))
    if len(nroy) >= need:
        return nroy, s.order
    dist = TG.distance(mean, ts)
    return np.sort(np.argsort(dist, kind="stable")[:need]), 0


@dataclass
class _Waves:
    """What the waves found so far: their designs, points, target summaries and populations."""

    designs: list[dict] = field(default_factory=list)
    us: list[np.ndarray] = field(default_factory=list)
    waves: list[np.ndarray] = field(default_factory=list)
    means: list[np.ndarray] = field(default_factory=list)
    vars_: list[np.ndarray] = field(default_factory=list)
    orders: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    at_cut: list[int] = field(default_factory=list)
    pool: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def u(self) -> np.ndarray:
        return np.concatenate(self.us)

    @property
    def mean(self) -> np.ndarray:
        return np.concatenate(self.means)

    @property
    def var(self) -> np.ndarray:
        return np.concatenate(self.vars_)


def _wave_design(store: Store, prob: Problem, s: Settings, w: int, found: _Waves
                 ) -> dict[str, np.ndarray]:
    """Wave ``w``'s design (read back when saved earlier): the Sobol design of the prior box
    for wave 0, the population perturbed for later waves."""
    des = store.read_design(w, s.points_per_wave, prob.dim)
    if des is not None:
        return des
    n_w = s.points_per_wave
    if w == 0:
        des = {"u": sobol_design(n_w, prob.dim, s.seed)}
    else:
        parents = found.u[found.pool]
        u, pick, cov = perturbed_design(parents, n_w, s.kernel_scale, s.seed, w, s.subspace)
        des = {"u": u, "parents": parents, "pick": pick, "cov": cov}
    store.write_design(w, **des)
    return des


def _run_waves(stages: Stages) -> _Waves:
    """History matching: every wave's design, runs, NROY count and population."""
    prob, s = stages.prob, stages.s
    n_w, R = s.points_per_wave, s.replicates
    found = _Waves()
    for w in range(s.waves):
        des = _wave_design(stages.store, prob, s, w, found)
        found.designs.append(des)
        stages.bar.note(f"wave {w + 1}/{s.waves}")
        # Common random numbers: every wave's replicate r runs on stream r, so that points
        # of all waves are compared on the same draws (paired, far less noisy rankings).
        base = 0 if s.common_numbers else w * n_w * R
        m, v = stages.run(w, prob.to_values(des["u"]), base, R)
        found.us.append(des["u"])
        found.waves.append(np.full(n_w, w))
        found.means.append(m)
        found.vars_.append(v)
        imp_w = TG.implausibility(m, v, R, prob.targets)
        found.at_cut.append(int((TG.kth_max(imp_w, s.order) < s.cutoff).sum()))
        found.pool, k = _select(found.mean, found.var, prob.targets, s, n_w)
        found.orders.append(k)
        found.kept.append(len(found.pool))
    return found


def _candidates(found: _Waves, ts: TG.TargetSet, s: Settings) -> np.ndarray:
    """ABC: the population's points of smallest distance (then others), to be re-run."""
    dist = TG.distance(found.mean, ts)
    in_pool = np.zeros(len(dist), dtype=bool)
    in_pool[found.pool] = True
    rank = np.lexsort((dist, ~in_pool))                   # pool first, then by distance
    return np.sort(rank[: s.candidates])


def run(prob: Problem, s: Settings, out: str | Path, resume: bool = False, fresh: bool = False,
        progress: bool = True, stop_after: int | None = None, desc: str = "calibrate"
        ) -> Calibration:
    """Run (or resume) a calibration in folder ``out`` with the method of ``s``: ABC-SMC
    (``model.calibration.smc``) or history matching then ABC rejection (this module's
    docstring).

    ``stop_after``: (tests) raise after computing that many new chunks, as an interruption would.
    """
    s.check()
    if s.method == "smc":
        return smc.run(prob, s, out, resume=resume, fresh=fresh, progress=progress,
                       stop_after=stop_after, desc=desc)
    t0 = time.perf_counter()
    store = Store(Path(out))
    manifest = {"settings": asdict(s), "problem": prob.describe(), "code": fingerprint()}
    store.open(manifest, resume=resume, fresh=fresh)
    try:
        bar = Progress(s.total_runs, _runs_done(store, s), progress, desc)
        stages = Stages(store, prob, s, bar, stop_after)
        try:
            found = _run_waves(stages)
            cand = _candidates(found, prob.targets, s)
            bar.note("re-runs")
            cm, cv = stages.run(FINAL_WAVE, prob.to_values(found.u[cand]), FINAL_BASE,
                                s.final_replicates)
        finally:
            bar.close()
    finally:
        store.close()
        report_rejected(store)
    cdist = TG.distance(cm, prob.targets)
    accepted = np.argsort(cdist, kind="stable")[: s.posterior]
    u_all = found.u
    weights, ess = abc_weights(u_all[cand[accepted]], cdist[accepted],
                               found.designs if s.proposal_has_density else None)
    mean_all, var_all = found.mean, found.var
    return Calibration(problem=prob, settings=s, u=u_all, wave=np.concatenate(found.waves),
                       mean=mean_all, var=var_all,
                       imp=TG.implausibility(mean_all, var_all, s.replicates, prob.targets),
                       orders=found.orders, nroy=found.kept, nroy_at_cutoff=found.at_cut,
                       cand=cand, cand_mean=cm, cand_var=cv, cand_dist=cdist, accepted=accepted,
                       weights=weights, ess=ess, seconds=time.perf_counter() - t0,
                       runs_done=s.total_runs, method="hm", final_reps=s.final_replicates)


def workdir(root: Path, until: str | None) -> Path:
    """The working folder of a history calibration under ``root``: ``full`` or
    ``until-YYYY-MM``."""
    return root / ("full" if until is None else f"until-{until}")


def history_settings(until: str | None, seed: int, budget: int | None, **overrides
                     ) -> Settings:
    """The settings of a history calibration: calibration.yaml's, ``seed``, ``budget`` and
    ``overrides`` (tests: smaller designs) overriding theirs; checked."""
    return Settings.from_config(seed=seed, budget=budget, until=until, **overrides)


def fit_history(until: str | None, seed: int, budget: int | None, root: Path, resume: bool,
                fresh: bool, progress: bool, **overrides) -> Calibration:
    """One calibration of the history replay in ``workdir(root, until)``, with the settings of
    calibration.yaml (``seed``, ``budget`` and ``overrides`` overriding theirs)."""
    s = history_settings(until, seed, budget, **overrides)
    prob = history_problem(until)
    label = "calibrate" if until is None else f"calibrate ..{until}"
    return run(prob, s, workdir(root, until), resume=resume, fresh=fresh, progress=progress,
               desc=label)
