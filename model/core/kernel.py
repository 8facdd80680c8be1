"""The batched kernel: the model's dynamics as compiled functions over arrays.

There is one copy of the dynamics, here. ``run_batch`` advances B runs x T months in one pass
(parallel over runs); the Mesa face (``model.adapters.mesa_model``) calls the same ``decide_actor``
and
``apply_month`` for its single run, so both engines produce the same numbers.

Per run the state is:
- ``r, s`` (5x5): fast Beta evidence, cooperative / defecting, of *row* about *column*;
- ``a0, b0`` (5x5): permanent memory pseudo-counts (historical memory, mechanism 9);
- trust ``T[i, j] = (r + a0) / (r + s + a0 + b0)`` (Jøsang & Ismail 2002);
- ``aid`` (2): $M per month, US->PAK_MIL (security) and US->PAK_CIV (civilian);
- ``x`` (N_STATE): the scalar state of ``model.core.spec.STATE_VARS``.

Activation is decide-then-apply: every actor chooses from the state at the start of the month
(``decide_actor``); ``apply_month`` then applies all choices and the month's exogenous events
together. Nothing in ``apply_month`` depends on actor order.

Trace: evidence is booked per channel (the nine mechanisms, direct acts, balance, aid policy;
exogenous events each get their own channel) and turned into exact trust deltas, see ``_book``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from model.core import spec

# --- actors ---------------------------------------------------------------------------------
US, MIL, CIV, TAL, IND = 0, 1, 2, 3, 4
NA = spec.N_ACTORS

# --- scalar state indices (checked against model.core.spec at import) ----------------------------
X_HOST, X_CIVMIL, X_ROUTE, X_DRONES, X_TALSTR = range(5)
X_FORCE, X_INDIA, X_PROXY, X_EXIT, X_TALKS = range(5, 10)
X_GRIEV, X_COERCE, X_ATTACKS, X_APPEALS, X_CLOSED = range(10, 15)
X_PACKAGE, X_EXPOSURE = 15, 16
NX = spec.N_STATE
#: Bounds of every scalar state variable (``spec.STATE_VARS``): the state is clipped to them.
X_LO = np.array([v.lo for v in spec.STATE_VARS])
X_HI = np.array([v.hi for v in spec.STATE_VARS])
#: What interventions may hold: the scalar state, then the aid flows.
NHOLD = NX + len(spec.AID_FLOWS)
assert [v.name for v in spec.STATE_VARS] == [
    "public_hostility", "civmil_balance", "supply_route_open", "drone_basing", "taliban_strength",
    "us_force", "india_engagement", "proxy_support", "us_exit_pressure", "talks",
    "sovereignty_grievance", "us_coercion", "attack_tempo", "civ_appeals", "route_closed_months",
    "civ_package_left", "army_exposure",
], "kernel state indices out of step with model.core.spec.STATE_VARS"

# --- action indices -------------------------------------------------------------------------
_A = spec.ACTION_INDEX
US_HOLD, US_ENGAGE, US_MIL_AID, US_CIV_AID = (_A[n] for n in (
    "US_HOLD", "US_ENGAGE", "US_MIL_AID", "US_CIV_AID"))
US_PRESSURE, US_THREATEN, US_STRIKE, US_SUSPEND_AID = (_A[n] for n in (
    "US_PRESSURE", "US_THREATEN", "US_STRIKE", "US_SUSPEND_AID"))
US_PARTNER_INDIA, US_BACK_CIVILIANS, US_NEGOTIATE = (_A[n] for n in (
    "US_PARTNER_INDIA", "US_BACK_CIVILIANS", "US_NEGOTIATE"))
MIL_HOLD, MIL_COOPERATE, MIL_HEDGE, MIL_DEFY = (_A[n] for n in (
    "MIL_HOLD", "MIL_COOPERATE", "MIL_HEDGE", "MIL_DEFY"))
MIL_CLOSE_ROUTE, MIL_REOPEN_ROUTE, MIL_EVICT_DRONES = (_A[n] for n in (
    "MIL_CLOSE_ROUTE", "MIL_REOPEN_ROUTE", "MIL_EVICT_DRONES"))
MIL_MEDIATE, MIL_PRESSURE_CIV = _A["MIL_MEDIATE"], _A["MIL_PRESSURE_CIV"]
CIV_HOLD, CIV_ALIGN, CIV_SEEK_BACKING, CIV_DEFY = (_A[n] for n in (
    "CIV_HOLD", "CIV_ALIGN", "CIV_SEEK_BACKING", "CIV_DEFY"))
TAL_HOLD, TAL_ATTACK, TAL_NEGOTIATE = (_A[n] for n in ("TAL_HOLD", "TAL_ATTACK", "TAL_NEGOTIATE"))
IND_HOLD, IND_ENGAGE_AFG, IND_PARTNER_US, IND_PRESSURE_PAK = (_A[n] for n in (
    "IND_HOLD", "IND_ENGAGE_AFG", "IND_PARTNER_US", "IND_PRESSURE_PAK"))
NACT = spec.N_ACTIONS

#: Per action: actor index, target index (-1 none), Goldstein weight, material flag.
ACT_ACTOR = np.array([spec.ACTOR_INDEX[a.actor] for a in spec.ACTIONS], dtype=np.int64)
ACT_TARGET = np.array([spec.ACTOR_INDEX[a.target] if a.target else -1 for a in spec.ACTIONS],
                      dtype=np.int64)
ACT_GOLDSTEIN = np.array([a.goldstein for a in spec.ACTIONS], dtype=np.float64)
ACT_MATERIAL = np.array([a.material for a in spec.ACTIONS], dtype=np.bool_)
#: First and one-past-last action index of each actor's repertoire.
ACT_LO = np.array([spec.ACTOR_ACTIONS[a][0] for a in spec.ACTORS], dtype=np.int64)
ACT_HI = np.array([spec.ACTOR_ACTIONS[a][1] for a in spec.ACTORS], dtype=np.int64)
MAX_REPERTOIRE = int((ACT_HI - ACT_LO).max())

# --- trace channels ---------------------------------------------------------------------------
CHANNELS: tuple[str, ...] = (
    "memory",            # M9: forgetting pulls trust back to the historical baseline
    "direct",            # the Goldstein-weighted evidence of acts between the pair
    "aid_compliance",    # M1
    "india_factor",      # M2
    "sovereignty",       # M3
    "attribution",       # M4
    "civmil",            # M5
    "defiance",          # M6
    "mediation",         # M7
    "dependence",        # M8
    "balance",           # structural balance among observers
    "aid_policy",        # US decisions on aid levels
)
CH_MEMORY, CH_DIRECT, CH_AID, CH_INDIA, CH_SOV, CH_ATTR, CH_CIVMIL, CH_DEFY, CH_MED, CH_DEP = (
    range(10))
CH_BALANCE, CH_POLICY = 10, 11
NCH = len(CHANNELS)
#: Ledger columns: the 25 trust cells (row-major, i->j) then the aid flows.
NLEDGER = NA * NA + len(spec.AID_FLOWS)

_JIT = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}
#: The per-month functions only index arrays their caller owns; they never allocate or keep a
#: reference. Compiled without the Numba runtime (``_nrt=False``, as Numba's own string and sort
#: helpers are) they skip the atomic reference counting of array arguments, which otherwise cost
#: about a third of the kernel's time. Functions that allocate keep the runtime (``_JIT``).
_JIT_NORC = {**_JIT, "_nrt": False}
#: ... and they are inlined into the month loop (``_run``) at the Numba IR level: a call passes
#: every array as its exploded fields (about 200 words for ``_apply``), which cost more than the
#: work. Called on their own (tests, the Mesa face) they are ordinary compiled functions.
_JIT_INLINE = {**_JIT_NORC, "inline": "always"}


@nb.njit(**_JIT_NORC)
def trust_matrix(r, s, a0, b0, out):
    """Expected value of the Beta belief for every ordered pair (Jøsang & Ismail 2002)."""
    for i in range(NA):
        for j in range(NA):
            p = r[i, j] + a0[i, j]
            out[i, j] = p / (p + s[i, j] + b0[i, j])


@nb.njit(**_JIT_NORC)
def _need(pr, x):
    """US dependence on Pakistan, 0..1: saturating in the US force level (mechanism 8)."""
    f = x[X_FORCE]
    return f / (f + pr.need_half)


@nb.njit(**_JIT_NORC)
def _features(pr, aid, x):
    """The month's derived inputs shared by every actor's decision and by the dynamics:
    (US need of Pakistan, log-scaled security aid, log-scaled civilian aid)."""
    return (_need(pr, x), math.log1p(aid[0] / pr.aid_ref), math.log1p(aid[1] / pr.aid_ref))


@nb.njit(**_JIT_NORC)
def utilities(pr, T, aid, x, actor, util, avail):
    """Fill ``util``/``avail`` (indexed by global action) for ``actor``'s repertoire.

    Each term is one mechanism's pull; HOLD is the zero of the scale. The rules:
    cooperative acts are pulled by trust in their target and hostile acts by distrust
    (``trust_sensitivity``, Kydd's reciprocity); the mechanism terms are named in comments.
    """
    need, aid_m, aid_c = _features(pr, aid, x)
    _utilities(pr, T, aid, x, actor, need, aid_m, aid_c, util, avail)


@nb.njit(**_JIT_INLINE)
def _utilities(pr, T, aid, x, actor, need, aid_m, aid_c, util, avail):
    """``utilities`` with the month's ``_features`` computed once by the caller."""
    ts = pr.trust_sensitivity
    host = x[X_HOST]
    for k in range(ACT_LO[actor], ACT_HI[actor]):
        util[k] = 0.0
        avail[k] = True
    if actor == US:
        d_mil = T[US, MIL] - 0.5
        # M7: while talks with the Taliban are under way, the army's ties to them make it a
        # broker worth courting: relations warm and aid resumes.
        lev = pr.leverage_gain * x[X_TALKS] * T[MIL, TAL]
        # M8: Washington engages an army it distrusts while it needs it.
        util[US_ENGAGE] = pr.bias_us_engage + ts * d_mil + pr.engage_need_gain * need + lev
        # Patron-client aid: aid follows the patron's need and its trust in the client.
        util[US_MIL_AID] = pr.bias_us_mil_aid + ts * d_mil + pr.aid_need_gain * need + lev
        avail[US_MIL_AID] = aid[0] < 0.95 * pr.mil_aid_cap
        # M5: Washington backs a civilian government that holds power with civilian aid.
        util[US_CIV_AID] = (pr.bias_us_civ_aid + ts * (T[US, CIV] - 0.5)
                            + pr.aid_need_gain * need
                            + pr.democracy_gain * (x[X_CIVMIL] - pr.civmil_natural))
        avail[US_CIV_AID] = x[X_PACKAGE] <= 0.0  # one package at a time
        util[US_PRESSURE] = pr.bias_us_pressure - ts * d_mil
        # M4 attribution: attacks, read through distrust of the army, bring threats.
        util[US_THREATEN] = (pr.bias_us_threaten - ts * d_mil
                             + pr.threat_response * x[X_ATTACKS] * (1.0 - T[US, MIL]))
        util[US_STRIKE] = pr.bias_us_strike - ts * d_mil + pr.strike_gain * x[X_TALSTR] * need
        # M8 mutual dependence restrains a suspension while the US needs Pakistan, and only as
        # long as it means to stay: exit pressure shortens the shadow of the future.
        # M4 feeds suspensions too: attacks read through distrust call for a cut.
        # M1 reprisal: aid buys compliance, so a closed supply route is answered by a cut.
        # M4 also reads the insurgency's strength as the work of the army's proxies (the safe
        # havens), through distrust, the more so as the US wants out of a war it is not winning.
        # M7: a broker is not cut off while talks are under way.
        havens = x[X_TALSTR] * x[X_PROXY] * x[X_EXIT]
        util[US_SUSPEND_AID] = (pr.bias_us_suspend_aid - ts * d_mil
                                - pr.dependence_restraint * need * (1.0 - x[X_EXIT])
                                + (pr.threat_response * x[X_ATTACKS]
                                   + pr.haven_blame * havens) * (1.0 - T[US, MIL])
                                + pr.reprisal_gain * (1.0 - x[X_ROUTE]) - lev)
        avail[US_SUSPEND_AID] = aid[0] > 0.1 * pr.mil_aid_cap
        util[US_PARTNER_INDIA] = pr.bias_us_partner_india + ts * (T[US, IND] - 0.5)
        util[US_BACK_CIVILIANS] = (pr.bias_us_back_civilians + ts * (T[US, CIV] - T[US, MIL])
                                   + pr.civ_leverage * x[X_APPEALS] * T[US, CIV])
        # M7: the wish to leave a war that is not being won makes talking to the Taliban
        # worth it (exit pressure x Taliban strength); talks under way carry on.
        util[US_NEGOTIATE] = (pr.bias_us_negotiate + ts * (T[US, TAL] - 0.5)
                              + pr.exit_gain * x[X_EXIT] * x[X_TALSTR]
                              + pr.talks_gain * x[X_TALKS])
    elif actor == MIL:
        d_us = T[MIL, US] - 0.5
        # M1: aid and coercion buy compliance, whatever the army's trust in the US.
        util[MIL_COOPERATE] = (pr.bias_mil_cooperate + ts * d_us + pr.aid_compliance * aid_m
                               + pr.coercion_compliance * x[X_COERCE])
        # M2: Indian engagement in Afghanistan raises the value of proxies.
        util[MIL_HEDGE] = (pr.bias_mil_hedge + ts * (T[MIL, TAL] - T[MIL, US])
                           + ts * pr.india_proxy_gain * x[X_INDIA])
        # M6: defiance pays at home in proportion to public hostility.
        util[MIL_DEFY] = pr.bias_mil_defy - ts * d_us + pr.defiance_payoff * host
        # M3: sovereignty grievance, read through distrust, brings retaliation; M8 holds it back.
        griev = pr.retaliation_gain * x[X_GRIEV] * (1.0 - T[MIL, US])
        util[MIL_CLOSE_ROUTE] = (pr.bias_mil_close_route - ts * d_us + griev
                                 - pr.dependence_cost * aid_m)
        avail[MIL_CLOSE_ROUTE] = x[X_ROUTE] > 0.5
        util[MIL_REOPEN_ROUTE] = (pr.bias_mil_reopen_route + ts * d_us - griev
                                  + pr.dependence_cost * x[X_CLOSED] * (need + aid_m))
        avail[MIL_REOPEN_ROUTE] = x[X_ROUTE] <= 0.5
        util[MIL_EVICT_DRONES] = pr.bias_mil_evict_drones - ts * d_us + griev
        avail[MIL_EVICT_DRONES] = x[X_DRONES] > 0.5
        # M7: ties to the Taliban become leverage when the US wants out and talks are under way.
        util[MIL_MEDIATE] = (pr.bias_mil_mediate
                             + pr.mediation_gain * x[X_EXIT] * x[X_TALKS] * T[MIL, TAL])
        # M5: the army pushes back on civilians who court Washington or grow strong.
        util[MIL_PRESSURE_CIV] = (pr.bias_mil_pressure_civ + pr.army_pushback * (
            x[X_APPEALS] + max(0.0, x[X_CIVMIL] - pr.civmil_natural)))
    elif actor == CIV:
        d_us = T[CIV, US] - 0.5
        util[CIV_ALIGN] = (pr.bias_civ_align + ts * d_us + pr.aid_compliance * aid_c
                           - pr.defiance_payoff * (host - pr.hostility_natural))
        # M5: weak civilians who trust Washington seek its backing against the army.
        # M5: ... and the more so while the army is exposed by a crisis of force.
        util[CIV_SEEK_BACKING] = (pr.bias_civ_seek_backing
                                  + pr.civ_leverage * (1.0 - x[X_CIVMIL]) * T[CIV, US]
                                  + pr.exposure_gain * x[X_EXPOSURE] * T[CIV, US])
        util[CIV_DEFY] = pr.bias_civ_defy - ts * d_us + pr.defiance_payoff * host
    elif actor == TAL:
        util[TAL_ATTACK] = (pr.bias_tal_attack + pr.attack_gain * x[X_TALSTR] * need
                            - pr.talks_gain * x[X_TALKS])
        util[TAL_NEGOTIATE] = (pr.bias_tal_negotiate + ts * (T[TAL, US] - 0.5)
                               + pr.talks_gain * x[X_TALKS])
    else:  # INDIA
        d_us = T[IND, US] - 0.5
        util[IND_ENGAGE_AFG] = pr.bias_ind_engage_afg + ts * (d_us - x[X_INDIA])
        util[IND_PARTNER_US] = pr.bias_ind_partner_us + ts * (d_us + T[US, IND] - 0.5)
        util[IND_PRESSURE_PAK] = pr.bias_ind_pressure_pak - ts * (T[IND, MIL] - 0.5)


@nb.njit(**_JIT_INLINE)
def choose(pr, util, avail, lo, hi, u):
    """Sample one action from the logit (softmax) over the available ones, by inverse CDF of u."""
    tau = pr.choice_temperature
    m = -1e300
    for k in range(lo, hi):
        if avail[k] and util[k] > m:
            m = util[k]
    # util now becomes the unnormalised weights. exp(0) is exactly 1, so the best action (and
    # any tie) needs no call into libm; the calls are the bulk of a decision's cost.
    for k in range(lo, hi):
        if avail[k]:
            z = (util[k] - m) / tau
            util[k] = 1.0 if z == 0.0 else math.exp(z)
    total = 0.0
    for k in range(lo, hi):
        if avail[k]:
            total += util[k]
    target = u * total
    acc = 0.0
    last = lo
    for k in range(lo, hi):
        if avail[k]:
            acc += util[k]
            last = k
            if acc >= target:
                return k
    return last


@nb.njit(**_JIT)
def decide_actor(pr, r, s, a0, b0, aid, x, actor, u, forbid):
    """One actor's choice for this month from the start-of-month state; returns the action index."""
    T = np.empty((NA, NA))
    trust_matrix(r, s, a0, b0, T)
    util = np.empty(NACT)
    avail = np.zeros(NACT, dtype=np.bool_)
    need, aid_m, aid_c = _features(pr, aid, x)
    return _decide(pr, T, aid, x, actor, need, aid_m, aid_c, u, util, avail, forbid)


@nb.njit(**_JIT_INLINE)
def _decide(pr, T, aid, x, actor, need, aid_m, aid_c, u, util, avail, forbid):
    """``decide_actor`` on caller-owned buffers and the month's ``_features``."""
    _utilities(pr, T, aid, x, actor, need, aid_m, aid_c, util, avail)
    for k in range(ACT_LO[actor], ACT_HI[actor]):
        if forbid[k]:  # an intervention rules the action out this month
            avail[k] = False
    return choose(pr, util, avail, ACT_LO[actor], ACT_HI[actor], u)


@nb.njit(**_JIT_NORC)
def _ev(dev, ch, i, j, amount):
    """Book evidence of ``i`` about ``j``: positive amount cooperative, negative defecting."""
    if i < 0 or j < 0 or i == j or amount == 0.0:
        return
    if amount > 0.0:
        dev[ch, 0, i, j] += amount
    else:
        dev[ch, 1, i, j] -= amount


@nb.njit(**_JIT_NORC)
def _chan(n_ch, ch_override, c):
    """The channel to book to: one channel without trace, the event's own, or the mechanism's."""
    if n_ch == 1:
        return 0
    return ch_override if ch_override >= 0 else c


@nb.njit(**_JIT_INLINE)
def _act(pr, aid, x, dx, act, sev, ch_override, dev, daid, n_ch):
    """Apply one act (an agent's choice or an exogenous event typed by an action).

    Reads the start-of-month state ``x`` and adds its changes to ``dx``, so that acts of the
    same month do not see each other (decide-then-apply). ``ch_override`` >= 0 books every
    contribution to that channel (an exogenous event's own); otherwise each mechanism books to
    its channel. ``n_ch == 1`` collapses channels (no trace).
    """
    a = ACT_ACTOR[act]
    t = ACT_TARGET[act]
    # Direct evidence to the target about the actor, Goldstein-weighted, words discounted.
    g = ACT_GOLDSTEIN[act]
    _exposure(dx, a, t, g, sev)
    if t >= 0 and g != 0.0:
        w = pr.evidence_gain * g / 10.0 * sev
        if not ACT_MATERIAL[act]:
            w *= pr.verbal_weight
        # M6: what defiance costs abroad is booked to the defiance channel.
        direct = CH_DEFY if (act == MIL_DEFY or act == CIV_DEFY) else CH_DIRECT
        _ev(dev, _chan(n_ch, ch_override, direct), t, a, w)
    if act == US_MIL_AID:
        new = min(pr.mil_aid_cap, aid[0] + pr.mil_aid_step * sev)
        daid[_chan(n_ch, ch_override, CH_POLICY), 0] += new - aid[0]
    elif act == US_CIV_AID:
        daid[_chan(n_ch, ch_override, CH_POLICY), 1] += pr.civ_package * sev
        # The package's first month is this one; the count is of the months after it.
        dx[X_PACKAGE] += max(0.0, pr.civ_package_months - 1.0) - x[X_PACKAGE]
    elif act == US_SUSPEND_AID:
        daid[_chan(n_ch, ch_override, CH_POLICY), 0] -= min(1.0, pr.suspend_fraction * sev) * aid[0]
    elif act == US_PRESSURE:
        dx[X_COERCE] += 0.5 * sev
    elif act == US_THREATEN:
        dx[X_COERCE] += sev
        _ev(dev, _chan(n_ch, ch_override, CH_ATTR), MIL, US, -pr.threat_offense * sev)
    elif act == US_STRIKE:
        # M3 sovereignty shock: both Pakistani actors feel it; the public hardens.
        _ev(dev, _chan(n_ch, ch_override, CH_SOV), MIL, US, -pr.sovereignty_weight * sev)
        _ev(dev, _chan(n_ch, ch_override, CH_SOV), CIV, US, -pr.sovereignty_weight * sev)
        dx[X_HOST] += pr.hostility_gain * sev * (1.0 - x[X_HOST])
        dx[X_GRIEV] += sev
        dx[X_TALSTR] -= pr.suppression_us * sev * x[X_TALSTR]
    elif act == US_PARTNER_INDIA or act == IND_PARTNER_US:
        # M2 the India factor: the army reads US-India closeness as a turn against it.
        _ev(dev, _chan(n_ch, ch_override, CH_INDIA), MIL, US, -pr.india_penalty * sev)
    elif act == US_BACK_CIVILIANS:
        dx[X_CIVMIL] += pr.backing_shift * sev * (1.0 - x[X_CIVMIL])
        _ev(dev, _chan(n_ch, ch_override, CH_CIVMIL), MIL, US, -pr.interference_penalty * sev)
    elif act == US_NEGOTIATE or act == TAL_NEGOTIATE:
        dx[X_TALKS] += pr.talks_step * sev * (1.0 - x[X_TALKS])
    elif act == MIL_COOPERATE:
        dx[X_TALSTR] -= pr.suppression_mil * sev * x[X_TALSTR]
    elif act == MIL_HEDGE:
        dx[X_PROXY] += pr.hedge_step * sev * (1.0 - x[X_PROXY])
        # M1: the US sees part of the hedging, which caps what cooperation buys.
        _ev(dev, _chan(n_ch, ch_override, CH_AID), US, MIL,
            -pr.hedge_visibility * pr.evidence_gain * sev)
    elif act == MIL_DEFY:
        # M6: defiance shores up the army's standing at home.
        dx[X_CIVMIL] -= pr.defiance_standing * sev * x[X_HOST] * x[X_CIVMIL]
    elif act == MIL_CLOSE_ROUTE:
        dx[X_ROUTE] -= x[X_ROUTE]
    elif act == MIL_REOPEN_ROUTE:
        dx[X_ROUTE] += 1.0 - x[X_ROUTE]
        dx[X_CLOSED] -= x[X_CLOSED]
    elif act == MIL_EVICT_DRONES:
        dx[X_DRONES] -= x[X_DRONES]
    elif act == MIL_MEDIATE:
        # M7: mediation is worth most to the US when it wants to leave.
        dx[X_TALKS] += pr.talks_step * sev * (1.0 - x[X_TALKS])
        _ev(dev, _chan(n_ch, ch_override, CH_MED), US, MIL, pr.mediation_trust * sev * x[X_EXIT])
    elif act == MIL_PRESSURE_CIV:
        dx[X_CIVMIL] -= pr.pressure_shift * sev * x[X_CIVMIL]
    elif act == CIV_SEEK_BACKING:
        # M5: an appeal to Washington is a betrayal in the army's eyes.
        dx[X_APPEALS] += sev
        _ev(dev, _chan(n_ch, ch_override, CH_CIVMIL), MIL, CIV, -pr.interference_penalty * sev)
    elif act == CIV_DEFY:
        dx[X_CIVMIL] += pr.defiance_standing * sev * x[X_HOST] * (1.0 - x[X_CIVMIL])
    elif act == TAL_ATTACK:
        # M4 attribution: the US reads attacks as the army's, in proportion to its proxy ties.
        dx[X_ATTACKS] += sev
        dx[X_EXIT] += pr.weariness_gain * sev * (1.0 - x[X_EXIT])
        _ev(dev, _chan(n_ch, ch_override, CH_ATTR), US, MIL,
            -pr.attribution_weight * sev * x[X_PROXY])
    elif act == IND_ENGAGE_AFG:
        dx[X_INDIA] += pr.india_engage_step * sev * (1.0 - x[X_INDIA])
        _ev(dev, _chan(n_ch, ch_override, CH_INDIA), MIL, IND,
            -pr.evidence_gain * pr.india_engage_step * sev * 10.0)


#: Use of force: CAMEO roots 18-20 (assault, fight, mass violence), which in the event-type
#: table are exactly the types of Goldstein weight -9 or less (checked by a test).
FORCE_GOLDSTEIN = -9.0


@nb.njit(**_JIT_NORC)
def _exposure(dx, a, t, g, sev):
    """M5: force used between the army and a state (US or India), either way, exposes the army
    at home: |Goldstein| / 10 per unit severity of a use of force."""
    if g <= FORCE_GOLDSTEIN and ((a == MIL and (t == US or t == IND))
                                 or (t == MIL and (a == US or a == IND))):
        dx[X_EXPOSURE] -= g / 10.0 * sev


@nb.njit(**_JIT_NORC)
def _clip01(v):
    return min(1.0, max(0.0, v))


@nb.njit(**_JIT)
def apply_month(pr, r, s, a0, b0, aid, x, actions, ev_action, ev_actor, ev_target, ev_goldstein,
                ev_material, ev_severity, ev_lo, ev_hi, eff_event, eff_var, eff_mode, eff_value,
                n_ch, led_trust, led_aid, hold, trig_event, fired):
    """Advance one run by one month: all actors' ``actions`` and events ``ev_lo..ev_hi`` together.

    Events with an action (>= 0) act through that action's mechanisms; others add only their
    Goldstein-weighted direct evidence. Effects (``eff_*``) then set or add exogenous state.
    With ``n_ch > 1`` the exact trust and aid change of each channel is written to ``led_trust``
    (n_ch x 5 x 5) and ``led_aid`` (n_ch x 2); channels NCH.. are this month's events in order,
    then one per trigger. ``hold`` (NHOLD, NaN = free) holds state and aid at the month's end;
    ``fired[t]`` applies trigger t's act and effects (event ``trig_event[t]``) this month.
    This allocating form serves the Mesa face; the batch loop calls ``_apply`` with buffers.
    """
    T = np.empty((NA, NA))
    trust_matrix(r, s, a0, b0, T)
    _apply(pr, r, s, a0, b0, aid, x, T, actions, ev_action, ev_actor, ev_target, ev_goldstein,
           ev_material, ev_severity, ev_lo, ev_hi, eff_event, eff_var, eff_mode, eff_value,
           n_ch, led_trust, led_aid, np.zeros(NX), np.zeros((n_ch, 2, NA, NA)),
           np.zeros((n_ch, 2)), hold, trig_event, fired)


@nb.njit(**_JIT_INLINE)
def _apply(pr, r, s, a0, b0, aid, x, T, actions, ev_action, ev_actor, ev_target, ev_goldstein,
           ev_material, ev_severity, ev_lo, ev_hi, eff_event, eff_var, eff_mode, eff_value,
           n_ch, led_trust, led_aid, dx, dev, daid, hold, trig_event, fired):
    """``apply_month`` on caller-owned buffers.

    ``T`` is the start-of-month trust on entry and the end-of-month trust on return (``_book``
    writes it). dx, dev, daid are scratch and are cleared here.
    """
    dx[:] = 0.0
    dev[:] = 0.0
    daid[:] = 0.0
    ch_trig0 = n_ch - fired.shape[0]  # with a trace, the triggers' channels come last
    # The month's ``_features`` are recomputed here rather than passed in: an inlined call takes
    # at most 30 arguments (CPython passes more as *args, which Numba cannot inline). Passing
    # them packed in a tuple was measured and saves nothing.
    need, aid_m, _aid_c = _features(pr, aid, x)
    # Agents' acts: each reads the start-of-month state x and adds its changes to dx.
    for i in range(NA):
        _act(pr, aid, x, dx, actions[i], 1.0, -1, dev, daid, n_ch)
    # Exogenous events of the month.
    for e in range(ev_lo, ev_hi):
        chn = NCH + (e - ev_lo) if n_ch > 1 else -1
        if ev_action[e] >= 0:
            _act(pr, aid, x, dx, ev_action[e], ev_severity[e], chn, dev, daid, n_ch)
        else:
            w = pr.evidence_gain * ev_goldstein[e] / 10.0 * ev_severity[e]
            if not ev_material[e]:
                w *= pr.verbal_weight
            _exposure(dx, ev_actor[e], ev_target[e], ev_goldstein[e], ev_severity[e])
            _ev(dev, chn if n_ch > 1 else 0, ev_target[e], ev_actor[e], w)
    # Triggers that fired this month act like events, each booked to its own channel.
    for t in range(fired.shape[0]):
        if fired[t]:
            e = trig_event[t]
            if ev_action[e] >= 0:
                _act(pr, aid, x, dx, ev_action[e], ev_severity[e],
                     ch_trig0 + t if n_ch > 1 else -1, dev, daid, n_ch)
    # Continuous rules, from the start-of-month state.
    c_aid = CH_AID if n_ch > 1 else 0
    _ev(dev, c_aid, MIL, US, pr.aid_trust_gain * aid[0] / pr.aid_ref)
    _ev(dev, c_aid, CIV, US, pr.aid_trust_gain * aid[1] / pr.aid_ref)
    if x[X_ROUTE] <= 0.5:
        _ev(dev, CH_DEP if n_ch > 1 else 0, US, MIL, -pr.closure_cost * need)
        dx[X_CLOSED] += 1.0
    bw = pr.balance_weight
    if bw > 0.0:
        # Structural balance: i's view of k follows i's trust in the j that k is trusted by.
        c_bal = CH_BALANCE if n_ch > 1 else 0
        for i in range(NA):
            for k in range(NA):
                if i == k:
                    continue
                acc = 0.0
                for j in range(NA):
                    if j != i and j != k:
                        acc += (T[i, j] - 0.5) * (T[j, k] - 0.5) * 4.0
                _ev(dev, c_bal, i, k, bw * acc / (NA - 2))
    # Aid: security aid relaxes towards the floor the US's need keeps under it (M8), civilian
    # aid runs down over a package's life.
    floor = pr.aid_floor * pr.mil_aid_cap * need
    relax = pr.aid_relax * (floor - aid[0])
    daid[(CH_DEP if relax > 0.0 else CH_MEMORY) if n_ch > 1 else 0, 0] += relax
    # A package pays its full rate for civ_package_months, then the flow runs down.
    if x[X_PACKAGE] > 0.0:
        dx[X_PACKAGE] -= 1.0
    else:
        daid[CH_MEMORY if n_ch > 1 else 0, 1] -= pr.civ_aid_tail * aid[1]
    # Scalar state: relaxation to natural levels and slow dynamics.
    dx[X_HOST] += pr.hostility_decay * (pr.hostility_natural - x[X_HOST])
    dx[X_CIVMIL] += pr.civmil_drift * (pr.civmil_natural - x[X_CIVMIL])
    p_target = _clip01(pr.proxy_natural + pr.india_proxy_gain * x[X_INDIA]
                       + pr.moral_hazard * aid_m * x[X_TALSTR])
    dx[X_PROXY] += pr.proxy_rate * (p_target - x[X_PROXY])
    st = x[X_TALSTR]
    # Logistic growth fed by the proxies; the sanctuary keeps recruiting when the field is lost.
    dx[X_TALSTR] += (pr.taliban_growth * x[X_PROXY] * (st + pr.sanctuary) * (1.0 - st)
                     - pr.suppression_us * x[X_FORCE] / 100.0 * st)
    dx[X_EXIT] += pr.weariness_drift * x[X_FORCE] / 100.0 * (1.0 - x[X_EXIT])
    dx[X_TALKS] -= pr.talks_decay * x[X_TALKS]
    dx[X_INDIA] -= pr.india_engage_decay * x[X_INDIA]
    dx[X_GRIEV] -= pr.grievance_decay * x[X_GRIEV]
    dx[X_EXPOSURE] -= pr.grievance_decay * x[X_EXPOSURE]
    dx[X_COERCE] -= pr.impulse_decay * x[X_COERCE]
    dx[X_ATTACKS] -= pr.impulse_decay * x[X_ATTACKS]
    dx[X_APPEALS] -= pr.impulse_decay * x[X_APPEALS]
    for k in range(NX):
        x[k] += dx[k]
    # Exogenous effects override (set) or shift (add) state after the dynamics.
    n_sched = eff_event.shape[0]
    for f in range(n_sched):
        e = eff_event[f]
        on = ev_lo <= e < ev_hi
        if not on:
            for t in range(fired.shape[0]):
                if fired[t] and trig_event[t] == e:
                    on = True
        if on:
            if eff_mode[f] == 0:
                x[eff_var[f]] = eff_value[f]
            else:
                x[eff_var[f]] += eff_value[f]
    for k in range(NX):
        if not math.isnan(hold[k]):  # an intervention holds this variable
            x[k] = hold[k]
        x[k] = min(X_HI[k], max(X_LO[k], x[k]))
    if x[X_ROUTE] > 0.5:
        x[X_CLOSED] = 0.0
    # Trust: forget the fast pool, then add the month's evidence; a share of it is remembered.
    _book(pr, r, s, a0, b0, T, dev, n_ch, led_trust)
    tot0 = aid[0]
    tot1 = aid[1]
    for c in range(n_ch):
        tot0 += daid[c, 0]
        tot1 += daid[c, 1]
    # Never below zero; decisions never lift security aid over its cap (aid already above it,
    # e.g. from the initial state or a hold, only decays).
    new0 = max(0.0, min(tot0, max(pr.mil_aid_cap, aid[0])))
    new1 = max(0.0, tot1)
    if not math.isnan(hold[NX]):
        new0 = hold[NX]
    if not math.isnan(hold[NX + 1]):
        new1 = hold[NX + 1]
    if n_ch > 1:
        for c in range(n_ch):
            led_aid[c, 0] = daid[c, 0]
            led_aid[c, 1] = daid[c, 1]
        # Clipping and holding are booked to the aid-policy channel so the ledger sums exactly.
        led_aid[CH_POLICY, 0] += new0 - tot0
        led_aid[CH_POLICY, 1] += new1 - tot1
    aid[0] = new0
    aid[1] = new1


@nb.njit(**_JIT_INLINE)
def _book(pr, r, s, a0, b0, T, dev, n_ch, led):
    """Forget, add evidence, and (tracing) book each channel's exact share of the trust change.

    With p = r + a0 and q = s + b0 after forgetting, adding (dr, ds) changes trust by
    (dr (1 - T_f) - ds T_f) / n_new, linear in each channel's (dr, ds): the shares sum exactly.
    ``T`` holds the start-of-month trust on entry; each off-diagonal cell is overwritten with the
    end-of-month trust as soon as it is known (the same expression as ``trust_matrix``, so the
    batch loop need not recompute the matrix). The diagonal never changes.
    """
    lam = pr.forgetting
    mem_pos = pr.memory_pos
    mem_neg = pr.memory_neg
    fast_pos = 1.0 - mem_pos
    fast_neg = 1.0 - mem_neg
    for i in range(NA):
        for j in range(NA):
            if i == j:
                continue
            rf = r[i, j] * lam
            sf = s[i, j] * lam
            dr = 0.0
            ds = 0.0
            for c in range(n_ch):
                dr += dev[c, 0, i, j]
                ds += dev[c, 1, i, j]
            if n_ch > 1:
                p = rf + a0[i, j]
                q = sf + b0[i, j]
                t_f = p / (p + q)
                n_new = p + q + dr + ds
                led[CH_MEMORY, i, j] = t_f - T[i, j]
                for c in range(n_ch):
                    led[c, i, j] += (dev[c, 0, i, j] * (1.0 - t_f) - dev[c, 1, i, j] * t_f) / n_new
            # M9: a share of new evidence goes to permanent memory, betrayals more than favours.
            rn = rf + fast_pos * dr
            an = a0[i, j] + mem_pos * dr
            sn = sf + fast_neg * ds
            bn = b0[i, j] + mem_neg * ds
            r[i, j] = rn
            a0[i, j] = an
            s[i, j] = sn
            b0[i, j] = bn
            pn = rn + an
            T[i, j] = pn / (pn + sn + bn)


@nb.njit(**_JIT_INLINE)
def _record(T, aid, x, trust_out, aid_out, x_out, k):
    """Copy one month's state into row ``k`` of the (possibly float32) output series."""
    for i in range(NA):
        for j in range(NA):
            trust_out[k, i, j] = T[i, j]
    for c in range(aid.shape[0]):
        aid_out[k, c] = aid[c]
    for c in range(NX):
        x_out[k, c] = x[c]


@nb.njit(**_JIT)
def run_one(pr, r, s, a0, b0, aid, x, u, forced, ev_action, ev_actor, ev_target, ev_goldstein,
            ev_material, ev_severity, month_ptr, eff_event, eff_var, eff_mode, eff_value,
            n_ch, trust_out, aid_out, x_out, act_out, led_mech, led_ev, forbid, hold, cond,
            cond_value, trig):
    """Run one simulation for ``u.shape[0]`` months, writing its series into the output rows."""
    n_trig = trig.shape[0]
    _run(pr, r, s, a0, b0, aid, x, u, forced, ev_action, ev_actor, ev_target, ev_goldstein,
         ev_material, ev_severity, month_ptr, eff_event, eff_var, eff_mode, eff_value, n_ch,
         trust_out, aid_out, x_out, act_out, led_mech, led_ev, forbid, hold, cond, cond_value,
         trig, trig[:, 0].copy(), np.zeros(n_trig, dtype=np.bool_),
         np.zeros(n_trig, dtype=np.bool_), np.empty((NA, NA)),
         np.empty(NA, dtype=np.int64), np.zeros((n_ch, NA, NA)), np.zeros((n_ch, 2)),
         np.empty(NACT), np.zeros(NACT, dtype=np.bool_), np.zeros(NX),
         np.zeros((n_ch, 2, NA, NA)), np.zeros((n_ch, 2)))


@nb.njit(**_JIT_NORC)
def _run(pr, r, s, a0, b0, aid, x, u, forced, ev_action, ev_actor, ev_target, ev_goldstein,
         ev_material, ev_severity, month_ptr, eff_event, eff_var, eff_mode, eff_value, n_ch,
         trust_out, aid_out, x_out, act_out, led_mech, led_ev, forbid, hold, cond, cond_value,
         trig, trig_event, fired, done, T, actions, led_trust, led_aid, util, avail, dx, dev,
         daid):
    """``run_one`` on caller-owned scratch (T, actions, the month's ledgers, util, avail, dx,
    dev, daid): the month loop, with every per-month function inlined into it."""
    n_months = u.shape[0]
    ch_trig0 = n_ch - trig.shape[0]
    trust_matrix(r, s, a0, b0, T)  # once: from here on ``_apply`` keeps T current
    _record(T, aid, x, trust_out, aid_out, x_out, 0)
    for m in range(n_months):
        # The month's derived inputs, once for all five decisions and the dynamics.
        need, aid_m, aid_c = _features(pr, aid, x)
        _triggers(T, aid, x, m, cond, cond_value, trig, fired, done)
        for i in range(NA):
            f = forced[m, i]
            actions[i] = f if f >= 0 else _decide(pr, T, aid, x, i, need, aid_m, aid_c, u[m, i],
                                                  util, avail, forbid[m])
        lo = month_ptr[m]
        hi = month_ptr[m + 1]
        if n_ch > 1:
            led_trust[:] = 0.0
            led_aid[:] = 0.0
        _apply(pr, r, s, a0, b0, aid, x, T, actions, ev_action, ev_actor, ev_target,
               ev_goldstein, ev_material, ev_severity, lo, hi, eff_event, eff_var, eff_mode,
               eff_value, n_ch, led_trust, led_aid, dx, dev, daid, hold[m], trig_event, fired)
        _record(T, aid, x, trust_out, aid_out, x_out, m + 1)
        for i in range(NA):
            act_out[m, i] = actions[i]
        if n_ch > 1:
            for c in range(NCH):
                for i in range(NA):
                    for j in range(NA):
                        led_mech[m, c, i * NA + j] = led_trust[c, i, j]
                led_mech[m, c, NA * NA] = led_aid[c, 0]
                led_mech[m, c, NA * NA + 1] = led_aid[c, 1]
            for e in range(lo, hi):
                c = NCH + e - lo
                for i in range(NA):
                    for j in range(NA):
                        led_ev[e, i * NA + j] = led_trust[c, i, j]
                led_ev[e, NA * NA] = led_aid[c, 0]
                led_ev[e, NA * NA + 1] = led_aid[c, 1]
            for t in range(fired.shape[0]):
                if fired[t]:  # a trigger may fire in several months: its entries add up
                    e = trig_event[t]
                    for i in range(NA):
                        for j in range(NA):
                            led_ev[e, i * NA + j] += led_trust[ch_trig0 + t, i, j]
                    led_ev[e, NA * NA] += led_aid[ch_trig0 + t, 0]
                    led_ev[e, NA * NA + 1] += led_aid[ch_trig0 + t, 1]


@nb.njit(**_JIT)
def triggers(T, aid, x, m, cond, cond_value, trig, fired, done):
    """``_triggers`` for the Mesa face."""
    _triggers(T, aid, x, m, cond, cond_value, trig, fired, done)


@nb.njit(**_JIT_INLINE)
def _triggers(T, aid, x, m, cond, cond_value, trig, fired, done):
    """Which triggers fire in month ``m``: all their conditions hold on the start-of-month state.

    ``trig[t]`` = (event, once, first month, last month, -); ``cond[c]`` = (trigger, kind, a, b,
    op) with kind 0 trust[a, b], 1 aid[a], 2 state x[a]; op 0 <, 1 <=, 2 >, 3 >=.
    """
    for t in range(trig.shape[0]):
        fired[t] = trig[t, 2] <= m <= trig[t, 3] and not (trig[t, 1] == 1 and done[t])
    for c in range(cond.shape[0]):
        t = cond[c, 0]
        if not fired[t]:
            continue
        kind = cond[c, 1]
        if kind == 0:
            v = T[cond[c, 2], cond[c, 3]]
        elif kind == 1:
            v = aid[cond[c, 2]]
        else:
            v = x[cond[c, 2]]
        op = cond[c, 4]
        thr = cond_value[c]
        ok = v < thr if op == 0 else (v <= thr if op == 1 else (v > thr if op == 2 else v >= thr))
        if not ok:
            fired[t] = False
    for t in range(trig.shape[0]):
        if fired[t]:
            done[t] = True


@nb.njit(parallel=True, cache=True, nogil=True)
def run_batch(params, r, s, a0, b0, aid, x, u, forced, ev_action, ev_actor, ev_target,
              ev_goldstein, ev_material, ev_severity, month_ptr, eff_event, eff_var, eff_mode,
              eff_value, n_ch, trust_out, aid_out, x_out, act_out, led_mech, led_ev, forbid, hold,
              cond, cond_value, trig):
    """Advance B independent runs (leading axis of every per-run array) in parallel.

    Each run reads only its own parameters, state and random numbers, so results do not depend
    on the batch size, the chunking or the thread that runs it.
    """
    for b in nb.prange(params.shape[0]):
        run_one(params[b], r[b], s[b], a0[b], b0[b], aid[b], x[b], u[b], forced, ev_action,
                ev_actor, ev_target, ev_goldstein, ev_material, ev_severity, month_ptr,
                eff_event, eff_var, eff_mode, eff_value, n_ch, trust_out[b], aid_out[b],
                x_out[b], act_out[b], led_mech[b], led_ev[b], forbid, hold, cond, cond_value,
                trig)
