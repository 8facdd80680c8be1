"""The timing score: windows, base rates, the two nulls and skill, on hand-made ensembles."""

from __future__ import annotations

import numpy as np
import pytest

from model import simulate
from model.analysis import history
from model.analysis import timing as T
from model.core import spec
from model.engine.runner import Results
from model.inputs.catalog import Conflict, Event, load_catalog
from model.inputs.scenario import from_mapping
from model.io.dates import month_index, month_label
from model.io.errors import ModelInputError

HOLD = {actor: lo for actor, (lo, _) in spec.ACTOR_ACTIONS.items()}


def _results(start: str, months: int, runs: int, picks: dict[str, np.ndarray] | None = None,
             catalog: bool = False, edits: list | None = None) -> Results:
    """A hand-made ensemble: every actor holds, except where ``picks[action]`` (runs x months
    bool) says its actor chose that action."""
    sc = {"name": "t", "start": start, "months": months}
    if catalog:
        sc["catalog"] = {"kinds": ["shock"]}
    if edits:
        sc["edits"] = edits
    actions = np.zeros((runs, months, len(spec.ACTORS)), dtype=np.int8)
    for actor, i in spec.ACTOR_INDEX.items():
        actions[:, :, i] = HOLD[actor]
    for name, mask in (picks or {}).items():
        act = spec.ACTION_INDEX[name]
        actions[:, :, spec.ACTOR_INDEX[spec.ACTIONS[act].actor]][mask] = act
    return Results(scenario=from_mapping(sc), seed=0, run_ids=np.arange(runs),
                   dates=[month_label(start, k) for k in range(months + 1)],
                   params=np.zeros(runs), trust=np.zeros((runs, months + 1, 5, 5)),
                   aid=np.zeros((runs, months + 1, 2)),
                   state=np.zeros((runs, months + 1, len(spec.STATE_VARS))), actions=actions)


def _decision(eid: str, date: str, action: str = "MIL_CLOSE_ROUTE", **extra) -> Event:
    act = spec.ACTIONS[spec.ACTION_INDEX[action]]
    return Event.model_validate({
        "id": eid, "date": date, "actor": act.actor, "target": act.target or "OTHER",
        "target_name": None if act.target else "someone", "cameo": act.cameo,
        "kind": "decision", "action": action, "source": "x.txt",
        "quote": "a quote long enough to count", **extra})


def _conflict(cid: str, values: list, model_uses) -> Conflict:
    return Conflict.model_validate({
        "id": cid, "topic": "t", "model_uses": model_uses, "why": "w",
        "accounts": [{"source": "x.txt", "quote": "a quote long enough", "value": v}
                     for v in values]})


def _at(runs: int, months: int, cols) -> np.ndarray:
    mask = np.zeros((runs, months), dtype=bool)
    mask[:, list(cols)] = True
    return mask


# -------------------------------------------------------------------------------------- windows
def _window(ev: Event, start: str = "2001-01", months: int = 120, conflicts=None):
    lo, hi = T.decision_window(ev, start, months, conflicts or {})
    return month_label(start, lo), month_label(start, hi)


def test_window_of_a_month_or_day_date_is_the_month_plus_minus_two():
    assert _window(_decision("a", "2005-06")) == ("2005-04", "2005-08")
    assert _window(_decision("b", "2005-06-17")) == ("2005-04", "2005-08")
    # Clipped to the run at both ends.
    assert _window(_decision("c", "2001-01")) == ("2001-01", "2001-03")
    assert _window(_decision("d", "2010-12")) == ("2010-10", "2010-12")


def test_window_of_a_year_only_date_is_the_calendar_year():
    assert _window(_decision("a", "2004")) == ("2004-01", "2004-12")
    assert _window(_decision("b", "2004", model_month="2004-02")) == ("2004-01", "2004-12")


def test_conflicting_dates_widen_the_window_to_the_accounts_span():
    conflicts = {"when": _conflict("when", ["2019-01-05"], "2018-01"),
                 "toll": _conflict("toll", [26, 28], 26)}
    ev = _decision("a", "2018-01", conflict="when")
    assert _window(ev, "2010-01", 200, conflicts) == ("2017-11", "2019-03")
    # A conflict about something other than the date leaves the window alone.
    ev = _decision("b", "2018-01", conflict="toll")
    assert _window(ev, "2010-01", 200, conflicts) == ("2017-11", "2018-03")


def test_the_catalog_aid_suspension_window_covers_both_accounts():
    ev = load_catalog().event("security_aid_suspension_2018")
    lo, hi = T.decision_window(ev, "1998-01", 300)
    assert (month_label("1998-01", lo), month_label("1998-01", hi)) == ("2017-11", "2019-03")


# ------------------------------------------------------------------------------------ base rate
def test_base_rate_matches_a_hand_computation():
    # Run 0 chooses the action in month 2 only, run 1 never. Windows of 2 months fit at the 5
    # positions 0..4; run 0's windows at 1 and 2 hold the choice: base = (2/5 + 0) / 2 = 0.2.
    chosen = np.zeros((2, 6), dtype=bool)
    chosen[0, 2] = True
    assert T.window_base_rate(chosen, 2) == pytest.approx(0.2)
    assert T.window_base_rate(chosen, 6) == pytest.approx(0.5)
    assert T.window_base_rate(chosen, 1) == pytest.approx(1 / 12)


def test_table_base_rate_is_that_of_a_window_of_the_decision_length():
    # 60 months; every run chooses the act at month 30 only; the window is 5 months long, and of
    # the 56 positions, the 5 starting at 26..30 hold month 30.
    res = _results("2001-01", 60, 4, {"MIL_CLOSE_ROUTE": _at(4, 60, [30])})
    table = T.timing_table(res, decisions=[_decision("a", month_label("2001-01", 30))])
    assert table.loc[0, "window_months"] == 5
    assert table.loc[0, "base"] == pytest.approx(5 / 56)
    assert table.loc[0, "share"] == 1.0


# ------------------------------------------------------------------------- timed and skill
def test_a_model_that_acts_only_at_the_documented_month_is_timed_with_skill():
    start, months, runs = "2011-01", 24, 20             # floor 1/40, below the frequency 1/24
    m = month_index(start, "2011-11")                   # Salala's month: the shock null fires
    res = _results(start, months, runs, {"MIL_CLOSE_ROUTE": _at(runs, months, [m])},
                   catalog=True)
    score = T.score_timing(res, decisions=[_decision("closure", "2011-11")])
    row = score.table.iloc[0]
    assert row["timed"]
    assert row["error_months"] == 0
    assert row["never_share"] == 0
    assert row["p_model"] == pytest.approx(1 - 1 / (2 * runs))
    assert row["p_freq"] == pytest.approx(1 / months)
    # The shock null answers Salala with PAK_MIL's only hostile act, at half weight.
    assert row["p_shock"] == pytest.approx(0.5 + 0.5 / months)
    s = score.summary
    assert s.timed == 1
    assert s.log_lift_freq > 0
    assert s.log_lift_shock > 0
    assert s.brier_skill_freq > 0
    assert s.brier_skill_shock > 0


def test_a_model_that_acts_every_month_is_not_timed_and_has_no_skill():
    start, months, runs = "2011-01", 24, 10
    res = _results(start, months, runs, {"MIL_CLOSE_ROUTE": np.ones((runs, months), bool)},
                   catalog=True)
    score = T.score_timing(res, decisions=[_decision("closure", "2011-11")])
    row = score.table.iloc[0]
    assert row["share"] == 1.0
    assert row["base"] == 1.0
    assert not row["timed"]
    assert score.summary.log_lift_freq == pytest.approx(0.0, abs=1e-12)
    assert score.summary.brier_skill_freq == pytest.approx(0.0, abs=1e-12)
    assert score.summary.log_lift_shock <= 1e-12


def test_timing_error_is_the_median_offset_of_the_nearest_choice():
    start, months, runs = "2001-01", 40, 4
    mask = np.zeros((runs, months), dtype=bool)
    mask[0, 23] = mask[1, 23] = mask[2, 25] = True      # 3 late, 3 late, 5 late; run 3 never
    mask[0, 5] = True                                   # far earlier: not the nearest
    res = _results(start, months, runs, {"MIL_DEFY": mask})
    row = T.timing_table(res, decisions=[_decision("d", month_label(start, 20), "MIL_DEFY")]
                         ).iloc[0]
    assert row["error_months"] == 3
    assert row["never_share"] == 0.25
    assert row["share"] == 0.0                          # nothing inside 18..22


# ------------------------------------------------------------------------ shock-response null
def test_shock_response_null_puts_the_response_act_after_each_hostile_shock():
    start, months, runs = "2011-01", 24, 5
    picks = {"MIL_DEFY": _at(runs, months, range(6)),          # 6 of 24 months
             "MIL_EVICT_DRONES": _at(runs, months, [6])}       # 1 of 24 months
    res = _results(start, months, runs, picks, catalog=True)
    assert T.response_acts(res)["PAK_MIL"] == "MIL_DEFY"
    assert "US" not in T.response_acts(res)          # the US never makes a hostile act
    null = T.shock_response_null(res)
    defy, evict = spec.ACTION_INDEX["MIL_DEFY"], spec.ACTION_INDEX["MIL_EVICT_DRONES"]
    abbottabad, salala = month_index(start, "2011-05"), month_index(start, "2011-11")
    for shock in (abbottabad, salala):
        for m in range(shock, shock + T.SHOCK_RESPONSE_MONTHS):
            assert null[m, defy] == pytest.approx(0.5 + 0.5 * 6 / 24)
            assert null[m, evict] == pytest.approx(0.5 / 24)
        after = shock + T.SHOCK_RESPONSE_MONTHS
        assert null[after, defy] == pytest.approx(6 / 24)
    assert null[abbottabad - 1, defy] == pytest.approx(6 / 24)
    lo, hi = spec.ACTOR_ACTIONS["PAK_MIL"]
    np.testing.assert_allclose(null[:, lo:hi].sum(axis=1), 1.0)
    # The US is hit too (Kabul embassy attack), but has no hostile act: base rates.
    us_lo, us_hi = spec.ACTOR_ACTIONS["US"]
    np.testing.assert_allclose(null[:, us_lo:us_hi], T.frequency_null(res)[:, us_lo:us_hi])


def test_a_shock_removed_by_the_scenario_leaves_the_null_at_base_rates():
    start, months, runs = "2011-01", 24, 5
    picks = {"MIL_DEFY": _at(runs, months, range(6))}
    res = _results(start, months, runs, picks, catalog=True,
                   edits=[{"remove": "salala_strike_2011"}])
    null = T.shock_response_null(res)
    defy = spec.ACTION_INDEX["MIL_DEFY"]
    assert null[month_index(start, "2011-11"), defy] == pytest.approx(6 / 24)
    assert null[month_index(start, "2011-05"), defy] == pytest.approx(0.5 + 0.5 * 6 / 24)


# ------------------------------------------------------------------------------- cuts, input
def test_until_and_after_split_the_decisions_at_the_cut():
    res = _results("2001-01", 60, 2)
    decs = [_decision("a", "2002-03"), _decision("b", "2002-12"), _decision("c", "2003-01")]
    assert list(T.timing_table(res, until="2002-12", decisions=decs)["id"]) == ["a", "b"]
    assert list(T.timing_table(res, after="2002-12", decisions=decs)["id"]) == ["c"]
    assert list(T.timing_table(res, after="2002", decisions=decs)["id"]) == ["c"]
    assert list(T.timing_table(res, after="2002-03", until="2002-12", decisions=decs)["id"]
                ) == ["b"]


def test_a_cut_with_no_decisions_after_it_is_a_clear_error():
    res = _results("2001-01", 60, 2)
    with pytest.raises(T.TimingError, match=r"no documented decision after 2004-06") as exc:
        T.score_timing(res, after="2004-06", decisions=[_decision("a", "2002-03")])
    assert isinstance(exc.value, ModelInputError)


@pytest.mark.parametrize("cut", ["2011/12", "Dec 2011", "2011-13", "11-12", ""])
def test_an_unknown_cut_format_is_a_clear_error(cut):
    res = _results("2001-01", 60, 2)
    with pytest.raises(ModelInputError, match=r"cut date: .*YYYY or YYYY-MM"):
        T.score_timing(res, until=cut)


def test_a_decision_with_an_unreadable_date_is_a_clear_error():
    ev = Event.model_construct(id="odd", date="Nov 2011", action="MIL_DEFY", conflict=None)
    with pytest.raises(T.TimingError, match="decision 'odd'"):
        T.decision_window(ev, "2001-01", 200, {})


# ---------------------------------------------------------------------------------- formatting
def test_format_table_prints_rows_and_the_headline():
    res = _results("2011-01", 24, 4, {"MIL_CLOSE_ROUTE": _at(4, 24, [10])}, catalog=True)
    text = T.format_table(T.score_timing(res, decisions=[_decision("closure", "2011-11")]))
    assert "closure" in text
    assert "timed=1/1" in text
    assert "skill vs frequency null" in text
    assert "skill vs shock-response null" in text
    assert "+-6 months" in text


def test_the_history_replay_scores_every_decision_and_keeps_the_old_count():
    res = simulate("scenarios/history.yaml", runs=8, seed=0)
    score = T.score_timing(res)
    assert len(score.table) == len(history.scored_decisions(res.dates[0], res.months)) > 40
    assert score.summary.timed == int(score.table["timed"].sum())
    assert score.summary.reproduced_6m == history.score(res).reproduced
    assert ((score.table[["p_model", "p_freq", "p_shock"]] > 0).all()).all()
    assert np.isfinite(score.summary.log_lift_freq)
