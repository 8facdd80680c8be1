"""What a branch scenario (``branch: YYYY-MM`` with ``extends``) may change, and from when.

A branch runs its parent, with the parent's parameters, until the branch month, and itself from
then on (``Compiled.phases``): every run equals the parent's run of the same seed before the
branch month, and everything the branch changes acts from that month on: its parameters, its
edits of events, its own events, catalog exclusions and severities, interventions and triggers.
A change that could only act before the branch month would silently do nothing; ``problems``
lists each one (with the key of its location in the file) so that ``Scenario.check`` refuses it,
with what to do instead.

``sc`` below is a resolved ``model.inputs.scenario.Scenario`` (this module does not import it:
the scenario module calls this one).
"""

from __future__ import annotations

from typing import Any

from model.io.dates import month_index, month_label

#: (location key in the file, message)
Problem = tuple[tuple, str]

_INSTEAD = "branch earlier, or change the scenario it extends"


def problems(sc: Any, b: str) -> list[Problem]:
    """Every reason why ``sc`` cannot branch at month ``b`` as written."""
    parent = sc.parent
    if parent is None:
        return [(("branch",), "'branch' needs 'extends' (the scenario to branch from)")]
    out = _window(sc, parent, b)
    out += _initial(sc, parent, b)
    out += _catalog(sc, parent, b)
    out += _events(sc, parent, b)
    out += _edits(sc, parent, b)
    out += _timed(sc, parent, b)
    return out


def _window(sc: Any, parent: Any, b: str) -> list[Problem]:
    if not 0 < month_index(sc.start, b) < sc.months:
        return [(("branch",), f"branch month {b} must lie inside the window "
                              f"{sc.start} .. {sc.end}")]
    if (parent.start, parent.months) != (sc.start, sc.months) and (
            "start" in sc.model_fields_set or "months" in sc.model_fields_set):
        return [(("branch",), "a branch keeps its parent's 'start' and 'months'")]
    if parent.branch is not None and b < parent.branch:
        return [(("branch",), f"branch month {b} is before {parent.branch}, where the scenario "
                              f"it extends leaves its own parent: branch at {parent.branch} or "
                              f"later, or extend that parent instead")]
    return []


def _initial(sc: Any, parent: Any, b: str) -> list[Problem]:
    """The runs start from the parent's state: a changed initial value has no effect."""
    out = []
    for group in ("trust", "aid", "state"):
        mine, theirs = getattr(sc.initial, group), getattr(parent.initial, group)
        for key, v in mine.items():
            if theirs.get(key) != v:
                out.append((("initial", group, key),
                            f"initial {group} {key!r}: a branch starts from its parent's state "
                            f"and leaves it only in {b}, so 'initial' would have no effect; "
                            + (f"hold it with an intervention from {b}, " if group != "trust"
                               else "set it in the scenario it extends, ")
                            + "or drop 'branch'"))
    return out


def _parent_month(parent: Any, event_id: str) -> str | None:
    """The month of ``event_id`` as the parent runs it (after its edits), else in the catalog
    (e.g. a shock of a catalog the parent does not use, or outside the window)."""
    from model.inputs.catalog import load_catalog  # (pandas: loaded only when needed)

    e = next((x for x in parent.all_events() if x.id == event_id), None)
    if e is not None:
        return e.date[:7]
    return next((c.month[:7] for c in load_catalog().events if c.id == event_id), None)


def _catalog(sc: Any, parent: Any, b: str) -> list[Problem]:
    """Excluding or resizing a catalog shock dated before the branch month."""
    if sc.catalog is None:
        return []
    p_cat = parent.catalog
    n_parent = len(p_cat.exclude) if p_cat is not None else 0
    out = []
    for i, eid in enumerate(sc.catalog.exclude[n_parent:]):
        month = _parent_month(parent, eid)
        if month is not None and month < b and (p_cat is None or eid not in p_cat.exclude):
            out.append((("catalog", "exclude", i),
                        f"catalog exclude {eid!r} ({month}): the shock comes before the branch "
                        f"month {b}, when the runs are still the parent's, so leaving it out "
                        f"would have no effect; {_INSTEAD}"))
    for eid, v in sc.catalog.severity.items():
        month = _parent_month(parent, eid)
        before = p_cat.severity.get(eid, 1.0) if p_cat is not None else None
        if month is not None and month < b and v != before:
            out.append((("catalog", "severity", eid),
                        f"catalog severity of {eid!r} ({month}): the shock comes before the "
                        f"branch month {b}, when the runs are still the parent's, so its new "
                        f"severity would have no effect; {_INSTEAD}"))
    return out


def _events(sc: Any, parent: Any, b: str) -> list[Problem]:
    out = []
    for i, e in enumerate(sc.events[len(parent.events):], start=len(parent.events)):
        if e.date[:7] < b:
            out.append((("events", i), f"event {e.id!r} ({e.date}) is before the branch month "
                                       f"{b}: it would have no effect"))
    return out


def _edits(sc: Any, parent: Any, b: str) -> list[Problem]:
    """Removing, scaling or shifting an event the runs have before the branch month, or
    shifting one to before it."""
    n = len(parent.edits)
    out = []
    for i, (ed, (old, new)) in enumerate(zip(sc.edits[n:], sc.edit_trail()[n:], strict=True),
                                         start=n):
        if old is None:
            continue  # an unknown event: reported by the scenario's own checks
        month = old.date[:7]
        if month < b:
            what = "remove" if ed.remove else "shift" if ed.shift else "scale"
            out.append((("edits", i), f"edit of {ed.target!r} ({month}), before the branch "
                                      f"month {b}: the runs are still the parent's then, so "
                                      f"'{what}' would have no effect; {_INSTEAD}"))
        elif ed.shift is not None and new is not None and new.date[:7] < b:
            out.append((("edits", i), f"edit of {ed.target!r} ({month}) shifts it to "
                                      f"{month_label(month, ed.months)}, before the branch "
                                      f"month {b}, where it could not act: the event would "
                                      f"just vanish; use 'remove' or shift it to {b} or later"))
    return out


def _timed(sc: Any, parent: Any, b: str) -> list[Problem]:
    """Interventions and triggers of the branch start at the branch month or later."""
    out = []
    n = len(parent.interventions)
    for i, iv in enumerate(sc.interventions[n:], start=n):
        if iv.start[:7] < b:
            out.append((("interventions", i, "from"),
                        f"intervention starts {iv.start}, before the branch month {b}: "
                        f"start it at {b} or later"))
    n = len(parent.triggers)
    for i, tr in enumerate(sc.triggers[n:], start=n):
        if tr.to is not None and tr.to[:7] < b:
            out.append((("triggers", i, "to"),
                        f"trigger {tr.id!r} ends {tr.to}, before the branch month {b}: it "
                        f"would have no effect"))
        elif tr.start is not None and tr.start[:7] < b:
            out.append((("triggers", i, "from"),
                        f"trigger {tr.id!r} watches from {tr.start}, before the branch month "
                        f"{b}: start it at {b} or later (without 'from' it watches from {b})"))
    return out
