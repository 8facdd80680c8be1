"""Property layer (hypothesis) and extreme values: for any parameters within the table's bounds,
any seed >= 0 and any valid scenario, the state stays where it is defined.

Invariants: trust in [0, 1]; aid >= 0; every state variable within its ``StateVar`` bounds;
nothing NaN or infinite; every action within its actor's repertoire.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import event, scenario
from hypothesis import given, settings
from hypothesis import strategies as st

from model.adapters.mesa_model import DEFAULT_SCENARIO
from model.core import params as P
from model.core import spec
from model.engine.runner import simulate
from model.inputs.scenario import load_scenario

TABLE = P.table()
LO = np.array([v.lo for v in spec.STATE_VARS])
HI = np.array([v.hi for v in spec.STATE_VARS])
#: Examples per property; raise it for a deeper search (``AFPAK_HYPOTHESIS_EXAMPLES=1000``).
EXAMPLES = int(os.environ.get("AFPAK_HYPOTHESIS_EXAMPLES", "40"))
ACTOR_OF = np.array([spec.ACTOR_INDEX[a.actor] for a in spec.ACTIONS])
BASELINE = load_scenario(DEFAULT_SCENARIO)
#: State variables that are switches (unit "1/0").
SWITCHES = {v.name for v in spec.STATE_VARS if v.unit == "1/0"}


def check_invariants(res) -> None:
    for name in ("trust", "aid", "state"):
        arr = getattr(res, name)
        assert np.isfinite(arr).all(), f"{name} has NaN/inf"
    assert (res.trust >= 0).all()
    assert (res.trust <= 1).all()
    diag = res.trust[..., np.arange(spec.N_ACTORS), np.arange(spec.N_ACTORS)]
    assert (diag == 1).all()
    assert (res.aid >= 0).all()
    x = res.state.astype(np.float64)
    for k, v in enumerate(spec.STATE_VARS):
        bad = (x[..., k] < v.lo) | (x[..., k] > v.hi)
        assert not bad.any(), (f"{v.name} outside [{v.lo}, {v.hi}]: "
                               f"min {x[..., k].min()}, max {x[..., k].max()}")
    acts = res.actions.astype(np.int64)
    assert ((acts >= 0) & (acts < spec.N_ACTIONS)).all()
    assert (ACTOR_OF[acts] == np.arange(spec.N_ACTORS)).all()
    for name in SWITCHES:
        assert np.isin(res.state[..., spec.STATE_INDEX[name]], (0.0, 1.0)).all(), name


@st.composite
def param_sets(draw) -> dict[str, float]:
    """A full parameter mapping, each value drawn from [lo, hi] of the table (ends included)."""
    out = {}
    for name, p in TABLE.items():
        out[name] = draw(st.one_of(
            st.sampled_from([p.lo, p.hi, p.default]),
            st.floats(p.lo, p.hi, allow_nan=False, allow_infinity=False)))
    return out


seeds = st.one_of(st.just(0), st.integers(0, 2**32), st.integers(0, 2**128))

state_values = st.fixed_dictionaries({}, optional={
    v.name: st.sampled_from([v.lo, v.hi]) if v.name in SWITCHES
    else st.floats(v.lo, min(v.hi, 200.0)) for v in spec.STATE_VARS})

trust_values = st.dictionaries(
    st.sampled_from([f"{a}->{b}" for a in spec.ACTORS for b in spec.ACTORS if a != b]),
    st.floats(0.01, 0.99), max_size=6)


@st.composite
def scripted(draw, months: int) -> list[dict]:
    """A few exogenous events: actions of any actor, any severity, with effects in bounds."""
    n = draw(st.integers(0, 6))
    evs = []
    for k in range(n):
        action = draw(st.sampled_from([a.name for a in spec.ACTIONS]))
        sev = draw(st.one_of(st.sampled_from([0.0, 1.0, 100.0]), st.floats(0.0, 100.0)))
        names = draw(st.lists(st.sampled_from([v.name for v in spec.STATE_VARS]), max_size=2,
                              unique=True))
        effects = {n: {"set": draw(st.sampled_from([0.0, 1.0]) if n in SWITCHES
                                   else st.floats(0.0, 1.0))} for n in names}
        evs.append(event(f"e{k}", draw(st.integers(0, months - 1)), action, sev,
                         effects=effects))
    return evs


@settings(max_examples=EXAMPLES, deadline=None)
@given(prm=param_sets(), seed=seeds, months=st.integers(24, 60), runs=st.integers(1, 3))
def test_invariants_any_parameters_baseline(prm, seed, months, runs):
    res = simulate(BASELINE, runs=runs, seed=seed, months=months, params=prm)
    assert res.trust.shape == (runs, months + 1, spec.N_ACTORS, spec.N_ACTORS)
    check_invariants(res)


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data(), prm=param_sets(), seed=seeds, months=st.integers(24, 48))
def test_invariants_any_scripted_scenario(data, prm, seed, months):
    sc = scenario(data.draw(scripted(months)), months,
                  trust=data.draw(trust_values), state=data.draw(state_values),
                  aid=data.draw(st.fixed_dictionaries({}, optional={
                      "US->PAK_MIL": st.floats(0, 1000), "US->PAK_CIV": st.floats(0, 1000)})))
    res = simulate(sc, runs=2, seed=seed, params=prm, trace=True)
    check_invariants(res)
    assert np.isfinite(res.ledger).all()
    assert np.isfinite(res.event_ledger).all()


@pytest.mark.parametrize("end", ["lo", "hi"])
@pytest.mark.parametrize("sc", [BASELINE, "stress"], ids=["baseline", "stress"])
def test_extreme_parameter_values(end, sc):
    prm = {n: getattr(p, end) for n, p in TABLE.items()}
    if sc == "stress":
        evs = [event(f"e{m}", m, a.name, 5.0) for m, a in enumerate(spec.ACTIONS)]
        sc = scenario(evs, 60, state={"us_force": 150.0, "public_hostility": 1.0,
                                      "taliban_strength": 1.0, "proxy_support": 1.0},
                      aid={"US->PAK_MIL": 400.0, "US->PAK_CIV": 400.0})
    res = simulate(sc, runs=8, seed=0, months=60, params=prm)
    check_invariants(res)


@pytest.mark.parametrize("effects", [
    [{"us_force": {"add": 150.0}}, {"us_force": {"add": 150.0}}],  # two surges of 150k
    [{"us_force": {"set": 500.0}}],
    [{"public_hostility": {"add": 3.0}}, {"taliban_strength": {"add": -2.0}}],
], ids=["add-twice", "set-beyond", "shares"])
def test_state_bounds_hold_under_exogenous_effects(effects):
    # Scenarios whose effects would push a state variable past its declared bounds (us_force is
    # 0..200 thousand troops, shares 0..1): the engine must refuse the scenario or keep the
    # state within bounds, never report a state outside them.
    evs = [event(f"surge{k}", k + 1, actor="US", target="TALIBAN", cameo="15", effects=eff)
           for k, eff in enumerate(effects)]
    try:
        sc = scenario(evs, 6)
    except ValueError:
        return  # refusing the scenario is as good as clipping the state
    check_invariants(simulate(sc, runs=2, seed=0))
