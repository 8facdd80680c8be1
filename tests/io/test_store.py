"""A store that cannot mix (issue 15, item 3) and sweeps on the same footing as the rest (item 6):
the writer lock (two real concurrent sweeps on one folder), sealed parts (a part copied from
another sweep, flipped bytes behind an intact footer, a deleted manifest), temporary files on
SIGTERM and after SIGKILL, the parameters a sweep does not vary (the calibrated posterior by
default) and the confidence intervals and warnings of the analysis."""

from __future__ import annotations

import json
import os
import shutil
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

from model.cli.sweep import main
from model.engine.runner import run_block, simulate
from model.experiments import analysis as A
from model.experiments import sweep as S
from model.inputs.scenario import load_scenario
from model.io import atomic
from model.io.paths import ROOT
from model.io.store import LOCK, Parts, Store, StoreError

HISTORY = load_scenario(ROOT / "scenarios" / "history.yaml")

#: Sobol N=8 over 2 parameters (8 x 4 = 32 samples) x 2 replicates = 64 runs of 24 months;
#: 8 chunks of 8.
SPEC = """\
name: small
scenario: scenarios/history.yaml
sampler: {method: sobol, second_order: false}
samples: 8
replicates: 2
seed: 7
months: 24
parameters:
  retaliation_gain: [1.0, 9.0]
  aid_compliance: [0.3, 3.0]
outcomes:
  route_closed: months_route_closed
  final_mil_us: {kind: final_trust, pair: PAK_MIL->US}
  aid: {kind: total_aid, flow: all}
"""
RUNS, CHUNK, CHUNKS = 64, 8, 8
#: bound on every subprocess of these tests
TIMEOUT = 120

#: A sweep whose chunks are slow (0.15 s), or, with SWEEP_GATE set, that waits from its third
#: chunk on until the gate file exists: a writer held mid-run for as long as a test needs.
SLOW_SWEEP = """
import os, sys, time
import model.experiments.compute as C
fast = C.compute_chunk
gate = os.environ.get("SWEEP_GATE")
def slow(task):
    if gate and task.index >= 2:
        t0 = time.monotonic()
        while not os.path.exists(gate) and time.monotonic() - t0 < 100:
            time.sleep(0.02)
    else:
        time.sleep(0.15)
    return fast(task)
C.compute_chunk = slow
from model.cli.sweep import main
sys.exit(main(sys.argv[1:]))
"""


def write(tmp: Path, text: str, name: str = "spec.yaml") -> Path:
    p = tmp / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def sweep(spec: Path, out: Path, *extra: str) -> int:
    return main(["sweep", str(spec), "--out", str(out), "--chunk", str(CHUNK), "--quiet",
                 *extra])


def start(spec: Path, out: Path, gate: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, **({"SWEEP_GATE": str(gate)} if gate else {})}
    return subprocess.Popen(
        [sys.executable, "-c", SLOW_SWEEP, "sweep", str(spec), "--out", str(out), "--chunk",
         str(CHUNK), "--quiet"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return proc.returncode, err


def parts_of(out: Path) -> list[str]:
    d = out / "parts"
    return sorted(p.name for p in d.iterdir() if not p.name.startswith(".")) if d.is_dir() else []


def wait_for_parts(out: Path, n: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT
    while len(parts_of(out)) < n:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, f"the sweep wrote no {n} parts in {TIMEOUT} s"
        time.sleep(0.01)


def temp_files(out: Path) -> list[str]:
    return sorted(p.name for p in out.rglob(".*") if atomic.is_temp(p.name))


@pytest.fixture(scope="module")
def refs(tmp_path_factory) -> dict[str, tuple[Path, pd.DataFrame]]:
    """Two specs (seeds 7 and 8), each swept uninterrupted: spec file and rows."""
    tmp = tmp_path_factory.mktemp("refs")
    out = {}
    for seed in (7, 8):
        spec = write(tmp, SPEC.replace("seed: 7", f"seed: {seed}"), f"s{seed}.yaml")
        assert sweep(spec, tmp / f"out{seed}") == 0
        out[str(seed)] = (spec, S.load_results(tmp / f"out{seed}"))
    return out


# --- the writer lock -----------------------------------------------------------------------------

def test_a_second_writer_is_refused_at_once(tmp_path):
    a = Store(tmp_path / "s", "test/1", what="calibration")
    b = Store(tmp_path / "s", "test/1", what="calibration")
    a.open({"x": 1})
    assert (tmp_path / "s" / LOCK).read_text().strip() == str(os.getpid())
    t0 = time.monotonic()
    with pytest.raises(StoreError, match=r"s: another calibration is writing this folder "
                                         rf"\(process {os.getpid()}\); wait for it"):
        b.open({"x": 1})
    assert time.monotonic() - t0 < 1
    a.unlock()
    assert not (tmp_path / "s" / LOCK).exists()
    assert b.open({"x": 1})["x"] == 1            # free again
    b.unlock()
    # a folder the lock created and nothing filled is removed again
    with Store(tmp_path / "new", "test/1"):
        assert (tmp_path / "new").is_dir()
    assert not (tmp_path / "new").exists()


def test_sweep_on_a_folder_being_written_is_refused(refs, tmp_path, capsys):
    spec, _ = refs["7"]
    out = tmp_path / "out"
    with S.sweep_store(out):                     # another writer holds the folder
        assert sweep(spec, out) == 2
    err = capsys.readouterr().err
    assert f"{out}: another sweep is writing this folder" in err
    assert "give another --out" in err
    assert not out.exists()                      # nothing of the refused sweep was written


def test_two_sweeps_on_one_folder_one_refused_the_others_rows_intact(refs, tmp_path):
    """Held mid-run: the first sweep holds the folder (gated after two parts); a second one is
    refused at once — by the lock when it is the same spec, by the lock or the manifest when it
    is another; the first then finishes with its own rows only."""
    (s7, ref7), (s8, _) = refs["7"], refs["8"]
    out, gate = tmp_path / "out", tmp_path / "go"
    first = start(s7, out, gate)
    try:
        wait_for_parts(out, 2, first)
        code, err = finish(start(s7, out))
        assert code == 2, err
        assert f"{out}: another sweep is writing this folder (process {first.pid})" in err
        code, err = finish(start(s8, out))
        assert code == 2, err
        assert "holds a different sweep" in err
        assert first.poll() is None                   # still writing, undisturbed
    finally:
        gate.write_text("go")
        code, err = finish(first)
    assert code == 0, err
    pd.testing.assert_frame_equal(S.load_results(out), ref7)


def test_two_sweeps_started_together_on_one_folder(refs, tmp_path):
    """Started at the same moment (the issue's case): exactly one finishes, the other is
    refused (by the lock, or, had the first finished already, by the manifest), and the folder
    holds the winner's rows, all of them, and nothing else."""
    (s7, ref7), (s8, ref8) = refs["7"], refs["8"]
    out = tmp_path / "out"
    procs = [start(s7, out), start(s8, out)]
    results = [finish(p) for p in procs]
    codes = sorted(c for c, _ in results)
    assert codes == [0, 2], results
    loser_err = next(e for c, e in results if c == 2)
    assert ("another sweep is writing this folder" in loser_err
            or "holds a different sweep" in loser_err), loser_err
    winner = ref7 if results[0][0] == 0 else ref8
    pd.testing.assert_frame_equal(S.load_results(out), winner)
    assert not temp_files(out)
    assert not (out / LOCK).exists()


# --- sealed parts --------------------------------------------------------------------------------

def test_a_part_copied_from_another_sweep_is_recomputed(refs, tmp_path, capsys):
    (s7, ref7), (s8, _) = refs["7"], refs["8"]
    other = s8.parent / "out8" / "parts"
    out = tmp_path / "out"
    shutil.copytree(s7.parent / "out7", out)
    shutil.copy(other / "part-000003.parquet", out / "parts")            # the part alone
    shutil.copy(other / "part-000005.parquet", out / "parts")            # part and seal
    shutil.copy(other / ".part-000005.parquet.check", out / "parts")
    assert main(["analyze", str(out), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "incomplete (6 of 8 chunks done); 2 part(s) do not count" in err
    assert "parts/part-000005.parquet: sealed for another sweep" in err
    assert "parts/part-000003.parquet: its bytes differ from its checksum" in err
    assert sweep(s7, out) == 0
    err = capsys.readouterr().err
    assert "note: 2 part(s) do not count" in err
    assert "they are recomputed" in err
    assert "6 of 8 chunk(s) already complete" in err
    pd.testing.assert_frame_equal(S.load_results(out), ref7)


def test_flipped_bytes_behind_an_intact_footer_do_not_count(refs, tmp_path, capsys):
    spec, ref = refs["7"]
    out = tmp_path / "out"
    shutil.copytree(spec.parent / "out7", out)
    part = out / "parts" / "part-000002.parquet"
    data = bytearray(part.read_bytes())
    mid = len(data) // 3
    data[mid:mid + 8] = bytes(b ^ 0xFF for b in data[mid:mid + 8])
    part.write_bytes(bytes(data))
    assert pq.read_metadata(part).num_rows == CHUNK      # the footer still reads: not enough
    assert main(["analyze", str(out), "--no-plots"]) == 2     # a message, not a crash
    assert "part-000002.parquet: its bytes differ from its checksum" in capsys.readouterr().err
    assert sweep(spec, out) == 0
    assert "7 of 8 chunk(s) already complete" in capsys.readouterr().err
    pd.testing.assert_frame_equal(S.load_results(out), ref)
    assert main(["analyze", str(out), "--no-plots"]) == 0


def test_parts_without_a_manifest_are_refused(refs, tmp_path, capsys):
    (s7, _), (s8, ref8) = refs["7"], refs["8"]
    out = tmp_path / "out"
    shutil.copytree(s7.parent / "out7", out)
    (out / "manifest.json").unlink()
    before = sorted(p.name for p in (out / "parts").iterdir())
    for spec in (s8, s7):                       # neither another spec nor the same adopts it
        assert sweep(spec, out) == 2
        err = capsys.readouterr().err
        assert "part file(s) but no manifest.json" in err
        assert "--fresh" in err
    assert sorted(p.name for p in (out / "parts").iterdir()) == before
    assert sweep(s8, out, "--fresh") == 0
    pd.testing.assert_frame_equal(S.load_results(out), ref8)


def test_npz_parts_are_sealed_too(tmp_path):
    """The calibration's parts (``.npz``, whole manifest as identity) get the same checks."""
    parts = Parts("parts", "w{:02d}-c{:05d}.npz")
    a = Store(tmp_path / "a", "test/1", (parts,))
    b = Store(tmp_path / "b", "test/1", (parts,))
    a.open({"seed": 1})
    b.open({"seed": 2})
    a.write_arrays(parts, (0, 0), {"mean": np.zeros(3)})
    b.write_arrays(parts, (0, 0), {"mean": np.ones(3)})
    assert a.part_ok(parts, (0, 0), 3)
    for name in ("w00-c00000.npz", ".w00-c00000.npz.check"):
        shutil.copy(b.root / "parts" / name, a.root / "parts" / name)
    assert a.done(parts, {(0, 0): 3}) == set()
    assert a.rejected == {"parts/w00-c00000.npz": "sealed for another output (fingerprint "
                                                  "differs)"}


# --- temporary files -----------------------------------------------------------------------------

def test_sigterm_removes_the_temporary_file_being_written(tmp_path):
    target = tmp_path / "table.parquet"
    before = signal.getsignal(signal.SIGTERM)

    def killed_while_writing() -> None:
        with atomic.terminate_cleanly(), atomic.atomic_output(target) as tmp:
            tmp.write_bytes(b"half a table")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)                        # the handler raises long before

    with pytest.raises(atomic.Terminated) as exc:
        killed_while_writing()
    assert exc.value.exit_code == 128 + signal.SIGTERM
    assert isinstance(exc.value, KeyboardInterrupt)     # the same path as Ctrl-C
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) == before    # the old handler is back


def test_sigterm_ends_a_sweep_cleanly_and_it_resumes(refs, tmp_path):
    spec, ref = refs["7"]
    out = tmp_path / "out"
    proc = start(spec, out, gate=tmp_path / "never")    # held from its third chunk on
    try:
        wait_for_parts(out, 2, proc)
        proc.send_signal(signal.SIGTERM)
    finally:
        code, err = finish(proc)
    assert code == 128 + signal.SIGTERM, err
    assert "interrupted (terminated by SIGTERM): the completed chunks are saved" in err
    assert not temp_files(out)
    assert not (out / LOCK).exists()
    assert len(parts_of(out)) == 2
    # what a SIGKILL would leave: swept up by the next run
    (out / ".samples.parquet.4242.tmp").write_bytes(b"x")
    (out / "parts" / ".part-000007.parquet.4242-abcd.tmp.parquet").write_bytes(b"x")
    assert sweep(spec, out) == 0
    assert not temp_files(out)
    pd.testing.assert_frame_equal(S.load_results(out), ref)


def test_long_table_leftovers_of_dead_writers_are_swept(tmp_path):
    from model.io.longtable import write_long_table

    out = tmp_path / "runs.parquet"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = [tmp_path / f".runs.parquet.{dead}-0a1b.tmp.parquet",
             tmp_path / ".runs.parquet.k2j3h4.part"]            # the older writer's
    live = tmp_path / f".runs.parquet.{os.getpid()}-0a1b.tmp.parquet"   # a writer still running
    other = tmp_path / f".other.parquet.{dead}-0a1b.tmp.parquet"       # another target's
    for p in (*stale, live, other):
        p.write_bytes(b"left")
    res = simulate(HISTORY, runs=2, seed=1, months=3, params="default")
    assert write_long_table([res], out) == len(res.to_frame())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [out.name, live.name, other.name])


# --- the parameters a sweep does not vary --------------------------------------------------------

ONE_POINT = """\
scenario: scenarios/history.yaml
sampler: factorial
replicates: 6
seed: 3
months: 24
parameters:
  retaliation_gain: {levels: [4.0]}
outcomes:
  final_mil_us: {kind: final_trust, pair: PAK_MIL->US}
"""


def test_not_swept_parameters_are_the_posterior_draws_of_simulate(tmp_path, capsys):
    """A one-point sweep equals ``simulate(params=None)`` with the point as an override, run
    by run: the same posterior draw per run id; ``params: default`` equals the table's."""
    out = tmp_path / "post"
    assert main(["sweep", str(write(tmp_path, ONE_POINT)), "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "parameters not swept: per-run draws from the calibrated posterior" in text
    rows = S.load_results(out)
    sim = simulate(HISTORY, runs=6, seed=3, months=24, overrides={"retaliation_gain": 4.0})
    np.testing.assert_array_equal(rows["final_mil_us"],
                                  sim.trust_series("PAK_MIL", "US")[:, -1].astype(np.float64))
    dflt = tmp_path / "dflt"
    assert main(["sweep", str(write(tmp_path, ONE_POINT)), "--out", str(dflt), "--quiet",
                 "--params", "default"]) == 0
    assert "parameters not swept: the parameter table's defaults" in capsys.readouterr().out
    res = run_block(HISTORY, 3, range(6), [{"retaliation_gain": 4.0}] * 6, 24)
    table_rows = S.load_results(dflt)["final_mil_us"]
    np.testing.assert_array_equal(table_rows,
                                  res.trust_series("PAK_MIL", "US")[:, -1].astype(np.float64))
    assert not np.array_equal(table_rows, rows["final_mil_us"])
    assert S.read_manifest(dflt)["params"] == "default"
    # the choice is part of the identity: no resume with the other one
    assert main(["sweep", str(write(tmp_path, ONE_POINT)), "--out", str(out), "--quiet",
                 "--params", "default"]) == 2
    assert 'params: folder has "posterior", this spec has "default"' in capsys.readouterr().err
    spec = write(tmp_path, ONE_POINT + "params: default\n", "d.yaml")
    assert S.load_spec(spec).params == "default"
    assert S.load_spec(spec).spec_hash() == S.read_manifest(dflt)["spec_hash"]
    with pytest.raises(S.SweepError, match=r"d.yaml:\d+:\d+: params"):
        S.load_spec(write(tmp_path, ONE_POINT + "params: table\n", "d.yaml"))


# --- confidence intervals and the size warning ----------------------------------------------------

def test_indices_come_with_intervals_caveats_and_a_size_warning(refs, tmp_path, capsys):
    spec, _ = refs["7"]
    dest = tmp_path / "an"
    assert main(["analyze", str(spec.parent / "out7"), "--out", str(dest), "--no-plots"]) == 0
    text = capsys.readouterr().out
    assert "warning: N = 8 Sobol base samples is below 256" in text
    assert "*_conf: half-width of the 95% bootstrap confidence interval (1000 resamples)" in text
    assert "parameters not swept: per-run draws from the calibrated posterior" in text
    table = pd.read_csv(dest / "sobol.csv", keep_default_na=False)
    assert {"S1_conf", "ST_conf", "caveat"} <= set(table.columns)
    for _, row in table.iterrows():
        wide = float(row["ST_conf"]) > abs(float(row["ST"]))
        assert ("ST CI wider than ST" in row["caveat"]) == wide
    flagged = table[table["caveat"] != ""]
    if len(flagged):
        assert "index whose confidence interval is wider than the index" in text
    assert A.size_warning({"sampler": "sobol", "samples": A.SOBOL_MIN_N}) is None
    assert A.size_warning({"sampler": "morris", "samples": 4, "sampler_options": {}})
    assert A.size_warning({"sampler": "lhs", "samples": 4}) is None


def test_caveats_flag_wide_intervals_and_indices_out_of_range():
    tab = pd.DataFrame({"parameter": ["a", "b", "c"], "S1": [0.5, 0.05, 0.2],
                        "S1_conf": [0.1, 0.2, 0.1], "ST": [0.6, 2.3, 0.3],
                        "ST_conf": [0.1, 0.5, 0.05]})
    assert A.caveats("sobol", tab) == ["", "S1 CI wider than S1; ST outside [0, 1]", ""]
    m = pd.DataFrame({"mu_star": [1.0, 0.1], "mu_star_conf": [0.5, 0.3]})
    assert A.caveats("morris", m) == ["", "mu_star CI wider than mu_star"]


def test_manifest_is_json(refs):
    spec, _ = refs["7"]
    man = json.loads((spec.parent / "out7" / "manifest.json").read_text())
    assert man["params"] == "posterior"
    assert man["spec"]["posterior_sha256"]
