"""Unit tests of the dashboard's computation helpers: scenario editing and checking, bands,
outcomes and their comparison, lessons, sweep folders and playing as an actor."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dashboard import core, lessons, play, sweeps
from model.analysis import summary as S
from model.core import params as P
from model.core import spec
from model.io.errors import ModelInputError

RUNS = 20


@pytest.fixture(scope="module")
def history():
    return core.ensemble(core.history_text(), RUNS, 0)


# ------------------------------------------------------------------------------ scenarios
def test_shipped_scenarios_start_with_history():
    names = list(core.shipped())
    assert names[0] == "history"
    assert "baseline" in names


def test_check_upload_accepts_a_shipped_scenario():
    text, err = core.check_upload("h.yaml", core.history_text().encode())
    assert err is None
    assert text == core.history_text()


@pytest.mark.parametrize(("raw", "expected"), [
    (b"name: [unclosed\n", "bad.yaml:"),                              # not YAML
    (b"- a\n- b\n", "expected a mapping"),                            # YAML, not a scenario
    (b"name: x\nmonths: 5000\n", "months"),                           # out of bounds
    (b"name: x\nparams: {forgeting: 0.9}\n", "did you mean 'forgetting'"),
    (b"name: x\nparams: {forgetting: 7}\n", "outside its bounds"),
    (b"", "empty"),
    (b"\x00\x01binary", "binary"),
    (b"name: \xff\xfe x\n", "not UTF-8"),
    (b"name: x\n" + b"#" * 2_000_001, "the limit for a scenario file (YAML) is 2,000,000 bytes"),
])
def test_check_upload_reports_like_the_cli(raw, expected):
    text, err = core.check_upload("bad.yaml", raw)
    assert text is None
    assert err.startswith("error: ")
    assert expected in err


def test_edited_without_edits_keeps_the_original_text():
    base = core.shipped_text("baseline")
    assert core.edited(base) == base


def test_edited_merges_params_catalog_and_events():
    base = core.history_text()
    ev = {"id": "extra_strike", "date": "2011-08", "actor": "US", "action": "US_STRIKE",
          "severity": 2.0}
    text = core.edited(base, params={"forgetting": 0.9}, exclude=["salala_strike_2011"],
                       severity={"abbottabad_raid_2011": 5}, events=[ev])
    sc = core.parse(text)
    assert sc.params["forgetting"] == 0.9
    assert "salala_strike_2011" in sc.catalog.exclude
    assert sc.catalog.severity["abbottabad_raid_2011"] == 5
    assert sc.catalog.severity["salala_strike_2011"] == 3      # the base's own edits stay
    assert sc.events[-1].id == "extra_strike"


def test_edited_catalog_edits_of_a_scenario_that_extends_another():
    names = core.shipped()
    child = next((n for n in names if "extends:" in core.shipped_text(n)), None)
    if child is None:
        pytest.skip("no shipped scenario uses 'extends' in this version of the model")
    parent = core.parse(core.shipped_text(child))
    text = core.edited(core.shipped_text(child), exclude=["abbottabad_raid_2011"],
                       severity={"kabul_embassy_attack_2011": 4.0})
    sc = core.parse(text)
    assert "abbottabad_raid_2011" in sc.catalog.exclude
    assert sc.catalog.severity["kabul_embassy_attack_2011"] == 4.0
    assert set(parent.catalog.exclude) <= set(sc.catalog.exclude)       # the parent's stay
    assert core.removed_by_edits(sc) == core.removed_by_edits(parent)


def test_output_series_maps_scenario_outputs():
    sc = core.parse(core.history_text()).model_copy(
        update={"outputs": ["public_hostility", "trust PAK_MIL->US", "nonsense"]})
    assert core.output_series(sc) == ["state public_hostility", "trust PAK_MIL->US"]


def test_edited_switches_the_catalog_on_and_off():
    base = core.shipped_text("baseline")
    on = core.parse(core.edited(base, use_catalog=True))
    assert on.catalog is not None
    off = core.parse(core.edited(core.history_text(), use_catalog=False))
    assert off.catalog is None


@pytest.mark.parametrize(("event", "expected"), [
    ({"id": "late", "date": "2040-01", "actor": "US"}, "outside the scenario window"),
    ({"id": "wrong", "date": "2011-01", "actor": "PAK_MIL", "action": "US_STRIKE"},
     "belongs to US"),
    ({"id": "bad", "date": "2011-13", "actor": "US"}, "YYYY-MM"),
    ({"id": "bad", "date": "2011-01", "actor": "US", "cameo": "999"}, "unknown CAMEO"),
])
def test_edited_refuses_invalid_events(event, expected):
    with pytest.raises(ModelInputError, match=expected):
        core.edited(core.history_text(), events=[event])


def test_edited_refuses_parameters_out_of_bounds():
    with pytest.raises(ModelInputError, match="outside its bounds"):
        core.edited(core.history_text(), params={"forgetting": 2.0})


def test_shocks_in_the_window():
    shocks = core.shocks_in(core.history_text())
    assert set(shocks["kind"]) == {"shock"}
    assert "salala_strike_2011" in set(shocks["id"])
    assert shocks["month"].min() >= "1998-01"


# ----------------------------------------------------------------------------------- bands
def test_band_frame_has_every_series_at_every_step(history):
    df = core.band_frame(history)
    assert set(df["series"]) == set(core.series_keys())
    assert len(df) == len(core.series_keys()) * (history.months + 1)
    assert (df["q05"] <= df["q50"] + 1e-12).all()
    assert (df["q50"] <= df["q95"] + 1e-12).all()
    row = df[(df["series"] == "trust PAK_MIL->US")].iloc[-1]
    assert row["q50"] == pytest.approx(np.median(history.trust_series("PAK_MIL", "US")[:, -1]))


def test_band_frame_series_are_the_plotted_keys(history):
    df = core.band_frame(history)
    assert list(dict.fromkeys(df["series"])) == list(core.series_keys())
    last = df[df["series"] == "aid US->PAK_CIV"].iloc[-1]
    assert last["q50"] == pytest.approx(np.median(history.aid[:, -1, 1]))
    last = df[df["series"] == "state public_hostility"].iloc[-1]
    assert last["q50"] == pytest.approx(np.median(history.public_hostility[:, -1]))


def test_network_arrays_shapes():
    net = core.network_arrays(core.history_text(), RUNS, 0)
    t = len(net["dates"])
    assert net["trust"].shape == (t, 5, 5)
    assert net["aid"].shape == (t, 2)
    assert net["modal"].shape == (t - 1, 5)
    assert ((net["share"] > 0) & (net["share"] <= 1)).all()
    lo, hi = spec.ACTOR_ACTIONS["PAK_MIL"]
    assert ((net["modal"][:, 1] >= lo) & (net["modal"][:, 1] < hi)).all()


def test_long_table_downloads_both_formats():
    text = core.shipped_text("baseline")
    csv = core.long_table(text, 2, 0, "csv")
    assert csv.startswith(b"run,step,date,metric,source,target,value")
    import io

    df = pd.read_parquet(io.BytesIO(core.long_table(text, 2, 0, "parquet")))
    assert set(df["run"]) == {0, 1}


def test_bands_csv_dates_as_months(history):
    out = core.bands_csv(core.band_frame(history)).decode()
    assert out.splitlines()[1].split(",")[1] == "1998-01"


# ----------------------------------------------------------------------------------- prose
def test_escape_money_leaves_latex_and_code():
    md = "Aid of $7.5 bn and $M/month; $T = r$ stays; `$M` in code stays."
    out = core.escape_money(md)
    assert r"\$7.5 bn" in out
    assert r"\$M/month" in out
    assert "$T = r$" in out
    assert "`$M`" in out


def test_split_sections_ignores_headings_in_code():
    md = "intro\n## A\ntext a\n```\n## not a heading\n```\n## B\ntext b"
    sec = core.split_sections(md)
    assert list(sec) == ["", "A", "B"]
    assert "## not a heading" in sec["A"]


def test_odd_sections_cover_the_document():
    sec = core.odd_sections()
    assert any(k.startswith("1 ") for k in sec)
    assert len(sec) >= 8


def test_param_step_keeps_the_default_on_the_grid():
    for p in P.table().values():
        step = core.param_step(p)
        assert step > 0
        k = (p.default - p.lo) / step
        assert abs(k - round(k)) < 1e-6, p.name


# -------------------------------------------------------------------------------- outcomes
def test_outcome_route_closed_matches_the_arrays(history):
    o = S.Question("route_closed", "2011-05", "2012-06")
    v = o.values(history)
    steps = [k for k, d in enumerate(history.dates) if "2011-05" <= d <= "2012-06"]
    assert np.array_equal(v, (history.supply_route_open[:, steps] < 0.5).any(axis=1))


def test_outcome_validation():
    with pytest.raises(ValueError, match="unknown outcome kind"):
        S.Question("nonsense", "2011-01", "2011-12")
    with pytest.raises(ValueError, match="empty"):
        S.Question("route_closed", "2012-01", "2011-12")
    with pytest.raises(ValueError, match="A->B"):
        S.Question("trust", "2011-01", "2011-12", "US->US")
    with pytest.raises(ValueError, match="unknown action"):
        S.Question("action", "2011-01", "2011-12", "US_NOTHING")


def test_outcome_outside_the_window_raises(history):
    with pytest.raises(ValueError, match="covers"):
        S.Question("route_closed", "2030-01", "2030-12").values(history)


def test_outcome_period_and_label():
    assert S.Question("trust", "2012-01", "2012-12", "PAK_MIL->US").period == "2012"
    o = S.Question("route_closed", "2011-05", "2012-06")
    assert o.period == "2011-05 to 2012-06"
    assert "supply route" in o.label


def test_wilson_interval():
    lo, hi = S.wilson(0, 20)
    assert lo == 0.0
    assert 0.1 < hi < 0.2
    lo, hi = S.wilson(10, 20)
    assert lo < 0.5 < hi


def test_compare_sentences_match_the_brief(history):
    base = core.ensemble(core.shipped_text("baseline"), RUNS, 0)
    table = S.compare_questions(history, base, S.default_questions(
        "2001-01", "2020-12", 2012, "PAK_MIL->US"))
    assert len(table) == 10
    route = table.iloc[0]["sentence"]
    assert route.startswith("The supply route is closed at some point in 2001-01 to 2020-12 in")
    assert "% of runs under A and" in route
    trust = table.iloc[2]["sentence"]
    assert trust.startswith("PAK_MIL->US trust in 2012: ")
    assert " under A vs " in trust
    assert "[" in trust


def test_compare_of_disjoint_periods_says_not_comparable(history):
    table = S.compare_questions(history, history, [S.Question("route_closed", "2030-01",
                                                                 "2030-02")])
    assert "not comparable" in table.iloc[0]["sentence"]
    assert np.isnan(table.iloc[0]["a"])


def test_overlap(history):
    base = core.ensemble(core.shipped_text("baseline"), 2, 0)
    assert S.overlap(history, base) == ("2001-01", "2021-01")


def test_compare_table_labels_robustness_across_parameter_sets():
    table = core.compare_table(core.history_text(), core.shipped_text("whatif_no_salala"), RUNS,
                               0, 2011, "PAK_MIL->US", period=(2011, 2012))
    d = core.design(RUNS, 0)
    assert d.k == min(RUNS, 20)
    assert set(table["robustness"]) <= {"robust", "depends on the calibration"}
    drones = core.paired_ensemble(core.shipped_text("whatif_no_salala"), RUNS, 0)
    name = next(iter(d.sets[0]))                      # a calibrated parameter
    np.testing.assert_array_equal(drones.params[name],
                                  [d.sets[k][name] for k in d.set_of_run])
    assert table["sentence"].str.endswith("parameter sets]").all()


def test_history_timing_matches_the_package(history):
    from model.analysis.timing import score_timing

    table, skill = core.history_timing(core.history_text(), RUNS, 0)
    ref = score_timing(history)
    pd.testing.assert_frame_equal(table, ref.table)
    assert skill["timed"] == ref.summary.timed
    assert skill["log_lift_freq"] == pytest.approx(ref.summary.log_lift_freq)


def test_compare_table_and_common_years():
    years = core.common_years(core.history_text(), core.shipped_text("baseline"))
    assert years[0] == 2001
    assert years[-1] == 2021
    table = core.compare_table(core.history_text(), core.shipped_text("baseline"), RUNS, 0,
                               1990, "US->PAK_MIL")
    assert "US->PAK_MIL trust in 2001" in table.iloc[2]["sentence"]   # year clamped


# --------------------------------------------------------------------------------- lessons
def test_there_are_at_least_three_lessons_with_all_sections():
    found = lessons.load_lessons()
    assert len(found) >= 3
    for lesson in found.values():
        for sec in ("The question", "What happened", "Teacher notes"):
            assert lesson.sections[sec].strip(), (lesson.id, sec)
        ev = set(core.events()["id"])
        assert set(lesson.events) <= ev, lesson.id


@pytest.mark.parametrize("lesson_id", list(lessons.load_lessons()))
def test_lesson_answer_is_on_the_prediction_scale(lesson_id):
    lesson = lessons.load_lessons()[lesson_id]
    ans = lessons.answer(lesson, RUNS, 0)
    pr = lesson.prediction
    assert ans.headline
    if ans.share is not None:
        assert pr.lo <= ans.share[0] <= pr.hi
    else:
        assert len(ans.per_run) == RUNS
    assert len(ans.also) == len(lesson.also)


#: A teacher's injected strike that kills soldiers (M3: the army retaliates for its dead).
TEACHER_STRIKE = {"id": "teacher_strike", "date": "2011-08", "actor": "US",
                  "action": "US_STRIKE", "target": "PAK_MIL", "severity": 5.0,
                  "effects": {"sovereignty_grievance": {"add": 26.0}}}


def test_lesson_injected_event_changes_the_answer():
    lesson = lessons.load_lessons()["route_2011"]
    strike = TEACHER_STRIKE
    a = lessons.answer(lesson, 40, 0)
    b = lessons.answer(lesson, 40, 0, (strike,))
    assert b.share[0] >= a.share[0]
    assert b.headline != a.headline


@pytest.mark.parametrize(("text", "problem"), [
    ("no header", "YAML header"),
    ("---\nid: x\n---\n## The question\nq\n", "missing section"),
    ("---\n: :\n---\n## The question\nq\n## What happened\nh\n## Teacher notes\nt\n",
     "not valid YAML"),
    ("---\nid: x\n---\n## The question\nq\n## What happened\nh\n## Teacher notes\nt\n",
     "bad or missing header field"),
])
def test_bad_lesson_files_are_refused(text, problem):
    with pytest.raises(lessons.LessonError, match=problem):
        lessons.parse_lesson(text)


def test_parse_predictions():
    vals, problems = lessons.parse_predictions("10, 20%;30\n abc 500", 0, 100)
    assert vals == [10, 20, 30]
    assert len(problems) == 2
    assert "'abc' is not a number" in problems[0]
    assert "outside" in problems[1]


def test_debrief_names_prediction_model_and_history():
    lesson = lessons.load_lessons()["aid_trust"]
    ans = lessons.answer(lesson, RUNS, 0)
    md = lessons.debrief(lesson, ans, RUNS, 0, 5.0, [0, 5, 10],
                         ({"id": "t1", "actor": "US", "action": "US_STRIKE", "date": "2009-01",
                           "severity": 1.0},))
    assert md.startswith("# Debrief: Does aid buy trust?")
    assert "3 predictions: median 5.0 pts" in md
    assert ans.headline in md
    assert f"paired\nrun by run): **{ans.robustness}**" in md
    assert ans.robustness.endswith("parameter sets")
    assert "## What happened" in md
    assert "`t1`" in md


def _number(text: str) -> float:
    """The first number of a described value ('91 [91, 91]', '39%')."""
    return float(text.split(maxsplit=1)[0].rstrip("%"))


@pytest.mark.parametrize("lesson_id", list(lessons.load_lessons()))
def test_lesson_prose_figures_come_from_the_run(lesson_id):
    """Every {{figure}} of every section is filled from the run; none is left."""
    lesson = lessons.load_lessons()[lesson_id]
    ans = lessons.answer(lesson, RUNS, 0)
    for name in lesson.sections:
        text = lessons.section(lesson, name, ans)
        assert "{{" not in text, (name, text)
    assert "{{" in lesson.sections["What the model says"]      # each lesson quotes its run


def test_lesson_2_quotes_the_money_its_run_gives():
    """The lesson once said "roughly twice the money" beside a table showing 5.7x."""
    lesson = lessons.load_lessons()["aid_trust"]
    ans = lessons.answer(lesson, RUNS, 0)
    label, base, variant = ans.also[0]
    assert label.startswith("aid US->PAK_MIL")
    ratio = _number(variant) / _number(base)           # of the rounded values in the table
    text = lessons.section(lesson, "What the model says", ans)
    said = float(re.search(r"receives (\d+\.\d) times the money", text).group(1))
    assert said == pytest.approx(ratio, rel=0.05)
    assert said > 1                                    # more money, said as the run has it
    assert f"{_number(base):.0f} against {_number(variant):.0f} $M a month" in text
    assert ans.figures["answer"] in lessons.section(lesson, "Teacher notes", ans)
    for body in lesson.sections.values():
        assert "twice the money" not in body
        assert "a few points" not in body


def test_lesson_figures_follow_an_injected_event_into_the_debrief():
    lesson = lessons.load_lessons()["route_2011"]
    strike = TEACHER_STRIKE
    a = lessons.answer(lesson, 40, 0)
    b = lessons.answer(lesson, 40, 0, (strike,))
    assert a.variant != b.variant
    text_a = lessons.section(lesson, "What the model says", a)
    text_b = lessons.section(lesson, "What the model says", b)
    flat = " ".join(text_b.split())
    assert f"closes the route at some point in {b.variant} without the raids" in flat
    assert text_a != text_b
    md = lessons.debrief(lesson, b, 40, 0, 50.0, [], (strike,))
    assert text_b in md
    assert text_a not in md


def test_a_lesson_quoting_an_unknown_figure_is_refused():
    text = (lessons.LESSON_DIR / "02_aid_trust.md").read_text(encoding="utf-8")
    with pytest.raises(lessons.LessonError, match=r"unknown figure \{\{also9_ratio\}\}"):
        lessons.parse_lesson(text.replace("{{also1_ratio}}", "{{also9_ratio}}", 1))
    with pytest.raises(lessons.LessonError, match=r"unknown figure \{\{twice\}\}"):
        lessons.parse_lesson(text.replace("{{runs}}", "{{twice}}", 1))


def test_a_section_quoting_figures_needs_the_answer():
    lesson = lessons.load_lessons()["aid_trust"]
    with pytest.raises(lessons.LessonError, match="needs the model's answer"):
        lessons.section(lesson, "What the model says")
    assert lessons.section(lesson, "The question")                # quotes none


# ------------------------------------------------------------------------------- memory
def _fake_results(nbytes: int):
    res = core.ensemble(core.shipped_text("baseline"), 1, 0)
    return type(res)(**{**vars(res), "trust": np.zeros(nbytes // 4, dtype=np.float32)})


def test_kept_ensembles_stay_within_their_budget():
    kept = core.Kept(budget=10_000_000, one=4_000_000)
    made = []

    def make(n):
        def f():
            made.append(n)
            return _fake_results(n)
        return f

    big = kept.get(("big",), make(8_000_000))                 # over the one-ensemble cap
    assert core.results_nbytes(big) >= 8_000_000
    assert ("big",) not in kept.items
    for k in range(5):
        kept.get((k,), make(3_000_000))
    assert kept.nbytes <= 10_000_000
    assert list(kept.items) == [(2,), (3,), (4,)]             # least recently used out
    again = kept.get((4,), make(3_000_000))
    assert made.count(3_000_000) == 5                           # (4,) was not recomputed
    assert not again.trust.flags.writeable                      # shared: read-only


def test_an_ensemble_over_the_cap_is_not_kept(monkeypatch):
    """A What-if at the page's maximum: its runs are freed once its page has used them; what
    the page shows (bands) stays cached."""
    kept = core.Kept(one=1_000_000)
    monkeypatch.setattr(core, "kept", lambda: kept)
    text = core.shipped_text("baseline")
    small, big = core.ensemble(text, 2, 7), core.ensemble(text, 60, 7)
    assert core.results_nbytes(small) < 1_000_000 < core.results_nbytes(big)
    assert list(kept.items) == [("free", text, 2, 7)]
    assert not core.bands(text, 60, 7).empty
    assert ("free", text, 60, 7) not in kept.items


# ---------------------------------------------------------------------------------- sweeps
def write_sweep(folder, n: int = 40, manifest: dict | None = None) -> None:
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "parts").mkdir()
    df = pd.DataFrame({"run_id": np.arange(n), "forgetting": rng.uniform(0.8, 1.0, n),
                       "india_penalty": rng.uniform(0, 6, n)})
    df["trust_final"] = 0.5 * df["forgetting"] + rng.normal(0, 0.01, n)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False),
                   folder / "parts" / "part-000000.parquet")
    if manifest is not None:
        (folder / "manifest.json").write_text(json.dumps(manifest))


def roots(tmp_path) -> dict:
    """The test's results root, labelled as the page labels ``out/``."""
    return {"out/": tmp_path}


def test_sweep_folder_without_manifest(tmp_path):
    write_sweep(tmp_path / "s")
    sw = sweeps.load("out/s", roots(tmp_path))
    assert sw.parameters == ["forgetting", "india_penalty"]
    assert sw.outcomes == ["trust_final"]
    assert len(sw.frame) == 40
    assert sw.sensitivity is None
    assert sw.params_text is None


def test_sweep_folder_with_manifest_and_sensitivity(tmp_path):
    write_sweep(tmp_path / "s", manifest={"name": "t", "parameters": [{"name": "forgetting"}],
                                          "outcomes": [{"name": "trust_final"}]})
    (tmp_path / "s" / "analysis").mkdir()
    pd.DataFrame({"outcome": ["trust_final"], "parameter": ["forgetting"], "S1": [0.8],
                  "S1_conf": [0.1], "ST": [0.9], "ST_conf": [0.05]}).to_csv(
        tmp_path / "s" / "analysis" / "sobol.csv", index=False)
    sw = sweeps.load("out/s", roots(tmp_path))
    assert sw.parameters == ["forgetting"]
    sens = sw.sensitivity
    assert set(sens["index"]) == {"S1", "ST"}
    row = sens[sens["index"] == "S1"].iloc[0]
    assert (row["lo"], row["value"], row["hi"]) == pytest.approx((0.7, 0.8, 0.9))


def test_find_folders_lists_only_results_folders_under_the_root(tmp_path):
    write_sweep(tmp_path / "a", manifest={"name": "a"})
    write_sweep(tmp_path / "deep" / "b", manifest={"name": "b"})
    write_sweep(tmp_path / "no_manifest")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    write_sweep(outside, manifest={"name": "outside"})
    (tmp_path / "link").symlink_to(outside, target_is_directory=True)
    assert sweeps.find_folders(roots(tmp_path)) == ["out/a", "out/deep/b"]


def test_results_roots_default_to_out_and_follow_the_setting(monkeypatch, tmp_path):
    monkeypatch.delenv(sweeps.ROOTS_ENV, raising=False)
    assert sweeps.results_roots() == {"out/": core.ROOT / "out"}
    monkeypatch.setenv(sweeps.ROOTS_ENV, f"results{__import__('os').pathsep}{tmp_path}")
    assert sweeps.results_roots() == {"results/": core.ROOT / "results",
                                      f"{tmp_path}/": tmp_path}


@pytest.mark.parametrize("name", [
    "/", "/etc", "/etc/passwd", "out/../..", "out/../../etc", "out//etc", "../out/s", "out/missing",
    "out/afile", "out/link", "etc/passwd", "out/s/../../x", "out/s\x00",
])
def test_a_name_that_is_not_a_listed_folder_gets_one_message(tmp_path, name):
    """Outside the root, missing, a file, a symbolic link out: the same words, no server
    path, nothing read."""
    write_sweep(tmp_path / "s", manifest={"name": "t"})
    (tmp_path / "afile").write_text("x")
    (tmp_path / "link").symlink_to("/etc", target_is_directory=True)
    with pytest.raises(ModelInputError) as info:
        sweeps.load(name, roots(tmp_path))
    msg = str(info.value)
    assert msg == f"{name.strip()}: is not a results folder under out/; choose one of the " \
                  "folders listed"
    assert str(tmp_path) not in msg


def test_a_folder_too_big_is_refused_before_loading(tmp_path, monkeypatch):
    write_sweep(tmp_path / "s", n=400, manifest={"name": "t"})
    monkeypatch.setattr(sweeps, "MAX_DISK_BYTES", 1_000)
    with pytest.raises(ModelInputError, match=r"out/s.*the page loads at most") as info:
        sweeps.load("out/s", roots(tmp_path))
    assert str(tmp_path) not in str(info.value)


def test_a_table_too_big_in_memory_is_refused_before_loading(tmp_path, monkeypatch):
    write_sweep(tmp_path / "s", n=400, manifest={"name": "t"})
    monkeypatch.setattr(sweeps, "MAX_TABLE_BYTES", 400 * 4 * 8 - 1)
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: pytest.fail("read before the check"))
    with pytest.raises(ModelInputError, match=r"out/s: holds 400 runs x 4 columns"):
        sweeps.load("out/s", roots(tmp_path))


def test_only_run_id_parameter_and_outcome_columns_are_read(tmp_path):
    folder = tmp_path / "s"
    (folder / "parts").mkdir(parents=True)
    pd.DataFrame({"run_id": [0, 1, 2], "forgetting": [0.8, 0.9, 1.0], "y": [1.0, 2.0, 3.0],
                  "password": ["hunter2", "x", "y"], "secret": [1, 2, 3]}).to_parquet(
        folder / "parts" / "p.parquet")
    (folder / "manifest.json").write_text(json.dumps({"outcomes": ["y"]}))
    sw = sweeps.load("out/s", roots(tmp_path))
    assert list(sw.frame.columns) == ["run_id", "forgetting", "y"]


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: (p.mkdir(), p)[1], "no Parquet files"),
    (lambda p: (p.mkdir(), (p / "manifest.json").write_text("{not json"), p)[2],
     "not a readable JSON manifest"),
])
def test_not_a_sweep_folder(tmp_path, make, message):
    make(tmp_path / "x")
    with pytest.raises(sweeps.SweepError, match=message) as info:
        sweeps.load("out/x", roots(tmp_path))
    assert str(tmp_path) not in str(info.value)


def test_a_long_run_table_is_not_a_sweep(tmp_path):
    (tmp_path / "x").mkdir()
    df = core.ensemble(core.shipped_text("baseline"), 1, 0).to_frame().head(50)
    df.to_parquet(tmp_path / "x" / "run.parquet")
    with pytest.raises(sweeps.SweepError, match="long time-series table"):
        sweeps.load("out/x", roots(tmp_path))


def test_a_broken_parquet_file_is_reported(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "part.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(sweeps.SweepError, match=r"out/x/part\.parquet: not a readable Parquet"
                       ) as info:
        sweeps.load("out/x", roots(tmp_path))
    assert str(tmp_path) not in str(info.value)


def test_sweep_without_parameter_columns(tmp_path):
    (tmp_path / "x").mkdir()
    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_parquet(tmp_path / "x" / "p.parquet")
    with pytest.raises(sweeps.SweepError, match="no parameter columns"):
        sweeps.load("out/x", roots(tmp_path))


def test_empty_folder_argument():
    with pytest.raises(sweeps.SweepError, match="no folder chosen"):
        sweeps.load("  ")


def test_sensitivity_long_formats():
    long = sweeps.sensitivity_long(pd.DataFrame({
        "parameter": ["a"], "index": ["rho"], "value": [0.4], "conf": [0.1]}))
    assert long.iloc[0]["lo"] == pytest.approx(0.3)
    morris = sweeps.sensitivity_long(pd.DataFrame({
        "outcome": ["y"], "parameter": ["a"], "mu": [0.1], "mu_star": [0.3], "sigma": [0.2],
        "mu_star_conf": [0.05]}))
    assert list(morris["index"]) == ["mu_star", "sigma"]
    spear = sweeps.sensitivity_long(pd.DataFrame({
        "outcome": ["y"], "parameter": ["a"], "spearman_rho": [0.3], "p_value": [0.01]}))
    assert list(spear["index"]) == ["spearman_rho"]


def test_rank_sensitivity_finds_the_driver(tmp_path):
    write_sweep(tmp_path / "s", n=60)
    sw = sweeps.load("out/s", roots(tmp_path))
    sens = sweeps.rank_sensitivity(sw.frame, sw.parameters, "trust_final", boot=50)
    by = sens.set_index("parameter")
    assert by.loc["forgetting", "value"] > 0.9
    assert abs(by.loc["india_penalty", "value"]) < 0.5
    assert (by["lo"] <= by["value"]).all()


def test_small_sweep_runs_and_analyses():
    sc = core.parse(core.shipped_text("baseline"))
    res = sweeps.small_sweep(sc, ["aid_compliance", "india_penalty"], 16, 0)
    assert len(res.frame) == 16
    assert set(res.parameters) <= set(res.frame.columns)
    assert set(res.outcomes) <= set(res.frame.columns)
    assert set(res.sensitivity["parameter"]) == {"aid_compliance", "india_penalty"}


def test_small_sweep_bad_input():
    sc = core.parse(core.shipped_text("baseline"))
    with pytest.raises(sweeps.SweepError, match="at least one parameter"):
        sweeps.small_sweep(sc, [], 16, 0)
    with pytest.raises(sweeps.SweepError, match="power of two"):
        sweeps.small_sweep(sc, ["forgetting"], 20, 0, "sobol")


def test_latin_hypercube_covers_each_stratum():
    pts = sweeps.sample(["forgetting"], 10, 0)
    p = P.table()["forgetting"]
    strata = np.floor((pts["forgetting"] - p.lo) / (p.hi - p.lo) * 10).astype(int)
    assert sorted(strata) == list(range(10))


# ------------------------------------------------------------------------------------ play
def test_a_game_is_a_scenario_with_interventions():
    text = play.game_text(core.history_text(), "US", "2011-05", ("US_STRIKE",))
    sc = core.parse(text)
    iv = sc.interventions[-1]
    assert (iv.start, iv.to, iv.actor, iv.force) == ("2011-05", "2011-05", "US", "US_STRIKE")


def test_forced_moves_are_taken_in_every_run():
    text = core.history_text()
    res = play.forced_results(text, "PAK_MIL", "2011-05", ("MIL_CLOSE_ROUTE", "MIL_HOLD"), 10,
                              0)
    m0 = res.dates.index("2011-05")
    col = spec.ACTOR_INDEX["PAK_MIL"]
    assert (res.actions[:, m0, col] == spec.ACTION_INDEX["MIL_CLOSE_ROUTE"]).all()
    assert (res.actions[:, m0 + 1, col] == spec.ACTION_INDEX["MIL_HOLD"]).all()
    assert (res.supply_route_open[:, m0 + 1] < 0.5).all()


def test_no_forced_moves_equals_the_free_ensemble():
    text = core.history_text()
    free = core.ensemble(text, 5, 3)
    res = play.forced_results(text, "US", "2011-05", (), 5, 3)
    assert np.array_equal(free.actions, res.actions)
    assert np.allclose(free.trust, res.trust)


@pytest.mark.parametrize(("actor", "start", "choices", "message"), [
    ("PAK_MIL", "2011-05", ("US_STRIKE",), "not an action of PAK_MIL"),
    ("PAK_MIL", "2022-12", ("MIL_HOLD", "MIL_HOLD"), "do not fit"),
    ("NOBODY", "2011-05", (), "unknown actor"),
])
def test_forced_results_refuses_bad_moves(actor, start, choices, message):
    with pytest.raises(ModelInputError, match=message):
        play.forced_results(core.history_text(), actor, start, choices, 2, 0)


def test_others_moves_lists_the_four_others(history):
    df = play.others_moves(history, 160, "PAK_MIL")
    assert list(df["actor"]) == ["US", "PAK_CIV", "TALIBAN", "INDIA"]
    assert ((df["share of runs"] > 0) & (df["share of runs"] <= 1)).all()


def test_small_sobol_sweep_gives_indices_with_intervals():
    pytest.importorskip("SALib")
    sc = core.parse(core.shipped_text("baseline"))
    res = sweeps.small_sweep(sc, ["aid_compliance", "india_penalty"], 16, 0, "sobol")
    assert res.method == "sobol"
    assert len(res.frame) == 16 * (2 + 2)
    assert {"S1", "ST"} <= set(res.sensitivity["index"])
    assert res.sensitivity[["lo", "hi"]].notna().all().all()
    assert any("N = 16 Sobol base samples is below 256" in n for n in res.notes)
    assert res.params_text.startswith("per-run draws from the calibrated posterior")


def test_a_folder_written_by_model_sweep_opens(tmp_path):
    msweep = pytest.importorskip("model.experiments.sweep")
    sc = core.parse(core.shipped_text("baseline"))
    sw = msweep.from_mapping({
        "name": "t", "sampler": {"method": "lhs"}, "samples": 12, "replicates": 1, "seed": 1,
        "parameters": {"aid_compliance": [0.5, 3.0], "india_penalty": [0.0, 4.0]},
        "outcomes": {"route": "months_route_closed",
                     "trust": {"kind": "final_trust", "pair": "PAK_MIL->US"}},
    }, scenario=sc)
    msweep.run_sweep(sw, tmp_path / "out", progress=False, log=lambda _m: None)
    msweep.analyze(tmp_path / "out", plots=False)
    loaded = sweeps.load("out/out", roots(tmp_path))
    assert loaded.parameters == ["aid_compliance", "india_penalty"]
    assert loaded.outcomes == ["route", "trust"]
    assert len(loaded.frame) == 12
    assert set(loaded.sensitivity["outcome"]) == {"route", "trust"}
    assert set(loaded.sensitivity["index"]) == {"spearman_rho"}
