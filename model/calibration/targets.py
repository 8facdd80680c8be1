"""Calibration targets of the history replay, drawn from the event catalog.

Four families (tolerances and their reasons in ``model/data/calibration.yaml``, the method in
``docs/calibration.md``):

- ``decision``: a documented decision (one target per action and month) is made by its actor
  within +-window months: f = 1 or 0 per run, z = 1;
- ``count``: false-positive control: the number of months in which an action is chosen over the
  scored window, one-sided against a limit set from the number of documented moves;
- ``figure``: a documented figure of the catalog (``magnitude``), e.g. the $7.5 bn civilian
  package, computed on the simulated aid series;
- ``pattern``: a documented turn (``model/data/patterns.yaml``) shows in the run: f = 1 or 0.

``evaluate`` turns a batch of runs into a runs x targets array of f; ``point_summary`` reduces
replicate runs to means and variances; ``implausibility`` and ``distance`` score the points.
Everything is vectorised over runs and points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np
import yaml

from model.analysis import history
from model.core import spec
from model.engine.runner import Results
from model.inputs.catalog import Event, load_catalog
from model.inputs.scenario import month_index, month_label

FAMILIES = ("decision", "count", "figure", "pattern")


@cache
def _config_cached() -> dict:
    text = resources.files("model.data").joinpath("calibration.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def config() -> dict:
    """The calibration settings (``model/data/calibration.yaml``), as a fresh copy."""
    import copy

    return copy.deepcopy(_config_cached())


@dataclass(frozen=True)
class Target:
    """One calibration target: f computed per run, z documented, with its tolerances.

    ``first``/``last``: the months the target needs (for the in-sample/out-of-sample split);
    ``events``: the catalog events it stands for.
    """

    id: str
    family: str
    z: float
    sigma_disc: float
    sigma_obs: float
    first: str
    last: str
    description: str
    events: tuple[str, ...] = ()
    one_sided: bool = False
    action: str | None = None
    month: str | None = None
    limit: float | None = None
    flows: tuple[int, ...] = ()
    statistic: str | None = None
    offset: int = 0
    months: int = 0
    pattern: str | None = None

    @property
    def scale(self) -> float:
        """Tolerance of the ABC distance: sqrt(sigma_disc^2 + sigma_obs^2)."""
        return float(np.hypot(self.sigma_disc, self.sigma_obs))


@dataclass
class TargetSet:
    """The targets of one period of the history replay, with the run layout they need."""

    start: str
    months: int
    window: int
    targets: list[Target]
    weights: np.ndarray = field(repr=False)
    decisions: list[Event] = field(repr=False, default_factory=list)
    #: the decision targets' statistic (calibration.yaml ``decisions: statistic:``): ``hit``
    #: (made inside the window) or ``contrast`` (hit minus the run's own rate for a window of
    #: that length anywhere: rewards timing, not frequency; ``_contrast``)
    decision_stat: str = "hit"

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.targets]

    def family(self, name: str) -> np.ndarray:
        return np.array([t.family == name for t in self.targets], dtype=bool)

    @property
    def z(self) -> np.ndarray:
        return np.array([t.z for t in self.targets])

    @property
    def scale(self) -> np.ndarray:
        return np.array([t.scale for t in self.targets])

    @property
    def one_sided(self) -> np.ndarray:
        return np.array([t.one_sided for t in self.targets], dtype=bool)


def _in_period(first: str, last: str, lo: str, hi: str) -> bool:
    return lo <= first and last <= hi


def build(start: str, months: int, until: str | None = None, since: str | None = None,
          cfg: Mapping | None = None, events: Sequence[Event] | None = None) -> TargetSet:
    """The targets of a history replay starting at ``start`` and running ``months`` months,
    restricted to those that lie wholly inside [since, until] (inclusive 'YYYY-MM' bounds)."""
    cfg = dict(cfg) if cfg is not None else config()
    evs = list(events) if events is not None else load_catalog().decisions()
    end = month_label(start, months - 1)
    lo = max(start, since) if since else start
    hi = min(end, until) if until else end
    if lo > hi:
        raise ValueError(f"empty period {lo}..{hi}")
    window = window_setting(cfg)
    decs = history.scored_decisions(start, months, events=evs, until=hi, since=lo)
    out, rep = _decision_targets(decs, cfg["decisions"], window, start, months)
    out += _count_targets(decs, cfg["counts"], lo, hi)
    out += _figure_targets(cfg["figures"], lo, hi)
    out += _pattern_targets(cfg["patterns"], lo, hi)
    weights = _family_weights(out, cfg.get("family_weights", {}))
    stat = str(cfg["decisions"].get("statistic", "hit"))
    if stat not in ("hit", "contrast"):
        raise ValueError(f"calibration.yaml decisions: statistic: {stat!r}; expected hit or "
                         f"contrast")
    return TargetSet(start=start, months=months, window=window, targets=out, decision_stat=stat,
                     weights=weights, decisions=rep)


#: ``window: timing`` in calibration.yaml: each decision's window is the timing score's
#: (``model.analysis.timing.decision_window``: the month +-2, the calendar year of a year-only
#: date, widened where accounts conflict), so that the fit and the yardstick read one window.
TIMING = -1


def window_setting(cfg: Mapping) -> int:
    """calibration.yaml's ``window``: months either side of a decision, or ``TIMING``."""
    raw = cfg.get("window", history.WINDOW)
    return TIMING if raw == "timing" else int(raw)


def _window_of(group: Sequence[Event], month: str, window: int, start: str, months: int
               ) -> tuple[str, str, str]:
    """(first, last, description) of a decision target's window."""
    if window != TIMING:
        return (month_label(month, -window), month_label(month, window),
                f"within +-{window} months of {month}")
    from model.analysis.timing import decision_window

    spans = [decision_window(e, start, months) for e in group]
    lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
    first, last = month_label(start, lo), month_label(start, hi)
    return first, last, f"in {first}..{last} (the timing window of {month})"


def _decision_targets(decs: Sequence[Event], dcfg: Mapping, window: int, start: str,
                      months: int) -> tuple[list[Target], list[Event]]:
    """(a) decisions, one per (action, month); and one representative event of each."""
    groups: dict[tuple[str, str], list[Event]] = {}
    for e in decs:
        groups.setdefault((e.action, e.month), []).append(e)
    out: list[Target] = []
    rep: list[Event] = []
    for (action, month), group in groups.items():
        prec = max((e.precision for e in group), key=("day", "month", "year").index)
        obs = float(dcfg["sigma_obs"][prec])
        if any(e.conflict for e in group):
            obs = float(np.hypot(obs, dcfg["conflict_extra"]))
        first, last, where = _window_of(group, month, window, start, months)
        out.append(Target(
            id=f"decision:{action}@{month}", family="decision", z=1.0,
            sigma_disc=float(dcfg["sigma_disc"]), sigma_obs=obs,
            first=first, last=last, description=f"{action} {where}",
            events=tuple(e.id for e in group), action=action, month=month))
        rep.append(group[0])
    return out, rep


def _count_limit(cls: str, ccfg: Mapping, n: int, n_months: int) -> float:
    """A class bounds the count either by a multiple of the documented moves (factor) or by a
    share of the months (share; at least 3x the documented count)."""
    if "factor" in ccfg:
        return float(ccfg["factor"]) * max(n, 1)
    if "share" in ccfg:
        return max(float(ccfg["share"]) * n_months, 3.0 * max(n, 1))
    raise ValueError(f"calibration.yaml counts: class {cls!r} needs a factor or a share")


def _count_targets(decs: Sequence[Event], counts: Mapping, lo: str, hi: str) -> list[Target]:
    """(b) counts over the period, one-sided."""
    out: list[Target] = []
    for cls, ccfg in counts.items():
        for action in ccfg["actions"]:
            n = len({e.month for e in decs if e.action == action})
            limit = _count_limit(cls, ccfg, n, month_index(lo, hi) + 1)
            out.append(Target(
                id=f"count:{action}", family="count", z=float(n),
                sigma_disc=(limit - n) / 3.0, sigma_obs=0.0, first=lo, last=hi,
                description=f"months with {action} over {lo}..{hi} (documented {n}, "
                            f"limit {limit:g})",
                events=tuple(e.id for e in decs if e.action == action), one_sided=True,
                action=action, limit=limit))
    return out


def _figure_targets(figures: Mapping, lo: str, hi: str) -> list[Target]:
    """(c) documented figures (the catalog's magnitudes) wholly inside [lo, hi]."""
    cat = load_catalog()
    flow_index = {f"{d}->{r}": k for k, (d, r) in enumerate(spec.AID_FLOWS)}
    out: list[Target] = []
    for fid, fc in figures.items():
        ev = cat.event(fc["event"])
        if ev.magnitude is None:
            raise ValueError(f"figure {fid}: event {ev.id} has no magnitude")
        n = int(fc["months"])
        off = int(fc["offset"])
        if fc["statistic"] == "shortfall":
            first, last = month_label(ev.month, off - n), month_label(ev.month, off + n - 1)
        elif fc["statistic"] == "sum":
            first, last = month_label(ev.month, off), month_label(ev.month, off + n - 1)
        else:
            raise ValueError(f"figure {fid}: unknown statistic {fc['statistic']!r}")
        if not _in_period(first, last, lo, hi):
            continue
        z = float(ev.magnitude.value)
        out.append(Target(
            id=f"figure:{fid}", family="figure", z=z, sigma_disc=float(fc["disc_rel"]) * z,
            sigma_obs=float(fc["obs_rel"]) * z, first=first, last=last,
            description=f"{fc['statistic']} of {'+'.join(fc['flows'])} aid over "
                        f"{first}..{last} ($M; documented {z:g})",
            events=(ev.id,), flows=tuple(flow_index[f] for f in fc["flows"]),
            statistic=fc["statistic"], offset=off, months=n, month=ev.month))
    return out


def _pattern_targets(pcfg: Mapping, lo: str, hi: str) -> list[Target]:
    """(d) documented turns wholly inside [lo, hi]."""
    out: list[Target] = []
    for p in history.patterns():
        first = min(p.before[0], p.after[0])
        last = max(p.before[1], p.after[1])
        if not _in_period(first, last, lo, hi):
            continue
        out.append(Target(
            id=f"pattern:{p.id}", family="pattern", z=1.0, sigma_disc=float(pcfg["sigma_disc"]),
            sigma_obs=float(pcfg["sigma_obs"]), first=first, last=last,
            description=p.description, pattern=p.id))
    return out


def _family_weights(out: Sequence[Target], fw: Mapping) -> np.ndarray:
    """Weights of the ABC distance: each family's weight shared equally by its targets,
    normalised to sum 1."""
    weights = np.ones(len(out))
    for fam in FAMILIES:
        idx = [k for k, t in enumerate(out) if t.family == fam]
        if idx:
            weights[idx] = float(fw.get(fam, 1.0)) / len(idx)
    return weights / weights.sum()


def _run_base_rate(chosen: np.ndarray, length: int) -> np.ndarray:
    """Per run, the share of the windows of ``length`` months (every position in the run) that
    hold at least one choice: the run's own chance of a hit by frequency alone (the timing
    score's base rate, ``model.analysis.timing.window_base_rate``, before averaging)."""
    runs, months = chosen.shape
    if length >= months:
        return chosen.any(axis=1).astype(np.float64)
    csum = np.concatenate([np.zeros((runs, 1), dtype=np.int64),
                           chosen.astype(np.int64).cumsum(axis=1)], axis=1)
    return ((csum[:, length:] - csum[:, :-length]) > 0).mean(axis=1)


def evaluate(res: Results, ts: TargetSet) -> np.ndarray:
    """f of every target in every run: runs x targets (float64)."""
    if res.dates[0] != ts.start:
        raise ValueError(f"results start at {res.dates[0]}, targets at {ts.start}")
    out = np.empty((res.runs, len(ts)), dtype=np.float64)
    for k, t in enumerate(ts.targets):     # made inside the target's window (clipped to the run)
        if t.family == "decision":
            act = spec.ACTION_INDEX[t.action]
            actor = spec.ACTOR_INDEX[spec.ACTIONS[act].actor]
            m0 = max(0, month_index(ts.start, t.first))
            m1 = min(res.months - 1, month_index(ts.start, t.last))
            chosen = res.actions[:, :, actor] == act
            out[:, k] = chosen[:, m0:m1 + 1].any(axis=1)
            if ts.decision_stat == "contrast":
                out[:, k] -= _run_base_rate(chosen, m1 - m0 + 1)
    pats = {p.id: p for p in history.patterns()}
    pat_cols = [k for k, t in enumerate(ts.targets) if t.family == "pattern"]
    if pat_cols:
        phits, used = history.pattern_hits(res, tuple(pats[ts.targets[k].pattern]
                                                      for k in pat_cols))
        if len(used) != len(pat_cols):
            raise ValueError("a pattern's window lies outside the runs")
        out[:, pat_cols] = phits
    aid = None
    for k, t in enumerate(ts.targets):
        if t.family == "count":
            m0 = month_index(ts.start, t.first)
            m1 = month_index(ts.start, t.last)
            out[:, k] = res.action_count(t.action)[:, m0:m1 + 1].sum(axis=1)
        elif t.family == "figure":
            if aid is None:
                aid = res.aid.astype(np.float64)
            flow = aid[:, :, list(t.flows)].sum(axis=2)      # runs x (months+1)
            m = month_index(ts.start, t.month) + t.offset    # month k's aid is at step k+1
            after = flow[:, m + 1: m + 1 + t.months].sum(axis=1)
            if t.statistic == "sum":
                out[:, k] = after
            else:
                before = flow[:, m + 1 - t.months: m + 1].sum(axis=1)
                out[:, k] = before - after
    return out


def point_summary(f: np.ndarray, replicates: int) -> tuple[np.ndarray, np.ndarray]:
    """Means and (population) variances over consecutive groups of ``replicates`` runs."""
    n, j = f.shape
    if n % replicates:
        raise ValueError(f"{n} runs are not a whole number of {replicates} replicates")
    g = f.reshape(n // replicates, replicates, j)
    return g.mean(axis=1), g.var(axis=1)


def implausibility(mean: np.ndarray, var: np.ndarray, replicates: int, ts: TargetSet
                   ) -> np.ndarray:
    """Per point and target: |E f - z| / sqrt(var_model + sigma_disc^2 + sigma_obs^2).

    var_model is the run-to-run variance plus the Monte Carlo variance of the mean (a documented
    outcome is one realisation of the stochastic history), except for counts, which target the
    expected count and carry only the Monte Carlo variance of the mean. One-sided targets count
    only an excess over z.
    """
    z = ts.z
    diff = mean - z
    diff = np.where(ts.one_sided, np.maximum(diff, 0.0), np.abs(diff))
    count = ts.family("count")
    vm = np.where(count, var / replicates, var * (1.0 + 1.0 / replicates))
    sd = np.array([t.sigma_disc for t in ts.targets])
    so = np.array([t.sigma_obs for t in ts.targets])
    return diff / np.sqrt(vm + sd ** 2 + so ** 2)


def kth_max(imp: np.ndarray, order: int) -> np.ndarray:
    """The ``order``-th largest implausibility of each point (1 = the maximum)."""
    order = min(order, imp.shape[1])
    return -np.partition(-imp, order - 1, axis=1)[:, order - 1]


def discrepancy(mean: np.ndarray, ts: TargetSet) -> np.ndarray:
    """Standardised signed discrepancy (E f - z) / scale per point and target (one-sided
    targets: only the excess)."""
    d = (mean - ts.z) / ts.scale
    return np.where(ts.one_sided, np.maximum(d, 0.0), d)


def distance(mean: np.ndarray, ts: TargetSet) -> np.ndarray:
    """ABC distance per point: weighted root mean square of the standardised discrepancies."""
    d = discrepancy(mean, ts)
    return np.sqrt((d ** 2 * ts.weights).sum(axis=1))
