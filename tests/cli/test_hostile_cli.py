"""Hostile command lines (issue 15): every command x bad paths and corrupt state files.

Each case must end in a clear message on stderr (naming the file or option) and exit 2 — never a
traceback, never a hang, never a partial output. Bad paths: a folder where a file is expected
(and a file where a folder is), an unwritable place, a name too long for the file system, a path
under a regular file, a full disk (``/dev/full``, and ENOSPC raised while writing), a named pipe
(FIFO), ``/dev/zero`` as input, a missing input. Corrupt state files: posterior CSVs (a text
value, NaN, an infinity, empty, binary, ...), sweep folders (manifest not JSON, truncated
``samples.parquet`` and parts). The corrupt files themselves live in ``tests/data/hostile/cli/``
(``CORPUS`` below names each and what its message must say); the paths that cannot be files in
a repository (pipes, devices, unwritable folders) are made in a temporary folder.

The cases run in this process through ``model.cli.main.main`` (the CLI's one error boundary);
``test_sigterm_leaves_no_part_file`` and ``test_traceback_only_with_debug`` run real processes.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from model.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "hostile" / "cli"
HISTORY = str(ROOT / "scenarios" / "history.yaml")
WHATIF = str(ROOT / "scenarios" / "whatif_no_salala.yaml")
LHS = str(ROOT / "scenarios" / "sweeps" / "baseline_lhs.yaml")

#: Every file of tests/data/hostile/cli and a piece of what its message must say.
CORPUS = {
    "posterior_text_value.csv": "expected a finite number",
    "posterior_nan.csv": "expected a finite number",
    "posterior_inf.csv": "expected a finite number",
    "posterior_empty.csv": "not a readable posterior CSV",
    "posterior_header_only.csv": "at least one row",
    "posterior_no_weight.csv": "no 'weight' column",
    "posterior_unknown_column.csv": "unknown parameter column",
    "posterior_negative_weight.csv": "non-negative weights",
    "posterior_out_of_bounds.csv": "outside the table's bounds",
    "posterior_binary.csv": "posterior",
    "posterior_ragged.csv": "not a readable posterior CSV",
    "manifest_not_json.json": "manifest",
    "manifest_array.json": "manifest",
    "manifest_empty.json": "manifest",
}


def test_corpus_matches_folder():
    """Every file of the corpus has an expectation and every expectation a file."""
    assert sorted(p.name for p in DATA.iterdir()) == sorted(CORPUS)
    assert max(p.stat().st_size for p in DATA.iterdir()) < 2_000, "corpus files are small"


@dataclass(frozen=True)
class Case:
    family: str
    argv: tuple[str, ...]
    says: str          # a piece of the message (after the paths are filled in)


def _unwritable(tmp: Path) -> Path:
    """A read-only folder (mode 0o500). Root may still write there; the cases that use it then
    see the folder as a read-only mount would show it (``os.access`` says no: see ``filled``)."""
    ro = tmp / "readonly"
    ro.mkdir()
    ro.chmod(0o500)
    return ro


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("hostile_cli")
    (tmp / "table.csv").mkdir()                      # a folder named like a file
    (tmp / "afile.txt").write_text("x\n")             # a regular file (and a path under it)
    os.mkfifo(tmp / "pipe.csv")
    os.mkfifo(tmp / "pipe.yaml")
    (tmp / "full.csv").symlink_to("/dev/full")
    (tmp / "zero.yaml").symlink_to("/dev/zero")
    (tmp / "folder.yaml").mkdir()
    ro = _unwritable(tmp)
    return {"tmp": str(tmp), "folder_out": str(tmp / "table.csv"),
           "file": str(tmp / "afile.txt"), "under_file": str(tmp / "afile.txt" / "x.csv"),
           "long": str(tmp / ("a" * 300 + ".csv")), "long_dir": str(tmp / ("d" * 300)),
           "fifo_out": str(tmp / "pipe.csv"), "fifo_in": str(tmp / "pipe.yaml"),
           "full": str(tmp / "full.csv"), "zero": "/dev/zero", "zero_link": str(tmp / "zero.yaml"),
           "folder_in": str(tmp / "folder.yaml"), "missing": str(tmp / "missing.yaml"),
           "missing_csv": str(tmp / "missing.csv"),
           "ro": str(ro / "x.csv"), "ro_dir": str(ro / "sub"), "ro_root": str(ro)}


def _out_cases() -> list[Case]:
    """Output paths of every command that writes: each kind of bad place."""
    bad_file = [("folder", "{folder_out}", "is a folder"),
                ("under a file", "{under_file}", "not a folder"),
                ("name too long", "{long}", "choose a shorter"),
                ("full disk", "{full}", "is a device"),
                ("fifo", "{fifo_out}", "named pipe"),
                ("unwritable", "{ro}", "cannot be")]
    bad_dir = [("a file", "{file}", "not a folder"),
               ("under a file", "{under_file}", "not a folder"),
               ("name too long", "{long_dir}", "choose a shorter"),
               ("fifo", "{fifo_out}", "named pipe"),
               ("unwritable", "{ro_dir}", "cannot be")]
    cases = []
    for fam, path, says in bad_file:
        cases += [Case(f"run --out: {fam}", ("run", HISTORY, "--out", path), says),
                  Case(f"run --bands: {fam}", ("run", HISTORY, "--bands", path), says),
                  Case(f"schema --out: {fam}", ("schema", "--out", path), says)]
    for fam, path, says in bad_dir:
        cases += [Case(f"compare --out: {fam}", ("compare", HISTORY, WHATIF, "--runs", "2",
                                                 "--out", path), says),
                  Case(f"sweep --out: {fam}", ("sweep", LHS, "--samples", "2", "--quiet",
                                               "--out", path), ""),
                  Case(f"analyze --out: {fam}", ("analyze", "{sweep}", "--no-plots",
                                                 "--resamples", "10", "--out", path), "")]
    return cases


def _in_cases() -> list[Case]:
    """Input paths of every command that reads: each kind of bad file."""
    bad = [("folder", "{folder_in}", "folder"), ("fifo", "{fifo_in}", "named pipe"),
           ("/dev/zero", "{zero}", "device"), ("link to /dev/zero", "{zero_link}", "device"),
           ("missing", "{missing}", "no such file")]
    cases = []
    for fam, path, says in bad:
        cases += [Case(f"run scenario: {fam}", ("run", path), says),
                  Case(f"validate: {fam}", ("validate", path), says),
                  Case(f"compare A: {fam}", ("compare", path, WHATIF, "--runs", "2"), says),
                  Case(f"compare B: {fam}", ("compare", HISTORY, path, "--runs", "2"), says),
                  Case(f"sweep spec: {fam}", ("sweep", path, "--out", "{tmp}/sw_in"), ""),
                  Case(f"analyze dir: {fam}", ("analyze", path, "--no-plots"), "")]
    for fam, path, says in [("folder", "{tmp}/table.csv", "folder"),
                            ("fifo", "{fifo_out}", "named pipe"),
                            ("link to /dev/full", "{full}", "device"),
                            ("missing", "{missing_csv}", "no such file")]:
        cases += [Case(f"run --params: {fam}", ("run", HISTORY, "--params", path), says),
                  Case(f"history-check --params: {fam}",
                       ("history-check", "--runs", "2", "--params", path), says),
                  Case(f"compare --params: {fam}",
                       ("compare", HISTORY, WHATIF, "--runs", "2", "--params", path), says)]
    return cases


def _same_file_cases() -> list[Case]:
    """An output that is an input or another output of the same command."""
    return [
        Case("run --out = the scenario", ("run", "{tmp}/scen.csv", "--out", "{tmp}/scen.csv"),
             ""),
        Case("run --out = --bands", ("run", HISTORY, "--out", "{tmp}/t.csv", "--bands",
                                     "{tmp}/t.csv"), "name the same file"),
        Case("run --bands = --params", ("run", HISTORY, "--params", "{tmp}/post.csv", "--bands",
                                        "{tmp}/post.csv"), "same file as --params"),
        Case("run --out = --params (hard link)",
             ("run", HISTORY, "--params", "{tmp}/post.csv", "--out", "{tmp}/post_link.csv"),
             "same file as --params"),
    ]


def _argument_cases() -> list[Case]:
    """Arguments validated before any work."""
    return [
        Case("run --runs 0", ("run", HISTORY, "--runs", "0"), "expected a number >= 1"),
        Case("run --runs text", ("run", HISTORY, "--runs", "many"), "expected a whole number"),
        Case("run --seed -1", ("run", HISTORY, "--seed", "-1"), "expected a number >= 0"),
        Case("run --months 0", ("run", HISTORY, "--months", "0"), "expected a number >= 1"),
        Case("run --set unknown", ("run", HISTORY, "--set", "nope=1"), "nope"),
        Case("run --set not a number", ("run", HISTORY, "--set", "forgetting=x"),
             "expected a number"),
        Case("run --set nan", ("run", HISTORY, "--set", "forgetting=nan"), "forgetting"),
        Case("run --out suffix", ("run", HISTORY, "--out", "{tmp}/x.txt"), ".parquet or .csv"),
        Case("run --bands suffix", ("run", HISTORY, "--bands", "{tmp}/x.parquet"), ".csv"),
        Case("run --params not csv", ("run", HISTORY, "--params", "{file}"), "posterior .csv"),
        Case("run --bands too many runs", ("run", HISTORY, "--runs", "10000000", "--bands",
                                           "{tmp}/b.csv"), "in memory"),
        Case("run --chunk too big", ("run", HISTORY, "--runs", "10000000", "--chunk",
                                     "10000000"), "--chunk"),
        Case("run --runs 10**20", ("run", HISTORY, "--runs", "1" + "0" * 20), "in memory"),
        Case("run --months 0 with a huge seed", ("run", HISTORY, "--seed", str(2**70),
                                                      "--months", "0"), ">= 1"),
        Case("history-check too many runs", ("history-check", "--runs", "10000000"),
             "in memory"),
        Case("history-check --until bad", ("history-check", "--until", "2001-13"), "--until"),
        Case("compare too many runs", ("compare", HISTORY, WHATIF, "--runs", "1000000"),
             "in memory"),
        Case("compare different windows",
             ("compare", HISTORY, str(ROOT / "scenarios" / "baseline.yaml")), "same window"),
        Case("events --from bad", ("events", "--from", "20x1"), "--from"),
        Case("params --group unknown", ("params", "--group", "nope"), "no such group"),
        Case("unknown command", ("frobnicate",), "invalid choice"),
        Case("memory limit env bad", ("history-check", "--runs", "2"), "AFPAK_MEMORY_LIMIT_GB"),
    ]


def _corrupt_cases() -> list[Case]:
    """Corrupt state files: posteriors (run, history-check, compare) and sweep folders."""
    cases = []
    for name, says in CORPUS.items():
        if name.startswith("posterior_"):
            path = str(DATA / name)
            cases += [Case(f"run --params {name}", ("run", HISTORY, "--params", path), says),
                      Case(f"history-check --params {name}",
                           ("history-check", "--runs", "2", "--params", path), says)]
        else:
            cases += [Case(f"analyze, {name}", ("analyze", "{sweep_" + Path(name).stem + "}",
                                                "--no-plots"), says),
                      Case(f"sweep resume, {name}", ("sweep", LHS, "--samples", "8", "--quiet",
                                                     "--out", "{sweep_" + Path(name).stem + "}"),
                           says)]
    cases += [Case("analyze, truncated samples.parquet", ("analyze", "{sweep_samples}",
                                                          "--no-plots"), "samples"),
              Case("analyze, truncated part", ("analyze", "{sweep_part}", "--no-plots"), "")]
    return cases


CASES = {c.family: c for c in (*_out_cases(), *_in_cases(), *_same_file_cases(),
                               *_argument_cases(), *_corrupt_cases())}


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory) -> Path:
    """A finished small sweep (16 runs), copied by the cases that corrupt it."""
    out = tmp_path_factory.mktemp("sweep") / "lhs"
    assert main(["sweep", LHS, "--samples", "8", "--quiet", "--out", str(out)]) == 0
    return out


def _corrupt(src: Path, dst: Path, rel: str, data: bytes | None = None, cut: int = 0) -> str:
    if not dst.exists():
        shutil.copytree(src, dst)
        target = dst / rel
        if data is not None:
            target.write_bytes(data)
        else:
            raw = target.read_bytes()
            target.write_bytes(raw[: cut if cut else len(raw) // 2])
    return str(dst)


@pytest.fixture
def filled(places, sweep_folder, tmp_path_factory, request, monkeypatch):
    """The case's argv with the places filled in (and what the case needs made)."""
    case: Case = request.param
    tmp = Path(places["tmp"])
    extra = {"sweep": str(sweep_folder)}
    for name in CORPUS:
        if name.startswith("manifest_"):
            extra[f"sweep_{Path(name).stem}"] = _corrupt(
                sweep_folder, tmp / f"sw_{name}", "manifest.json", (DATA / name).read_bytes())
    part = next(p.relative_to(sweep_folder) for p in (sweep_folder / "parts").glob("*.parquet"))
    extra["sweep_samples"] = _corrupt(sweep_folder, tmp / "sw_samples", "samples.parquet")
    extra["sweep_part"] = _corrupt(sweep_folder, tmp / "sw_part", str(part))
    if not (tmp / "scen.csv").exists():
        shutil.copy(HISTORY, tmp / "scen.csv")
        shutil.copy(ROOT / "model" / "data" / "posterior.csv", tmp / "post.csv")
        os.link(tmp / "post.csv", tmp / "post_link.csv")
    if case.family == "memory limit env bad":
        monkeypatch.setenv("AFPAK_MEMORY_LIMIT_GB", "lots")
    argv = [a.format(**places, **extra) for a in case.argv]
    ro = places["ro_root"]
    if os.access(ro, os.W_OK) and any(a.startswith(ro) for a in argv):
        # root writes through mode bits; make the folder look as a read-only mount does
        real = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, *a, **k: (
            False if mode & os.W_OK and os.fspath(path).startswith(ro) else real(path, mode, *a,
                                                                                  **k)))
    return case, argv


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        rc = exc.code
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.mark.parametrize("filled", list(CASES.values()), ids=list(CASES), indirect=True)
def test_hostile_case_gives_a_message_and_exit_2(filled, capsys):
    case, argv = filled
    rc, out, err = _run(argv, capsys)
    assert "Traceback" not in err + out
    assert "internal error" not in err, err
    assert rc == 2, (rc, err)
    assert err.strip(), "no message"
    assert case.says.lower() in err.lower(), err


def test_inputs_are_left_alone(places, capsys):
    """A refused `run --out` equal to the scenario leaves the scenario as it was."""
    tmp = Path(places["tmp"])
    scen = tmp / "keep.csv"
    shutil.copy(HISTORY, scen)
    before = scen.read_bytes()
    rc, _, _err = _run(["run", str(scen), "--out", str(scen)], capsys)
    assert rc == 2
    assert scen.read_bytes() == before


def test_disk_full_while_writing(places, capsys, monkeypatch):
    """ENOSPC raised while the long table is written: a message naming --out, exit 2, no
    partial or temporary file."""
    import pyarrow.parquet as pq

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    out = Path(places["tmp"]) / "diskfull" / "t.parquet"
    rc, _, err = _run(["run", HISTORY, "--runs", "2", "--out", str(out)], capsys)
    assert rc == 2
    assert "disk is full" in err
    assert str(out) in err
    assert "--out" in err
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


def test_permission_denied_while_writing(places, capsys, monkeypatch):
    """EACCES while the bands are written (as for root on a read-only share)."""
    import pandas as pd

    def denied(*_a, **_k):
        raise PermissionError(errno.EACCES, "Permission denied", "/somewhere/.tmp")

    monkeypatch.setattr(pd.DataFrame, "to_csv", denied)
    out = Path(places["tmp"]) / "denied.csv"
    rc, _, err = _run(["run", HISTORY, "--runs", "2", "--bands", str(out)], capsys)
    assert rc == 2
    assert "permission denied" in err
    assert "--bands" in err
    assert "/somewhere" not in err  # the temporary file's name is not shown


def test_memory_error_gives_advice(capsys, monkeypatch):
    from model.engine import runner

    def oom(*_a, **_k):
        raise MemoryError

    monkeypatch.setattr(runner, "simulate", oom)
    rc, _, err = _run(["history-check", "--runs", "2"], capsys)
    assert rc == 2
    assert "out of memory" in err
    assert "sweep" in err


def test_recursion_error_gives_a_message(capsys, monkeypatch):
    from model.inputs import scenario

    def deep(*_a, **_k):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(scenario, "load_scenario", deep)
    rc, _, err = _run(["validate", HISTORY], capsys)
    assert rc == 2
    assert "nested too deeply" in err


def test_unexpected_error_is_one_line_and_debug_shows_traceback(capsys, monkeypatch):
    from model.inputs import catalog

    def bug(*_a, **_k):
        raise TypeError("an unexpected bug")

    monkeypatch.setattr(catalog, "load_catalog", bug)
    rc, _, err = _run(["events"], capsys)
    assert rc == 1
    assert "internal error" in err
    assert "--debug" in err
    assert "Traceback" not in err
    rc, _, err = _run(["events", "--debug"], capsys)
    assert rc == 1
    assert "Traceback" in err
    assert "an unexpected bug" in err


def test_keyboard_interrupt_exits_130(capsys, monkeypatch):
    from model.inputs import catalog

    def stop(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(catalog, "load_catalog", stop)
    rc, _, err = _run(["events"], capsys)
    assert rc == 130
    assert "interrupted" in err
    assert "Traceback" not in err


def test_sigterm_leaves_no_part_file(tmp_path):
    """SIGTERM during `run --out` (a real process): exit 128 + 15, a message, no target and no
    temporary file left beside it."""
    out = tmp_path / "big.parquet"
    proc = subprocess.Popen([sys.executable, "-m", "model", "run", HISTORY, "--runs", "200000",
                             "--chunk", "256", "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(tmp_path.iterdir()):
        time.sleep(0.2)   # wait until the temporary file exists: the writing has begun
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "SIGTERM" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_traceback_only_with_debug_in_a_real_process(tmp_path):
    """The real entry point: a hostile input gives one message line, no traceback."""
    r = subprocess.run([sys.executable, "-m", "model", "run", "/dev/zero"], cwd=ROOT, check=False,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("error: /dev/zero")


def test_sweep_resume_recomputes_a_truncated_part(sweep_folder, tmp_path, capsys):
    """A damaged part is not an error for `sweep`: it is recomputed (and said so)."""
    part = next(p.relative_to(sweep_folder) for p in (sweep_folder / "parts").glob("*.parquet"))
    folder = _corrupt(sweep_folder, tmp_path / "sw", str(part))
    rc, _, err = _run(["sweep", LHS, "--samples", "8", "--quiet", "--out", folder], capsys)
    assert rc == 0, err
    assert "recomputed" in err
