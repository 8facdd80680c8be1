"""Tests of the documented-history catalog (model/inputs/catalog.py, model/data/events.yaml).

Layers: data checks read the YAML and the article files directly (independently of the loader),
so a loader bug cannot hide a bad quote; loader checks cover the API; bad-input checks write small
invalid catalogs to tmp_path and expect a CatalogError naming file, line and event id.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from model.core.spec import ACTION_INDEX, ACTIONS, ACTORS, STATE_INDEX, event_types, goldstein
from model.inputs import catalog as catalog_module
from model.inputs.catalog import (
    FRAME_COLUMNS,
    CatalogError,
    Event,
    format_events,
    load_catalog,
    quote_found,
)
from model.io import yamlio

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "model" / "data"
SOURCES_DIR = DATA / "sources"
SEED_DIRS = [Path("/work/shared/seeds"), REPO.parent / "shared" / "seeds"]


def _squash(text: str) -> str:
    return " ".join(text.split())


def _raw(name: str) -> dict:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


RAW_EVENTS: list[dict] = _raw("events.yaml")["events"]
RAW_CONFLICTS: list[dict] = _raw("events.yaml")["conflicts"]
RAW_SOURCES: list[dict] = _raw("sources.yaml")["sources"]


def _article(file: str) -> str:
    return _squash((SOURCES_DIR / file).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


# ------------------------------------------------------------------ the data, read directly
@pytest.mark.parametrize("event", RAW_EVENTS, ids=[e.get("id", "?") for e in RAW_EVENTS])
def test_every_quote_is_verbatim_in_its_source(event):
    # The key test: compared after collapsing whitespace only; quotes, dashes and case must match.
    assert _squash(event["quote"]) in _article(event["source"]), event["quote"]


@pytest.mark.parametrize("conflict", RAW_CONFLICTS, ids=[c["id"] for c in RAW_CONFLICTS])
def test_every_conflict_account_quote_is_verbatim(conflict):
    for account in conflict["accounts"]:
        assert _squash(account["quote"]) in _article(account["source"]), account["quote"]


def test_catalog_size_and_kinds():
    kinds = Counter(e["kind"] for e in RAW_EVENTS)
    assert len(RAW_EVENTS) >= 50
    assert sum(1 for e in RAW_EVENTS if e["kind"] == "decision" and e.get("action")) >= 12
    assert kinds["shock"] >= 8
    assert set(kinds) <= {"shock", "decision", "context"}


def test_ids_are_unique():
    ids = [e["id"] for e in RAW_EVENTS]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    conflict_ids = [c["id"] for c in RAW_CONFLICTS]
    assert len(conflict_ids) == len(set(conflict_ids))


def test_goldstein_weights_are_not_duplicated_in_the_yaml():
    assert not any("goldstein" in e for e in RAW_EVENTS)


def test_every_source_record_has_its_file_and_every_file_its_record():
    files = [s["file"] for s in RAW_SOURCES]
    assert len(files) == len(set(files))
    for file in files:
        assert (SOURCES_DIR / file).is_file(), file
    assert sorted(p.name for p in SOURCES_DIR.glob("*.txt")) == sorted(files)
    cited = {e["source"] for e in RAW_EVENTS}
    assert cited <= set(files)
    assert cited == set(files), "every article contributes at least one event"


def test_source_records_are_complete():
    for s in RAW_SOURCES:
        assert s["kind"] in {
            "news agency", "state broadcaster", "party blog", "opinion", "analysis"}
        for field in ("title", "outlet", "perspective"):
            assert s[field], field
        if s.get("published_inferred"):
            assert s["published_basis"]
        if s.get("weight", 1.0) != 1.0:
            assert s["weight_why"]
    by_kind = {s["kind"]: s for s in RAW_SOURCES}
    assert by_kind["party blog"]["weight"] < 1.0


def _seed_dir() -> Path | None:
    return next((d for d in SEED_DIRS if d.is_dir()), None)


@pytest.mark.skipif(_seed_dir() is None, reason="the shared seeds folder is not present")
def test_source_copies_are_byte_identical_to_the_seeds():
    seeds = _seed_dir()
    assert seeds is not None
    seed_files = sorted(p.name for p in seeds.glob("*.txt"))
    assert seed_files, "no seed articles found"
    for name in seed_files:
        assert (SOURCES_DIR / name).read_bytes() == (seeds / name).read_bytes(), name


def test_documented_history_is_covered():
    years = {str(e["date"])[:4] for e in RAW_EVENTS}
    for year in ("1947", "1965", "1971", "1979", "1989", "1992", "1999", "2001", "2003", "2004",
                 "2006", "2007", "2008", "2009", "2010", "2011", "2013", "2017", "2018", "2019",
                 "2021", "2022"):
        assert year in years, year


# -------------------------------------------------------------------------- loaded catalog
def test_default_catalog_loads_and_is_cached(cat):
    assert load_catalog() is cat
    assert len(cat.events) == len(RAW_EVENTS)
    assert set(cat.sources) == {s["file"] for s in RAW_SOURCES}
    assert {c.id for c in cat.conflicts} == {c["id"] for c in RAW_CONFLICTS}


def test_computed_fields_follow_the_vocabulary(cat):
    for ev in cat.events:
        assert ev.goldstein == goldstein(ev.cameo)
        assert ev.event_type == event_types()[ev.cameo]["name"]
        assert ev.precision == {4: "year", 7: "month", 10: "day"}[len(ev.date)]
        assert len(ev.month) == 7
        if ev.model_month is None and ev.precision == "year":
            assert ev.month == f"{ev.date}-07"
        for role in ("actor", "target"):
            assert getattr(ev, role) in (*ACTORS, "OTHER")
        for name in ev.effects or {}:
            assert name in STATE_INDEX


def test_decisions_carry_an_action_of_their_own_actor(cat):
    decisions = cat.decisions()
    assert len(decisions) >= 12
    assert all(ev.kind == "decision" for ev in decisions)
    for ev in cat.events:
        if ev.action is not None:
            assert ACTIONS[ACTION_INDEX[ev.action]].actor == ev.actor, ev.id
    assert len(decisions) == sum(1 for e in cat.events if e.kind == "decision")


@pytest.mark.parametrize(
    ("event_id", "kind", "action", "month"),
    [
        ("supply_route_closure_2011", "decision", "MIL_CLOSE_ROUTE", "2011-11"),
        ("drone_base_eviction_2011", "decision", "MIL_EVICT_DRONES", "2011-11"),
        ("kerry_lugar_aid_2009", "decision", "US_CIV_AID", "2009-10"),
        ("security_aid_suspension_2018", "decision", "US_SUSPEND_AID", "2018-01"),
        ("aq_khan_probe_closed_2006", "decision", "MIL_DEFY", "2006-05"),
        ("pakistan_brings_taliban_to_talks_2019", "decision", "MIL_MEDIATE", "2019-07"),
        ("zardari_memo_counter_coup_2011", "decision", "CIV_SEEK_BACKING", "2011-05"),
        ("sharif_seeks_us_backing_kargil_1999", "decision", "CIV_SEEK_BACKING", "1999-07"),
        ("abbottabad_raid_2011", "shock", "US_STRIKE", "2011-05"),
        ("salala_strike_2011", "shock", "US_STRIKE", "2011-11"),
        ("kabul_embassy_attack_2011", "shock", "TAL_ATTACK", "2011-09"),
        ("us_india_nuclear_deal_2006", "shock", "US_PARTNER_INDIA", "2006-03"),
        ("sep11_attacks_2001", "shock", None, "2001-09"),
        ("us_recognises_pakistan_1947", "context", None, "1947-10"),
    ],
)
def test_key_events(cat, event_id, kind, action, month):
    ev = cat.event(event_id)
    assert (ev.kind, ev.action, ev.month) == (kind, action, month)


def test_documented_figures(cat):
    kl = cat.event("kerry_lugar_aid_2009").magnitude
    assert (kl.value, kl.unit, kl.months) == (7500, "USD_M", 60)
    assert cat.event("salala_strike_2011").magnitude.value == 26
    assert cat.event("security_aid_suspension_2018").magnitude.value == 2000
    aid = cat.event("us_aid_1bn_per_year_2011").magnitude
    assert (aid.value, aid.months) == (1000, 12)
    assert cat.event("pak_war_losses_lives").magnitude.value == 100_000
    assert cat.event("pak_war_losses_economy").magnitude.value == 80_000
    assert cat.event("us_invades_afghanistan_2001").effects["us_force"].set > 0
    assert cat.event("us_withdrawal_afghanistan_2021").effects["us_force"].set == 0


def test_conflicts_keep_each_account_and_are_used(cat):
    used = Counter(ev.conflict for ev in cat.events if ev.conflict)
    for c in cat.conflicts:
        assert used[c.id] >= 1, c.id
        for account in c.accounts:
            assert account.source in cat.sources
            assert quote_found(account.quote, cat.source_text(account.source))
    salala = cat.conflict("salala_deaths")
    assert sorted(a.value for a in salala.accounts) == [26, 28]
    assert {a.source for a in salala.accounts} == {
        "003_334049317c33575a.txt", "004_b60b0096c51dfd7b.txt"}
    assert salala.model_uses == cat.event("salala_strike_2011").magnitude.value
    suspension = cat.conflict("aid_suspension_date")
    assert [a.value for a in suspension.accounts] == ["2019-01-05"]
    assert suspension.model_uses == cat.event("security_aid_suspension_2018").month == "2018-01"
    alliance = cat.conflict("alliance_2001_forced_or_offered")
    assert {"forced", "offered"} <= {a.value for a in alliance.accounts}
    assert cat.event("musharraf_joins_us_2001").conflict == alliance.id
    assert cat.event("us_invades_afghanistan_2001").month == cat.conflict(
        "afghanistan_invasion_year").model_uses


def test_frame_columns_and_order(cat):
    df = cat.frame()
    assert list(df.columns) == [
        "id", "date", "month", "precision", "actor", "target", "actor_name", "target_name",
        "cameo", "event_type", "goldstein", "kind", "action", "magnitude_value",
        "magnitude_unit", "source", "outlet", "perspective", "quote",
    ]
    assert list(df.columns) == list(FRAME_COLUMNS)
    assert len(df) == len(cat.events)
    assert df["month"].is_monotonic_increasing
    assert df["id"].is_unique
    row = df.set_index("id").loc["salala_strike_2011"]
    assert row["goldstein"] == -10.0
    assert (row["magnitude_value"], row["magnitude_unit"]) == (26, "deaths")
    assert row["outlet"] == "Voice of Russia"


def test_filter_by_actor_matches_actor_or_target(cat):
    india = cat.filter(actor="INDIA")
    assert all("INDIA" in (ev.actor, ev.target) for ev in india)
    ids = {ev.id for ev in india}
    assert "us_india_nuclear_deal_2006" in ids  # India as target
    assert "india_access_pashtun_tribes_2006" in ids  # India as actor
    expected = {ev.id for ev in cat.events if "INDIA" in (ev.actor, ev.target)}
    assert ids == expected


def test_filter_by_period_is_inclusive(cat):
    in_2011 = cat.filter(start="2011", end="2011")
    assert {ev.month[:4] for ev in in_2011} == {"2011"}
    assert len(in_2011) == sum(1 for ev in cat.events if ev.month.startswith("2011"))
    may = {ev.id for ev in cat.filter(start="2011-05", end="2011-05")}
    assert "abbottabad_raid_2011" in may
    assert "salala_strike_2011" not in may
    assert {ev.id for ev in cat.filter(start="2011-11", end="2011-11")} >= {
        "salala_strike_2011", "supply_route_closure_2011", "drone_base_eviction_2011"}
    assert all(ev.month >= "2019-07" for ev in cat.filter(start="2019-07"))
    assert all(ev.month <= "1999-12" for ev in cat.filter(end="1999"))


def test_filter_by_kind_and_cameo(cat):
    assert cat.filter(kind="shock") == cat.shocks()
    assert cat.filter(kind="decision") == cat.decisions()
    fights = {ev.id for ev in cat.filter(cameo="19")}
    assert {"salala_strike_2011", "supply_route_closure_2011"} <= fights  # 195 and 191
    assert all(ev.cameo.startswith("19") for ev in cat.filter(cameo="19"))
    combined = cat.filter(actor="PAK_MIL", kind="decision", start="2011", end="2011")
    assert combined
    assert all(ev.kind == "decision" and ev.month.startswith("2011") for ev in combined)


@pytest.mark.parametrize(
    "kwargs", [{"actor": "PAKISTAN"}, {"kind": "event"}, {"start": "2011-13"}, {"end": "11"}]
)
def test_filter_rejects_bad_arguments(cat, kwargs):
    with pytest.raises(ValueError, match=r"unknown|expected"):
        cat.filter(**kwargs)


def test_format_events_lists_month_dyad_kind_id_and_quote(cat):
    events = cat.filter(start="2011-11", end="2011-11")
    text = format_events(events)
    lines = text.splitlines()
    assert len(lines) == 2 * len(events)
    salala = next(i for i, line in enumerate(lines) if line.endswith("salala_strike_2011"))
    assert lines[salala].startswith("2011-11  US -> PAK_MIL")
    assert "employ aerial weapons" in lines[salala]
    assert "shock" in lines[salala]
    assert "26 Pakistani servicemen were killed" in lines[salala + 1]
    assert "003_334049317c33575a.txt" in lines[salala + 1]
    assert lines[salala + 1].startswith(" ")
    assert format_events([]) == ""


# ------------------------------------------------------------------------- the Event model
def _event(**fields) -> Event:
    base = {"id": "x_event", "date": "2011", "actor": "US", "target": "PAK_MIL", "cameo": "10",
            "kind": "context", "source": "a.txt", "quote": "a quote long enough"}
    return Event.model_validate({**base, **fields})


def test_event_precision_and_month():
    assert (_event(date="2011").precision, _event(date="2011").month) == ("year", "2011-07")
    assert (_event(date="2011-05").precision, _event(date="2011-05").month) == ("month", "2011-05")
    day = _event(date="2011-05-02")
    assert (day.precision, day.month) == ("day", "2011-05")
    assert _event(date="2011", model_month="2011-02").month == "2011-02"
    ranged = _event(date="2011", range=["2011-05", "2012"], model_month="2012-03")
    assert ranged.month == "2012-03"


@given(st.dates(min_value=dt.date(1900, 1, 1)))
def test_event_month_is_the_dates_month(day):
    ev = _event(date=day.isoformat())
    assert ev.month == day.isoformat()[:7]
    assert ev.precision == "day"


def test_event_rejects_model_month_outside_its_date():
    with pytest.raises(ValueError, match="model_month"):
        _event(date="2011-05", model_month="2011-06")


# ------------------------------------------------------------------------------ bad inputs
ARTICLE = (
    "On 3 March 2031 the Ruritanian army closed the “northern road” to all convoys.\n"
    "It reopened   the road\nin June 2031, after talks with Washington.\n"
)
SOURCES_YAML = """\
sources:
  - file: ruritania.txt
    title: Road closed
    outlet: Test Wire
    kind: news agency
    perspective: a neutral test text
    published: "2031-07"
"""
GOOD_EVENT = """\
  - id: road_closed_2031
    date: "2031-03-03"
    actor: PAK_MIL
    target: US
    cameo: "191"
    kind: decision
    action: MIL_CLOSE_ROUTE
    source: ruritania.txt
    quote: "the Ruritanian army closed the “northern road”"
"""


def _bad(event_id: str, **changes: str | None) -> str:
    """A copy of GOOD_EVENT with a new id and some fields changed (None drops the field)."""
    fields = {
        "date": '"2031-06"', "actor": "PAK_MIL", "target": "US", "cameo": '"08"',
        "kind": "decision", "action": "MIL_REOPEN_ROUTE", "source": "ruritania.txt",
        "quote": '"It reopened the road in June 2031"',
    }
    fields.update(changes)
    lines = [f"  - id: {event_id}"]
    lines += [f"    {k}: {v}" for k, v in fields.items() if v is not None]
    return "\n".join(lines) + "\n"


def _write(tmp_path: Path, events_body: str, conflicts: str = "") -> Path:
    (tmp_path / "sources").mkdir(exist_ok=True)
    (tmp_path / "sources" / "ruritania.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "sources.yaml").write_text(SOURCES_YAML, encoding="utf-8")
    events = tmp_path / "events.yaml"
    events.write_text("# a test catalog\nevents:\n" + events_body + conflicts, encoding="utf-8")
    return events


def _line(path: Path, needle: str, occurrence: int = 1) -> int:
    hits = [i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if needle in text]
    return hits[occurrence - 1]


def test_a_small_valid_catalog_loads(tmp_path):
    cat = load_catalog(_write(tmp_path, GOOD_EVENT + _bad("road_reopened_2031")))
    assert [ev.id for ev in cat.events] == ["road_closed_2031", "road_reopened_2031"]
    assert cat.event("road_reopened_2031").goldstein == 5.0
    assert cat.event("road_closed_2031").location.endswith("events.yaml:3")


BAD_CASES = [
    # (case, event text, text on the line the error must name, occurrence, words in the message)
    ("missing field", _bad("bad_missing", date=None), "- id: bad_missing", 1, "date"),
    ("unknown actor", _bad("bad_actor", actor="PAKISTAN"), "actor: PAKISTAN", 1, "PAKISTAN"),
    ("malformed date", _bad("bad_date", date='"2031-13"'), '"2031-13"', 1, "date"),
    ("impossible day", _bad("bad_day", date='"2031-02-30"'), '"2031-02-30"', 1, "date"),
    # Unquoted, YAML cannot build the date: the loader keeps the text and the record refuses it.
    ("impossible day, unquoted", _bad("bad_feb", date="2031-02-31"), "2031-02-31", 1,
     "'2031-02-31' is not a date: 2031-02 has 28 days"),
    ("month 00", _bad("bad_month00", date='"2031-00"'), '"2031-00"', 1, "outside 01..12"),
    ("impossible range bound", _bad("bad_range", range='["2031-02-31", "2031-07"]'),
     "2031-02-31", 1, "'2031-02-31' is not a date"),
    ("quote not in source", _bad("bad_quote", quote='"the road reopened in June"'),
     "the road reopened in June", 1, "quote not found"),
    ("duplicate key", _bad("bad_dup", target="US\n    target: INDIA"), "target: INDIA", 1,
     "duplicate key 'target'"),
    ("unknown action", _bad("bad_action", action="MIL_NUKE"), "MIL_NUKE", 1, "MIL_NUKE"),
    ("action of another actor", _bad("bad_owner", action="US_STRIKE"), "US_STRIKE", 1,
     "belongs to US"),
    ("decision without action", _bad("bad_noaction", action=None), "- id: bad_noaction", 1,
     "action"),
    ("unknown cameo", _bad("bad_cameo", cameo='"999"'), '"999"', 1, "999"),
    ("unquoted cameo", _bad("bad_cameo_int", cameo="191"), "cameo: 191", 1, "quoted"),
    ("model_month outside range",
     _bad("bad_month", range='["2031-05", "2031-07"]', model_month='"2031-09"'),
     "model_month", 1, "outside"),
    ("unknown state variable",
     _bad("bad_effect", kind="shock", action=None, effects="{morale: {add: 1}}"),
     "effects:", 1, "morale"),
    ("effects on a decision", _bad("bad_effect_kind", effects="{talks: {add: 0.1}}"),
     "effects:", 1, "only shocks"),
    ("source not in sources.yaml", _bad("bad_source", source="elsewhere.txt"),
     "elsewhere.txt", 1, "no record"),
    ("duplicate id", _bad("road_closed_2031"), "- id: road_closed_2031", 2, "duplicate id"),
    ("unknown field", _bad("bad_field", colour="red"), "colour: red", 1, "unknown field"),
    ("unknown conflict", _bad("bad_conflict", conflict="no_such_conflict"),
     "- id: bad_conflict", 1, "no_such_conflict"),
]


@pytest.mark.parametrize(
    ("case", "text", "needle", "occurrence", "words"), BAD_CASES, ids=[c[0] for c in BAD_CASES]
)
def test_bad_event_is_reported_with_file_line_and_id(tmp_path, case, text, needle, occurrence,
                                                     words):
    events = _write(tmp_path, GOOD_EVENT + text)
    bad_id = text.split("id: ", 1)[1].split("\n", 1)[0]
    with pytest.raises(CatalogError) as info:
        load_catalog(events)
    message = str(info.value)
    line = _line(events, needle, occurrence)
    assert line > 3, "the bad event must not sit on the first lines"
    assert f"events.yaml:{line}: event '{bad_id}'" in message, message
    assert words in message, message


def test_all_problems_are_reported_not_only_the_first(tmp_path):
    bad = (_bad("bad_one", actor="NATO") + _bad("bad_two", date='"31-01"')
           + _bad("bad_three", quote='"not there at all"'))
    events = _write(tmp_path, GOOD_EVENT + bad)
    with pytest.raises(CatalogError) as info:
        load_catalog(events)
    assert len(info.value.problems) == 3
    for bad_id in ("bad_one", "bad_two", "bad_three"):
        assert f"'{bad_id}'" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_yaml_syntax_names_file_and_line(tmp_path):
    events = _write(tmp_path, GOOD_EVENT + "  - id: broken\n    date: [unclosed\n")
    with pytest.raises(CatalogError, match=r"events\.yaml:\d+: invalid YAML"):
        load_catalog(events)


def test_catalog_reads_its_files_with_the_one_yaml_loader(tmp_path, monkeypatch):
    """Both files go through ``model.io.yamlio`` (with repeated keys kept aside so that each is
    reported with its record), and a duplicate key is found by it."""
    calls = []
    real_load = yamlio.load

    def spy(path, **options):
        calls.append((Path(path).name, options.get("duplicates")))
        return real_load(path, **options)

    monkeypatch.setattr(yamlio, "load", spy)
    events = _write(tmp_path, GOOD_EVENT + _bad("bad_dup", target="US\n    target: INDIA"))
    with pytest.raises(CatalogError) as info:
        load_catalog(events)
    assert sorted(calls) == [("events.yaml", "keep_first"), ("sources.yaml", "keep_first")]
    line = _line(events, "target: INDIA")
    assert f"events.yaml:{line}: event 'bad_dup': duplicate key 'target'" in str(info.value)


def test_catalog_sizes_are_bounded(tmp_path, monkeypatch):
    """A catalog file or an article over its limit is reported like any other problem."""
    events = _write(tmp_path, GOOD_EVENT)
    monkeypatch.setattr(catalog_module, "CATALOG_LIMITS", yamlio.Limits(max_nodes=15))
    with pytest.raises(CatalogError, match=r"events\.yaml:\d+: invalid YAML: more than 15 values"):
        load_catalog(events)
    monkeypatch.undo()
    monkeypatch.setattr(catalog_module, "MAX_ARTICLE_BYTES", 100)
    with pytest.raises(CatalogError) as info:
        load_catalog(events)
    assert f"sources.yaml:{_line(tmp_path / 'sources.yaml', 'file: ruritania.txt')}" in str(
        info.value)
    assert "the limit is 100" in str(info.value)


def test_bad_file_shapes_are_reported(tmp_path):
    events = _write(tmp_path, GOOD_EVENT)
    events.write_text("", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"events\.yaml:.*expected a mapping with 'events:'"):
        load_catalog(events)
    events.write_text("events:\n" + GOOD_EVENT + "evnets: []\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"events\.yaml:11: unknown top-level key 'evnets'"):
        load_catalog(events)
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "nowhere.yaml", sources_path=tmp_path / "sources.yaml")


def test_conflict_problems_are_reported(tmp_path):
    conflicts = """\
conflicts:
  - id: road_dates
    topic: when the road closed
    accounts:
      - source: ruritania.txt
        quote: "On 3 March 2031 the Ruritanian army"
        value: "2031-03-03"
      - source: ruritania.txt
        quote: "On 4 March 2031 the Ruritanian army"
        value: "2031-03-04"
    model_uses: "2031-03-03"
    why: a test
"""
    events = _write(tmp_path, GOOD_EVENT, conflicts)
    with pytest.raises(CatalogError) as info:
        load_catalog(events)
    message = str(info.value)
    assert f"events.yaml:{_line(events, 'On 4 March 2031')}: conflict 'road_dates'" in message
    assert "no event refers to this conflict" in message
    assert "On 3 March" not in message


def test_source_problems_name_sources_yaml(tmp_path):
    events = _write(tmp_path, GOOD_EVENT)
    sources = tmp_path / "sources.yaml"
    sources.write_text(SOURCES_YAML + """\
  - file: missing.txt
    title: Gone
    outlet: Test Wire
    kind: news agency
    perspective: none
    published: "2031"
    weight: 0.5
  - file: tabloid.txt
    title: Shouting
    outlet: Test Rag
    kind: tabloid
    perspective: none
    published: "2031"
""", encoding="utf-8")
    (tmp_path / "sources" / "stray.txt").write_text("no record for me", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(events)
    message = str(info.value)
    assert f"sources.yaml:{_line(sources, 'kind: tabloid')}: source 'tabloid.txt'" in message
    assert f"sources.yaml:{_line(sources, 'weight: 0.5')}: source 'missing.txt'" in message
    assert "stray.txt: source file has no record" in message


def test_source_missing_on_disk(tmp_path):
    events = _write(tmp_path, GOOD_EVENT)
    (tmp_path / "sources" / "ruritania.txt").unlink()
    with pytest.raises(CatalogError) as info:
        load_catalog(events)
    message = str(info.value)
    assert f"sources.yaml:{_line(tmp_path / 'sources.yaml', 'file: ruritania.txt')}" in message
    assert "missing on disk" in message
    assert "event 'road_closed_2031'" in message


# -------------------------------------------------------------------------- extensibility
def test_a_user_added_article_needs_no_code_change(tmp_path):
    # Copy the packaged catalog, drop in a new article, its record and an event citing it.
    shutil.copytree(SOURCES_DIR, tmp_path / "sources")
    (tmp_path / "sources" / "ruritania.txt").write_text(ARTICLE, encoding="utf-8")
    sources_text = (DATA / "sources.yaml").read_text(encoding="utf-8")
    record = SOURCES_YAML.split("sources:\n", 1)[1]
    (tmp_path / "sources.yaml").write_text(sources_text + record, encoding="utf-8")
    data = yaml.safe_load((DATA / "events.yaml").read_text(encoding="utf-8"))
    data["events"].append({
        "id": "road_reopened_2031", "date": "2031-06", "actor": "PAK_MIL", "target": "US",
        "cameo": "08", "kind": "decision", "action": "MIL_REOPEN_ROUTE",
        "source": "ruritania.txt", "quote": "It reopened the road in June 2031",
    })
    events = tmp_path / "events.yaml"
    events.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")

    cat = load_catalog(events)
    assert len(cat.events) == len(RAW_EVENTS) + 1
    assert cat.sources["ruritania.txt"].outlet == "Test Wire"
    assert cat.events[-1].id == "road_reopened_2031"
    assert cat.filter(start="2031")[0].id == "road_reopened_2031"
    assert cat.frame().iloc[-1]["outlet"] == "Test Wire"
    assert "road_reopened_2031" in format_events(cat.decisions())


def test_explicit_paths_are_honoured(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "ruritania.txt").write_text(ARTICLE, encoding="utf-8")
    sources = tmp_path / "meta" / "my_sources.yaml"
    sources.parent.mkdir()
    sources.write_text(SOURCES_YAML, encoding="utf-8")
    events = tmp_path / "my_events.yaml"
    events.write_text("events:\n" + GOOD_EVENT, encoding="utf-8")
    cat = load_catalog(events, sources_path=sources, sources_dir=folder)
    assert [ev.id for ev in cat.events] == ["road_closed_2031"]
    assert cat.sources_dir == folder


def test_army_death_toll_feeds_the_grievance_only_where_soldiers_die():
    """M3: a shock's death toll among the army's soldiers (Salala, 26) enters the replay as
    grievance; a raid that kills none of them (Abbottabad) and a toll of others add none."""
    from model.inputs.scenario import CatalogUse

    evs = {e.id: e for e in CatalogUse().events("2011-01", 12)}
    grief = evs["salala_strike_2011"].effects["sovereignty_grievance"]
    assert grief.add == 26
    assert grief.set is None
    assert "sovereignty_grievance" not in evs["abbottabad_raid_2011"].effects
    every = CatalogUse().events("1998-01", 300)
    fed = {e.id for e in every if "sovereignty_grievance" in e.effects}
    assert fed == {"salala_strike_2011"}
