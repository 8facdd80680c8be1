"""Sweeps (model/experiments/*, model/cli/sweep.py): the spec and its located errors, the samplers,
the rows on disk, resume after SIGKILL / Ctrl-C / a lost Dask worker, --fresh, and the analysis;
and the layers under them: atomic writes (model/io/atomic.py), the resumable chunk store
(model/io/store.py) and the executors (model/engine/executors.py)."""

from __future__ import annotations

import itertools
import json
import operator
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from model.analysis import outcomes as O
from model.cli.sweep import main
from model.core import params as P
from model.engine import executors as E
from model.engine.paramsets import draw_params
from model.engine.runner import run_block
from model.experiments import sweep as S
from model.inputs.scenario import load_scenario
from model.io import atomic
from model.io.paths import ROOT

HISTORY = load_scenario(ROOT / "scenarios" / "history.yaml")

#: The standard small sweep: Sobol N=8 over 3 parameters (8 x 5 = 40 samples) x 2 replicates
#: = 80 runs of the first 48 months of the history replay; 10 chunks of 8.
SPEC = """\
name: small
scenario: scenarios/history.yaml
sampler: {method: sobol, second_order: false}
samples: 8
replicates: 2
seed: 7
months: 48
parameters:
  retaliation_gain: [1.0, 9.0]
  choice_temperature: [0.5, 3.0]
  aid_compliance: {lo: 0.3, hi: 3.0}
outcomes:
  route_closed: months_route_closed
  trust_mil_us: {kind: mean_trust, pair: PAK_MIL->US, period: [2001-01, 2001-12]}
  aid: {kind: total_aid, flow: all}
  final_mil_us: {kind: final_trust, pair: PAK_MIL->US}
  hedges: {kind: action_count, action: MIL_HEDGE}
  decisions: {kind: decisions_reproduced, window: 6}
"""
RUNS, CHUNK, CHUNKS = 80, 8, 10
OUTCOMES = ("route_closed", "trust_mil_us", "aid", "final_mil_us", "hedges", "decisions")


def write(tmp: Path, text: str, name: str = "spec.yaml") -> Path:
    p = tmp / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def sweep(spec: Path, out: Path, *extra: str) -> int:
    return main(["sweep", str(spec), "--out", str(out), "--chunk", str(CHUNK), "--quiet",
                 *extra])


def drawn(rid: int, swept: dict[str, float], seed: int = 7) -> dict[str, float]:
    """Run ``rid``'s parameters as a sweep with the default ``params: posterior`` gives them:
    the run's draw from the calibrated posterior (as ``simulate(params=None)``), the scenario's
    own values winning, the swept values on top."""
    return {**draw_params(seed, [rid], exclude=tuple(HISTORY.params))[0], **swept}


def files(d: Path) -> dict[str, float]:
    return {str(p.relative_to(d)): p.stat().st_mtime_ns for p in sorted(d.rglob("*"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """The standard sweep, uninterrupted, in this process."""
    tmp = tmp_path_factory.mktemp("ref")
    spec = write(tmp, SPEC)
    assert sweep(spec, tmp / "out") == 0
    return spec, S.load_results(tmp / "out")


# --- the spec ------------------------------------------------------------------------------------

def test_shipped_examples_are_valid():
    specs = sorted((ROOT / "scenarios" / "sweeps").glob("*.yaml"))
    by_method = {}
    for path in specs:
        sw = S.load_spec(path)
        x = sw.sample_matrix()
        assert x.shape == (sw.rows, len(sw.dims))
        by_method[sw.method] = sw
    assert {"sobol", "morris", "lhs"} <= set(by_method)
    sob = by_method["sobol"]
    assert sob.scenario.name == "history"
    assert 4 <= len(sob.dims) <= 6
    assert sob.samples & (sob.samples - 1) == 0
    assert by_method["morris"].scenario.name == "history"


def test_plan_counts(tmp_path):
    sw = S.load_spec(write(tmp_path, SPEC))
    assert (sw.rows, sw.runs, sw.names) == (40, RUNS, ("retaliation_gain", "choice_temperature",
                                                      "aid_compliance"))
    assert sw.months == 48
    assert [o.name for o in sw.outcomes] == list(OUTCOMES)
    assert S.load_spec(write(tmp_path, SPEC), samples=16).rows == 80
    so = S.load_spec(write(tmp_path, SPEC.replace("second_order: false", "second_order: true")))
    assert so.rows == 8 * (2 * 3 + 2)


def test_sobol_samples_are_salibs(tmp_path):
    from SALib.sample import sobol

    sw = S.load_spec(write(tmp_path, SPEC))
    direct = sobol.sample(sw.problem(), 8, calc_second_order=False, scramble=True, seed=7)
    np.testing.assert_array_equal(sw.sample_matrix(), direct)


def test_lhs_samples_are_scipys(tmp_path):
    from scipy.stats import qmc

    spec = write(tmp_path, SPEC.replace("{method: sobol, second_order: false}", "lhs")
                 .replace("samples: 8", "samples: 13"))
    sw = S.load_spec(spec)
    u = qmc.LatinHypercube(d=3, rng=np.random.default_rng(7)).random(13)
    direct = qmc.scale(u, [1.0, 0.5, 0.3], [9.0, 3.0, 3.0])
    np.testing.assert_array_equal(sw.sample_matrix(), direct)
    # one value per stratum in every dimension
    for k, d in enumerate(sw.dims):
        strata = np.floor((sw.sample_matrix()[:, k] - d.lo) / (d.hi - d.lo) * 13)
        assert sorted(strata) == list(range(13))


def test_morris_samples_are_salibs(tmp_path):
    from SALib.sample import morris

    spec = write(tmp_path, SPEC.replace("{method: sobol, second_order: false}",
                                        "{method: morris, levels: 4}").replace("samples: 8",
                                                                               "samples: 5"))
    sw = S.load_spec(spec)
    assert sw.rows == 5 * 4
    direct = morris.sample(sw.problem(), 5, num_levels=4, seed=7)
    np.testing.assert_allclose(sw.sample_matrix(), direct, rtol=0, atol=1e-12)


def test_factorial_grid(tmp_path):
    spec = write(tmp_path, """\
        scenario: scenarios/baseline.yaml
        sampler: {method: factorial, levels: 3}
        months: 12
        parameters:
          sovereignty_weight: [1.0, 5.0]
          hedge_visibility: {levels: [0.2, 0.6]}
        outcomes: {closed: months_route_closed}
        """)
    sw = S.load_spec(spec)
    expect = list(itertools.product([1.0, 3.0, 5.0], [0.2, 0.6]))
    np.testing.assert_array_equal(sw.sample_matrix(), np.array(expect))
    assert sw.runs == 6


def test_spec_hash_tracks_what_determines_numbers(tmp_path):
    base = S.load_spec(write(tmp_path, SPEC)).spec_hash()
    assert S.load_spec(write(tmp_path, SPEC)).spec_hash() == base
    assert S.load_spec(write(tmp_path, SPEC.replace("name: small", "name: renamed"))
                       ).spec_hash() == base
    for old, new in (("seed: 7", "seed: 8"), ("months: 48", "months: 60"),
                     ("replicates: 2", "replicates: 3"), ("[1.0, 9.0]", "[1.0, 8.0]"),
                     ("window: 6", "window: 5")):
        assert S.load_spec(write(tmp_path, SPEC.replace(old, new))).spec_hash() != base, new
    assert S.load_spec(write(tmp_path, SPEC), samples=16).spec_hash() != base


# --- bad input: exit 2, a located message, no output folder ---------------------------------------

BAD = [
    ("retaliation_gain: [1.0, 9.0]", "retaliation_gian: [1.0, 9.0]",
     ["spec.yaml:9:", "unknown parameter 'retaliation_gian'", "did you mean 'retaliation_gain'"]),
    ("{lo: 0.3, hi: 3.0}", "{lo: -1, hi: 3}",
     ["spec.yaml:11:", "aid_compliance", "bounds [-1, 3]", "parameter table's bounds [0.0, 5.0]"]),
    ("[1.0, 9.0]", "[1.0, 13.0]", ["bounds [1.0, 13.0]", "[0.0, 12.0]"]),
    ("[1.0, 9.0]", "[9.0, 1.0]", ["lower bound 9.0 must be below the upper bound 1.0"]),
    ("[1.0, 9.0]", "[1.0, 5.0, 9.0]", ["expected [lo, hi]"]),
    ("{method: sobol, second_order: false}", "sobl",
     ["spec.yaml:3:", "unknown sampler 'sobl'", "did you mean 'sobol'"]),
    ("second_order: false", "second_ordr: false",
     ["spec.yaml:3:", "unknown key 'second_ordr'", "did you mean 'second_order'"]),
    ("samples: 8", "samples: 100",
     ["spec.yaml:4:", "power of two", "got 100; use 64 or 128"]),
    ("samples: 8", "samples: 8.5", ["spec.yaml:4:", "samples"]),
    ("{method: sobol, second_order: false}", "{method: morris, levels: 5}",
     ["even number of grid levels, got 5"]),
    ("{method: sobol, second_order: false}", "{method: morris, optimal_trajectories: 20}",
     ["optimal_trajectories: 20 is more than the 8 trajectories"]),
    ("{method: sobol, second_order: false}", "factorial",
     ["a factorial sweep takes its size from the levels"]),
    ("samples: 8\n", "", ["the sobol sampler needs 'samples'"]),
    ("[1.0, 9.0]", "{levels: [1.0, 5.0]}", ["explicit levels are for the factorial sampler"]),
    ("months_route_closed", "months_route_clsoed",
     ["spec.yaml:13:", "unknown outcome kind 'months_route_clsoed'",
      "did you mean 'months_route_closed'"]),
    ("pair: PAK_MIL->US, period", "pair: PAK_MIL->US, perod", ["unknown option 'perod'"]),
    ("[2001-01, 2001-12]", "[2001-01, 2005-12]", ["not inside the run 1998-01 .. 2001-12"]),
    ("route_closed: months", "retaliation_gain: months", ["the name 'retaliation_gain' is taken"]),
    ("months: 48", "months: 5000", ["spec.yaml:7:", "months"]),
    ("replicates: 2", "replicate: 2",
     ["spec.yaml:5:", "unknown key 'replicate'", "did you mean 'replicates'"]),
    ("scenarios/history.yaml", "scenarios/histroy.yaml",
     ["spec.yaml:2:", "no scenario file 'scenarios/histroy.yaml'"]),
    ("seed: 7", "seed: -1", ["spec.yaml:6:", "seed"]),
    ("seed: 7", "seed: 7\nfixed: {retaliation_gain: 2.0}", ["is also swept"]),
    ("seed: 7", "seed: 7\nfixed: {forgeting: 0.9}", ["did you mean 'forgetting'"]),
    ("seed: 7", "seed: 7\ntimeseries: [trust_PAK_MIL_USA]", ["unknown series 'trust_PAK_MIL_USA'"]),
    ("seed: 7", "seed: 7\nseed: 8", ["spec.yaml:7:", "duplicate key 'seed'"]),
    ("name: small\n", "- not a mapping\n", ["expected"]),
]


@pytest.mark.parametrize(("old", "new", "messages"), BAD, ids=[b[1][:28] for b in BAD])
def test_bad_spec_exit_2_and_no_folder(tmp_path, capsys, old, new, messages):
    assert old in SPEC
    spec = write(tmp_path, SPEC.replace(old, new, 1))
    out = tmp_path / "out"
    assert sweep(spec, out) == 2
    err = capsys.readouterr().err
    for m in messages:
        assert m in err, err
    assert not out.exists()


def test_bad_samples_override(tmp_path, capsys):
    out = tmp_path / "out"
    assert sweep(write(tmp_path, SPEC), out, "--samples", "12") == 2
    assert "power of two" in capsys.readouterr().err
    assert not out.exists()


def test_bad_command_line(tmp_path, capsys):
    spec = write(tmp_path, SPEC)
    with pytest.raises(SystemExit) as ex:
        main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--dask", "local",
              "--scheduler", "tcp://x:1"])
    assert ex.value.code == 2
    with pytest.raises(SystemExit) as ex:
        main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--workers", "0"])
    assert ex.value.code == 2
    assert main(["sweep", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_unreachable_scheduler_creates_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(E, "CONNECT_TIMEOUT", "1s")
    out = tmp_path / "out"
    assert sweep(write(tmp_path, SPEC), out, "--scheduler", "tcp://127.0.0.1:9") == 2
    assert "cannot reach a Dask scheduler" in capsys.readouterr().err
    assert not out.exists()


def test_dry_run_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert sweep(write(tmp_path, SPEC), out, "--dry-run") == 0
    assert "40 samples x 2 replicate(s) = 80 runs" in capsys.readouterr().out
    assert not out.exists()


def test_foreign_folder_refused(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert sweep(write(tmp_path, SPEC), out) == 2
    assert "not a sweep folder" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


# --- the rows on disk ----------------------------------------------------------------------------

def test_rows_ids_parameters_and_manifest(reference, tmp_path):
    spec, df = reference
    out = spec.parent / "out"
    assert len(df) == RUNS
    assert df["run_id"].tolist() == list(range(RUNS))
    assert (df["sample"] == df["run_id"] // 2).all()
    assert (df["replicate"] == df["run_id"] % 2).all()
    assert (df["seed"] == 7).all()
    assert list(df.columns) == ["run_id", "sample", "replicate", "seed", "retaliation_gain",
                                "choice_temperature", "aid_compliance", *OUTCOMES]
    samples = S.load_samples(out)
    assert len(samples) == 40
    for p in ("retaliation_gain", "choice_temperature", "aid_compliance"):
        np.testing.assert_array_equal(df[p].to_numpy(), samples[p].to_numpy()[df["sample"]])
    man = json.loads((out / "manifest.json").read_text())
    assert man["spec_hash"] == S.load_spec(spec).spec_hash()
    assert (man["sampler"], man["samples"], man["rows"], man["runs"]) == ("sobol", 8, 40, RUNS)
    assert (man["chunk"], man["chunks"]) == (CHUNK, CHUNKS)
    parts = parts_of(out)
    assert parts == [f"part-{k:06d}.parquet" for k in range(CHUNKS)]
    # each part sealed: the spec hash and the sha256 of its bytes (model.io.store)
    for n in parts:
        seal = json.loads((out / "parts" / f".{n}.check").read_text())
        assert seal["fingerprint"] == man["spec_hash"]
    assert man["params"] == "posterior"
    assert all(pq.read_metadata(out / "parts" / n).num_rows == CHUNK for n in parts)


def test_outcome_values_equal_a_direct_run(reference):
    """Rows against the engine run directly (run_block of that one run id) and arrays read by
    hand — an independent path from the sweep's chunked computation."""
    _, df = reference
    for rid in (0, 17, 79):
        row = df.iloc[rid]
        prm = drawn(rid, {p: float(row[p]) for p in ("retaliation_gain", "choice_temperature",
                                                     "aid_compliance")})
        res = run_block(HISTORY, 7, [rid], [prm], 48)
        assert row["final_mil_us"] == float(res.trust_series("PAK_MIL", "US")[0, -1])
        closed = res.state[0, 1:, 2] < 0.5       # supply_route_open
        assert row["route_closed"] == float(closed.sum())
        assert row["aid"] == pytest.approx(float(res.aid[0, 1:].astype(np.float64).sum()),
                                           rel=1e-12)
        trust_2001 = res.trust_series("PAK_MIL", "US")[0, 37:49].astype(np.float64)
        assert row["trust_mil_us"] == pytest.approx(trust_2001.mean(), rel=1e-12)


def test_same_values_for_any_chunking_and_process_count(reference, tmp_path):
    spec, ref = reference
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--chunk", "7", "--workers", "2",
                 "--quiet"]) == 0
    assert len(parts_of(out)) == -(-RUNS // 7)
    pd.testing.assert_frame_equal(S.load_results(out), ref)


def test_second_run_is_a_no_op(reference, capsys):
    spec, ref = reference
    out = spec.parent / "out"
    before = files(out)
    assert sweep(spec, out) == 0
    assert "10 of 10 chunk(s) already complete" in capsys.readouterr().err
    assert files(out) == before
    pd.testing.assert_frame_equal(S.load_results(out), ref)


def test_different_spec_on_existing_folder_refused(reference, capsys):
    spec, _ = reference
    out = spec.parent / "out"
    before = files(out)
    other = write(spec.parent, SPEC.replace("seed: 7", "seed: 8"), "other.yaml")
    assert sweep(other, out) == 2
    err = capsys.readouterr().err
    assert "holds a different sweep" in err
    assert "seed: folder has 7, this spec has 8" in err
    assert sweep(spec, out, "--samples", "16") == 2
    assert "samples: folder has 8, this spec has 16" in capsys.readouterr().err
    assert files(out) == before


# --- resume --------------------------------------------------------------------------------------

SLOW_SWEEP = """
import sys, time
import model.experiments.compute as C
fast = C.compute_chunk
def slow(task):
    time.sleep(0.15)
    return fast(task)
C.compute_chunk = slow
from model.cli.sweep import main
sys.exit(main(sys.argv[1:]))
"""


def parts_of(out: Path) -> list[str]:
    d = out / "parts"
    return sorted(p.name for p in d.iterdir() if not p.name.startswith(".")) if d.is_dir() else []


def test_resume_after_sigkill(reference, tmp_path, capsys):
    spec, ref = reference
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_SWEEP, "sweep", str(spec), "--out", str(out), "--chunk",
         str(CHUNK), "--quiet"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(parts_of(out)) < 3:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the sweep wrote no parts in 60 s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    done = parts_of(out)
    assert 3 <= len(done) < CHUNKS, done
    # a part is complete once its seal is written: the kill may fall between the two
    sealed = [p for p in done if (out / "parts" / f".{p}.check").exists()]
    assert len(sealed) >= len(done) - 1, (done, sealed)
    # a temporary file left by a kill mid-write, and a part damaged outside the sweep
    (out / "parts" / ".part-000009.parquet.4242.tmp").write_bytes(b"half a file")
    damaged = out / "parts" / sealed[0]
    damaged.write_bytes(damaged.read_bytes()[:100])

    assert sweep(spec, out) == 0
    assert f"{len(sealed) - 1} of {CHUNKS} chunk(s) already complete" in capsys.readouterr().err
    assert [p.name for p in (out / "parts").iterdir() if atomic.is_temp(p.name)] == []
    pd.testing.assert_frame_equal(S.load_results(out), ref)


def test_keyboard_interrupt_leaves_only_complete_parts(reference, tmp_path, monkeypatch,
                                                       capsys):
    spec, ref = reference
    out = tmp_path / "out"
    real = pq.write_table
    calls = []

    def flaky(table, where, **kw):
        calls.append(where)
        if len(calls) == 4:                       # samples.parquet, then parts 0, 1, 2
            Path(where).write_bytes(b"PAR1 partial")
            raise KeyboardInterrupt
        return real(table, where, **kw)

    monkeypatch.setattr(pq, "write_table", flaky)
    assert sweep(spec, out) == 130
    assert "interrupted" in capsys.readouterr().err
    names = parts_of(out)
    assert names == ["part-000000.parquet", "part-000001.parquet"]
    for n in names:
        assert pq.read_metadata(out / "parts" / n).num_rows == CHUNK
    monkeypatch.setattr(pq, "write_table", real)
    assert sweep(spec, out) == 0
    pd.testing.assert_frame_equal(S.load_results(out), ref)


def test_dask_worker_killed_mid_sweep(tmp_path):
    """A Dask worker process dies (SIGKILL) while chunks are in flight: the scheduler
    reschedules its work and every row comes back with the uninterrupted values."""
    from distributed import Client, LocalCluster

    # 320 runs of 1200 months in 10 chunks of 32: each task takes long enough (~0.1 s) for
    # work to be in flight on the worker that is killed
    spec = write(tmp_path, SPEC.replace("months: 48", "months: 1200")
                 .replace("samples: 8", "samples: 32"))
    sw = S.load_spec(spec)
    ref = S.run_sweep(sw, tmp_path / "ref", chunk=32, progress=False)
    assert ref.computed_runs == 320
    killed: list[int] = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        pids = client.run(os.getpid)

        in_flight: list[int] = []

        def kill_one(index: int, done: int) -> None:
            if killed:
                return
            busy = {a: len(keys) for a, keys in client.processing().items() if keys}
            addr = max(busy, key=busy.get)
            in_flight.append(busy[addr])
            os.kill(pids[addr], signal.SIGKILL)
            killed.append(pids[addr])

        # The sweep runs on this test's client: a second Client in the same process (as
        # ``scheduler=`` would make) runs its own event loop, and futures of the two clients
        # waiting side by side intermittently failed with "bound to a different event loop".
        report = S.run_sweep(sw, tmp_path / "dask", client=client, chunk=32, progress=False,
                             on_chunk=kill_one)
        assert killed
        assert in_flight[0] >= 1, "the killed worker had chunks in flight"
        assert report.computed_chunks == 10
        with pytest.raises(ProcessLookupError):
            os.kill(killed[0], 0)
        assert killed[0] not in client.run(os.getpid).values()
    pd.testing.assert_frame_equal(S.load_results(tmp_path / "dask"),
                                  S.load_results(tmp_path / "ref"))


def test_dask_scheduler_address(reference, tmp_path):
    """``--scheduler ADDR``: the sweep connects its own client to a running scheduler."""
    from distributed import LocalCluster

    spec, ref = reference
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        report = S.run_sweep(S.load_spec(spec), tmp_path / "out",
                             scheduler=cluster.scheduler_address, progress=False)
    assert report.computed_runs == len(ref)
    pd.testing.assert_frame_equal(S.load_results(tmp_path / "out"), ref)


def test_dask_local_cluster_from_the_command_line(reference, tmp_path, capsys):
    spec, ref = reference
    out = tmp_path / "out"
    assert sweep(spec, out, "--dask", "local", "--workers", "2") == 0
    assert "dask LocalCluster of 2 worker(s)" in capsys.readouterr().out
    pd.testing.assert_frame_equal(S.load_results(out), ref)


# --- time series ---------------------------------------------------------------------------------

def test_timeseries_on_request(tmp_path):
    spec = write(tmp_path, SPEC.replace("seed: 7", "seed: 7\ntimeseries: [trust_PAK_MIL_US, "
                                                    "aid_US_PAK_MIL, public_hostility, "
                                                    "action_PAK_MIL]"))
    out = tmp_path / "out"
    assert sweep(spec, out) == 0
    ts = S.load_timeseries(out)
    assert len(ts) == RUNS * 49
    assert list(ts.columns) == ["run_id", "step", "date", "trust_PAK_MIL_US", "aid_US_PAK_MIL",
                                "public_hostility", "action_PAK_MIL"]
    rows = S.load_results(out)
    rid = 33
    prm = drawn(rid, {p: float(rows.loc[rid, p]) for p in ("retaliation_gain",
                                                           "choice_temperature",
                                                           "aid_compliance")})
    res = run_block(HISTORY, 7, [rid], [prm], 48)
    one = ts[ts["run_id"] == rid].sort_values("step")
    assert one["step"].tolist() == list(range(49))
    assert one["date"].astype(str).tolist() == res.dates
    np.testing.assert_array_equal(one["trust_PAK_MIL_US"], res.trust_series("PAK_MIL", "US")[0])
    np.testing.assert_array_equal(one["aid_US_PAK_MIL"], res.aid[0, :, 0])
    np.testing.assert_array_equal(one["public_hostility"], res.public_hostility[0])
    assert one["action_PAK_MIL"].iloc[0] == -1
    np.testing.assert_array_equal(one["action_PAK_MIL"].to_numpy()[1:], res.actions[0, :, 1])
    assert not (tmp_path / "out2").exists()
    assert sweep(write(tmp_path, SPEC, "plain.yaml"), tmp_path / "out2") == 0
    assert not (tmp_path / "out2" / "timeseries").exists()
    with pytest.raises(S.SweepError, match="stored no time series"):
        S.load_timeseries(tmp_path / "out2")


# --- analysis ------------------------------------------------------------------------------------

def is_png(p: Path) -> bool:
    return p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def replicate_means(df: pd.DataFrame, name: str) -> np.ndarray:
    return df.groupby("sample")[name].mean().to_numpy()


def test_analyze_sobol(reference, tmp_path, capsys):
    from SALib.analyze import sobol

    spec, df = reference
    out = spec.parent / "out"
    dest = tmp_path / "an"
    assert main(["analyze", str(out), "--out", str(dest), "--resamples", "200"]) == 0
    text = capsys.readouterr().out
    assert "sobol analysis of sweep 'small'" in text
    assert "outcome route_closed" in text
    assert "S1_conf" in text
    table = pd.read_csv(dest / "sobol.csv")
    assert list(table.columns) == ["outcome", "parameter", "S1", "S1_conf", "ST", "ST_conf",
                                   "caveat"]
    assert len(table) == len(OUTCOMES) * 3
    sw = S.load_spec(spec)
    for name in ("route_closed", "final_mil_us"):
        direct = sobol.analyze(sw.problem(), replicate_means(df, name), calc_second_order=False,
                               num_resamples=200, conf_level=0.95,
                               seed=np.random.default_rng(0))
        mine = table[table["outcome"] == name]
        np.testing.assert_allclose(mine["S1"], direct["S1"], rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(mine["ST_conf"], direct["ST_conf"], rtol=1e-12,
                                   equal_nan=True)
    for name in OUTCOMES:
        assert is_png(dest / f"sobol_{name}.png")
        assert is_png(dest / f"scatter_{name}.png")


def test_analyze_morris_and_lhs(tmp_path, capsys):
    from SALib.analyze import morris
    from scipy.stats import spearmanr

    base = SPEC
    mspec = write(tmp_path, base.replace("{method: sobol, second_order: false}",
                                         "{method: morris, levels: 4}")
                  .replace("samples: 8", "samples: 6"), "morris.yaml")
    assert sweep(mspec, tmp_path / "m") == 0
    assert main(["analyze", str(tmp_path / "m"), "--no-plots"]) == 0
    assert "morris analysis" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "m" / "analysis" / "morris.csv")
    assert list(table.columns) == ["outcome", "parameter", "mu", "mu_star", "sigma",
                                   "mu_star_conf", "caveat"]
    sw = S.load_spec(mspec)
    df = S.load_results(tmp_path / "m")
    x = S.load_samples(tmp_path / "m").to_numpy()
    direct = morris.analyze(sw.problem(), x, replicate_means(df, "aid"), num_resamples=1000,
                            num_levels=4, seed=np.random.default_rng(0))
    mine = table[table["outcome"] == "aid"]
    np.testing.assert_allclose(mine["mu_star"], direct["mu_star"], rtol=1e-12)
    np.testing.assert_allclose(mine["mu_star_conf"], direct["mu_star_conf"], rtol=1e-12)
    assert not list((tmp_path / "m" / "analysis").glob("*.png"))

    lspec = write(tmp_path, base.replace("{method: sobol, second_order: false}", "lhs")
                  .replace("samples: 8", "samples: 12"), "lhs.yaml")
    assert sweep(lspec, tmp_path / "l") == 0
    assert main(["analyze", str(tmp_path / "l")]) == 0
    assert "spearman analysis" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "l" / "analysis" / "spearman.csv")
    df = S.load_results(tmp_path / "l")
    xs = S.load_samples(tmp_path / "l")
    mine = table[table["outcome"] == "aid"].set_index("parameter")
    for p in xs.columns:
        rho = spearmanr(xs[p], replicate_means(df, "aid")).statistic
        assert mine.loc[p, "spearman_rho"] == pytest.approx(rho, rel=1e-12)
    assert is_png(tmp_path / "l" / "analysis" / "scatter_aid.png")
    assert is_png(tmp_path / "l" / "analysis" / "spearman_aid.png")


def test_analyze_refuses_what_is_not_a_finished_sweep(reference, tmp_path, capsys):
    assert main(["analyze", str(tmp_path)]) == 2
    assert "not a sweep folder" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err
    spec, _ = reference
    out = tmp_path / "partial"
    assert sweep(spec, out) == 0
    (out / "parts" / "part-000004.parquet").unlink()
    assert main(["analyze", str(out)]) == 2
    assert "incomplete (9 of 10 chunks done)" in capsys.readouterr().err


def test_outcome_registry_is_shared(tmp_path):
    """The spec's outcomes are model.analysis.outcomes objects (one registry for sweeps and EMA)."""
    sw = S.load_spec(write(tmp_path, SPEC))
    assert all(isinstance(o, O.Outcome) and o.kind in O.KINDS for o in sw.outcomes)
    assert set(S.series_names()) >= {"trust_PAK_MIL_US", "aid_US_PAK_CIV", "public_hostility"}
    assert all(n in P.table() for n in sw.names)


def test_samplers_and_options_are_documented():
    doc = (ROOT / "docs" / "sweeps.md").read_text(encoding="utf-8")
    for method, model in S._SAMPLER_MODELS.items():
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{method}` |")),
                   None)
        assert row is not None, f"docs/sweeps.md lacks a row for sampler {method}"
        for opt in model.model_fields:
            assert opt == "method" or f"`{opt}`" in row, (method, opt)
    for key in S._SpecModel.model_fields:
        assert f"\n{key}:" in doc, f"docs/sweeps.md: the spec example lacks {key!r}"


# --- --fresh -------------------------------------------------------------------------------------

def test_fresh_starts_over_in_a_folder_of_another_sweep(reference, tmp_path, capsys):
    spec, ref = reference
    out = tmp_path / "out"
    assert sweep(spec, out, "--chunk", "40") == 0
    other = write(tmp_path, SPEC.replace("seed: 7", "seed: 8"), "other.yaml")
    assert sweep(other, out) == 2
    assert "Use --fresh to start over" in capsys.readouterr().err
    (out / "parts" / ".part-000000.parquet.99.tmp").write_bytes(b"left by a kill")
    assert sweep(other, out, "--fresh") == 0
    df = S.load_results(out)
    assert len(df) == RUNS
    assert (df["seed"] == 8).all()
    assert json.loads((out / "manifest.json").read_text())["spec"]["seed"] == 8
    assert parts_of(out) == [f"part-{k:06d}.parquet" for k in range(CHUNKS)]
    assert not [p for p in out.rglob(".*") if atomic.is_temp(p.name) or p.name == ".lock"]
    assert not df[list(OUTCOMES)].equals(ref[list(OUTCOMES)])


def test_fresh_never_empties_a_foreign_folder(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "manifest.json").write_text(json.dumps({"format": "someone-else/1"}))
    assert sweep(write(tmp_path, SPEC), out, "--fresh") == 2
    assert "not a sweep manifest" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "notes.txt"]


# --- the layers under sweeps: atomic writes, the chunk store, the executors -----------------------

def test_chunk_bounds_is_the_one_layout():
    from model.io.store import chunk_bounds

    assert chunk_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert chunk_bounds(8, 4) == [(0, 4), (4, 8)]
    assert chunk_bounds(0, 4) == []
    for total, size in itertools.product(range(30), range(1, 12)):
        b = chunk_bounds(total, size)
        assert [i for lo, hi in b for i in range(lo, hi)] == list(range(total))
        assert all(hi - lo == size for lo, hi in b[:-1])
    with pytest.raises(ValueError, match="chunk size"):
        chunk_bounds(10, 0)


def test_atomic_writes_leave_the_old_file_or_the_whole_new_one(tmp_path):
    from model.io import atomic

    target = tmp_path / "sub" / "a.txt"
    assert atomic.write_text(target, "one") == target
    assert target.read_text() == "one"
    seen = []

    def killed_mid_write() -> None:
        with atomic.atomic_output(target) as tmp:
            seen.append(tmp)
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        killed_mid_write()
    assert seen[0].parent == target.parent
    assert seen[0].suffix == ".txt"
    assert atomic.is_temp(seen[0].name)
    assert target.read_text() == "one"
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]
    with pytest.raises(KeyboardInterrupt), atomic.atomic_output(target, fsync=False):
        raise KeyboardInterrupt
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]
    atomic.write_text(target, "two", fsync=False)
    assert target.read_text() == "two"
    npz = atomic.write_npz(tmp_path / "x.npz", {"mean": np.arange(3.0), "var": np.ones(3)})
    with np.load(npz) as z:
        np.testing.assert_array_equal(z["mean"], np.arange(3.0))
    csv = atomic.write_csv(tmp_path / "t.csv", pd.DataFrame({"a": [1, 2]}))
    assert csv.read_text().splitlines() == ["a", "1", "2"]
    (tmp_path / ".t.csv.123-abcd.tmp.csv").write_text("left")
    (tmp_path / ".keep").write_text("not a temporary file")
    assert atomic.clean_temp(tmp_path, tmp_path / "missing") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".keep", "sub", "t.csv", "x.npz"]


def test_store_resume_refusals_and_part_checks(tmp_path):
    import pyarrow as pa

    from model.io.store import Parts, Store, StoreError

    parts = Parts("parts", "w{:02d}-c{:05d}.npz")
    table = Parts("rows", "part-{:06d}.parquet")
    st = Store(tmp_path / "s", "test/1", (parts, table), files=("design.npz",))
    man = st.open({"settings": {"seed": 1, "n": 4}, "note": "x"}, "settings")
    assert man["format"] == "test/1"
    assert st.exists()
    st.write_arrays(parts, (0, 3), {"mean": np.zeros(5), "var": np.ones(5)})
    st.write_arrays(parts, (12, 0), {"mean": np.zeros(2)})
    st.write_table(table, 0, pa.table({"a": [1, 2, 3]}))
    assert parts.keys(st.root) == [(0, 3), (12, 0)]
    assert table.keys(st.root) == [0]
    assert st.done(parts, {(0, 3): 5, (12, 0): 3, (1, 0): None}) == {(0, 3)}
    assert st.part_ok(table, 0, 3)
    assert not st.part_ok(table, 0, 4)
    p = st.path(table, 0)
    p.write_bytes(p.read_bytes()[:20])                 # damaged outside the store
    assert not st.part_ok(table, 0, 3)
    # the same computation resumes (whatever else the manifest says); another is refused
    assert st.open({"settings": {"seed": 1, "n": 4}, "note": "y"}, "settings")["note"] == "x"
    with pytest.raises(StoreError, match=r"(?s)seed.*folder has 1, this run has 2.*--fresh"):
        st.open({"settings": {"seed": 2, "n": 4}}, "settings")
    with pytest.raises(StoreError, match="holds a different output"):
        st.check({"format": "test/1", "other": 1})
    # fresh: only the store's own files go
    (st.root / "design.npz").write_bytes(b"x")
    st.open({"settings": {"seed": 2, "n": 4}}, "settings", fresh=True)
    assert parts.keys(st.root) == []
    assert not (st.root / "design.npz").exists()
    assert st.read_manifest()["settings"]["seed"] == 2
    (st.root / "mine.txt").write_text("foreign")
    (st.root / "manifest.json").unlink()
    with pytest.raises(StoreError, match=r"not a output folder \(it holds mine.txt\)"):
        st.open({"settings": {}}, "settings", fresh=True)
    with pytest.raises(StoreError, match="exists and is not a folder"):
        Store(st.root / "mine.txt", "test/1").check({})


def _double(x: int) -> int:
    return 2 * x


def test_executors_run_every_task_and_stop_cleanly():
    inline = E.make_executor()
    assert isinstance(inline, E.Inline)
    assert inline.numba_threads is None
    assert list(inline.submit_all(_double, range(5))) == [0, 2, 4, 6, 8]
    consumed = []

    def tasks():
        for i in range(100):
            consumed.append(i)
            yield i

    results = inline.submit_all(_double, tasks())
    assert next(results) == 0
    results.close()                            # as an exception in the consumer would
    assert consumed == [0]                     # tasks are drawn lazily, window by window
    with pytest.raises(E.ExecutorError, match="expected 'local'"):
        E.make_executor(dask="remote")
    with E.make_executor(workers=2) as pool:
        assert isinstance(pool, E.Processes)
        assert pool.numba_threads == 1
        assert sorted(pool.submit_all(operator.neg, range(7))) == [-6, -5, -4, -3, -2, -1, 0]


def test_spec_scenario_is_confined_to_its_folders(tmp_path):
    """A spec's scenario is read only from the spec's folder or the project's: a symbolic link
    that leads elsewhere is refused without quoting the file it leads to."""
    secret = tmp_path / "outside" / "secret.yaml"
    secret.parent.mkdir()
    secret.write_text("password: hunter2\n")
    here = tmp_path / "specs"
    here.mkdir()
    (here / "link.yaml").symlink_to(secret)
    spec = here / "spec.yaml"
    body = ("name: t\nscenario: {}\nsampler: {{method: lhs}}\nsamples: 8\n"
            "parameters:\n  forgetting: [0.9, 0.99]\noutcomes:\n  closed: months_route_closed\n")
    for target in ("link.yaml", str(secret)):
        spec.write_text(body.format(target))
        with pytest.raises(S.SweepError, match="outside") as err:
            S.load_spec(spec)
        assert "hunter2" not in str(err.value)
    spec.write_text(body.format("scenarios/baseline.yaml"))      # the project's own
    assert S.load_spec(spec).scenario.name == "baseline"
