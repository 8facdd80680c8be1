"""Dates: the one parser of 'YYYY', 'YYYY-MM' and 'YYYY-MM-DD', and month arithmetic.

Scenarios, the event catalog and outcome periods all read dates here, so they accept and refuse
the same texts. A date is read strictly: the month must be 01..12 and the day must exist in that
month (2011-02-31 and 2011-13 are refused, with a message naming the text and the forms
expected). Months are counted in the proleptic Gregorian calendar; 'YYYY-MM' labels are what
the model's time axis uses.

YAML reads an unquoted ``2011-05-02`` as a ``datetime.date`` and ``2011`` as an int: ``as_text``
turns both back into the text the user wrote, so validators see one kind of value.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Any, Literal

Precision = Literal["year", "month", "day"]
PRECISIONS: tuple[Precision, ...] = ("year", "month", "day")

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_FORM = {"year": "YYYY", "month": "YYYY-MM", "day": "YYYY-MM-DD"}


def _forms(allow: tuple[Precision, ...]) -> str:
    names = [_FORM[p] for p in PRECISIONS if p in allow]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def parse_date(text: Any, allow: tuple[Precision, ...] = PRECISIONS,
               ) -> tuple[Precision, int, int, int]:
    """Read ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (those of them in ``allow``) into
    (precision, year, month, day); month and day are 0 where the text omits them.

    Strict: the month must be 01..12 and the day must exist in its month. Raises ``ValueError``
    with a message that names the text and the forms expected.
    """
    expected = f"expected a date as {_forms(allow)}"
    m = _DATE_RE.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"{expected}, got {text!r}")
    precision: Precision = "day" if m[3] else "month" if m[2] else "year"
    if precision not in allow:
        raise ValueError(f"{expected}, got {text!r}")
    year, month, day = int(m[1]), int(m[2] or 0), int(m[3] or 0)
    if precision != "year":
        _check_calendar(text, year, month, day if precision == "day" else None, expected)
    return precision, year, month, day


def _check_calendar(text: str, year: int, month: int, day: int | None, expected: str) -> None:
    if not 1 <= month <= 12:
        raise ValueError(f"{text!r} is not a date: month {month:02d} is outside 01..12 "
                         f"({expected})")
    if day is None:
        return
    if year < dt.MINYEAR:
        raise ValueError(f"{text!r} is not a date: there is no year 0000 ({expected})")
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise ValueError(f"{text!r} is not a date: {month_text(year, month)} has {last} days "
                         f"({expected})")


def parse_month(text: Any) -> tuple[int, int]:
    """``"2011-11"`` or ``"2011-11-26"`` -> (2011, 11); a ``datetime.date`` is read as its ISO
    text. Raises ``ValueError`` (as ``parse_date``) for anything else."""
    _, year, month, _ = parse_date(as_text(text), allow=("month", "day"))
    return year, month


def month_text(year: int, month: int) -> str:
    """'YYYY-MM' of a year and a month (1..12)."""
    return f"{year:04d}-{month:02d}"


def month_index(start: Any, date: Any) -> int:
    """Months from ``start`` to ``date`` (both 'YYYY-MM[-DD]')."""
    y0, m0 = parse_month(start)
    y1, m1 = parse_month(date)
    return (y1 - y0) * 12 + (m1 - m0)


def month_label(start: Any, offset: int) -> str:
    """'YYYY-MM' of the month ``offset`` months after ``start``."""
    y0, m0 = parse_month(start)
    k = y0 * 12 + (m0 - 1) + offset
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def date_span(text: Any, allow: tuple[Precision, ...] = PRECISIONS) -> tuple[str, str]:
    """First and last month ('YYYY-MM') that a date of any precision covers: a year runs from
    January to December, a month or a day covers its month."""
    precision, year, month, _ = parse_date(text, allow)
    if precision == "year":
        return month_text(year, 1), month_text(year, 12)
    return month_text(year, month), month_text(year, month)


def as_text(v: Any) -> Any:
    """A date as YAML may deliver it, back as text: ``datetime.date`` -> 'YYYY-MM-DD', an int
    year -> 'YYYY'. Anything else (booleans included) is returned unchanged, for the validator
    to refuse."""
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return v
