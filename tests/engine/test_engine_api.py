"""The Python API's ensemble helpers: bands, posterior parameter draws, overrides."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from model import simulate
from model.core import spec
from model.engine.paramsets import posterior_exists

SC = "scenarios/baseline.yaml"


def test_bands_cover_every_series_and_are_ordered():
    res = simulate(SC, runs=40, seed=3, months=36)
    b = res.bands()
    n_series = spec.N_ACTORS * (spec.N_ACTORS - 1) + len(spec.AID_FLOWS) + spec.N_STATE
    assert len(b) == n_series * (res.months + 1)
    assert list(b.columns) == ["metric", "source", "target", "step", "date", "q05", "q50",
                               "q95", "mean"]
    assert (b["q05"] <= b["q50"] + 1e-12).all()
    assert (b["q50"] <= b["q95"] + 1e-12).all()
    pair = b[(b.metric == "trust") & (b.source == "PAK_MIL") & (b.target == "US")]
    np.testing.assert_allclose(pair["q50"].to_numpy(),
                               np.median(res.trust_series("PAK_MIL", "US"), axis=0), rtol=1e-6)


def test_posterior_draws_are_per_run_and_reproducible():
    assert posterior_exists(), "the calibrated posterior must be shipped"
    a = simulate(SC, runs=6, seed=11, months=24, params="posterior")
    b = simulate(SC, runs=3, seed=11, months=24, params="posterior", chunk=2)
    assert np.array_equal(a.trust[:3], b.trust)
    assert np.array_equal(a.params[:3], b.params)
    # Different runs get (generally) different parameter sets; defaults are one set for all.
    assert len({tuple(r) for r in a.params.tolist()}) > 1
    d = simulate(SC, runs=6, seed=11, months=24, params="default")
    assert len({tuple(r) for r in d.params.tolist()}) == 1


def test_simulate_defaults_to_the_posterior():
    """Without ``params`` every run draws its own set from the shipped posterior; the parameter
    table's values are one keyword away."""
    plain = simulate(SC, runs=4, seed=2, months=12)
    post = simulate(SC, runs=4, seed=2, months=12, params="posterior")
    table = simulate(SC, runs=4, seed=2, months=12, params="default")
    np.testing.assert_array_equal(plain.params, post.params)
    np.testing.assert_array_equal(plain.trust, post.trust)
    assert not np.array_equal(plain.params, table.params)
    assert (table.params["forgetting"] == table.params["forgetting"][0]).all()


def test_overrides_apply_on_top_of_posterior():
    res = simulate(SC, runs=4, seed=1, months=12, params="posterior",
                   overrides={"forgetting": 0.9})
    assert np.all(res.params["forgetting"] == 0.9)


def test_cli_run_writes_bands_csv(tmp_path):
    out = tmp_path / "bands.csv"
    proc = subprocess.run([sys.executable, "-m", "model", "run", SC, "--runs", "20", "--months",
                           "24", "--bands", str(out)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    df = pd.read_csv(out)
    assert set(df["metric"]) >= {"trust", "aid", "public_hostility", "supply_route_open"}
    assert df["step"].max() == 24


def test_draw_index_is_numpys_choice_per_run():
    """The vectorised lookup gives exactly the index ``rng.choice(n, p=w)`` gives per run from
    the run's own stream (the draw the posterior's users have always had)."""
    from model.engine.paramsets import draw_index, load_posterior, seeded_rng

    w = load_posterior().weights
    p = w / w.sum()
    for seed in (0, 7):
        ids = [*range(300), 10**6, 2**40]
        want = [seeded_rng(seed, i, 1).choice(len(p), p=p) for i in ids]
        np.testing.assert_array_equal(draw_index(seed, ids, w), want)


def test_parameter_columns_equal_one_mapping_per_run():
    """Posterior draws travel as columns; laid over the scenario they give, run by run, the
    mapping the table, the scenario, the drawn set and the overrides make in that order."""
    from model.core import params as P
    from model.engine.paramsets import draw_params, load_posterior
    from model.inputs.scenario import load_scenario

    sc = load_scenario(SC)
    res = simulate(sc, runs=7, seed=5, months=3, overrides={"forgetting": 0.9})
    rows = draw_params(5, range(7), load_posterior(), exclude=tuple(sc.params))
    for k, row in enumerate(rows):
        want = {**P.defaults(), **sc.params, **row, "forgetting": 0.9}
        assert {n: float(res.params[n][k]) for n in P.names()} == want


def test_simulate_writes_chunks_in_place_and_matches_iter_chunks():
    from model.engine.runner import iter_chunks

    whole = simulate(SC, runs=9, seed=4, months=12, chunk=4)
    parts = list(iter_chunks(SC, runs=9, seed=4, months=12, chunk=4))
    assert [p.runs for p in parts] == [4, 4, 1]
    for f in ("trust", "aid", "state", "actions", "params"):
        np.testing.assert_array_equal(getattr(whole, f),
                                      np.concatenate([getattr(p, f) for p in parts]))
    assert whole.trust.dtype == np.float32
    assert whole.trust.flags.c_contiguous
