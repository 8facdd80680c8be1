"""Calibration of the history replay: history matching in waves, then ABC rejection.

``python -m model calibrate`` fits the free parameters of the parameter table to the documented
history (targets: ``model.calibration.targets``, settings and tolerances:
``model/data/calibration.yaml``,
method and reasons: ``docs/calibration.md``):

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

Long work done right: every chunk of runs writes one ``.npz`` part (atomically: temporary name,
then rename) with the per-point means and variances of the targets; a rerun with ``--resume``
computes only the missing parts, so an interrupted calibration (Ctrl-C or SIGKILL) loses at most
the chunk in flight, and the result equals that of an uninterrupted run. The same seed gives the
same posterior: designs derive from ``SeedSequence(seed, spawn_key=(wave, ...))`` and each run from
``SeedSequence(seed, spawn_key=(run,))`` (``model.engine.runner``).

The posterior is a small CSV (``model/data/posterior.csv``: one row per accepted set, columns the
free parameters, ``distance`` and ``weight``; the first row is the best set). ``load_posterior``
and ``draw_params`` let the engine use it: run ``i`` of seed ``S`` takes the set chosen by its own
stream ``SeedSequence(S, spawn_key=(i, 1))``, whatever the batch size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from model.calibration import targets as TG
from model.core import params as P
from model.engine import runner as engine
from model.engine.paramsets import (
    POSTERIOR_PATH,
    Posterior,
    PosteriorError,
    draw_params,
    load_posterior,
    seeded_rng,
)
from model.inputs.scenario import Scenario, load_scenario, month_index, month_label
from model.io.errors import ModelInputError
from model.io.paths import DATA, ROOT, SCENARIOS

FORMAT = "afpak-calibration/1"
MANIFEST = "manifest.json"
FINAL_BASE = 1 << 40                 # run ids of the re-runs: far from any wave's run ids
FINAL_WAVE = 99                      # wave number of the re-run stage in part names
PROVENANCE_PATH = DATA / "provenance.csv"
DEFAULT_OUT = ROOT / "out" / "calibration"
REPORTS = ROOT / "reports"
SPLIT = "2011-12"                    # end of the fitting period of the validation run
#: Data files that a calibration's numbers depend on (besides the code, which ``fingerprint``
#: probes by running it).
FINGERPRINT_FILES = ("model/data/parameters.yaml", "model/data/events.yaml",
                     "model/data/patterns.yaml", "model/data/calibration.yaml",
                     "model/data/calibration_start.csv", "scenarios/history.yaml")

class CalibrationError(PosteriorError):
    """A calibration that cannot be started or resumed; the message says why."""


# --------------------------------------------------------------------------------- settings
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
        if self.waves < 1 or self.order < 1 or not 0 < self.min_keep <= 1:
            raise CalibrationError("need waves >= 1, order >= 1 and 0 < min_keep <= 1")
        if not 0 < self.subspace <= 1:
            raise CalibrationError(f"subspace must be in (0, 1], got {self.subspace}")
        if not 0 <= self.start_share < 1 or self.start_scale <= 0:
            raise CalibrationError("need 0 <= start_share < 1 and start_scale > 0")
        if self.start_share > 0 and not self.start:
            raise CalibrationError("start_share > 0 needs a start: file of parameter values")
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


# ---------------------------------------------------------------------------------- problem
@dataclass
class Problem:
    """What is calibrated: a scenario, the months simulated, the targets and the free
    parameters with their prior box. ``params`` are fixed overrides applied to every run."""

    scenario: Scenario
    months: int
    targets: TG.TargetSet
    names: tuple[str, ...]
    lo: np.ndarray
    hi: np.ndarray
    params: dict[str, float] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return len(self.names)

    def to_values(self, u: np.ndarray) -> np.ndarray:
        """Unit-cube coordinates -> parameter values."""
        return self.lo + u * (self.hi - self.lo)

    def to_unit(self, values: Mapping[str, float]) -> np.ndarray:
        """Parameter values (free parameters missing from ``values`` take the table's default)
        -> unit-cube coordinates, clipped to the prior box."""
        d = {**P.defaults(), **values}
        x = np.array([d[n] for n in self.names])
        return np.clip((x - self.lo) / np.where(self.hi > self.lo, self.hi - self.lo, 1.0), 0, 1)

    def rows(self, x: np.ndarray) -> list[dict[str, float]]:
        """Parameter mappings (free values plus the fixed overrides) for points ``x``."""
        base = dict(self.params)
        return [{**base, **dict(zip(self.names, map(float, row), strict=True))} for row in x]

    def describe(self) -> dict:
        return {"scenario": self.scenario.name, "start": self.scenario.start,
                "months": self.months, "names": list(self.names),
                "lo": self.lo.tolist(), "hi": self.hi.tolist(), "params": self.params,
                "targets": [[t.id, t.z, t.scale, t.one_sided] for t in self.targets.targets],
                "weights": self.targets.weights.tolist()}


def free_parameters(cfg: Mapping | None = None) -> tuple[str, ...]:
    """The free parameters: every parameter of the table except those fixed in
    calibration.yaml (names read from ``model.core.params``)."""
    cfg = cfg if cfg is not None else TG.config()
    fixed = set(cfg.get("fixed") or {})
    unknown = fixed - set(P.names())
    if unknown:
        raise CalibrationError(f"calibration.yaml fixes unknown parameters {sorted(unknown)}")
    return tuple(n for n in P.names() if n not in fixed)


def prior_box(names: Sequence[str], cfg: Mapping | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Uniform prior bounds: the table's bounds unless calibration.yaml ``priors`` narrows them."""
    cfg = cfg if cfg is not None else TG.config()
    tab = P.table()
    pri = cfg.get("priors") or {}
    lo = np.array([float(pri.get(n, {}).get("lo", tab[n].lo)) for n in names])
    hi = np.array([float(pri.get(n, {}).get("hi", tab[n].hi)) for n in names])
    for n, a, b in zip(names, lo, hi, strict=True):
        if not tab[n].lo <= a < b <= tab[n].hi:
            raise CalibrationError(f"prior of {n}: [{a}, {b}] not inside the table's bounds")
    return lo, hi


def history_scenario(cfg: Mapping | None = None) -> Scenario:
    cfg = cfg if cfg is not None else TG.config()
    return load_scenario(SCENARIOS / cfg.get("scenario", "history.yaml"))


def history_problem(until: str | None = None, cfg: Mapping | None = None) -> Problem:
    """The calibration of the history replay, on targets up to ``until`` (inclusive).

    With ``until`` the runs stop ``window`` months after it (so that a decision near the end of
    the period has its whole window) and only targets inside the period are used."""
    cfg = cfg if cfg is not None else TG.config()
    sc = history_scenario(cfg)
    months = sc.months
    if until is not None:
        window = int(cfg.get("window", 6))
        months = min(sc.months, month_index(sc.start, until) + 1 + window)
        if months < 12:
            raise CalibrationError(f"--until {until}: the history starts at {sc.start}")
    ts = TG.build(sc.start, months, until=until, cfg=cfg)
    names = free_parameters(cfg)
    lo, hi = prior_box(names, cfg)
    return Problem(scenario=sc, months=months, targets=ts, names=names, lo=lo, hi=hi)


@cache
def fingerprint() -> str:
    """Hash of what determines a calibration's numbers: the data files, and the outputs of a
    probe — 16 history runs (table defaults and points spread over the prior box) and their
    target values. A change of the kernel, engine or target code that changes any number changes
    the fingerprint; a refactoring that changes none does not."""
    h = hashlib.sha256()
    for rel in FINGERPRINT_FILES:
        p = ROOT / rel
        h.update(rel.encode())
        h.update(p.read_bytes() if p.exists() else b"-")
    prob = history_problem()
    u = np.linspace(0.05, 0.95, 8)[:, None] * np.ones(prob.dim)
    u = np.mod(u + np.arange(prob.dim)[None, :] * 0.37, 1.0)        # spread, deterministic
    rows = [dict(prob.params)] * 8 + prob.rows(prob.to_values(u))
    res = engine.run_block(prob.scenario, 1, range(16), rows, months=prob.months)
    for arr in (res.trust, res.aid, res.state, res.actions, TG.evaluate(res, prob.targets)):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------------------------ store
def _atomic_npz(path: Path, **arrays) -> None:
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _atomic_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _part_name(wave: int, chunk: int) -> str:
    return f"w{wave:02d}-c{chunk:05d}.npz"


class Store:
    """The working folder of one calibration: manifest, wave designs and part files."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.parts = self.out / "parts"
        self.designs = self.out / "designs"

    def open(self, manifest: dict, resume: bool, fresh: bool = False) -> None:
        mpath = self.out / MANIFEST
        if mpath.exists() and not fresh:
            old = json.loads(mpath.read_text(encoding="utf-8"))
            if not resume:
                raise CalibrationError(
                    f"{self.out} holds a calibration already; pass --resume to continue it or "
                    f"choose another --out")
            if old != manifest:
                diff = sorted(k for k in set(old) | set(manifest) if old.get(k) != manifest.get(k))
                raise CalibrationError(
                    f"{self.out}: cannot resume, the calibration differs in {', '.join(diff)} "
                    f"(same seed, budget, period, settings and code are needed); use another "
                    f"--out")
        elif fresh and self.out.exists():
            for sub in (self.parts, self.designs):
                if sub.exists():
                    for p in sub.iterdir():
                        p.unlink()
        self.parts.mkdir(parents=True, exist_ok=True)
        self.designs.mkdir(parents=True, exist_ok=True)
        for d in (self.parts, self.designs, self.out):
            for p in d.glob(".*.tmp*"):
                p.unlink()
        _atomic_text(mpath, json.dumps(manifest, indent=1, sort_keys=True) + "\n")

    def has_part(self, wave: int, chunk: int) -> bool:
        return (self.parts / _part_name(wave, chunk)).exists()

    def read_part(self, wave: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
        with np.load(self.parts / _part_name(wave, chunk)) as z:
            return z["mean"], z["var"]

    def write_part(self, wave: int, chunk: int, mean: np.ndarray, var: np.ndarray) -> None:
        _atomic_npz(self.parts / _part_name(wave, chunk), mean=mean, var=var)

    def design_path(self, wave: int) -> Path:
        return self.designs / f"wave-{wave:02d}.npz"

    def read_design(self, wave: int) -> dict[str, np.ndarray] | None:
        p = self.design_path(wave)
        if not p.exists():
            return None
        with np.load(p) as z:
            return {k: z[k] for k in z.files}

    def write_design(self, wave: int, **arrays) -> None:
        _atomic_npz(self.design_path(wave), **arrays)


# ------------------------------------------------------------------------------- sampling
_rng = seeded_rng


def sobol_design(n: int, dim: int, seed: int) -> np.ndarray:
    """A scrambled Sobol design of ``n`` points in the unit cube (scipy.stats.qmc)."""
    from scipy.stats import qmc

    eng = qmc.Sobol(dim, scramble=True, rng=_rng(seed, 0, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # n need not be a power of two
        return eng.random(n)


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


def start_design(n: int, center: np.ndarray, scale: float, subspace: float, seed: int
                 ) -> np.ndarray:
    """``n`` points around ``center`` (unit coordinates; the start point): normal steps of sd
    ``scale`` in a random subspace, reflected into the box. The first point is the centre."""
    rng = _rng(seed, 0, 3)
    z = _in_subspace(rng.normal(0.0, scale, size=(n, len(center))), subspace, rng)
    z[0] = 0.0
    return _reflect(center[None, :] + z)


def _in_subspace(z: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Steps ``z`` (n x d) kept in a random subset of the coordinates of each row: each with
    probability ``share``, at least one (DREAM's randomised subspace); ``share`` 1 keeps all."""
    if share >= 1.0:
        return z
    n, d = z.shape
    mask = rng.random((n, d)) < share
    mask[np.arange(n), rng.integers(0, d, size=n)] = True
    return z * mask


def _reflect(u: np.ndarray) -> np.ndarray:
    """Reflect coordinates into [0, 1] (the prior box) at its faces."""
    u = np.mod(u, 2.0)
    return np.where(u > 1.0, 2.0 - u, u)


def kernel_cov(parents: np.ndarray, scale: float) -> np.ndarray:
    """Perturbation covariance: ``scale`` x the parents' covariance (Beaumont et al. 2009),
    with a small ridge so that it stays positive definite."""
    d = parents.shape[1]
    cov = (np.atleast_2d(np.cov(parents, rowvar=False)) if len(parents) > 1
           else np.zeros((d, d)))
    ridge = 1e-6 + 1e-3 * np.mean(np.diag(cov))
    return scale * cov + ridge * np.eye(d)


def perturbed_design(parents: np.ndarray, n: int, scale: float, seed: int, wave: int,
                     subspace: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` points around the NROY ``parents``: a parent each (uniformly), plus quasi-random
    normal perturbations (scipy.stats.qmc.MultivariateNormalQMC), reflected into the box.

    ``subspace`` < 1 moves each point in a random subset of the coordinates only (each with that
    probability, at least one), the others staying at the parent's value: the randomised
    subspace sampling of DREAM (Vrugt et al. 2009), which keeps the steps of a population in
    many dimensions from being mostly noise in the coordinates that are already fitted.
    Returns (points, parent index of each, covariance)."""
    from scipy.stats import qmc

    rng = _rng(seed, wave, 2)
    cov = kernel_cov(parents, scale)
    pick = rng.choice(len(parents), size=n)
    mvn = qmc.MultivariateNormalQMC(np.zeros(parents.shape[1]), cov, rng=rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        z = mvn.random(n)
    return _reflect(parents[pick] + _in_subspace(z, subspace, rng)), pick, cov


def log_proposal(u: np.ndarray, designs: Sequence[dict]) -> np.ndarray:
    """Log density (unit-cube coordinates) of the waves' deterministic mixture at ``u``:
    each wave's proposal (uniform for the Sobol wave, the Gaussian mixture around its parents
    otherwise, reflection ignored) weighted by its number of points."""
    from scipy.special import logsumexp

    sizes = np.array([len(d["u"]) for d in designs], dtype=float)
    parts = []
    for des in designs:
        if "cov" not in des:
            parts.append(np.zeros(len(u)))                  # log 1 on the unit cube
            continue
        cov, par = des["cov"], des["parents"]
        chol = np.linalg.cholesky(cov)
        logdet = 2.0 * np.log(np.diag(chol)).sum()
        from scipy.linalg import solve_triangular

        wu = solve_triangular(chol, u.T, lower=True).T      # whitened points
        wp = solve_triangular(chol, par.T, lower=True).T
        d2 = ((wu ** 2).sum(1)[:, None] + (wp ** 2).sum(1)[None, :] - 2.0 * wu @ wp.T)
        logk = -0.5 * np.maximum(d2, 0.0) - 0.5 * (logdet + u.shape[1] * math.log(2 * math.pi))
        parts.append(logsumexp(logk, axis=1) - math.log(len(par)))
    parts_arr = np.stack(parts, axis=1)
    return logsumexp(parts_arr + np.log(sizes / sizes.sum())[None, :], axis=1)


# ------------------------------------------------------------------------------ evaluation
def _chunks(n_points: int, per_chunk: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + per_chunk, n_points)) for lo in range(0, n_points, per_chunk)]


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
    """The outcome of a calibration: every evaluated point and the accepted posterior."""

    problem: Problem
    settings: Settings
    u: np.ndarray                   # all wave points, unit coordinates (N x d)
    wave: np.ndarray                # wave of each point
    mean: np.ndarray                # N x J target means
    var: np.ndarray                 # N x J
    imp: np.ndarray                 # N x J implausibilities
    orders: list[int]               # order used at each wave
    nroy: list[int]                 # points kept at each wave (cumulative pool)
    nroy_at_cutoff: list[int]       # points of the wave NROY at the nominal order
    cand: np.ndarray                # indices (into u) of the re-run candidates
    cand_mean: np.ndarray
    cand_var: np.ndarray
    cand_dist: np.ndarray
    accepted: np.ndarray            # indices into cand, best first
    weights: np.ndarray             # of the accepted, summing to 1
    ess: float
    seconds: float
    runs_done: int

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


class _Progress:
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

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run_stage(store: Store, prob: Problem, s: Settings, wave: int, x: np.ndarray,
               run_base: int, reps: int, bar: _Progress, stop_after: int | None,
               counter: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """All chunks of one stage (a wave or the re-runs): read finished parts, compute the rest."""
    per = s.chunk // reps
    means, vars_ = [], []
    for c, (lo, hi) in enumerate(_chunks(len(x), per)):
        if store.has_part(wave, c):
            m, v = store.read_part(wave, c)
        else:
            if stop_after is not None and counter[0] >= stop_after:
                raise InterruptedForTestError
            first = run_base if s.common_numbers else run_base + lo * reps
            m, v = evaluate_points(prob, x[lo:hi], s.seed, first, reps, s.common_numbers)
            store.write_part(wave, c, m, v)
            counter[0] += 1
            bar.update((hi - lo) * reps)
        means.append(m)
        vars_.append(v)
    return np.concatenate(means), np.concatenate(vars_)


class InterruptedForTestError(Exception):
    """Raised by the test hook ``stop_after`` to simulate an interruption between chunks."""


def _runs_done(store: Store, s: Settings) -> int:
    n = 0
    for p in store.parts.glob("w*-c*.npz"):
        wave = int(p.name[1:3])
        chunk = int(p.name[5:10])
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


def run(prob: Problem, s: Settings, out: str | Path, resume: bool = False, fresh: bool = False,
        progress: bool = True, stop_after: int | None = None, desc: str = "calibrate"
        ) -> Calibration:
    """Run (or resume) a calibration in folder ``out``; see the module docstring.

    ``stop_after``: (tests) raise after computing that many new chunks, as an interruption would.
    """
    s.check()
    t0 = time.perf_counter()
    store = Store(Path(out))
    start = load_start(s.start) if s.start and s.start_share > 0 else None
    manifest = {"format": FORMAT, "settings": asdict(s), "problem": prob.describe(),
                "start": start, "code": fingerprint()}
    store.open(manifest, resume=resume, fresh=fresh)
    n_w, R = s.points_per_wave, s.replicates
    done = _runs_done(store, s)
    bar = _Progress(s.total_runs, done, progress, desc)
    counter = [0]
    try:
        us, waves, means, vars_, designs = [], [], [], [], []
        orders, kept, at_cut = [], [], []
        pool = np.zeros(0, dtype=np.int64)
        for w in range(s.waves):
            des = store.read_design(w)
            if des is None:
                if w == 0:
                    n_start = round(s.start_share * n_w)
                    u0 = sobol_design(n_w - n_start, prob.dim, s.seed)
                    if n_start:
                        centre = prob.to_unit(start)
                        u0 = np.concatenate([u0, start_design(
                            n_start, centre, s.start_scale, s.subspace, s.seed)])
                    des = {"u": u0}
                else:
                    parents = np.concatenate(us)[pool]
                    u, pick, cov = perturbed_design(parents, n_w, s.kernel_scale, s.seed, w,
                                                    s.subspace)
                    des = {"u": u, "parents": parents, "pick": pick, "cov": cov}
                store.write_design(w, **des)
            designs.append(des)
            x = prob.to_values(des["u"])
            bar.note(f"wave {w + 1}/{s.waves}")
            # Common random numbers: every wave's replicate r runs on stream r, so that points
            # of all waves are compared on the same draws (paired, far less noisy rankings).
            base = 0 if s.common_numbers else w * n_w * R
            m, v = _run_stage(store, prob, s, w, x, base, R, bar, stop_after, counter)
            us.append(des["u"])
            waves.append(np.full(n_w, w))
            means.append(m)
            vars_.append(v)
            imp_w = TG.implausibility(m, v, R, prob.targets)
            at_cut.append(int((TG.kth_max(imp_w, s.order) < s.cutoff).sum()))
            mean_all, var_all = np.concatenate(means), np.concatenate(vars_)
            pool, k = _select(mean_all, var_all, prob.targets, s, n_w)
            orders.append(k)
            kept.append(len(pool))
        u_all = np.concatenate(us)
        mean_all, var_all = np.concatenate(means), np.concatenate(vars_)
        imp_all = TG.implausibility(mean_all, var_all, R, prob.targets)
        # ABC: the NROY points of smallest distance, re-run with fresh replicates.
        dist = TG.distance(mean_all, prob.targets)
        in_pool = np.zeros(len(u_all), dtype=bool)
        in_pool[pool] = True
        rank = np.lexsort((dist, ~in_pool))                   # pool first, then by distance
        cand = np.sort(rank[: s.candidates])
        bar.note("re-runs")
        cm, cv = _run_stage(store, prob, s, FINAL_WAVE, prob.to_values(u_all[cand]),
                            FINAL_BASE, s.final_replicates, bar, stop_after, counter)
    finally:
        bar.close()
    cdist = TG.distance(cm, prob.targets)
    accepted = np.argsort(cdist, kind="stable")[: s.posterior]
    weights, ess = _weights(u_all[cand[accepted]], cdist[accepted],
                            designs if s.proposal_has_density else None)
    return Calibration(problem=prob, settings=s, u=u_all, wave=np.concatenate(waves),
                       mean=mean_all, var=var_all, imp=imp_all, orders=orders, nroy=kept,
                       nroy_at_cutoff=at_cut, cand=cand, cand_mean=cm, cand_var=cv,
                       cand_dist=cdist, accepted=accepted, weights=weights, ess=ess,
                       seconds=time.perf_counter() - t0, runs_done=s.total_runs)


def _weights(u: np.ndarray, dist: np.ndarray, designs: Sequence[dict] | None
             ) -> tuple[np.ndarray, float]:
    """Importance weights of the accepted points: Epanechnikov kernel of the distance (the
    largest accepted distance is the tolerance) times prior / proposal, truncated at
    mean * sqrt(n) (Ionides 2008); returns (weights summing to 1, effective sample size).

    ``designs`` None: the waves' proposal has no density to divide by (subspace moves put mass
    on lower-dimensional slices), and the weights are the kernel alone: the accepted sets then
    sample the calibrated region as the waves found it, not the prior restricted to it."""
    eps = dist.max() * (1.0 + 1e-9)
    kern = 1.0 - (dist / eps) ** 2
    logw = np.log(np.maximum(kern, 1e-300))
    if designs is not None:
        logw = logw - log_proposal(u, designs)                            # uniform prior
    w = np.exp(logw - logw.max())
    w /= w.sum()
    cap = w.mean() * math.sqrt(len(w))
    for _ in range(50):
        over = w > cap
        if not over.any():
            break
        w = np.minimum(w, cap)
        w /= w.sum()
    ess = float(1.0 / (w ** 2).sum())
    return w, ess


# ----------------------------------------------------------------------------- posterior
def write_posterior(cal: Calibration, path: Path, header: Mapping[str, str]) -> Path:
    """The posterior CSV: '#' header lines (provenance), then one row per accepted set, best
    first; columns the free parameters, ``distance`` and ``weight``."""
    df = cal.posterior_frame()
    lines = [f"# {k}: {v}" for k, v in header.items()]
    body = df.to_csv(index=False, float_format="%.6g", lineterminator="\n")
    _atomic_text(Path(path), "\n".join(lines) + "\n" + body)
    return Path(path)


# ---------------------------------------------------------------------------- provenance
def provenance(cal: Calibration, min_abs: float = 0.1, top: int = 3) -> pd.DataFrame:
    """Which targets inform which parameter: Spearman rank correlation between the parameter
    and the target's standardised discrepancy over the wave-0 Sobol design (a global,
    prior-wide sensitivity). Keeps |rho| >= ``min_abs``, and at least the ``top`` strongest
    targets of every parameter."""
    from scipy.stats import spearmanr

    sel = cal.wave == 0
    x = cal.u[sel]
    d = TG.discrepancy(cal.mean[sel], cal.problem.targets)
    keep_t = d.std(axis=0) > 0
    rho = np.zeros((x.shape[1], d.shape[1]))
    if keep_t.any():
        r = spearmanr(np.hstack([x, d[:, keep_t]])).statistic
        rho[:, keep_t] = np.asarray(r)[: x.shape[1], x.shape[1]:]
    rho = np.nan_to_num(rho)
    rows = []
    ts = cal.problem.targets.targets
    for i, n in enumerate(cal.names):
        order = np.argsort(-np.abs(rho[i]))
        for rank, j in enumerate(order):
            if abs(rho[i, j]) < min_abs and rank >= top:
                break
            if rho[i, j] == 0:
                break
            t = ts[j]
            rows.append({"parameter": n, "target": t.id, "strength": round(float(rho[i, j]), 3),
                         "family": t.family, "events": " ".join(t.events)})
    return pd.DataFrame(rows, columns=["parameter", "target", "strength", "family", "events"])


def identification(cal: Calibration) -> pd.DataFrame:
    """Per parameter: prior and posterior mean and sd, their ratio, and the KS statistic of the
    (weight-resampled) posterior against the uniform prior; ``identified`` when the posterior
    sd is below 70 % of the prior's or the KS statistic exceeds 0.3."""
    from scipy.stats import kstest

    post = cal.posterior_frame()
    w = post["weight"].to_numpy()
    rows = []
    rng = _rng(cal.settings.seed, 0, 9)
    idx = rng.choice(len(post), size=2000, p=w / w.sum())
    for k, n in enumerate(cal.names):
        lo, hi = cal.problem.lo[k], cal.problem.hi[k]
        v = post[n].to_numpy()
        m = float(np.sum(w * v) / w.sum())
        sd = float(np.sqrt(np.sum(w * (v - m) ** 2) / w.sum()))
        psd = (hi - lo) / math.sqrt(12.0)
        ks = float(kstest(v[idx], "uniform", args=(lo, hi - lo)).statistic)
        rows.append({"parameter": n, "default": P.table()[n].default, "prior_lo": lo,
                     "prior_hi": hi, "post_mean": m, "post_sd": sd, "sd_ratio": sd / psd,
                     "ks": ks, "identified": bool(sd / psd < 0.7 or ks > 0.3)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ scoring
def history_runs(params: str | Path | Mapping | None, runs: int, seed: int,
                 months: int | None = None):
    """History replay with the posterior (a path or Posterior: per-run draws), table defaults
    (``None``) or one mapping for all runs."""
    sc = history_scenario()
    if params is None or isinstance(params, Mapping):
        return engine.simulate(sc, runs=runs, seed=seed, months=months,
                               params=dict(params or {}))
    post = params if isinstance(params, Posterior) else load_posterior(params)
    rows = draw_params(seed, range(runs), post, exclude=tuple(sc.params))
    return engine.simulate(sc, runs=runs, seed=seed, months=months, params=rows)


def split_scores(res, split: str = SPLIT) -> dict:
    """history-check scores of a history ensemble: in sample (up to ``split``), out of sample
    (after it) and all."""
    from model.analysis.history import score

    nxt = month_label(split, 1)
    return {"in": score(res, until=split), "out": score(res, since=nxt), "all": score(res)}


# -------------------------------------------------------------------------------- report
def _plt():
    """matplotlib's pyplot on the file-only Agg backend."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _savefig(fig, path: Path) -> Path:
    plt = _plt()

    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    try:
        fig.savefig(tmp, dpi=90, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if tmp.exists():
            tmp.unlink()
    return path


def _plot_marginals(cal: Calibration, ident: pd.DataFrame, path: Path) -> Path:
    plt = _plt()

    post = cal.posterior_frame()
    w = post["weight"].to_numpy()
    order = ident.sort_values("sd_ratio")["parameter"].tolist()
    n = len(order)
    cols = 10
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.0 * cols, 1.55 * rows))
    for ax in np.ravel(axes)[n:]:
        ax.axis("off")
    for ax, name in zip(np.ravel(axes), order, strict=False):
        k = cal.names.index(name)
        lo, hi = cal.problem.lo[k], cal.problem.hi[k]
        bins = np.linspace(lo, hi, 21)
        ax.hist(cal.problem.to_values(cal.u[cal.wave == 0])[:, k], bins=bins, density=True,
                color="0.8", label="prior (wave 0)")
        ax.hist(post[name], bins=bins, weights=w, density=True, color="tab:blue", alpha=0.75,
                label="posterior")
        ax.axvline(P.table()[name].default, color="tab:red", lw=1)
        ax.set_title(name, fontsize=7)
        ax.tick_params(labelsize=5)
        ax.set_yticks([])
    fig.suptitle("Prior (grey) vs weighted posterior (blue); red: table default. Ordered from "
                 "most to least narrowed (posterior sd / prior sd)", fontsize=10)
    fig.tight_layout()
    return _savefig(fig, path)


def _plot_pairs(cal: Calibration, path: Path, n_pairs: int = 6) -> tuple[Path, list]:
    plt = _plt()

    post = cal.posterior_frame()
    x = post[list(cal.names)].to_numpy()
    w = post["weight"].to_numpy()
    sd = x.std(axis=0)
    ok = sd > 0
    c = np.zeros((x.shape[1], x.shape[1]))
    if ok.sum() > 1:
        c[np.ix_(ok, ok)] = np.corrcoef(x[:, ok], rowvar=False)
    iu = np.triu_indices(x.shape[1], 1)
    top = np.argsort(-np.abs(c[iu]))[:n_pairs]
    pairs = [(cal.names[iu[0][t]], cal.names[iu[1][t]], float(c[iu][t])) for t in top]
    fig, axes = plt.subplots(2, 3, figsize=(12, 7.5))
    for ax, (a, b, r) in zip(np.ravel(axes), pairs, strict=False):
        ax.scatter(post[a], post[b], s=6 + 400 * w, alpha=0.6)
        ax.set_xlabel(a)
        ax.set_ylabel(b)
        ax.set_title(f"r = {r:+.2f}")
    fig.suptitle("Most correlated parameter pairs in the posterior (marker size: weight)")
    fig.tight_layout()
    return _savefig(fig, path), pairs


def _band(ax, dates, arr, color, label) -> None:
    q = np.quantile(arr, [0.05, 0.5, 0.95], axis=0)
    ax.fill_between(dates, q[0], q[2], color=color, alpha=0.2)
    ax.plot(dates, q[1], color=color, label=label, lw=1.2)


def _plot_bands(res_by: Mapping[str, object], path: Path) -> Path:
    plt = _plt()

    from model.analysis.history import patterns
    from model.core import spec
    from model.inputs.catalog import load_catalog

    first = next(iter(res_by.values()))
    dates = pd.to_datetime(pd.Series(first.dates), format="%Y-%m")
    fig, axes = plt.subplots(3, 1, figsize=(13, 11), sharex=True)
    colors = {"table defaults": "tab:gray", f"posterior (fit .. {SPLIT})": "tab:orange",
              "posterior (fit on all)": "tab:blue"}
    for label, res in res_by.items():
        col = colors.get(label, "tab:green")
        _band(axes[0], dates, res.trust_series("PAK_MIL", "US").astype(float), col,
              f"{label}")
        _band(axes[1], dates, res.trust_series("US", "PAK_MIL").astype(float), col, label)
        _band(axes[2], dates, res.aid[:, :, spec.AID_MIL].astype(float)
              + res.aid[:, :, spec.AID_CIV].astype(float), col, label)
    axes[0].set_ylabel("trust PAK_MIL -> US")
    axes[1].set_ylabel("trust US -> PAK_MIL")
    axes[2].set_ylabel("US aid to Pakistan ($M / month)")
    cat = load_catalog()
    for ev in cat.decisions():
        for ax in axes:
            ax.axvline(pd.Timestamp(ev.month), color="0.85", lw=0.6, zorder=0)
    for ev in cat.shocks():
        for ax in axes[:2]:
            ax.axvline(pd.Timestamp(ev.month), color="tab:red", lw=0.5, alpha=0.4, zorder=0)
    for p in patterns():
        for ax in axes[:2]:
            ax.axvspan(pd.Timestamp(p.after[0]), pd.Timestamp(p.after[1]), color="tab:purple",
                       alpha=0.08)
            ax.text(pd.Timestamp(p.after[0]), 0.02, p.id, fontsize=7, color="tab:purple",
                    transform=ax.get_xaxis_transform())
    # documented aid figures as monthly levels
    axes[2].hlines(1000 / 12, pd.Timestamp("2011-01"), pd.Timestamp("2011-12"), color="k",
                   lw=2, label="'$1 bln a year' (2011)")
    axes[2].hlines(7500 / 60, pd.Timestamp("2009-10"), pd.Timestamp("2014-09"), color="k",
                   lw=2, ls="--", label="$7.5 bn / 5 yr civilian (2009-14)")
    for ax in axes:
        ax.legend(fontsize=7, loc="upper left")
    axes[0].set_title("Simulated history, median and 5-95 % band; grey lines: documented "
                      "decisions, red: shocks, purple: windows of the documented turns")
    fig.tight_layout()
    return _savefig(fig, path)


def _plot_identification(ident: pd.DataFrame, path: Path) -> Path:
    plt = _plt()

    d = ident.sort_values("sd_ratio")
    fig, ax = plt.subplots(figsize=(8, max(6, 0.16 * len(d))))
    ax.barh(d["parameter"], d["sd_ratio"], color=np.where(d["identified"], "tab:blue",
                                                           "0.7"))
    ax.axvline(0.7, color="tab:red", lw=0.8)
    ax.set_xlabel("posterior sd / prior sd (blue: identified)")
    ax.tick_params(axis="y", labelsize=6)
    ax.invert_yaxis()
    fig.tight_layout()
    return _savefig(fig, path)


def _md_table(df: pd.DataFrame, floatfmt: str = ".2f") -> str:
    cols = list(df.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, float | np.floating):
                cells.append(format(v, floatfmt))
            else:
                cells.append(str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _decision_table(scores: Mapping[str, dict], split: str = SPLIT) -> pd.DataFrame:
    """One row per documented decision: its share under each parameter source."""
    frames = []
    for label, sc in scores.items():
        d = sc["all"].decisions[["id", "action", "documented", "share"]].copy()
        d = d.rename(columns={"share": label})
        frames.append(d.set_index(["id", "action", "documented"]))
    tab = pd.concat(frames, axis=1).reset_index()
    tab.insert(3, "period", np.where(tab["documented"] <= split, "in", "out"))
    return tab


def write_report(val: Calibration, full: Calibration, dest: Path, runs: int = 200,
                 seed: int = 0) -> Path:
    """reports/calibration.md and its PNG plots (reports/calibration_*.png)."""
    dest.mkdir(parents=True, exist_ok=True)
    sc = history_scenario()
    post_val = Posterior(frame=val.posterior_frame(), path=Path("until"))
    post_full = Posterior(frame=full.posterior_frame(), path=Path("full"))
    res = {
        "table defaults": history_runs(None, runs, seed),
        f"posterior (fit .. {SPLIT})": history_runs(post_val, runs, seed),
        "posterior (fit on all)": history_runs(post_full, runs, seed),
    }
    scores = {k: split_scores(r) for k, r in res.items()}
    ident = identification(full)
    ident_val = identification(val)
    prov = provenance(full)
    figs = {
        "marginals": _plot_marginals(full, ident, dest / "calibration_marginals.png"),
        "identification": _plot_identification(ident, dest / "calibration_identification.png"),
        "bands": _plot_bands(res, dest / "calibration_bands.png"),
    }
    figs["pairs"], pairs = _plot_pairs(full, dest / "calibration_pairs.png")
    lines = ["# Calibration report", "",
             "Generated by `python -m model calibrate --report` "
             f"(seed {full.settings.seed}, budget {full.settings.budget:,} runs per fit, code "
             f"{fingerprint()}). Method, targets and tolerances: `docs/calibration.md`; "
             "settings: `model/data/calibration.yaml`.", ""]
    lines += ["## Runs", "", "```", summary_text(val), "", summary_text(full), "```", ""]
    lines += ["## History check in and out of sample", "",
              f"`history-check` scores ({runs} history runs, seed {seed}; a decision is "
              "reproduced when its actor makes it within +-6 months in more than half of the "
              f"runs). In sample: documented decisions up to {SPLIT}; out of sample: after. "
              "The posterior of the fit up to 2011 has seen only the in-sample targets.", "",
              "| parameters | in sample | out of sample | all |", "|---|---|---|---|"]
    for label, s in scores.items():
        lines.append(f"| {label} | {s['in'].reproduced}/{s['in'].total} | "
                     f"{s['out'].reproduced}/{s['out'].total} | "
                     f"{s['all'].reproduced}/{s['all'].total} |")
    lines += ["", "Documented turns (share of runs showing the turn):", "",
              "| parameters | " + " | ".join(p for p in scores["table defaults"]["all"]
                                               .patterns["id"]) + " |",
              "|---|" + "---|" * len(scores["table defaults"]["all"].patterns)]
    for label, s in scores.items():
        lines.append(f"| {label} | " + " | ".join(f"{v:.2f}" for v in
                                                  s["all"].patterns["share"]) + " |")
    lines += ["", "### Decision reproduction (share of runs within +-6 months)", "",
              _md_table(_decision_table(scores)), ""]
    lines += ["### history-check table, posterior fitted up to 2011, scored after 2011", "",
              "```", scores[f"posterior (fit .. {SPLIT})"]["out"].text(), "```", ""]
    lines += ["### history-check table, posterior fitted on all targets", "", "```",
              scores["posterior (fit on all)"]["all"].text(), "```", ""]
    # targets fit
    ts = full.problem.targets
    best = full.accepted[0]
    wmean = (full.cand_mean[full.accepted] * full.weights[:, None]).sum(axis=0)
    imp = TG.implausibility(full.cand_mean[best: best + 1], full.cand_var[best: best + 1],
                            full.settings.final_replicates, ts)[0]
    tdf = pd.DataFrame({"target": ts.ids, "z": ts.z, "posterior mean": wmean,
                        "best set": full.cand_mean[best], "I (best)": imp})
    lines += ["## Targets (fit on all)", "",
              "z: documented value; decisions and turns are shares of runs (z = 1); counts are "
              "months with the action (one-sided: only an excess counts); figures in $M. "
              "I: implausibility of the best set (cut-off 3).", "",
              _md_table(tdf), ""]
    lines += ["## Plots", "",
              "Prior vs posterior marginals:", "", "![marginals](calibration_marginals.png)", "",
              "Most correlated pairs:", "", "![pairs](calibration_pairs.png)", "",
              "Simulated trust and aid against the documented timeline:", "",
              "![bands](calibration_bands.png)", "",
              "Identification (posterior sd / prior sd):", "",
              "![identification](calibration_identification.png)", ""]
    idd = ident[ident["identified"]].sort_values("sd_ratio")
    notid = ident[~ident["identified"]].sort_values("sd_ratio")
    lines += ["## What the events identify", "",
              f"ESS of the posterior weights: {full.ess:.1f} of {len(full.accepted)} sets "
              f"(fit on all), {val.ess:.1f} (fit up to {SPLIT}). A parameter counts as "
              "identified when its posterior sd is below 70 % of the prior's or the "
              "Kolmogorov-Smirnov distance of its posterior from the uniform prior exceeds 0.3. "
              f"The median posterior sd is {ident['sd_ratio'].median():.3f} of the prior's: the "
              "accepted sets lie where the search concentrated its points (a local search "
              "around its best region, not a sample of everything the targets allow), so the "
              "spread understates parameter uncertainty and 'identified' is an upper bound. The "
              "provenance column says which targets move the parameter across the whole prior "
              "(wave 0).", ""]
    top_prov = (prov.assign(a=prov["strength"].abs()).sort_values("a", ascending=False)
                .groupby("parameter").head(3).groupby("parameter")["target"]
                .apply(", ".join))
    for title, df in (("Identified", idd), ("Not identified (posterior close to prior)",
                                             notid)):
        show = df[["parameter", "default", "post_mean", "post_sd", "sd_ratio", "ks"]].copy()
        show["calibrated from"] = [top_prov.get(n, "") for n in show["parameter"]]
        lines += [f"### {title} ({len(df)})", "", _md_table(show), ""]
    vid = set(ident_val[ident_val["identified"]]["parameter"])
    lines += [f"Identified already by the targets up to {SPLIT}: "
              f"{len(vid & set(idd['parameter']))} of {len(idd)}.", ""]
    lines += ["## Most correlated posterior pairs", "",
              _md_table(pd.DataFrame(pairs, columns=["a", "b", "r"])), ""]
    path = dest / "calibration.md"
    _atomic_text(path, "\n".join(lines) + "\n")
    del sc
    return path


# ---------------------------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--budget", type=int, default=None,
                   help="total simulation runs (default: calibration.yaml, ~420k)")
    p.add_argument("--out", default=None,
                   help=f"working folder root (default {DEFAULT_OUT.relative_to(ROOT)})")
    p.add_argument("--resume", action="store_true", help="continue an interrupted calibration")
    p.add_argument("--fresh", action="store_true", help="discard a previous calibration in DIR")
    p.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    p.add_argument("--until", default=None, metavar="YYYY-MM",
                   help="fit on targets up to this month only (validation); does not install")
    p.add_argument("--report", action="store_true",
                   help=f"fit up to {SPLIT} and on all targets (resuming finished work), check "
                        "out of sample, and write reports/calibration.md with plots")
    p.add_argument("--no-install", action="store_true",
                   help="do not write model/data/posterior.csv and provenance.csv")
    p.add_argument("--runs", type=int, default=200,
                   help="history runs for the checks with the posterior (default 200, as "
                        "history-check)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def fit(until: str | None, seed: int, budget: int | None, root: Path, resume: bool,
        fresh: bool, progress: bool) -> Calibration:
    """One calibration of the history replay in ``root/full`` or ``root/until-YYYY-MM``."""
    # A validation fit (--until) starts from the prior alone: the start point was fitted to
    # every target, and starting from it would let the later targets leak into the fit.
    s = Settings.from_config(seed=seed, budget=budget, until=until,
                             **({"start_share": 0.0} if until else {}))
    prob = history_problem(until)
    sub = root / ("full" if until is None else f"until-{until}")
    label = "calibrate" if until is None else f"calibrate ..{until}"
    return run(prob, s, sub, resume=resume, fresh=fresh, progress=progress, desc=label)


def _header(cal: Calibration) -> dict[str, str]:
    s = cal.settings
    cmd = f"python -m model calibrate --seed {s.seed} --budget {s.budget}"
    if s.until:
        cmd += f" --until {s.until}"
    return {"afpak calibration posterior": f"{len(cal.accepted)} sets, best first",
            "command": cmd, "code": fingerprint(),
            "targets": f"{len(cal.problem.targets)} ({cal.problem.targets.start} .. "
                       f"{s.until or 'end'})",
            "ess": f"{cal.ess:.1f}"}


def summary_text(cal: Calibration) -> str:
    s = cal.settings
    lines = [f"calibration: {s.total_runs:,} runs in {cal.seconds:.0f} s, "
             f"{len(cal.names)} free parameters, {len(cal.problem.targets)} targets"
             + (f" (up to {s.until})" if s.until else "")]
    for w in range(s.waves):
        lines.append(f"  wave {w}: {s.points_per_wave} points x {s.replicates} runs, "
                     f"NROY at order {s.order}: {cal.nroy_at_cutoff[w]}, order used "
                     f"{cal.orders[w]}, pool {cal.nroy[w]}")
    d = cal.cand_dist[cal.accepted]
    lines.append(f"  ABC: {s.candidates} candidates x {s.final_replicates} fresh runs, "
                 f"accepted {len(cal.accepted)}, distance {d.min():.3f} .. {d.max():.3f}, "
                 f"ESS {cal.ess:.1f}")
    return "\n".join(lines)


def cmd_calibrate(args: argparse.Namespace) -> int:
    """``python -m model calibrate``: see the module docstring."""
    root = Path(args.out) if args.out else DEFAULT_OUT
    progress = not args.quiet
    if args.report:
        return _report_flow(args, root, progress)
    t0 = time.perf_counter()
    cal = fit(args.until, args.seed, args.budget, root, args.resume, args.fresh, progress)
    sub = root / ("full" if args.until is None else f"until-{args.until}")
    write_posterior(cal, sub / "posterior.csv", _header(cal))
    prov = provenance(cal)
    prov.to_csv(sub / "provenance.csv", index=False)
    _say(summary_text(cal))
    if args.until is None and not args.no_install:
        write_posterior(cal, POSTERIOR_PATH, _header(cal))
        _atomic_text(PROVENANCE_PATH, prov.to_csv(index=False, lineterminator="\n"))
        _say(f"wrote {POSTERIOR_PATH.relative_to(ROOT)} ({len(cal.accepted)} sets) and "
             f"{PROVENANCE_PATH.relative_to(ROOT)}")
    _say(f"wrote {sub / 'posterior.csv'}")
    post = load_posterior(sub / "posterior.csv")
    res = history_runs(post, args.runs, args.seed)
    sc = split_scores(res)
    split = args.until or SPLIT
    if args.until:
        sc = split_scores(res, split)
    _say(f"history-check with this posterior ({args.runs} runs):")
    _say(f"  in sample (.. {split}):   reproduced={sc['in'].reproduced}/{sc['in'].total}")
    _say(f"  out of sample ({month_label(split, 1)} ..): "
         f"reproduced={sc['out'].reproduced}/{sc['out'].total}")
    _say(f"  all:                     reproduced={sc['all'].reproduced}/{sc['all'].total}")
    _say(f"total wall time {time.perf_counter() - t0:.0f} s")
    return 0


def _report_flow(args: argparse.Namespace, root: Path, progress: bool) -> int:
    t0 = time.perf_counter()
    val = fit(SPLIT, args.seed, args.budget, root, True, args.fresh, progress)
    full = fit(None, args.seed, args.budget, root, True, args.fresh, progress)
    for cal, sub in ((val, root / f"until-{SPLIT}"), (full, root / "full")):
        write_posterior(cal, sub / "posterior.csv", _header(cal))
        provenance(cal).to_csv(sub / "provenance.csv", index=False)
    if not args.no_install:
        write_posterior(full, POSTERIOR_PATH, _header(full))
        _atomic_text(PROVENANCE_PATH, provenance(full).to_csv(index=False, lineterminator="\n"))
    path = write_report(val, full, REPORTS, runs=args.runs, seed=args.seed)
    _say(summary_text(val))
    _say(summary_text(full))
    _say(f"wrote {path} ({time.perf_counter() - t0:.0f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m model.calibration.calibrate ...`` (the same as ``python -m model calibrate
    ...``)."""
    parser = argparse.ArgumentParser(prog="python -m model calibrate",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return cmd_calibrate(args)
    except ModelInputError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: finished chunks are kept; rerun with --resume\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
