"""ABC-SMC's maths (model/calibration/smc.py, designs.py) and simulation-based calibration
(model/calibration/sbc.py): the proposal density and importance weights against direct
formulas, the logit coordinates, the SBC ranks and coverage, and SBC's resume on a tiny
synthetic problem."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal
from test_calibrate import SMALL, synthetic_problem

from model.calibration import sbc
from model.calibration.designs import kernel_cov, log_mixture
from model.calibration.settings import CalibrationError, Settings
from model.calibration.smc import (
    Particles,
    _move,
    from_logit,
    log_prior_logit,
    resample,
    to_logit,
    tolerance,
)


def test_log_mixture_is_the_weighted_gaussian_mixture():
    rng = np.random.default_rng(1)
    par = rng.normal(size=(7, 3))
    w = rng.random(7)
    cov = kernel_cov(par, 2.0, w)
    x = rng.normal(size=(5, 3))
    direct = np.log(sum(wj / w.sum() * multivariate_normal(p, cov).pdf(x)
                        for p, wj in zip(par, w, strict=True)))
    np.testing.assert_allclose(log_mixture(x, par, cov, w, block=2), direct, rtol=1e-10)


def test_log_mixture_stays_finite_in_many_dimensions():
    """Where a density itself would overflow or underflow (100 dimensions, tiny kernel)."""
    rng = np.random.default_rng(2)
    par = rng.random((50, 100))
    cov = np.eye(100) * 1e-8
    out = log_mixture(par[:3] + 1e-4, par, cov)
    assert np.isfinite(out).all()
    assert out.max() > 709                         # exp() of it would overflow


def test_logit_coordinates_and_prior_density():
    u = np.array([[0.1, 0.5, 0.9]])
    np.testing.assert_allclose(from_logit(to_logit(u)), u)
    np.testing.assert_allclose(log_prior_logit(u), np.log(0.09 * 0.25 * 0.09))
    # A uniform sample in logit coordinates has the density exp(log_prior_logit) there.
    y = to_logit(np.random.default_rng(3).random((40000, 1)))[:, 0]
    hist, edges = np.histogram(y, bins=20, range=(-3, 3), density=True)
    mid = (edges[:-1] + edges[1:]) / 2
    dens = np.exp(log_prior_logit(from_logit(mid[:, None])))
    np.testing.assert_allclose(hist * (np.abs(y) < 3).mean(), dens, atol=0.015)


def test_systematic_resampling_follows_the_weights():
    idx = resample(1000, np.array([0.0, 3.0, 1.0, 0.0]), np.random.default_rng(4))
    counts = np.bincount(idx, minlength=4)
    assert counts[0] == counts[3] == 0
    assert counts[1] == pytest.approx(750, abs=1)            # systematic: within one


def test_move_keeps_the_target_within_the_tolerance():
    """A proposal replaces its parent only within the tolerance (and the prior ratio test);
    the particles' distances never exceed the tolerance after the move."""
    u = np.array([[0.5, 0.5], [0.4, 0.6], [0.3, 0.3]])
    parts = Particles(idx=np.arange(3), u=u, dist=np.array([1.0, 2.0, 5.0]))
    des = {"eps": np.array([2.0]), "parent": np.array([0, 1, 0, 1]),
           "u": np.array([[0.5, 0.5], [0.4, 0.6], [0.2, 0.2], [0.45, 0.55]]),
           "log_unif": np.log(np.array([0.1, 0.1, 0.1, 0.1]))}
    new, rec = _move(parts, des, np.array([1.5, 9.0, 0.5, 1.0]), 1, 4)
    assert new.dist.max() <= 2.0
    np.testing.assert_array_equal(new.idx, [4, 1, 6, 7])     # 2nd rejected: too far
    assert rec["alive"] == 2
    assert rec["accept_rate"] == pytest.approx(0.75)
    assert rec["distinct"] == 4
    assert tolerance(np.array([3.0, 1.0, 2.0, 4.0]), 0.5) == 2.0


def test_weighted_rank_and_coverage():
    v = np.array([1.0, 2.0, 3.0, 4.0])
    assert sbc.weighted_rank(v, np.ones(4), 2.5) == pytest.approx(0.5)
    assert sbc.weighted_rank(v, np.array([1, 1, 1, 5.0]), 3.5) == pytest.approx(0.375)
    rng = np.random.default_rng(5)
    good = pd.DataFrame({"k": np.arange(400), "parameter": "a", "truth": 0.0,
                         "rank": rng.random(400), "contraction": 0.5, "ess": 10.0})
    cov = sbc.coverage(good).set_index("parameter")
    assert cov.loc["all", "cover50"] == pytest.approx(0.5, abs=0.08)
    assert cov.loc["all", "cover90"] == pytest.approx(0.9, abs=0.05)
    assert cov.loc["all", "p_uniform"] > 0.01
    # An overconfident method: truths in the tails of its posteriors.
    bad = good.assign(rank=np.where(rng.random(400) < 0.5, 0.01, 0.99))
    cov = sbc.coverage(bad).set_index("parameter")
    assert cov.loc["all", "cover90"] < 0.1
    assert cov.loc["all", "p_uniform"] < 1e-6


def test_sbc_runs_resumes_and_refuses_another_setup(tmp_path, monkeypatch):
    """SBC on the tiny synthetic problem: one record per history, stored; a second call fits
    nothing again; another setup in the folder is refused."""
    prob = synthetic_problem(synth_runs=50)
    monkeypatch.setattr(sbc, "sbc_problem", lambda names=None: prob)
    s = Settings.from_config(**SMALL, seed=1)
    table = sbc.run_sbc(3, s, tmp_path, progress=False)
    assert len(table) == 3 * prob.dim
    assert table["rank"].between(0, 1).all()
    files = sorted((tmp_path / "sbc").glob("hist-*.json"))
    assert len(files) == 3
    assert not list((tmp_path / "sbc").glob("fit-*"))
    stamps = [f.stat().st_mtime_ns for f in files]

    def no_fit(*_a, **_k):
        raise AssertionError("a finished history was fitted again")

    monkeypatch.setattr(sbc, "_history", no_fit)
    again = sbc.run_sbc(3, s, tmp_path, progress=False)
    pd.testing.assert_frame_equal(again, table)
    assert [f.stat().st_mtime_ns for f in files] == stamps
    rec = json.loads(files[0].read_text())
    assert rec["k"] == 0
    with pytest.raises(CalibrationError, match="another setup"):
        sbc.run_sbc(3, Settings.from_config(**SMALL, seed=2), tmp_path, progress=False)


def test_sbc_synthetic_record_comes_from_the_truth():
    prob = synthetic_problem(synth_runs=50)
    u, sp = sbc.synthetic(prob, 0, 0, 4)
    u2, sp2 = sbc.synthetic(prob, 0, 0, 4)
    np.testing.assert_array_equal(u, u2)
    np.testing.assert_array_equal(sp.targets.z, sp2.targets.z)
    _, other = sbc.synthetic(prob, 0, 1, 4)
    assert not np.array_equal(sp.targets.z, other.targets.z)
    assert sp.names == prob.names


def test_posterior_is_thinned_by_systematic_resampling(tmp_path):
    """More particles than ``smc_posterior``: that many are resampled (weights = copies / M)."""
    from model.calibration.fit import run

    prob = synthetic_problem(synth_runs=50)
    cal = run(prob, Settings.from_config(**{**SMALL, "smc_posterior": 40}), tmp_path,
              progress=False)
    w = cal.weights
    assert len(w) <= 40
    np.testing.assert_allclose(w * 40, np.round(w * 40))
    assert w.sum() == pytest.approx(1.0)
