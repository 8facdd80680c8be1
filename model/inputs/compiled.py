"""A scenario compiled into the kernel's arrays: events sorted by month, their effects,
forced and forbidden actions, held values, trigger conditions, and the parent of a branch.

The arrays are the kernel's bundles (``model.core.bundles``), coded with the layouts of
``model.core.layout``; ``Compiled.inputs(m0, m1)`` gives them for a span of months.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from model.core import layout, spec
from model.core.bundles import Effects, Events, Inputs, Plan, Triggers
from model.inputs.scenario import (
    MAX_MONTHS,
    EventSpec,
    Scenario,
    ScenarioError,
    month_index,
    month_label,
    parse_condition,
)


@dataclass(frozen=True)
class Compiled:
    """A scenario as the kernel's arrays (shared by all runs of a batch)."""

    scenario: Scenario
    months: int
    events: Events            # scheduled events sorted by month, then the triggers' acts
    effects: Effects
    plan: Plan                # forced, forbidden and held, month by month
    triggers: Triggers        # trigger windows in months of the whole scenario
    ev_ids: tuple[str, ...]   # ids of the scheduled events
    ev_month: np.ndarray      # month index of each scheduled event
    trig_ids: tuple[str, ...]
    #: A branch runs ``parent`` for months [0, branch) and this scenario from ``branch`` on
    #: (``phases``); ``branch`` is also the first month in which it can differ from its parent.
    parent: Compiled | None = None
    branch: int = 0

    def phases(self) -> list[tuple[Compiled, int, int]]:
        """(compiled scenario, first month, end month) of each phase of a run: a branch runs its
        parent's phases (each with its own scenario's parameters, events and interventions) up
        to the branch month and itself from there on, so its changes act from that month and
        its runs equal the parent's before it. Empty phases are left out."""
        if self.parent is None:
            return [(self, 0, self.months)]
        b = self.branch
        before = [(c, m0, min(m1, b)) for c, m0, m1 in self.parent.phases() if m0 < b]
        return before + ([(self, b, self.months)] if b < self.months else [])

    @property
    def max_events_per_month(self) -> int:
        return int(np.diff(self.events.month_ptr).max(initial=0))

    def inputs(self, m0: int = 0, m1: int | None = None) -> Inputs:
        """The kernel's ``Inputs`` for months [m0, m1) (default: all), renumbered from 0."""
        m1 = self.months if m1 is None else m1
        ev, pl, tr = self.events, self.plan, self.triggers
        return Inputs(
            events=ev._replace(month_ptr=ev.month_ptr[m0:m1 + 1]),
            effects=self.effects,
            plan=Plan(pl.forced[m0:m1], pl.forbid[m0:m1], pl.hold[m0:m1]),
            triggers=tr._replace(first=tr.first - m0, last=tr.last - m0))

    @property
    def n_scheduled(self) -> int:
        """Scheduled events come first in the event arrays; trigger acts follow them."""
        return len(self.ev_ids)

    def dates(self) -> list[str]:
        """'YYYY-MM' of each step: step 0 is the start, step k the state after k months."""
        return [month_label(self.scenario.start, k) for k in range(self.months + 1)]


def _events_arrays(evs: list[EventSpec], start: str, n: int,
                   extra: list[EventSpec] = ()) -> dict[str, Any]:
    """Event arrays: the scheduled events sorted by month (stable), then ``extra`` (trigger acts,
    applied when their trigger fires, never by the schedule)."""
    rows = sorted(((month_index(start, e.date), i, e) for i, e in enumerate(evs)),
                  key=lambda t: (t[0], t[1]))
    rows = [t for t in rows if 0 <= t[0] < n]
    n_sched = len(rows)
    rows += [(n, -1, e) for e in extra]
    ids, act, actor, target, gold, mat, sev, months_of = [], [], [], [], [], [], [], []
    effs: list[tuple[int, int, int, float]] = []
    set_, add = layout.EFF_SET, layout.EFF_ADD
    for k, (m, _i, e) in enumerate(rows):
        ids.append(e.id)
        months_of.append(m)
        a_idx = spec.ACTION_INDEX[e.action] if e.action else -1
        act.append(a_idx)
        actor.append(spec.ACTOR_INDEX.get(e.actor, -1))
        target.append(spec.ACTOR_INDEX.get(e.target, -1) if e.target else -1)
        code = spec.ACTIONS[a_idx].cameo if a_idx >= 0 else (e.cameo or "01")
        et = spec.event_types()[code]
        gold.append(float(et["goldstein"]))
        mat.append(et["quad"] in (2, 4))
        sev.append(float(e.severity))
        for var, eff in e.effects.items():
            mode, val = (set_, eff.set) if eff.set is not None else (add, eff.add)
            effs.append((k, spec.STATE_INDEX[var], mode, float(val)))
    ptr = np.searchsorted(np.asarray(months_of[:n_sched], dtype=np.int64), np.arange(n + 1),
                          side="left")
    eff_cols = list(zip(*effs, strict=True)) or [(), (), (), ()]
    return {
        "ev_ids": tuple(ids[:n_sched]),
        "ev_month": np.asarray(months_of[:n_sched], dtype=np.int64),
        "events": Events(
            action=np.asarray(act, dtype=np.int64), actor=np.asarray(actor, dtype=np.int64),
            target=np.asarray(target, dtype=np.int64),
            goldstein=np.asarray(gold, dtype=np.float64), material=np.asarray(mat, dtype=bool),
            severity=np.asarray(sev, dtype=np.float64), month_ptr=ptr.astype(np.int64)),
        "effects": Effects(*(np.asarray(c, dtype=t) for c, t in zip(
            eff_cols, (np.int64, np.int64, np.int64, np.float64), strict=True))),
    }


def _span(sc: Scenario, start: str | None, to: str | None, n: int) -> range:
    lo = 0 if start is None else max(0, month_index(sc.start, start))
    hi = n - 1 if to is None else min(n - 1, month_index(sc.start, to))
    return range(lo, hi + 1)


def _plan(sc: Scenario, n: int) -> Plan:
    """Forced, forbidden and held, month by month, from the scenario's interventions."""
    forced = np.full((n, spec.N_ACTORS), -1, dtype=np.int64)
    forbid = np.zeros((n, spec.N_ACTIONS), dtype=bool)
    hold = np.full((n, layout.NHOLD), np.nan)
    for iv in sc.interventions:
        span = _span(sc, iv.start, iv.to, n)
        if iv.force:
            a = spec.ACTION_INDEX[iv.force]
            forced[span.start:span.stop, spec.ACTOR_INDEX[spec.ACTIONS[a].actor]] = a
        for name in iv.forbid:
            forbid[span.start:span.stop, spec.ACTION_INDEX[name]] = True
        for key, val in iv.hold.items():
            hold[span.start:span.stop, layout.HOLD_INDEX[key]] = val
    return Plan(forced=forced, forbid=forbid, hold=hold)


def _triggers(sc: Scenario, n: int, n_sched: int) -> Triggers:
    """The scenario's triggers (trigger t acts as event ``n_sched + t``) and their conditions."""
    cond, cond_value, trig = [], [], []
    for t, tr in enumerate(sc.triggers):
        for kind, a, b, op, val in parse_condition(tr.when):
            cond.append((t, kind, a, b, op))
            cond_value.append(val)
        span = _span(sc, tr.start, tr.to, n)
        trig.append((n_sched + t, tr.once, span.start, span.stop - 1))
    tc = np.asarray(trig, dtype=np.int64).reshape(-1, 4).T
    cc = np.asarray(cond, dtype=np.int64).reshape(-1, 5).T
    return Triggers(event=tc[0].copy(), once=tc[1].astype(bool), first=tc[2].copy(),
                    last=tc[3].copy(), cond_trigger=cc[0].copy(), cond_kind=cc[1].copy(),
                    cond_a=cc[2].copy(), cond_b=cc[3].copy(), cond_op=cc[4].copy(),
                    cond_value=np.asarray(cond_value, dtype=np.float64))


def compile_scenario(sc: Scenario, months: int | None = None) -> Compiled:
    """Flatten a scenario into the kernel's arrays (events sorted by month, stable)."""
    n = sc.months if months is None else int(months)
    if not 1 <= n <= MAX_MONTHS:
        raise ScenarioError(f"months must be between 1 and {MAX_MONTHS}, got {n}")
    trig_acts = []
    for tr in sc.triggers:
        a = spec.ACTIONS[spec.ACTION_INDEX[tr.then.action]] if tr.then.action else None
        trig_acts.append(EventSpec(id=f"trigger {tr.id}", date=sc.start,
                                   actor=a.actor if a else "OTHER", target=a.target if a else None,
                                   action=tr.then.action, severity=tr.then.severity,
                                   effects=tr.then.effects))
    arrays = _events_arrays(sc.all_events(n), sc.start, n, trig_acts)
    parent, branch = None, 0
    if sc.branch is not None and sc.parent is not None:
        # A window that ends before the branch month runs the parent only (branch == n).
        branch = min(max(month_index(sc.start, sc.branch), 0), n)
        parent = compile_scenario(sc.parent, n)
    return Compiled(scenario=sc, months=n, **arrays, plan=_plan(sc, n),
                    triggers=_triggers(sc, n, len(arrays["ev_ids"])),
                    trig_ids=tuple(tr.id for tr in sc.triggers), parent=parent, branch=branch)
