"""Scenarios: what to run (window, parameter overrides, initial state, exogenous events).

A scenario file is YAML, read with ``model.yamlio`` (safe, located) and validated with pydantic;
every problem is reported with ``file:line:column``. ``compile_scenario`` turns a scenario into
the flat arrays the kernel reads.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from model import params as P
from model import spec, yamlio
from model.errors import ModelInputError

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
MAX_MONTHS = 1200


class ScenarioError(ModelInputError):
    """A scenario that cannot be run; the message lists every problem with its location."""


def parse_month(text: str) -> tuple[int, int]:
    """``"2011-11"`` or ``"2011-11-26"`` -> (2011, 11); raises ValueError otherwise."""
    m = MONTH_RE.match(str(text))
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"expected a date as YYYY-MM or YYYY-MM-DD, got {text!r}")
    if m.group(3) and not 1 <= int(m.group(3)) <= 31:
        raise ValueError(f"day out of range in {text!r}")
    return int(m.group(1)), int(m.group(2))


def month_index(start: str, date: str) -> int:
    """Months from ``start`` to ``date`` (both 'YYYY-MM[-DD]')."""
    y0, m0 = parse_month(start)
    y1, m1 = parse_month(date)
    return (y1 - y0) * 12 + (m1 - m0)


def month_label(start: str, offset: int) -> str:
    """'YYYY-MM' of the month ``offset`` months after ``start``."""
    y0, m0 = parse_month(start)
    k = y0 * 12 + (m0 - 1) + offset
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


class Effect(BaseModel):
    """An exogenous change of one state variable: ``set`` it or ``add`` to it."""

    model_config = ConfigDict(extra="forbid")
    set: float | None = None
    add: float | None = None

    @field_validator("set", "add")
    @classmethod
    def _fin(cls, v):
        return None if v is None else _finite(v)

    def model_post_init(self, _ctx: Any) -> None:
        if (self.set is None) == (self.add is None):
            raise ValueError("give exactly one of 'set' or 'add'")


class EventSpec(BaseModel):
    """An exogenous event entering the run at its month."""

    model_config = ConfigDict(extra="forbid")
    id: str
    date: str
    actor: str = "OTHER"
    target: str | None = None
    action: str | None = None
    cameo: str | None = None
    severity: float = Field(1.0, ge=0.0, le=100.0)
    effects: dict[str, Effect] = Field(default_factory=dict)
    note: str | None = None

    @field_validator("date")
    @classmethod
    def _date(cls, v: str) -> str:
        parse_month(v)
        return v

    @field_validator("actor")
    @classmethod
    def _actor(cls, v: str) -> str:
        if v not in (*spec.ACTORS, "OTHER"):
            raise ValueError(f"unknown actor {v!r}; expected one of {', '.join(spec.ACTORS)} "
                             f"or OTHER{P.suggest(v, spec.ACTORS)}")
        return v

    @field_validator("target")
    @classmethod
    def _target(cls, v: str | None) -> str | None:
        if v is not None and v not in (*spec.ACTORS, "OTHER"):
            raise ValueError(f"unknown actor {v!r}; expected one of {', '.join(spec.ACTORS)} "
                             f"or OTHER{P.suggest(v, spec.ACTORS)}")
        return v

    @field_validator("action")
    @classmethod
    def _action(cls, v: str | None) -> str | None:
        if v is not None and v not in spec.ACTION_INDEX:
            raise ValueError(f"unknown action {v!r}{P.suggest(v, spec.ACTION_INDEX)}")
        return v

    @field_validator("cameo")
    @classmethod
    def _cameo(cls, v: str | None) -> str | None:
        if v is not None and v not in spec.event_types():
            raise ValueError(f"unknown CAMEO code {v!r}{P.suggest(v, spec.event_types())}")
        return v

    @field_validator("effects")
    @classmethod
    def _effects(cls, v: dict) -> dict:
        for k in v:
            if k not in spec.STATE_INDEX:
                raise ValueError(f"unknown state variable {k!r}{P.suggest(k, spec.STATE_INDEX)}")
        return v

    def model_post_init(self, _ctx: Any) -> None:
        if self.action is not None and spec.ACTIONS[spec.ACTION_INDEX[self.action]].actor != (
                self.actor):
            raise ValueError(f"action {self.action} belongs to "
                             f"{spec.ACTIONS[spec.ACTION_INDEX[self.action]].actor}, "
                             f"not to actor {self.actor}")


class Initial(BaseModel):
    """Initial state overrides: trust by 'A->B', aid by 'US->X', scalar state by name."""

    model_config = ConfigDict(extra="forbid")
    trust: dict[str, float] = Field(default_factory=dict)
    aid: dict[str, float] = Field(default_factory=dict)
    state: dict[str, float] = Field(default_factory=dict)

    @field_validator("trust")
    @classmethod
    def _trust(cls, v: dict) -> dict:
        for k, val in v.items():
            a, _, b = str(k).partition("->")
            if a not in spec.ACTOR_INDEX or b not in spec.ACTOR_INDEX or a == b:
                raise ValueError(f"trust key {k!r}: expected 'ACTOR->ACTOR' with two different "
                                 f"actors among {', '.join(spec.ACTORS)}")
            if not 0.0 < _finite(val) < 1.0:
                raise ValueError(f"trust {k!r} = {val} must lie strictly between 0 and 1")
        return v

    @field_validator("aid")
    @classmethod
    def _aid(cls, v: dict) -> dict:
        flows = [f"{a}->{b}" for a, b in spec.AID_FLOWS]
        for k, val in v.items():
            if k not in flows:
                raise ValueError(f"aid flow {k!r}: expected one of {flows}")
            if _finite(val) < 0:
                raise ValueError(f"aid {k!r} = {val} must be >= 0 ($M per month)")
        return v

    @field_validator("state")
    @classmethod
    def _state(cls, v: dict) -> dict:
        for k, val in v.items():
            if k not in spec.STATE_INDEX:
                raise ValueError(f"unknown state variable {k!r}{P.suggest(k, spec.STATE_INDEX)}")
            sv = spec.STATE_VARS[spec.STATE_INDEX[k]]
            if not sv.lo <= _finite(val) <= sv.hi:
                raise ValueError(f"state {k!r} = {val} outside [{sv.lo}, {sv.hi}] ({sv.unit})")
        return v


class CatalogUse(BaseModel):
    """Which events of the documented-history catalog enter the run as exogenous events.

    Only shocks can enter: documented decisions are for the agents to make (and are scored).
    ``severity`` gives the model's reading of an event's size (default 1: one ordinary act).
    """

    model_config = ConfigDict(extra="forbid")
    kinds: list[Literal["shock"]] = Field(default_factory=lambda: ["shock"])
    severity: dict[str, float] = Field(default_factory=dict)
    exclude: list[str] = Field(default_factory=list)

    @field_validator("severity")
    @classmethod
    def _sev(cls, v: dict) -> dict:
        for k, val in v.items():
            if not 0.0 <= _finite(val) <= 100.0:
                raise ValueError(f"severity of {k!r} = {val} must lie in [0, 100]")
        return v

    def model_post_init(self, _ctx: Any) -> None:
        from model.catalog import load_catalog

        ids = {e.id for e in load_catalog().events}
        for k in (*self.severity, *self.exclude):
            if k not in ids:
                raise ValueError(f"unknown catalog event {k!r}{P.suggest(k, ids)}")

    def events(self, start: str, months: int) -> list[EventSpec]:
        """The selected catalog events inside the window, as scenario events."""
        from model.catalog import load_catalog

        out = []
        for e in load_catalog().events:
            if e.kind not in self.kinds or e.id in self.exclude:
                continue
            if not 0 <= month_index(start, e.month) < months:
                continue
            effects = {k: Effect(set=v.set, add=v.add) for k, v in (e.effects or {}).items()}
            out.append(EventSpec(id=e.id, date=e.month, actor=e.actor,
                                 target=e.target, action=e.action, cameo=e.cameo,
                                 severity=self.severity.get(e.id, 1.0), effects=effects))
        return out


class Scenario(BaseModel):
    """A runnable scenario."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    start: str = "2001-01"
    months: int = Field(240, ge=1, le=MAX_MONTHS)
    params: dict[str, float] = Field(default_factory=dict)
    initial: Initial = Field(default_factory=Initial)
    catalog: CatalogUse | None = None
    events: list[EventSpec] = Field(default_factory=list)

    @field_validator("start")
    @classmethod
    def _start(cls, v: str) -> str:
        parse_month(v)
        return v[:7]

    @field_validator("params")
    @classmethod
    def _params(cls, v: dict) -> dict:
        for k, val in v.items():
            P.check(k, val)
        return v

    def all_events(self, months: int | None = None) -> list[EventSpec]:
        """Catalog events (if used) followed by the scenario's own events."""
        n = self.months if months is None else months
        own = list(self.events)
        return (self.catalog.events(self.start, n) if self.catalog else []) + own

    def model_post_init(self, _ctx: Any) -> None:
        seen = set()
        if self.catalog is not None:
            seen = {e.id for e in self.catalog.events(self.start, self.months)}
        for e in self.events:
            if e.id in seen:
                raise ValueError(f"duplicate event id {e.id!r}")
            seen.add(e.id)
            m = month_index(self.start, e.date)
            if not 0 <= m < self.months:
                raise ValueError(
                    f"event {e.id!r} dated {e.date} is outside the scenario window "
                    f"{self.start} .. {month_label(self.start, self.months - 1)}")


def _format_errors(exc: ValidationError, doc: yamlio.Located) -> str:
    lines = []
    for err in exc.errors():
        loc = err["loc"]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            key = loc[-1]
            fields = _fields_at(loc[:-1])
            msg = f"unknown key {key!r}{P.suggest(str(key), fields)}"
            if fields:
                msg += f"; expected one of: {', '.join(fields)}"
        elif err["type"] == "missing":
            msg = f"missing required key {loc[-1]!r}"
        path = ".".join(str(p) for p in loc) or "(top level)"
        lines.append(f"{doc.where(loc)}: {path}: {msg}")
    return "\n".join(lines)


def _fields_at(loc: tuple) -> list[str]:
    model: type[BaseModel] = Scenario
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        ann = field.annotation
        inner = getattr(ann, "__args__", (ann,))
        nxt = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if nxt is None:
            return []
        model = nxt
    return list(model.model_fields)


def from_mapping(data: Any, doc: yamlio.Located | None = None) -> Scenario:
    """Validate a parsed mapping into a Scenario, with located messages."""
    doc = doc or yamlio.Located(data=data, file="<scenario>")
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ScenarioError(f"{doc.file}:1:1: expected a mapping of scenario keys at the top "
                            f"level, got a {kind}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, doc)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    doc = yamlio.load(path)
    return from_mapping(doc.data, doc)


@dataclass(frozen=True)
class Compiled:
    """A scenario as the kernel's arrays (shared by all runs of a batch)."""

    scenario: Scenario
    months: int
    ev_ids: tuple[str, ...]
    ev_action: np.ndarray
    ev_actor: np.ndarray
    ev_target: np.ndarray
    ev_goldstein: np.ndarray
    ev_material: np.ndarray
    ev_severity: np.ndarray
    month_ptr: np.ndarray
    eff_event: np.ndarray
    eff_var: np.ndarray
    eff_mode: np.ndarray
    eff_value: np.ndarray
    forced: np.ndarray

    @property
    def max_events_per_month(self) -> int:
        return int(np.diff(self.month_ptr).max(initial=0))

    def dates(self) -> list[str]:
        """'YYYY-MM' of each step: step 0 is the start, step k the state after k months."""
        return [month_label(self.scenario.start, k) for k in range(self.months + 1)]


def compile_scenario(sc: Scenario, months: int | None = None) -> Compiled:
    """Flatten a scenario's events (sorted by month, stable) into the kernel's arrays."""
    n = sc.months if months is None else int(months)
    if not 1 <= n <= MAX_MONTHS:
        raise ScenarioError(f"months must be between 1 and {MAX_MONTHS}, got {n}")
    evs = [(month_index(sc.start, e.date), i, e) for i, e in enumerate(sc.all_events(n))]
    evs = sorted((t for t in evs if t[0] < n), key=lambda t: (t[0], t[1]))
    ids, act, actor, target, gold, mat, sev, months_of = [], [], [], [], [], [], [], []
    effs: list[tuple[int, int, int, float]] = []
    for k, (m, _i, e) in enumerate(evs):
        ids.append(e.id)
        months_of.append(m)
        a_idx = spec.ACTION_INDEX.get(e.action, -1) if e.action else -1
        act.append(a_idx)
        actor.append(spec.ACTOR_INDEX.get(e.actor, -1))
        target.append(spec.ACTOR_INDEX.get(e.target, -1) if e.target else -1)
        code = spec.ACTIONS[a_idx].cameo if a_idx >= 0 else (e.cameo or "01")
        et = spec.event_types()[code]
        gold.append(float(et["goldstein"]))
        mat.append(et["quad"] in (2, 4))
        sev.append(float(e.severity))
        for var, eff in e.effects.items():
            mode, val = (0, eff.set) if eff.set is not None else (1, eff.add)
            effs.append((k, spec.STATE_INDEX[var], mode, float(val)))
    ptr = np.searchsorted(np.asarray(months_of, dtype=np.int64), np.arange(n + 1), side="left")
    return Compiled(
        scenario=sc, months=n, ev_ids=tuple(ids),
        ev_action=np.asarray(act, dtype=np.int64), ev_actor=np.asarray(actor, dtype=np.int64),
        ev_target=np.asarray(target, dtype=np.int64),
        ev_goldstein=np.asarray(gold, dtype=np.float64), ev_material=np.asarray(mat, dtype=bool),
        ev_severity=np.asarray(sev, dtype=np.float64), month_ptr=ptr.astype(np.int64),
        eff_event=np.asarray([e[0] for e in effs], dtype=np.int64),
        eff_var=np.asarray([e[1] for e in effs], dtype=np.int64),
        eff_mode=np.asarray([e[2] for e in effs], dtype=np.int64),
        eff_value=np.asarray([e[3] for e in effs], dtype=np.float64),
        forced=np.full((n, spec.N_ACTORS), -1, dtype=np.int64),
    )
