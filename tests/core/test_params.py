"""Unit layer: the parameter table (``model/data/parameters.yaml`` via ``model.core.params``)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from model.core import params as P
from model.core import spec
from model.engine.runner import simulate
from model.inputs.scenario import Scenario
from model.io.paths import ROOT

SOURCES = ROOT / "model" / "data" / "sources"
SHARED_SEEDS = ROOT.parent / "shared" / "seeds"


def _seed_file(name: str) -> Path:
    return SOURCES / name if SOURCES.is_dir() else SHARED_SEEDS / name


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


SEEDED = [(n, p.source) for n, p in P.table().items() if isinstance(p.source, P.SeedSource)]


def test_table_loads_with_consistent_views():
    tab = P.table()
    assert len(tab) > 50
    assert P.names() == tuple(tab)
    assert P.dtype().names == P.names()
    assert set(P.defaults()) == set(tab)
    for name, p in tab.items():
        assert p.name == name
        assert p.unit.strip()
        assert p.help.strip()


@pytest.mark.parametrize("name", P.names())
def test_default_within_bounds(name):
    p = P.table()[name]
    assert math.isfinite(p.lo)
    assert math.isfinite(p.hi)
    assert p.lo < p.hi, f"{name}: empty range [{p.lo}, {p.hi}]"
    assert p.lo <= p.default <= p.hi
    assert P.check(name, p.default) == p.default
    assert P.check(name, p.lo) == p.lo
    assert P.check(name, p.hi) == p.hi


def test_every_action_but_hold_has_an_intercept():
    tab = P.table()
    expected = {f"bias_{a.name.lower()}" for a in spec.ACTIONS if not a.name.endswith("_HOLD")}
    missing = sorted(expected - set(tab))
    assert not missing, f"actions without a decision intercept: {missing}"
    # ... and no intercept for an action that does not exist (or for HOLD, the zero of the scale).
    stray = sorted(n for n in tab if n.startswith("bias_") and n not in expected)
    assert not stray, f"intercepts without an action: {stray}"


def test_some_parameters_are_seed_sourced():
    assert len(SEEDED) >= 10


@pytest.mark.parametrize(("name", "source"), SEEDED, ids=[n for n, _ in SEEDED])
def test_seed_quote_is_verbatim(name, source):
    path = _seed_file(source.seed)
    assert path.is_file(), f"{name}: source file {source.seed} not found at {path}"
    text = _collapse(path.read_text(encoding="utf-8"))
    quote = _collapse(source.quote)
    assert len(quote) >= 15, f"{name}: quote too short to ground anything: {quote!r}"
    assert quote in text, f"{name}: quote not found verbatim in {source.seed}: {quote!r}"


def test_unknown_name_rejected_with_suggestion():
    with pytest.raises(P.ParameterError, match=r"unknown parameter 'forgeting'") as exc:
        P.check("forgeting", 0.9)
    assert "did you mean 'forgetting'" in str(exc.value)
    with pytest.raises(P.ParameterError, match="unknown parameter"):
        P.resolve({"no_such_thing_at_all": 1.0})


@pytest.mark.parametrize("name", ["forgetting", "aid_ref", "bias_us_strike"])
def test_out_of_bounds_rejected_naming_value_and_bounds(name):
    p = P.table()[name]
    for bad in (p.hi + 1.0, p.lo - 1.0):
        with pytest.raises(P.ParameterError) as exc:
            P.check(name, bad)
        msg = str(exc.value)
        assert name in msg
        assert repr(bad) in msg or str(bad) in msg
        assert str(p.lo) in msg
        assert str(p.hi) in msg


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), np.nan, True, False,
                                 "0.9", None, [0.9], np.array([0.9])])
def test_non_numbers_and_non_finite_rejected(bad):
    with pytest.raises(P.ParameterError) as exc:
        P.check("forgetting", bad)
    assert "forgetting" in str(exc.value)


def test_numpy_numbers_accepted():
    assert P.check("forgetting", np.float32(0.9)) == pytest.approx(0.9)
    assert P.check("prior_strength", np.int64(6)) == 6.0
    assert P.check("prior_strength", 6) == 6.0


def test_simulate_refuses_out_of_bounds_parameter():
    sc = Scenario(name="t", months=3)
    with pytest.raises(P.ParameterError, match="forgetting"):
        simulate(sc, runs=1, params={"forgetting": 2})
    with pytest.raises(P.ParameterError, match="did you mean"):
        simulate(sc, runs=1, params={"forgeting": 0.9})
    with pytest.raises(P.ParameterError):
        simulate(sc, runs=2, params=[{"forgetting": 0.9}, {"forgetting": float("nan")}])


def test_scenario_params_checked_against_table():
    with pytest.raises(ValueError, match="forgetting"):
        Scenario(name="t", months=3, params={"forgetting": 1.5})


def test_resolve_overrides_defaults_only_where_asked():
    vals = P.resolve({"forgetting": 0.9})
    dflt = P.defaults()
    assert vals["forgetting"] == 0.9
    assert {k: v for k, v in vals.items() if k != "forgetting"} == {
        k: v for k, v in dflt.items() if k != "forgetting"}


def test_records_follow_table_order():
    rows = [P.defaults(), {**P.defaults(), "forgetting": 0.85}]
    rec = P.records(rows)
    assert rec.shape == (2,)
    assert rec.dtype.names == P.names()
    assert rec["forgetting"].tolist() == [P.defaults()["forgetting"], 0.85]


def test_check_column_validates_every_value_like_check():
    name, p = next(iter(P.table().items()))
    good = np.linspace(p.lo, p.hi, 7)
    np.testing.assert_array_equal(P.check_column(name, good), good)
    for bad in ([p.lo, p.hi + 1.0], [float("nan")], [True], ["x"]):
        with pytest.raises(P.ParameterError, match=name):
            P.check_column(name, bad, "params")
    with pytest.raises(P.ParameterError, match="unknown parameter"):
        P.check_column("no_such_parameter", good)
