"""The event catalog's records: events, source articles and conflicting accounts (pydantic).

Each record validates itself against the vocabulary (``model.core.spec``: actors, CAMEO codes,
actions, state variables) and reads its dates with ``model.io.dates``. Loading the YAML files and
reporting every problem with its file and line is ``model.inputs.catalog``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    computed_field,
    field_validator,
    model_validator,
)

from model.core.spec import ACTION_INDEX, ACTIONS, ACTORS, STATE_INDEX, STATE_VARS, event_types
from model.core.spec import goldstein as cameo_goldstein
from model.io import dates
from model.io.dates import Precision, date_span, month_text, parse_date

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

_ID_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_UNIT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

Scalar = str | int | float
#: A date as text: YAML's unquoted 2011 (an int) and 2011-05-02 (a date) are taken back as text.
DateText = Annotated[str, BeforeValidator(dates.as_text)]


class RecordProblemsError(ValueError):
    """Cross-field problems of one record, each tied to the key it concerns (for line numbers)."""

    def __init__(self, items: list[tuple[str, str]]):
        self.items = items
        super().__init__("; ".join(f"{key}: {msg}" for key, msg in items))


def squash(text: str) -> str:
    """Collapse every run of whitespace (incl. no-break spaces and line breaks) to one space."""
    return " ".join(text.split())


def quote_found(quote: str, text: str) -> bool:
    """Whether ``quote`` occurs verbatim in ``text`` once whitespace is collapsed on both sides.
    Nothing else is normalised: curly quotes, dashes and case must match the source."""
    return squash(quote) in squash(text)


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
    date: DateText
    date_range: tuple[DateText, DateText] | None = Field(default=None, alias="range")
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
            parse_date(v, allow=("month",))
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
        problems = self._role_problems() + self._date_problems()
        if problems:
            raise RecordProblemsError(problems)
        return self

    def _role_problems(self) -> list[tuple[str, str]]:
        """Who did it, with which action, and with which effects: each fits the others."""
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
        return problems

    def _date_problems(self) -> list[tuple[str, str]]:
        """The date lies inside its range, and ``model_month`` inside both."""
        problems: list[tuple[str, str]] = []
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
        return problems

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
        return month_text(year, month or DEFAULT_MONTH_OF_YEAR)

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
    published: DateText
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

    @field_validator("published")
    @classmethod
    def _published_format(cls, v: str) -> str:
        parse_date(v, allow=("year", "month"))
        return v

    @model_validator(mode="after")
    def _explained(self) -> Source:
        problems: list[tuple[str, str]] = []
        if self.published_inferred and not self.published_basis:
            problems.append(("published_inferred", "an inferred date needs its published_basis"))
        if self.weight != 1.0 and not self.weight_why:
            problems.append(("weight", "a weight other than 1.0 needs its weight_why"))
        if problems:
            raise RecordProblemsError(problems)
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
