"""The dashboard's pages under Streamlit's AppTest: every page renders without an exception,
changing a widget changes what the page shows, and bad input gives a message, not a crash.

Ensembles are small (20 runs) to keep the file fast; the model's results are cached across
tests in the same process, as in a running app.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import core, lessons, sweeps, ui

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
RUNS = 20


def app(page: str | None = None, **state) -> AppTest:
    """A fresh app with small ensembles, on ``page`` (e.g. 'views/whatif.py')."""
    at = AppTest.from_file(APP, default_timeout=120)
    for prefix in ("hist", "cmp", "cls"):
        at.session_state[f"{prefix}_runs"] = RUNS
    at.session_state["wi_runs"] = RUNS
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    if page:
        at.switch_page(page).run()
    ok(at)
    return at


def ok(at: AppTest) -> None:
    """No exception, and none caught by the error boundary as unexpected (a bug)."""
    assert not at.exception, [e.value for e in at.exception]
    unexpected = [e.value for e in at.error if ui.UNEXPECTED in e.value]
    assert not unexpected, unexpected


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [e.value for e in at.info]
                     + [e.value for e in at.success] + [e.value for e in at.warning])


def errors(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error)


def test_streamlit_config_hides_the_deploy_button():
    """The header shows a viewer's toolbar: no "Deploy" button (the browser test looks)."""
    import tomllib

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert cfg["client"]["toolbarMode"] == "viewer"
    assert cfg["browser"]["gatherUsageStats"] is False


# -------------------------------------------------------------------------- error boundary
def _raise(exc: BaseException):
    def f(*_a, **_k):
        raise exc
    return f


@pytest.mark.parametrize(("exc", "expected", "hidden"), [
    (PermissionError(13, "Permission denied", str(ROOT / "dashboard" / "content" / "whatif.md")),
     "dashboard/content/whatif.md: cannot read (permission denied)", str(ROOT)),
    (OSError(28, "No space left on device", "/srv/secret/cache/x.bin"),
     "x.bin: cannot read (the disk is full)", "/srv/secret"),
    (FileNotFoundError(2, "No such file", "/var/lib/private/posterior.csv"),
     "posterior.csv: cannot read (no such file or folder)", "/var/lib/private"),
    (pd.errors.ParserError("Error tokenizing data. C error: Expected 3 fields in line 7"),
     "a data file the page reads cannot be read (ParserError: Error tokenizing", "Traceback"),
    (MemoryError(), "the server ran out of memory. Use fewer runs", "Traceback"),
    (core.ModelInputError("scenarios/x.yaml:3:1: unknown key 'monthz'"),
     "scenarios/x.yaml:3:1: unknown key 'monthz'", "Traceback"),
])
def test_error_boundary_turns_errors_into_messages(monkeypatch, exc, expected, hidden):
    """OSError and its kinds, data errors, memory and input errors: a message naming the file
    (relative to the project, or only its name) and what to do; no traceback, no server path."""
    monkeypatch.setattr(core, "content", _raise(exc))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = errors(at)
    assert expected in shown
    assert hidden not in shown


def test_error_boundary_hides_an_unexpected_error(monkeypatch):
    monkeypatch.setattr(core, "events", _raise(RuntimeError(f"boom in {ROOT}/model/x.py")))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert ui.UNEXPECTED in errors(at)
    assert "Traceback" not in errors(at)
    assert str(ROOT) not in errors(at)


# --------------------------------------------------------------------------------- history
@pytest.mark.parametrize("tab", ["Timeline of events", "Network of trust",
                                 "Trust and aid over time", "History check"])
def test_history_tabs_render(tab):
    at = app(hist_tab=tab)
    assert at.title[0].value.startswith("History")
    if tab == "History check":
        assert len(at.dataframe) == 1
        assert len(at.table) == 1
        assert "Documented decisions reproduced" in [m.label for m in at.metric]
    else:
        assert charts(at)


def test_history_check_shows_the_timing_table_and_skill():
    at = app(hist_tab="History check")
    labels = [m.label for m in at.metric]
    assert labels[:3] == ["Decisions timed", "Skill vs frequency null",
                          "Skill vs shock-response null"]
    timed, n = (int(x) for x in at.metric[0].value.split(" / "))
    table = at.dataframe[0].value
    assert n == len(table) == 49
    assert {"share", "base", "timed", "error_months", "never_share"} <= set(table.columns)
    assert timed == int(table["timed"].sum())
    route = table.set_index("id").loc["supply_route_closure_2011"]
    assert route["window"] == "2011-09..2012-01"
    assert "Brier skill" in "\n".join(c.value for c in at.caption)
    assert "Share in window" in texts(at)


def test_history_filters_change_the_timeline():
    at = app()
    before = charts(at)[0]
    n_before = sum(len(t["x"]) for t in before["data"])
    at.pills(key="hist_actors").set_value(["US"]).run()
    ok(at)
    after = charts(at)[0]
    n_after = sum(len(t["x"]) for t in after["data"])
    assert 0 < n_after < n_before
    at.pills(key="hist_kinds").set_value(["shock"]).run()
    assert [t["name"] for t in charts(at)[0]["data"]] == ["shock"]
    at.pills(key="hist_actors").set_value([]).run()
    ok(at)
    assert "No event matches" in texts(at)


def test_history_event_card_shows_quote_source_and_perspective():
    at = app()
    at.selectbox(key="hist_event").set_value("salala_strike_2011").run()
    ok(at)
    body = texts(at)
    assert "26 Pakistani servicemen" in body
    assert "The source's perspective:" in body


def test_history_month_slider_changes_the_network():
    at = app(hist_tab="Network of trust")
    first = charts(at)[0]
    at.select_slider(key="hist_month").set_value("2002-01").run()
    ok(at)
    second = charts(at)[0]
    assert first["layout"]["title"]["text"].startswith("2011-06")
    assert second["layout"]["title"]["text"].startswith("2002-01")
    assert first["data"] != second["data"]


def test_history_play_button_toggles():
    at = app(hist_tab="Network of trust")
    at.button(key="hist_play").click().run()
    ok(at)
    assert at.session_state["hist_playing"] is True
    assert at.button(key="hist_play").label.endswith("Pause")
    at.button(key="hist_play").click().run()
    assert at.session_state["hist_playing"] is False


def test_history_series_choice_changes_the_panels():
    at = app(hist_tab="Trust and aid over time")
    n_before = len(charts(at)[0]["data"])
    at.multiselect(key="hist_series").set_value(["trust US->INDIA"]).run()
    ok(at)
    spec = charts(at)[0]
    assert len(spec["data"]) < n_before
    assert "Trust US → INDIA" in json.dumps(spec["layout"]["annotations"], ensure_ascii=False)


def test_history_runs_change_the_check():
    at = app(hist_tab="History check")
    share20 = at.dataframe[0].value["share"].to_numpy()
    at.select_slider(key="hist_runs").set_value(50).run()
    ok(at)
    share50 = at.dataframe[0].value["share"].to_numpy()
    assert not np.array_equal(share20, share50)


# --------------------------------------------------------------------------------- what-if
def test_whatif_runs_an_ensemble_against_the_history():
    at = app("views/whatif.py")
    assert "press **Run the ensemble**" in texts(at)
    at.button(key="wi_run").click().run()
    ok(at)
    assert at.session_state["wi_result"]["runs"] == RUNS
    names = [t["name"] for t in charts(at)[0]["data"]]
    assert "History replay" in names
    assert "What-if" in names
    assert "agree in every month" in "\n".join(c.value for c in at.caption)   # unchanged
    labels = [b.label for b in at.get("download_button")] if at.get("download_button") else []
    assert len(at.get("download_button")) == 4, labels


def test_whatif_parameter_change_changes_the_result():
    at = app("views/whatif.py")
    at.button(key="wi_run").click().run()
    before = charts(at)[0]
    bid = ui.short_hash(core.history_text())
    at.selectbox(key="wi_group").set_value("aid_compliance").run()
    at.slider(key=f"wp_{bid}_aid_compliance").set_value(5.0).run()
    ok(at)
    assert "`aid_compliance` = 5" in texts(at)
    assert "settings have changed" in texts(at)
    at.button(key="wi_run").click().run()
    ok(at)
    after = charts(at)[0]
    assert before["data"] != after["data"]
    assert "aid_compliance: 5.0" in at.session_state["wi_result"]["text"]
    assert "Against the history replay" in texts(at)
    assert "under the history replay" in texts(at)
    assert "parameter sets]" in texts(at)               # each difference's robustness label
    assert "depends on the calibration" in "\n".join(c.value for c in at.caption)


def _downloads(at: AppTest) -> dict[str, object]:
    return {b.proto.label: b for b in at.get("download_button")}


def test_whatif_all_runs_downloads_say_their_size():
    at = app("views/whatif.py")
    at.button(key="wi_run").click().run()
    ok(at)
    labels = list(_downloads(at))
    csv = next(x for x in labels if x.startswith("All runs (CSV"))
    assert csv.startswith("All runs (CSV, about ")
    assert csv.endswith(" MB)")
    assert any(x.startswith("All runs (Parquet, about ") for x in labels)


def test_whatif_a_csv_of_every_run_over_the_limit_is_warned_and_not_offered():
    at = app("views/whatif.py", wi_runs=200)
    at.button(key="wi_run").click().run()
    ok(at)
    buttons = _downloads(at)
    csv = next(b for k, b in buttons.items() if k.startswith("All runs (CSV"))
    mb = float(csv.proto.label.split("about ")[1].split(" MB")[0])
    assert mb > 100                                      # ~138 MB for 200 runs of history
    assert csv.proto.disabled
    parquet = next(b for k, b in buttons.items() if k.startswith("All runs (Parquet"))
    assert not parquet.proto.disabled
    warned = "\n".join(w.value for w in at.warning)
    assert f"about {mb:.0f} MB" in warned
    assert "Parquet" in warned


def test_whatif_branch_compares_from_the_branch_month_and_locks_earlier_shocks():
    at = app("views/whatif.py", wi_base="whatif_no_2018_suspension")
    text = core.shipped_text("whatif_no_2018_suspension")
    bid = ui.short_hash(text)
    shocks = core.shocks_in(text)
    early, late = shocks[shocks["month"] < "2017-01"], shocks[shocks["month"] >= "2017-01"]
    assert len(early)
    assert len(late)
    for r in early.itertuples():
        assert at.checkbox(key=f"ws_{bid}_{r.id}_on").disabled
    for r in late.itertuples():
        assert not at.checkbox(key=f"ws_{bid}_{r.id}_on").disabled
    assert "cannot be left out or resized here" in texts(at)
    assert at.number_input(key=f"wi_months_{bid}").disabled
    at.selectbox(key="wi_group").set_value("aid_compliance").run()
    at.slider(key=f"wp_{bid}_aid_compliance").set_value(5.0).run()
    at.button(key="wi_run").click().run()
    ok(at)
    summary = next(m.value for m in at.markdown if "Against the history replay" in m.value)
    assert "compared from 2017-01, the branch month" in summary
    sentences = next(m.value for m in at.markdown if m.value.startswith("- "))
    assert "1998" not in sentences
    assert "2017" in sentences


def test_whatif_parameters_survive_group_changes_and_reset():
    at = app("views/whatif.py")
    bid = ui.short_hash(core.history_text())
    at.selectbox(key="wi_group").set_value("india_factor").run()
    at.slider(key=f"wp_{bid}_india_penalty").set_value(0.0).run()
    at.selectbox(key="wi_group").set_value("war").run()
    ok(at)
    assert "`india_penalty` = 0" in texts(at)
    at.button(key="wi_reset").click().run()
    ok(at)
    assert "Changed from the scenario" not in texts(at)


def test_whatif_shock_toggle_and_severity_edit_the_scenario():
    at = app("views/whatif.py")
    bid = ui.short_hash(core.history_text())
    at.checkbox(key=f"ws_{bid}_salala_strike_2011_on").uncheck().run()
    at.number_input(key=f"ws_{bid}_abbottabad_raid_2011_sev").set_value(8.0).run()
    ok(at)
    at.button(key="wi_run").click().run()
    ok(at)
    sc = core.parse(at.session_state["wi_result"]["text"])
    assert "salala_strike_2011" in sc.catalog.exclude
    assert sc.catalog.severity["abbottabad_raid_2011"] == 8.0


def test_whatif_adds_a_valid_event_and_refuses_bad_ones():
    at = app("views/whatif.py")
    at.text_input(key="wi_ev_date").set_value("2040-01")
    at.get("form_submit_button")  # the form exists
    submit = next(b for b in at.button if b.label == "Add event")
    submit.click().run()
    ok(at)
    assert "outside the scenario window" in errors(at)
    at.text_input(key="wi_ev_date").set_value("2011-08")
    at.selectbox(key="wi_ev_actor").set_value("PAK_MIL")
    at.selectbox(key="wi_ev_action").set_value("US_STRIKE")
    next(b for b in at.button if b.label == "Add event").click().run()
    ok(at)
    assert "belongs to US" in errors(at)
    at.selectbox(key="wi_ev_actor").set_value("US")
    next(b for b in at.button if b.label == "Add event").click().run()
    ok(at)
    assert not errors(at)
    bid = ui.short_hash(core.history_text())
    assert [e["id"] for e in at.session_state[f"wi_events_{bid}"]] == ["my_event_1"]
    at.button(key="wi_run").click().run()
    ok(at)
    assert "my_event_1" in at.session_state["wi_result"]["text"]


def test_whatif_scenario_outputs_are_the_default_series():
    sc = next((n for n in core.shipped() if core.output_series(core.parse(core.shipped_text(n)))),
              None)
    if sc is None:
        pytest.skip("no shipped scenario names 'outputs' in this version of the model")
    at = app("views/whatif.py", wi_base=sc)
    at.button(key="wi_run").click().run()
    ok(at)
    wanted = core.output_series(core.parse(core.shipped_text(sc)))[:6]
    chosen = next(m for m in at.multiselect if m.key.startswith("wi_series_")).value
    assert list(chosen) == wanted


def test_whatif_months_change_the_window():
    at = app("views/whatif.py", wi_base="baseline")
    key = f"wi_months_{ui.short_hash(core.shipped_text('baseline'))}"
    at.number_input(key=key).set_value(36).run()          # cuts off the 2009 surge event
    ok(at)
    assert "outside the scenario window" in errors(at)
    assert at.button(key="wi_run").disabled
    at.number_input(key=key).set_value(180).run()
    at.button(key="wi_run").click().run()
    ok(at)
    assert core.window(at.session_state["wi_result"]["text"]) == ("2001-01", 180)


@pytest.mark.parametrize(("name", "raw", "expected"), [
    ("broken.yaml", b"name: [unclosed\n", "broken.yaml:"),
    ("list.yaml", b"- 1\n- 2\n", "expected a mapping"),
    ("keys.yaml", b"name: x\nmonthz: 12\n", "unknown key 'monthz'"),
    ("bounds.yaml", b"name: x\nparams: {forgetting: 3}\n", "outside its bounds"),
    ("latin1.yaml", b"name: caf\xe9\n", "not UTF-8"),
])
def test_whatif_bad_upload_shows_the_cli_message_and_writes_nothing(name, raw, expected):
    before = sorted(p.name for p in (ROOT / "scenarios").iterdir())
    at = app("views/whatif.py", wi_src="a scenario file")
    at.get("file_uploader")[0].set_value((name, raw, "application/x-yaml"))
    at.run()
    ok(at)
    msg = errors(at)
    assert "error: " in msg
    assert expected in msg
    assert "wi_result" not in at.session_state
    assert sorted(p.name for p in (ROOT / "scenarios").iterdir()) == before


def test_whatif_good_upload_runs():
    at = app("views/whatif.py", wi_src="a scenario file")
    raw = core.shipped_text("baseline").replace("months: 240", "months: 180").encode()
    at.get("file_uploader")[0].set_value(("short.yaml", raw, "application/x-yaml"))
    at.run()
    ok(at)
    assert not errors(at)
    at.button(key="wi_run").click().run()
    ok(at)
    assert core.window(at.session_state["wi_result"]["text"]) == ("2001-01", 180)


# --------------------------------------------------------------------------------- compare
def test_compare_two_scenarios_with_summary_and_intervals():
    at = app("views/compare.py")
    assert "press **Compare**" in texts(at)
    at.button(key="cmp_run").click().run()
    ok(at)
    body = texts(at)
    assert "The supply route is closed at some point" in body
    assert "% of runs under A (history) and" in body
    assert "PAK_MIL->US trust in 2011: " in body
    assert len(charts(at)) == 2
    table = at.dataframe[0].value
    assert table.shape[0] == 10
    assert table.iloc[0, 1].endswith("]")


def test_compare_labels_each_difference_by_its_robustness():
    at = app("views/compare.py", cmp_B="whatif_no_salala")
    at.button(key="cmp_run").click().run()
    ok(at)
    body = texts(at)
    assert "parameter sets]" in body
    assert "[robust: same sign in" in body or "[depends on the calibration" in body
    table = at.dataframe[0].value
    assert set(table["robustness"]) <= {"robust", "depends on the calibration"}
    assert table["same_sign"].between(0, 1).all()
    caption = "\n".join(c.value for c in at.caption)
    assert "intervals are over runs drawn across the sets" in caption
    assert "**robust** when it has the same sign in at least 90%" in caption


def test_compare_period_starts_where_the_scenarios_differ():
    at = app("views/compare.py", cmp_B="whatif_no_salala")
    at.button(key="cmp_run").click().run()
    ok(at)
    period = next(s for s in at.select_slider if s.key.startswith("cmp_period_"))
    assert period.value == (2011, 2012)
    assert "in 2011-01 to 2012-12 in" in texts(at)
    period.set_value((2013, 2015)).run()
    ok(at)
    assert "in 2013-01 to 2015-12 in" in texts(at)


def test_compare_year_and_pair_change_the_sentence():
    at = app("views/compare.py")
    at.button(key="cmp_run").click().run()
    at.select_slider(key="cmp_year").set_value(2005).run()
    at.selectbox(key="cmp_pair").set_value("US->INDIA").run()
    ok(at)
    assert "US->INDIA trust in 2005: " in texts(at)


def test_compare_explains_with_the_models_ledger():
    at = app("views/compare.py", cmp_B="whatif_no_salala")
    at.button(key="cmp_run").click().run()
    at.session_state["cmp_why"] = True          # open the lazy expander
    at.run()
    ok(at)
    body = texts(at)
    if "no `model.analysis.compare` yet" not in body:
        assert "Contributions that differ most" in body
        assert "salala_strike_2011" in body


def test_compare_uses_the_whatif_run():
    at = app("views/whatif.py")
    at.button(key="wi_run").click().run()
    at.switch_page("views/compare.py").run()
    ok(at)
    assert at.selectbox(key="cmp_B").value == "what-if (your last run)"
    at.button(key="cmp_run").click().run()
    ok(at)
    assert "B (what-if)" in texts(at)


def test_compare_bad_upload_is_reported():
    at = app("views/compare.py", cmp_A="upload a file …")
    at.get("file_uploader")[0].set_value(("x.yaml", b"name: [", "application/x-yaml"))
    at.run()
    ok(at)
    assert "x.yaml:" in errors(at)


# ---------------------------------------------------------------------------------- sweeps
def _sweep_folder(path: Path) -> Path:
    rng = np.random.default_rng(0)
    (path / "parts").mkdir(parents=True)
    df = pd.DataFrame({"run_id": np.arange(50), "sovereignty_weight": rng.uniform(0, 10, 50),
                       "forgetting": rng.uniform(0.8, 1, 50)})
    df["months_route_closed"] = 3 * df["sovereignty_weight"] + rng.normal(0, 1, 50)
    df["trust_final"] = df["forgetting"] / 2
    df.to_parquet(path / "parts" / "part-000000.parquet", index=False)
    (path / "manifest.json").write_text(json.dumps({"name": "tiny"}))
    return path


@pytest.fixture
def results(tmp_path, monkeypatch):
    """A results root for the Sweeps page (the server's setting, as ``AFPAK_RESULTS``)."""
    monkeypatch.setenv(sweeps.ROOTS_ENV, str(tmp_path))
    return tmp_path


def test_sweeps_open_a_folder(results):
    _sweep_folder(results / "tiny")
    at = app("views/sweeps.py")
    assert at.selectbox(key="sw_folder").options == [f"{results}/tiny"]
    assert not at.text_input                      # no free path to type
    assert "50 runs, 2 parameters, 2 outcomes" in texts(at)
    specs = charts(at)
    assert len(specs) == 2
    assert specs[0]["data"][0]["orientation"] == "h"
    at.selectbox(key="swf_outcome").set_value("trust_final").run()
    ok(at)
    assert charts(at)[1] != specs[1]


def test_sweeps_lists_only_folders_under_the_results_root(results, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    _sweep_folder(outside / "secret")
    _sweep_folder(results / "a")
    (results / "b").mkdir()
    (results / "b" / "manifest.json").write_text("{}")
    (results / "link").symlink_to(outside / "secret", target_is_directory=True)
    at = app("views/sweeps.py")
    assert at.selectbox(key="sw_folder").options == [f"{results}/a", f"{results}/b"]


def test_sweeps_default_root_is_out(monkeypatch):
    monkeypatch.delenv(sweeps.ROOTS_ENV, raising=False)
    monkeypatch.setattr(sweeps.access, "RESULTS", ROOT / "no-such-results-folder")
    at = app("views/sweeps.py")
    assert "No sweep results folder under `out/` yet" in texts(at)


def test_sweeps_with_a_sensitivity_table(results):
    folder = _sweep_folder(results / "tiny")
    pd.DataFrame({"parameter": ["sovereignty_weight", "forgetting"], "outcome":
                  ["months_route_closed"] * 2, "S1": [0.9, 0.01], "S1_conf": [0.05, 0.02],
                  "ST": [0.95, 0.02], "ST_conf": [0.05, 0.02]}).to_csv(
        folder / "sensitivity_route.csv", index=False)
    at = app("views/sweeps.py")
    names = [t["name"] for t in charts(at)[0]["data"]]
    assert names == ["S1", "ST"]
    table = at.dataframe[0].value
    assert {"lo", "hi"} <= set(table.columns)


def test_sweeps_a_folder_too_big_is_refused_with_a_message(results, monkeypatch):
    _sweep_folder(results / "tiny")
    monkeypatch.setattr(sweeps, "MAX_DISK_BYTES", 100)
    at = app("views/sweeps.py")
    assert "tiny: holds" in errors(at)
    assert "the page loads at most" in errors(at)
    assert not charts(at)


def test_sweeps_a_folder_that_is_not_a_sweep(results):
    (results / "x").mkdir()
    (results / "x" / "manifest.json").write_text("{}")
    at = app("views/sweeps.py")
    assert "no Parquet files" in errors(at)
    assert not charts(at)


def test_sweeps_run_a_small_sweep_here():
    at = app("views/sweeps.py", sw_mode="run a small sweep here", sw_n=16,
             sw_scenario="baseline")
    at.button(key="sw_run").click().run()
    ok(at)
    assert "16 runs" in texts(at)
    assert "**Parameters not varied:** per-run draws from the calibrated posterior" in texts(at)
    first = charts(at)
    assert len(first) == 2
    at.selectbox(key="sws_x").set_value("india_penalty").run()
    ok(at)
    assert charts(at)[1] != first[1]


def test_sweeps_small_sobol_sweep_warns_that_n_is_too_small():
    at = app("views/sweeps.py", sw_mode="run a small sweep here", sw_n=16, sw_method="sobol",
             sw_scenario="baseline")
    at.multiselect(key="sw_params").set_value(["aid_compliance", "india_penalty"])
    at.button(key="sw_run").click().run()
    ok(at)
    warned = "\n".join(w.value for w in at.warning)
    assert "N = 16 Sobol base samples is below 256" in warned
    bars = charts(at)[0]["data"]
    assert [t["name"] for t in bars] == ["S1", "ST"]
    assert all(t["error_x"]["array"] for t in bars)          # confidence intervals drawn
    assert {"lo", "hi"} <= set(at.dataframe[0].value.columns)


def test_sweeps_without_parameters_is_an_error():
    at = app("views/sweeps.py", sw_mode="run a small sweep here", sw_n=16)
    at.multiselect(key="sw_params").set_value([]).run()
    at.button(key="sw_run").click().run()
    ok(at)
    assert "at least one parameter" in errors(at)


# ------------------------------------------------------------------------------- classroom
@pytest.mark.parametrize("lesson_id", list(lessons.load_lessons()))
def test_classroom_lesson_reveals_after_the_prediction(lesson_id):
    at = app("views/classroom.py", cls_lesson=lesson_id)
    lesson = lessons.load_lessons()[lesson_id]
    assert at.header[0].value == lesson.title
    assert "What happened" not in [s.value for s in at.subheader]
    at.slider(key=f"cls_pred_{lesson_id}").set_value(lesson.prediction.hi)
    at.button(key=f"cls_commit_{lesson_id}").click().run()
    ok(at)
    assert at.session_state[f"cls_committed_{lesson_id}"] == lesson.prediction.hi
    heads = [s.value for s in at.subheader]
    assert "What the model says" in heads
    assert "What happened" in heads
    assert "Across the posterior's parameter sets, the change is **" in "\n".join(
        c.value for c in at.caption)
    assert any("your prediction" in json.dumps(c) for c in charts(at))


def test_classroom_poll_inject_and_debrief():
    at = app("views/classroom.py", cls_lesson="route_2011")
    at.text_area(key="cls_poll_route_2011").set_value("10, 40 40; 95 maybe 130").run()
    ok(at)
    assert "'maybe' is not a number" in errors(at)
    assert "130 is outside" in errors(at)
    poll = next(c for c in charts(at) if "class" in json.dumps(c))
    assert "n=4" in json.dumps(poll)
    at.toggle(key="cls_poll_reveal_route_2011").set_value(True).run()
    ok(at)
    assert "model" in json.dumps(charts(at)[-1])
    submit = next(b for b in at.button if b.label == "Inject into the lesson's world")
    submit.click().run()
    ok(at)
    assert len(at.session_state["cls_inject_route_2011"]) == 1
    assert at.get("download_button")
    at.button(key="cls_commit_route_2011").click().run()
    ok(at)
    assert "event(s) injected by the teacher" in "\n".join(c.value for c in at.caption)


def test_classroom_teachers_panel_stays_open_after_an_injection():
    at = app("views/classroom.py", cls_lesson="route_2011", cls_panel_route_2011=True)
    assert at.expander[0].label == "Teacher's panel"
    assert at.expander[0].proto.expanded
    submit = next(b for b in at.button if b.label == "Inject into the lesson's world")
    submit.click().run()
    ok(at)
    assert len(at.session_state["cls_inject_route_2011"]) == 1
    assert at.session_state["cls_panel_route_2011"] is True
    assert at.expander[0].proto.expanded


def test_classroom_lesson_text_and_debrief_quote_the_run_on_screen():
    """After an injection changes the answer, the prose and the debrief say the new figures."""
    at = app("views/classroom.py", cls_lesson="route_2011", cls_panel_route_2011=True)
    at.button(key="cls_commit_route_2011").click().run()
    ok(at)
    lesson = lessons.load_lessons()["route_2011"]
    before = lessons.answer(lesson, RUNS, 0)
    said = " ".join(texts(at).split())
    assert f"closes the route at some point in {before.variant} without the raids" in said
    at.select_slider(key="cls_i_date_route_2011").set_value("2011-08")
    at.number_input(key="cls_i_sev_route_2011").set_value(5.0)
    at.number_input(key="cls_i_killed_route_2011").set_value(26)   # M3: soldiers killed
    next(b for b in at.button if b.label == "Inject into the lesson's world").click().run()
    ok(at)
    injected = tuple(at.session_state["cls_inject_route_2011"])
    assert injected[0]["effects"] == {"sovereignty_grievance": {"add": 26.0}}
    after = lessons.answer(lesson, RUNS, 0, injected)
    assert after.variant != before.variant
    said = " ".join(texts(at).split())
    assert f"closes the route at some point in {after.variant} without the raids" in said
    assert f"in {before.variant} without the raids" not in said


def test_classroom_commit_scrolls_to_the_answer():
    at = app("views/classroom.py", cls_lesson="aid_trust")
    at.button(key="cls_commit_aid_trust").click().run()
    ok(at)
    heads = [s for s in at.subheader if s.value == "What the model says"]
    assert heads
    assert heads[0].proto.anchor == ui.ANSWER_ANCHOR
    scripts = [h.proto.body for h in at.get("html") if "scrollIntoView" in h.proto.body]
    assert scripts
    assert repr(ui.ANSWER_ANCHOR) in scripts[0]
    code = scripts[0].removeprefix("<script>").removesuffix("</script>")
    assert "<" not in code
    assert ">" not in code
    at.run()                                        # only once: later reruns leave the scroll
    assert not [h for h in at.get("html") if "scrollIntoView" in h.proto.body]


def test_classroom_change_prediction():
    at = app("views/classroom.py", cls_lesson="aid_trust")
    at.button(key="cls_commit_aid_trust").click().run()
    at.button(key="cls_uncommit_aid_trust").click().run()
    ok(at)
    assert "cls_committed_aid_trust" not in at.session_state
    assert not at.slider(key="cls_pred_aid_trust").disabled


def test_classroom_play_as_an_actor():
    at = app("views/classroom.py", cls_tab="Play as an actor", play_len=3)
    at.button(key="play_go").click().run()
    ok(at)
    assert at.session_state["play"]["actor"] == "PAK_MIL"
    moves = ["MIL_CLOSE_ROUTE", "MIL_HOLD", "MIL_REOPEN_ROUTE"]
    for k, move in enumerate(moves):
        at.radio(key=f"play_move_{k}").set_value(move)
        at.button(key="play_commit").click().run()
        ok(at)
    assert at.session_state["play"]["choices"] == moves
    assert "How history might have gone" in [s.value for s in at.subheader]
    assert "under the model's own play" in texts(at)
    table = at.dataframe[-1].value
    assert list(table["your class"]) == moves
    at.button(key="play_undo").click().run()
    ok(at)
    assert at.session_state["play"]["choices"] == moves[:2]
    at.button(key="play_quit").click().run()
    ok(at)
    assert "play" not in at.session_state


def test_classroom_game_that_does_not_fit():
    at = app("views/classroom.py", cls_tab="Play as an actor", play_start="2022-06",
             play_len=12)
    at.button(key="play_go").click().run()
    ok(at)
    assert "does not fit" in errors(at)
    assert "play" not in at.session_state


# ----------------------------------------------------------------------------------- about
def test_about_says_what_the_model_can_and_cannot_predict():
    at = app("views/about.py")
    body = texts(at)
    assert "What the model can and cannot predict" in body
    assert "1 of the 49 documented decisions" in body
    assert "Out of sample: no timing skill" in body
    assert "depends on the calibration" in body


@pytest.mark.parametrize("tab", ["ODD documentation", "Sources", "Parameters",
                                 "Where the sources disagree"])
def test_about_tabs_render(tab):
    at = app("views/about.py", about_tab=tab)
    assert at.title[0].value == "About the model"
    if tab == "ODD documentation":
        at.selectbox(key="about_section").set_value("2 Entities, state variables and scales")
        at.run()
        ok(at)
        assert "State variables" in texts(at)
    elif tab == "Sources":
        assert "Perspective:" in texts(at)
    elif tab == "Parameters":
        n_all = len(at.dataframe[0].value)
        at.selectbox(key="about_group").set_value("india_factor").run()
        assert len(at.dataframe[0].value) < n_all
