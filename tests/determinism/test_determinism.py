"""Determinism layer: a run's numbers depend on the scenario, the parameters, the master seed and
the run's index only — not on the batch size, the chunking, the process count or the engine face
(the batched kernel or the Mesa model)."""

from __future__ import annotations

import mesa
import numpy as np
import pytest
from conftest import event, scenario

from model.adapters.mesa_model import DEFAULT_SCENARIO, AfPakModel
from model.core import spec
from model.engine.runner import iter_chunks, simulate
from model.inputs.scenario import from_mapping, load_scenario

ARRAYS = ("trust", "aid", "state", "actions")
BASELINE = load_scenario(DEFAULT_SCENARIO)
SCRIPTED = scenario([event("strike", 3, "US_STRIKE", 2), event("talks", 5, "MIL_MEDIATE"),
                     event("cut", 5, "US_SUSPEND_AID",
                           effects={"us_exit_pressure": {"set": 0.6}})],
                    36, state={"us_force": 40.0}, aid={"US->PAK_MIL": 60.0})
SCENARIOS = pytest.mark.parametrize("sc", [BASELINE, SCRIPTED], ids=["baseline", "scripted"])


def assert_same(a, b, runs=None) -> None:
    sel = slice(None) if runs is None else runs
    for name in ARRAYS:
        x, y = getattr(a, name)[sel], getattr(b, name)
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y), f"{name} differs"


@SCENARIOS
def test_two_calls_identical(sc):
    a = simulate(sc, runs=4, seed=42, months=36)
    b = simulate(sc, runs=4, seed=42, months=36)
    assert_same(a, b)


@SCENARIOS
def test_batch_size_does_not_matter(sc):
    small = simulate(sc, runs=3, seed=7, months=36)
    big = simulate(sc, runs=10, seed=7, months=36)
    assert_same(big, small, runs=slice(0, 3))
    # ... and the runs do differ among themselves (the check is not vacuous).
    assert not np.array_equal(big.actions[0], big.actions[1])


@SCENARIOS
@pytest.mark.parametrize("chunk", [1, 3, 4, 7])
def test_chunking_does_not_matter(sc, chunk):
    whole = simulate(sc, runs=10, seed=3, months=36)
    assert_same(simulate(sc, runs=10, seed=3, months=36, chunk=chunk), whole)
    parts = list(iter_chunks(sc, runs=10, seed=3, months=36, chunk=chunk))
    assert [len(p.run_ids) for p in parts] == [min(chunk, 10 - lo) for lo in range(0, 10, chunk)]
    ids = np.concatenate([p.run_ids for p in parts])
    assert ids.tolist() == list(range(10))
    for p in parts:
        assert_same(whole, p, runs=p.run_ids)


def test_processes_do_not_matter():
    one = simulate(SCRIPTED, runs=12, seed=5, chunk=4, workers=1)
    two = simulate(SCRIPTED, runs=12, seed=5, chunk=4, workers=2)
    assert_same(one, two)
    assert one.run_ids.tolist() == two.run_ids.tolist() == list(range(12))


def test_per_run_parameters_keep_runs_apart():
    # Run i's parameters are its own: runs 0..2 of a mixed batch equal single-parameter batches.
    rows = [{"forgetting": 0.85}, {"forgetting": 0.99}, {"forgetting": 0.85}]
    mixed = simulate(SCRIPTED, runs=3, seed=9, params=rows)
    lo = simulate(SCRIPTED, runs=3, seed=9, params={"forgetting": 0.85})
    hi = simulate(SCRIPTED, runs=3, seed=9, params={"forgetting": 0.99})
    for name in ARRAYS:
        m, a, b = getattr(mixed, name), getattr(lo, name), getattr(hi, name)
        assert np.array_equal(m[[0, 2]], a[[0, 2]])
        assert np.array_equal(m[1], b[1])


def test_seeds_differ_and_zero_is_a_seed():
    s0a = simulate(BASELINE, runs=2, seed=0, months=60)
    s0b = simulate(BASELINE, runs=2, seed=0, months=60)
    s1 = simulate(BASELINE, runs=2, seed=1, months=60)
    assert_same(s0a, s0b)  # seed 0 is not "no seed": it repeats
    assert not np.array_equal(s0a.actions, s1.actions)
    assert s0a.seed == 0


@pytest.mark.parametrize("seed", [-1, -(2**40)])
def test_negative_seed_refused(seed):
    with pytest.raises(ValueError, match="seed"):
        simulate(BASELINE, runs=1, seed=seed, months=3)


# --- the Mesa face ----------------------------------------------------------------------------

def _mesa_series(model: AfPakModel) -> tuple[np.ndarray, np.ndarray]:
    df = model.datacollector.get_model_vars_dataframe()
    na = spec.N_ACTORS
    trust = np.ones((len(df), na, na))
    for i, a in enumerate(spec.ACTORS):
        for j, b in enumerate(spec.ACTORS):
            if i != j:
                trust[:, i, j] = df[f"trust {a}->{b}"].to_numpy()
    aid = np.stack([df[f"aid {d}->{r}"].to_numpy() for d, r in spec.AID_FLOWS], axis=1)
    return trust, aid


@pytest.mark.parametrize(("seed", "months"), [(0, 24), (5, 36)])
def test_mesa_face_equals_run_zero(seed, months):
    model = AfPakModel(rng=seed, months=months)
    for _ in range(months):
        model.step()
    assert model.month == months
    assert not model.running
    # The Mesa face runs the parameter table's values (its constructor signature is the table).
    res = simulate(DEFAULT_SCENARIO, runs=1, seed=seed, months=months, params="default")
    trust, aid = _mesa_series(model)
    assert np.array_equal(trust.astype(np.float32), res.trust[0])
    assert np.array_equal(aid.astype(np.float32), res.aid[0])
    df = model.datacollector.get_model_vars_dataframe()
    for k, v in enumerate(spec.STATE_VARS):
        assert np.array_equal(df[v.name].to_numpy().astype(np.float32), res.state[0, :, k]), v.name
    agents = model.datacollector.get_agent_vars_dataframe().reset_index()
    agents = agents[agents["Step"] >= 1]
    names = np.array([a.name for a in spec.ACTIONS])
    for i, actor in enumerate(spec.ACTORS):
        got = agents[agents["actor"] == actor].sort_values("Step")["action"].to_numpy()
        assert got.tolist() == names[res.actions[0, :, i]].tolist(), actor


def test_mesa_face_with_parameters_and_scenario():
    model = AfPakModel(scenario=SCRIPTED, rng=3, forgetting=0.9, evidence_gain=2.0)
    for _ in range(SCRIPTED.months):
        model.step()
    res = simulate(SCRIPTED, runs=1, seed=3, params={"forgetting": 0.9, "evidence_gain": 2.0})
    trust, aid = _mesa_series(model)
    assert np.array_equal(trust.astype(np.float32), res.trust[0])
    assert np.array_equal(aid.astype(np.float32), res.aid[0])


#: A branch of the baseline that changes parameters and an intervention from 2002-07 (step 18).
BRANCH = from_mapping({"name": "branch", "extends": "baseline.yaml", "branch": "2002-07",
                       "params": {"forgetting": 0.9, "aid_compliance": 0.95},
                       "interventions": [{"from": "2002-07", "actor": "US",
                                          "forbid": ["US_SUSPEND_AID"]}]})


def _mesa_actions(model: AfPakModel) -> np.ndarray:
    agents = model.datacollector.get_agent_vars_dataframe().reset_index()
    agents = agents[agents["Step"] >= 1]
    index = {a.name: k for k, a in enumerate(spec.ACTIONS)}
    return np.stack([agents[agents["actor"] == actor].sort_values("Step")["action"]
                     .map(index).to_numpy() for actor in spec.ACTORS], axis=1)


@pytest.mark.parametrize("seed", [0, 4])
def test_mesa_face_follows_a_branch(seed):
    """The Mesa face runs a branch as the engine does: the parent, with the parent's parameters,
    until the branch month, then the branch with its own; keyword parameters apply throughout."""
    months, b = 36, 18
    model = AfPakModel(scenario=BRANCH, rng=seed, months=months, evidence_gain=2.0)
    for _ in range(months):
        model.step()
    res = simulate(BRANCH, runs=1, seed=seed, months=months, params={"evidence_gain": 2.0})
    trust, aid = _mesa_series(model)
    assert np.array_equal(trust.astype(np.float32), res.trust[0])
    assert np.array_equal(aid.astype(np.float32), res.aid[0])
    assert np.array_equal(_mesa_actions(model), res.actions[0])
    parent = simulate(BRANCH.parent, runs=1, seed=seed, months=months,
                      params={"evidence_gain": 2.0})
    assert np.array_equal(res.trust[0, :b + 1], parent.trust[0, :b + 1])
    assert np.array_equal(res.actions[0, :b], parent.actions[0, :b])
    assert not np.array_equal(res.trust[0, b + 1:], parent.trust[0, b + 1:])


def test_mesa_seed_zero_is_a_seed():
    def final(rng):
        m = AfPakModel(rng=rng, months=24)
        for _ in range(24):
            m.step()
        return _mesa_series(m)[0]

    assert np.array_equal(final(0), final(0))
    assert not np.array_equal(final(0), final(1))


def test_mesa_batch_run():
    rows = mesa.batch_run(AfPakModel, parameters={"months": 12, "forgetting": [0.9, 0.95]},
                          rng=[0, 1], max_steps=12, display_progress=False)
    finals = {}
    for row in rows:
        assert row["Step"] == 12
        finals[(row["rng"], row["forgetting"])] = row
    assert set(finals) == {(0, 0.9), (0, 0.95), (1, 0.9), (1, 0.95)}
    res = simulate(DEFAULT_SCENARIO, runs=1, seed=1, months=12, params={"forgetting": 0.9})
    row = finals[(1, 0.9)]
    for i, a in enumerate(spec.ACTORS):
        for j, b in enumerate(spec.ACTORS):
            if i != j:
                assert np.float32(row[f"trust {a}->{b}"]) == res.trust[0, -1, i, j], (a, b)
    other = simulate(DEFAULT_SCENARIO, runs=1, seed=1, months=12, params={"forgetting": 0.95})
    assert not np.array_equal(res.trust[0, -1], other.trust[0, -1])


def test_mesa_refuses_bad_parameters():
    from model.core.params import ParameterError

    with pytest.raises(ParameterError, match="forgetting"):
        AfPakModel(rng=0, months=3, forgetting=2.0)
