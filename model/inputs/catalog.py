"""Documented history: the event catalog, its sources and the accounts on which they disagree.

The catalog (``model/data/events.yaml``) lists every dated event in the source articles
(``model/data/sources/*.txt``, described in ``model/data/sources.yaml``), each with its source file
and a short verbatim quote. Shocks enter a history replay from outside; decisions are the moves of
the modelled actors that the agents' rules should reproduce (the calibration targets); context is
background. The vocabulary (actors, CAMEO codes, actions, state variables) is ``model.core.spec``.

Loading validates everything and reports *all* problems at once, each as ``FILE:LINE: event 'ID':
what was expected``. Adding an article needs no code: drop its ``.txt`` into the sources folder, add
a record to ``sources.yaml`` and cite it from ``events.yaml``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    computed_field,
    field_validator,
    model_validator,
)

from model.core.spec import ACTION_INDEX, ACTIONS, ACTORS, STATE_INDEX, STATE_VARS, event_types
from model.core.spec import goldstein as cameo_goldstein
from model.io.errors import ModelInputError
from model.io.paths import DATA as DATA_DIR

EVENTS_PATH = DATA_DIR / "events.yaml"
SOURCES_PATH = DATA_DIR / "sources.yaml"
SOURCES_DIR = DATA_DIR / "sources"

__all__ = [
    "FRAME_COLUMNS", "KINDS", "OTHER", "PARTIES", "Catalog", "CatalogError", "Conflict", "Event",
    "Source", "date_span", "format_events", "load_catalog", "parse_date", "quote_found",
]

#: A party outside the five modelled actors; the event names it in ``actor_name``/``target_name``.
OTHER = "OTHER"
PARTIES: tuple[str, ...] = (*ACTORS, OTHER)
KINDS: tuple[str, ...] = ("shock", "decision", "context")
SOURCE_KINDS: tuple[str, ...] = (
    "news agency", "state broadcaster", "party blog", "opinion", "analysis",
)
#: Month used for a year-only date when the event gives no ``model_month``: mid-year.
DEFAULT_MONTH_OF_YEAR = 7
#: Shorter quotes would match almost anywhere and prove nothing.
MIN_QUOTE_CHARS = 12

FRAME_COLUMNS: tuple[str, ...] = (
    "id", "date", "month", "precision", "actor", "target", "actor_name", "target_name", "cameo",
    "event_type", "goldstein", "kind", "action", "magnitude_value", "magnitude_unit", "source",
    "outlet", "perspective", "quote",
)

_ID_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_PERIOD_RE = re.compile(r"^(\d{4})(?:-(\d{2}))?$")
_UNIT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

Precision = Literal["year", "month", "day"]
Scalar = str | int | float


# --------------------------------------------------------------------------------------- errors
class CatalogError(ModelInputError):
    """The catalog or its sources are invalid (a ``ValueError``; the CLI reports it like any bad
    input). ``problems`` lists every problem found, each as ``FILE:LINE: event 'ID': what was
    expected``."""

    def __init__(self, problems: Iterable[str]):
        self.problems: list[str] = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the event catalog:"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


class _RecordProblemsError(ValueError):
    """Cross-field problems of one record, each tied to the key it concerns (for line numbers)."""

    def __init__(self, items: list[tuple[str, str]]):
        self.items = items
        super().__init__("; ".join(f"{key}: {msg}" for key, msg in items))


# ------------------------------------------------------------------------------ date arithmetic
def parse_date(text: str) -> tuple[Precision, int, int, int]:
    """Parse ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` into (precision, year, month, day); month and
    day are 0 where the text omits them. Raises ``ValueError`` for anything else, including
    impossible calendar dates."""
    m = _DATE_RE.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"expected a date 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD', got {text!r}")
    year, month, day = int(m[1]), int(m[2] or 0), int(m[3] or 0)
    if m[3]:
        dt.date(year, month, day)  # raises ValueError on 2011-02-30 and the like
        return "day", year, month, day
    if m[2]:
        if not 1 <= month <= 12:
            raise ValueError(f"month out of range in {text!r}")
        return "month", year, month, 0
    return "year", year, 0, 0


def _month_str(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def date_span(text: str) -> tuple[str, str]:
    """First and last month ("YYYY-MM") that a date of any precision covers."""
    precision, year, month, _ = parse_date(text)
    if precision == "year":
        return _month_str(year, 1), _month_str(year, 12)
    return _month_str(year, month), _month_str(year, month)


def _period_bound(text: str, *, end: bool) -> str:
    """A filter bound ("YYYY" or "YYYY-MM") as a month, inclusive: a year starts in January and
    ends in December."""
    m = _PERIOD_RE.match(text) if isinstance(text, str) else None
    if m is None or (m[2] and not 1 <= int(m[2]) <= 12):
        raise ValueError(f"expected 'YYYY' or 'YYYY-MM', got {text!r}")
    if m[2]:
        return text
    return f"{m[1]}-12" if end else f"{m[1]}-01"


def _squash(text: str) -> str:
    """Collapse every run of whitespace (incl. no-break spaces and line breaks) to one space."""
    return " ".join(text.split())


def quote_found(quote: str, text: str) -> bool:
    """Whether ``quote`` occurs verbatim in ``text`` once whitespace is collapsed on both sides.
    Nothing else is normalised: curly quotes, dashes and case must match the source."""
    return _squash(quote) in _squash(text)


# ------------------------------------------------------------------------------------- models
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Magnitude(_Strict):
    """A figure the article gives: ``value`` in ``unit`` (e.g. ``USD_M``, ``deaths``), accruing
    over ``months`` where it is a flow (the $7.5 bn package: 7500 USD_M over 60 months)."""

    value: float
    unit: str
    months: int | None = Field(default=None, gt=0)
    note: str | None = None

    @field_validator("unit")
    @classmethod
    def _unit_is_identifier(cls, v: str) -> str:
        if not _UNIT_RE.match(v):
            raise ValueError(f"unit must be an identifier such as USD_M or deaths, got {v!r}")
        return v


class Effect(_Strict):
    """An exogenous change of one state variable by a shock: exactly one of ``set`` or ``add``."""

    set: float | None = None
    add: float | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Effect:
        if (self.set is None) == (self.add is None):
            raise ValueError("give exactly one of {set: x} or {add: x}")
        return self


class Event(_Strict):
    """One dated event of the documented history, as recorded in ``events.yaml``.

    ``goldstein`` and ``event_type`` come from the CAMEO code (``event_types.yaml``); ``precision``
    from the date's format; ``month`` is ``model_month`` or else the date's month (July for a
    year-only date)."""

    id: str
    date: str
    date_range: tuple[str, str] | None = Field(default=None, alias="range")
    model_month: str | None = None
    actor: str
    actor_name: str | None = None
    target: str
    target_name: str | None = None
    cameo: str
    kind: Literal["shock", "decision", "context"]
    action: str | None = None
    magnitude: Magnitude | None = None
    effects: dict[str, Effect] | None = None
    source: str
    quote: str = Field(min_length=MIN_QUOTE_CHARS)
    conflict: str | None = None
    note: str | None = None

    # Where the record was read from, for error messages and listings; not part of the data.
    _file: str = PrivateAttr(default="")
    _line: int = PrivateAttr(default=0)

    @field_validator("id", "conflict")
    @classmethod
    def _snake_case(cls, v: str | None) -> str | None:
        if v is not None and not _ID_RE.match(v):
            raise ValueError(f"expected a snake_case id such as salala_strike_2011, got {v!r}")
        return v

    @field_validator("date", mode="before")
    @classmethod
    def _date_text(cls, v: Any) -> Any:
        # Unquoted YAML dates arrive as int (2011) or datetime.date (2011-05-02); accept both.
        if isinstance(v, bool):
            return v
        if isinstance(v, int):
            return str(v)
        if isinstance(v, dt.date):
            return v.isoformat()
        return v

    @field_validator("date")
    @classmethod
    def _date_format(cls, v: str) -> str:
        parse_date(v)
        return v

    @field_validator("date_range")
    @classmethod
    def _range_format(cls, v: tuple[str, str] | None) -> tuple[str, str] | None:
        if v is None:
            return v
        for bound in v:
            parse_date(bound)
        if date_span(v[0])[0] > date_span(v[1])[1]:
            raise ValueError(f"range start {v[0]!r} is after its end {v[1]!r}")
        return v

    @field_validator("model_month")
    @classmethod
    def _month_format(cls, v: str | None) -> str | None:
        if v is not None:
            m = _MONTH_RE.match(v)
            if m is None or not 1 <= int(m[2]) <= 12:
                raise ValueError(f"expected model_month 'YYYY-MM', got {v!r}")
        return v

    @field_validator("actor", "target")
    @classmethod
    def _party(cls, v: str) -> str:
        if v not in PARTIES:
            raise ValueError(f"unknown actor {v!r}; expected one of {', '.join(PARTIES)}")
        return v

    @field_validator("cameo", mode="before")
    @classmethod
    def _cameo_text(cls, v: Any) -> Any:
        if not isinstance(v, str):
            raise ValueError(f"cameo must be a quoted code such as \"195\" or \"01\", got {v!r}")
        return v

    @field_validator("cameo")
    @classmethod
    def _cameo_known(cls, v: str) -> str:
        if v not in event_types():
            raise ValueError(f"unknown CAMEO code {v!r}; expected a code from event_types.yaml")
        return v

    @field_validator("action")
    @classmethod
    def _action_known(cls, v: str | None) -> str | None:
        if v is not None and v not in ACTION_INDEX:
            raise ValueError(f"unknown action {v!r}; expected a name from model.core.spec.ACTIONS")
        return v

    @field_validator("effects")
    @classmethod
    def _effects_known(cls, v: dict[str, Effect] | None) -> dict[str, Effect] | None:
        for name in v or {}:
            if name not in STATE_INDEX:
                raise ValueError(
                    f"unknown state variable {name!r}; expected one of "
                    f"{', '.join(STATE_INDEX)}"
                )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Event:
        problems: list[tuple[str, str]] = []
        for role in ("actor", "target"):
            if getattr(self, role) == OTHER and not getattr(self, f"{role}_name"):
                problems.append((role, f"{role} is OTHER: give {role}_name (who it is)"))
        if self.kind == "decision" and self.action is None:
            problems.append(("action", "a decision needs an action from model.core.spec.ACTIONS"))
        if self.action is not None:
            owner = ACTIONS[ACTION_INDEX[self.action]].actor
            if owner != self.actor:
                problems.append(
                    ("action", f"action {self.action} belongs to {owner}, not to {self.actor}")
                )
        if self.effects and self.kind != "shock":
            problems.append(("effects", "only shocks carry effects"))
        for name, eff in (self.effects or {}).items():
            var = STATE_VARS[STATE_INDEX[name]]
            if eff.set is not None and not var.lo <= eff.set <= var.hi:
                problems.append(
                    ("effects", f"{name}: set {eff.set} is outside [{var.lo}, {var.hi}]")
                )
        first, last = date_span(self.date)
        if self.date_range is not None:
            lo, hi = date_span(self.date_range[0])[0], date_span(self.date_range[1])[1]
            if last < lo or first > hi:
                problems.append(("range", f"date {self.date} lies outside range {lo}..{hi}"))
            first, last, where = lo, hi, "range"
        else:
            where = "date"
        if self.model_month is not None and not first <= self.model_month <= last:
            problems.append(
                ("model_month", f"model_month {self.model_month} is outside the {where} "
                                f"{first}..{last}")
            )
        if problems:
            raise _RecordProblemsError(problems)
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def goldstein(self) -> float:
        """Goldstein cooperation-conflict weight of the event's CAMEO code (-10..+10)."""
        return cameo_goldstein(self.cameo)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def precision(self) -> Precision:
        """How precisely the date is known: ``year``, ``month`` or ``day``."""
        return parse_date(self.date)[0]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def month(self) -> str:
        """The month ("YYYY-MM") at which the model places the event."""
        if self.model_month is not None:
            return self.model_month
        _, year, month, _ = parse_date(self.date)
        return _month_str(year, month or DEFAULT_MONTH_OF_YEAR)

    @property
    def event_type(self) -> str:
        """The CAMEO event type's name, e.g. ``employ aerial weapons``."""
        return event_types()[self.cameo]["name"]

    @property
    def location(self) -> str:
        """``FILE:LINE`` of the record, where it was loaded from a file."""
        return f"{self._file}:{self._line}"


class Source(_Strict):
    """One source article: a ``.txt`` file in the sources folder and what is known about it."""

    file: str
    title: str
    author: str | None = None
    outlet: str
    kind: Literal["news agency", "state broadcaster", "party blog", "opinion", "analysis"]
    perspective: str
    published: str
    published_inferred: bool = False
    published_basis: str | None = None
    weight: float = Field(default=1.0, gt=0)
    weight_why: str | None = None
    note: str | None = None

    @field_validator("file")
    @classmethod
    def _bare_name(cls, v: str) -> str:
        if not v or "/" in v or "\\" in v or v.startswith("."):
            raise ValueError(f"expected a bare file name in the sources folder, got {v!r}")
        return v

    @field_validator("published", mode="before")
    @classmethod
    def _published_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("published")
    @classmethod
    def _published_format(cls, v: str) -> str:
        _period_bound(v, end=False)
        return v

    @model_validator(mode="after")
    def _explained(self) -> Source:
        problems: list[tuple[str, str]] = []
        if self.published_inferred and not self.published_basis:
            problems.append(("published_inferred", "an inferred date needs its published_basis"))
        if self.weight != 1.0 and not self.weight_why:
            problems.append(("weight", "a weight other than 1.0 needs its weight_why"))
        if problems:
            raise _RecordProblemsError(problems)
        return self


class Account(_Strict):
    """One article's version of a disputed fact."""

    source: str
    quote: str = Field(min_length=MIN_QUOTE_CHARS)
    value: Scalar


class Conflict(_Strict):
    """Accounts that disagree, the value the model uses and why."""

    id: str
    topic: str
    accounts: list[Account] = Field(min_length=1)
    model_uses: Scalar
    why: str

    @field_validator("id")
    @classmethod
    def _snake_case(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError(f"expected a snake_case id, got {v!r}")
        return v


# --------------------------------------------------------------------------------- YAML input
class _Located(dict):
    """A YAML mapping that remembers its line, each key's line and any duplicated keys."""

    line: int = 0
    key_lines: dict[Any, int]
    duplicates: list[tuple[Any, int]]


class _LineLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that records line numbers (1-based) and notes duplicate keys instead of
    silently keeping the last value, so that all of them can be reported."""


def _construct_located(loader: _LineLoader, node: yaml.MappingNode) -> _Located:
    loader.flatten_mapping(node)
    data = _Located()
    data.line = node.start_mark.line + 1
    data.key_lines, data.duplicates = {}, []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            seen = key in data
        except TypeError as exc:  # an unhashable key such as a list
            raise yaml.constructor.ConstructorError(
                None, None, f"unhashable mapping key {key!r}", key_node.start_mark
            ) from exc
        if seen:
            data.duplicates.append((key, line))
            continue
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = line
    return data


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_located)


def _line_of(node: Any, loc: tuple[Any, ...]) -> int:
    """Best line for an error at ``loc`` inside ``node``: the deepest key that exists."""
    line = getattr(node, "line", 0)
    for part in loc:
        if isinstance(node, _Located) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            line = getattr(node, "line", line)
        else:
            break
    return line


def _all_duplicates(node: Any) -> list[tuple[Any, int]]:
    found: list[tuple[Any, int]] = []
    if isinstance(node, _Located):
        found += node.duplicates
        for value in node.values():
            found += _all_duplicates(value)
    elif isinstance(node, list):
        for item in node:
            found += _all_duplicates(item)
    return found


class _Problems:
    """Collects problems as ``FILE:LINE: WHAT 'ID': message``."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, file: Path | str, line: int, what: str, message: str) -> None:
        where = f"{file}:{line}" if line else f"{file}"
        self.items.append(f"{where}: {what}: {message}" if what else f"{where}: {message}")

    def from_validation(self, file: Path, node: Any, what: str, exc: ValidationError) -> None:
        for err in exc.errors():
            loc = tuple(err["loc"])
            inner = (err.get("ctx") or {}).get("error")
            if isinstance(inner, _RecordProblemsError):
                for key, message in inner.items:
                    self.add(file, _line_of(node, (*loc, key)), what, message)
                continue
            self.add(file, _line_of(node, loc), what, _describe(err))


def _describe(err: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "missing":
        return f"missing required field '{loc}'"
    if kind == "extra_forbidden":
        return f"unknown field '{loc}'"
    message = err["msg"].removeprefix("Value error, ")
    return f"{loc}: {message}" if loc else message


_UNREADABLE = object()


def _read_yaml(path: Path, problems: _Problems) -> Any:
    """The YAML document in ``path``, or ``_UNREADABLE`` after reporting why it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(path, 0, "", f"cannot read the file: {exc}")
        return _UNREADABLE
    try:
        return yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problems.add(path, line, "", f"invalid YAML: {getattr(exc, 'problem', exc)}")
        return _UNREADABLE


def _top_list(path: Path, data: Any, key: str, problems: _Problems, *, required: bool) -> list:
    """The list under a top-level key, reporting a wrong shape."""
    if data is _UNREADABLE:  # already reported by _read_yaml
        return []
    if not isinstance(data, dict):
        problems.add(path, getattr(data, "line", 1), "", f"expected a mapping with '{key}:'")
        return []
    if key not in data:
        if required:
            problems.add(path, data.line, "", f"missing top-level key '{key}:'")
        return []
    items = data[key]
    if not isinstance(items, list):
        problems.add(path, data.key_lines.get(key, 0), "", f"'{key}:' must be a list")
        return []
    return items


def _check_top_keys(path: Path, data: Any, allowed: tuple[str, ...], problems: _Problems) -> None:
    if isinstance(data, _Located):
        for key in data:
            if key not in allowed:
                problems.add(path, data.key_lines[key], "",
                             f"unknown top-level key {key!r}; expected {', '.join(allowed)}")
        for key, line in data.duplicates:
            problems.add(path, line, "", f"duplicate top-level key {key!r}")


def _record_name(item: Any, key: str, index: int) -> str:
    name = item.get(key) if isinstance(item, dict) else None
    return repr(name) if isinstance(name, str) else f"#{index + 1}"


# ------------------------------------------------------------------------------------ catalog
@dataclass(frozen=True, eq=False)
class Catalog:
    """The validated catalog: ``events`` (sorted by month, then date), ``sources`` by file name,
    ``conflicts`` (the disagreeing accounts), and the paths it was loaded from."""

    events: list[Event]
    sources: dict[str, Source]
    conflicts: list[Conflict]
    events_path: Path
    sources_path: Path
    sources_dir: Path

    def event(self, event_id: str) -> Event:
        """The event with this id (``KeyError`` if there is none)."""
        for ev in self.events:
            if ev.id == event_id:
                return ev
        raise KeyError(event_id)

    def conflict(self, conflict_id: str) -> Conflict:
        """The conflict record with this id (``KeyError`` if there is none)."""
        for c in self.conflicts:
            if c.id == conflict_id:
                return c
        raise KeyError(conflict_id)

    def source_text(self, file: str) -> str:
        """The full text of a source article."""
        if file not in self.sources:
            raise KeyError(file)
        return (self.sources_dir / file).read_text(encoding="utf-8")

    def frame(self) -> pd.DataFrame:
        """One row per event with the columns in ``FRAME_COLUMNS``, sorted by month (then date and
        id), the source's outlet and perspective joined in."""
        rows = [
            {
                "id": ev.id, "date": ev.date, "month": ev.month, "precision": ev.precision,
                "actor": ev.actor, "target": ev.target, "actor_name": ev.actor_name,
                "target_name": ev.target_name, "cameo": ev.cameo, "event_type": ev.event_type,
                "goldstein": ev.goldstein, "kind": ev.kind, "action": ev.action,
                "magnitude_value": ev.magnitude.value if ev.magnitude else None,
                "magnitude_unit": ev.magnitude.unit if ev.magnitude else None,
                "source": ev.source, "outlet": self.sources[ev.source].outlet,
                "perspective": self.sources[ev.source].perspective, "quote": _squash(ev.quote),
            }
            for ev in self.events
        ]
        df = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
        df["magnitude_value"] = df["magnitude_value"].astype("float64")
        df["goldstein"] = df["goldstein"].astype("float64")
        return df.sort_values(["month", "date", "id"], kind="stable").reset_index(drop=True)

    def filter(
        self,
        actor: str | None = None,
        kind: str | None = None,
        start: str | None = None,
        end: str | None = None,
        cameo: str | None = None,
    ) -> list[Event]:
        """Events matching every given criterion, in month order.

        ``actor`` matches the event's actor or its target; ``kind`` is shock, decision or context;
        ``start``/``end`` ("YYYY" or "YYYY-MM") bound the event's ``month`` inclusively; ``cameo``
        matches the code and its sub-codes (``"19"`` matches 19, 191 and 195), as CAMEO is a tree.
        """
        if actor is not None and actor not in PARTIES:
            raise ValueError(f"unknown actor {actor!r}; expected one of {', '.join(PARTIES)}")
        if kind is not None and kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        lo = _period_bound(start, end=False) if start is not None else None
        hi = _period_bound(end, end=True) if end is not None else None
        return [
            ev for ev in self.events
            if (actor is None or actor in (ev.actor, ev.target))
            and (kind is None or ev.kind == kind)
            and (lo is None or ev.month >= lo)
            and (hi is None or ev.month <= hi)
            and (cameo is None or ev.cameo.startswith(cameo))
        ]

    def decisions(self) -> list[Event]:
        """Documented decisions of the modelled actors (each with its action): what the agents'
        rules should reproduce in a history replay."""
        return [ev for ev in self.events if ev.kind == "decision" and ev.action is not None]

    def shocks(self) -> list[Event]:
        """Events that enter a history replay from outside the agents' rules."""
        return [ev for ev in self.events if ev.kind == "shock"]


def load_catalog(
    events_path: Path | str | None = None,
    sources_path: Path | str | None = None,
    sources_dir: Path | str | None = None,
) -> Catalog:
    """Load and validate a catalog; raise ``CatalogError`` listing every problem.

    Defaults: the packaged ``model/data/events.yaml``; ``sources.yaml`` next to the events file;
    the ``sources/`` folder next to ``sources.yaml``. The packaged catalog is loaded once and
    cached (treat it as read-only)."""
    if events_path is None and sources_path is None and sources_dir is None:
        return _default_catalog()
    events = Path(events_path) if events_path is not None else EVENTS_PATH
    sources = Path(sources_path) if sources_path is not None else events.parent / "sources.yaml"
    folder = Path(sources_dir) if sources_dir is not None else sources.parent / "sources"
    return _load(events, sources, folder)


@cache
def _default_catalog() -> Catalog:
    return _load(EVENTS_PATH, SOURCES_PATH, SOURCES_DIR)


def _load(events_path: Path, sources_path: Path, sources_dir: Path) -> Catalog:
    problems = _Problems()
    sources, texts = _load_sources(sources_path, sources_dir, problems)
    data = _read_yaml(events_path, problems)
    _check_top_keys(events_path, data, ("events", "conflicts"), problems)
    events = _load_events(events_path, data, sources, texts, problems)
    conflicts = _load_conflicts(events_path, data, sources, texts, events, problems)
    if problems.items:
        raise CatalogError(problems.items)
    # Month order is what every consumer wants; the stable sort keeps file order within a date.
    events.sort(key=lambda ev: (ev.month, ev.date))
    return Catalog(events, sources, conflicts, events_path, sources_path, sources_dir)


def _load_sources(
    path: Path, folder: Path, problems: _Problems
) -> tuple[dict[str, Source], dict[str, str]]:
    """Source records by file name, and the text of each file found on disk."""
    data = _read_yaml(path, problems)
    _check_top_keys(path, data, ("sources",), problems)
    sources: dict[str, Source] = {}
    texts: dict[str, str] = {}
    for i, item in enumerate(_top_list(path, data, "sources", problems, required=True)):
        what = f"source {_record_name(item, 'file', i)}"
        for key, line in _all_duplicates(item):
            problems.add(path, line, what, f"duplicate key '{key}'")
        try:
            src = Source.model_validate(item)
        except ValidationError as exc:
            problems.from_validation(path, item, what, exc)
            continue
        if src.file in sources:
            problems.add(path, item.line, what, "duplicate record for this file")
            continue
        sources[src.file] = src
        file = folder / src.file
        try:
            texts[src.file] = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            problems.add(path, _line_of(item, ("file",)), what, f"file missing on disk: {file}")
        except (OSError, UnicodeDecodeError) as exc:
            problems.add(path, _line_of(item, ("file",)), what, f"cannot read {file}: {exc}")
    if folder.is_dir():
        for file in sorted(folder.glob("*.txt")):
            if file.name not in sources:
                problems.add(file, 0, "", f"source file has no record in {path}")
    elif data is not _UNREADABLE:
        problems.add(folder, 0, "", "sources folder not found")
    return sources, texts


def _check_quote(
    file: Path, node: Any, loc: tuple, what: str, source: str, quote: str,
    sources: dict[str, Source], texts: dict[str, str], problems: _Problems,
) -> None:
    line = _line_of(node, loc)
    source_line = _line_of(node, (*loc[:-1], "source"))
    if source not in sources:
        problems.add(file, source_line, what,
                     f"source {source!r} has no record in sources.yaml (or an invalid one)")
    elif source not in texts:
        problems.add(file, source_line, what,
                     f"source file {source!r} is missing on disk or unreadable")
    elif not quote_found(quote, texts[source]):
        problems.add(file, line, what,
                     f"quote not found verbatim in {source} (whitespace aside): {quote!r}")


def _load_events(
    path: Path, data: Any, sources: dict[str, Source], texts: dict[str, str],
    problems: _Problems,
) -> list[Event]:
    events: list[Event] = []
    first_line: dict[str, int] = {}
    for i, item in enumerate(_top_list(path, data, "events", problems, required=True)):
        what = f"event {_record_name(item, 'id', i)}"
        if not isinstance(item, dict):
            problems.add(path, data.key_lines.get("events", 0), what, "expected a mapping")
            continue
        for key, line in _all_duplicates(item):
            problems.add(path, line, what, f"duplicate key '{key}'")
        try:
            ev = Event.model_validate(item)
        except ValidationError as exc:
            problems.from_validation(path, item, what, exc)
            ev = None
        # Duplicate ids and quotes are checked even when other fields are broken.
        ev_id = item.get("id")
        if isinstance(ev_id, str):
            if ev_id in first_line:
                problems.add(path, item.line, what,
                             f"duplicate id (first used at line {first_line[ev_id]})")
            else:
                first_line[ev_id] = item.line
        source, quote = item.get("source"), item.get("quote")
        if isinstance(source, str) and isinstance(quote, str):
            _check_quote(path, item, ("quote",), what, source, quote, sources, texts, problems)
        if ev is not None:
            ev._file, ev._line = str(path), item.line
            events.append(ev)
    return events


def _load_conflicts(
    path: Path, data: Any, sources: dict[str, Source], texts: dict[str, str],
    events: list[Event], problems: _Problems,
) -> list[Conflict]:
    conflicts: list[Conflict] = []
    lines: dict[str, int] = {}
    for i, item in enumerate(_top_list(path, data, "conflicts", problems, required=False)):
        what = f"conflict {_record_name(item, 'id', i)}"
        if not isinstance(item, dict):
            problems.add(path, data.key_lines.get("conflicts", 0), what, "expected a mapping")
            continue
        for key, line in _all_duplicates(item):
            problems.add(path, line, what, f"duplicate key '{key}'")
        try:
            conflict = Conflict.model_validate(item)
        except ValidationError as exc:
            problems.from_validation(path, item, what, exc)
            continue
        if conflict.id in lines:
            problems.add(path, item.line, what,
                         f"duplicate id (first used at line {lines[conflict.id]})")
            continue
        lines[conflict.id] = item.line
        for j, account in enumerate(conflict.accounts):
            _check_quote(path, item, ("accounts", j, "quote"), what, account.source,
                         account.quote, sources, texts, problems)
        conflicts.append(conflict)
    used = {ev.conflict for ev in events if ev.conflict is not None}
    for ev in events:
        if ev.conflict is not None and ev.conflict not in lines:
            problems.add(path, ev._line, f"event {ev.id!r}",
                         f"conflict {ev.conflict!r} has no record under 'conflicts:'")
    for conflict in conflicts:
        if conflict.id not in used:
            problems.add(path, lines[conflict.id], f"conflict {conflict.id!r}",
                         "no event refers to this conflict (set `conflict:` on the event the "
                         "model uses)")
    return conflicts


# ------------------------------------------------------------------------------------ listing
def _party(code: str, name: str | None) -> str:
    return name if code == OTHER and name else code


def format_events(events: Iterable[Event]) -> str:
    """A readable listing, one event per two lines: month, actor->target, event type (CAMEO code,
    Goldstein weight), kind (and action), id; then the quote and its source, indented."""
    lines: list[str] = []
    for ev in events:
        who = f"{_party(ev.actor, ev.actor_name)} -> {_party(ev.target, ev.target_name)}"
        kind = f"{ev.kind}:{ev.action}" if ev.action else ev.kind
        size = (f" [{ev.magnitude.value:g} {ev.magnitude.unit}]" if ev.magnitude else "")
        lines.append(
            f"{ev.month}  {who:<28}  {ev.event_type} ({ev.cameo}, {ev.goldstein:+.1f}){size}"
            f"  {kind}  {ev.id}"
        )
        lines.append(f"         \"{_squash(ev.quote)}\" ({ev.source})")
    return "\n".join(lines)
