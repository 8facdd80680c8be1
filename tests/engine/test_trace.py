"""Trace layer: the explanation ledger accounts exactly for every month's change of trust and aid,
and keeping it changes nothing in behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import event, run, scenario

from model.adapters.mesa_model import DEFAULT_SCENARIO
from model.core import spec
from model.inputs.scenario import load_scenario, month_index

NA = spec.N_ACTORS
N_TRUST = NA * NA
MIL, US = spec.ACTOR_INDEX["PAK_MIL"], spec.ACTOR_INDEX["US"]

SCRIPTED = scenario(
    [event("strike", 2, "US_STRIKE", 3),
     event("threat", 2, "US_THREATEN", 1),  # two events in one month: two ledger entries
     event("deal", 4, "US_PARTNER_INDIA"),
     event("aid", 5, "US_MIL_AID", 2),
     event("package", 5, "US_CIV_AID"),
     event("cut", 9, "US_SUSPEND_AID"),
     event("embassy", 7, "TAL_ATTACK", 2, effects={"proxy_support": {"set": 0.8}}),
     event("close", 10, "MIL_CLOSE_ROUTE"),
     event("words", 11, actor="INDIA", target="PAK_MIL", cameo="13", severity=2),
     event("surge", 12, actor="US", target="TALIBAN", cameo="15",
           effects={"us_force": {"set": 100}})],
    36, state={"us_force": 40.0}, aid={"US->PAK_MIL": 50.0, "US->PAK_CIV": 20.0})
SCENARIOS = pytest.mark.parametrize(
    "sc", [SCRIPTED, load_scenario(DEFAULT_SCENARIO)], ids=["scripted", "baseline"])


def event_months(res) -> np.ndarray:
    sc = res.scenario
    by_id = {e.id: month_index(sc.start, e.date) for e in sc.events}
    return np.array([by_id[i] for i in res.event_ids], dtype=np.int64)


def ledger_totals(res) -> np.ndarray:
    """runs x months x 27: the mechanism channels plus the events of each month."""
    tot = res.ledger.astype(np.float64).sum(axis=2)
    for k, m in enumerate(event_months(res)):
        tot[:, m] += res.event_ledger[:, k].astype(np.float64)
    return tot


@SCENARIOS
def test_ledger_sums_to_trust_and_aid_changes(sc):
    res = run(sc, runs=6, seed=4, trace=True)
    assert res.ledger.shape[:2] == (6, res.months)
    assert res.ledger.shape[3] == N_TRUST + len(spec.AID_FLOWS)
    assert res.event_ledger.shape == (6, len(res.event_ids), N_TRUST + len(spec.AID_FLOWS))
    assert set(res.event_ids) == {e.id for e in sc.events}
    tot = ledger_totals(res)
    d_trust = np.diff(res.trust.astype(np.float64), axis=1).reshape(6, res.months, N_TRUST)
    d_aid = np.diff(res.aid.astype(np.float64), axis=1)
    np.testing.assert_allclose(tot[..., :N_TRUST], d_trust, rtol=0, atol=1e-5)
    np.testing.assert_allclose(tot[..., N_TRUST:], d_aid, rtol=1e-5, atol=1e-5)
    # The ledger explains real movement, not zeros everywhere.
    assert np.abs(d_trust).max() > 0.01
    assert np.abs(d_aid).max() > 1.0


def test_event_ledger_is_booked_in_the_event_month_only():
    res = run(SCRIPTED, runs=3, seed=1, trace=True)
    led = res.event_ledger
    for k, eid in enumerate(res.event_ids):
        if eid in ("strike", "threat", "deal", "aid", "package", "embassy", "close", "words"):
            assert np.abs(led[:, k]).max() > 0, eid
    # Moving an event moves its ledger entry and its effect to the new month.
    calm = run(scenario([], 12, state={"us_force": 40.0}), runs=2, seed=1, trace=True)
    for m in (2, 3):
        r = run(scenario([event("strike", m, "US_STRIKE", 3)], 12, state={"us_force": 40.0}),
                runs=2, seed=1, trace=True)
        tot = ledger_totals(r)
        d = np.diff(r.trust.astype(np.float64), axis=1).reshape(2, 12, N_TRUST)
        np.testing.assert_allclose(tot[..., :N_TRUST], d, atol=1e-5)
        assert (r.event_ledger[:, 0, MIL * NA + US] < 0).all()
        assert np.array_equal(r.trust[:, : m + 1], calm.trust[:, : m + 1])
        assert np.array_equal(r.ledger[:, :m], calm.ledger[:, :m])
        assert (r.trust[:, m + 1, MIL, US] < calm.trust[:, m + 1, MIL, US]).all()


def test_strike_entry_is_negative_for_army_trust_in_us():
    res = run(SCRIPTED, runs=5, seed=2, trace=True)
    k = res.event_ids.index("strike")
    entry = res.event_ledger[:, k]
    assert (entry[:, MIL * NA + US] < -0.01).all()
    assert (entry[:, spec.ACTOR_INDEX["PAK_CIV"] * NA + US] < 0).all()
    # The US's view of the army is not what the strike changes.
    assert (np.abs(entry[:, US * NA + MIL]) < 1e-7).all()


def test_aid_events_booked_to_their_flows():
    res = run(SCRIPTED, runs=3, seed=2, trace=True)
    aid_k = res.event_ids.index("aid")
    cut_k = res.event_ids.index("cut")
    pkg_k = res.event_ids.index("package")
    assert (res.event_ledger[:, aid_k, N_TRUST] > 0).all()
    assert (res.event_ledger[:, cut_k, N_TRUST] < 0).all()
    assert (res.event_ledger[:, pkg_k, N_TRUST + 1] > 0).all()
    assert (res.event_ledger[:, pkg_k, N_TRUST] == 0).all()


@SCENARIOS
def test_trace_costs_nothing_in_behaviour(sc):
    plain = run(sc, runs=8, seed=6)
    traced = run(sc, runs=8, seed=6, trace=True)
    assert plain.ledger is None
    assert plain.event_ledger is None
    for name in ("trust", "aid", "state", "actions"):
        assert np.array_equal(getattr(plain, name), getattr(traced, name)), name


def test_trace_chunks_agree():
    whole = run(SCRIPTED, runs=6, seed=8, trace=True)
    chunked = run(SCRIPTED, runs=6, seed=8, trace=True, chunk=4)
    assert np.array_equal(whole.ledger, chunked.ledger)
    assert np.array_equal(whole.event_ledger, chunked.event_ledger)
