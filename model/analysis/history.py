"""Scoring a history replay against the record: documented decisions and documented turns.

A documented decision (kind ``decision`` in the catalog, with an action) is *reproduced in a run*
when the responsible actor chooses that action within ``window`` months of the documented month.
A decision is *reproduced* when that happens in the majority of runs. The documented turns
(``model/data/patterns.yaml``) are checked on the trust series of every run.

All scores are computed from batched ``Results`` arrays, so calibration can call the same
functions on any number of runs.

The ±6-month count is a weak test (frequent actions pass it whatever their timing); the headline
score, decisions made near their dates and skill against null models, is
``model.analysis.timing`` (definitions and figures in ``docs/scoring.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd
import yaml

from model.core import spec
from model.engine.runner import Results
from model.inputs.catalog import Event, load_catalog
from model.inputs.scenario import month_index

WINDOW = 6


@dataclass(frozen=True)
class Pattern:
    """A documented turn as a test on a trust index (see ``model/data/patterns.yaml``)."""

    id: str
    description: str
    kind: str
    series: tuple[tuple[int, int], ...]
    before: tuple[str, str]
    after: tuple[str, str]
    min_change: float
    source: str
    quote: str


@cache
def patterns() -> tuple[Pattern, ...]:
    """The documented turns."""
    raw = yaml.safe_load(resources.files("model.data").joinpath("patterns.yaml")
                         .read_text(encoding="utf-8"))
    out = []
    for pid, rec in raw.items():
        cells = []
        for cell in rec["series"]:
            a, _, b = cell.partition("->")
            cells.append((spec.ACTOR_INDEX[a], spec.ACTOR_INDEX[b]))
        out.append(Pattern(id=pid, description=rec["description"], kind=rec["kind"],
                           series=tuple(cells), before=tuple(map(str, rec["before"])),
                           after=tuple(map(str, rec["after"])),
                           min_change=float(rec["min_change"]), source=rec["source"],
                           quote=rec["quote"]))
    return tuple(out)


def scored_decisions(start: str, months: int, events: list[Event] | None = None,
                     until: str | None = None, since: str | None = None) -> list[Event]:
    """Documented decisions with an action whose month lies inside the run (and the period)."""
    evs = events if events is not None else load_catalog().decisions()
    out = []
    for e in evs:
        if e.kind != "decision" or not e.action:
            continue
        m = month_index(start, e.month)
        if not 0 <= m < months:
            continue
        if until is not None and e.month > until:
            continue
        if since is not None and e.month < since:
            continue
        out.append(e)
    return out


def decision_hits(res: Results, decisions: list[Event], window: int = WINDOW
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per run and decision: whether it was made within +-window months, and the nearest month.

    Returns (hits: runs x D bool, offset: runs x D float, months from the documented month to the
    nearest choice of the action by its actor; NaN when it never happens).
    """
    start = res.dates[0]
    months = res.months
    hits = np.zeros((res.runs, len(decisions)), dtype=bool)
    offset = np.full((res.runs, len(decisions)), np.nan)
    steps = np.arange(months)
    for d, e in enumerate(decisions):
        act = spec.ACTION_INDEX[e.action]
        actor = spec.ACTOR_INDEX[spec.ACTIONS[act].actor]
        m = month_index(start, e.month)
        chosen = res.actions[:, :, actor] == act          # runs x months (month k = step k+1)
        dist = np.where(chosen, np.abs(steps - m), np.iinfo(np.int64).max)
        nearest = dist.argmin(axis=1)
        any_ = chosen.any(axis=1)
        hits[:, d] = any_ & (dist[np.arange(res.runs), nearest] <= window)
        offset[any_, d] = nearest[any_] - m
    return hits, offset


def base_rate(res: Results, action: str, window: int = WINDOW) -> float:
    """Share of (run, month) pairs in which the action's actor chooses it within +-window
    months of that month: how often a decision would count as "made" at a date picked at
    random. A decision's share well above its base rate is timed, not merely frequent."""
    act = spec.ACTION_INDEX[action]
    actor = spec.ACTOR_INDEX[spec.ACTIONS[act].actor]
    chosen = (res.actions[:, :, actor] == act).astype(np.int64)       # runs x months
    months = chosen.shape[1]
    if months <= 2 * window:
        return float(chosen.any(axis=1).mean())
    csum = np.concatenate([np.zeros((chosen.shape[0], 1), dtype=np.int64),
                           chosen.cumsum(axis=1)], axis=1)
    centers = np.arange(window, months - window)
    counts = csum[:, centers + window + 1] - csum[:, centers - window]
    return float((counts > 0).mean())


def _index(res: Results, cells) -> np.ndarray:
    return np.mean([res.trust[:, :, i, j].astype(np.float64) for i, j in cells], axis=0)


def pattern_hits(res: Results, pats: tuple[Pattern, ...] | None = None) -> tuple[
        np.ndarray, list[Pattern]]:
    """Per run and pattern: whether the documented turn shows in the trust index."""
    start = res.dates[0]
    usable = []
    cols = []
    for p in pats if pats is not None else patterns():
        b0, b1 = (month_index(start, d) + 1 for d in p.before)   # step k+1 = after month k
        a0, a1 = (month_index(start, d) + 1 for d in p.after)
        if min(b0, a0) < 0 or max(b1, a1) > res.months:
            continue
        idx = _index(res, p.series)
        before, after = idx[:, b0:b1 + 1], idx[:, a0:a1 + 1]
        if p.kind == "fall":
            ok = after.mean(axis=1) <= before.mean(axis=1) - p.min_change
        elif p.kind == "rise":
            ok = after.mean(axis=1) >= before.mean(axis=1) + p.min_change
        elif p.kind == "new_low":
            ok = after.min(axis=1) < before.min(axis=1) - p.min_change
        else:
            raise ValueError(f"pattern {p.id}: unknown kind {p.kind!r}")
        usable.append(p)
        cols.append(ok)
    arr = np.stack(cols, axis=1) if cols else np.zeros((res.runs, 0), dtype=bool)
    return arr, usable


@dataclass
class HistoryScore:
    """Scores of a history ensemble; ``text()`` is the history-check table."""

    decisions: pd.DataFrame
    patterns: pd.DataFrame
    runs: int

    @property
    def reproduced(self) -> int:
        return int(self.decisions["reproduced"].sum())

    @property
    def total(self) -> int:
        return len(self.decisions)

    def text(self) -> str:
        lines = [f"{'decision':44s} {'action':18s} {'documented':>10s} {'share':>6s} "
                 f"{'base':>5s} {'median':>8s}"]
        for row in self.decisions.itertuples():
            med = "-" if pd.isna(row.median_month) else row.median_month
            lines.append(f"{row.id[:44]:44s} {row.action:18s} {row.documented:>10s} "
                         f"{row.share:6.2f} {row.base:5.2f} {med:>8s}")
        lines.append("")
        lines.append(f"{'pattern':20s} {'share':>6s}  description")
        for row in self.patterns.itertuples():
            lines.append(f"{row.id:20s} {row.share:6.2f}  {row.description}")
        lines.append("")
        lines.append("share: runs in which the actor made the decision within the window of its "
                     "documented month; base: the same for a month picked at random (a share far "
                     "above base is timed, not merely frequent).")
        lines.append(f"runs={self.runs}")
        lines.append(f"reproduced={self.reproduced}/{self.total}")
        return "\n".join(lines)


def score(res: Results, window: int = WINDOW, until: str | None = None,
          since: str | None = None) -> HistoryScore:
    """Score a history ensemble: decisions within +-window months (majority rule), patterns."""
    decs = scored_decisions(res.dates[0], res.months, until=until, since=since)
    hits, offset = decision_hits(res, decs, window)
    rows = []
    for d, e in enumerate(decs):
        off = offset[:, d]
        med = None
        if np.isfinite(off).any():
            from model.inputs.scenario import month_label

            m = month_index(res.dates[0], e.month) + int(np.round(np.nanmedian(off)))
            med = month_label(res.dates[0], m)
        share = float(hits[:, d].mean())
        rows.append({"id": e.id, "actor": spec.ACTIONS[spec.ACTION_INDEX[e.action]].actor,
                     "action": e.action, "documented": e.month, "share": share,
                     "base": base_rate(res, e.action, window),
                     "median_month": med, "reproduced": share > 0.5})
    phits, pats = pattern_hits(res)
    prow = [{"id": p.id, "description": p.description, "share": float(phits[:, k].mean()),
             "source": p.source} for k, p in enumerate(pats)]
    return HistoryScore(decisions=pd.DataFrame(rows), patterns=pd.DataFrame(prow),
                        runs=res.runs)
