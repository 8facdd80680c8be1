"""Branch what-ifs honour their month (docs/scenarios.md, ``branch``).

A scenario with ``branch: YYYY-MM`` runs its parent, with the parent's parameters, until the
branch month and itself from then on: before the branch every run equals the parent's run of the
same seed (same run ids, same random streams, same per-run parameter draws), and the branch's
parameters, edits, events and interventions act from the branch month on. What could only act
before it is refused when the scenario is loaded (the hostile corpus in test_scenarios.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from model.engine.runner import run_block, simulate
from model.inputs.compiled import compile_scenario
from model.inputs.scenario import ScenarioError, from_mapping, load_scenario
from model.io.paths import SCENARIOS

SERIES = ("trust", "aid", "state")
BRANCHES = sorted(p for p in SCENARIOS.glob("*.yaml") if load_scenario(p).branch is not None)
RUNS, SEED = 4, 11


def _branch_step(sc) -> int:
    return compile_scenario(sc).branch


def _first_difference(a, b) -> int | None:
    """The first step at which any series of any run differs (None: none does)."""
    steps = [np.flatnonzero((getattr(a, k) != getattr(b, k)).reshape(
        a.runs, a.months + 1, -1).any(axis=(0, 2))) for k in SERIES]
    acts = np.flatnonzero((a.actions != b.actions).any(axis=(0, 2))) + 1
    found = np.concatenate([*steps, acts])
    return int(found.min()) if found.size else None


def assert_same_until(a, b, step: int) -> None:
    """Steps 0..step (and the months before ``step``) are identical in every run."""
    assert a.run_ids.tolist() == b.run_ids.tolist()
    assert a.dates == b.dates
    for k in SERIES:
        assert np.array_equal(getattr(a, k)[:, :step + 1], getattr(b, k)[:, :step + 1]), k
    assert np.array_equal(a.actions[:, :step], b.actions[:, :step]), "actions"


def test_the_shipped_library_has_branches():
    names = {p.stem for p in BRANCHES}
    assert {"whatif_no_2018_suspension", "whatif_civ_package_doubled"} <= names
    assert len(BRANCHES) >= 8


@pytest.mark.parametrize("params", [None, "default"], ids=["posterior", "table"])
@pytest.mark.parametrize("path", BRANCHES, ids=lambda p: p.stem)
def test_branch_equals_its_parent_before_the_branch_month(path, params):
    sc = load_scenario(path)
    b = _branch_step(sc)
    assert 0 < b < sc.months
    mine = simulate(sc, runs=RUNS, seed=SEED, params=params)
    theirs = simulate(sc.parent, runs=RUNS, seed=SEED, params=params)
    assert_same_until(mine, theirs, b)
    first = _first_difference(mine, theirs)
    assert first is None or first > b


def test_some_branch_differs_after_its_month():
    """Not vacuous: the what-ifs do change their runs, and only after their month."""
    firsts = {}
    for path in BRANCHES:
        sc = load_scenario(path)
        firsts[path.stem] = (_branch_step(sc), _first_difference(
            simulate(sc, runs=RUNS, seed=SEED), simulate(sc.parent, runs=RUNS, seed=SEED)))
    differing = {k: v for k, v in firsts.items() if v[1] is not None}
    assert len(differing) >= len(firsts) // 2, firsts
    assert all(first > b for b, first in differing.values()), differing


def _with(base: str, **keys) -> dict:
    """A what-if mapping that extends the shipped ``base`` scenario file with ``keys``."""
    data = yaml.safe_load((SCENARIOS / base).read_text(encoding="utf-8"))
    return {**data, **keys}


NO_SUSPENSION = "whatif_no_2018_suspension.yaml"


@pytest.mark.parametrize("params", [None, "default"], ids=["posterior", "table"])
def test_a_parameter_changed_in_a_branch_acts_from_the_branch_month(params):
    """The issue's case: aid_compliance changed in the 2017-01 branch of the no-suspension
    what-if. Its runs equal the plain what-if's and the history's up to 2017-01 (the
    posterior's draw of aid_compliance is used there, not the branch's value), and differ
    after."""
    plain = load_scenario(SCENARIOS / NO_SUSPENSION)
    changed = from_mapping(_with(NO_SUSPENSION, params={"aid_compliance": 0.95}))
    b = _branch_step(changed)
    assert changed.first_month_of_change == "2017-01"
    a = simulate(changed, runs=RUNS, seed=SEED, params=params)
    for other in (plain, plain.parent):
        o = simulate(other, runs=RUNS, seed=SEED, params=params)
        assert_same_until(a, o, b)
        first = _first_difference(a, o)
        assert first is not None
        assert first > b
    assert np.all(a.params["aid_compliance"] == 0.95)  # the branch's own value, after it


def test_the_branch_value_wins_over_the_posterior_only_after_the_branch():
    """Explicit overrides win in every phase: with aid_compliance overridden, a branch that only
    changes aid_compliance equals its parent everywhere."""
    only_param = from_mapping({"name": "only a parameter", "extends": "history.yaml",
                               "branch": "2010-01", "params": {"aid_compliance": 0.95}})
    over = {"aid_compliance": 0.3}
    a = simulate(only_param, runs=RUNS, seed=SEED, overrides=over)
    h = simulate("scenarios/history.yaml", runs=RUNS, seed=SEED, overrides=over)
    assert _first_difference(a, h) is None
    free = simulate(only_param, runs=RUNS, seed=SEED)
    assert _first_difference(free, h) is not None


def test_a_window_that_ends_before_the_branch_runs_the_parent():
    """``months`` shorter than the branch: every month is the parent's, its parameters too."""
    sc = load_scenario(SCENARIOS / "whatif_civ_package_doubled.yaml")
    b = _branch_step(sc)
    for months in (b - 12, b):
        a = simulate(sc, runs=RUNS, seed=SEED, months=months)
        h = simulate(sc.parent, runs=RUNS, seed=SEED, months=months)
        assert _first_difference(a, h) is None
        assert np.array_equal(a.params, h.params)


def test_a_branch_of_a_branch():
    """A branch of a what-if equals the what-if before its own month and the history before
    the what-if's."""
    sc = from_mapping({"name": "later", "extends": NO_SUSPENSION, "branch": "2019-01",
                       "params": {"aid_compliance": 0.95}})
    whatif = sc.parent
    b1, b2 = _branch_step(whatif), _branch_step(sc)
    assert [(m0, m1) for _, m0, m1 in compile_scenario(sc).phases()] == [
        (0, b1), (b1, b2), (b2, sc.months)]
    a = simulate(sc, runs=RUNS, seed=SEED)
    assert_same_until(a, simulate(whatif, runs=RUNS, seed=SEED), b2)
    assert_same_until(a, simulate(whatif.parent, runs=RUNS, seed=SEED), b1)
    assert _first_difference(a, simulate(whatif, runs=RUNS, seed=SEED)) > b2
    with pytest.raises(ScenarioError, match="branch month 2016-01 is before 2017-01"):
        from_mapping({"name": "earlier", "extends": NO_SUSPENSION, "branch": "2016-01"})


def test_run_block_and_workers_give_the_same_branch_runs():
    sc = from_mapping(_with(NO_SUSPENSION, params={"aid_compliance": 0.95}))
    whole = simulate(sc, runs=6, seed=SEED, chunk=2, workers=2)
    one = simulate(sc, runs=6, seed=SEED)
    assert _first_difference(whole, one) is None
    rows = [{"forgetting": 0.9}] * 3
    block = run_block(sc, SEED, [3, 4, 5], rows)
    ref = simulate(sc, runs=6, seed=SEED, params={"forgetting": 0.9})
    for k in (*SERIES, "actions"):
        assert np.array_equal(getattr(block, k), getattr(ref, k)[3:]), k


def test_traced_branch_ledger_covers_both_phases():
    sc = from_mapping(_with(NO_SUSPENSION, params={"aid_compliance": 0.95}))
    res = simulate(sc, runs=2, seed=SEED, trace=True)
    b = _branch_step(sc)
    assert res.event_ledger.shape[1] == len(res.event_ids) == len(res.event_months)
    assert any(m < b for m in res.event_months)
    assert any(m >= b for m in res.event_months)


@pytest.mark.parametrize(("keys", "phrase"), [
    ({"catalog": {"exclude": ["salala_strike_2011"]}}, "would have no effect"),
    ({"edits": [{"remove": "salala_strike_2011"}]}, "'remove' would have no effect"),
    ({"initial": {"state": {"us_force": 10}}}, "hold it with an intervention from 2017-01"),
    ({"triggers": [{"id": "t", "when": "proxy_support < 0.5", "to": "2016-12",
                    "then": {"action": "US_CIV_AID"}}]}, "ends 2016-12"),
])
def test_changes_that_could_only_act_before_the_branch_are_refused(keys, phrase):
    with pytest.raises(ScenarioError, match=r"(branch month|only in) 2017-01") as info:
        from_mapping(_with(NO_SUSPENSION, **keys))
    assert phrase in str(info.value)


def test_changes_from_the_branch_month_on_are_accepted_and_act():
    """Unticking a shock after the branch month is accepted and changes the runs from there; a
    trigger without ``from`` watches from the branch month."""
    base = {"name": "b", "extends": "history.yaml", "branch": "2011-06"}
    sc = from_mapping({**base, "catalog": {"exclude": ["salala_strike_2011"]},
                       "triggers": [{"id": "t", "when": "proxy_support < 0.01",
                                     "then": {"action": "US_CIV_AID"}}]})
    b = _branch_step(sc)
    a, h = simulate(sc, runs=RUNS, seed=SEED), simulate(sc.parent, runs=RUNS, seed=SEED)
    assert_same_until(a, h, b)
    assert _first_difference(a, h) is not None
    assert from_mapping(base).first_month_of_change == "2011-06"
    assert load_scenario(SCENARIOS / "history.yaml").first_month_of_change == "1998-01"


def test_a_parents_spent_once_trigger_stays_spent_after_the_branch(tmp_path):
    """A ``once`` trigger of the parent that fired before the branch month does not fire
    again after it: a branch that changes nothing equals its parent in every month, in the
    batched engine and in the Mesa face."""
    from model.adapters.mesa_model import AfPakModel

    parent = tmp_path / "parent.yaml"
    parent.write_text(yaml.safe_dump({
        "name": "parent", "extends": str(SCENARIOS / "history.yaml"),
        "triggers": [{"id": "early_package", "when": "public_hostility >= 0", "from": "2002-01",
                      "then": {"action": "US_CIV_AID"}, "once": True}]}))
    branch = tmp_path / "branch.yaml"
    branch.write_text(yaml.safe_dump({"name": "branch", "extends": "parent.yaml",
                                      "branch": "2009-01"}))
    a, b = load_scenario(parent), load_scenario(branch)
    ra, rb = simulate(a, runs=RUNS, seed=SEED), simulate(b, runs=RUNS, seed=SEED)
    assert _first_difference(ra, rb) is None
    fired = ra.aid[:, 1:, 1] > ra.aid[:, :-1, 1]                # the early package was paid
    assert fired[:, :_branch_step(b)].any()
    ma, mb = (AfPakModel(s, run=0, rng=SEED) for s in (a, b))
    for _ in range(_branch_step(b) + 24):
        ma.step()
        mb.step()
    assert np.array_equal(ma.st.aid, mb.st.aid)
    assert np.array_equal(ma.st.x, mb.st.x)
