"""The one date parser (model/io/dates.py) and the one located YAML loader (model/io/yamlio.py).

Unit checks of what each accepts and refuses; properties against ``datetime`` (the calendar) and
between the readers that use them: a scenario's event date and a catalog event's date accept and
refuse the same texts.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from model.inputs.catalog import Event
from model.inputs.scenario import EventSpec, ScenarioError, loads_scenario
from model.io import dates, yamlio
from model.io.yamlio import YamlError


# ------------------------------------------------------------------------------- the parser
@pytest.mark.parametrize(("text", "parsed"), [
    ("2011", ("year", 2011, 0, 0)),
    ("2011-05", ("month", 2011, 5, 0)),
    ("2011-05-02", ("day", 2011, 5, 2)),
    ("2012-02-29", ("day", 2012, 2, 29)),
])
def test_parse_date_reads_each_precision(text, parsed):
    assert dates.parse_date(text) == parsed


@pytest.mark.parametrize(("text", "words"), [
    ("2011-02-31", "28 days"),
    ("2011-02-29", "28 days"),
    ("2011-04-31", "30 days"),
    ("2011-02-00", "28 days"),
    ("2011-13", "outside 01..12"),
    ("2011-00", "outside 01..12"),
    ("2011-13-01", "outside 01..12"),
    ("0000-01-01", "no year 0000"),
    ("11/2011", "expected a date as YYYY, YYYY-MM or YYYY-MM-DD"),
    ("2011-1", "expected a date"),
    ("2011-05-02T10:00", "expected a date"),
    ("", "expected a date"),
])
def test_parse_date_refuses_with_the_text_named(text, words):
    with pytest.raises(ValueError, match=r"expected") as info:
        dates.parse_date(text)
    assert repr(text) in str(info.value)
    assert words in str(info.value)


def test_parse_date_honours_the_allowed_precisions():
    assert dates.parse_date("2011-05", allow=("month",))[0] == "month"
    with pytest.raises(ValueError, match="expected a date as YYYY-MM, got '2011'"):
        dates.parse_date("2011", allow=("month",))
    with pytest.raises(ValueError, match="YYYY or YYYY-MM, got '2011-05-02'"):
        dates.parse_date("2011-05-02", allow=("year", "month"))


@given(st.integers(1, 9999), st.integers(0, 13), st.integers(0, 32))
def test_a_day_is_accepted_exactly_when_the_calendar_has_it(year, month, day):
    text = f"{year:04d}-{month:02d}-{day:02d}"
    try:
        dt.date(year, month, day)
        real = True
    except ValueError:
        real = False
    try:
        dates.parse_date(text)
        accepted = True
    except ValueError:
        accepted = False
    assert accepted == real, text


@given(st.dates(), st.dates())
def test_month_index_and_month_label_are_inverse(a, b):
    start, date = a.isoformat()[:7], b.isoformat()
    k = dates.month_index(start, date)
    assert k == (b.year - a.year) * 12 + b.month - a.month
    assert dates.month_label(start, k) == date[:7]


def test_date_span_covers_a_year_or_a_month():
    assert dates.date_span("2011") == ("2011-01", "2011-12")
    assert dates.date_span("2011-05") == ("2011-05", "2011-05")
    assert dates.date_span("2011-05-02") == ("2011-05", "2011-05")


def test_as_text_takes_yaml_dates_back_as_text():
    assert dates.as_text(dt.date(2011, 5, 2)) == "2011-05-02"
    assert dates.as_text(2011) == "2011"
    assert dates.as_text(True) is True
    assert dates.as_text("2011-05") == "2011-05"


# --------------------------------------------------- one parser for scenarios and the catalog
def _scenario_accepts(text: str) -> bool:
    try:
        EventSpec(id="a", date=text)
    except ValidationError:
        return False
    return True


def _catalog_accepts(text: str) -> bool:
    try:
        Event.model_validate({"id": "x_event", "date": text, "actor": "US", "target": "PAK_MIL",
                              "cameo": "10", "kind": "context", "source": "a.txt",
                              "quote": "a quote long enough"})
    except ValidationError:
        return False
    return True


@given(st.integers(1900, 2100), st.integers(0, 13), st.one_of(st.none(), st.integers(0, 32)))
def test_scenario_and_catalog_accept_the_same_dates(year, month, day):
    """The two readers that disagreed (the scenario accepted 2011-02-31) now read dates alike:
    a month or a day date is accepted by both or refused by both."""
    text = f"{year:04d}-{month:02d}" + (f"-{day:02d}" if day is not None else "")
    assert _scenario_accepts(text) == _catalog_accepts(text), text


@pytest.mark.parametrize("date", ["2011-02-31", '"2011-02-31"'])
def test_scenario_refuses_february_31_located(date):
    text = f"name: x\nmonths: 240\nevents:\n  - {{id: a, date: {date}, actor: US, cameo: '057'}}\n"
    with pytest.raises(ScenarioError) as info:
        loads_scenario(text)
    message = str(info.value)
    assert message.startswith("<upload>:4:"), message
    assert "'2011-02-31' is not a date" in message


# --------------------------------------------------------------------------- the YAML loader
def test_loader_refuses_a_duplicate_key_with_its_location():
    with pytest.raises(YamlError, match=r"^f\.yaml:4:3: duplicate key 'c'$") as info:
        yamlio.loads("a: 1\nb:\n  c: 1\n  c: 2\n", "f.yaml")
    assert (info.value.file, info.value.line, info.value.column) == ("f.yaml", 4, 3)


def test_loader_can_keep_duplicates_aside_for_readers_that_report_all():
    doc = yamlio.loads("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", "f.yaml", duplicates="keep_first")
    assert doc.data == {"a": 1, "b": {"c": 1}}
    assert doc.duplicates == [(("b", "c"), (4, 3)), (("a",), (5, 1))]
    assert doc.line(("b", "c")) == 3
    assert doc.line(("b",)) == 2
    assert doc.line(("b", "nope", 7)) == 2


def test_loader_keeps_an_impossible_unquoted_date_as_its_text():
    doc = yamlio.loads("a: 2011-02-31\nb: 2001-13-45\nc: 2011-02-03\n", "f.yaml")
    assert doc.data == {"a": "2011-02-31", "b": "2001-13-45", "c": dt.date(2011, 2, 3)}


@pytest.mark.parametrize(("text", "words"), [
    ("a: !!int foo", "'foo' is not a valid int"),
    ("a: !!bool maybe", "'maybe' is not a valid bool"),
    ("a: !!timestamp soon", "'soon' is not a valid timestamp"),
])
def test_loader_locates_a_scalar_it_cannot_build(text, words):
    with pytest.raises(YamlError, match=r"^f\.yaml:1:4: ") as info:
        yamlio.loads(text, "f.yaml")
    assert words in str(info.value)


def test_loader_limits_are_per_reader():
    text = "a: [" + ", ".join(["1"] * 50) + "]\n"
    assert len(yamlio.loads(text, "f.yaml").data["a"]) == 50
    with pytest.raises(YamlError, match="more than 20 values"):
        yamlio.loads(text, "f.yaml", limits=yamlio.Limits(max_nodes=20))
    with pytest.raises(YamlError, match="limit is 100"):
        yamlio.loads(text + "#" * 100, "f.yaml", limits=yamlio.Limits(max_bytes=100))


def test_loader_says_what_an_empty_file_should_hold():
    with pytest.raises(YamlError, match="empty; expected a mapping with 'events:'"):
        yamlio.loads("\n", "f.yaml", expected="a mapping with 'events:'")
