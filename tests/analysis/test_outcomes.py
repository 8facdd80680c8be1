"""Named scalar outcomes (model/analysis/outcomes.py): each kind against a hand computation from the
Results arrays, a scripted known answer, independence from batching, and located validation."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import QUIET, event, run, scenario

from model.analysis import outcomes as O
from model.analysis.history import decision_hits, scored_decisions
from model.core import spec
from model.engine.runner import run_block, simulate
from model.inputs.scenario import load_scenario
from model.io import yamlio

HISTORY = load_scenario("scenarios/history.yaml")
MONTHS = 60                      # 1998-01 .. 2002-12 (9/11, the 2001 aid, the drones)
START = HISTORY.start


@pytest.fixture(scope="module")
def res():
    return simulate(HISTORY, runs=6, seed=3, months=MONTHS)


def months_in(res, period):
    """Month indices m (0-based) whose 'YYYY-MM' lies in the period, by the dates list."""
    return [m for m in range(res.months)
            if period is None or period[0] <= res.dates[m] <= period[1]]


def hand(res, kind: str, **o) -> np.ndarray:
    """Each outcome by an independent loop over runs and months (month m -> step m + 1, or
    step m with ``at: start``)."""
    ms = months_in(res, o.get("period"))
    off = 0 if o.get("at") == "start" else 1
    flows = ([0, 1] if o.get("flow", "all") == "all"
             else [[f"{d}->{t}" for d, t in spec.AID_FLOWS].index(o["flow"])])
    out = np.zeros(res.runs)
    for r in range(res.runs):
        if kind in ("final_trust", "mean_trust", "min_trust"):
            a, _, b = o["pair"].partition("->")
            series = [float(res.trust[r, m + off, spec.ACTOR_INDEX[a], spec.ACTOR_INDEX[b]])
                      for m in ms]
            if kind == "final_trust":
                out[r] = float(res.trust[r, -1, spec.ACTOR_INDEX[a], spec.ACTOR_INDEX[b]])
            elif kind == "mean_trust":
                out[r] = sum(series) / len(series)
            else:
                out[r] = min(series)
        elif kind == "total_aid":
            out[r] = sum(float(res.aid[r, m + off, k]) for m in ms for k in flows)
        elif kind == "mean_aid":
            out[r] = sum(sum(float(res.aid[r, m + off, k]) for m in ms) / len(ms) for k in flows)
        elif kind in ("months_route_closed", "route_closed", "drones_off"):
            var = "drone_basing" if kind == "drones_off" else "supply_route_open"
            closed = [res.state[r, m + off, spec.STATE_INDEX[var]] < 0.5 for m in ms]
            out[r] = sum(closed) if kind == "months_route_closed" else any(closed)
        elif kind in ("action_count", "action_chosen", "action_share"):
            act = spec.ACTION_INDEX[o["action"]]
            actor = spec.ACTOR_INDEX[spec.ACTIONS[act].actor]
            chosen = [int(res.actions[r, m, actor]) == act for m in ms]
            out[r] = {"action_count": sum(chosen), "action_chosen": any(chosen),
                      "action_share": sum(chosen) / len(chosen)}[kind]
        elif kind == "final_state":
            out[r] = float(res.state[r, -1, spec.STATE_INDEX[o["var"]]])
        elif kind == "mean_state":
            vals = [float(res.state[r, m + off, spec.STATE_INDEX[o["var"]]]) for m in ms]
            out[r] = sum(vals) / len(vals)
        else:
            raise AssertionError(kind)
    return out


CASES = [
    ("final_trust", {"pair": "PAK_MIL->US"}),
    ("mean_trust", {"pair": "US->PAK_MIL"}),
    ("mean_trust", {"pair": "PAK_MIL->US", "period": ["2001-09", "2002-06"]}),
    ("min_trust", {"pair": "PAK_CIV->US", "period": ["1999-01", "2001-12"]}),
    ("total_aid", {"flow": "US->PAK_MIL"}),
    ("total_aid", {"flow": "all", "period": ["2001-10", "2002-12"]}),
    ("months_route_closed", {}),
    ("months_route_closed", {"period": ["2000-01", "2001-12"]}),
    ("action_count", {"action": "MIL_HEDGE"}),
    ("action_count", {"action": "US_MIL_AID", "period": ["2001-09", "2002-12"]}),
    ("final_state", {"var": "public_hostility"}),
    ("mean_state", {"var": "taliban_strength", "period": ["2001-01", "2002-12"]}),
    ("mean_state", {"var": "public_hostility", "period": ["1998-01", "1999-06"], "at": "start"}),
    ("mean_trust", {"pair": "PAK_MIL->US", "period": ["2001-09", "2002-06"], "at": "start"}),
    ("route_closed", {}),
    ("route_closed", {"period": ["2000-01", "2001-12"], "at": "start"}),
    ("drones_off", {"period": ["2001-06", "2002-12"]}),
    ("drones_off", {"period": ["1998-01", "2001-12"], "at": "start"}),
    ("action_chosen", {"action": "US_SUSPEND_AID", "period": ["1998-01", "2000-12"]}),
    ("action_share", {"action": "MIL_HEDGE"}),
    ("action_share", {"action": "MIL_COOPERATE", "period": ["2001-09", "2002-12"]}),
    ("mean_aid", {"flow": "US->PAK_MIL", "period": ["2001-10", "2002-12"]}),
    ("mean_aid", {"flow": "all", "period": ["2001-01", "2002-06"], "at": "start"}),
]


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=[f"{k}-{i}" for i, (k, _) in
                                                       enumerate(CASES)])
def test_kind_matches_hand_computation(res, kind, opts):
    o = O.make("x", kind, **opts)
    got = o.compute(res)
    assert got.dtype == np.float64
    assert got.shape == (res.runs,)
    np.testing.assert_allclose(got, hand(res, kind, **opts), rtol=1e-9, atol=1e-9)


def test_every_kind_is_covered():
    assert {k for k, _ in CASES} | {"decisions_reproduced"} == set(O.KINDS)


def test_decisions_reproduced_counts_hits(res):
    decs = scored_decisions(res.dates[0], res.months)
    assert decs, "the first 60 months of history hold documented decisions"
    hits, _ = decision_hits(res, decs, 3)
    got = O.make("d", "decisions_reproduced", window=3).compute(res)
    np.testing.assert_array_equal(got, hits.sum(axis=1))
    since = O.make("d", "decisions_reproduced", window=3,
                   period=["2001-01", "2002-12"]).compute(res)
    assert (since <= got).all()


def test_known_answer_scripted_closure():
    """The route closes in month 3 (2001-04) and reopens in month 7 (2001-08): closed at the end
    of April .. July = 4 months; 1 of them in Jan..Apr, 2 in May..Jun."""
    sc = scenario([event("close", 3, actor="PAK_MIL", target="US", cameo="191",
                         effects={"supply_route_open": {"set": 0}}),
                   event("open", 7, actor="PAK_MIL", target="US", cameo="08",
                         effects={"supply_route_open": {"set": 1}})], months=12)
    r = run(sc, runs=3, params=QUIET)
    outs = O.parse({"all": "months_route_closed",
                    "jan_apr": {"kind": "months_route_closed", "period": ["2001-01", "2001-04"]},
                    "may_jun": {"kind": "months_route_closed", "period": ["2001-05", "2001-06"]}},
                   start="2001-01", months=12)
    got = O.compute_all(outs, r)
    assert got["all"].tolist() == [4.0] * 3
    assert got["jan_apr"].tolist() == [1.0] * 3
    assert got["may_jun"].tolist() == [2.0] * 3


def test_values_do_not_depend_on_the_batch():
    outs = O.parse({"t": {"kind": "mean_trust", "pair": "PAK_MIL->US"},
                    "a": {"kind": "total_aid", "flow": "all"},
                    "d": "decisions_reproduced"}, start=START, months=MONTHS)
    whole = O.compute_all(outs, simulate(HISTORY, runs=7, seed=5, months=MONTHS,
                                         params="default"))
    for ids in ([0, 1, 2], [3], [4, 5, 6]):
        part = O.compute_all(outs, run_block(HISTORY, 5, ids, [{}] * len(ids), MONTHS))
        for name, v in part.items():
            np.testing.assert_array_equal(v, whole[name][ids], err_msg=name)


def test_yaml_dates_are_read_as_months():
    outs = O.parse(yamlio.loads("x: {kind: mean_trust, pair: US->PAK_MIL, "
                                "period: [2001-09-11, 2002-01-31]}\n").data)
    assert outs[0].options.period == ("2001-09", "2002-01")


BAD = [
    ("x: mean_trsut\n", "1:4", "unknown outcome kind 'mean_trsut' (did you mean 'mean_trust'?)"),
    ("x: {kind: final_trust}\n", "1:4", "needs the option 'pair'"),
    ("x: {kind: final_trust, pair: US->PAK_MIL, perod: 1}\n", "1:50",
     "unknown option 'perod' for outcome kind final_trust"),
    ("x: {kind: mean_trust, pair: PAK_MIL->USS}\n", "1:29", "did you mean 'US'?"),
    ("x: {kind: total_aid, flow: US->TALIBAN}\n", "1:28", "unknown aid flow 'US->TALIBAN'"),
    ("x: {kind: action_count, action: MIL_HEGDE}\n", "1:33", "did you mean 'MIL_HEDGE'?"),
    ("x: {kind: mean_state, var: hostility}\n", "1:28", "unknown state variable 'hostility'"),
    ("x:\n  kind: mean_trust\n  pair: US->PAK_MIL\n  period: [2030-01, 2030-12]\n", "4:11",
     "is not inside the run 1998-01 .. 2002-12"),
    ("x: {kind: mean_trust, pair: US->PAK_MIL, period: [2002-01, 2001-01]}\n", "1:50",
     "ends before it starts"),
    ("x: {kind: decisions_reproduced, window: -1}\n", "1:41", "greater than or equal to 0"),
    ("1x: months_route_closed\n", "1:5", "outcome names must be identifiers"),
    ("run_id: months_route_closed\n", "1:9", "the name 'run_id' is taken"),
    ("x: {pair: US->PAK_MIL}\n", "1:4", "missing 'kind'"),
]


@pytest.mark.parametrize(("text", "loc", "message"), BAD, ids=[m[:24] for _, _, m in BAD])
def test_bad_outcomes_are_located(text, loc, message):
    doc = yamlio.loads(text, "spec.yaml")
    with pytest.raises(O.OutcomeError) as err:
        O.parse(doc.data, doc, (), START, MONTHS, reserved={"run_id": "an id column"})
    assert f"spec.yaml:{loc}:" in str(err.value)
    assert message in str(err.value)


def test_all_problems_reported_at_once():
    doc = yamlio.loads("a: nope\nb: {kind: final_trust}\nc: months_route_closed\n", "s.yaml")
    with pytest.raises(O.OutcomeError) as err:
        O.parse(doc.data, doc, ())
    assert "s.yaml:1:4" in str(err.value)
    assert "s.yaml:2:4" in str(err.value)


def test_empty_or_wrong_type_is_refused():
    for data in ({}, [], "months_route_closed"):
        with pytest.raises(O.OutcomeError, match="expected a mapping of outcome names"):
            O.parse(data)


def test_every_kind_is_documented():
    from model.io.paths import ROOT

    doc = (ROOT / "docs" / "sweeps.md").read_text(encoding="utf-8")
    for name, kind in O.KINDS.items():
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, f"docs/sweeps.md lacks a table row for outcome kind {name}"
        for opt in kind.options.model_fields:
            assert f"`{opt}`" in row, f"docs/sweeps.md: {name} row does not mention {opt}"


def test_at_start_reads_the_dated_steps(res):
    """``at: start`` reads the states dated inside the period (as the charts show them), up to
    the run's last step; the yes/no kinds give 1.0/0.0 and say so."""
    o = O.make("x", "route_closed", period=[START, res.dates[-1]], at="start")
    assert o.binary
    np.testing.assert_array_equal(
        o.compute(res), (res.supply_route_open[:, :] < 0.5).any(axis=1).astype(float))
    assert "at" not in O.make("y", "months_route_closed").as_dict()
    assert O.make("z", "months_route_closed", at="start").as_dict()["at"] == "start"


def test_a_kind_added_to_the_registry_reaches_every_reader(monkeypatch, capsys):
    """Adding an outcome is one file: a kind registered (and listed in the standard sets) in
    model/analysis/outcomes.py shows in `run`'s summary, `compare`'s table, the dashboard's
    questions and comparison, and parses for sweeps and EMA, with no other change."""
    from model.analysis import compare as C
    from model.analysis import summary as S
    from model.cli.main import main

    monkeypatch.setattr(O, "KINDS", dict(O.KINDS))

    @O.register("taliban_strong", O._StatePeriod, "yes/no", "Taliban strength above 0.5 at "
                "some point.", binary=True, noun="Taliban strong at some point",
                claim="the Taliban are strong at some point")
    def _strong(r, o):
        strength = r.state[:, O._steps(r, o), spec.STATE_INDEX["taliban_strength"]]
        return (strength > 0.5).any(axis=1).astype(np.float64)

    monkeypatch.setattr(O, "RUN_SUMMARY", [*O.RUN_SUMMARY, ("Taliban strong", "taliban_strong",
                                                            1.0)])
    monkeypatch.setattr(O, "COMPARE_EXTRA", [("Taliban strong", "taliban_strong", 1.0)])
    monkeypatch.setattr(O, "QUESTIONS", [*O.QUESTIONS, "taliban_strong"])

    assert main(["run", "scenarios/history.yaml", "--runs", "3", "--months", "24"]) == 0
    assert "Taliban strong " in capsys.readouterr().out
    cmp = C.compare("scenarios/history.yaml", "scenarios/history.yaml", runs=2, months=24)
    assert "Taliban strong" in set(cmp.table["quantity"])
    r = simulate(HISTORY, runs=4, seed=0, months=24)
    qs = S.default_questions("1998-01", "1999-12", 1998, "PAK_MIL->US")
    assert qs[-1].label == "Taliban strong at some point, 1998-01 to 1999-12"
    table = S.compare_questions(r, r, qs)
    assert table.iloc[-1]["binary"]
    assert table.iloc[-1]["sentence"].startswith("The Taliban are strong at some point in ")
    assert O.parse({"strong": {"kind": "taliban_strong", "period": ["1998-01", "1998-12"]}},
                   start=START, months=24)[0].compute(r).shape == (4,)
    assert "taliban_strong" in O.kinds_help()
