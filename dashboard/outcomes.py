"""Named outcomes of an ensemble, one value per run, and how two ensembles differ in them.

An ``Outcome`` is a question asked of every run over a period of months ("is the supply route
closed at some point in 2011?", "PAK_MIL's mean trust in the US in 2012"). Yes/no outcomes are
summarised as the share of runs with a 95% Wilson interval (the Monte Carlo error of the share);
numeric ones as the median with the 5–95% range across runs. The Compare page and the lessons
both use these; ``model.analysis.compare`` may take them over later.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.core import spec
from model.engine.runner import Results

KINDS = ("route_closed", "drones_off", "action", "action_share", "trust", "aid", "state")
BINARY = ("route_closed", "drones_off", "action")


@dataclass(frozen=True)
class Outcome:
    """One question asked of every run over the months ``start``..``end`` (YYYY-MM, inclusive).

    ``kind``: ``route_closed`` (the NATO route is closed at some point), ``drones_off`` (no US
    drones on Pakistani bases at some point), ``action`` (the action is chosen at least once),
    ``action_share`` (share of months the action is chosen), ``trust`` (mean trust of
    ``subject`` = 'A->B'), ``aid`` (mean $M/month of flow ``subject`` = 'US->X'), ``state``
    (mean of the state variable ``subject``). ``subject`` names the action for the action kinds.
    """

    kind: str
    start: str
    end: str
    subject: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown outcome kind {self.kind!r}; expected one of {KINDS}")
        if self.start > self.end:
            raise ValueError(f"outcome period {self.start}..{self.end} is empty")
        if self.kind in ("action", "action_share") and self.subject not in spec.ACTION_INDEX:
            raise ValueError(f"unknown action {self.subject!r}")
        if self.kind == "trust":
            a, _, b = self.subject.partition("->")
            if a not in spec.ACTOR_INDEX or b not in spec.ACTOR_INDEX or a == b:
                raise ValueError(f"trust outcome needs 'A->B', got {self.subject!r}")
        if self.kind == "aid" and self.subject not in [f"{d}->{r}" for d, r in spec.AID_FLOWS]:
            raise ValueError(f"unknown aid flow {self.subject!r}")
        if self.kind == "state" and self.subject not in spec.STATE_INDEX:
            raise ValueError(f"unknown state variable {self.subject!r}")

    @property
    def binary(self) -> bool:
        return self.kind in BINARY

    @property
    def period(self) -> str:
        """'2012' for a calendar year, else '2011-05 to 2012-06'."""
        if self.start[:4] == self.end[:4] and self.start[5:] == "01" and self.end[5:] == "12":
            return self.start[:4]
        if self.start == self.end:
            return self.start
        return f"{self.start} to {self.end}"

    @property
    def label(self) -> str:
        """A short name for tables, with the period."""
        names = {
            "route_closed": "supply route closed at some point",
            "drones_off": "no US drones on Pakistani bases at some point",
            "action": f"{self.subject} chosen at least once",
            "action_share": f"share of months with {self.subject}",
            "trust": f"{self.subject} trust",
            "aid": f"aid {self.subject} ($M/month)",
            "state": f"{self.subject.replace('_', ' ')}",
        }
        return f"{names[self.kind]}, {self.period}"

    def covered(self, res: Results) -> bool:
        """Whether the run covers the whole period."""
        return res.dates[0] <= self.start and self.end <= res.dates[-1]

    def values(self, res: Results) -> np.ndarray:
        """One value per run (1.0/0.0 for yes/no outcomes); raises ValueError when the run does
        not cover the period."""
        if not self.covered(res):
            raise ValueError(f"{self.label}: the run covers {res.dates[0]}..{res.dates[-1]} only")
        steps = [k for k, d in enumerate(res.dates) if self.start <= d <= self.end]
        months = [k for k in steps if k < res.months]
        if self.kind == "route_closed":
            return (res.supply_route_open[:, steps] < 0.5).any(axis=1).astype(float)
        if self.kind == "drones_off":
            return (res.drone_basing[:, steps] < 0.5).any(axis=1).astype(float)
        if self.kind in ("action", "action_share"):
            hit = res.action_count(self.subject)[:, months]
            if self.kind == "action":
                return hit.any(axis=1).astype(float)
            return hit.mean(axis=1) if months else np.zeros(res.runs)
        if self.kind == "trust":
            a, _, b = self.subject.partition("->")
            return res.trust_series(a, b)[:, steps].astype(np.float64).mean(axis=1)
        if self.kind == "aid":
            k = [f"{d}->{r}" for d, r in spec.AID_FLOWS].index(self.subject)
            return res.aid[:, steps, k].astype(np.float64).mean(axis=1)
        return res.state[:, steps, spec.STATE_INDEX[self.subject]].astype(np.float64).mean(axis=1)


def wilson(k: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a share k/n (Wilson 1927); (nan, nan) for n = 0."""
    if n <= 0:
        return math.nan, math.nan
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def summarise(outcome: Outcome, values: np.ndarray) -> tuple[float, float, float]:
    """(estimate, low, high): share with Wilson interval, or median with 5–95% range."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    if outcome.binary:
        lo, hi = wilson(float(v.sum()), v.size)
        return float(v.mean()), lo, hi
    q5, q50, q95 = np.quantile(v, [0.05, 0.5, 0.95])
    return float(q50), float(q5), float(q95)


def describe(outcome: Outcome, est: tuple[float, float, float]) -> str:
    """'62% of runs (95% CI 52–71%)' or '0.21 [0.15, 0.28]'."""
    m, lo, hi = est
    if math.isnan(m):
        return "not in the run's window"
    if outcome.binary:
        return f"{m:.0%} of runs (95% CI {lo:.0%}–{hi:.0%})"
    digits = 0 if outcome.kind == "aid" else 2
    return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _sentence(o: Outcome, a: tuple, b: tuple, name_a: str, name_b: str) -> str:
    if math.isnan(a[0]) or math.isnan(b[0]):
        which = name_a if math.isnan(a[0]) else name_b
        return f"{o.label}: not comparable ({which} does not cover {o.period})."
    if o.binary:
        what = {"route_closed": f"The supply route is closed at some point in {o.period}",
                "drones_off": f"US drones are off Pakistani bases at some point in {o.period}",
                "action": f"{o.subject} is chosen at least once in {o.period}"}[o.kind]
        return f"{what} in {a[0]:.0%} of runs under {name_a} and {b[0]:.0%} under {name_b}."
    digits = 0 if o.kind == "aid" else 2

    def f(t: tuple) -> str:
        return f"{t[0]:.{digits}f} [{t[1]:.{digits}f}, {t[2]:.{digits}f}]"

    what = {"trust": f"{o.subject} trust in {o.period}",
            "aid": f"Aid {o.subject} in {o.period} ($M/month)",
            "action_share": f"Share of months with {o.subject} in {o.period}",
            "state": f"{o.subject.replace('_', ' ').capitalize()} in {o.period}"}[o.kind]
    return f"{what}: {f(a)} under {name_a} vs {f(b)} under {name_b}."


def compare(res_a: Results, res_b: Results, outcomes: Sequence[Outcome],
            name_a: str = "A", name_b: str = "B") -> pd.DataFrame:
    """Each outcome under A and under B with intervals, and a plain-language sentence.

    Columns: outcome, binary, a, a_lo, a_hi, b, b_lo, b_hi, difference (b - a), sentence.
    An outcome outside a run's window gets NaN there and says so.
    """
    rows = []
    for o in outcomes:
        ests = []
        for res in (res_a, res_b):
            ests.append(summarise(o, o.values(res)) if o.covered(res)
                        else (math.nan, math.nan, math.nan))
        a, b = ests
        rows.append({"outcome": o.label, "binary": o.binary,
                     "a": a[0], "a_lo": a[1], "a_hi": a[2],
                     "b": b[0], "b_lo": b[1], "b_hi": b[2],
                     "difference": b[0] - a[0],
                     "sentence": _sentence(o, a, b, name_a, name_b)})
    return pd.DataFrame(rows)


def overlap(res_a: Results, res_b: Results) -> tuple[str, str] | None:
    """The months both runs cover, or None."""
    lo, hi = max(res_a.dates[0], res_b.dates[0]), min(res_a.dates[-1], res_b.dates[-1])
    return (lo, hi) if lo <= hi else None


def default_outcomes(start: str, end: str, year: int, pair: str,
                     covered: tuple[str, str] | None = None) -> list[Outcome]:
    """The Compare page's standard questions over a period, plus trust of a pair in a year
    (clipped to ``covered``, the months both runs cover; default the period)."""
    lo, hi = covered or (start, end)
    y0, y1 = max(f"{year}-01", lo), min(f"{year}-12", hi)
    if y0 > y1:
        y0, y1 = lo, hi
    return [
        Outcome("route_closed", start, end),
        Outcome("drones_off", start, end),
        Outcome("trust", y0, y1, pair),
        Outcome("aid", start, end, "US->PAK_MIL"),
        Outcome("aid", start, end, "US->PAK_CIV"),
        Outcome("action", start, end, "US_SUSPEND_AID"),
        Outcome("action", start, end, "US_STRIKE"),
        Outcome("action", start, end, "MIL_MEDIATE"),
        Outcome("action_share", start, end, "MIL_HEDGE"),
        Outcome("state", start, end, "public_hostility"),
    ]
