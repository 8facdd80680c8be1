"""Calibration layer: the parsimony tools — Morris/Sobol screening on the calibration targets
(``model.calibration.screening``) and the mechanism ablation (``model.calibration.ablation``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_calibrate import count_targets

from model.calibration import ablation as AB
from model.calibration import screening as SC
from model.calibration.problem import SCREENING_FIX, Problem, prior_box
from model.cli.main import main as cli_main
from model.core import params as P
from model.engine.runner import simulate
from model.inputs.scenario import from_mapping

START, MONTHS = "2001-01", 48
#: Three intercepts, each driving its own count target, and one parameter whose term is
#: switched off by the others' values here (reprisal_gain: no route is ever closed while
#: bias_mil_close_route sits at its floor): the screening must rank the first three on top and
#: call the fourth non-influential.
COUNTS = {"bias_us_pressure": "US_PRESSURE", "bias_civ_align": "CIV_ALIGN",
          "bias_ind_engage_afg": "IND_ENGAGE_AFG"}
INERT = "reprisal_gain"
SMALL = {"trajectories": 12, "sobol": 32, "replicates": 4, "resamples": 100, "chunk": 64}


def small_problem() -> Problem:
    floor = {"bias_mil_close_route": P.table()["bias_mil_close_route"].lo}
    sc = from_mapping({"name": "screening test", "start": START, "months": MONTHS,
                       "params": floor})
    res = simulate(sc, runs=200, seed=7, params="default")
    ts = count_targets(res, COUNTS.values(), START, MONTHS)
    names = (*COUNTS, INERT)
    lo, hi = prior_box(names)
    return Problem(scenario=sc, months=MONTHS, targets=ts, names=names, lo=lo, hi=hi)


@pytest.fixture(scope="module")
def problem() -> Problem:
    return small_problem()


@pytest.fixture(scope="module")
def result(problem, tmp_path_factory):
    out = tmp_path_factory.mktemp("screen")
    return out, SC.screen(out, SC.ScreenSettings(**SMALL), progress=False, problem=problem)


def test_screening_ranks_the_drivers_and_drops_the_inert(result):
    _out, res = result
    t = res.table.set_index("parameter")
    assert t.loc[INERT, "verdict"] == "non-influential"
    for name, action in COUNTS.items():
        assert t.loc[name, "verdict"] == "influential"
        assert t.loc[name, "top_output"] == f"count:{action}"       # its own target
    assert t.loc[INERT, "norm_max"] < SC.ScreenSettings().threshold
    assert {"influential_targets", "influential_aggregate", "influential_noise",
            "ST_upper_aggregate"} <= set(t.columns)
    # fixed parameters that the problem does not screen are listed, not screened
    assert set(t.index[t["verdict"] == "fixed in the table"]) == set(P.fixed()) - set(
        t.index[t["verdict"] != "fixed in the table"])
    assert t.index.is_unique


def test_sobol_runs_on_the_survivors_only(result, problem):
    _out, res = result
    assert set(res.sobol["parameter"]) == set(COUNTS)
    st = res.sobol[res.sobol["output"].str.startswith("count:")]
    best = st.loc[st.groupby("output")["ST"].idxmax()]
    assert dict(zip(best["output"], best["parameter"], strict=True)) == {
        f"count:{a}": n for n, a in COUNTS.items()}
    for col in ("S1_conf", "ST_conf"):
        assert (st[col] >= 0).all()


def test_outputs_are_the_targets_the_families_and_the_distance(problem):
    names = SC.output_names(problem.targets)
    assert names == [*problem.targets.ids, "family:count", "distance"]
    mean = np.array([[t.z for t in problem.targets.targets]])
    y = SC.outputs(mean, problem.targets)
    np.testing.assert_allclose(y[0, -2:], 0.0)                # on target: no discrepancy
    np.testing.assert_allclose(y[0, :3], problem.targets.z / problem.targets.scale)


def test_the_rule_needs_every_output_below_the_threshold():
    m = pd.DataFrame({"parameter": ["a", "a", "b", "b", "c", "c"],
                      "output": ["count:x", "distance"] * 3,
                      "norm_upper": [0.05, 0.09, 0.2, 0.05, np.nan, np.nan],
                      "signal": [True, True, False, True, False, False]})
    v = SC.verdicts(m, 0.1)
    assert not v["a"]
    assert v["b"]                                               # one target is enough
    assert not v["c"]                                           # no output moved by anything
    agg = SC.verdicts(m, 0.1, "aggregate")                      # the distance and families
    assert not agg["b"]
    noise = SC.verdicts(m, 0.1, "noise")                        # b's effect is within noise
    assert not noise["b"]


def test_noise_floor_scales_with_the_run_to_run_spread(problem):
    s = SC.ScreenSettings(replicates=4)
    ts = problem.targets
    var = np.ones((5, len(ts)))
    f1 = SC.noise_floor(var, ts, s)
    f4 = SC.noise_floor(4 * var, ts, s)
    np.testing.assert_allclose(f4[: len(ts)], 2 * f1[: len(ts)])
    assert (f1[len(ts):] == 0).all()                            # families, distance: none
    more = SC.noise_floor(var, ts, SC.ScreenSettings(replicates=16))
    np.testing.assert_allclose(more[: len(ts)], f1[: len(ts)] / 2)


def test_resume_reads_the_parts_back_and_recomputes_only_what_is_missing(result, problem):
    out, res = result
    again = SC.screen(out, SC.ScreenSettings(**SMALL), progress=False, problem=problem)
    assert again.runs == 0
    pd.testing.assert_frame_equal(again.table, res.table)
    parts = sorted((out / SC.PARTS.folder).glob("s*.npz"))
    parts[1].unlink()
    third = SC.screen(out, SC.ScreenSettings(**SMALL), progress=False, problem=problem)
    assert 0 < third.runs <= SMALL["chunk"]
    pd.testing.assert_frame_equal(third.table, res.table)
    assert (out / "screening.csv").is_file()


def test_another_screening_in_the_same_folder_is_refused(result, problem):
    out, _res = result
    with pytest.raises(SC.ScreeningError, match="different screening"):
        SC.screen(out, SC.ScreenSettings(**{**SMALL, "seed": 1}), progress=False,
                  problem=problem)


@pytest.mark.parametrize(("kw", "match"), [
    ({"trajectories": 1}, "trajectories"), ({"sobol": 100}, "power of 2"),
    ({"levels": 3}, "levels"), ({"threshold": 1.5}, "threshold"), ({"rule": "x"}, "rule")])
def test_bad_settings_are_refused(kw, match):
    with pytest.raises(SC.ScreeningError, match=match):
        SC.ScreenSettings(**kw).check()


def test_screen_command_refuses_bad_input_with_exit_2(tmp_path, capsys):
    assert cli_main(["screen", "--sobol", "100", "--out", str(tmp_path / "s")]) == 2
    assert "power of 2" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


# ------------------------------------------------------------------------------ ablation
@pytest.mark.parametrize("mech", list(AB.MECHANISMS))
def test_every_mechanism_names_gains_of_its_group_that_can_be_zero(mech):
    _label, group, gains = AB.MECHANISMS[mech]
    off = AB.off_values(mech)
    assert set(off) == set(gains)
    assert all(v == 0.0 for v in off.values())
    for name in gains:
        assert P.table()[name].group == group, name


def test_unknown_mechanism_and_missing_posterior_folder_are_clear(tmp_path):
    with pytest.raises(AB.AblationError, match="unknown mechanism"):
        AB.off_values("M42")
    with pytest.raises(AB.AblationError, match=r"until-2011-12/posterior\.csv"):
        AB.until_posterior(tmp_path, "2011-12")


def test_ablation_scores_each_variant_against_the_full_model():
    post = AB.Posteriors(full="default", until="default", cut="2011-12")
    df = AB.ablate(post, runs=16, seed=0, mechanisms=["M3"], progress=False)
    assert list(df["off"]) == ["none", "M3"]
    assert df["in_decisions"].iloc[0] > df["out_decisions"].iloc[0] > 0
    assert (df.filter(like="d_").iloc[0] == 0).all()
    # switching off the sovereignty shocks changes the scores (the runs differ)
    assert df["in_log_lift_freq"].iloc[1] != df["in_log_lift_freq"].iloc[0]
    text = AB.format_table(df, post, 16)
    assert "NOT refitted" in text
    assert "sovereignty_weight" in text


def test_a_rerun_screens_what_the_screening_fixed_but_not_the_documented_fixes():
    from model.calibration.problem import free_parameters, screened_parameters

    screened = set(screened_parameters())
    assert set(free_parameters()) <= screened
    assert not {"civ_package_months", "aid_ref"} & screened
    assert screened == set(P.names()) - {n for n, why in P.fixed().items()
                                         if not why.startswith(SCREENING_FIX)}
