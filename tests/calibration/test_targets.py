"""Calibration targets (model/calibration/targets.py): which targets the catalog yields for a
period, how
each is computed from runs, and the implausibility and distance formulas.

Runs are built by hand (``Results`` with scripted actions, aid and trust), so every expected
value is known exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from model.calibration import targets as TG
from model.core import spec
from model.engine.runner import Results
from model.inputs.catalog import load_catalog
from model.inputs.scenario import from_mapping, month_index, month_label

START, MONTHS = "1998-01", 300


@pytest.fixture(scope="module")
def full() -> TG.TargetSet:
    return TG.build(START, MONTHS)


def blank(runs: int = 2, start: str = START, months: int = MONTHS) -> Results:
    """Runs in which every actor holds, no aid flows and trust stays at 0.5."""
    sc = from_mapping({"name": "t", "start": start, "months": months})
    hold = np.array([spec.ACTION_INDEX[f"{p}_HOLD"] for p in ("US", "MIL", "CIV", "TAL", "IND")])
    return Results(
        scenario=sc, seed=0, run_ids=np.arange(runs),
        dates=[month_label(start, k) for k in range(months + 1)], params=np.zeros(runs),
        trust=np.full((runs, months + 1, 5, 5), 0.5, dtype=np.float32),
        aid=np.zeros((runs, months + 1, 2), dtype=np.float32),
        state=np.zeros((runs, months + 1, spec.N_STATE), dtype=np.float32),
        actions=np.broadcast_to(hold, (runs, months, 5)).astype(np.int8).copy())


def act(res: Results, run: int, month: str, action: str) -> None:
    a = spec.ACTIONS[spec.ACTION_INDEX[action]]
    res.actions[run, month_index(res.dates[0], month), spec.ACTOR_INDEX[a.actor]] = \
        spec.ACTION_INDEX[action]


def col(ts: TG.TargetSet, tid: str) -> int:
    return ts.ids.index(tid)


# --------------------------------------------------------------------------- building targets
def test_every_documented_decision_is_a_target_once(full):
    decs = load_catalog().decisions()
    keys = {(e.action, e.month) for e in decs}
    got = [t for t in full.targets if t.family == "decision"]
    assert {(t.action, t.month) for t in got} == keys
    assert len(got) == len(keys) < len(decs)          # several accounts of one move count once
    defy = full.targets[col(full, "decision:MIL_DEFY@2006-05")]
    assert len(defy.events) == 3


def test_year_dates_and_conflicts_widen_the_observation_error(full):
    cfg = TG.config()["decisions"]
    by_id = {t.id: t for t in full.targets}
    susp = by_id["decision:US_SUSPEND_AID@2018-01"]               # in the conflict on its date
    assert susp.sigma_obs == pytest.approx(np.hypot(cfg["sigma_obs"]["month"],
                                                    cfg["conflict_extra"]))
    plain = by_id["decision:MIL_CLOSE_ROUTE@2011-11"]
    assert plain.sigma_obs == pytest.approx(cfg["sigma_obs"]["day"])


def test_count_limits_follow_the_documented_counts(full):
    by_id = {t.id: t for t in full.targets}
    susp = by_id["count:US_SUSPEND_AID"]           # two documented suspensions (2011, 2018)
    assert (susp.z, susp.limit, susp.one_sided) == (2.0, 6.0, True)
    reopen = by_id["count:MIL_REOPEN_ROUTE"]       # never documented: at most 3
    assert (reopen.z, reopen.limit) == (0.0, 3.0)
    engage = by_id["count:US_ENGAGE"]              # recurrent: a quarter of 300 months
    assert engage.limit == 75.0
    coop = by_id["count:MIL_COOPERATE"]            # posture: half of them
    assert coop.limit == 150.0
    for t in (susp, reopen, engage):
        assert t.sigma_disc == pytest.approx((t.limit - t.z) / 3.0)


def test_figures_come_from_the_catalog_magnitudes(full):
    by_id = {t.id: t for t in full.targets}
    kl = by_id["figure:civ_aid_2009_2014"]
    assert (kl.z, kl.first, kl.last) == (7500.0, "2009-10", "2014-09")
    assert by_id["figure:us_aid_2011"].first == "2011-01"
    s18 = by_id["figure:suspension_2018"]
    assert (s18.z, s18.first, s18.last) == (2000.0, "2017-01", "2018-12")


def test_until_and_since_split_the_targets():
    fit = TG.build(START, 174, until="2011-12")
    check = TG.build(START, MONTHS, since="2012-01")
    fam = {t.id: t for t in fit.targets}
    assert "pattern:reset_2019" not in fam
    assert "pattern:new_low_2011" in fam
    assert "figure:civ_aid_2009_2014" not in fam          # runs past the period
    assert "figure:us_aid_2011" in fam
    assert all(t.month <= "2011-12" for t in fit.targets if t.family == "decision")
    assert all(t.month >= "2012-01" for t in check.targets if t.family == "decision")
    assert {t.id for t in check.targets if t.family == "pattern"} == {"pattern:reset_2019"}
    cnt = {t.id: t for t in fit.targets}["count:US_SUSPEND_AID"]
    assert cnt.z == 1.0
    assert cnt.last == "2011-12"
    assert fit.weights.sum() == pytest.approx(1.0)


# ----------------------------------------------------------------------------- evaluation
def test_decision_hit_within_the_window_only(full):
    res = blank(3)
    act(res, 0, "2011-11", "MIL_CLOSE_ROUTE")          # on the month
    act(res, 1, "2012-05", "MIL_CLOSE_ROUTE")          # +6: still a hit
    act(res, 2, "2012-06", "MIL_CLOSE_ROUTE")          # +7: a miss
    f = TG.evaluate(res, full)
    assert f[:, col(full, "decision:MIL_CLOSE_ROUTE@2011-11")].tolist() == [1, 1, 0]
    assert f[:, col(full, "count:MIL_CLOSE_ROUTE")].tolist() == [1, 1, 1]


def test_counts_over_the_window(full):
    res = blank(2)
    for m in ("2001-03", "2005-01", "2011-07", "2018-01"):
        act(res, 0, m, "US_SUSPEND_AID")
    f = TG.evaluate(res, full)
    assert f[:, col(full, "count:US_SUSPEND_AID")].tolist() == [4, 0]
    fit = TG.build(START, 174, until="2011-12")
    res2 = blank(1, months=174)
    for m in ("2001-03", "2011-12", "2012-01"):        # the last one is after the period
        act(res2, 0, m, "US_SUSPEND_AID")
    assert TG.evaluate(res2, fit)[0, col(fit, "count:US_SUSPEND_AID")] == 2


def test_figures_sum_and_shortfall(full):
    res = blank(1)
    k0 = month_index(START, "2009-10") + 1              # month k's aid is at step k + 1
    res.aid[0, k0: k0 + 60, spec.AID_CIV] = 125.0        # exactly $7.5 bn over the package
    res.aid[0, k0 + 60:, spec.AID_CIV] = 999.0           # after the window: ignored
    s17 = month_index(START, "2017-01") + 1
    res.aid[0, s17: s17 + 12, spec.AID_MIL] = 200.0      # 2017: $2.4 bn of security aid
    res.aid[0, s17 + 12: s17 + 24, spec.AID_MIL] = 50.0  # 2018: $0.6 bn
    f = TG.evaluate(res, full)[0]
    assert f[col(full, "figure:civ_aid_2009_2014")] == pytest.approx(7500.0)
    assert f[col(full, "figure:suspension_2018")] == pytest.approx(1800.0)
    # 2011: civilian 125 + security 0 over twelve months
    assert f[col(full, "figure:us_aid_2011")] == pytest.approx(1500.0)


def test_patterns_follow_the_trust_index(full):
    res = blank(2)
    mil, us = spec.ACTOR_INDEX["PAK_MIL"], spec.ACTOR_INDEX["US"]
    a = month_index(START, "2006-06") + 1
    res.trust[0, a:, mil, us] = 0.3                      # run 0: the 2006 fall shows
    res.trust[0, a:, us, mil] = 0.3
    f = TG.evaluate(res, full)
    assert f[:, col(full, "pattern:plummet_2006")].tolist() == [1, 0]


def test_evaluate_refuses_runs_of_another_start(full):
    with pytest.raises(ValueError, match="start"):
        TG.evaluate(blank(1, start="1999-01", months=12), full)


# --------------------------------------------------------------------------------- scoring
def test_point_summary_groups_consecutive_replicates():
    f = np.array([[1.0], [0.0], [1.0], [1.0]])
    m, v = TG.point_summary(f, 2)
    assert m[:, 0].tolist() == [0.5, 1.0]
    assert v[:, 0].tolist() == [0.25, 0.0]
    with pytest.raises(ValueError, match="replicates"):
        TG.point_summary(f, 3)


def test_implausibility_formula(full):
    j = col(full, "decision:MIL_CLOSE_ROUTE@2011-11")
    t = full.targets[j]
    mean = np.ones((3, len(full)))
    var = np.zeros((3, len(full)))
    mean[:, j] = [1.0, 0.5, 0.0]
    var[:, j] = [0.0, 0.25, 0.0]
    imp = TG.implausibility(mean, var, 8, full)[:, j]
    exp1 = 0.5 / np.sqrt(0.25 * (1 + 1 / 8) + t.sigma_disc ** 2 + t.sigma_obs ** 2)
    exp2 = 1.0 / np.hypot(t.sigma_disc, t.sigma_obs)
    assert imp == pytest.approx([0.0, exp1, exp2])


def test_counts_are_one_sided_and_reach_three_at_the_limit(full):
    j = col(full, "count:MIL_CLOSE_ROUTE")
    t = full.targets[j]
    mean = np.tile(full.z, (3, 1))
    var = np.zeros_like(mean)
    mean[:, j] = [0.0, t.z, t.limit]                      # fewer, as documented, at the limit
    imp = TG.implausibility(mean, var, 8, full)[:, j]
    assert imp == pytest.approx([0.0, 0.0, 3.0])
    d = TG.discrepancy(mean, full)[:, j]
    assert d == pytest.approx([0.0, 0.0, 3.0])


def test_kth_max_and_distance(full):
    imp = np.array([[1.0, 5.0, 2.0, 4.0]])
    assert TG.kth_max(imp, 1)[0] == 5.0
    assert TG.kth_max(imp, 2)[0] == 4.0
    assert TG.kth_max(imp, 9)[0] == 1.0
    perfect = np.tile(full.z, (1, 1))
    assert TG.distance(perfect, full)[0] == 0.0
    worse = perfect.copy()
    worse[0, col(full, "decision:MIL_CLOSE_ROUTE@2011-11")] = 0.0
    worst = worse.copy()
    worst[0, col(full, "figure:us_aid_2011")] = 3000.0
    d = TG.distance(np.vstack([perfect, worse, worst]), full)
    assert d[0] < d[1] < d[2]


def test_the_contrast_statistic_is_the_hit_minus_the_runs_base_rate():
    """``decisions: statistic: contrast`` scores timing, not frequency: an act chosen every
    month scores 0, one chosen only inside the window scores nearly 1."""
    from model.analysis.timing import window_base_rate
    from model.calibration.targets import _run_base_rate

    rng = np.random.default_rng(3)
    chosen = rng.random((50, 120)) < 0.05
    per_run = _run_base_rate(chosen, 5)
    assert per_run.mean() == pytest.approx(window_base_rate(chosen, 5))
    always = np.ones((2, 120), dtype=bool)
    assert np.allclose(_run_base_rate(always, 5), 1.0)        # hit 1 - base 1 = 0
    once = np.zeros((1, 120), dtype=bool)
    once[0, 60] = True
    assert _run_base_rate(once, 5)[0] == pytest.approx(5 / 116)
