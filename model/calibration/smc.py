"""ABC-SMC on the batched engine: the calibration's default method (``method: smc`` in
calibration.yaml; docs/calibration.md, "Inference (issue 17)").

The adaptive ABC sequential Monte Carlo sampler of Del Moral, Doucet & Jasra (2012), run
generation by generation in batches, because the engine runs many parameter rows at once
(``model.engine.runner.run_block``) and a per-particle sampler would leave it idle. Its target at
generation t is the prior restricted to the tolerance, pi_t(theta) ~ prior(theta) 1{d(theta) <=
eps_t}, with d the ABC distance of ``model.calibration.targets.distance`` computed on the mean
of the targets over ``smc_replicates`` runs of the point (its own random streams):

- Generation 0: ``per_generation`` = N particles from the prior (a scrambled Sobol design of the
  prior box: uniform over the table's bounds, narrowed where calibration.yaml says), weights
  1 / N.
- Generation t > 0: (1) reweight: the incremental importance weight of a particle is
  pi_t / pi_{t-1} = 1{d <= eps_t}, with eps_t chosen so that the ``accept`` share of the
  particles keeps its weight (the ESS falls to accept x N); (2) resample N particles from those
  alive (systematic resampling), weights back to 1 / N; (3) move every particle by ``moves``
  Metropolis-Hastings steps that leave pi_t invariant, each a batch of N points on the engine
  (one step left the particles too few distinct ancestors: SBC coverage 0.68 at 90 %): a
  Gaussian random walk with ``smc_scale``
  x (2.38^2 / d) x the alive particles' covariance (Roberts, Gelman & Gilks 1997), run on the
  engine, accepted when its distance is within eps_t and a uniform draw is below the prior
  ratio. The steps are taken in logit coordinates y = log(u / (1 - u)) of the unit box u, where
  the prior box has no faces; the uniform prior's density there is prod u (1 - u).
- These weights are honest importance weights for the sequence of targets, and never divide by
  a proposal density: with ~100 parameters the population Monte Carlo weights prior /
  kernel-mixture (Beaumont et al. 2009) collapsed to an ESS of 1 at the first kernel generation
  (measured; docs/calibration.md). Reported per generation: the tolerance, the ESS after the
  reweighting (accept x N), the move's acceptance rate and the distinct particles after it
  (resampling duplicates, the move diversifies).
- The last generation's particles are the posterior: each distinct set with weight copies / N,
  a sample of the prior restricted to distance <= eps_T; when N exceeds ``smc_posterior``, a
  systematic resample of that many particles (the file stays small; the sample stays honest).

Budget: (1 + (``generations`` - 1) x ``moves``) batches of N points x ``smc_replicates`` runs.
There is no start point: the search starts from the prior. Run ids: batch b's point i,
replicate r, is run ``b * N * R + i * R + r`` under the master seed. Resampling and moves derive
from ``SeedSequence(seed, spawn_key=(b, 6))``. Resumable like the waves: each batch's proposals
are saved before their runs and each chunk of runs is one part of the store; the particles are
replayed from them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from model.calibration import targets as TG
from model.calibration.designs import kernel_cov, sobol_design
from model.calibration.problem import Problem, fingerprint
from model.calibration.runs import Calibration, Progress, Stages, report_rejected
from model.calibration.settings import Settings
from model.calibration.store import Store
from model.engine.paramsets import seeded_rng

#: How close to a face of the prior box a point may come (unit coordinates).
EDGE = 1e-12


def to_logit(u: np.ndarray) -> np.ndarray:
    """Unit-box coordinates -> the unbounded coordinates the kernel moves in."""
    u = np.clip(u, EDGE, 1.0 - EDGE)
    return np.log(u) - np.log1p(-u)


def from_logit(y: np.ndarray) -> np.ndarray:
    """Unbounded coordinates -> unit-box coordinates (the logistic function), kept off the
    faces by ``EDGE``."""
    from scipy.special import expit

    return np.clip(expit(y), EDGE, 1.0 - EDGE)


def log_prior_logit(u: np.ndarray) -> np.ndarray:
    """Log density of the uniform prior in logit coordinates at the unit-box points ``u``: the
    Jacobian sum log u (1 - u)."""
    u = np.clip(u, EDGE, 1.0 - EDGE)
    return (np.log(u) + np.log1p(-u)).sum(axis=1)


def resample(n: int, w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Systematic resampling (Kitagawa 1996): ``n`` indices drawn by the weights ``w``."""
    c = np.cumsum(w / w.sum())
    c[-1] = 1.0
    return np.searchsorted(c, (rng.random() + np.arange(n)) / n, side="left")


def rw_cov(y: np.ndarray, scale: float) -> np.ndarray:
    """The random-walk covariance: ``scale`` x 2.38^2 / d x the particles' covariance (logit
    coordinates), with a small ridge (``kernel_cov``)."""
    return kernel_cov(y, scale * 2.38 ** 2 / y.shape[1])


@dataclass
class Particles:
    """The current particles: global indices of their points (into every point evaluated),
    unit coordinates, distances."""

    idx: np.ndarray
    u: np.ndarray
    dist: np.ndarray


def tolerance(dist: np.ndarray, share: float) -> float:
    """The smallest tolerance that keeps the ``share`` of particles alive (its quantile)."""
    return float(np.sort(dist)[max(0, int(np.ceil(share * len(dist))) - 1)])


def _move_design(store: Store, s: Settings, b: int, parts: Particles, dim: int, eps: float,
                 first: bool) -> dict:
    """Batch ``b``'s parents and proposals at tolerance ``eps`` (read back when saved): at the
    ``first`` move of a generation the particles alive are resampled, later moves start from the
    particles as they are."""
    n = s.per_generation
    des = store.read_design(b, n, dim)
    if des is not None:
        return des
    rng = seeded_rng(s.seed, b, 6)
    alive = parts.dist <= eps
    parent = resample(n, alive.astype(float), rng) if first else np.arange(n)
    y = to_logit(parts.u)
    chol = np.linalg.cholesky(rw_cov(y[alive], s.smc_scale))
    prop = y[parent] + rng.standard_normal((n, dim)) @ chol.T
    des = {"u": from_logit(prop), "parent": parent, "eps": np.array([eps]),
           "log_unif": np.log(rng.random(n))}
    store.write_design(b, **des)
    return des


def _move(parts: Particles, des: dict, dist: np.ndarray, g: int, n: int
          ) -> tuple[Particles, dict]:
    """The Metropolis-Hastings step of batch ``g``: a proposal replaces its parent when within
    the tolerance and the uniform draw is below the prior ratio (logit coordinates)."""
    eps = float(des["eps"][0])
    parent = des["parent"]
    u_par, u_new = parts.u[parent], des["u"]
    ok = (dist <= eps) & (des["log_unif"] < log_prior_logit(u_new) - log_prior_logit(u_par))
    new = Particles(idx=np.where(ok, g * n + np.arange(n), parts.idx[parent]),
                    u=np.where(ok[:, None], u_new, u_par),
                    dist=np.where(ok, dist, parts.dist[parent]))
    alive = int((parts.dist <= eps).sum())
    rec = {"batch": g, "eps": eps, "alive": alive, "ess": float(alive),
           "accept_rate": float(ok.mean()), "distinct": len(np.unique(new.idx)),
           "dist_min": float(new.dist.min()), "dist_median": float(np.median(new.dist))}
    return new, rec


def runs_done(store: Store, s: Settings) -> int:
    """Runs whose parts are already in the store (for the progress bar of a resumed run)."""
    per = s.chunk // s.smc_replicates
    return sum((min((c + 1) * per, s.per_generation) - c * per) * s.smc_replicates
               for _b, c in store.part_keys())


@dataclass
class _Generations:
    us: list[np.ndarray] = field(default_factory=list)
    means: list[np.ndarray] = field(default_factory=list)
    vars_: list[np.ndarray] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    parts: Particles | None = None


def _prior_design(store: Store, s: Settings, dim: int) -> dict:
    des = store.read_design(0, s.per_generation, dim)
    if des is None:
        des = {"u": sobol_design(s.per_generation, dim, s.seed)}
        store.write_design(0, **des)
    return des


def _batch(stages: Stages, b: int, des: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run batch ``b``'s points: target means, variances and distances."""
    prob, s = stages.prob, stages.s
    n, reps = s.per_generation, s.smc_replicates
    m, v = stages.run(b, prob.to_values(des["u"]), b * n * reps, reps, common=False)
    return m, v, TG.distance(m, prob.targets)


def _keep(found: _Generations, des: dict, m: np.ndarray, v: np.ndarray) -> None:
    found.us.append(des["u"])
    found.means.append(m)
    found.vars_.append(v)


def _generation(stages: Stages, found: _Generations, g: int) -> dict:
    """Generation ``g`` > 0: the tolerance, then ``moves`` Metropolis-Hastings batches (the
    first after resampling); its record."""
    s, n = stages.s, stages.s.per_generation
    eps = tolerance(found.parts.dist, s.accept)
    recs = []
    for j in range(s.moves):
        b = 1 + (g - 1) * s.moves + j
        des = _move_design(stages.store, s, b, found.parts, stages.prob.dim, eps, j == 0)
        m, v, dist = _batch(stages, b, des)
        found.parts, rec = _move(found.parts, des, dist, b, n)
        _keep(found, des, m, v)
        recs.append(rec)
    return {**recs[-1], "generation": g, "alive": recs[0]["alive"], "ess": recs[0]["ess"],
            "accept_rate": float(np.mean([r["accept_rate"] for r in recs]))}


def _run_generations(stages: Stages) -> _Generations:
    s, n = stages.s, stages.s.per_generation
    found = _Generations()
    for g in range(s.generations):
        t0 = time.perf_counter()
        stages.bar.note(f"generation {g + 1}/{s.generations}")
        if g == 0:
            des = _prior_design(stages.store, s, stages.prob.dim)
            m, v, dist = _batch(stages, 0, des)
            found.parts = Particles(idx=np.arange(n), u=des["u"], dist=dist)
            _keep(found, des, m, v)
            rec = {"generation": 0, "batch": 0, "eps": float("inf"), "alive": n,
                   "ess": float(n), "accept_rate": 1.0, "distinct": n,
                   "dist_min": float(dist.min()), "dist_median": float(np.median(dist))}
        else:
            rec = _generation(stages, found, g)
        rec["seconds"] = round(time.perf_counter() - t0, 1)
        stages.bar.line(f"generation {g}: eps {rec['eps']:.3f}, ESS {rec['ess']:.0f} of {n}, "
                        f"moves accepted {rec['accept_rate']:.2f}, distinct {rec['distinct']}, "
                        f"median distance {rec['dist_median']:.3f}")
        found.records.append(rec)
    return found


def run(prob: Problem, s: Settings, out: str | Path, resume: bool = False, fresh: bool = False,
        progress: bool = True, stop_after: int | None = None, desc: str = "calibrate"
        ) -> Calibration:
    """Run (or resume) an ABC-SMC calibration in folder ``out``; see the module docstring."""
    s.check()
    t0 = time.perf_counter()
    store = Store(Path(out))
    store.open({"settings": asdict(s), "problem": prob.describe(), "code": fingerprint()},
               resume=resume, fresh=fresh)
    try:
        bar = Progress(s.total_runs, runs_done(store, s), progress, desc)
        try:
            found = _run_generations(Stages(store, prob, s, bar, stop_after))
        finally:
            bar.close()
    finally:
        store.close()
        report_rejected(store)
    return _result(prob, s, found, time.perf_counter() - t0)


def _result(prob: Problem, s: Settings, found: _Generations, seconds: float) -> Calibration:
    """The calibration: every point, and the last particles as the posterior (each distinct set
    weighted by its copies)."""
    n = s.per_generation
    u, mean, var = (np.concatenate(a) for a in (found.us, found.means, found.vars_))
    idx = found.parts.idx
    if len(idx) > s.smc_posterior:           # a systematic resample keeps the file small
        idx = idx[resample(s.smc_posterior, np.ones(len(idx)), seeded_rng(s.seed, s.batches, 7))]
    cand, copies = np.unique(idx, return_counts=True)
    w = copies / copies.sum()
    cdist = TG.distance(mean[cand], prob.targets)
    order = np.argsort(cdist, kind="stable")
    imp = TG.implausibility(mean, var, s.smc_replicates, prob.targets)
    at_cut = (TG.kth_max(imp, s.order) < s.cutoff).reshape(s.batches, n).sum(axis=1)
    return Calibration(
        problem=prob, settings=s, u=u, wave=np.repeat(np.arange(s.batches), n),
        mean=mean, var=var, imp=imp, orders=[], nroy=[r["alive"] for r in found.records],
        nroy_at_cutoff=[int(c) for c in at_cut], cand=cand, cand_mean=mean[cand],
        cand_var=var[cand], cand_dist=cdist, accepted=order, weights=w[order],
        ess=float(1.0 / (w ** 2).sum()), seconds=seconds, runs_done=s.total_runs,
        method="smc", final_reps=s.smc_replicates, generations=found.records)
