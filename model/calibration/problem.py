"""What is calibrated: a scenario, the months simulated, the targets and the free parameters
with their prior box (``Problem``); the history replay's problem (``history_problem``); and the
code fingerprint that a calibration's working folder and posterior header record."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from model.calibration import targets as TG
from model.calibration.settings import CalibrationError
from model.core import params as P
from model.engine import runner as engine
from model.inputs.scenario import Scenario, load_scenario, month_index
from model.io.paths import ROOT, SCENARIOS

#: Data files that a calibration's numbers depend on (besides the code, which ``fingerprint``
#: probes by running it).
FINGERPRINT_FILES = ("model/data/parameters.yaml", "model/data/events.yaml",
                     "model/data/patterns.yaml", "model/data/calibration.yaml",
                     "scenarios/history.yaml")


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
    """The free parameters: every parameter of the table except those the table fixes (an
    entry's ``fixed: "REASON"`` in parameters.yaml, ``model.core.params.fixed``). A ``fixed:``
    section in calibration.yaml (where fixed parameters were listed before) is refused, so that
    the table stays the one source of truth."""
    cfg = cfg if cfg is not None else TG.config()
    if "fixed" in cfg:
        raise CalibrationError(
            f"model/data/calibration.yaml: a 'fixed:' section ({sorted(cfg['fixed'] or {})}) is "
            f"no longer read; fix a parameter in {P.TABLE_FILE} with the field "
            f"fixed: \"REASON\" in its entry")
    fixed = P.fixed()
    return tuple(n for n in P.names() if n not in fixed)


#: How the reasons of the fixes that the screening writes begin (scripts/fix_by_screening.py).
SCREENING_FIX = "screening ("


def screened_parameters(cfg: Mapping | None = None) -> tuple[str, ...]:
    """What the screening ranks: the free parameters and those fixed by an earlier screening
    (a reason beginning ``SCREENING_FIX``), so that a rerun re-decides the cut; parameters fixed
    for a documented reason stay out."""
    free = set(free_parameters(cfg))
    fixed = P.fixed()
    return tuple(n for n in P.names()
                 if n in free or fixed.get(n, "").startswith(SCREENING_FIX))


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


def history_problem(until: str | None = None, cfg: Mapping | None = None,
                    names: Sequence[str] | None = None) -> Problem:
    """The calibration of the history replay, on targets up to ``until`` (inclusive).

    With ``until`` the runs stop ``window`` months after it (so that a decision near the end of
    the period has its whole window) and only targets inside the period are used."""
    cfg = cfg if cfg is not None else TG.config()
    sc = history_scenario(cfg)
    months = sc.months
    if until is not None:
        window = TG.window_setting(cfg)
        window = 12 if window == TG.TIMING else window   # timing windows reach a year
        months = min(sc.months, month_index(sc.start, until) + 1 + window)
        if months < 12:
            raise CalibrationError(f"--until {until}: the history starts at {sc.start}")
    ts = TG.build(sc.start, months, until=until, cfg=cfg)
    names = tuple(names) if names is not None else free_parameters(cfg)
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
