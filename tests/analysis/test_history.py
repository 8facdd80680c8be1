"""Scoring a replay: the base rate that tells timed decisions from merely frequent ones."""

from __future__ import annotations

import pytest

from model import simulate
from model.analysis.history import WINDOW, base_rate
from model.inputs.scenario import from_mapping


def _scenario(interventions):
    return from_mapping({"name": "t", "start": "2001-01", "months": 60,
                         "interventions": interventions})


def test_base_rate_of_an_action_taken_every_month_is_one():
    sc = _scenario([{"from": "2001-01", "force": "MIL_HEDGE"}])
    res = simulate(sc, runs=5, seed=0)
    assert base_rate(res, "MIL_HEDGE") == 1.0


def test_base_rate_of_a_forbidden_action_is_zero():
    sc = _scenario([{"from": "2001-01", "actor": "US", "forbid": ["US_STRIKE"]}])
    res = simulate(sc, runs=5, seed=0)
    assert base_rate(res, "US_STRIKE") == 0.0


def test_base_rate_of_a_single_act_is_its_window_share():
    sc = _scenario([
        {"from": "2001-01", "actor": "PAK_MIL", "forbid": ["MIL_CLOSE_ROUTE"]},
        {"from": "2003-07", "to": "2003-07", "force": "MIL_CLOSE_ROUTE"},
    ])
    res = simulate(sc, runs=4, seed=0)
    # One act at month 30 of 60: it is within +-WINDOW of 2*WINDOW+1 of the 60-2*WINDOW centres.
    assert base_rate(res, "MIL_CLOSE_ROUTE") == pytest.approx(
        (2 * WINDOW + 1) / (60 - 2 * WINDOW))
