"""Robustness of what-if answers across posterior parameter sets (model/analysis/robustness.py),
`compare`'s labels, and the timing headline of `history-check` on the command line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import scenario

from model.analysis import compare as C
from model.analysis import robustness as R
from model.analysis import summary as S
from model.cli.main import main
from model.core import params as P
from model.engine.paramsets import draw_index, load_posterior

NAME = "forgetting"   # any free parameter will do: the tests read its per-run value back


def _design(k: int, runs: int) -> R.Design:
    return R.Design(sets=tuple({NAME: float(i)} for i in range(k)), index=tuple(range(k)),
                    runs=runs, source="test")


def _posterior(path, values, weights=None):
    """A posterior CSV with one free parameter (``NAME``) taking ``values``."""
    w = np.ones(len(values)) if weights is None else weights
    pd.DataFrame({NAME: values, "distance": np.arange(len(values), dtype=float),
                  "weight": w}).to_csv(path, index=False)
    return path


# ------------------------------------------------------------------------- the measure itself
def test_a_difference_positive_in_every_set_is_robust():
    d = _design(10, 100)
    rng = np.random.default_rng(0)
    a = rng.normal(size=100)
    rob = R.measure(a, a + 0.1 + rng.uniform(0, 0.5, size=100), d)
    assert rob.share == 1.0
    assert rob.label == R.ROBUST == "robust"
    assert rob.difference > 0
    assert (rob.per_set > 0).all()
    assert rob.text() == "robust: same sign in 100% of 10 parameter sets"


def test_half_the_sets_disagreeing_depends_on_the_calibration():
    """Sets 0-4 see B above A by 3, sets 5-9 see it below by 1: overall B is higher (+1), but
    only half the sets agree."""
    d = _design(10, 100)
    a = np.zeros(100)
    b = np.where(d.set_of_run < 5, 3.0, -1.0)
    rob = R.measure(a, b, d)
    assert rob.difference == pytest.approx(1.0)
    assert rob.share == 0.5
    assert rob.label == R.DEPENDS == "depends on the calibration"
    np.testing.assert_allclose(rob.per_set, [3] * 5 + [-1] * 5)


@pytest.mark.parametrize(("agree", "expected"), [(9, R.ROBUST), (8, R.DEPENDS)])
def test_the_threshold_is_the_named_constant(agree, expected):
    assert R.ROBUST_SHARE == 0.9
    d = _design(10, 20)
    b = np.where(d.set_of_run < agree, 1.0, -0.5)
    assert R.measure(np.zeros(20), b, d).label == expected


def test_a_set_without_a_difference_does_not_count_as_agreeing():
    d = _design(4, 8)
    b = np.where(d.set_of_run == 0, 0.0, 1.0)
    rob = R.measure(np.zeros(8), b, d)
    assert rob.share == 0.75
    same = R.measure(np.ones(8), np.ones(8), d)
    assert same.text() == "no difference in any of 4 parameter sets"


def test_missing_values_and_wrong_lengths():
    d = _design(2, 4)
    assert R.measure(np.zeros(4), np.array([1, np.nan, 1, 1]), d) is None
    with pytest.raises(ValueError, match="expected 4 values"):
        R.measure(np.zeros(3), np.zeros(3), d)


# ------------------------------------------------------------------------------- the design
def test_design_draws_sets_by_the_engines_rule_round_robin():
    d = R.design(runs=50, seed=7, sets=20)
    post = load_posterior()
    assert d.k == 20
    assert d.runs == 50
    np.testing.assert_array_equal(d.index, draw_index(7, range(20), post.weights))
    assert d.sets[3] == post.sets()[d.index[3]]
    np.testing.assert_array_equal(d.set_of_run, np.arange(50) % 20)
    assert "20 parameter sets from the calibrated posterior, 2-3 runs each" in d.describe()
    assert R.design(runs=5, seed=0, sets=20).k == 5          # at most one set per run
    assert R.design(runs=10, params="default") is None      # one parameter set
    assert R.design(runs=10, params={NAME: 0.5}) is None


def test_paired_runs_share_seeds_and_sets_and_a_scenarios_own_value_wins(tmp_path):
    """A takes the parameter from the sets; B sets it itself (its value wins in every run). The
    per-run parameter value is the outcome: B − A = mid − set value, positive in the sets below
    mid and negative above, so a posterior split around mid makes the answer depend on the
    calibration, and one entirely below makes it robust."""
    p = P.table()[NAME]
    mid = (p.lo + p.hi) / 2
    low, high = mid - (mid - p.lo) / 2, mid + (p.hi - mid) / 4
    a, b = scenario(months=3), scenario(months=3, params={NAME: mid})

    def answer(values):
        path = _posterior(tmp_path / f"post{len(values)}.csv", values)
        ra, rb, d = R.simulate_pair(a, b, runs=40, seed=1, params=str(path), sets=len(values))
        assert d.k == len(values)
        np.testing.assert_array_equal(ra.run_ids, rb.run_ids)
        np.testing.assert_allclose(rb.params[NAME], mid)
        np.testing.assert_allclose(ra.params[NAME], [d.sets[k][NAME] for k in d.set_of_run])
        rob = R.measure(ra.params[NAME], rb.params[NAME], d)
        drawn = np.array([s[NAME] for s in d.sets])
        np.testing.assert_allclose(rob.per_set, mid - drawn)
        assert rob.share == np.mean(np.sign(mid - drawn) == np.sign(rob.difference))
        return rob, drawn

    split, drawn = answer([low, high, low, high])   # drawn by weight, with replacement
    assert 0 < (drawn > mid).sum() < len(drawn), "the draw holds sets on both sides of mid"
    assert split.share < 1
    assert split.label == R.DEPENDS
    below, _ = answer([low, low + 0.01 * (mid - low), p.lo])
    assert below.difference > 0
    assert below.share == 1.0
    assert below.label == R.ROBUST


# ----------------------------------------------------------------------------- compare's labels
@pytest.fixture(scope="module")
def no_salala():
    return C.compare("scenarios/history.yaml", "scenarios/whatif_no_salala.yaml", runs=40,
                     seed=0, sets=10)


def test_compare_labels_every_headline_and_row(no_salala):
    cmp = no_salala
    assert cmp.design is not None
    assert cmp.design.k == 10
    text = cmp.text()
    assert "10 parameter sets from the calibrated posterior, 4 runs each" in text
    assert "intervals are over runs drawn across the sets" in text
    assert "has the same sign in >= 90% of the parameter sets" in text
    drones = next(s for s in cmp.summary if "MIL_EVICT_DRONES" in s)
    assert drones.endswith("parameter sets]")
    assert "[robust: same sign in" in drones or "[depends on the calibration" in drones
    t = cmp.table
    assert {"difference", "set_min", "set_max", "same_sign", "robustness"} <= set(t.columns)
    assert set(t["robustness"]) <= {R.ROBUST, R.DEPENDS}
    assert ((t["same_sign"] >= 0) & (t["same_sign"] <= 1)).all()
    assert (t["set_min"] <= t["set_max"] + 1e-12).all()


def test_compare_labels_agree_with_the_per_set_measure(no_salala):
    """The drone eviction row, recomputed from the runs by hand."""
    cmp = no_salala
    act = "MIL_EVICT_DRONES"
    row = cmp.table.set_index("quantity").loc[f"share of runs with {act}"]
    va, vb = (r.action_count(act).any(axis=1).astype(float) for r in (cmp.a, cmp.b))
    per_set = pd.Series(vb - va).groupby(cmp.design.set_of_run).mean().to_numpy()
    share = np.mean(np.sign(per_set) == np.sign((vb - va).mean()))
    assert row["same_sign"] == pytest.approx(share)
    assert row["robustness"] == R.label(share)
    assert row["set_min"] == pytest.approx(per_set.min())


def test_compare_with_one_parameter_set_says_not_measured():
    cmp = C.compare("scenarios/history.yaml", "scenarios/history.yaml", runs=2, months=12,
                    params="default")
    assert cmp.design is None
    assert "robustness across parameter sets not measured" in cmp.text()
    assert set(cmp.table["robustness"]) == {R.NOT_MEASURED}


def test_compare_questions_append_the_label(no_salala):
    cmp = no_salala
    qs = S.default_questions("2011-01", "2012-12", 2011, "PAK_MIL->US")
    table = S.compare_questions(cmp.a, cmp.b, qs, design=cmp.design)
    assert table["sentence"].str.contains(r"\[(?:robust|depends on the calibration|no diff)").all()
    assert table["same_sign"].between(0, 1).all()
    plain = S.compare_questions(cmp.a, cmp.b, qs)
    assert set(plain["robustness"]) == {R.NOT_MEASURED}
    assert not plain["sentence"].str.contains("parameter sets").any()


# --------------------------------------------------------------------------- the command line
def test_compare_cli_prints_labels_and_a_bad_posterior_exits_2(tmp_path, capsys):
    assert main(["compare", "scenarios/history.yaml", "scenarios/whatif_no_salala.yaml",
                 "--runs", "8", "--sets", "4"]) == 0
    out = capsys.readouterr().out
    assert "4 parameter sets from the calibrated posterior, 2 runs each" in out
    assert "parameter sets]" in out
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"not_a_parameter": [1.0], "distance": [0.0], "weight": [1.0]}).to_csv(
        bad, index=False)
    folder = tmp_path / "out"
    assert main(["compare", "scenarios/history.yaml", "scenarios/whatif_no_salala.yaml",
                 "--runs", "4", "--params", str(bad), "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter column 'not_a_parameter'" in err
    assert not folder.exists()


def test_history_check_prints_the_timing_headline(capsys):
    assert main(["history-check", "--runs", "10", "--after", "2011-12"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(line.startswith("timed=") and "/10  (decisions: after 2011-12" in line
               for line in lines)
    assert "skill vs frequency null:" in out
    assert "skill vs shock-response null:" in out
    assert "supply_route_closure_2011" not in out              # documented 2011-11
    assert "documented turn" in out
    assert "new_low_2011" in out
    timed = next(i for i, line in enumerate(lines) if line.startswith("timed="))
    old = next(i for i, line in enumerate(lines) if line.startswith("reproduced="))
    assert timed < old                       # the headline first, the +-6 count secondary
    assert lines[old].split("=")[1].endswith("/10")


@pytest.mark.parametrize(("args", "message"), [
    (["--until", "2011-13"], "--until 2011-13: cut date"),
    (["--after", "2022-12"], "no documented decision after 2022-12"),
    (["--until", "1990"], "no documented decision up to 1990-12"),
    (["--after", "soon"], "--after soon: cut date"),
])
def test_history_check_bad_cuts_exit_2_before_running(args, message, capsys, monkeypatch):
    from model.engine import runner

    def no_run(*a, **k):
        raise AssertionError("ran the model before checking the cut")

    monkeypatch.setattr(runner, "simulate", no_run)
    assert main(["history-check", "--runs", "2", *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""
