"""Unit tests of the dashboard's chart builders (``dashboard.charts``): data in, figure out.

Each builder gets a small hand-made table and the figure is checked for what it must show: the
right traces, colours from the colour-blind-safe palette, intervals where there are intervals.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import charts

ACTORS = charts.ACTORS


def band_table(series: list[str], n: int = 24, level: float = 0.4) -> pd.DataFrame:
    dates = pd.date_range("2010-01-01", periods=n, freq="MS")
    rows = []
    for k, s in enumerate(series):
        mid = level + 0.01 * k + 0.005 * np.arange(n)
        rows.append(pd.DataFrame({"series": s, "date": dates, "q05": mid - 0.1, "q50": mid,
                                  "q95": mid + 0.1, "mean": mid}))
    return pd.concat(rows, ignore_index=True)


def catalog_rows() -> pd.DataFrame:
    return pd.DataFrame({
        "id": ["raid", "closure", "talks"],
        "month": ["2011-05", "2011-11", "2019-07"],
        "when": pd.to_datetime(["2011-05-01", "2011-11-01", "2019-07-01"]),
        "actor": ["US", "PAK_MIL", "PAK_MIL"], "target": ["PAK_MIL", "US", "TALIBAN"],
        "kind": ["shock", "decision", "context"],
        "event_type": ["employ aerial weapons", "blockade", "mediate"],
        "goldstein": [-10.0, -9.5, 6.0],
        "quote": ["a raid quote long enough", "a closure quote long enough", "a talks quote"],
        "outlet": ["Outlet A", "Outlet B", "Outlet C"],
        "perspective": ["view A", "view B", "view C"],
    })


# ------------------------------------------------------------------------------- palette
def test_trust_colour_ends_and_middle_are_the_scale():
    assert charts.trust_colour(0.0) == charts.OKABE_ITO["vermillion"].upper()
    assert charts.trust_colour(1.0) == charts.OKABE_ITO["blue"].upper()
    assert charts.trust_colour(0.5) == "#BBBBBB"


def test_trust_colour_clips_and_survives_nan():
    assert charts.trust_colour(-3) == charts.trust_colour(0)
    assert charts.trust_colour(7) == charts.trust_colour(1)
    assert charts.trust_colour(float("nan")) == charts.trust_colour(0.5)


def test_palettes_use_okabe_ito_only():
    allowed = {c.upper() for c in charts.OKABE_ITO.values()} | {charts.GREY.upper()}
    for mapping in (charts.ACTOR_COLOURS, charts.KIND_COLOURS):
        assert {c.upper() for c in mapping.values()} <= allowed
    assert {c.upper() for c in charts.SCENARIO_COLOURS} <= allowed


def test_rgba_converts_hex():
    assert charts.rgba("#0072B2", 0.2) == "rgba(0,114,178,0.2)"


# ------------------------------------------------------------------------------ timeline
def test_timeline_one_trace_per_kind_with_quotes_in_hover():
    fig = charts.timeline(catalog_rows())
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["shock", "decision", "context"]
    shock = fig.data[0]
    assert shock.marker.color == charts.KIND_COLOURS["shock"]
    assert "a raid quote" in shock.hovertext[0]
    assert "Outlet A" in shock.hovertext[0]
    assert "view A" in shock.hovertext[0]


def test_timeline_spreads_events_of_the_same_actor_and_month():
    ev = catalog_rows()
    ev = pd.concat([ev, ev.iloc[[0]].assign(id="raid2")], ignore_index=True)
    fig = charts.timeline(ev)
    ys = list(fig.data[0].y)
    assert len(ys) == 2
    assert ys[0] != ys[1]


def test_timeline_of_no_events_is_an_empty_figure():
    fig = charts.timeline(catalog_rows().iloc[0:0])
    assert len(fig.data) == 0


# ------------------------------------------------------------------------------- network
def test_network_draws_twenty_ties_two_aid_flows_and_five_nodes():
    trust = np.full((5, 5), 0.5)
    trust[1, 0] = 0.1
    fig = charts.network(trust, [80.0, 10.0])
    ties = [t for t in fig.data if t.hovertext and "trusts" in str(t.hovertext)]
    assert len(ties) == 20
    aid = [t for t in fig.data if t.hovertext and "US aid" in str(t.hovertext)]
    assert len(aid) == 2
    assert aid[0].line.width > aid[1].line.width      # more aid, a thicker flow
    nodes = [t for t in fig.data if t.mode == "markers+text"]
    assert len(nodes) == 1
    assert len(nodes[0].x) == 5


def test_network_tie_width_and_colour_follow_trust():
    trust = np.full((5, 5), 0.5)
    trust[1, 0] = 0.05     # PAK_MIL distrusts the US
    trust[0, 1] = 0.95     # the US trusts PAK_MIL
    fig = charts.network(trust, [0, 0])
    by = {t.hovertext: t for t in fig.data if t.hovertext and "trusts" in str(t.hovertext)}
    low, high = by["PAK_MIL trusts US: 0.05"], by["US trusts PAK_MIL: 0.95"]
    assert high.line.width > low.line.width
    assert low.line.color == charts.trust_colour(0.05)
    assert high.line.color == charts.trust_colour(0.95)


def test_network_focus_labels_only_that_actors_ties():
    trust = np.full((5, 5), 0.3)
    fig = charts.network(trust, [0, 0], focus="INDIA")
    labels = [a for a in fig.layout.annotations if a.text == "0.30"]
    assert len(labels) == 8          # INDIA's 4 outgoing and 4 incoming ties
    faded = [t for t in fig.data if t.hovertext and "trusts" in str(t.hovertext)
             and "INDIA" not in t.hovertext]
    assert all(t.line.color.startswith("rgba(") for t in faded)


def test_network_captions_each_actor():
    acts = {a: f"{a}_HOLD (50%)" for a in ACTORS}
    fig = charts.network(np.full((5, 5), 0.5), [80, 1], actions=acts)
    texts = [a.text for a in fig.layout.annotations]
    for caption in acts.values():
        assert any(caption in t for t in texts)
    assert "PAK_MIL_HOLD (50%)<br>aid $80M/mo" in texts


# --------------------------------------------------------------------------------- bands
def test_band_panels_one_band_and_line_per_series_and_scenario():
    df = band_table(["trust PAK_MIL->US", "aid US->PAK_MIL"])
    fig = charts.band_panels({"A": df, "B": df}, ["trust PAK_MIL->US", "aid US->PAK_MIL"])
    fills = [t for t in fig.data if t.fill == "toself"]
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(fills) == 4
    assert len(lines) == 4
    assert {t.yaxis for t in lines} == {"y", "y2"}
    # the legend shows each scenario once
    assert sorted(t.name for t in lines if t.showlegend) == ["A", "B"]
    assert lines[0].line.color == charts.SCENARIO_COLOURS[0]


def test_band_panels_band_spans_the_5_to_95_range():
    df = band_table(["trust US->PAK_MIL"], n=3)
    fig = charts.band_panels({"A": df}, ["trust US->PAK_MIL"])
    band = next(t for t in fig.data if t.fill == "toself")
    assert np.allclose(sorted(band.y), sorted([*df["q95"], *df["q05"]]))
    assert fig.layout.yaxis.range == (0, 1)           # trust panels span [0, 1]


def test_band_panels_marks_events_and_shocks():
    df = band_table(["trust PAK_MIL->US"])
    fig = charts.band_panels({"A": df}, ["trust PAK_MIL->US"], events=catalog_rows())
    names = [t.name for t in fig.data]
    assert "documented shock" in names
    assert "documented decision" in names
    assert len(fig.layout.shapes) == 1                 # one shock x one panel
    assert fig.layout.shapes[0].yref == "y2 domain"


def test_band_panels_custom_colours_and_missing_series():
    df = band_table(["trust PAK_MIL->US"])
    fig = charts.band_panels({"History": df}, ["trust PAK_MIL->US", "aid US->PAK_CIV"],
                             colours={"History": charts.HISTORY_COLOUR})
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(lines) == 1
    assert lines[0].line.color == charts.HISTORY_COLOUR


def test_stacked_layout_domains_do_not_overlap():
    layout, refs = charts.stacked_layout([0.35, 1, 1], ["e", "a", "b"], height=700)
    assert refs == ["y", "y2", "y3"]
    doms = [layout["yaxis"]["domain"], layout["yaxis2"]["domain"], layout["yaxis3"]["domain"]]
    for (lo1, _hi1), (_lo2, hi2) in itertools.pairwise(doms):
        assert hi2 < lo1
    assert doms[0][1] == pytest.approx(1.0)
    assert doms[-1][0] >= 0.0


# ------------------------------------------------------------------------- distributions
def test_poll_histogram_class_against_model_runs():
    fig = charts.poll_histogram([10, 20, 20], 0, 100, "%", model_values=[15, 16, 17])
    kinds = [type(t).__name__ for t in fig.data]
    assert kinds == ["Histogram", "Histogram"]
    assert "n=3" in fig.data[1].name
    assert fig.data[0].histnorm == "percent"


def test_poll_histogram_share_answer_is_a_line_with_its_interval():
    fig = charts.poll_histogram([50], 0, 100, "%", model_share=(30.0, 21.0, 39.0))
    assert len(fig.layout.shapes) == 2      # the interval and the line
    xs = sorted(x for s in fig.layout.shapes for x in (s.x0, s.x1))
    assert xs[0] == 21.0
    assert xs[-1] == 39.0


def test_prediction_vs_model_marks_the_prediction():
    fig = charts.prediction_vs_model(12.0, -30, 30, " pts", model_values=[1, 2, 3])
    assert any(s.x0 == 12.0 for s in fig.layout.shapes)


def test_outcome_shares_only_yes_no_outcomes_with_intervals():
    table = pd.DataFrame({
        "outcome": ["route closed", "trust"], "binary": [True, False],
        "a": [0.62, 0.2], "a_lo": [0.5, 0.1], "a_hi": [0.7, 0.3],
        "b": [0.08, 0.3], "b_lo": [0.04, 0.2], "b_hi": [0.15, 0.4]})
    fig = charts.outcome_shares(table, "A", "B")
    assert [t.name for t in fig.data] == ["A", "B"]
    assert list(fig.data[0].x) == [62.0]
    assert list(fig.data[0].error_x.array) == pytest.approx([8.0])
    assert list(fig.data[1].error_x.arrayminus) == pytest.approx([4.0])


def test_sensitivity_bars_sorted_with_whiskers():
    df = pd.DataFrame({"parameter": ["a", "b", "a", "b"], "index": ["S1", "S1", "ST", "ST"],
                       "value": [0.1, 0.5, 0.2, 0.6], "lo": [0.05, 0.4, 0.1, 0.5],
                       "hi": [0.15, 0.6, 0.3, 0.7]})
    fig = charts.sensitivity_bars(df)
    assert [t.name for t in fig.data] == ["S1", "ST"]
    assert list(fig.data[0].y) == ["a", "b"]          # smallest first: the largest on top
    assert list(fig.data[1].error_x.array) == pytest.approx([0.1, 0.1])


def test_sensitivity_bars_without_intervals():
    df = pd.DataFrame({"parameter": ["a"], "index": ["rho"], "value": [0.3]})
    fig = charts.sensitivity_bars(df)
    assert fig.data[0].error_x.array is None


def test_sweep_scatter_with_binned_median_and_colour():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.random(100), "c": rng.random(100)})
    df["y"] = 2 * df["x"]
    fig = charts.sweep_scatter(df, "x", "y", colour="c")
    assert fig.data[0].name == "runs"
    assert fig.data[0].marker.showscale
    med = fig.data[1]
    assert med.name == "binned median"
    assert np.all(np.diff(med.y) > 0)


def test_sweep_scatter_small_table_has_no_median_line():
    df = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]})
    assert len(charts.sweep_scatter(df, "x", "y").data) == 1


def test_style_sets_projector_font():
    fig = charts.style(go.Figure(), "t", height=300)
    assert fig.layout.font.size >= 14
    assert fig.layout.height == 300
    assert fig.layout.title.text == "t"


# ------------------------------------------------------------------- legends have their rows
def _legend_figures():
    bands = band_table(["trust PAK_MIL->US", "aid US->PAK_MIL"])
    ev = catalog_rows()
    yield "band panels with events", charts.band_panels(
        {"model plays all": bands, "your class": bands},
        ["trust PAK_MIL->US", "aid US->PAK_MIL"], events=ev), charts.FULL_WIDTH_PX
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.uniform(0, 1, 50), "b": rng.uniform(0, 1, 50)})
    df["y"] = df["a"] + rng.normal(0, 0.1, 50)
    yield "scatter", charts.sweep_scatter(df, "a", "y", "b", title="y against a"), \
        charts.NARROWEST_PX
    yield "poll", charts.poll_histogram([1, 2], 0, 10, model_values=[3, 4], title="poll"), \
        charts.NARROWEST_PX
    yield "timeline", charts.timeline(ev, title="events"), charts.NARROWEST_PX


@pytest.mark.parametrize("case", list(_legend_figures()), ids=lambda c: c[0])
def test_legend_lies_in_its_own_rows_between_title_and_plot(case):
    """The legend is placed in pixels from the top, below the title, and the top margin holds
    it at the narrowest width the figure is drawn, plus the labels just above the plot: it
    cannot overlap the title, a panel title or the plot (the browser test measures it)."""
    _, fig, narrowest = case
    lay = fig.layout
    names = charts.legend_entries(fig)
    assert len(names) >= 2
    assert (lay.legend.yref, lay.legend.yanchor, lay.legend.orientation) == (
        "container", "top", "h")
    title_px = charts.TITLE_PX if lay.title.text else 0
    legend_top = (1 - lay.legend.y) * lay.height
    assert legend_top == pytest.approx(charts.TOP_PAD_PX + title_px)
    rows = charts.legend_rows(names, narrowest, lay.legend.title.text or "")
    labels = charts.LABEL_ROW_PX if charts._labels_above_plot(fig) else 0
    assert lay.margin.t >= round(legend_top + rows * charts.LEGEND_ROW_PX + labels)


def test_legend_rows_wrap_at_the_width():
    names = ["model plays all", "your class", "documented shock", "documented decision"]
    assert charts.legend_rows(names, 2000) == 1
    assert charts.legend_rows(names, 380) == 3
    assert charts.legend_rows([], 300) == 0
