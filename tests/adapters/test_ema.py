"""The EMA Workbench adapter (model/adapters/ema.py): uncertainties from the parameter table,
outcomes
from the outcome registry, and experiments that reproduce the engine's numbers."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

from model.adapters.ema import ExperimentFunction, make_model, uncertainty_bounds
from model.analysis import outcomes as O
from model.core import params as P
from model.engine.runner import run_block
from model.inputs.scenario import load_scenario

with warnings.catch_warnings():          # "ipyparallel not installed" is not our business
    warnings.simplefilter("ignore")
    from ema_workbench import (
        RealParameter,
        ScalarOutcome,
        SequentialEvaluator,
        perform_experiments,
    )

BASELINE = load_scenario("scenarios/baseline.yaml")
OUTCOMES = {
    "final_trust_mil_us": {"kind": "final_trust", "pair": "PAK_MIL->US"},
    "aid": {"kind": "total_aid", "flow": "all"},
    "closed": "months_route_closed",
}


def test_uncertainties_are_the_parameter_table():
    m = make_model(BASELINE, months=12)
    table = P.table()
    unc = {u.name: u for u in m.uncertainties}
    assert set(unc) == {n for n, p in table.items() if p.lo < p.hi}
    for name, u in unc.items():
        assert isinstance(u, RealParameter)
        assert (u.lower_bound, u.upper_bound) == (table[name].lo, table[name].hi)
    assert [o.name for o in m.outcomes] == list(O.DEFAULT)
    assert all(isinstance(o, ScalarOutcome) for o in m.outcomes)


def test_subset_and_narrower_bounds():
    m = make_model(BASELINE, parameters={"retaliation_gain": (2.0, 4.0), "forgetting": None},
                   months=12)
    assert [(u.name, u.lower_bound, u.upper_bound) for u in m.uncertainties] == [
        ("retaliation_gain", 2.0, 4.0), ("forgetting", 0.8, 1.0)]


@pytest.mark.parametrize(("parameters", "message"), [
    (["retaliation_gian"], "did you mean 'retaliation_gain'"),
    ({"aid_compliance": (-1.0, 3.0)}, "[-1.0, 3.0] must be increasing and lie inside the "
                                      "parameter table's bounds [0.0, 5.0]"),
    ({"aid_compliance": (3.0, 1.0)}, "must be increasing"),
])
def test_bad_parameters(parameters, message):
    with pytest.raises(P.ParameterError) as err:
        uncertainty_bounds(parameters)
    assert message in str(err.value)


def test_bad_outcome_and_overlap():
    with pytest.raises(O.OutcomeError, match="did you mean 'final_trust'"):
        make_model(BASELINE, months=12, outcomes={"x": {"kind": "final_trsut"}})
    with pytest.raises(Exception, match="both fixed and uncertain: forgetting"):
        make_model(BASELINE, parameters=["forgetting"], fixed={"forgetting": 0.9}, months=12)


def test_perform_experiments_reproduces_the_engine():
    names = ["retaliation_gain", "aid_compliance", "sovereignty_weight", "choice_temperature"]
    m = make_model(BASELINE, parameters=names, outcomes=OUTCOMES, seed=4, months=36,
                   replicates=3, fixed={"forgetting": 0.9})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        experiments, outcomes = perform_experiments(m, 8, evaluator=SequentialEvaluator(m))
    assert len(experiments) == 8
    assert set(names) <= set(experiments.columns)
    assert set(outcomes) == set(OUTCOMES)
    for v in outcomes.values():
        assert v.shape == (8,)
        assert np.isfinite(v).all()
    # the 8 experiments span the ranges (LHS), so the outcomes differ between them
    assert len(set(outcomes["final_trust_mil_us"])) > 1
    for i in (0, 5):
        prm = {n: float(experiments.loc[i, n]) for n in names} | {"forgetting": 0.9}
        res = run_block(BASELINE, 4, [0, 1, 2], [prm] * 3, 36)
        trust = res.trust_series("PAK_MIL", "US")[:, -1].astype(np.float64).mean()
        assert outcomes["final_trust_mil_us"][i] == pytest.approx(trust, rel=1e-12)
        closed = (res.state[:, 1:, 2] < 0.5).sum(axis=1).mean()
        assert outcomes["closed"][i] == closed


def test_function_is_picklable_for_multiprocessing():
    fn = ExperimentFunction(BASELINE, O.parse(OUTCOMES), 1, 12, 2, {})
    again = pickle.loads(pickle.dumps(fn))
    assert again(retaliation_gain=3.0) == fn(retaliation_gain=3.0)
