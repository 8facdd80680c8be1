"""Scenarios: what to run (window, parameter overrides, initial state, exogenous events).

A scenario file is YAML, read with ``model.io.yamlio`` (safe, located) and validated with pydantic;
every problem is reported with ``file:line:column``. ``compile_scenario`` turns a scenario into
the flat arrays the kernel reads.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    ValidationError,
    field_validator,
)

from model.core import layout, spec
from model.core import params as P
from model.inputs import branch
from model.io import access, dates, yamlio
from model.io.dates import month_index, month_label, parse_month  # (callers import them here too)
from model.io.errors import ModelInputError

MAX_MONTHS = 1200
#: Years a scenario window may start in (month arithmetic stays within 4-digit years).
MIN_YEAR, MAX_YEAR = 1900, 2200

#: A number: an int or a float, but not a YAML boolean (``yes``/``true``) and not text.
Num = Annotated[float, Strict()]
#: A whole number, not a boolean.
Int = Annotated[int, Strict()]


#: A date as text; YAML's unquoted 2011-11-26 (a ``datetime.date``) is taken back as text.
DateStr = Annotated[str, BeforeValidator(dates.as_text)]


class ScenarioError(ModelInputError):
    """A scenario that cannot be run; the message lists every problem with its location."""


def _check_state_value(name: str, val: float, what: str = "state") -> None:
    sv = spec.STATE_VARS[spec.STATE_INDEX[name]]
    if not sv.lo <= _finite(val) <= sv.hi:
        raise ValueError(f"{what} {name!r} = {val} outside [{sv.lo}, {sv.hi}] ({sv.unit})")
    if sv.unit == "1/0" and val not in (0, 1):
        raise ValueError(f"{what} {name!r} = {val}: expected 1 or 0 ({sv.help})")


def known_action(v: str | None) -> str | None:
    """An action name of ``model.core.spec`` (None passes); ValueError with a did-you-mean."""
    if v is not None and v not in spec.ACTION_INDEX:
        raise ValueError(f"unknown action {v!r}{P.suggest(v, spec.ACTION_INDEX)}")
    return v


def known_state_var(v: str) -> str:
    """A scalar state variable of ``model.core.spec``; ValueError with a did-you-mean."""
    if v not in spec.STATE_INDEX:
        raise ValueError(f"unknown state variable {v!r}{P.suggest(v, spec.STATE_INDEX)}")
    return v


def _known_effects(v: dict) -> dict:
    for k, eff in v.items():
        known_state_var(k)
        if eff.set is not None:
            _check_state_value(k, eff.set, "effect")
    return v


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


class Effect(BaseModel):
    """An exogenous change of one state variable: ``set`` it or ``add`` to it."""

    model_config = ConfigDict(extra="forbid")
    set: Num | None = None
    add: Num | None = None

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
    date: DateStr
    actor: str = "OTHER"
    target: str | None = None
    action: str | None = None
    cameo: str | None = None
    severity: Num = Field(1.0, ge=0.0, le=100.0)
    effects: dict[str, Effect] = Field(default_factory=dict)
    note: str | None = None

    @field_validator("date")
    @classmethod
    def _date(cls, v: str) -> str:
        parse_month(v)
        return v

    @field_validator("actor", "target")
    @classmethod
    def _party(cls, v: str | None) -> str | None:
        if v is not None and v not in (*spec.ACTORS, "OTHER"):
            raise ValueError(f"unknown actor {v!r}; expected one of {', '.join(spec.ACTORS)} "
                             f"or OTHER{P.suggest(v, spec.ACTORS)}")
        return v

    @field_validator("action")
    @classmethod
    def _action(cls, v: str | None) -> str | None:
        return known_action(v)

    @field_validator("cameo")
    @classmethod
    def _cameo(cls, v: str | None) -> str | None:
        if v is not None and v not in spec.event_types():
            raise ValueError(f"unknown CAMEO code {v!r}{P.suggest(v, spec.event_types())}")
        return v

    @field_validator("effects")
    @classmethod
    def _effects(cls, v: dict) -> dict:
        return _known_effects(v)

    def model_post_init(self, _ctx: Any) -> None:
        if self.action is not None and spec.ACTIONS[spec.ACTION_INDEX[self.action]].actor != (
                self.actor):
            raise ValueError(f"action {self.action} belongs to "
                             f"{spec.ACTIONS[spec.ACTION_INDEX[self.action]].actor}, "
                             f"not to actor {self.actor}")


class Initial(BaseModel):
    """Initial state overrides: trust by 'A->B', aid by 'US->X', scalar state by name."""

    model_config = ConfigDict(extra="forbid")
    trust: dict[str, Num] = Field(default_factory=dict)
    aid: dict[str, Num] = Field(default_factory=dict)
    state: dict[str, Num] = Field(default_factory=dict)

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
            known_state_var(k)
            _check_state_value(k, val)
        return v


def _known_catalog_ids(ids) -> None:
    from model.inputs.catalog import load_catalog

    known = {e.id for e in load_catalog().events}
    for k in ids:
        if k not in known:
            raise ValueError(f"unknown catalog event {k!r}{P.suggest(k, known)}")


#: The state variable that a shock's death toll among the army's soldiers feeds (M3).
GRIEVANCE = "sovereignty_grievance"


def army_losses(e) -> float:
    """Soldiers of the army killed by a catalog event: its magnitude when that is a death toll
    and the army is its target (Salala: "26 Pakistani servicemen were killed", 003), else 0.
    A raid that kills none of them (Abbottabad) adds no grievance of this kind."""
    m = e.magnitude
    if m is None or m.unit != "deaths" or e.target != "PAK_MIL":
        return 0.0
    return float(m.value)


class CatalogUse(BaseModel):
    """Which events of the documented-history catalog enter the run as exogenous events.

    Only shocks can enter: documented decisions are for the agents to make (and are scored).
    ``severity`` gives the model's reading of an event's size (default 1: one ordinary act).
    A shock's death toll among the army's soldiers adds to ``sovereignty_grievance`` (M3).
    """

    model_config = ConfigDict(extra="forbid")
    kinds: list[Literal["shock"]] = Field(default_factory=lambda: ["shock"])
    severity: dict[str, Num] = Field(default_factory=dict)
    exclude: list[str] = Field(default_factory=list)

    @field_validator("severity")
    @classmethod
    def _sev(cls, v: dict) -> dict:
        _known_catalog_ids(v)
        for k, val in v.items():
            if not 0.0 <= _finite(val) <= 100.0:
                raise ValueError(f"severity of {k!r} = {val} must lie in [0, 100]")
        return v

    @field_validator("exclude")
    @classmethod
    def _exclude(cls, v: list) -> list:
        _known_catalog_ids(v)
        return v

    def events(self, start: str, months: int) -> list[EventSpec]:
        """The selected catalog events inside the window, as scenario events."""
        from model.inputs.catalog import load_catalog

        out = []
        for e in load_catalog().events:
            if e.kind not in self.kinds or e.id in self.exclude:
                continue
            if not 0 <= month_index(start, e.month) < months:
                continue
            effects = {k: Effect(set=v.set, add=v.add) for k, v in (e.effects or {}).items()}
            losses = army_losses(e)
            if losses and GRIEVANCE not in effects:
                effects[GRIEVANCE] = Effect(add=losses)
            out.append(EventSpec(id=e.id, date=e.month, actor=e.actor,
                                 target=e.target, action=e.action, cameo=e.cameo,
                                 severity=self.severity.get(e.id, 1.0), effects=effects))
        return out


class Edit(BaseModel):
    """An edit of an inherited or catalog event: ``remove`` it, ``shift`` it by ``months``, or
    ``scale`` its severity ``by`` a factor."""

    model_config = ConfigDict(extra="forbid")
    remove: str | None = None
    shift: str | None = None
    months: Int | None = Field(None, ge=-600, le=600)
    scale: str | None = None
    by: Num | None = Field(None, ge=0.0, le=100.0)

    @property
    def target(self) -> str:
        return self.remove or self.shift or self.scale or ""

    def model_post_init(self, _ctx: Any) -> None:
        ops = [k for k in ("remove", "shift", "scale") if getattr(self, k) is not None]
        if len(ops) != 1:
            raise ValueError("give exactly one of 'remove', 'shift' or 'scale' (an event id)")
        if self.shift is not None and self.months is None:
            raise ValueError("'shift' needs 'months' (positive: later, negative: earlier)")
        if self.scale is not None and self.by is None:
            raise ValueError("'scale' needs 'by' (a factor on the event's severity)")
        if self.remove is not None and (self.months is not None or self.by is not None):
            raise ValueError("'remove' takes no 'months' or 'by'")


class Intervention(BaseModel):
    """Fix an actor's action (``force``), rule actions out (``forbid``), or hold state or aid at
    a value (``hold``) over the months ``from`` .. ``to`` (inclusive; ``to`` defaults to the end).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    start: DateStr = Field(alias="from")
    to: DateStr | None = None
    actor: str | None = None
    force: str | None = None
    forbid: list[str] = Field(default_factory=list)
    hold: dict[str, Num] = Field(default_factory=dict)
    note: str | None = None

    @field_validator("start", "to")
    @classmethod
    def _dates(cls, v: str | None) -> str | None:
        if v is not None:
            parse_month(v)
        return v

    @field_validator("force")
    @classmethod
    def _force(cls, v: str | None) -> str | None:
        return known_action(v)

    @field_validator("forbid")
    @classmethod
    def _forbid(cls, v: list[str]) -> list[str]:
        for a in v:
            known_action(a)
            if a.endswith("_HOLD"):
                raise ValueError(f"{a} (the status quo) cannot be forbidden")
        return v

    @field_validator("hold")
    @classmethod
    def _hold(cls, v: dict[str, float]) -> dict[str, float]:
        for k, val in v.items():
            if k not in HOLD_INDEX:
                raise ValueError(f"cannot hold {k!r}{P.suggest(k, HOLD_INDEX)}; expected a state "
                                 f"variable or an aid flow ({', '.join(AID_KEYS)})")
            if k in spec.STATE_INDEX:
                _check_state_value(k, val, "hold")
            elif not 0 <= _finite(val) <= 10_000:
                raise ValueError(f"hold {k!r} = {val}: aid must lie in [0, 10000] $M per month")
        return v

    @field_validator("actor")
    @classmethod
    def _actor(cls, v: str | None) -> str | None:
        if v is not None and v not in spec.ACTOR_INDEX:
            raise ValueError(f"unknown actor {v!r}{P.suggest(v, spec.ACTORS)}")
        return v

    def model_post_init(self, _ctx: Any) -> None:
        if self.force is None and not self.forbid and not self.hold:
            raise ValueError("an intervention needs 'force', 'forbid' or 'hold'")
        for a in ([self.force] if self.force else []) + self.forbid:
            owner = spec.ACTIONS[spec.ACTION_INDEX[a]].actor
            if self.actor is not None and owner != self.actor:
                raise ValueError(f"action {a} belongs to {owner}, not to actor {self.actor}")
        if self.to is not None and month_index(self.start, self.to) < 0:
            raise ValueError(f"'to' ({self.to}) is before 'from' ({self.start})")


_COND_RE = re.compile(
    r"^\s*(?:(trust)\[\s*([A-Z_]+)\s*->\s*([A-Z_]+)\s*\]|(aid)\[\s*US\s*->\s*([A-Z_]+)\s*\]|"
    r"([a-z_]+))\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$")
COND_OPS = spec.CONDITION_OPS


def parse_condition(text: str) -> list[tuple[int, int, int, int, float]]:
    """Parse ``"trust[PAK_MIL->US] < 0.2 and public_hostility > 0.6"`` into terms
    (kind, a, b, op, value) coded as the kernel reads them (``model.core.layout``): kind
    ``COND_TRUST`` trust[a->b], ``COND_AID`` aid flow a, ``COND_STATE`` state variable a; op
    the index of the comparison in ``spec.CONDITION_OPS``.

    A small grammar read with a regular expression — no ``eval`` of user text.
    """
    terms = []
    for part in re.split(r"\s+and\s+", text.strip()):
        m = _COND_RE.match(part)
        if not m:
            raise ValueError(
                f"cannot read condition {part!r}; expected e.g. 'trust[PAK_MIL->US] < 0.2', "
                f"'aid[US->PAK_MIL] >= 50' or 'public_hostility > 0.6' (terms joined by 'and')")
        op = COND_OPS.index(m.group(7))
        value = float(m.group(8))
        if m.group(1):
            a, b = m.group(2), m.group(3)
            for x in (a, b):
                if x not in spec.ACTOR_INDEX:
                    raise ValueError(f"unknown actor {x!r} in {part!r}{P.suggest(x, spec.ACTORS)}")
            terms.append((layout.COND_TRUST, spec.ACTOR_INDEX[a], spec.ACTOR_INDEX[b], op, value))
        elif m.group(4):
            key = f"US->{m.group(5)}"
            if key not in AID_KEYS:
                raise ValueError(f"unknown aid flow {key!r} in {part!r}; expected {AID_KEYS}")
            terms.append((layout.COND_AID, AID_KEYS.index(key), 0, op, value))
        else:
            name = m.group(6)
            if name not in spec.STATE_INDEX:
                raise ValueError(f"unknown state variable {name!r} in {part!r}"
                                 f"{P.suggest(name, spec.STATE_INDEX)}")
            terms.append((layout.COND_STATE, spec.STATE_INDEX[name], 0, op, value))
    return terms


class TriggerThen(BaseModel):
    """What a trigger does when it fires: an act (as if chosen) and/or state effects."""

    model_config = ConfigDict(extra="forbid")
    action: str | None = None
    severity: Num = Field(1.0, ge=0.0, le=100.0)
    effects: dict[str, Effect] = Field(default_factory=dict)

    @field_validator("action")
    @classmethod
    def _action(cls, v: str | None) -> str | None:
        return known_action(v)

    @field_validator("effects")
    @classmethod
    def _effects(cls, v: dict) -> dict:
        return _known_effects(v)

    def model_post_init(self, _ctx: Any) -> None:
        if self.action is None and not self.effects:
            raise ValueError("'then' needs an 'action' and/or 'effects'")


class Trigger(BaseModel):
    """When ``when`` holds at the start of a month (within ``from`` .. ``to``), ``then`` fires
    that month; ``once: true`` (default) fires it at most once per run."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    id: str
    when: str
    then: TriggerThen
    once: bool = True
    start: DateStr | None = Field(None, alias="from")
    to: DateStr | None = None
    note: str | None = None

    @field_validator("when")
    @classmethod
    def _when(cls, v: str) -> str:
        parse_condition(v)
        return v

    @field_validator("start", "to")
    @classmethod
    def _dates(cls, v: str | None) -> str | None:
        if v is not None:
            parse_month(v)
        return v


class Scenario(BaseModel):
    """A runnable scenario (after ``extends`` has been resolved)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    extends: str | None = None
    branch: DateStr | None = None
    start: DateStr = "2001-01"
    months: Int = Field(240, ge=1, le=MAX_MONTHS)
    params: dict[str, Num] = Field(default_factory=dict)
    initial: Initial = Field(default_factory=Initial)
    catalog: CatalogUse | None = None
    edits: list[Edit] = Field(default_factory=list)
    events: list[EventSpec] = Field(default_factory=list)
    interventions: list[Intervention] = Field(default_factory=list)
    triggers: list[Trigger] = Field(default_factory=list)
    outputs: list[str] = Field(default_factory=list)
    teacher_notes: dict[str, str] = Field(default_factory=dict)

    _parent: Scenario | None = PrivateAttr(default=None)
    _where: dict[tuple, str] = PrivateAttr(default_factory=dict)

    @field_validator("start")
    @classmethod
    def _start(cls, v: str) -> str:
        year, _ = parse_month(v)
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError(f"start year {year} outside {MIN_YEAR}..{MAX_YEAR}")
        return v[:7]

    @field_validator("branch")
    @classmethod
    def _branch(cls, v: str | None) -> str | None:
        if v is not None:
            parse_month(v)
            return v[:7]
        return v

    @field_validator("params")
    @classmethod
    def _params(cls, v: dict) -> dict:
        for k, val in v.items():
            P.check(k, val)
        return v

    @field_validator("outputs")
    @classmethod
    def _outputs(cls, v: list[str]) -> list[str]:
        for o in v:
            _output_key(o)
        return v

    @property
    def parent(self) -> Scenario | None:
        """The scenario this one ``extends`` (resolved), if any."""
        return self._parent

    @property
    def end(self) -> str:
        return month_label(self.start, self.months - 1)

    @property
    def first_month_of_change(self) -> str:
        """The first month ('YYYY-MM') in which this scenario's runs can differ from those of
        the scenario it extends: its ``branch`` month, else its start."""
        return self.branch or self.start

    def all_events(self, months: int | None = None) -> list[EventSpec]:
        """Catalog events (if used), then the scenario's own events, after the edits."""
        n = self.months if months is None else months
        by_id, _ = self._edited()
        return [e for e in by_id.values() if 0 <= month_index(self.start, e.date) < n]

    def edit_trail(self) -> list[tuple[EventSpec | None, EventSpec | None]]:
        """For each edit, in order: its event before and after it (None: not found, removed)."""
        return self._edited()[1]

    def _edited(self) -> tuple[dict[str, EventSpec], list]:
        evs = (self.catalog.events(self.start, MAX_MONTHS) if self.catalog else [])
        by_id = {e.id: e for e in [*evs, *self.events]}
        trail = []
        for ed in self.edits:
            e = by_id.get(ed.target)
            if e is None:
                pass
            elif ed.remove is not None:
                by_id.pop(ed.target)
            elif ed.shift is not None:
                by_id[ed.target] = e.model_copy(
                    update={"date": month_label(e.date[:7], ed.months)})
            else:
                by_id[ed.target] = e.model_copy(update={"severity": e.severity * ed.by})
            trail.append((e, by_id.get(ed.target) if e is not None else None))
        return by_id, trail

    def check(self) -> None:
        """Cross-field checks on the resolved scenario; raises ScenarioError (all problems)."""
        problems: list[str] = []

        def bad(key: tuple, msg: str) -> None:
            loc = self._where.get(key, "")
            problems.append(f"{loc}: {msg}" if loc else msg)

        seen = self._check_events(bad)
        self._check_edits(seen, bad)
        self._check_windows(bad)
        if self.branch is not None:
            self._check_branch(self.branch, bad)
        if problems:
            raise ScenarioError("\n".join(problems))

    def _outside(self, date: str | None) -> bool:
        return date is not None and not 0 <= month_index(self.start, date) < self.months

    def _check_events(self, bad) -> set[str]:
        """Event ids are unique (catalog ones included) and dated inside the window; returns
        the ids."""
        seen = ({e.id for e in self.catalog.events(self.start, MAX_MONTHS)}
                if self.catalog else set())
        for i, e in enumerate(self.events):
            if e.id in seen:
                bad(("events", i), f"duplicate event id {e.id!r}")
            seen.add(e.id)
            if self._outside(e.date):
                bad(("events", i), f"event {e.id!r} dated {e.date} is outside the scenario "
                                   f"window {self.start} .. {self.end}")
        return seen

    def _check_edits(self, seen: set[str], bad) -> None:
        """Every edit names an event the scenario has."""
        for i, ed in enumerate(self.edits):
            if ed.target not in seen:
                from model.inputs.catalog import load_catalog

                known = {ev.id for ev in load_catalog().events} | seen
                hint = P.suggest(ed.target, known)
                if ed.target in known:
                    hint = " (it is in the catalog but this scenario does not use the catalog)"
                bad(("edits", i), f"edit of unknown event {ed.target!r}{hint}")

    def _check_windows(self, bad) -> None:
        """Interventions and triggers start and end inside the window."""
        for kind in ("interventions", "triggers"):
            for i, item in enumerate(getattr(self, kind)):
                for key, date in (("from", item.start), ("to", item.to)):
                    if self._outside(date):
                        bad((kind, i, key), f"{key} {date} is outside the scenario window "
                                            f"{self.start} .. {self.end}")

    def _check_branch(self, b: str, bad) -> None:
        """A branch extends a parent, keeps its window, and changes nothing that could only act
        before its month (``model.inputs.branch``)."""
        for key, msg in branch.problems(self, b):
            bad(key, msg)


AID_KEYS = [f"{a}->{b}" for a, b in spec.AID_FLOWS]
#: What an intervention may hold: state variables, then the aid flows (after them, in order).
HOLD_INDEX = layout.HOLD_INDEX


def _output_key(text: str) -> tuple[str, str, str]:
    """Validate an output name: 'trust A->B', 'aid US->X', 'action ACTOR' or a state variable."""
    kind, _, rest = text.partition(" ")
    if kind == "trust":
        a, _, b = rest.partition("->")
        if a in spec.ACTOR_INDEX and b in spec.ACTOR_INDEX and a != b:
            return "trust", a, b
    elif kind == "aid" and rest in AID_KEYS:
        return "aid", "US", rest.partition("->")[2]
    elif kind == "action" and rest in spec.ACTOR_INDEX:
        return "action", rest, ""
    elif text in spec.STATE_INDEX:
        return text, "", ""
    raise ValueError(f"unknown output {text!r}; expected 'trust A->B', 'aid US->X', "
                     f"'action ACTOR' or a state variable{P.suggest(text, spec.STATE_INDEX)}")


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
        # A dict-valued field names the offending key in its message: point at that key.
        for quoted in re.findall(r"'([^']+)'", msg):
            if (*loc, quoted) in doc.locs:
                loc = (*loc, quoted)
                break
        path = ".".join(str(p) for p in loc) or "(top level)"
        where = doc.where_key(loc) if err["type"] == "extra_forbidden" else doc.where(loc)
        lines.append(f"{where}: {path}: {msg}")
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


def _validate(data: Any, doc: yamlio.Located) -> Scenario:
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ScenarioError(f"{doc.file}:1:1: expected a mapping of scenario keys at the top "
                            f"level, got a {kind}")
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, doc)) from None
    sc._where = {k: doc.where(k) for k in doc.locs}
    return sc


def _merge(parent: Scenario, child: Scenario) -> Scenario:
    """``child`` extends ``parent``: keys the child sets override; lists are appended."""
    set_ = child.model_fields_set
    upd: dict[str, Any] = {}
    for key in ("name", "description", "start", "months", "outputs", "teacher_notes"):
        upd[key] = getattr(child if key in set_ else parent, key)
    upd["extends"] = child.extends
    upd["branch"] = child.branch
    upd["params"] = {**parent.params, **child.params}
    upd["initial"] = Initial(
        trust={**parent.initial.trust, **child.initial.trust},
        aid={**parent.initial.aid, **child.initial.aid},
        state={**parent.initial.state, **child.initial.state})
    if child.catalog is None:
        upd["catalog"] = parent.catalog
    elif parent.catalog is None:
        upd["catalog"] = child.catalog
    else:
        upd["catalog"] = CatalogUse(
            kinds=child.catalog.kinds,
            severity={**parent.catalog.severity, **child.catalog.severity},
            exclude=[*parent.catalog.exclude, *child.catalog.exclude])
    for key in ("edits", "events", "interventions", "triggers"):
        upd[key] = [*getattr(parent, key), *getattr(child, key)]
    merged = Scenario.model_construct(_fields_set=set_ | parent.model_fields_set, **upd)
    merged._parent = parent
    # Locations: the parent's lists come first, so the child's list items shift by their length.
    where = {}
    for k, v in parent._where.items():
        where[k] = v
    for key, v in child._where.items():
        if len(key) >= 2 and key[0] in ("edits", "events", "interventions", "triggers") and \
                isinstance(key[1], int):
            key = (key[0], key[1] + len(getattr(parent, key[0])), *key[2:])  # noqa: PLW2901
        where[key] = v
    merged._where = where
    return merged


def from_mapping(data: Any, doc: yamlio.Located | None = None,
                 base_dir: Path | None = None, _seen: tuple = ()) -> Scenario:
    """Validate a parsed mapping into a Scenario (resolving ``extends``), with located messages.

    ``extends`` names a scenario file relative to ``base_dir`` (the file's folder), or to
    ``scenarios/``; it may not lead outside ``scenarios/`` or ``base_dir``
    (``model.io.access.scenario_roots``).
    """
    doc = doc or yamlio.Located(data=data, file="<scenario>")
    roots = access.scenario_roots(folder=base_dir)
    sc = _extend(_validate(data, doc), doc, base_dir, _seen, roots)
    sc.check()
    return sc


def _extend(sc: Scenario, doc: yamlio.Located, base_dir: Path | None, seen: tuple,
            roots: dict[str, Path]) -> Scenario:
    """``sc`` merged onto the scenario it ``extends`` (read and resolved unchecked), if any."""
    if not sc.extends:
        return sc
    try:
        parent_path = access.find_extends(sc.extends, base_dir, roots, len(seen))
    except access.AccessError as exc:
        raise ScenarioError(f"{doc.where(('extends',))}: extends: {exc.problem}") from None
    if parent_path is None:
        raise ScenarioError(f"{doc.where(('extends',))}: extends: no scenario file "
                            f"{sc.extends!r} (looked beside the file and in scenarios/)")
    key = str(parent_path.resolve())
    if key in seen:
        raise ScenarioError(f"{doc.where(('extends',))}: extends: cycle through {parent_path}")
    return _merge(_load(parent_path, (*seen, key), roots, check=False), sc)


def _load(path: Path, seen: tuple, roots: dict[str, Path], check: bool = True) -> Scenario:
    doc = yamlio.load(path)
    sc = _extend(_validate(doc.data, doc), doc, Path(path).parent, seen, roots)
    if check:
        sc.check()
    return sc


def load_scenario(path: str | Path) -> Scenario:
    """Read, resolve (``extends``, confined to ``scenarios/`` and the file's own folder) and
    validate a scenario file."""
    p = Path(path)
    return _load(p, (str(p.resolve()),), access.scenario_roots(p))


def loads_scenario(text: str, file: str = "<upload>") -> Scenario:
    """Validate scenario YAML text (e.g. an upload), resolving ``extends`` in scenarios/."""
    doc = yamlio.loads(text, file)
    return from_mapping(doc.data, doc)
