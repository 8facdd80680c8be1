"""The file-access policy (``model.io.access``): each refusal and each acceptance.

Inputs are regular files of bounded size read as UTF-8 (a folder, a FIFO, a device, a socket, a
file too large, bytes that are not UTF-8 are refused before a byte is read, and a FIFO never
hangs); paths named inside files are confined to their roots (symbolic links included, a chain of
``extends`` bounded) and the message never quotes the file outside; outputs are checked before
any work (a folder, a path under a file, a name too long, an output equal to an input or to
another output); the dashboard lists results only under its root; operating-system errors become
messages that name the file as the user gave it and say what to do.

The tests run as root in CI, where permission bits stop nothing: an unwritable place is made with
what root also observes (a path under a regular file, ``/dev/full`` for a full disk) or by
answering ``os.access`` as the system would for another user.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.io import access as A
from model.io import yamlio
from model.io.errors import ModelInputError

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "tests" / "data" / "hostile"
SECRET = "SECRET-CONTENT-7f3a: never to be quoted"
SMALL = A.Kind("a test file", 100)


@contextlib.contextmanager
def no_hang(seconds: int = 10):
    """Fail (rather than hang the suite) when the block takes longer than ``seconds``."""
    def _alarm(_sig, _frame):
        raise TimeoutError(f"blocked for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def outside(tmp_path) -> Path:
    """A file outside every root used below, holding a secret."""
    p = tmp_path / "elsewhere" / "secret.yaml"
    p.parent.mkdir()
    p.write_text(f"name: stolen\n{SECRET}\n", encoding="utf-8")
    return p


@pytest.fixture
def root(tmp_path) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    return r


def refused(fn, *args, **kwargs) -> A.AccessError:
    with pytest.raises(A.AccessError) as info:
        fn(*args, **kwargs)
    assert isinstance(info.value, ModelInputError)
    assert SECRET not in str(info.value)
    return info.value


# ---------------------------------------------------------------------------- inputs

def test_a_normal_file_is_read(tmp_path):
    p = tmp_path / "ok.yaml"
    p.write_bytes("\ufeffname: café\n".encode())
    assert A.read_text(p, A.SCENARIO) == "name: café\n"
    assert A.read_bytes(p, A.SCENARIO).endswith(b"\n")
    assert A.check_input(p, A.SCENARIO).st_size == p.stat().st_size
    with A.open_input(p, A.SCENARIO) as fh:
        assert fh.read(4) == b"\xef\xbb\xbfn"


def test_a_folder_is_refused(tmp_path):
    err = refused(A.read_text, tmp_path, A.SCENARIO)
    assert err.path == str(tmp_path)
    assert "is a folder" in err.problem
    assert "a scenario file (YAML)" in err.problem


def test_a_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with no_hang():
        err = refused(A.read_text, fifo, A.SCENARIO)
    assert "named pipe" in err.problem


def test_a_fifo_swapped_in_after_the_check_does_not_hang(tmp_path, monkeypatch):
    """The descriptor is opened non-blocking and checked again: a file replaced by a FIFO
    between ``os.stat`` and ``open`` is refused, not waited on."""
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    monkeypatch.setattr(A, "check_input", lambda *a, **k: None)
    with no_hang():
        err = refused(A.read_bytes, fifo, A.SCENARIO)
    assert "named pipe" in err.problem


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_a_device_is_refused_before_reading(device, tmp_path):
    assert Path(device).exists(), "a Linux test machine has these devices"
    link = tmp_path / "scenario.yaml"
    link.symlink_to(device)
    with no_hang():
        for path in (device, link):
            err = refused(A.read_text, path, A.SCENARIO)
            assert "a device" in err.problem


def test_a_socket_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(path))
        err = refused(A.read_bytes, path, A.SCENARIO)
    assert "a socket" in err.problem


def test_a_file_too_large_is_refused_before_reading(tmp_path, monkeypatch):
    p = tmp_path / "big.csv"
    p.write_bytes(b"x" * 101)
    opened = []
    monkeypatch.setattr(A.os, "open", lambda *a: opened.append(a))
    err = refused(A.read_bytes, p, SMALL)
    assert "101 bytes" in err.problem
    assert "limit for a test file is 100" in err.problem
    assert not opened
    (tmp_path / "fits.csv").write_bytes(b"x" * 100)
    monkeypatch.undo()
    assert len(A.read_bytes(tmp_path / "fits.csv", SMALL)) == 100


def test_a_file_that_grew_after_the_check_is_refused(tmp_path, monkeypatch):
    p = tmp_path / "grows.csv"
    p.write_bytes(b"x" * 10)
    real = A._check_stat
    calls = []

    def check_then_grow(st, kind, shown):
        real(st, kind, shown)
        calls.append(1)
        if len(calls) == 2:  # after the check of the open descriptor
            with open(p, "ab") as fh:
                fh.write(b"x" * 500)

    monkeypatch.setattr(A, "_check_stat", check_then_grow)
    err = refused(A.read_bytes, p, SMALL)
    assert "more than 100 bytes" in err.problem
    assert len(calls) == 2


def test_bytes_that_are_not_utf8_are_refused_with_their_line():
    p = HOSTILE / "non_utf8_latin1.yaml"
    err = refused(A.read_text, p, A.SCENARIO)
    assert "not UTF-8" in err.problem
    assert "byte 0xe9" in err.problem
    assert err.line == 1
    assert str(err).startswith(f"{p}:1: ")
    err = refused(A.decode, b"a\nb\n\xff", A.SCENARIO, "upload.yaml")
    assert err.line == 3
    assert err.path == "upload.yaml"


def test_an_upload_too_large_is_refused():
    err = refused(A.decode, b"x" * 101, SMALL, "upload.yaml")
    assert "101 bytes" in err.problem


@pytest.mark.parametrize(("name", "phrase"), [("missing.yaml", "no such file"),
                                          ("x" * 300 + ".yaml", "too long"),
                                          ("nul\x00.yaml", "not a valid file name")])
def test_a_missing_or_impossible_name_is_refused(tmp_path, name, phrase):
    err = refused(A.read_text, tmp_path / name, A.SCENARIO)
    assert phrase in err.problem


def test_the_message_names_the_path_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir("a_folder.yaml")
    err = refused(A.read_text, "a_folder.yaml", A.SCENARIO)
    assert str(err).startswith("a_folder.yaml: ")
    assert str(tmp_path) not in str(err)


# ------------------------------------------------------------------------ confinement

def test_a_symlink_inside_the_root_is_accepted(root):
    (root / "real.yaml").write_text("name: real\n", encoding="utf-8")
    (root / "sub").mkdir()
    (root / "sub" / "link.yaml").symlink_to(root / "real.yaml")
    assert A.confine(root / "sub" / "link.yaml", {"root/": root}) == (root / "real.yaml")
    assert A.find_named("sub/link.yaml", [root], {"root/": root}, A.SCENARIO) == (
        root / "sub" / "link.yaml")


def test_a_symlink_out_of_the_root_is_refused_without_quoting_the_target(root, outside):
    link = root / "parent.yaml"
    link.symlink_to(outside)
    err = refused(A.confine, link, {"scenarios/": root}, shown="parent.yaml")
    assert "symbolic link that leads outside scenarios/" in err.problem
    assert str(outside) not in str(err)
    assert "secret" not in str(err)
    # found by name beside the extending file: refused, and not replaced by a file further on
    (root / "fallback").mkdir()
    (root / "fallback" / "parent.yaml").write_text("name: p\n", encoding="utf-8")
    err = refused(A.find_named, "parent.yaml", [root, root / "fallback"],
                  {"scenarios/": root}, A.SCENARIO)
    assert err.path == "parent.yaml"


def test_a_dangling_link_out_is_refused_like_an_existing_one(root, tmp_path):
    """No probing: a link to a missing file outside gets the same answer as one to a file."""
    present, absent = tmp_path / "present.yaml", tmp_path / "absent.yaml"
    present.write_text("x: 1\n", encoding="utf-8")
    (root / "a.yaml").symlink_to(present)
    (root / "b.yaml").symlink_to(absent)
    roots = {"scenarios/": root}
    one = refused(A.find_named, "a.yaml", [root], roots, A.SCENARIO).problem
    two = refused(A.find_named, "b.yaml", [root], roots, A.SCENARIO).problem
    assert one == two


@pytest.mark.parametrize("name", ["../elsewhere/secret.yaml", "/etc/passwd", "../../../../etc",
                                  "sub/../../elsewhere/secret.yaml"])
def test_a_name_that_leaves_the_root_is_refused(root, outside, name):
    err = refused(A.find_named, name, [root], {"scenarios/": root}, A.SCENARIO)
    assert "lies outside scenarios/" in err.problem
    assert err.path == name


def test_a_missing_name_inside_the_root_is_not_found(root):
    assert A.find_named("nope.yaml", [root], {"r/": root}, A.SCENARIO) is None
    assert A.find_named("y" * 300 + ".yaml", [root], {"r/": root}, A.SCENARIO) is None


def test_a_fifo_named_by_a_file_is_refused(root):
    os.mkfifo(root / "parent.yaml")
    with no_hang():
        err = refused(A.find_named, "parent.yaml", [root], {"r/": root}, A.SCENARIO)
    assert "named pipe" in err.problem


_PARTS = st.lists(st.sampled_from(["..", ".", "a", "b", "c.yaml"]), min_size=1, max_size=8)


@pytest.fixture(scope="module")
def prop_root(tmp_path_factory) -> Path:
    r = tmp_path_factory.mktemp("prop") / "root"
    (r / "a" / "b").mkdir(parents=True)
    return r.resolve()


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=_PARTS)
def test_property_a_relative_name_is_accepted_exactly_when_it_stays_inside(prop_root, parts):
    path = prop_root.joinpath(*parts)
    inside = Path(os.path.normpath(path)).is_relative_to(prop_root)
    try:
        A.confine(path, {"root/": prop_root})
        accepted = True
    except A.AccessError:
        accepted = False
    assert accepted == inside, (parts, accepted)


_NAME = st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=12).filter(
    lambda s: s not in (".", ".."))


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(_NAME, min_size=1, max_size=5))
def test_property_any_absolute_path_outside_the_root_is_refused(prop_root, parts):
    path = Path("/", *parts)
    if path.resolve().is_relative_to(prop_root):
        return
    with pytest.raises(A.AccessError) as info:
        A.find_named(str(path), [prop_root], {"root/": prop_root}, A.SCENARIO)
    assert "outside root/" in info.value.problem


# ------------------------------------------------------------------- extends (scenarios)

def _extends(path: Path) -> str:
    return yamlio.load(path).data["extends"]


@pytest.mark.parametrize("name", ["extends_outside_absolute.yaml", "extends_outside_dotdot.yaml",
                                  "extends_device.yaml"])
def test_hostile_extends_out_of_the_project_is_refused(name):
    path = HOSTILE / name
    with no_hang():
        err = refused(A.find_extends, _extends(path), path.parent, A.scenario_roots(path), 1)
    assert "outside scenarios/ or the folder of" in err.problem
    assert "root:" not in str(err)  # nothing of /etc/passwd


def test_a_symlinked_parent_outside_is_refused_without_its_content(root, outside):
    (root / "parent.yaml").symlink_to(outside)
    child = root / "child.yaml"
    child.write_text("name: child\nextends: parent.yaml\n", encoding="utf-8")
    err = refused(A.find_extends, "parent.yaml", root, A.scenario_roots(child), 1)
    assert "symbolic link" in err.problem


def test_every_shipped_extends_is_found():
    shipped = sorted((ROOT / "scenarios").glob("*.yaml"))
    with_parent = [p for p in shipped if "extends" in yamlio.load(p).data]
    assert with_parent, "the shipped what-ifs extend history.yaml"
    for p in with_parent:
        found = A.find_extends(_extends(p), p.parent, A.scenario_roots(p), 1)
        assert found is not None, p
        assert found.is_file(), p


def test_every_shipped_sweep_spec_finds_its_scenario_inside_the_project():
    """The rule proposed for a sweep spec's ``scenario``: beside the spec, else in the project
    folder, confined to both."""
    specs = sorted((ROOT / "scenarios" / "sweeps").glob("*.yaml"))
    assert specs
    for spec in specs:
        roots = {"the project folder": ROOT, f"the folder of {spec}": spec.parent}
        name = yamlio.load(spec).data["scenario"]
        found = A.find_named(name, [spec.parent, ROOT], roots, A.SCENARIO, what="the scenario")
        assert found is not None, spec
        assert found.resolve().parent == A.SCENARIOS, spec
    roots = {"the project folder": ROOT}
    refused(A.find_named, "../../etc/passwd", [ROOT / "scenarios" / "sweeps", ROOT], roots,
            A.SCENARIO)


def test_a_user_file_extends_a_shipped_scenario_or_a_neighbour(root):
    child = root / "mine.yaml"
    found = A.find_extends("history.yaml", root, A.scenario_roots(child), 1)
    assert found == A.SCENARIOS / "history.yaml"
    (root / "sub").mkdir()
    (root / "sub" / "base.yaml").write_text("name: b\n", encoding="utf-8")
    assert A.find_extends("sub/base.yaml", root, A.scenario_roots(child), 1) == (
        root / "sub" / "base.yaml")
    # one level down, a chain may come back up to the folder of the file the user named
    (root / "top.yaml").write_text("name: t\n", encoding="utf-8")
    assert A.find_extends("../top.yaml", root / "sub", A.scenario_roots(child), 2) == (
        root / "sub" / "../top.yaml")


def test_a_mapping_read_from_a_folder_may_extend_inside_it(root):
    (root / "base.yaml").write_text("name: b\n", encoding="utf-8")
    roots = A.scenario_roots(folder=root)
    assert A.find_extends("base.yaml", root, roots, 1) == root / "base.yaml"
    refused(A.find_extends, "../elsewhere.yaml", root, roots, 1)


def test_an_upload_extends_only_inside_scenarios():
    roots = A.scenario_roots(None)
    assert list(roots) == ["scenarios/"]
    assert A.find_extends("history.yaml", None, roots, 1) == A.SCENARIOS / "history.yaml"
    refused(A.find_extends, "../pyproject.toml", None, roots, 1)
    refused(A.find_extends, str(ROOT / "README.md"), None, roots, 1)


def test_an_extends_chain_is_cut_at_its_depth_limit(root):
    """A chain of 1,000 files used to end in RecursionError; the walk stops at the limit."""
    n = 200
    for i in range(n):
        (root / f"s{i}.yaml").write_text(f"name: s{i}\nextends: s{i + 1}.yaml\n",
                                         encoding="utf-8")
    roots, depth, name = A.scenario_roots(root / "s0.yaml"), 1, "s1.yaml"
    refusal = None
    while refusal is None:
        try:
            found = A.find_extends(name, root, roots, depth)
        except A.AccessError as exc:
            refusal = exc
        else:
            assert found is not None
            name, depth = _extends(found), depth + 1
    assert depth == A.MAX_EXTENDS_DEPTH
    assert f"more than {A.MAX_EXTENDS_DEPTH} files" in refusal.problem


# ---------------------------------------------------------------------------- outputs

def test_good_outputs_are_accepted_and_nothing_is_created(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\n", encoding="utf-8")
    (tmp_path / "old.parquet").write_bytes(b"old")
    A.check_outputs({"--out": tmp_path / "new" / "deeper" / "out.parquet",
                     "--bands": tmp_path / "old.parquet", "--plot": None},
                    {"the scenario": scenario, "--params": None})
    A.check_outputs({"--out": tmp_path / "sweep"}, folders={"--out"})
    A.check_outputs({"--out": tmp_path}, folders={"--out"})
    assert not (tmp_path / "new").exists()
    assert not (tmp_path / "sweep").exists()


def test_an_output_equal_to_an_input_is_refused_however_spelled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\n", encoding="utf-8")
    (tmp_path / "link.yaml").symlink_to(scenario)
    os.link(scenario, tmp_path / "hard.yaml")
    for spelled in ("s.yaml", "./s.yaml", "sub/../s.yaml", str(scenario), "link.yaml",
                    "hard.yaml"):
        err = refused(A.check_outputs, {"--out": spelled}, {"the scenario": scenario})
        assert "--out is the same file as the scenario" in err.problem, spelled
        assert err.path == spelled
    # an output not yet written that another output names too
    err = refused(A.check_outputs, {"--out": "x.parquet", "--bands": "./x.parquet"})
    assert "--out and --bands name the same file" in err.problem


def test_an_output_that_is_a_folder_is_refused(tmp_path):
    err = refused(A.check_output, tmp_path, "--out")
    assert "is a folder; --out expects a file name" in err.problem
    f = tmp_path / "f.csv"
    f.write_text("x", encoding="utf-8")
    err = refused(A.check_output, f, "--out", folder=True)
    assert "is a file, not a folder; --out expects a folder" in err.problem


def test_an_output_under_a_regular_file_is_refused(tmp_path):
    """What root observes too: nothing can be created under a file."""
    f = tmp_path / "plain.txt"
    f.write_text("x", encoding="utf-8")
    for out in (f / "out.parquet", f / "deeper" / "still" / "out.parquet"):
        err = refused(A.check_outputs, {"--out": out})
        assert f"{f} is a file, not a folder" in err.problem
        assert "choose another --out" in err.problem


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_an_output_that_is_a_pipe_or_a_device_is_refused(tmp_path, kind):
    if kind == "fifo":
        out = tmp_path / "out.parquet"
        os.mkfifo(out)
    else:
        out = Path("/dev/null")
    with no_hang():
        err = refused(A.check_output, out, "--out")
    assert ("named pipe" if kind == "fifo" else "a device") in err.problem


def test_an_unwritable_parent_is_refused(tmp_path, monkeypatch):
    """As root, permission bits stop nothing: answer ``os.access`` as for another user."""
    monkeypatch.setattr(A.os, "access", lambda *a, **k: False)
    err = refused(A.check_output, tmp_path / "new" / "out.parquet", "--out")
    assert f"the folder {tmp_path} is not writable" in err.problem
    (tmp_path / "exists.parquet").write_bytes(b"x")
    err = refused(A.check_output, tmp_path / "exists.parquet", "--out")
    assert "cannot be written" in err.problem


def test_a_read_only_file_system_is_refused_when_there_is_one(monkeypatch, tmp_path):
    """``statvfs``'s read-only flag counts even for root."""
    class RO:
        f_flag = os.ST_RDONLY

    monkeypatch.setattr(A.os, "statvfs", lambda _p: RO())
    err = refused(A.check_output, tmp_path / "out.parquet", "--out")
    assert "read-only" in err.problem


def test_a_name_too_long_is_refused(tmp_path):
    name = "x" * 300 + ".parquet"
    err = refused(A.check_output, tmp_path / name, "--out")
    assert "is 308 bytes; the file system allows 255" in err.problem
    assert "choose a shorter --out" in err.problem
    deep = tmp_path.joinpath(*["y" * 250] * 20, "out.parquet")
    err = refused(A.check_output, deep, "--out")
    assert "longer than the file system allows" in err.problem


def test_an_empty_or_nul_name_is_refused():
    refused(A.check_output, "", "--out")
    refused(A.check_output, "a\x00b.parquet", "--out")


def test_free_space_is_checked(tmp_path):
    A.check_free_space(tmp_path / "out", 1, "--out")
    err = refused(A.check_free_space, tmp_path / "out", 10**18, "--out")
    assert "free some space or choose another --out" in err.problem


# ------------------------------------------------------------------------- OS errors

@pytest.mark.parametrize("code", sorted(A._WHY))
def test_each_os_error_kind_becomes_a_message(code):
    exc = OSError(code, os.strerror(code), "/srv/hidden/.out.parquet.123.tmp")
    err = A.explain_os_error(exc, "out/run.parquet", option="--out")
    assert str(err).startswith("out/run.parquet: cannot write (")
    assert "/srv/hidden" not in str(err)
    assert A._WHY[code][0] in err.problem


def test_a_full_disk_is_a_message(tmp_path):
    """``/dev/full`` answers every write with ENOSPC, for root too."""
    with pytest.raises(A.AccessError) as info, A.os_errors("out.parquet", option="--out"), \
            open("/dev/full", "wb", buffering=0) as fh:
        fh.write(b"x")
    assert "the disk is full" in info.value.problem
    assert "free some space or choose another --out" in info.value.problem


def test_os_errors_translates_only_os_errors(tmp_path):
    f = tmp_path / "plain.txt"
    f.write_text("x", encoding="utf-8")
    with pytest.raises(A.AccessError) as info, A.os_errors("plain.txt/out.csv", option="--out"):
        (f / "out.csv").write_text("y", encoding="utf-8")
    assert "a part of the path is a file, not a folder" in info.value.problem
    with pytest.raises(A.AccessError, match=r"^mine: keep$"), A.os_errors("x"):
        raise A.AccessError("mine", "keep")
    with pytest.raises(ValueError, match="other"), A.os_errors("x"):
        raise ValueError("other")
    err = A.explain_os_error(OSError(errno.ENOENT, "x"), "a/b.csv", action="write")
    assert "create the folder first" in err.problem


# --------------------------------------------------------------------- dashboard results

def _results_tree(root: Path, outside: Path) -> None:
    for rel in ("a", "a/b/c", "deep/1/2/3/4", ".hidden", "big"):
        (root / rel).mkdir(parents=True)
        (root / rel / "manifest.json").write_text("{}", encoding="utf-8")
    (root / "big" / "manifest.json").write_bytes(b" " * 5000)
    (outside.parent / "manifest.json").write_text("{}", encoding="utf-8")
    (root / "linked_dir").symlink_to(outside.parent)
    (root / "linked_file").mkdir()
    (root / "linked_file" / "manifest.json").symlink_to(outside.parent / "manifest.json")


def test_results_are_listed_only_under_the_root(root, outside):
    _results_tree(root, outside)
    found = A.list_results(root, "manifest.json", max_depth=3, max_bytes=1000)
    assert found == sorted([Path("a/manifest.json"), Path("a/b/c/manifest.json")])
    assert A.list_results(root / "missing") == []


def test_a_results_name_outside_missing_or_odd_gets_one_answer(root, outside):
    _results_tree(root, outside)
    assert A.results_path("a/b", root) == (root / "a" / "b").resolve()
    answers = set()
    for name in ("../elsewhere", str(outside.parent), "/", "missing", "a/manifest.json",
                 "linked_dir", "a/../../elsewhere", "", "x\x00y"):
        err = refused(A.results_path, name, root)
        answers.add(err.problem)
    assert answers == {"is not a results folder under out/; choose one of the folders listed"}


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=_PARTS)
def test_property_a_results_name_with_dotdot_is_refused(prop_root, parts):
    name = os.path.join(*parts)
    if ".." in Path(name).parts:
        with pytest.raises(A.AccessError):
            A.results_path(name, prop_root)


def test_a_results_folder_too_large_is_refused_before_loading(root, outside):
    (root / "run").mkdir()
    (root / "run" / "part-0.parquet").write_bytes(b"x" * 600)
    (root / "run" / "part-1.parquet").write_bytes(b"x" * 600)
    big_outside = outside.parent / "huge.parquet"
    big_outside.write_bytes(b"x" * 10_000)
    (root / "run" / "link.parquet").symlink_to(big_outside)  # not counted, not followed
    assert A.check_load_size(root / "run", 1200) == 1200
    err = refused(A.check_load_size, root / "run", 1000, shown="run")
    assert err.path == "run"
    assert "python -m model analyze" in err.problem
    assert A.check_load_size(root / "run" / "part-0.parquet", 600) == 600
    os.mkfifo(root / "pipe")
    refused(A.check_load_size, root / "pipe", 1000)
