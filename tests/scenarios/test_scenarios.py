"""Validation of scenario files: a corpus of hostile files, the command line on them, and the
shipped scenarios.

``tests/data/hostile/`` holds small files with one problem each, named for the problem; a few more
(too large, too deep, missing) are generated here. Each must be refused with a message that names
the file, points at the line of the problem where it has one, says what was expected, and is no
Python traceback:

- through the Python API (``load_scenario`` raises a ``ModelInputError`` subclass), every case;
- through ``python -m model validate``, called once with every case (exit 2, every file reported);
- through ``python -m model run BAD --out X.parquet`` for a few (exit 2, no output, no temp file).

Every shipped scenario validates, runs (briefly and over its whole window), and the JSON Schema of
scenario files is printed as valid JSON.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from model.core.params import ParameterError
from model.engine.runner import simulate
from model.inputs.compiled import compile_scenario
from model.inputs.scenario import ScenarioError, load_scenario, loads_scenario
from model.io.errors import ModelInputError
from model.io.yamlio import MAX_BYTES, MAX_DEPTH, YamlError

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "tests" / "data" / "hostile"
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
INPUT_ERRORS = (ScenarioError, YamlError, ParameterError)


@dataclass(frozen=True)
class Case:
    """What the message for a hostile file must say."""

    lines: tuple[int, ...]          # line(s) the message must point at: 'FILE:LINE:' (none: ())
    phrases: tuple[str, ...]        # what it must say (e.g. what was expected)
    loc_file: str | None = None     # the file the location is in, when it is another file


def case(line: int | tuple[int, ...] | None, *phrases: str, loc_file: str | None = None) -> Case:
    lines = () if line is None else (line,) if isinstance(line, int) else line
    return Case(lines, phrases, loc_file)


#: Every file of tests/data/hostile and what its message must say.
CORPUS: dict[str, Case] = {
    # YAML syntax
    "syntax_unclosed_bracket.yaml": case(4, "expected ',' or '}'"),
    "syntax_bad_indentation.yaml": case(5, "expected <block end>"),
    "tabs_indentation.yaml": case(3, "'\\t'"),
    "two_documents.yaml": case(3, "another document"),
    "duplicate_key.yaml": case(3, "duplicate key 'months'"),
    "duplicate_nested_key.yaml": case(5, "duplicate key 'forgetting'"),
    # keys
    "unknown_key.yaml": case(3, "unknown key 'colour'", "expected one of"),
    "misspelled_key_strat.yaml": case(2, "unknown key 'strat'", "did you mean 'start'"),
    "misspelled_key_paramz.yaml": case(3, "unknown key 'paramz'", "did you mean 'params'"),
    "misspelled_nested_key.yaml": case(4, "unknown key 'stat'", "did you mean 'state'"),
    "missing_name.yaml": case(1, "missing required key 'name'"),
    # types
    "months_string.yaml": case(2, "months", "valid integer"),
    "months_float.yaml": case(2, "months", "valid integer"),
    "months_bool.yaml": case(2, "months", "integer"),
    "param_value_list.yaml": case(4, "forgetting", "number"),
    "param_value_bool.yaml": case(4, "forgetting", "number"),
    # ranges
    "months_zero.yaml": case(2, "greater than or equal to 1"),
    "months_5000.yaml": case(2, "less than or equal to 1200"),
    "severity_negative.yaml": case(4, "severity", "greater than or equal to 0"),
    "inf_severity.yaml": case(4, "severity", "less than or equal to 100"),
    "trust_above_one.yaml": case(5, "PAK_MIL->US", "strictly between 0 and 1"),
    "state_out_of_range.yaml": case(5, "public_hostility", "outside [0.0, 1.0]"),
    "aid_negative.yaml": case(5, "US->PAK_MIL", ">= 0"),
    "param_out_of_bounds.yaml": case(4, "forgetting", "outside its bounds [0.8, 1.0]"),
    "nan_parameter.yaml": case(4, "forgetting", "outside its bounds"),
    "nan_effect.yaml": case(4, "finite"),
    "inf_aid.yaml": case(5, "finite"),
    # names
    "unknown_parameter.yaml": case(4, "unknown parameter 'forgeting'",
                                   "did you mean 'forgetting'"),
    "unknown_actor.yaml": case(6, "unknown actor 'PAK_MILL'", "did you mean 'PAK_MIL'"),
    "unknown_target.yaml": case(4, "unknown actor 'CHINA'", "expected one of"),
    "unknown_intervention_actor.yaml": case(4, "unknown actor 'PAKMIL'", "did you mean 'PAK_MIL'"),
    "unknown_action.yaml": case(4, "unknown action 'US_STRIKES'", "did you mean 'US_STRIKE'"),
    "unknown_cameo.yaml": case(4, "unknown CAMEO code '999'"),
    "unknown_output.yaml": case(3, "unknown output 'trust PAK_MIL->USA'"),
    "effect_unknown_state_var.yaml": case(4, "unknown state variable 'public_hostilty'",
                                          "did you mean 'public_hostility'"),
    "edit_unknown_event.yaml": case(4, "unknown event 'salala_strik_2011'",
                                    "did you mean 'salala_strike_2011'"),
    "catalog_unknown_severity_id.yaml": case(6, "unknown catalog event 'abbotabad_raid_2011'",
                                             "did you mean 'abbottabad_raid_2011'"),
    "catalog_decision_kind.yaml": case(4, "'shock'"),
    # dates and windows
    "date_month_13.yaml": case(4, "YYYY-MM", "2011-13"),
    "date_slash.yaml": case(4, "YYYY-MM", "11/2011"),
    "date_feb_31.yaml": case(4, "'2011-02-31' is not a date", "28 days", "YYYY-MM"),
    "date_month_00.yaml": case(2, "'2001-00' is not a date", "01..12"),
    "start_malformed.yaml": case(2, "YYYY-MM", "January 2001"),
    "event_outside_window.yaml": case(5, "outside the scenario window 2001-01 .. 2002-12"),
    "intervention_outside_window.yaml": case(5, "from 1999-01 is outside the scenario window"),
    "trigger_outside_window.yaml": case(8, "to 2030-01 is outside the scenario window"),
    "intervention_to_before_from.yaml": case(4, "is before 'from'"),
    "branch_outside_window.yaml": case(3, "branch month 2030-01", "inside the window"),
    # structure and cross-field rules
    "duplicate_event_id.yaml": case(5, "duplicate event id 'x'"),
    "action_of_other_actor.yaml": case(4, "belongs to PAK_MIL, not to actor US"),
    "intervention_foreign_action.yaml": case(4, "belongs to PAK_MIL, not to actor US"),
    "intervention_forbid_hold.yaml": case(4, "US_HOLD", "cannot be forbidden"),
    "intervention_hold_unknown.yaml": case(4, "cannot hold 'supply_route'",
                                           "did you mean 'supply_route_open'"),
    "intervention_empty.yaml": case(4, "needs 'force', 'forbid' or 'hold'"),
    "edit_shift_without_months.yaml": case(4, "'shift' needs 'months'"),
    "effect_set_and_add.yaml": case(4, "exactly one of 'set' or 'add'"),
    "trigger_bad_operator.yaml": case(5, "cannot read condition", "expected e.g."),
    "trigger_python_code.yaml": case(5, "cannot read condition", "expected e.g."),
    "trigger_unknown_actor.yaml": case(5, "unknown actor 'PAK_MILL'", "did you mean 'PAK_MIL'"),
    "trigger_then_empty.yaml": case(6, "'then' needs an 'action' and/or 'effects'"),
    "branch_without_extends.yaml": case(4, "'branch' needs 'extends'"),
    # a branch: what could only act before its month is refused (it would have no effect)
    "branch_edit_remove_before.yaml": case(5, "'remove' would have no effect",
                                           "before the branch month 2012-01"),
    "branch_edit_scale_before.yaml": case(5, "'scale' would have no effect"),
    "branch_edit_shift_before.yaml": case(5, "'shift' would have no effect"),
    "branch_edit_shift_across.yaml": case(5, "shifts it to 2010-11, before the branch month "
                                             "2011-06", "use 'remove'"),
    "branch_catalog_exclude_before.yaml": case(5, "catalog exclude 'salala_strike_2011'",
                                               "would have no effect"),
    "branch_catalog_severity_before.yaml": case(6, "severity of 'abbottabad_raid_2011'",
                                                "would have no effect"),
    "branch_initial_changed.yaml": case(6, "initial trust 'PAK_MIL->US'",
                                        "would have no effect"),
    "branch_event_before.yaml": case(5, "is before the branch month 2017-01"),
    "branch_intervention_before.yaml": case(5, "intervention starts 2016-01, before the "
                                               "branch month 2017-01"),
    "branch_trigger_before.yaml": case(7, "watches from 2005-01, before the branch month "
                                          "2009-01"),
    # extends
    "extends_missing.yaml": case(2, "no scenario file 'no_such_scenario.yaml'"),
    "extends_name_too_long.yaml": case(2, "no scenario file"),
    "extends_self.yaml": case(2, "cycle"),
    "extends_outside_absolute.yaml": case(2, "outside"),
    "extends_outside_dotdot.yaml": case(2, "outside"),
    "extends_device.yaml": case(2, "outside"),
    "extends_cycle_a.yaml": case(2, "cycle", loc_file="extends_cycle_b.yaml"),
    "extends_cycle_b.yaml": case(2, "cycle", loc_file="extends_cycle_a.yaml"),
    "extends_invalid_parent.yaml": case(1, "not UTF-8", loc_file="non_utf8_latin1.yaml"),
    # tags and aliases: plain YAML only, bounded expansion
    "python_tag_os_system.yaml": case(1, "tag"),
    "python_tag_on_valid_list.yaml": case(3, "tag"),
    "python_tag_name.yaml": case(3, "tag", "!!python"),
    "python_tag_module.yaml": case(2, "tag", "!!python"),
    "python_tag_object_new.yaml": case(3, "tag"),
    "python_tag_tuple.yaml": case(1, "tag"),
    "custom_tag.yaml": case(3, "tag '!include'"),
    "alias_bomb.yaml": case(None, "alias"),
    "alias_many.yaml": case(3, "more than 100 aliases"),
    # not text, no document, not a mapping
    "non_utf8_latin1.yaml": case(1, "not UTF-8", "byte 0xe9"),
    "binary_nul.yaml": case(None, "binary file"),
    "control_characters.yaml": case(1, "character"),
    "empty.yaml": case(None, "empty"),
    "whitespace_only.yaml": case(None, "empty"),
    "only_comments.yaml": case(None, "no YAML document"),
    "null_document.yaml": case(1, "expected a mapping"),
    "root_list.yaml": case(1, "expected a mapping", "list"),
    "root_string.yaml": case(1, "expected a mapping", "str"),
    "root_number.yaml": case(1, "expected a mapping", "int"),
    # several problems: every one is reported
    "two_errors.yaml": case((2, 3), "greater than or equal to 1", "did you mean 'start'"),
    "two_errors_check.yaml": case((5, 7), "outside the scenario window",
                                  "unknown event 'no_such_event'"),
}

#: Cases generated into a temporary folder (too large to commit, or not files at all).
GENERATED: dict[str, Case] = {
    "huge_file.yaml": case(None, "limit"),
    "deep_nesting_100.yaml": case(2, f"deeper than {MAX_DEPTH}"),
    "deep_nesting_5000.yaml": case(2, "nest"),
    "deep_block_nesting.yaml": case(None, "nest"),
    "no_such_file.yaml": case(None, "no such file"),
    "missing_" + "y" * 300 + ".yaml": case(None),  # a name too long for the file system
    "a_folder.yaml": case(None, "folder"),
}
LONG = next(n for n in GENERATED if n.startswith("missing_"))


def _generate(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    pad = "# padding to make the file larger than the limit\n"
    (folder / "huge_file.yaml").write_text(
        "name: huge\nmonths: 24\n" + pad * (MAX_BYTES // len(pad) + 100), encoding="utf-8")
    for depth in (100, 5000):
        (folder / f"deep_nesting_{depth}.yaml").write_text(
            "name: deep\nparams: " + "[" * depth + "]" * depth + "\n", encoding="utf-8")
    (folder / "deep_block_nesting.yaml").write_text(
        "name: deep\nteacher_notes:\n" + "".join("  " * (i + 1) + "k:\n" for i in range(80))
        + "  " * 81 + "leaf\n", encoding="utf-8")
    (folder / "a_folder.yaml").mkdir(exist_ok=True)
    return {name: folder / name for name in GENERATED}


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> dict[str, Path]:
    return _generate(tmp_path_factory.mktemp("hostile_generated"))


def _corpus_files() -> list[str]:
    return sorted(p.name for p in HOSTILE.iterdir() if p.is_file())  # cli/: test_hostile_cli


def test_corpus_matches_expectations(cli):
    """Every hostile file has an expectation and every expectation a file.

    (Asking for ``cli`` starts the command-line calls now, in the background.)"""
    assert _corpus_files() == sorted(CORPUS)
    sizes = {p.name: p.stat().st_size for p in HOSTILE.iterdir() if p.is_file()}
    assert max(sizes.values()) < 2_000, "corpus files are small; generate large ones"


ALL_CASES = {**CORPUS, **GENERATED}


def _path(name: str, generated: dict[str, Path]) -> Path:
    return generated[name] if name in GENERATED else HOSTILE / name


def _check_message(msg: str, path: Path, c: Case) -> None:
    """The message names the file (or the file the problem is in), points at the expected
    line(s) and says what was expected."""
    assert "Traceback" not in msg
    loc = str(path.parent / c.loc_file) if c.loc_file else str(path)
    assert loc in msg, f"message does not name {loc}:\n{msg}"
    for line in c.lines:
        assert re.search(re.escape(loc) + rf":{line}(:\d+)?:", msg), (
            f"no location {Path(loc).name}:{line}: in:\n{msg}")
    body = msg.replace(str(path), "FILE").replace(loc, "FILE")  # phrases not from file names
    for phrase in c.phrases:
        assert phrase in body, f"{phrase!r} not in:\n{msg}"


@pytest.mark.parametrize("name", sorted(ALL_CASES), ids=lambda n: n[:40])
def test_api_refuses(name, generated):
    """``load_scenario`` raises a located ModelInputError subclass, never anything else."""
    path = _path(name, generated)
    with pytest.raises(ModelInputError) as info:
        load_scenario(path)
    assert isinstance(info.value, INPUT_ERRORS), type(info.value)
    _check_message(str(info.value), path, ALL_CASES[name])


# --- the command line -------------------------------------------------------------------------

def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "model", *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=timeout, check=False)


@dataclass
class Outcome:
    """What ``validate`` said about one file: its block of stderr, or how it crashed."""

    block: str | None = None
    ok: bool = False
    crash: str | None = None


_SUMMARY = re.compile(r"^\d+ of \d+ file\(s\) invalid$")


def _split(stderr: str, files: list[Path]) -> tuple[dict[Path, str], bool]:
    """Per-file blocks of ``validate``'s stderr (files report in order); True if it crashed."""
    blocks: dict[Path, list[str]] = {}
    current: Path | None = None
    j = 0
    for line in stderr.splitlines():
        if line.startswith("Traceback") or _SUMMARY.match(line):
            return {p: "\n".join(b) for p, b in blocks.items()}, line.startswith("Traceback")
        k = next((k for k in range(j, len(files)) if line.startswith(f"{files[k]}:")), None)
        if k is not None:
            current, j = files[k], k + 1
            blocks[current] = [line]
        elif current is not None:
            blocks[current].append(line)
    return {p: "\n".join(b) for p, b in blocks.items()}, False


def _validate_each(files: list[Path]) -> tuple[dict[Path, Outcome], list]:
    """Validate all files in one call. If a file crashes the command, record the crash and go on
    with the files after it (in a few calls side by side), so every file gets its own verdict."""
    out: dict[Path, Outcome] = {}
    proc = _cli("validate", *map(str, files))
    runs = [proc]
    blocks, crashed = _split(proc.stderr, files)
    oks = {line.removesuffix(": ok") for line in proc.stdout.splitlines()}
    for p in files:
        if p in blocks or str(p) in oks:
            out[p] = Outcome(block=blocks.get(p), ok=str(p) in oks)
    if not (crashed or proc.returncode not in (0, 2)):
        return out, runs
    first = next((i for i, p in enumerate(files) if p not in out), None)
    if first is None:
        return out, runs
    out[files[first]] = Outcome(crash=f"exit {proc.returncode}\n{proc.stderr[-3000:]}")
    rest = files[first + 1:]
    parts = [rest[i::3] for i in range(3) if rest[i::3]]
    with ThreadPoolExecutor(max_workers=len(parts) or 1) as pool:
        for sub_out, sub_runs in pool.map(_validate_each, parts):
            out.update(sub_out)
            runs += sub_runs
    return out, runs


@pytest.fixture(scope="session")
def cli(generated, tmp_path_factory):
    """Every command-line call of this module, started at once (each costs a second or more)."""
    out_dir = tmp_path_factory.mktemp("cli_out")
    far = tmp_path_factory.mktemp("far") / "far_future_shift.yaml"
    far.write_text(FAR_FUTURE, encoding="utf-8")
    files = [HOSTILE / n for n in sorted(CORPUS)] + [generated[n] for n in sorted(GENERATED)]
    pool = ThreadPoolExecutor(max_workers=8)
    jobs: dict[str, Future] = {
        "validate": pool.submit(_validate_each, files),
        "shipped": pool.submit(_cli, "validate", *map(str, SHIPPED)),
        "schema": pool.submit(_cli, "schema"),
        "far": pool.submit(_cli, "run", str(far), "--months", "24",
                           "--out", str(out_dir / "far" / "out.parquet")),
    }
    many = tmp_path_factory.mktemp("many") / "many_values.yaml"
    many.write_text("name: many\nparams: [" + "1," * ((MAX_BYTES - 100) // 2) + "1]\n",
                    encoding="utf-8")
    jobs["many"] = pool.submit(_cpu_limited_cli, MANY_VALUES_CPU, "validate", str(many))
    for name in RUN_BAD:
        jobs[f"run {name}"] = pool.submit(
            _cli, "run", str(HOSTILE / name), "--out", str(out_dir / name / "out.parquet"))
    yield {"jobs": jobs, "out": out_dir, "files": files}
    pool.shutdown(wait=True)


def test_cli_validate_all_at_once(cli):
    """One ``validate`` call with every hostile file: exit 2, every file reported invalid."""
    _, runs = cli["jobs"]["validate"].result()
    first = runs[0]
    n = len(cli["files"])
    for proc in runs:
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    assert first.returncode == 2, first.stderr[-3000:]
    assert first.stderr.rstrip().splitlines()[-1] == f"{n} of {n} file(s) invalid"
    assert ": ok" not in first.stdout


@pytest.mark.parametrize("name", sorted(ALL_CASES), ids=lambda n: n[:40])
def test_cli_validate_message(name, cli, generated):
    """``validate``'s message for each file: named, located, saying what was expected."""
    path = _path(name, generated)
    outcome = cli["jobs"]["validate"].result()[0].get(path)
    assert outcome is not None, f"validate said nothing about {name}"
    assert outcome.crash is None, f"validate crashed on {name}:\n{outcome.crash}"
    assert not outcome.ok, f"validate accepted {name}"
    assert outcome.block is not None
    assert outcome.block.startswith(f"{path}:")
    _check_message(outcome.block, path, ALL_CASES[name])


RUN_BAD = ("python_tag_os_system.yaml", "extends_cycle_a.yaml")


@pytest.mark.parametrize("name", RUN_BAD)
def test_cli_run_bad_input_leaves_no_output(name, cli):
    proc = cli["jobs"][f"run {name}"].result()
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert str(HOSTILE / name) in proc.stderr
    folder = cli["out"] / name
    assert not folder.exists() or not any(folder.iterdir()), list(folder.iterdir())


def test_cli_schema(cli):
    proc = cli["jobs"]["schema"].result()
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(proc.stdout)
    assert schema["type"] == "object"
    for key in ("name", "start", "months", "params", "events", "triggers", "interventions",
                "edits", "extends", "branch"):
        assert key in schema["properties"], key
    assert "name" in schema.get("required", [])


def test_cli_validate_shipped(cli):
    proc = cli["jobs"]["shipped"].result()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"{p}: ok" for p in SHIPPED]
    assert "Traceback" not in proc.stderr
    assert "invalid" not in proc.stderr


# --- cases outside the one-problem-per-file corpus -------------------------------------------

#: An edit that shifts an event of a far-future window past the year 9999: the month
#: arithmetic must not escape as a bare ValueError (validate may refuse it, or run must run it).
FAR_FUTURE = """\
name: far-future window
start: 9990-01
months: 24
events:
  - {id: a, date: 9990-06, effects: {us_force: {set: 1}}}
edits:
  - {shift: a, months: 600}
"""


def test_far_future_shift_is_refused_or_runs():
    error: ModelInputError | None = None
    try:
        compile_scenario(loads_scenario(FAR_FUTURE))
    except ModelInputError as exc:
        error = exc
    assert error is None or str(error).startswith("<upload>:"), str(error)


def test_cli_run_far_future_shift(cli):
    proc = cli["jobs"]["far"].result()
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    assert proc.returncode in (0, 2), proc.stderr[-3000:]
    out = cli["out"] / "far" / "out.parquet"
    assert out.exists() == (proc.returncode == 0)
    leftovers = [p for p in out.parent.glob("*") if p.name.endswith(".part")]
    assert not leftovers, leftovers


def test_unquoted_full_date_is_read_or_explained():
    """YAML reads an unquoted 2011-11-26 as a date, not text: it must work or say YYYY-MM."""
    text = "name: x\nmonths: 24\nevents:\n  - {id: a, date: 2001-06-15, actor: US, cameo: '057'}\n"
    try:
        date = loads_scenario(text).events[0].date
    except ModelInputError as exc:
        date = str(exc)
    assert date.startswith("2001-06") or "YYYY-MM" in date, date


def test_upload_size_is_bounded():
    """Uploaded text larger than the file limit is refused like a file (before parsing)."""
    text = "name: huge upload\nmonths: 24\n" + "# padding\n" * (MAX_BYTES // 10 + 10)
    with pytest.raises(YamlError, match="limit"):
        loads_scenario(text)


@pytest.mark.parametrize("target", ["/etc/passwd", "../pyproject.toml", "../../../etc/hostname"])
def test_upload_extends_stays_in_scenarios(target):
    """An uploaded scenario may extend shipped scenarios only: no file outside scenarios/ is
    opened (its contents could leak through the error messages)."""
    with pytest.raises(ScenarioError) as info:
        loads_scenario(f"name: x\nextends: {target}\n")
    msg = str(info.value)
    assert msg.startswith("<upload>:2:"), msg
    assert "outside scenarios/" in msg
    assert "root:" not in msg


def test_upload_control_characters_located():
    with pytest.raises(YamlError) as info:
        loads_scenario("name: x\ndescription: \x1b[31mred\n")
    assert str(info.value).startswith("<upload>:2:"), str(info.value)


#: CPU seconds ``validate`` may spend on the many-values file (it needs about 2, most of it
#: for starting Python; CPU time, not wall time, so that a busy machine does not fail the test).
MANY_VALUES_CPU = 10


def _cpu_limited_cli(cpu_seconds: int, *args: str) -> subprocess.CompletedProcess:
    code = ("import resource, runpy, sys\n"
            f"resource.setrlimit(resource.RLIMIT_CPU, ({cpu_seconds}, {cpu_seconds}))\n"
            f"sys.argv = ['model', *{list(args)!r}]\n"
            "runpy.run_module('model', run_name='__main__', alter_sys=True)\n")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=300, check=False)


def test_many_tiny_values_refused_quickly(cli):
    """A file under the size limit made of a million tiny values is refused within seconds of
    CPU, not after composing them all (a minute and most of a gigabyte)."""
    proc = cli["jobs"]["many"].result()
    assert proc.returncode >= 0, (
        f"validate was killed (signal {-proc.returncode}) after {MANY_VALUES_CPU} s of CPU "
        f"on a 2 MB file")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "many_values.yaml" in proc.stderr


@pytest.mark.parametrize("name", ["two_errors.yaml", "two_errors_check.yaml"])
def test_every_error_reported(name):
    """A file with two independent problems gets one located line for each."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(HOSTILE / name)
    lines = str(info.value).splitlines()
    assert len(lines) == 2, lines
    assert all(line.startswith(f"{HOSTILE / name}:") for line in lines), lines


# --- shipped scenarios ----------------------------------------------------------------------

@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_runs(path):
    sc = load_scenario(path)
    short = simulate(path, runs=2, months=24)
    assert (short.runs, short.months) == (2, 24)
    full = simulate(path, runs=2, seed=1)
    assert (full.runs, full.months) == (2, sc.months)
    assert (len(full.dates), full.dates[0]) == (sc.months + 1, sc.start)
    for arr in (short.trust, short.aid, short.state, full.trust, full.aid, full.state):
        assert np.isfinite(arr).all()
