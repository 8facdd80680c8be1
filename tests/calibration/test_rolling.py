"""The rolling-origin out-of-sample check (model/calibration/rolling.py, ``calibrate --rolling``):
cuts checked before any work, only the decisions after a cut scored out of sample, resumable
(stored scores not recomputed), the table in the working folder and the report, nothing
installed.

The fits here are tiny history calibrations (two ABC-SMC generations, a thousand runs, about a
second each);
the measured protocol with the shipped settings is in docs/calibration.md.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from model.analysis.timing import TimingError
from model.calibration import fit, rolling
from model.calibration.report import ROLLING_BEGIN, ROLLING_END, update_rolling
from model.cli import calibrate as cli
from model.engine.paramsets import POSTERIOR_PATH

SMALL = {"generations": 2, "smc_replicates": 4, "replicates": 4, "waves": 2, "candidates": 32,
         "final_replicates": 8, "posterior": 16, "chunk": 256}
BUDGET, RUNS = 1000, 20


@pytest.fixture
def small(monkeypatch):
    """Make every history calibration (of the library and of the command) a tiny one."""
    real = fit.history_settings

    def tiny(until, seed, budget, **overrides):
        return real(until, seed, budget, **{**SMALL, **overrides})

    monkeypatch.setattr(fit, "history_settings", tiny)
    monkeypatch.setattr(rolling, "history_settings", tiny)


@pytest.fixture
def reports(tmp_path, monkeypatch):
    """The command's reports folder, in a temporary place."""
    dest = tmp_path / "reports"
    monkeypatch.setattr(cli, "REPORTS", dest)
    return dest


# ------------------------------------------------------------------------------------ the cuts
def test_parse_cuts():
    assert rolling.parse_cuts(None) == ("2005-12", "2011-12", "2016-12")
    assert rolling.parse_cuts("2016-12, 2005") == ("2005-12", "2016-12")
    assert rolling.parse_cuts(["2011-06"]) == ("2011-06",)


@pytest.mark.parametrize(("cuts", "match"), [
    ("2011-13", "'2011-13' is not a cut date.*month 13"),
    ("late", "'late' is not a cut date"),
    ("2011-12,,2016-12", "separated by commas"),
    ("2011-12,2011", "2011-12 given more than once"),
    ("2011/12", "'2011/12' is not a cut date"),
])
def test_garbled_cuts_are_refused(cuts, match):
    with pytest.raises(TimingError, match=match):
        rolling.parse_cuts(cuts)


@pytest.mark.parametrize(("cut", "match"), [
    ("2022-12", "2022-12: no documented decision after it"),
    ("2030-06", "2030-06: no documented decision after it"),
    ("1990-12", "1990-12: before the history starts \\(1998-01\\)"),
    ("1998-06", "1998-06: no documented decision up to it"),
])
def test_cuts_outside_the_record_are_refused(cut, match):
    with pytest.raises(TimingError, match=match):
        rolling.check_cuts([cut], 0, None)


def test_checked_cuts_count_the_decisions_on_each_side():
    cuts = rolling.check_cuts(rolling.parse_cuts(None), 0, None)
    assert [c.after for c in cuts][1] == 10            # the ten decisions after 2011
    assert all(c.upto + c.after == cuts[0].upto + cuts[0].after for c in cuts)


@pytest.mark.parametrize("argv", [
    ["--cuts", "2022-12"], ["--cuts", "2011-13"], ["--cuts", "1990-12"],
    ["--cuts", "2011-12,2022-12"],                     # one bad cut: nothing fitted at all
    ["--cuts", "2011-12", "--until", "2011-12"], ["--cuts", "2011-12", "--runs", "0"],
    ["--cuts", "2011-12", "--budget", "10"],
])
def test_cli_bad_input_exits_2_and_writes_nothing(argv, tmp_path, reports, capsys):
    before = POSTERIOR_PATH.read_bytes()
    out = tmp_path / "cal"
    assert cli.main(["--rolling", *argv, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "Traceback" not in err
    assert not out.exists()
    assert not reports.exists()
    assert POSTERIOR_PATH.read_bytes() == before


# ----------------------------------------------------------------------------- the protocol
def test_rolling_scores_only_the_decisions_after_the_cut(small, tmp_path):
    cuts = rolling.check_cuts(["2011-12"], 0, BUDGET)
    table = rolling.run_rolling(cuts, tmp_path, 0, BUDGET, RUNS, progress=False)
    assert list(table.columns) == rolling.COLUMNS
    row = table.iloc[0]
    assert row["cut"] == "2011-12"
    assert row["decisions_after"] == cuts[0].after == 10
    assert row["decisions_in"] == cuts[0].upto
    assert 0 <= row["timed_after"] <= row["decisions_after"]
    per = pd.read_csv(tmp_path / "rolling" / "cut-2011-12.csv")
    assert (per.loc[per["period"] == "out", "documented"] > "2011-12").all()
    assert (per.loc[per["period"] == "in", "documented"] <= "2011-12").all()
    assert per["timed"][per["period"] == "out"].sum() == row["timed_after"]
    # the fit is the --until fit: its own working folder, its posterior there
    assert (tmp_path / "until-2011-12" / "manifest.json").is_file()
    assert (tmp_path / "until-2011-12" / "posterior.csv").is_file()
    back = rolling.load_table(tmp_path)
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    md = (tmp_path / "rolling" / "rolling.md").read_text()
    assert "| 2011-12 | 10 |" in md


def test_rolling_resumes_and_does_not_recompute_finished_cuts(small, tmp_path):
    first = rolling.run_rolling(rolling.check_cuts(["2011-12"], 0, BUDGET), tmp_path, 0, BUDGET,
                                RUNS, progress=False)
    stored = tmp_path / "rolling" / "cut-2011-12.json"
    parts = sorted((tmp_path / "until-2011-12" / "parts").glob("*.npz"))
    stamps = {p: p.stat().st_mtime_ns for p in [stored, *parts]}
    both = rolling.run_rolling(rolling.check_cuts(["2005-12", "2011-12"], 0, BUDGET), tmp_path,
                               0, BUDGET, RUNS, progress=False)
    assert list(both["cut"]) == ["2005-12", "2011-12"]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps      # nothing redone
    pd.testing.assert_frame_equal(both.iloc[[1]].reset_index(drop=True), first)
    # other history runs: the scores are computed again (the fit is not)
    rolling.run_rolling(rolling.check_cuts(["2011-12"], 0, BUDGET), tmp_path, 0, BUDGET,
                        RUNS + 4, progress=False)
    assert stored.stat().st_mtime_ns != stamps[stored]
    assert json.loads(stored.read_text())["identity"]["runs"] == RUNS + 4
    assert all(p.stat().st_mtime_ns == stamps[p] for p in parts)


def test_rolling_recomputes_a_damaged_score_file(small, tmp_path):
    cuts = rolling.check_cuts(["2011-12"], 0, BUDGET)
    first = rolling.run_rolling(cuts, tmp_path, 0, BUDGET, RUNS, progress=False)
    stored = tmp_path / "rolling" / "cut-2011-12.json"
    for garbage in (b"\x00\x01 not json", b"[1, 2]", b'{"identity": {}, "row": 3}'):
        stored.write_bytes(garbage)
        again = rolling.run_rolling(cuts, tmp_path, 0, BUDGET, RUNS, progress=False)
        pd.testing.assert_frame_equal(again, first)
        assert json.loads(stored.read_text())["row"]["cut"] == "2011-12"


def test_cli_rolling_writes_the_table_and_report_and_installs_nothing(small, tmp_path, reports,
                                                                     capsys):
    before = POSTERIOR_PATH.read_bytes()
    reports.mkdir()
    (reports / "calibration.md").write_text("# Calibration report\n\nearlier text\n")
    argv = ["--rolling", "--cuts", "2011-12", "--budget", str(BUDGET), "--runs", str(RUNS),
            "--out", str(tmp_path / "cal"), "--quiet"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "cut 2011-12: after it timed" in out
    assert "total wall time" in out
    assert (tmp_path / "cal" / "rolling" / "rolling.csv").is_file()
    text = (reports / "calibration.md").read_text()
    assert "earlier text" in text
    assert "## Out of sample: rolling origin" in text
    assert cli.main(argv) == 0                          # again: the section is replaced
    text2 = (reports / "calibration.md").read_text()
    assert text2.count(ROLLING_BEGIN) == 1
    assert text2.count(ROLLING_END) == 1
    assert POSTERIOR_PATH.read_bytes() == before
    assert not (tmp_path / "cal" / "full").exists()


def test_update_rolling_keeps_the_rest_of_the_report(tmp_path):
    table = pd.DataFrame([dict.fromkeys(rolling.COLUMNS, 0) | {"cut": "2011-12", "ess": 1.5}])
    path = tmp_path / "calibration.md"
    path.write_text(f"# R\n\nbefore\n\n{ROLLING_BEGIN}\nold table\n{ROLLING_END}\n\nafter\n")
    update_rolling(path, table)
    text = path.read_text()
    assert text.startswith("# R\n\nbefore\n\n")
    assert text.endswith(f"{ROLLING_END}\n\nafter\n")
    assert "old table" not in text
    assert "| 2011-12 | 0 | 0 |" in text
    new = tmp_path / "new.md"
    update_rolling(new, table)
    assert new.read_text().startswith("# Calibration report\n\n" + ROLLING_BEGIN)


def test_report_written_again_keeps_the_rolling_section(tmp_path):
    from model.calibration.report import _kept_rolling

    path = tmp_path / "calibration.md"
    assert _kept_rolling(path) == []
    section = f"{ROLLING_BEGIN}\n## Out of sample\n\n| t |\n{ROLLING_END}"
    path.write_text(f"# old report\n\n{section}\n\nmore\n")
    assert "\n".join(_kept_rolling(path)).strip() == section
