"""Calibration (model/calibration/: smc.py, fit.py, store.py, designs.py, posterior.py ...):
parameter recovery on synthetic data (ABC-SMC, the default method, and history matching),
resume after an interruption, determinism, the posterior file and its per-run draws.

The calibrations here are tiny: a 60-month scenario, three free parameters and a few thousand
runs, so that each takes about a second.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest

from model.calibration import targets as TG
from model.calibration.fit import Calibration, InterruptedForTestError, evaluate_points, run
from model.calibration.identification import identification, provenance
from model.calibration.posterior import PROVENANCE_PATH, write_posterior
from model.calibration.problem import SCREENING_FIX, Problem, free_parameters, prior_box
from model.calibration.settings import CalibrationError, Settings
from model.cli.calibrate import main as calibrate_main
from model.core import params as P
from model.engine.paramsets import POSTERIOR_PATH, PosteriorError, draw_params, load_posterior
from model.engine.runner import simulate
from model.inputs.scenario import from_mapping, month_label

START, MONTHS = "2001-01", 60
#: Parameters to recover, with the "true" values that make the synthetic data.
TRUE = {"bias_us_pressure": 0.0, "bias_civ_align": 0.5, "bias_ind_engage_afg": -0.5}
ACTIONS = {"bias_us_pressure": "US_PRESSURE", "bias_civ_align": "CIV_ALIGN",
           "bias_ind_engage_afg": "IND_ENGAGE_AFG"}
#: ABC-SMC (the default method): 6 generations of 192 particles x 4 runs, 30 % kept alive,
#: 3 moves each (16 batches).
SMALL = {"method": "smc", "generations": 6, "accept": 0.3, "moves": 3, "smc_replicates": 4,
         "chunk": 256, "budget": 12288}
#: History matching then ABC rejection (the method kept for comparison).
HM_SMALL = {"method": "hm", "replicates": 4, "waves": 6, "min_keep": 0.2, "kernel_scale": 0.5,
            "candidates": 64, "final_replicates": 16, "posterior": 32, "chunk": 256,
            "budget": 6144, "subspace": 0.5, "common_numbers": True}


def count_targets(res, actions, start: str, months: int) -> TG.TargetSet:
    """Equal-weight count targets: each action's mean number of months chosen in ``res``
    (two-sided, tolerance 5 % + 0.5) over the whole run (also used by test_screening)."""
    last = month_label(start, months - 1)
    targets = []
    for action in actions:
        z = float(res.action_count(action).sum(axis=1).mean())
        targets.append(TG.Target(id=f"count:{action}", family="count", z=z,
                                 sigma_disc=0.05 * z + 0.5, sigma_obs=0.0, first=start,
                                 last=last, description=action, action=action))
    return TG.TargetSet(start=start, months=months, window=6, targets=targets,
                        weights=np.full(len(targets), 1.0 / len(targets)))


def synthetic_problem(truth: dict[str, float] = TRUE, synth_runs: int = 400) -> Problem:
    """Targets = the expected monthly counts of three actions under ``truth`` (two-sided,
    tolerance 5 % + 0.5), over a quiet 60-month scenario; free: the three intercepts."""
    sc = from_mapping({"name": "synthetic", "start": START, "months": MONTHS})
    res = simulate(sc, runs=synth_runs, seed=12345, params=dict(truth))
    ts = count_targets(res, ACTIONS.values(), START, MONTHS)
    names = tuple(TRUE)
    lo, hi = prior_box(names)
    return Problem(scenario=sc, months=MONTHS, targets=ts, names=names, lo=lo, hi=hi)


@pytest.fixture(scope="module")
def problem() -> Problem:
    return synthetic_problem()


def settings(**kw) -> Settings:
    return Settings.from_config(**{**SMALL, **kw})


@pytest.fixture(scope="module")
def hm_reference(problem, tmp_path_factory) -> Calibration:
    """An uninterrupted history-matching calibration (seed 3)."""
    return run(problem, settings(**HM_SMALL, seed=3), tmp_path_factory.mktemp("hm"),
               progress=False)


@pytest.fixture(scope="module")
def reference(problem, tmp_path_factory) -> Calibration:
    """An uninterrupted calibration (seed 3)."""
    return run(problem, settings(seed=3), tmp_path_factory.mktemp("ref"), progress=False)


# ------------------------------------------------------------------------- recovery
def weighted_quantiles(v: np.ndarray, w: np.ndarray, qs) -> np.ndarray:
    order = np.argsort(v)
    cw = np.cumsum(w[order]) / w.sum()
    return np.interp(qs, cw, v[order])


def test_parameter_recovery(reference, problem):
    """Synthetic data from known parameters: each lies in the posterior's 90 % interval, the
    interval is much narrower than the prior (the data were informative) and every parameter's
    contraction (posterior sd / prior sd) is at most 0.5."""
    post = reference.posterior_frame()
    w = post["weight"].to_numpy()
    assert len(post) == reference.generations[-1]["distinct"]
    for k, name in enumerate(problem.names):
        lo, hi = weighted_quantiles(post[name].to_numpy(), w, [0.05, 0.95])
        assert lo <= TRUE[name] <= hi, (name, lo, hi)
        assert hi - lo < 0.35 * (problem.hi[k] - problem.lo[k]), (name, lo, hi)
    best = reference.best()
    assert all(abs(best[n] - TRUE[n]) < 2.0 for n in TRUE)
    ident = identification(reference)
    assert (ident["contraction"] <= 0.5).all(), ident[["parameter", "contraction"]]


def test_recovery_fails_for_wrong_truth(reference):
    """The same check against other 'true' values fails: the test can tell."""
    post = reference.posterior_frame()
    w = post["weight"].to_numpy()
    lo, hi = weighted_quantiles(post["bias_civ_align"].to_numpy(), w, [0.05, 0.95])
    assert not lo <= TRUE["bias_civ_align"] + 3.0 <= hi


def test_smc_generations_narrow_the_tolerance_with_honest_weights(reference):
    """The tolerance falls from generation to generation and every particle of the posterior
    lies within the last one; each generation keeps the ``accept`` share alive (its ESS); the
    posterior's weights are the particles' copies (summing to 1), its ESS that of the copies."""
    gens, s = reference.generations, reference.settings
    assert len(gens) == s.generations
    eps = [g["eps"] for g in gens[1:]]
    assert np.all(np.diff(eps) <= 0)
    assert eps[-1] < 0.6 * eps[0]
    assert reference.cand_dist.max() <= eps[-1]
    n = s.per_generation
    assert all(g["ess"] >= s.accept * n for g in gens)
    assert all(0.0 < g["accept_rate"] <= 1.0 for g in gens)
    w = reference.weights
    assert w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(w * n, np.round(w * n))          # copies / N
    assert reference.ess == pytest.approx(1.0 / (w ** 2).sum())


def test_parameter_recovery_with_history_matching(problem, tmp_path):
    """The method kept for comparison (history matching, full-dimensional steps, independent
    streams, no start point): importance weights prior / proposal, truth in the 90 % interval."""
    s = settings(**{**HM_SMALL, "seed": 5, "subspace": 1.0, "common_numbers": False})
    assert s.proposal_has_density
    cal = run(problem, s, tmp_path, progress=False)
    assert cal.method == "hm"
    post = cal.posterior_frame()
    w = post["weight"].to_numpy()
    assert cal.ess < 0.99 * len(w)                      # the weights are not the kernel alone
    for name in problem.names:
        lo, hi = weighted_quantiles(post[name].to_numpy(), w, [0.05, 0.95])
        assert lo <= TRUE[name] <= hi, (name, lo, hi)


def test_no_start_file():
    """The calibration starts from the prior: no start point in the settings or model/data."""
    from model.io.paths import DATA

    alg = TG.config()["algorithm"]
    assert not {"start", "start_share", "start_scale"} & set(alg)
    assert not (DATA / "calibration_start.csv").exists()
    with pytest.raises(CalibrationError, match="unknown"):
        Settings.from_config({"algorithm": {"start": "calibration_start.csv"}})


def test_common_random_numbers_pair_the_points(problem):
    x = problem.to_values(np.full((2, problem.dim), 0.5))          # the same point twice
    m_crn, _ = evaluate_points(problem, x, 0, 0, 4, common=True)
    np.testing.assert_array_equal(m_crn[0], m_crn[1])
    m_ind, _ = evaluate_points(problem, x, 0, 0, 4, common=False)
    assert not np.array_equal(m_ind[0], m_ind[1])


# ------------------------------------------------------------------ resume, determinism
def test_resume_after_interruption_equals_an_uninterrupted_run(problem, reference, tmp_path):
    s = settings(seed=3)
    with pytest.raises(InterruptedForTestError):
        run(problem, s, tmp_path, progress=False, stop_after=5)
    parts = sorted((tmp_path / "parts").glob("*.npz"))
    assert len(parts) == 5
    stamps = {p.name: p.stat().st_mtime_ns for p in parts}
    (tmp_path / "parts" / ".w00-c00099.123.tmp.npz").write_bytes(b"half a file")  # a SIGKILL
    with pytest.raises(CalibrationError, match="--resume"):
        run(problem, s, tmp_path, progress=False)
    cal = run(problem, s, tmp_path, resume=True, progress=False)
    for p in parts:                                    # finished parts were not recomputed
        assert p.stat().st_mtime_ns == stamps[p.name]
    assert not list((tmp_path / "parts").glob(".*tmp*"))
    pd.testing.assert_frame_equal(cal.posterior_frame(), reference.posterior_frame())
    np.testing.assert_array_equal(cal.mean, reference.mean)


def test_resume_recomputes_a_damaged_part(problem, reference, tmp_path):
    """A part that does not read back whole (damaged outside the store) is computed again,
    not trusted, and the result still equals the uninterrupted run's."""
    s = settings(seed=3)
    with pytest.raises(InterruptedForTestError):
        run(problem, s, tmp_path, progress=False, stop_after=3)
    damaged = tmp_path / "parts" / "w00-c00001.npz"
    damaged.write_bytes(b"not a zip file")
    cal = run(problem, s, tmp_path, resume=True, progress=False)
    with np.load(damaged) as z:
        assert set(z.files) == {"mean", "var"}
    pd.testing.assert_frame_equal(cal.posterior_frame(), reference.posterior_frame())


def test_resume_refuses_other_settings(problem, tmp_path):
    with pytest.raises(InterruptedForTestError):
        run(problem, settings(seed=3), tmp_path, progress=False, stop_after=1)
    with pytest.raises(CalibrationError, match="settings"):
        run(problem, settings(seed=4), tmp_path, resume=True, progress=False)


def test_same_seed_same_posterior_other_seed_other(problem, reference, tmp_path):
    again = run(problem, settings(seed=3), tmp_path / "a", progress=False)
    pd.testing.assert_frame_equal(again.posterior_frame(), reference.posterior_frame())
    other = run(problem, settings(seed=4), tmp_path / "b", progress=False)
    assert not np.array_equal(other.posterior_frame().to_numpy(),
                              reference.posterior_frame().to_numpy())


def test_run_ids_and_budget(reference):
    s = reference.settings
    assert s.total_runs <= s.budget
    assert len(reference.u) == s.batches * s.per_generation
    assert reference.u.min() >= 0.0
    assert reference.u.max() <= 1.0
    assert len(reference.weights) <= s.per_generation
    assert reference.weights.sum() == pytest.approx(1.0)
    assert 1.0 <= reference.ess <= s.per_generation


def test_settings_are_checked():
    with pytest.raises(CalibrationError, match="too small"):
        Settings.from_config(budget=500)
    with pytest.raises(CalibrationError, match="until"):
        Settings.from_config(until="2011/12")
    with pytest.raises(CalibrationError, match="unknown"):
        Settings.from_config({"algorithm": {"wavez": 3}})
    with pytest.raises(CalibrationError, match="method"):
        Settings.from_config(method="mcmc")
    with pytest.raises(CalibrationError, match="accept"):
        Settings.from_config(accept=1.5)
    with pytest.raises(CalibrationError, match="too small"):
        Settings.from_config(method="hm", budget=10_000)


def test_cli_rejects_bad_input(capsys):
    assert calibrate_main(["--until", "late", "--quiet", "--out", "/nonexistent/x"]) == 2
    assert "until" in capsys.readouterr().err


# ------------------------------------------------------------------------ posterior file
def test_posterior_file_round_trip_and_draws(reference, tmp_path):
    path = write_posterior(reference, tmp_path / "posterior.csv", {"test": "yes"})
    assert path.read_text().startswith("# test: yes\n")
    post = load_posterior(path)
    assert post.names == reference.names
    assert len(post.frame) == len(reference.accepted)
    assert post.best() == pytest.approx(reference.best(), rel=1e-5)
    a = draw_params(7, range(20), post)
    b = draw_params(7, [5, 6, 7], post)
    assert b == a[5:8]                                 # a run's set does not depend on the batch
    assert draw_params(7, range(20), post) == a      # deterministic
    assert draw_params(8, range(20), post) != a
    assert all(set(d) == set(reference.names) for d in a)
    assert "bias_civ_align" not in draw_params(7, [0], post, exclude=["bias_civ_align"])[0]


def test_draws_follow_the_weights(reference, tmp_path):
    df = reference.posterior_frame()
    df["weight"] = 0.0
    df.loc[3, "weight"] = 1.0
    path = tmp_path / "one.csv"
    df.to_csv(path, index=False)
    post = load_posterior(path)
    draws = draw_params(0, range(50), post)
    assert all(d == post.sets()[3] for d in draws)


def test_load_posterior_checks_bounds_and_columns(reference, tmp_path):
    df = reference.posterior_frame()
    df.loc[0, "bias_civ_align"] = 99.0
    df.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(PosteriorError, match="bounds"):
        load_posterior(tmp_path / "bad.csv")
    df = reference.posterior_frame().drop(columns="weight")
    df.to_csv(tmp_path / "noweight.csv", index=False)
    with pytest.raises(PosteriorError, match="weight"):
        load_posterior(tmp_path / "noweight.csv")
    with pytest.raises(PosteriorError, match="no posterior"):
        load_posterior(tmp_path / "missing.csv")


@pytest.mark.skipif(not POSTERIOR_PATH.exists(), reason="no shipped posterior yet")
def test_shipped_posterior():
    post = load_posterior()
    assert len(post.frame) >= 200
    assert set(post.names) == set(free_parameters()), \
        "the shipped posterior is stale: re-run `python -m model calibrate`"
    assert post.weights.sum() == pytest.approx(1.0)
    fixed = set(P.names()) - set(post.names)
    assert fixed == set(P.fixed())
    assert PROVENANCE_PATH.exists()
    prov = pd.read_csv(PROVENANCE_PATH)
    assert list(prov.columns[:3]) == ["parameter", "target", "strength"]
    assert set(prov["parameter"]) <= set(post.names)


def test_provenance_and_identification(reference, problem):
    prov = provenance(reference)
    assert set(prov["parameter"]) == set(problem.names)
    strongest = prov.loc[prov["strength"].abs().groupby(prov["parameter"]).idxmax()]
    got = dict(zip(strongest["parameter"], strongest["target"], strict=True))
    for name, action in ACTIONS.items():               # each intercept drives its own count
        assert got[name] == f"count:{action}"
    ident = identification(reference)
    assert ident["identified"].all()


def test_free_parameters_come_from_the_table():
    free = free_parameters()
    assert set(free) | set(P.fixed()) == set(P.names())
    assert not set(free) & set(P.fixed())
    assert "civ_package_months" not in free            # fixed by the documented five years
    assert len(free) <= 30                             # issue 17: identifiable by 74 targets
    # every fix beyond the documented figures says it comes from the screening
    assert all(why.startswith(SCREENING_FIX) for n, why in P.fixed().items()
               if n not in ("civ_package_months", "aid_ref"))
    # the table is the one source of truth: a fixed: section in calibration.yaml is refused
    with pytest.raises(CalibrationError, match=r"parameters\.yaml"):
        free_parameters({"fixed": {"aid_ref": {}}})


# ------------------------------------------------------------ hardening (issue 15, issue 16)
@pytest.mark.parametrize(("argv", "match"), [
    (["--runs", "0"], "--runs must be between 1"),
    (["--runs", "-3"], "--runs must be between 1"),
    (["--runs", str(10**9)], "--runs must be between 1"),
    (["--budget", "-5"], "--budget must be a positive"),
    (["--budget", "0"], "--budget must be a positive"),
    (["--budget", "100"], "too small"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--resume", "--fresh"], "contradict"),
    (["--report", "--until", "2011-12"], "cannot be combined"),
    (["--cuts", "2011-12"], "--cuts goes with --rolling"),
    (["--until", "2011-13"], "until"),
    (["--report", "--budget", "100"], "too small"),
    (["--sbc", "0"], "--sbc must be between 1"),
    (["--sbc-params", "bias_civ_align"], "--sbc-params goes with --sbc"),
    (["--sbc", "3", "--sbc-params", "no_such_parameter"], "not among the free parameters"),
    (["--sbc", "3", "--until", "2011-12"], "cannot be combined"),
    (["--sbc", "3", "--budget", "100"], "too small"),
    (["--method", "hm", "--budget", "10000"], "too small"),
])
def test_cli_validates_every_argument_before_any_work(argv, match, tmp_path, capsys,
                                                      monkeypatch):
    """A bad argument: exit 2 with a message, nothing written (no working folder, the shipped
    posterior untouched), and no fit started."""
    import model.cli.calibrate as cli

    def no_fit(*_a, **_k):
        raise AssertionError("a fit was started")

    monkeypatch.setattr(cli, "fit_history", no_fit)
    before = POSTERIOR_PATH.read_bytes()
    out = tmp_path / "cal"
    assert calibrate_main([*argv, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "Traceback" not in err
    assert match.lstrip("-") in err
    assert not out.exists()
    assert POSTERIOR_PATH.read_bytes() == before


def test_cli_refuses_an_out_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    assert calibrate_main(["--out", str(f), "--quiet", "--no-install"]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert f.read_text() == "x"


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """The shipped posterior and provenance, in a temporary place."""
    from model.calibration import posterior as post_io
    from model.cli import calibrate as cli

    data = tmp_path / "data"
    data.mkdir()
    paths = (data / "posterior.csv", data / "provenance.csv")
    monkeypatch.setattr(post_io, "POSTERIOR_PATH", paths[0])
    monkeypatch.setattr(post_io, "PROVENANCE_PATH", paths[1])
    monkeypatch.setattr(cli, "POSTERIOR_PATH", paths[0])
    return paths


def _fake_fit(cal):
    def fit_history(*_a, **_k):
        return cal
    return fit_history


@pytest.mark.parametrize("failure", [KeyboardInterrupt, MemoryError,
                                     lambda: PosteriorError("bad")])
def test_install_happens_only_after_the_whole_command_succeeded(reference, shipped, tmp_path,
                                                                monkeypatch, failure):
    """The history check after the fit fails (an interruption, memory, bad input): the shipped
    files are not touched; the fit's own files are in its working folder."""
    import model.cli.calibrate as cli

    for p in shipped:
        p.write_text("old\n")
    monkeypatch.setattr(cli, "fit_history", _fake_fit(reference))

    def broken_check(*_a):
        raise failure()

    monkeypatch.setattr(cli, "_check", broken_check)
    with pytest.raises((KeyboardInterrupt, MemoryError, PosteriorError)):
        cli.cmd_calibrate(cli.add_arguments(argparse.ArgumentParser()).parse_args(
            ["--out", str(tmp_path / "cal"), "--quiet"]))
    assert [p.read_text() for p in shipped] == ["old\n", "old\n"]
    assert (tmp_path / "cal" / "full" / "posterior.csv").is_file()


def test_install_copies_the_working_files_byte_for_byte(reference, shipped, tmp_path,
                                                        monkeypatch):
    import model.cli.calibrate as cli

    monkeypatch.setattr(cli, "fit_history", _fake_fit(reference))
    monkeypatch.setattr(cli, "_check", lambda *_a: None)
    assert calibrate_main(["--out", str(tmp_path / "cal"), "--quiet"]) == 0
    work = tmp_path / "cal" / "full"
    assert shipped[0].read_bytes() == (work / "posterior.csv").read_bytes()
    assert shipped[1].read_bytes() == (work / "provenance.csv").read_bytes()


def test_install_replaces_both_files_or_neither(reference, shipped, tmp_path):
    """If the provenance cannot be put in place, the posterior is not replaced either."""
    from model.calibration import posterior as post_io

    post_io.save(reference, tmp_path)
    shipped[0].write_text("old\n")
    shipped[1].mkdir()                                   # cannot be replaced by a file
    with pytest.raises(IsADirectoryError):
        post_io.install(tmp_path)
    assert shipped[0].read_text() == "old\n"
    assert not [p for p in shipped[0].parent.iterdir() if p.name.startswith(".")]


# corrupt working folders: what cannot be recomputed is refused, naming the file and the way out
@pytest.mark.parametrize(("content", "why"), [
    (b"{not json", "not JSON"),
    (b"\x89PNG\r\n\x1a\n\x00\x00garbage", "not"),
    (b"[1, 2, 3]", "not a JSON object"),
    (b'"a string"', "not a JSON object"),
    (b"", "not JSON"),
])
def test_corrupt_manifest_is_refused_and_fresh_starts_over(problem, reference, tmp_path, content,
                                                           why):
    s = settings(seed=3)
    with pytest.raises(InterruptedForTestError):
        run(problem, s, tmp_path, progress=False, stop_after=2)
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(content)
    with pytest.raises(CalibrationError) as exc:
        run(problem, s, tmp_path, resume=True, progress=False)
    msg = str(exc.value)
    assert str(manifest) in msg
    assert why in msg
    assert "--fresh" in msg
    assert "--out" in msg
    assert manifest.read_bytes() == content                        # nothing written
    cal = run(problem, s, tmp_path, fresh=True, progress=False)
    pd.testing.assert_frame_equal(cal.posterior_frame(), reference.posterior_frame())


def test_cli_corrupt_manifest_exits_2(tmp_path, capsys):
    work = tmp_path / "until-2011-12"
    work.mkdir()
    (work / "manifest.json").write_text("{truncated")
    assert calibrate_main(["--until", "2011-12", "--resume", "--out", str(tmp_path),
                           "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "manifest.json" in err
    assert "--fresh" in err
    assert "Traceback" not in err
    assert (work / "manifest.json").read_text() == "{truncated"


@pytest.mark.parametrize("what", ["design-garbage", "design-truncated", "part-truncated",
                                  "design-shape", "seal-garbage"])
def test_damaged_checkpoints_are_recomputed_and_named(problem, reference, tmp_path, capsys,
                                                      what):
    """A truncated or garbage design or part (or its seal) is not trusted: it is computed again,
    a note names it, and the result equals the uninterrupted run's."""
    s = settings(seed=3)
    with pytest.raises(InterruptedForTestError):
        run(problem, s, tmp_path, progress=False, stop_after=8)
    kind, how = what.split("-")
    target = (tmp_path / "designs" / "wave-01.npz" if kind == "design"
              else tmp_path / "parts" / "w00-c00001.npz")
    assert target.is_file()
    if how == "garbage":
        target.write_bytes(b"PK\x03\x04 garbage")
    elif how == "truncated":
        target.write_bytes(target.read_bytes()[:100])
    elif how == "shape":            # a whole, sealed design of another shape: its seal redone
        from model.calibration.store import DESIGNS, Store
        st = Store(tmp_path)
        st.chunks.read_manifest()
        st.chunks.write_arrays(DESIGNS, 1, {"u": np.zeros((3, 1))})
    else:
        target.with_name(target.name + ".check").write_text("{{{")
    capsys.readouterr()
    cal = run(problem, s, tmp_path, resume=True, progress=False)
    err = capsys.readouterr().err
    assert f"note: {target}:" in err
    assert "computed again" in err
    pd.testing.assert_frame_equal(cal.posterior_frame(), reference.posterior_frame())


@pytest.mark.parametrize("what", ["parts-is-a-file", "part-is-a-folder", "manifest-is-a-folder"])
def test_folder_layout_that_cannot_be_repaired_is_refused(problem, tmp_path, what):
    s = settings(seed=3)
    with pytest.raises(InterruptedForTestError):
        run(problem, s, tmp_path, progress=False, stop_after=2)
    if what == "parts-is-a-file":
        import shutil
        shutil.rmtree(tmp_path / "parts")
        (tmp_path / "parts").write_text("x")
        bad = tmp_path / "parts"
    elif what == "part-is-a-folder":
        bad = tmp_path / "parts" / "w00-c00005.npz"
        bad.mkdir()
    else:
        bad = tmp_path / "manifest.json"
        bad.unlink()
        bad.mkdir()
    with pytest.raises(CalibrationError, match="--out") as exc:
        run(problem, s, tmp_path, resume=True, progress=False)
    assert str(bad) in str(exc.value)


def test_a_second_writer_is_refused_while_one_calibrates(problem, tmp_path):
    from model.calibration.store import Store

    s = settings(seed=3)
    with pytest.raises(InterruptedForTestError):
        run(problem, s, tmp_path, progress=False, stop_after=1)
    other = Store(tmp_path)
    other.chunks.lock()
    try:
        with pytest.raises(CalibrationError, match="another calibration is writing"):
            run(problem, s, tmp_path, resume=True, progress=False)
    finally:
        other.close()
    run(problem, s, tmp_path, resume=True, progress=False)     # released: it goes on


# posterior files of the wrong shape given to the calibration's scoring entry
NOT_CSV = "not a (readable )?posterior"


@pytest.mark.parametrize(("text", "match"), [
    ("", NOT_CSV),
    ("# only a header\n", NOT_CSV),
    ("bias_civ_align,distance\n0.1,1\n", "no 'weight' column"),
    ("bias_civ_align,distance,weight\nhigh,1,1\n", "bias_civ_align.*'high'|text.*bias_civ"),
    ("bias_civ_align,distance,weight\n0.1,one,1\n", "'distance'.*'one'|text.*distance"),
    ("bias_civ_align,distance,weight\nnan,1,1\n", "bias_civ_align.*nan|NaN.*bias_civ_align"),
    ("bias_civ_align,distance,weight\n,1,1\n", "bias_civ_align.*nan|NaN.*bias_civ_align"),
    ("bias_civ_align,distance,weight\n0.1,inf,1\n", "distance.*inf|infinite.*distance"),
    ("distance,weight\n1,1\n", "no parameter columns"),
    ("bias_civ_align,distance,weight\n", "at least one row"),
    (b"\x00\x01\x02\x03binary\xff\xfe", f"{NOT_CSV}|no 'distance' column"),
])
def test_posterior_of_the_wrong_shape_is_refused(tmp_path, text, match):
    from model.calibration.scoring import history_runs, read_posterior

    path = tmp_path / "posterior.csv"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(PosteriorError, match=match) as exc:
        read_posterior(path)
    assert str(path) in str(exc.value)
    with pytest.raises(PosteriorError):
        history_runs(path, 2, 0)


def test_posterior_of_another_calibration_is_refused(reference, tmp_path):
    from model.calibration.scoring import read_posterior

    path = write_posterior(reference, tmp_path / "posterior.csv", {"test": "yes"})
    assert read_posterior(path, reference.names).names == reference.names
    with pytest.raises(PosteriorError, match=r"free parameters; missing"):
        read_posterior(path, free_parameters())
    with pytest.raises(PosteriorError, match="not a regular file"):
        read_posterior(tmp_path)


def test_history_matching_resumes_and_repeats(problem, hm_reference, tmp_path):
    """The comparison method resumes after an interruption to the same posterior."""
    s = settings(**HM_SMALL, seed=3)
    with pytest.raises(InterruptedForTestError):
        run(problem, s, tmp_path, progress=False, stop_after=4)
    cal = run(problem, s, tmp_path, resume=True, progress=False)
    pd.testing.assert_frame_equal(cal.posterior_frame(), hm_reference.posterior_frame())
