"""Scripted-trace layer: each of the brief's nine mechanisms (M1..M9) and structural balance.

Each test builds a small scenario with scripted exogenous events (or a chosen initial state),
runs it against a counterfactual with the same seed, and asserts the direction and consequence
the mechanism predicts. Ensembles are compared with margins that hold for any seed, not with
numbers copied from a run. Where a mechanism must be isolated, the other agents are silenced by
setting their decision intercepts to the table's lower bound (``QUIET``).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import QUIET, event, freq, run, scenario, share_runs, state_at, trust_at

from model.core import spec

R = 300  # runs per ensemble
FORCE = {"us_force": 50.0}  # US forces in Afghanistan: the US needs Pakistan's route (M8)
SILENT = {**QUIET, "trust_sensitivity": 0.0, "balance_weight": 0.0}


def paired(events, runs=R, seed=11, months=24, params=None, **initial):
    """Results with the scripted events and the counterfactual without them (same seed)."""
    with_ev = run(scenario(events, months, **initial), runs, seed, params)
    without = run(scenario([], months, **initial), runs, seed, params)
    return with_ev, without


def months_to_reopen(res, closed_at: int = 0) -> np.ndarray:
    """Per run: months from step ``closed_at`` to the first step at which the route is open
    again (a large number if never)."""
    open_ = res.supply_route_open[:, closed_at + 1:] > 0.5
    return np.where(open_.any(axis=1), open_.argmax(axis=1) + 1, 10_000)


# --- M3 sovereignty shocks -------------------------------------------------------------------

def test_m3_strike_lowers_pakistani_trust_and_hardens_public():
    strike, calm = paired([event("salala", 2, "US_STRIKE", 3)], state=FORCE)
    # The month of the strike (step 3 = after month index 2).
    for actor in ("PAK_MIL", "PAK_CIV"):
        assert trust_at(strike, actor, "US", 3) < trust_at(calm, actor, "US", 3) - 0.05
    assert state_at(strike, "public_hostility", 3) > state_at(calm, "public_hostility", 3) + 0.05
    # Before the strike nothing differs: the counterfactual shares the seed.
    np.testing.assert_array_equal(strike.trust[:, :3], calm.trust[:, :3])
    # Still lower half a year on.
    assert trust_at(strike, "PAK_MIL", "US", 9) < trust_at(calm, "PAK_MIL", "US", 9)


def test_m3_sovereignty_channel_reaches_both_pakistani_actors():
    # Isolated (agents silenced): the strike's direct evidence reaches only its target, the
    # army; the sovereignty channel (sovereignty_weight) adds to it and reaches the civilians.
    drop = {}
    for sw in (0.0, 3.0):
        strike, calm = paired([event("raid", 2, "US_STRIKE", 2)], runs=2,
                              params={**SILENT, "sovereignty_weight": sw})
        drop[sw] = {a: trust_at(strike, a, "US", 3) - trust_at(calm, a, "US", 3)
                    for a in ("PAK_MIL", "PAK_CIV")}
    assert drop[0.0]["PAK_CIV"] == pytest.approx(0.0, abs=1e-6)
    assert drop[3.0]["PAK_CIV"] < -0.05
    assert drop[3.0]["PAK_MIL"] < drop[0.0]["PAK_MIL"] - 0.05


def _strike(eid: str, sev: float, killed: float = 0.0) -> dict:
    """A US strike on the army in month 2; ``killed``: its soldiers killed (the catalog's toll)."""
    fx = {"sovereignty_grievance": {"add": killed}} if killed else None
    return event(eid, 2, "US_STRIKE", sev, effects=fx)


def test_m3_strike_that_kills_soldiers_triggers_retaliation():
    strike, calm = paired([_strike("salala", 3, killed=26)],
                          state={**FORCE, "drone_basing": 1.0})
    after = slice(3, 9)  # decisions in the six months after the strike
    for act in ("MIL_CLOSE_ROUTE", "MIL_EVICT_DRONES"):
        hit, base = share_runs(strike, act, after), share_runs(calm, act, after)
        assert hit >= 2 * base, (act, hit, base)
        assert hit >= base + 0.2, (act, hit, base)


def test_m3_humiliating_raid_exposes_the_army_but_brings_no_retaliation():
    # The same strike (severity 3) without soldiers killed (Abbottabad) against one that kills
    # 26 (Salala): both expose the army at home and cost trust alike; only the killing of its
    # soldiers is answered by closing the route.
    raid, _ = paired([_strike("raid", 3)], state=FORCE)
    salala, calm = paired([_strike("salala", 3, killed=26)], state=FORCE)
    after = slice(3, 9)
    base = share_runs(calm, "MIL_CLOSE_ROUTE", after)
    assert share_runs(raid, "MIL_CLOSE_ROUTE", after) <= base + 0.05
    assert share_runs(salala, "MIL_CLOSE_ROUTE", after) >= share_runs(
        raid, "MIL_CLOSE_ROUTE", after) + 0.2
    for res in (raid, salala):
        assert state_at(res, "army_exposure", 3) > state_at(calm, "army_exposure", 3) + 1.0
    np.testing.assert_allclose(trust_at(raid, "PAK_MIL", "US", 3),
                               trust_at(salala, "PAK_MIL", "US", 3))


def test_m3_retaliation_scales_with_soldiers_killed():
    few, _ = paired([_strike("raid", 3, killed=1)], state=FORCE)
    many, _ = paired([_strike("raid", 3, killed=26)], state=FORCE)
    after = slice(3, 9)
    assert share_runs(many, "MIL_CLOSE_ROUTE", after) > share_runs(
        few, "MIL_CLOSE_ROUTE", after) + 0.1


def test_m8_closed_route_is_reopened_while_us_needs_it():
    closed = {**FORCE, "supply_route_open": 0.0}
    res = run(scenario([], 36, state=closed), R, seed=5)
    t = months_to_reopen(res)
    assert (t <= 24).mean() >= 0.9
    # Without the pull of dependence the closure lasts longer.
    slow = run(scenario([], 36, state=closed), R, seed=5, params={"dependence_cost": 0.0})
    t0 = months_to_reopen(slow)
    assert (t0 <= 12).mean() < (t <= 12).mean() - 0.3
    assert np.median(t0) > np.median(t)


def test_m8_closure_via_event_is_reopened():
    res = run(scenario([event("close", 1, "MIL_CLOSE_ROUTE")], 36, state=FORCE), R, seed=6)
    assert (res.supply_route_open[:, 2] == 0).all()  # the event closed it
    assert (months_to_reopen(res, closed_at=2) <= 24).mean() >= 0.9


def test_m8_closure_costs_us_trust_per_month_closed():
    closed = {**FORCE, "supply_route_open": 0.0}
    keep_closed = {**SILENT, "dependence_cost": 0.0}
    costly = run(scenario([], 12, state=closed), 4, 1, {**keep_closed, "closure_cost": 2.0})
    free = run(scenario([], 12, state=closed), 4, 1, {**keep_closed, "closure_cost": 0.0})
    assert (costly.supply_route_open == 0).all()
    gap = (costly.trust_series("US", "PAK_MIL") - free.trust_series("US", "PAK_MIL")).mean(0)
    assert gap[0] == 0
    assert (np.diff(gap[:7]) < 0).all(), gap  # the cost grows with every month closed
    # Neither side's other trust moves: the cost is the US's view of the army.
    np.testing.assert_allclose(costly.trust_series("PAK_MIL", "US"),
                               free.trust_series("PAK_MIL", "US"), atol=1e-7)
    # No US forces, no need, no cost.
    no_need = {"us_force": 0.0, "supply_route_open": 0.0}
    a = run(scenario([], 12, state=no_need), 2, 1, {**keep_closed, "closure_cost": 2.0})
    b = run(scenario([], 12, state=no_need), 2, 1, {**keep_closed, "closure_cost": 0.0})
    np.testing.assert_allclose(a.trust, b.trust, atol=1e-7)


def test_m8_aid_floor_keeps_aid_while_us_needs_pakistan():
    # "Cooling, not divorce": security aid relaxes to a floor while US forces need the route.
    sc_need = scenario([event("cut", 1, "US_SUSPEND_AID")], 36, state=FORCE,
                       aid={"US->PAK_MIL": 100.0})
    sc_none = scenario([event("cut", 1, "US_SUSPEND_AID")], 36, state={"us_force": 0.0},
                       aid={"US->PAK_MIL": 100.0})
    need = run(sc_need, 2, 1, SILENT)
    none = run(sc_none, 2, 1, SILENT)
    assert need.aid[:, 2, 0].max() < 100 * 0.5  # the suspension bit
    assert (need.aid[:, -1, 0] > need.aid[:, 2, 0]).all()  # and aid crept back
    assert (none.aid[:, -1, 0] <= none.aid[:, 2, 0]).all()


# --- M1 aid buys compliance, not trust ----------------------------------------------------------

def _coop_and_trust(res, months=slice(0, 24)):
    return freq(res, "MIL_COOPERATE", months), float(
        res.trust_series("PAK_MIL", "US")[:, 1:].astype(np.float64).mean())


def test_m1_aid_buys_compliance_not_trust(defaults):
    base = run(scenario([], state=FORCE), R, 3)
    aided = run(scenario([], state=FORCE, aid={"US->PAK_MIL": 120.0}), R, 3)
    trusting = run(scenario([], state=FORCE,
                            trust={"PAK_MIL->US": defaults["baseline_mil_us"] + 0.25}), R, 3)
    c0, t0 = _coop_and_trust(base)
    c_aid, t_aid = _coop_and_trust(aided)
    c_tb, t_tb = _coop_and_trust(trusting)
    assert c_aid > c0 + 0.05  # aid buys cooperation ...
    assert c_tb > c0 + 0.05
    # ... but much less trust per unit of cooperation than genuine trust-building gives.
    assert (t_aid - t0) / (c_aid - c0) < 0.3 * (t_tb - t0) / (c_tb - c0)
    assert t_aid < defaults["baseline_mil_us"] + 0.05


def test_m1_aid_compliance_is_the_channel():
    base = run(scenario([], state=FORCE), R, 3, {"aid_compliance": 0.0})
    aided = run(scenario([], state=FORCE, aid={"US->PAK_MIL": 120.0}), R, 3,
                {"aid_compliance": 0.0})
    assert abs(freq(aided, "MIL_COOPERATE") - freq(base, "MIL_COOPERATE")) < 0.03


def test_m1_coercion_buys_cooperation_and_costs_trust():
    threats = [event(f"threat{m}", m, "US_THREATEN") for m in range(2, 14)]
    coerced, free = paired(threats, state=FORCE)
    during = slice(3, 15)
    assert freq(coerced, "MIL_COOPERATE", during) > freq(free, "MIL_COOPERATE", during) + 0.2
    assert trust_at(coerced, "PAK_MIL", "US", 14) < trust_at(free, "PAK_MIL", "US", 14) - 0.05


def test_m1_hedging_is_seen_by_the_us():
    hedge, calm = paired([event("hedge", 2, "MIL_HEDGE", 2)], runs=4, params=SILENT)
    assert trust_at(hedge, "US", "PAK_MIL", 3) < trust_at(calm, "US", "PAK_MIL", 3) - 0.02
    assert state_at(hedge, "proxy_support", 3) > state_at(calm, "proxy_support", 3)


# --- M2 the India factor ------------------------------------------------------------------------

def test_m2_us_india_partnership_lowers_army_trust():
    deals = [event(f"deal{m}", m, "US_PARTNER_INDIA") for m in (2, 5, 8)]
    partner, calm = paired(deals)
    assert trust_at(partner, "PAK_MIL", "US", 9) < trust_at(calm, "PAK_MIL", "US", 9) - 0.05


@pytest.mark.parametrize("action", ["US_PARTNER_INDIA", "IND_PARTNER_US"])
def test_m2_india_penalty_is_the_channel(action):
    on, off_ = paired([event("deal", 2, action, 2)], runs=2, params=SILENT)
    assert trust_at(on, "PAK_MIL", "US", 3) < trust_at(off_, "PAK_MIL", "US", 3) - 0.03
    on, off_ = paired([event("deal", 2, action, 2)], runs=2,
                      params={**SILENT, "india_penalty": 0.0})
    assert trust_at(on, "PAK_MIL", "US", 3) == pytest.approx(
        trust_at(off_, "PAK_MIL", "US", 3), abs=1e-6)


def test_m2_indian_engagement_raises_proxy_support():
    hi = run(scenario([], state={"india_engagement": 0.9}), R, 4)
    lo = run(scenario([], state={"india_engagement": 0.0}), R, 4)
    assert state_at(hi, "proxy_support", 24) > state_at(lo, "proxy_support", 24) + 0.1
    assert freq(hi, "MIL_HEDGE") > freq(lo, "MIL_HEDGE")
    hi0 = run(scenario([], state={"india_engagement": 0.9}), R, 4, {"india_proxy_gain": 0.0})
    lo0 = run(scenario([], state={"india_engagement": 0.0}), R, 4, {"india_proxy_gain": 0.0})
    assert abs(state_at(hi0, "proxy_support", 24) - state_at(lo0, "proxy_support", 24)) < 0.03


def test_m2_indian_engagement_events_feed_proxies():
    moves = [event(f"consulate{m}", m, "IND_ENGAGE_AFG", 2) for m in range(1, 7)]
    engaged, calm = paired(moves, runs=4, params=SILENT)
    assert state_at(engaged, "india_engagement", 7) > state_at(calm, "india_engagement", 7) + 0.3
    assert state_at(engaged, "proxy_support", 24) > state_at(calm, "proxy_support", 24) + 0.02
    assert trust_at(engaged, "PAK_MIL", "INDIA", 7) < trust_at(calm, "PAK_MIL", "INDIA", 7)


# --- M4 attribution spirals ---------------------------------------------------------------------

def test_m4_attacks_cost_army_trust_in_proportion_to_proxy_ties():
    attack = [event("embassy", 2, "TAL_ATTACK", 3)]
    drops = {}
    for px in (0.05, 0.9):
        hit, calm = paired(attack, state={**FORCE, "proxy_support": px})
        drops[px] = trust_at(hit, "US", "PAK_MIL", 3) - trust_at(calm, "US", "PAK_MIL", 3)
        assert drops[px] < 0
    assert drops[0.9] < drops[0.05] - 0.05


def test_m4_attacks_bring_threats_and_the_spiral_turns():
    hit, calm = paired([event("embassy", 2, "TAL_ATTACK", 3)],
                       state={**FORCE, "proxy_support": 0.9})
    after = slice(3, 9)
    f_hit, f_calm = freq(hit, "US_THREATEN", after), freq(calm, "US_THREATEN", after)
    assert f_hit > 2 * f_calm
    assert f_hit > f_calm + 0.15
    # The threats lower the army's trust in the US in turn.
    assert trust_at(hit, "PAK_MIL", "US", 9) < trust_at(calm, "PAK_MIL", "US", 9) - 0.03


# --- M5 civil-military split --------------------------------------------------------------------

def test_m5_weak_civilians_seek_us_backing():
    prm = {"civmil_drift": 0.0, "bias_civ_seek_backing": -3.0}
    weak = run(scenario([], state={"civmil_balance": 0.05}), R, 7, prm)
    strong = run(scenario([], state={"civmil_balance": 0.9}), R, 7, prm)
    f_weak, f_strong = freq(weak, "CIV_SEEK_BACKING"), freq(strong, "CIV_SEEK_BACKING")
    assert f_weak > 2 * f_strong
    assert f_weak > f_strong + 0.03


def test_m5_appeal_to_washington_angers_the_army():
    appeal, calm = paired([event("memo", 2, "CIV_SEEK_BACKING", 2)])
    assert trust_at(appeal, "PAK_MIL", "PAK_CIV", 3) < trust_at(
        calm, "PAK_MIL", "PAK_CIV", 3) - 0.05
    after = slice(3, 8)
    f_a, f_c = freq(appeal, "MIL_PRESSURE_CIV", after), freq(calm, "MIL_PRESSURE_CIV", after)
    assert f_a > 3 * f_c
    assert f_a > f_c + 0.05
    assert state_at(appeal, "civmil_balance", 8) < state_at(calm, "civmil_balance", 8)


def test_m5_us_backing_shifts_power_and_costs_army_trust():
    backed, calm = paired([event("broker", 2, "US_BACK_CIVILIANS", 2)], runs=4, params=SILENT)
    assert state_at(backed, "civmil_balance", 3) > state_at(calm, "civmil_balance", 3) + 0.02
    assert trust_at(backed, "PAK_MIL", "US", 3) < trust_at(calm, "PAK_MIL", "US", 3) - 0.02


def test_m3_us_bullying_hardens_the_public_words_less_than_force():
    # The public resents Washington's bullying (000): every hostile US act on Pakistan hardens
    # it, in proportion to its Goldstein weight, words discounted as evidence is. Agents silenced,
    # no decay, so only the scripted acts move hostility.
    prm = {**SILENT, "hostility_decay": 0.0}
    rise = {}
    for act in ("US_PRESSURE", "US_THREATEN", "US_SUSPEND_AID", "US_STRIKE"):
        hit, calm = paired([event(f"b{m}", m, act) for m in range(2, 6)], runs=2, params=prm)
        rise[act] = state_at(hit, "public_hostility", 6) - state_at(calm, "public_hostility", 6)
    assert 0.0 < rise["US_PRESSURE"] < rise["US_THREATEN"] < rise["US_STRIKE"]
    assert rise["US_THREATEN"] < rise["US_SUSPEND_AID"]  # material: counts in full
    # A friendly act does not harden it.
    warm, calm = paired([event(f"e{m}", m, "US_ENGAGE") for m in range(2, 6)], runs=2, params=prm)
    assert state_at(warm, "public_hostility", 6) == pytest.approx(
        state_at(calm, "public_hostility", 6))


def test_m3_public_hostility_follows_the_us_hostile_tempo():
    # Through its own choices: a US that distrusts the army presses, threatens and strikes
    # more, and the public hardens; a trusting one does not. (Defaults, all agents active.)
    low = run(scenario([], 24, trust={"US->PAK_MIL": 0.1}, state=FORCE), R, 12)
    high = run(scenario([], 24, trust={"US->PAK_MIL": 0.9}, state=FORCE), R, 12)
    assert state_at(low, "public_hostility", 12) > state_at(high, "public_hostility", 12) + 0.02


# --- M6 domestic payoff of defiance -----------------------------------------------------------

def test_m6_hostile_public_invites_defiance():
    prm = {"hostility_decay": 0.0}
    hot = run(scenario([], state={"public_hostility": 0.95}), R, 8, prm)
    cold = run(scenario([], state={"public_hostility": 0.05}), R, 8, prm)
    for act in ("MIL_DEFY", "CIV_DEFY"):
        f_hot, f_cold = freq(hot, act, slice(0, 12)), freq(cold, act, slice(0, 12))
        assert f_hot > 3 * f_cold, (act, f_hot, f_cold)
        assert f_hot > f_cold + 0.05, (act, f_hot, f_cold)


@pytest.mark.parametrize(("action", "sign"), [("MIL_DEFY", -1), ("CIV_DEFY", +1)])
def test_m6_defiance_pays_more_when_public_is_hostile(action, sign):
    shift = {}
    for h in (0.05, 0.95):
        defy, calm = paired([event("defy", 2, action, 3)], runs=4, params=SILENT,
                            state={"public_hostility": h})
        shift[h] = state_at(defy, "civmil_balance", 3) - state_at(calm, "civmil_balance", 3)
        assert sign * shift[h] >= 0
    # The army's defiance lowers the civilians' share; the civilians' raises it: more so when
    # the public is hostile to Washington.
    assert sign * shift[0.95] > sign * shift[0.05] + 0.02


# --- M7 leverage through mediation --------------------------------------------------------------

def test_m7_exit_pressure_and_talks_invite_mediation():
    # Mediation pays when the US wants out AND talks are under way (talks held open here).
    prm = {"bias_mil_mediate": -4.0, "mediation_gain": 20.0}
    f = {}
    for exit_, talks in ((0.9, 0.8), (0.0, 0.8), (0.9, 0.0)):
        sc = scenario([], 12, state={"us_exit_pressure": exit_, "talks": talks})
        f[exit_, talks] = freq(run(sc, R, 9, prm), "MIL_MEDIATE", slice(0, 3))
    for other in ((0.0, 0.8), (0.9, 0.0)):
        assert f[0.9, 0.8] > 3 * f[other], f
        assert f[0.9, 0.8] > f[other] + 0.05, f


def test_m7_talks_under_way_keep_both_sides_negotiating():
    # talks_gain, not exit_gain, carries talks on: with no exit pressure and no Taliban strength,
    # open talks still pull the US and the Taliban to the table.
    prm = {"bias_us_negotiate": -6.0, "bias_tal_negotiate": -6.0, "exit_gain": 0.0}
    state = {"us_exit_pressure": 0.0, "taliban_strength": 0.0, "talks": 0.8}
    on = run(scenario([], 3, state=state), R, 7, {**prm, "talks_gain": 10.0})
    off = run(scenario([], 3, state=state), R, 7, {**prm, "talks_gain": 0.0})
    for act in ("US_NEGOTIATE", "TAL_NEGOTIATE"):
        f_on, f_off = freq(on, act, slice(0, 1)), freq(off, act, slice(0, 1))
        assert f_on > 3 * f_off + 0.05, (act, f_on, f_off)
    assert freq(on, "TAL_ATTACK", slice(0, 1)) <= freq(off, "TAL_ATTACK", slice(0, 1))


def test_m7_talks_make_the_army_a_broker_worth_courting():
    # While talks are under way, the army's ties to the Taliban pull the US to engage it and to
    # resume its aid: in proportion to talks x T[PAK_MIL->TALIBAN], and not without the gain.
    low = {"US->PAK_MIL": 0.2, "PAK_MIL->TALIBAN": 0.9}
    prm = {"bias_us_engage": -4.0, "bias_us_mil_aid": -4.0, "leverage_gain": 8.0,
           "talks_gain": 0.0, "exit_gain": 0.0, "engage_need_gain": 0.0, "aid_need_gain": 0.0}
    f = {}
    for talks, gain in ((0.8, 8.0), (0.0, 8.0), (0.8, 0.0)):
        sc = scenario([], 3, trust=low, state={"talks": talks})
        res = run(sc, R, 12, {**prm, "leverage_gain": gain})
        f[talks, gain] = (freq(res, "US_ENGAGE", slice(0, 1)), freq(res, "US_MIL_AID", slice(0, 1)))
    for other in ((0.0, 8.0), (0.8, 0.0)):
        for k in (0, 1):  # engagement, then aid
            assert f[0.8, 8.0][k] > 3 * f[other][k] + 0.03, f
    # Ties matter: an army the Taliban do not count on is no broker.
    weak = run(scenario([], 3, trust={**low, "PAK_MIL->TALIBAN": 0.05}, state={"talks": 0.8}),
               R, 12, prm)
    assert freq(weak, "US_ENGAGE", slice(0, 1)) < f[0.8, 8.0][0] - 0.05, f


def test_m7_us_negotiates_to_leave_a_war_it_is_not_winning():
    # Exit pressure pulls the US to the table in proportion to Taliban strength.
    prm = {"bias_us_negotiate": -6.0, "exit_gain": 12.0}
    f = {}
    for exit_, tal in ((0.9, 0.8), (0.9, 0.0), (0.0, 0.8)):
        sc = scenario([], 6, state={"us_exit_pressure": exit_, "taliban_strength": tal})
        f[exit_, tal] = freq(run(sc, R, 5, prm), "US_NEGOTIATE", slice(0, 2))
    for other in ((0.9, 0.0), (0.0, 0.8)):
        assert f[0.9, 0.8] > 3 * f[other] + 0.02, f


def test_m7_mediation_warms_us_trust_when_it_wants_out():
    gain = {}
    for x in (0.0, 0.9):
        med, calm = paired([event("doha", 2, "MIL_MEDIATE")], state={"us_exit_pressure": x})
        gain[x] = trust_at(med, "US", "PAK_MIL", 3) - trust_at(calm, "US", "PAK_MIL", 3)
        assert state_at(med, "talks", 3) > state_at(calm, "talks", 3)
    assert gain[0.9] > gain[0.0] + 0.05
    assert gain[0.9] > 0


# --- M9 historical memory -----------------------------------------------------------------------

def _betrayal_then_favour(**prm):
    # Equal evidence both ways: assault (-9) at severity 10, material cooperation (+6) at 15.
    evs = [event("betrayal", 2, actor="US", target="PAK_MIL", cameo="18", severity=10),
           event("favour", 6, actor="US", target="PAK_MIL", cameo="06", severity=15)]
    sc = scenario(evs, 120)
    res = run(sc, 3, 2, {**SILENT, "forgetting": 0.9, **prm})
    calm = run(scenario([], 120), 3, 2, {**SILENT, "forgetting": 0.9, **prm})
    assert (res.actions == calm.actions).all()
    return res


def test_m9_betrayal_outlasts_an_equal_favour(defaults):
    res = _betrayal_then_favour()
    t = res.trust_series("PAK_MIL", "US")[0]
    assert t[0] == pytest.approx(defaults["baseline_mil_us"], abs=1e-6)
    assert t[3] < t[0] - 0.1  # the betrayal hits
    assert t[7] > t[6]  # the favour helps ...
    assert t[-1] < t[0] - 0.01  # ... but the memory of the betrayal stays


def test_m9_without_permanent_memory_trust_returns_to_baseline(defaults):
    res = _betrayal_then_favour(memory_neg=0.0, memory_pos=0.0)
    t = res.trust_series("PAK_MIL", "US")[0]
    assert t[3] < t[0] - 0.1
    assert t[-1] == pytest.approx(defaults["baseline_mil_us"], abs=1e-3)


def test_m9_symmetric_memory_does_not_sink_trust(defaults):
    asym = _betrayal_then_favour(memory_neg=0.2, memory_pos=0.0)
    sym = _betrayal_then_favour(memory_neg=0.2, memory_pos=0.2)
    t_asym = asym.trust_series("PAK_MIL", "US")[0, -1]
    t_sym = sym.trust_series("PAK_MIL", "US")[0, -1]
    assert t_sym > t_asym + 0.01


# --- Structural balance ------------------------------------------------------------------------

@pytest.mark.parametrize(("india_mil", "direction"), [(0.1, -1), (0.9, +1)])
def test_balance_enemy_of_friend_is_enemy(india_mil, direction):
    trust = {"US->INDIA": 0.9, "INDIA->PAK_MIL": india_mil}
    sc = scenario([], 12, trust=trust)
    on = run(sc, 2, 3, {**SILENT, "balance_weight": 0.5})
    off = run(sc, 2, 3, {**SILENT, "balance_weight": 0.0})
    d = trust_at(on, "US", "PAK_MIL", 12) - trust_at(off, "US", "PAK_MIL", 12)
    assert direction * d > 0.02, d
    # Without balance nothing moves under silenced agents.
    assert trust_at(off, "US", "PAK_MIL", 12) == pytest.approx(trust_at(off, "US", "PAK_MIL", 0),
                                                               abs=1e-6)


# --- M5 the army's exposure opens a window for the civilians ------------------------------------

KARGIL = {"actor": "PAK_MIL", "target": "INDIA", "cameo": "19"}


def test_force_threshold_is_cameo_roots_18_to_20():
    from model.core import kernel
    force = {c for c, v in spec.event_types().items() if v["goldstein"] <= kernel.FORCE_GOLDSTEIN}
    assert force == {c for c in spec.event_types() if c[:2] in ("18", "19", "20")}


@pytest.mark.parametrize(("ev", "exposes"), [
    (event("kargil", 2, severity=2, **KARGIL), True),          # a war the army fights
    (event("raid", 2, "US_STRIKE", 2), True),                   # force used on its soil
    (event("ied", 2, "TAL_ATTACK", 2), False),                  # not between the army and a state
    (event("talks", 2, actor="PAK_MIL", target="INDIA", cameo="04", severity=2), False),  # words
    (event("cut", 2, "US_SUSPEND_AID", 2), False),              # hostile and material, not force
])
def test_m5_force_between_army_and_a_state_exposes_the_army(ev, exposes):
    hit, calm = paired([ev], runs=2, params=SILENT)
    rise = state_at(hit, "army_exposure", 3) - state_at(calm, "army_exposure", 3)
    if exposes:
        assert rise == pytest.approx(2.0, abs=1e-9)  # |Goldstein| / 10 x severity
    else:
        assert rise == pytest.approx(0.0, abs=1e-12)


def test_m5_exposure_brings_appeals_then_army_pushback():
    prm = {"exposure_gain": 6.0, "bias_civ_seek_backing": -5.0, "army_pushback": 5.0,
           "bias_mil_pressure_civ": -5.0}
    war, calm = paired([event("kargil", 2, severity=3, **KARGIL)], params=prm)
    after = slice(3, 9)
    hit, base = share_runs(war, "CIV_SEEK_BACKING", after), share_runs(calm, "CIV_SEEK_BACKING",
                                                                       after)
    assert hit > base + 0.15, (hit, base)
    # The appeals are what the army pushes back on (M5): more pressure on the civilians follows.
    later = slice(3, 15)
    assert freq(war, "MIL_PRESSURE_CIV", later) > freq(calm, "MIL_PRESSURE_CIV", later)
    # Without the gain the war leaves the civilians' choice alone (same draws, same frequency).
    off, off_calm = paired([event("kargil", 2, severity=3, **KARGIL)],
                           params={**prm, "exposure_gain": 0.0})
    assert abs(freq(off, "CIV_SEEK_BACKING", slice(3, 4))
               - freq(off_calm, "CIV_SEEK_BACKING", slice(3, 4))) < 0.05


# --- M1 reprisal and M8's shadow of the future ----------------------------------------------------

AID = {"US->PAK_MIL": 100.0, "US->PAK_CIV": 0.0}


def test_m1_closed_route_is_answered_by_an_aid_cut():
    prm = {"reprisal_gain": 6.0, "bias_us_suspend_aid": -6.0}
    closed = run(scenario([], 3, aid=AID, state={**FORCE, "supply_route_open": 0.0}), R, 4, prm)
    open_ = run(scenario([], 3, aid=AID, state=FORCE), R, 4, prm)
    f_c, f_o = freq(closed, "US_SUSPEND_AID", slice(0, 1)), freq(open_, "US_SUSPEND_AID",
                                                                  slice(0, 1))
    assert f_c > 3 * f_o, (f_c, f_o)
    assert f_c > f_o + 0.05, (f_c, f_o)


def test_m8_dependence_restrains_cuts_only_while_the_us_means_to_stay():
    prm = {"dependence_restraint": 8.0, "bias_us_suspend_aid": -2.0, "exit_gain": 0.0}
    f = {}
    for exit_ in (0.0, 0.95):
        sc = scenario([], 3, aid=AID, state={**FORCE, "us_exit_pressure": exit_})
        f[exit_] = freq(run(sc, R, 6, prm), "US_SUSPEND_AID", slice(0, 1))
    assert f[0.95] > 3 * f[0.0], f
    assert f[0.95] > f[0.0] + 0.05, f


def test_m4_safe_havens_a_us_that_wants_out_blames_the_army_for_the_insurgency():
    # The insurgency's strength, read as the work of the army's proxies through distrust, pulls
    # a US that wants out to suspend aid: in proportion to Taliban strength x proxy support x
    # exit pressure, and only with the gain.
    low = {"US->PAK_MIL": 0.2}
    prm = {"bias_us_suspend_aid": -6.0, "dependence_restraint": 0.0, "haven_blame": 12.0}
    f = {}
    cases = ((0.8, 0.9, 0.9, 12.0), (0.05, 0.9, 0.9, 12.0), (0.8, 0.05, 0.9, 12.0),
             (0.8, 0.9, 0.0, 12.0), (0.8, 0.9, 0.9, 0.0))
    for tal, proxy, exit_, gain in cases:
        sc = scenario([], 3, aid=AID, trust=low,
                      state={"taliban_strength": tal, "proxy_support": proxy,
                             "us_exit_pressure": exit_})
        f[tal, proxy, exit_, gain] = freq(run(sc, R, 7, {**prm, "haven_blame": gain}),
                                          "US_SUSPEND_AID", slice(0, 1))
    strong = f[cases[0]]
    for other in cases[1:]:
        assert strong > 3 * f[other] + 0.03, f


def test_m7_a_broker_is_not_cut_off_while_talks_are_under_way():
    # The leverage that pulls the US to engage the army holds back a suspension of its aid. The
    # same leverage lifts engagement and aid, which crowd every other act out of the softmax; the
    # odds of a suspension against pressure (untouched by the leverage) isolate the restraint.
    prm = {"bias_us_suspend_aid": 0.0, "bias_us_pressure": 0.0, "dependence_restraint": 0.0,
           "talks_gain": 0.0, "exit_gain": 0.0, "choice_temperature": 1.0}
    odds = {}
    for talks, gain in ((0.8, 3.0), (0.0, 3.0), (0.8, 0.0)):
        sc = scenario([], 2, aid=AID, trust={"US->PAK_MIL": 0.2, "PAK_MIL->TALIBAN": 0.9},
                      state={"talks": talks})
        res = run(sc, 4000, 8, {**prm, "leverage_gain": gain})
        odds[talks, gain] = (freq(res, "US_SUSPEND_AID", slice(0, 1))
                             / freq(res, "US_PRESSURE", slice(0, 1)))
    for other in ((0.0, 3.0), (0.8, 0.0)):
        assert 3 * odds[0.8, 3.0] < odds[other], odds


def test_m8_us_engages_a_distrusted_army_while_it_needs_it():
    low = {"US->PAK_MIL": 0.15}
    prm = {"engage_need_gain": 6.0, "bias_us_engage": -3.0}
    f = {}
    for force in (0.0, 100.0):
        sc = scenario([], 3, trust=low, state={"us_force": force})
        f[force] = freq(run(sc, R, 8, prm), "US_ENGAGE", slice(0, 1))
    assert f[100.0] > 2 * f[0.0], f
    assert f[100.0] > f[0.0] + 0.1, f
    # Without the gain, need leaves engagement alone.
    g = {force: freq(run(scenario([], 3, trust=low, state={"us_force": force}), R, 8,
                         {**prm, "engage_need_gain": 0.0}), "US_ENGAGE", slice(0, 1))
         for force in (0.0, 100.0)}
    assert g[100.0] < f[100.0] - 0.1, (f, g)


# --- Civilian aid packages and the Taliban's sanctuary ------------------------------------------

def test_civilian_package_pays_flat_then_runs_down():
    prm = {**SILENT, "civ_package": 100.0, "civ_package_months": 12.0, "civ_aid_tail": 0.2}
    res = run(scenario([event("kerry_lugar", 2, "US_CIV_AID")], 30,
                       aid={"US->PAK_MIL": 0.0, "US->PAK_CIV": 0.0}), 1, 0, prm)
    civ = res.aid[0, :, 1].astype(np.float64)
    np.testing.assert_allclose(civ[3:15], 100.0)       # the package's 12 months at full rate
    assert civ[16] < civ[15] < 100.0                    # then the flow runs down
    left = res.state[0, :, spec.STATE_INDEX["civ_package_left"]]
    assert left[3] == 11.0
    assert left[14] == 0.0


def test_one_civilian_package_at_a_time():
    prm = {**QUIET, "bias_us_civ_aid": 4.0, "civ_package_months": 10.0,
           "choice_temperature": 0.2}
    res = run(scenario([], 25), 50, 3, prm)
    chosen = res.action_count("US_CIV_AID")
    assert chosen[:, 0].all()                            # a package at once ...
    assert not chosen[:, 1:10].any()                     # ... none while it runs ...
    assert chosen[:, 10:].any(axis=1).all()              # ... a new one once it has ended


def test_sanctuary_lets_a_beaten_taliban_regrow():
    strength = {}
    for sanctuary in (0.0, 0.2):
        sc = scenario([], 48, state={"taliban_strength": 0.001, "us_force": 0.0,
                                     "proxy_support": 0.8})
        prm = {**SILENT, "sanctuary": sanctuary, "taliban_growth": 0.1, "proxy_rate": 0.0}
        strength[sanctuary] = state_at(run(sc, 2, 1, prm), "taliban_strength", 48)
    # Without the sanctuary the logistic regrowth from near zero stays slow ...
    assert strength[0.0] < 0.1
    # ... with it the Taliban are back in strength within four years.
    assert strength[0.2] > strength[0.0] + 0.3
