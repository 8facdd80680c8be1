"""Unit layer: the kernel's pure rules (trust as a Beta expectation, the logit choice, the
repertoire and availability of actions)."""

from __future__ import annotations

import numpy as np
import pytest

from model.core import kernel, layout, spec
from model.core import params as P
from model.core.bundles import State
from model.engine.runner import initial_state
from model.inputs.compiled import compile_scenario
from model.inputs.scenario import Scenario, from_mapping

NA = spec.N_ACTORS
MIL = spec.ACTOR_INDEX["PAK_MIL"]
CLOSE = spec.ACTION_INDEX["MIL_CLOSE_ROUTE"]
REOPEN = spec.ACTION_INDEX["MIL_REOPEN_ROUTE"]
ROUTE = spec.STATE_INDEX["supply_route_open"]
GRID = (np.arange(2000) + 0.5) / 2000  # a deterministic grid of u over [0, 1)
NO_FORBID = np.zeros(layout.NACT, dtype=bool)  # no intervention rules an action out


def record(**over) -> np.void:
    return P.records([{**P.defaults(), **over}])[0]


def start_state(**over):
    prm = {**P.defaults(), **over}
    return initial_state(Scenario(name="t", months=1), prm)


def test_trust_matrix_is_beta_expectation():
    rng = np.random.default_rng(7)
    r, s = rng.uniform(0, 20, (2, NA, NA))
    a0, b0 = rng.uniform(0.1, 10, (2, NA, NA))
    out = np.empty((NA, NA))
    kernel.trust_matrix(r, s, a0, b0, out)
    np.testing.assert_allclose(out, (r + a0) / (r + s + a0 + b0), rtol=1e-14)
    assert ((out > 0) & (out < 1)).all()


def test_trust_matrix_without_evidence_is_the_prior():
    # No fast evidence: trust equals a0 / (a0 + b0), e.g. Beta(1, 1) -> 0.5 (Josang & Ismail).
    z = np.zeros((NA, NA))
    out = np.empty((NA, NA))
    kernel.trust_matrix(z, z, np.ones((NA, NA)), np.ones((NA, NA)), out)
    np.testing.assert_array_equal(out, 0.5)
    kernel.trust_matrix(z + 3.0, z, np.ones((NA, NA)), np.ones((NA, NA)), out)
    np.testing.assert_allclose(out, 0.8)


def test_initial_state_trust_is_the_baselines():
    prm = P.defaults()
    r, s, a0, b0, _aid, _x = start_state()
    out = np.empty((NA, NA))
    kernel.trust_matrix(r, s, a0, b0, out)
    ix = spec.ACTOR_INDEX
    assert out[ix["PAK_MIL"], ix["US"]] == pytest.approx(prm["baseline_mil_us"])
    assert out[ix["US"], ix["PAK_MIL"]] == pytest.approx(prm["baseline_us_mil"])
    assert out[ix["US"], ix["INDIA"]] == pytest.approx(prm["baseline_us_india"])
    np.testing.assert_allclose(a0 + b0 - np.diag(np.diag(a0 + b0)),
                               prm["prior_strength"] * (1 - np.eye(NA)))


def _choose(pr, util, avail, lo, hi, u):
    return kernel.choose(pr, np.array(util, dtype=np.float64), np.array(avail, dtype=np.bool_),
                         lo, hi, u)


@pytest.mark.parametrize("best", [0, 3, 5])
def test_choose_huge_gap_picks_best_available(best):
    pr = record(choice_temperature=5.0)  # even the noisiest choice
    n = 6
    util = np.zeros(n)
    util[best] = 1000.0
    avail = np.ones(n, dtype=bool)
    picks = {_choose(pr, util, avail, 0, n, u) for u in GRID}
    assert picks == {best}


def test_choose_never_picks_unavailable_even_if_best():
    pr = record()
    n = 6
    util = np.array([0.0, 1000.0, -1.0, 2.0, 500.0, 1.0])
    avail = np.array([True, False, True, True, False, True])
    picks = [_choose(pr, util, avail, 0, n, u) for u in GRID]
    assert set(picks) <= {0, 2, 3, 5}
    assert max(set(picks), key=picks.count) == 3  # the best among the available
    # u at the very ends of [0, 1)
    for u in (0.0, np.nextafter(1.0, 0.0)):
        assert avail[_choose(pr, util, avail, 0, n, u)]


def test_choose_respects_the_repertoire_slice():
    pr = record()
    util = np.zeros(10)
    util[1] = util[9] = 1000.0  # outside the slice 3..7
    avail = np.ones(10, dtype=bool)
    picks = {_choose(pr, util, avail, 3, 7, u) for u in GRID}
    assert picks <= set(range(3, 7))


@pytest.mark.parametrize("tau", [0.2, 1.0, 5.0])
def test_choose_equal_utilities_is_uniform(tau):
    pr = record(choice_temperature=tau)
    n = 5
    avail = np.array([True, True, False, True, True])
    picks = np.array([_choose(pr, np.full(n, 0.7), avail, 0, n, u) for u in GRID])
    counts = np.bincount(picks, minlength=n)
    assert counts[2] == 0
    expected = len(GRID) / 4
    assert np.abs(counts[[0, 1, 3, 4]] - expected).max() <= 2


def test_choose_follows_logit_odds():
    # Two actions one temperature unit apart: odds e:1 (McFadden's conditional logit).
    pr = record(choice_temperature=2.0)
    picks = np.array([_choose(pr, [2.0, 0.0], [True, True], 0, 2, u) for u in GRID])
    share = (picks == 0).mean()
    assert share == pytest.approx(np.e / (1 + np.e), abs=2 / len(GRID))


@pytest.mark.parametrize("actor", range(NA))
def test_decide_actor_stays_in_repertoire(actor):
    rng = np.random.default_rng(actor)
    lo, hi = layout.ACT_LO[actor], layout.ACT_HI[actor]
    assert [a.actor for a in spec.ACTIONS[lo:hi]] == [spec.ACTORS[actor]] * (hi - lo)
    seen = set()
    for k in range(60):
        pr = record(choice_temperature=5.0,
                    **{f"bias_{a.name.lower()}": 4.0 for a in spec.ACTIONS
                       if not a.name.endswith("_HOLD")})
        r, s, a0, b0, aid, x = start_state()
        r = rng.uniform(0, 10, (NA, NA))
        s = rng.uniform(0, 10, (NA, NA))
        aid = rng.uniform(0, 300, 2)
        for i, v in enumerate(spec.STATE_VARS):
            x[i] = rng.uniform(v.lo, min(v.hi, 10.0))
        x[ROUTE] = float(k % 2)
        x[spec.STATE_INDEX["civ_package_left"]] = 0.0 if k % 3 else 5.0  # package or none
        for u in GRID[::50]:
            a = kernel.decide_actor(pr, State(r, s, a0, b0, aid, x), actor, u, NO_FORBID)
            assert lo <= a < hi
            assert spec.ACTIONS[a].actor == spec.ACTORS[actor]
            seen.add(int(a))
    # With every intercept at its top, the whole repertoire gets used.
    assert seen == set(range(lo, hi))


def _mil_choices(x_route: float, **over) -> set[int]:
    pr = record(**over)
    r, s, a0, b0, aid, x = start_state()
    x[ROUTE] = x_route
    x[spec.STATE_INDEX["sovereignty_grievance"]] = 50.0
    x[spec.STATE_INDEX["route_closed_months"]] = 0.0 if x_route > 0.5 else 30.0
    x[spec.STATE_INDEX["us_force"]] = 100.0
    return {int(kernel.decide_actor(pr, State(r, s, a0, b0, aid, x), MIL, u,
                                             NO_FORBID)) for u in GRID}


def test_close_route_never_when_closed():
    picks = _mil_choices(0.0, bias_mil_close_route=4.0, retaliation_gain=12.0,
                         dependence_cost=0.0)
    assert CLOSE not in picks
    # the same closed state with reopening made attractive: it is available and chosen
    assert REOPEN in _mil_choices(0.0, bias_mil_close_route=4.0, bias_mil_reopen_route=4.0,
                                  retaliation_gain=0.0, dependence_cost=3.0)


def test_reopen_never_when_open():
    picks = _mil_choices(1.0, bias_mil_reopen_route=4.0, dependence_cost=3.0,
                         retaliation_gain=0.0)
    assert REOPEN not in picks
    assert CLOSE in _mil_choices(1.0, bias_mil_reopen_route=4.0, bias_mil_close_route=4.0,
                                 retaliation_gain=12.0)


def test_utilities_hold_is_zero_and_flags_availability():
    pr = record()
    r, s, a0, b0, aid, x = start_state()
    T = np.empty((NA, NA))
    kernel.trust_matrix(r, s, a0, b0, T)
    for actor in range(NA):
        util = np.full(layout.NACT, np.nan)
        avail = np.zeros(layout.NACT, dtype=np.bool_)
        kernel.utilities(pr, T, aid, x, actor, util, avail)
        lo, hi = layout.ACT_LO[actor], layout.ACT_HI[actor]
        assert util[lo] == 0.0
        assert avail[lo]
        assert spec.ACTIONS[lo].name.endswith("_HOLD")
        assert np.isfinite(util[lo:hi]).all()
        assert np.isnan(np.delete(util, np.arange(lo, hi))).all()  # other actors' untouched


def _quad_of(code: str) -> int:
    root = int(code[:2])
    return 1 if root <= 5 else 2 if root <= 8 else 3 if root <= 13 else 4


@pytest.mark.parametrize("code", sorted(spec.event_types()))
def test_event_type_record_is_well_formed(code):
    # The kernel's Goldstein weights and material flags come from this table (CAMEO; Goldstein
    # 1992): each record is a name, a weight in [-10, 10] and the QuadClass of its root code.
    et = spec.event_types()[code]
    assert set(et) == {"name", "goldstein", "quad"}, et
    assert isinstance(et["name"], str)
    assert et["name"].strip()
    assert -10.0 <= float(et["goldstein"]) <= 10.0
    assert et["quad"] == _quad_of(code)


def test_action_table_matches_event_types():
    for k, a in enumerate(spec.ACTIONS):
        assert layout.ACT_GOLDSTEIN[k] == spec.goldstein(a.cameo)
        assert layout.ACT_MATERIAL[k] == (spec.event_types()[a.cameo]["quad"] in (2, 4))
        assert layout.ACT_ACTOR[k] == spec.ACTOR_INDEX[a.actor]
        assert layout.ACT_TARGET[k] == (spec.ACTOR_INDEX[a.target] if a.target else -1)


def test_forbidden_actions_are_never_chosen():
    """An intervention's forbid row removes actions from the choice set."""
    prm = P.records([P.defaults()])[0]
    sc = Scenario(name="t")
    r, s, a0, b0, aid, x = initial_state(sc, P.defaults())
    forbid = np.zeros(layout.NACT, dtype=bool)
    lo, hi = layout.ACT_LO[layout.MIL], layout.ACT_HI[layout.MIL]
    forbid[lo + 1:hi] = True  # everything but MIL_HOLD
    chosen = {int(kernel.decide_actor(prm, State(r, s, a0, b0, aid, x), layout.MIL, u, forbid))
              for u in GRID}
    assert chosen == {layout.MIL_HOLD}
    free = {int(kernel.decide_actor(prm, State(r, s, a0, b0, aid, x), layout.MIL, u, NO_FORBID))
            for u in GRID}
    assert len(free) > 1


def test_layout_indices_follow_the_vocabulary():
    """Every index the kernel uses is its name's position in spec's lists (none by hand)."""
    for name, i in spec.STATE_INDEX.items():
        assert layout.HOLD_INDEX[name] == i
    names = ("public_hostility", "supply_route_open", "army_exposure")
    assert [spec.STATE_INDEX[n] for n in names] == [
        layout.X_HOST, layout.X_ROUTE, layout.X_EXPOSURE]
    for k, (d, r) in enumerate(spec.AID_FLOWS):
        assert layout.HOLD_INDEX[f"{d}->{r}"] == layout.HOLD_AID + k
    assert layout.CHANNELS[layout.CH_POLICY] == "aid_policy"
    assert layout.CHANNELS == kernel.CHANNELS == tuple(c for c, _ in spec.CHANNELS)
    assert spec.CONDITION_OPS[layout.OP_GE] == ">="
    assert spec.EFFECT_MODES[layout.EFF_ADD] == "add"


def _fires(when: str, T: np.ndarray, aid: np.ndarray, x: np.ndarray) -> bool:
    sc = from_mapping({"name": "t", "start": "2001-01", "months": 2, "triggers": [
        {"id": "t", "when": when, "then": {"action": "US_STRIKE"}}]})
    trg = compile_scenario(sc).inputs().triggers
    fired, done = np.zeros(1, dtype=bool), np.zeros(1, dtype=bool)
    kernel.triggers(T, aid, x, 0, trg, fired, done)
    return bool(fired[0])


@pytest.mark.parametrize(("when", "expected"), [
    ("trust[PAK_MIL->US] < 0.3", True), ("trust[US->PAK_MIL] < 0.3", False),
    ("aid[US->PAK_CIV] >= 20", True), ("aid[US->PAK_MIL] > 20", False),
    ("public_hostility <= 0.7", True), ("public_hostility > 0.7", False),
    ("talks > 0.1 and aid[US->PAK_CIV] >= 20", True),
    ("talks > 0.1 and aid[US->PAK_CIV] < 20", False),
])
def test_compiled_condition_codes_are_the_kernels(when, expected):
    """The compiler writes each condition's kind and comparison with the codes the kernel
    reads: trust, aid and state terms, each comparison, and 'and'."""
    T = np.full((NA, NA), 0.5)
    T[spec.ACTOR_INDEX["PAK_MIL"], spec.ACTOR_INDEX["US"]] = 0.2
    aid = np.zeros(len(spec.AID_FLOWS))
    aid[spec.AID_CIV] = 20.0
    x = np.zeros(spec.N_STATE)
    x[spec.STATE_INDEX["public_hostility"]] = 0.7
    x[spec.STATE_INDEX["talks"]] = 0.5
    assert _fires(when, T, aid, x) is expected
