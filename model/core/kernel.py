"""The batched kernel: the model's dynamics as compiled functions over arrays.

There is one copy of the dynamics, here. ``run_batch`` advances B runs x T months in one pass
(parallel over runs); the Mesa face (``model.adapters.mesa_model``) calls the same
``decide_actor`` and ``apply_month`` for its single run, so both engines produce the same numbers.

Per run the state (``bundles.State``) is:
- ``r, s`` (5x5): fast Beta evidence, cooperative / defecting, of *row* about *column*;
- ``a0, b0`` (5x5): permanent memory pseudo-counts (historical memory, mechanism 9);
- trust ``T[i, j] = (r + a0) / (r + s + a0 + b0)`` (Jøsang & Ismail 2002);
- ``aid`` (2): $M per month, US->PAK_MIL (security) and US->PAK_CIV (civilian);
- ``x`` (N_STATE): the scalar state of ``model.core.spec.STATE_VARS``.
Every index (actors, state, actions, channels, condition and effect codes) comes from
``model.core.layout``; the arguments travel as the named bundles of ``model.core.bundles``.

Activation is decide-then-apply: every actor chooses from the state at the start of the month
(``decide_actor``); ``apply_month`` then applies all choices and the month's exogenous events
together. Nothing in ``apply_month`` depends on actor order.

Trace: evidence is booked per channel (the nine mechanisms, direct acts, balance, aid policy;
exogenous events each get their own channel) and turned into exact trust deltas, see ``_book``.

Compiled code is cached on disk under a directory keyed to every file it bakes in
(``model.core.jit``), so an edit to the vocabulary or the event types never runs a stale kernel.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from model.core.bundles import Effects, Events, Inputs, Plan, Scratch, Series, State, Triggers
from model.core.jit import njit

# The kernel's indices, all derived from the vocabulary by model.core.layout.
from model.core.layout import (  # isort: skip
    CHANNELS,  # noqa: F401 (re-exported: the trace's channel names)
    ACT_ACTOR, ACT_GOLDSTEIN, ACT_HI, ACT_LO, ACT_MATERIAL, ACT_TARGET, AID_CIV, AID_MIL,
    CH_AID, CH_ATTR, CH_BALANCE, CH_CIVMIL, CH_DEFY, CH_DEP, CH_DIRECT, CH_INDIA, CH_MED,
    CH_MEMORY, CH_POLICY, CH_SOV, CIV, CIV_ALIGN, CIV_DEFY, CIV_SEEK_BACKING, COND_AID,
    COND_TRUST, EFF_SET, HOLD_AID, IND, IND_ENGAGE_AFG, IND_PARTNER_US, IND_PRESSURE_PAK,
    LED_AID, MIL, MIL_CLOSE_ROUTE, MIL_COOPERATE, MIL_DEFY, MIL_EVICT_DRONES, MIL_HEDGE,
    MIL_MEDIATE, MIL_PRESSURE_CIV, MIL_REOPEN_ROUTE, NA, NACT, NCH, NX, N_AID, OP_GT, OP_LE,
    OP_LT, TAL, TAL_ATTACK, TAL_NEGOTIATE, US, US_BACK_CIVILIANS, US_CIV_AID, US_ENGAGE,
    US_MIL_AID, US_NEGOTIATE, US_PARTNER_INDIA, US_PRESSURE, US_STRIKE, US_SUSPEND_AID,
    US_THREATEN, X_APPEALS, X_ATTACKS, X_CIVMIL, X_CLOSED, X_COERCE, X_DRONES, X_EXIT,
    X_EXPOSURE, X_FORCE, X_GRIEV, X_HI, X_HOST, X_INDIA, X_LO, X_PACKAGE, X_PROXY, X_ROUTE,
    X_TALKS, X_TALSTR,
)

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


@njit(**_JIT_NORC)
def trust_matrix(r, s, a0, b0, out):
    """Expected value of the Beta belief for every ordered pair (Jøsang & Ismail 2002)."""
    for i in range(NA):
        for j in range(NA):
            p = r[i, j] + a0[i, j]
            out[i, j] = p / (p + s[i, j] + b0[i, j])


@njit(**_JIT_NORC)
def _need(pr, x):
    """US dependence on Pakistan, 0..1: saturating in the US force level (mechanism 8)."""
    f = x[X_FORCE]
    return f / (f + pr.need_half)


@njit(**_JIT_NORC)
def _features(pr, aid, x):
    """The month's derived inputs shared by every actor's decision and by the dynamics:
    (US need of Pakistan, log-scaled security aid, log-scaled civilian aid)."""
    return (_need(pr, x), math.log1p(aid[AID_MIL] / pr.aid_ref),
            math.log1p(aid[AID_CIV] / pr.aid_ref))


@njit(**_JIT_NORC)
def utilities(pr, T, aid, x, actor, util, avail):
    """Fill ``util``/``avail`` (indexed by global action) for ``actor``'s repertoire.

    Each term is one mechanism's pull; HOLD is the zero of the scale. The rules:
    cooperative acts are pulled by trust in their target and hostile acts by distrust
    (``trust_sensitivity``, Kydd's reciprocity); the mechanism terms are named in comments.
    """
    need, aid_m, aid_c = _features(pr, aid, x)
    _utilities(pr, T, aid, x, actor, need, aid_m, aid_c, util, avail)


@njit(**_JIT_INLINE)
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
        avail[US_MIL_AID] = aid[AID_MIL] < 0.95 * pr.mil_aid_cap
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
        avail[US_SUSPEND_AID] = aid[AID_MIL] > 0.1 * pr.mil_aid_cap
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
        # M3: the army's grievance at its own soldiers killed (log of the toll, decaying), read
        # through distrust, brings material retaliation; M8 holds it back. A raid that only
        # humiliates it exposes it at home instead (M5, army_exposure).
        griev = pr.retaliation_gain * math.log1p(x[X_GRIEV]) * (1.0 - T[MIL, US])
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


@njit(**_JIT_INLINE)
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


@njit(**_JIT)
def decide_actor(pr, st, actor, u, forbid):
    """One actor's choice for this month from the start-of-month ``State``; returns the action
    index. ``forbid`` (NACT bool): the actions an intervention rules out this month."""
    T = np.empty((NA, NA))
    trust_matrix(st.r, st.s, st.a0, st.b0, T)
    util = np.empty(NACT)
    avail = np.zeros(NACT, dtype=np.bool_)
    need, aid_m, aid_c = _features(pr, st.aid, st.x)
    return _decide(pr, T, st.aid, st.x, actor, need, aid_m, aid_c, u, util, avail, forbid)


@njit(**_JIT_INLINE)
def _decide(pr, T, aid, x, actor, need, aid_m, aid_c, u, util, avail, forbid):
    """``decide_actor`` on caller-owned buffers and the month's ``_features``."""
    _utilities(pr, T, aid, x, actor, need, aid_m, aid_c, util, avail)
    for k in range(ACT_LO[actor], ACT_HI[actor]):
        if forbid[k]:  # an intervention rules the action out this month
            avail[k] = False
    return choose(pr, util, avail, ACT_LO[actor], ACT_HI[actor], u)


@njit(**_JIT_NORC)
def _ev(dev, ch, i, j, amount):
    """Book evidence of ``i`` about ``j``: positive amount cooperative, negative defecting."""
    if i < 0 or j < 0 or i == j or amount == 0.0:
        return
    if amount > 0.0:
        dev[ch, 0, i, j] += amount
    else:
        dev[ch, 1, i, j] -= amount


@njit(**_JIT_NORC)
def _chan(n_ch, ch_override, c):
    """The channel to book to: one channel without trace, the event's own, or the mechanism's."""
    if n_ch == 1:
        return 0
    return ch_override if ch_override >= 0 else c


@njit(**_JIT_INLINE)
# The month functions (_act, _apply, _ledger_rows) are flat by design: exempt from the
# complexity limits (CONTRIBUTING.md).
def _act(pr, aid, x, dx, act, sev, ch_override, dev, daid, n_ch):  # noqa: PLR0912, PLR0915
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
    _resentment(pr, dx, x, a, t, g, ACT_MATERIAL[act], sev)
    if t >= 0 and g != 0.0:
        w = pr.evidence_gain * g / 10.0 * sev
        if not ACT_MATERIAL[act]:
            w *= pr.verbal_weight
        # M6: what defiance costs abroad is booked to the defiance channel.
        direct = CH_DEFY if (act == MIL_DEFY or act == CIV_DEFY) else CH_DIRECT
        _ev(dev, _chan(n_ch, ch_override, direct), t, a, w)
    if act == US_MIL_AID:
        new = min(pr.mil_aid_cap, aid[AID_MIL] + pr.mil_aid_step * sev)
        daid[_chan(n_ch, ch_override, CH_POLICY), AID_MIL] += new - aid[AID_MIL]
    elif act == US_CIV_AID:
        daid[_chan(n_ch, ch_override, CH_POLICY), AID_CIV] += pr.civ_package * sev
        # The package's first month is this one; the count is of the months after it.
        dx[X_PACKAGE] += max(0.0, pr.civ_package_months - 1.0) - x[X_PACKAGE]
    elif act == US_SUSPEND_AID:
        daid[_chan(n_ch, ch_override, CH_POLICY), AID_MIL] -= (
            min(1.0, pr.suspend_fraction * sev) * aid[AID_MIL])
    elif act == US_PRESSURE:
        dx[X_COERCE] += 0.5 * sev
    elif act == US_THREATEN:
        dx[X_COERCE] += sev
        _ev(dev, _chan(n_ch, ch_override, CH_ATTR), MIL, US, -pr.threat_offense * sev)
    elif act == US_STRIKE:
        # M3 sovereignty shock: both Pakistani actors feel it (the public hardens: _resentment).
        _ev(dev, _chan(n_ch, ch_override, CH_SOV), MIL, US, -pr.sovereignty_weight * sev)
        _ev(dev, _chan(n_ch, ch_override, CH_SOV), CIV, US, -pr.sovereignty_weight * sev)
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


@njit(**_JIT_NORC)
def _exposure(dx, a, t, g, sev):
    """M5: force used between the army and a state (US or India), either way, exposes the army
    at home: |Goldstein| / 10 per unit severity of a use of force."""
    if g <= FORCE_GOLDSTEIN and ((a == MIL and (t == US or t == IND))
                                 or (t == MIL and (a == US or a == IND))):
        dx[X_EXPOSURE] -= g / 10.0 * sev


@njit(**_JIT_NORC)
def _resentment(pr, dx, x, a, t, g, material, sev):
    """M3/M6: the public resents Washington's bullying. Every hostile US act on a Pakistani
    actor hardens it by ``hostility_gain`` per unit of |Goldstein| / 10 and severity, words
    discounted by ``verbal_weight`` as evidence is: a strike (-10, material) counts in full, a
    threat or a demand a fraction, so the public's hostility follows the US's hostile tempo."""
    if a == US and (t == MIL or t == CIV) and g < 0.0:
        w = -g / 10.0 * sev
        if not material:
            w *= pr.verbal_weight
        dx[X_HOST] += pr.hostility_gain * w * (1.0 - x[X_HOST])


@njit(**_JIT_NORC)
def _clip01(v):
    return min(1.0, max(0.0, v))


@njit(**_JIT)
def apply_month(pr, st, actions, inp, m, n_ch, led_trust, led_aid, fired):
    """Advance one run's ``State`` by month ``m`` of ``Inputs``: all actors' ``actions`` and the
    month's events together.

    Events with an action (>= 0) act through that action's mechanisms; others add only their
    Goldstein-weighted direct evidence. Effects then set or add exogenous state.
    With ``n_ch > 1`` the exact trust and aid change of each channel is written to ``led_trust``
    (n_ch x 5 x 5) and ``led_aid`` (n_ch x 2); channels NCH.. are this month's events in order,
    then one per trigger. The plan's ``hold`` holds state and aid at the month's end;
    ``fired[t]`` applies trigger t's act and effects this month.
    This allocating form serves the Mesa face; the batch loop calls ``_apply`` with buffers.
    """
    T = np.empty((NA, NA))
    trust_matrix(st.r, st.s, st.a0, st.b0, T)
    _apply(pr, st, T, actions, inp, m, n_ch, led_trust, led_aid, np.zeros(NX),
           np.zeros((n_ch, 2, NA, NA)), np.zeros((n_ch, N_AID)), fired)


@njit(**_JIT_INLINE)
def _apply(pr, st, T, actions, inp, m, n_ch, led_trust, led_aid, dx, dev, daid, fired):  # noqa: PLR0912, PLR0915
    """``apply_month`` on caller-owned buffers.

    ``T`` is the start-of-month trust on entry and the end-of-month trust on return (``_book``
    writes it). dx, dev, daid are scratch and are cleared here.
    """
    r, s, a0, b0, aid, x = st
    ev = inp.events
    eff = inp.effects
    hold = inp.plan.hold[m]
    trig_event = inp.triggers.event
    ev_lo = ev.month_ptr[m]
    ev_hi = ev.month_ptr[m + 1]
    dx[:] = 0.0
    dev[:] = 0.0
    daid[:] = 0.0
    ch_trig0 = n_ch - fired.shape[0]  # with a trace, the triggers' channels come last
    # The month's ``_features`` are recomputed here rather than passed in (passing them packed
    # in a tuple was measured and saves nothing).
    need, aid_m, _aid_c = _features(pr, aid, x)
    # Agents' acts: each reads the start-of-month state x and adds its changes to dx.
    for i in range(NA):
        _act(pr, aid, x, dx, actions[i], 1.0, -1, dev, daid, n_ch)
    # Exogenous events of the month.
    for e in range(ev_lo, ev_hi):
        chn = NCH + (e - ev_lo) if n_ch > 1 else -1
        if ev.action[e] >= 0:
            _act(pr, aid, x, dx, ev.action[e], ev.severity[e], chn, dev, daid, n_ch)
        else:
            w = pr.evidence_gain * ev.goldstein[e] / 10.0 * ev.severity[e]
            if not ev.material[e]:
                w *= pr.verbal_weight
            _exposure(dx, ev.actor[e], ev.target[e], ev.goldstein[e], ev.severity[e])
            _resentment(pr, dx, x, ev.actor[e], ev.target[e], ev.goldstein[e], ev.material[e],
                        ev.severity[e])
            _ev(dev, chn if n_ch > 1 else 0, ev.target[e], ev.actor[e], w)
    # Triggers that fired this month act like events, each booked to its own channel.
    for t in range(fired.shape[0]):
        if fired[t]:
            e = trig_event[t]
            if ev.action[e] >= 0:
                _act(pr, aid, x, dx, ev.action[e], ev.severity[e],
                     ch_trig0 + t if n_ch > 1 else -1, dev, daid, n_ch)
    # Continuous rules, from the start-of-month state.
    c_aid = CH_AID if n_ch > 1 else 0
    _ev(dev, c_aid, MIL, US, pr.aid_trust_gain * aid[AID_MIL] / pr.aid_ref)
    _ev(dev, c_aid, CIV, US, pr.aid_trust_gain * aid[AID_CIV] / pr.aid_ref)
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
    relax = pr.aid_relax * (floor - aid[AID_MIL])
    daid[(CH_DEP if relax > 0.0 else CH_MEMORY) if n_ch > 1 else 0, AID_MIL] += relax
    # A package pays its full rate for civ_package_months, then the flow runs down.
    if x[X_PACKAGE] > 0.0:
        dx[X_PACKAGE] -= 1.0
    else:
        daid[CH_MEMORY if n_ch > 1 else 0, AID_CIV] -= pr.civ_aid_tail * aid[AID_CIV]
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
    for f in range(eff.event.shape[0]):
        e = eff.event[f]
        on = ev_lo <= e < ev_hi
        if not on:
            for t in range(fired.shape[0]):
                if fired[t] and trig_event[t] == e:
                    on = True
        if on:
            if eff.mode[f] == EFF_SET:
                x[eff.var[f]] = eff.value[f]
            else:
                x[eff.var[f]] += eff.value[f]
    for k in range(NX):
        if not math.isnan(hold[k]):  # an intervention holds this variable
            x[k] = hold[k]
        x[k] = min(X_HI[k], max(X_LO[k], x[k]))
    if x[X_ROUTE] > 0.5:
        x[X_CLOSED] = 0.0
    # Trust: forget the fast pool, then add the month's evidence; a share of it is remembered.
    _book(pr, r, s, a0, b0, T, dev, n_ch, led_trust)
    tot0 = aid[AID_MIL]
    tot1 = aid[AID_CIV]
    for c in range(n_ch):
        tot0 += daid[c, AID_MIL]
        tot1 += daid[c, AID_CIV]
    # Never below zero; decisions never lift security aid over its cap (aid already above it,
    # e.g. from the initial state or a hold, only decays).
    new0 = max(0.0, min(tot0, max(pr.mil_aid_cap, aid[AID_MIL])))
    new1 = max(0.0, tot1)
    if not math.isnan(hold[HOLD_AID + AID_MIL]):
        new0 = hold[HOLD_AID + AID_MIL]
    if not math.isnan(hold[HOLD_AID + AID_CIV]):
        new1 = hold[HOLD_AID + AID_CIV]
    if n_ch > 1:
        for c in range(n_ch):
            led_aid[c, AID_MIL] = daid[c, AID_MIL]
            led_aid[c, AID_CIV] = daid[c, AID_CIV]
        # Clipping and holding are booked to the aid-policy channel so the ledger sums exactly.
        led_aid[CH_POLICY, AID_MIL] += new0 - tot0
        led_aid[CH_POLICY, AID_CIV] += new1 - tot1
    aid[AID_MIL] = new0
    aid[AID_CIV] = new1


@njit(**_JIT_INLINE)
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


@njit(**_JIT_INLINE)
def _record(T, aid, x, out, k):
    """Copy one month's state into step ``k`` of the (possibly float32) output ``Series``."""
    for i in range(NA):
        for j in range(NA):
            out.trust[k, i, j] = T[i, j]
    for c in range(aid.shape[0]):
        out.aid[k, c] = aid[c]
    for c in range(NX):
        out.x[k, c] = x[c]


@njit(**_JIT)
def run_one(pr, st, u, inp, n_ch, out, done):
    """Run one simulation for ``u.shape[0]`` months from ``State`` ``st`` (updated in place) on
    ``Inputs`` ``inp``, writing its series into the ``Series`` ``out``. ``done`` (n_trig bool,
    updated in place): which triggers have fired already (a ``once`` trigger that has does not
    fire again, also in a later phase of the run)."""
    n_trig = inp.triggers.event.shape[0]
    scr = Scratch(np.zeros(n_trig, dtype=np.bool_), done,
                  np.empty((NA, NA)), np.empty(NA, dtype=np.int64), np.zeros((n_ch, NA, NA)),
                  np.zeros((n_ch, N_AID)), np.empty(NACT), np.zeros(NACT, dtype=np.bool_),
                  np.zeros(NX), np.zeros((n_ch, 2, NA, NA)), np.zeros((n_ch, N_AID)))
    _run(pr, st, u, inp, n_ch, out, scr)


@njit(**_JIT_NORC)
def _run(pr, st, u, inp, n_ch, out, scr):
    """``run_one`` on caller-owned ``Scratch``: the month loop, with every per-month function
    inlined into it."""
    n_months = u.shape[0]
    aid = st.aid
    x = st.x
    T = scr.T
    actions = scr.actions
    forced = inp.plan.forced
    forbid = inp.plan.forbid
    trust_matrix(st.r, st.s, st.a0, st.b0, T)  # once: from here on ``_apply`` keeps T current
    _record(T, aid, x, out, 0)
    for m in range(n_months):
        # The month's derived inputs, once for all five decisions and the dynamics.
        need, aid_m, aid_c = _features(pr, aid, x)
        _triggers(T, aid, x, m, inp.triggers, scr.fired, scr.done)
        for i in range(NA):
            f = forced[m, i]
            actions[i] = f if f >= 0 else _decide(pr, T, aid, x, i, need, aid_m, aid_c, u[m, i],
                                                  scr.util, scr.avail, forbid[m])
        if n_ch > 1:
            scr.led_trust[:] = 0.0
            scr.led_aid[:] = 0.0
        _apply(pr, st, T, actions, inp, m, n_ch, scr.led_trust, scr.led_aid, scr.dx, scr.dev,
               scr.daid, scr.fired)
        _record(T, aid, x, out, m + 1)
        for i in range(NA):
            out.actions[m, i] = actions[i]
        if n_ch > 1:
            _ledger_rows(inp, m, n_ch, scr, out)


@njit(**_JIT_INLINE)
def _ledger_rows(inp, m, n_ch, scr, out):  # noqa: PLR0912
    """Trace: month ``m``'s channel ledgers into the mechanism ledger (channels 0..NCH-1) and the
    event ledger (the month's events, then the triggers that fired, which add up over months)."""
    led_trust = scr.led_trust
    led_aid = scr.led_aid
    for c in range(NCH):
        for i in range(NA):
            for j in range(NA):
                out.ledger[m, c, i * NA + j] = led_trust[c, i, j]
        for k in range(N_AID):
            out.ledger[m, c, LED_AID + k] = led_aid[c, k]
    lo = inp.events.month_ptr[m]
    for e in range(lo, inp.events.month_ptr[m + 1]):
        c = NCH + e - lo
        for i in range(NA):
            for j in range(NA):
                out.event_ledger[e, i * NA + j] = led_trust[c, i, j]
        for k in range(N_AID):
            out.event_ledger[e, LED_AID + k] = led_aid[c, k]
    fired = scr.fired
    ch_trig0 = n_ch - fired.shape[0]
    for t in range(fired.shape[0]):
        if fired[t]:  # a trigger may fire in several months: its entries add up
            e = inp.triggers.event[t]
            for i in range(NA):
                for j in range(NA):
                    out.event_ledger[e, i * NA + j] += led_trust[ch_trig0 + t, i, j]
            for k in range(N_AID):
                out.event_ledger[e, LED_AID + k] += led_aid[ch_trig0 + t, k]


@njit(**_JIT)
def triggers(T, aid, x, m, trg, fired, done):
    """``_triggers`` for the Mesa face."""
    _triggers(T, aid, x, m, trg, fired, done)


@njit(**_JIT_INLINE)
def _triggers(T, aid, x, m, trg, fired, done):
    """Which ``Triggers`` fire in month ``m``: all their conditions hold on the start-of-month
    state. A condition reads trust[a, b] (``COND_TRUST``), aid flow a (``COND_AID``) or state
    variable a (``COND_STATE``) and compares it by ``OP_LT``, ``OP_LE``, ``OP_GT`` or ``OP_GE``.
    """
    for t in range(trg.event.shape[0]):
        fired[t] = trg.first[t] <= m <= trg.last[t] and not (trg.once[t] and done[t])
    for c in range(trg.cond_trigger.shape[0]):
        t = trg.cond_trigger[c]
        if not fired[t]:
            continue
        kind = trg.cond_kind[c]
        if kind == COND_TRUST:
            v = T[trg.cond_a[c], trg.cond_b[c]]
        elif kind == COND_AID:
            v = aid[trg.cond_a[c]]
        else:
            v = x[trg.cond_a[c]]
        op = trg.cond_op[c]
        thr = trg.cond_value[c]
        ok = (v < thr if op == OP_LT else
              (v <= thr if op == OP_LE else (v > thr if op == OP_GT else v >= thr)))
        if not ok:
            fired[t] = False
    for t in range(trg.event.shape[0]):
        if fired[t]:
            done[t] = True


@njit(parallel=True, cache=True, nogil=True)
def run_batch(params, st, u, inp, n_ch, out, done):
    """Advance B independent runs (the leading axis of ``params``, ``u``, ``done`` (B x n_trig
    bool: triggers fired already, updated) and every array of the ``State`` ``st`` and the
    ``Series`` ``out``) on the shared ``Inputs`` ``inp``, in parallel.

    Each run reads only its own parameters, state and random numbers, so results do not depend
    on the batch size, the chunking or the thread that runs it. (Numba's parallel loop takes
    arrays, not bundles: the bundles are taken apart here and rebuilt per run.)
    """
    r, s, a0, b0, aid, x = st
    trust, aid_out, x_out, acts, led, led_ev = out
    (ev_action, ev_actor, ev_target, ev_goldstein, ev_material, ev_severity,
     month_ptr) = inp.events
    eff_event, eff_var, eff_mode, eff_value = inp.effects
    forced, forbid, hold = inp.plan
    (t_event, t_once, t_first, t_last, c_trig, c_kind, c_a, c_b, c_op,
     c_value) = inp.triggers
    for b in nb.prange(params.shape[0]):
        run_one(params[b], State(r[b], s[b], a0[b], b0[b], aid[b], x[b]), u[b],
                Inputs(Events(ev_action, ev_actor, ev_target, ev_goldstein, ev_material,
                              ev_severity, month_ptr),
                       Effects(eff_event, eff_var, eff_mode, eff_value),
                       Plan(forced, forbid, hold),
                       Triggers(t_event, t_once, t_first, t_last, c_trig, c_kind, c_a, c_b, c_op,
                                c_value)),
                n_ch, Series(trust[b], aid_out[b], x_out[b], acts[b], led[b], led_ev[b]),
                done[b])
