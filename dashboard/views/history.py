"""History: the documented events, the network of trust month by month, the replayed series
and the history check."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import charts, core, ui
from model.core import spec

st.title("History, 1998–2022")
ui.markdown_file("history.md")

runs, seed = ui.ensemble_controls("hist")
text = core.history_text()
catalog = core.events()

tab_events, tab_net, tab_series, tab_check = st.tabs(
    ["Timeline of events", "Network of trust", "Trust and aid over time", "History check"],
    key="hist_tab", on_change="rerun", default="Timeline of events")

# ------------------------------------------------------------------------------- timeline
with tab_events:
    if tab_events.open:
        c1, c2 = st.columns([3, 2])
        actors = c1.pills("Actor", core.ALL_ACTORS, selection_mode="multi",
                          default=list(core.ALL_ACTORS), key="hist_actors",
                          help="Who acted (OTHER: a party outside the five actors).")
        kinds = c2.pills("Kind", ["shock", "decision", "context"], selection_mode="multi",
                         default=["shock", "decision", "context"], key="hist_kinds",
                         help="Shocks enter the replay from outside; decisions are the agents' "
                              "to make (and are scored); context is background.")
        c3, c4 = st.columns([3, 2])
        types = c3.multiselect("Event type (CAMEO)", sorted(catalog["event_type"].unique()),
                               key="hist_types", placeholder="all types")
        y0, y1 = int(catalog["year"].min()), int(catalog["year"].max())
        years = c4.slider("Years", y0, y1, (1998, y1), key="hist_years")
        sel = catalog[catalog["actor"].isin(actors) & catalog["kind"].isin(kinds)
                      & catalog["year"].between(*years)]
        if types:
            sel = sel[sel["event_type"].isin(types)]
        st.caption(f"{len(sel)} of {len(catalog)} documented events. Hover over a dot for its "
                   "quote and source.")
        ui.plot(charts.timeline(sel), key="hist_timeline")
        if len(sel):
            labels = {r.id: f"{r.month} · {r.id}" for r in sel.itertuples()}
            pick = st.selectbox("Read an event", list(labels), format_func=labels.get,
                                key="hist_event")
            ev = sel[sel["id"] == pick].iloc[0].where(lambda r: r.notna(), "")
            with st.container(border=True):
                st.markdown(f"**{ev['id']}** — {ev['month']} ({ev['precision']} precision) · "
                            f"{ev['actor_name'] or ev['actor']} → "
                            f"{ev['target_name'] or ev['target']} · "
                            f"*{ev['event_type']}* (CAMEO {ev['cameo']}, Goldstein "
                            f"{ev['goldstein']:+.1f}) · kind **{ev['kind']}**"
                            + (f" · model action `{ev['action']}`" if ev["action"] else ""))
                st.markdown(core.escape_money(f"> “{ev['quote']}”"))
                st.markdown(f"**Source:** {ev['title']} — {ev['outlet']} "
                            f"({ev['source_kind']}, {ev['published']}), file `{ev['source']}`")
                st.markdown(f"**The source's perspective:** {ev['perspective']}")
            st.dataframe(
                sel[["month", "actor", "target", "event_type", "kind", "quote", "outlet",
                     "perspective"]],
                hide_index=True, key="hist_table", height=300,
                column_config={"quote": st.column_config.TextColumn(width="large"),
                               "perspective": st.column_config.TextColumn(width="medium")})
        else:
            st.info("No event matches these filters.")

# -------------------------------------------------------------------------------- network
with tab_net:
    if tab_net.open:
        net = core.network_arrays(text, runs, seed)
        dates = net["dates"]
        if st.session_state.get("hist_month") not in dates:
            st.session_state["hist_month"] = "2011-06" if "2011-06" in dates else dates[0]
        playing = bool(st.session_state.get("hist_playing"))

        def _toggle() -> None:
            st.session_state["hist_playing"] = not st.session_state.get("hist_playing", False)

        b1, b2, b3, _ = st.columns([1, 2, 2, 3], vertical_alignment="bottom")
        b1.button("⏸ Pause" if playing else "▶ Play", key="hist_play", on_click=_toggle,
                  type="primary", help="Step through the months automatically.")
        speed = b2.selectbox("Months per step", [1, 3, 6, 12], index=1, key="hist_speed")
        focus = b3.selectbox("Label the ties of", ["(nobody)", *spec.ACTORS], index=2,
                             key="hist_focus", help="Show the trust values on this actor's "
                                                    "ties and fade the others.")

        @st.fragment(run_every=0.8 if playing else None)
        def network_panel() -> None:
            if st.session_state.get("hist_playing"):
                k = dates.index(st.session_state["hist_month"]) + int(speed)
                if k >= len(dates):
                    st.session_state["hist_playing"] = False
                    st.session_state["hist_month"] = dates[-1]
                    st.rerun(scope="app")
                st.session_state["hist_month"] = dates[k]
            month = st.select_slider("Month", options=dates, key="hist_month")
            step = dates.index(month)
            m = min(step, len(net["modal"]) - 1)
            acts = {a: f"{spec.ACTIONS[net['modal'][m, i]].name} "
                       f"({net['share'][m, i]:.0%})" for i, a in enumerate(spec.ACTORS)}
            left, right = st.columns([2, 1])
            with left:
                ui.plot(charts.network(net["trust"][step], net["aid"][step], acts,
                                       title=f"{month}: median of {runs} runs",
                                       focus=None if focus == "(nobody)" else focus),
                        key="hist_network")
            with right:
                st.markdown(f"**Documented events around {month}** (± 2 months)")
                lo_m = dates[max(0, step - 2)]
                hi_m = dates[min(len(dates) - 1, step + 2)]
                near = core.window_events(catalog, lo_m, hi_m)
                if near.empty:
                    st.caption("None in the catalog.")
                for r in near.itertuples():
                    st.markdown(core.escape_money(
                        f"- **{r.month}** {r.actor} → {r.target}: *{r.event_type}* "
                        f"({r.kind}) — “{r.quote}” <small>({r.outlet})</small>"),
                        unsafe_allow_html=True)
                st.caption("Under each actor: its most frequent action that month across "
                           "runs. Edges: trust of the arrow's tail in its head (width and "
                           "colour); dotted green: US aid.")

        network_panel()

# --------------------------------------------------------------------------------- series
with tab_series:
    if tab_series.open:
        keys = core.series_keys()
        c1, c2 = st.columns([4, 1])
        series = c1.multiselect("Series", list(keys), default=list(core.KEY_SERIES),
                                format_func=keys.get, key="hist_series", max_selections=6)
        mark = c2.toggle("Mark documented events", value=True, key="hist_mark")
        bands = core.bands(text, runs, seed)
        start, end = bands["date"].min().strftime("%Y-%m"), bands["date"].max().strftime("%Y-%m")
        marks = core.window_events(catalog, start, end) if mark else None
        if series:
            ui.plot(charts.band_panels({"History ensemble": bands}, series, keys, events=marks,
                                       colours={"History ensemble": charts.OKABE_ITO["blue"]}),
                    key="hist_bands")
            st.caption(f"Lines: median of {runs} runs; shaded: 5–95% of runs. Documented "
                       "shocks are dotted vertical lines; hover over the dots on top for the "
                       "quotes.")
        else:
            st.info("Choose at least one series.")

# ---------------------------------------------------------------------------- history check
def _signed(v: float, digits: int = 2) -> str:
    return "–" if not np.isfinite(v) else f"{v:+.{digits}f}"


with tab_check:
    if tab_check.open:
        timing, skill = core.history_timing(text, runs, seed)
        _, patterns = core.history_check(text, runs, seed)
        n = len(timing)
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("Decisions timed", f"{skill['timed']} / {n}",
                  help="Made inside the documented window (month ±2, or the calendar year) in "
                       "at least half the runs and at least 25 points above the base rate for "
                       "a window of that length.")
        c2.metric("Skill vs frequency null", _signed(skill["log_lift_freq"]),
                  help="Log-lift, nats per decision: mean ln p(model) − ln p(null) at the "
                       "documented months. Above 0: the model's timing adds information to "
                       "the actions' frequencies.")
        c3.metric("Skill vs shock-response null", _signed(skill["log_lift_shock"]),
                  help="Log-lift against a rule that answers each catalog shock with the hit "
                       "actor's most frequent hostile act for three months.")
        c4.metric("Documented decisions reproduced", f"{skill['reproduced_6m']} / {n}",
                  help="Secondary, weak: made within ±6 months of the documented month in "
                       "most runs. Many acts are chosen in most months, so this says little "
                       "about timing.")
        st.caption(f"Brier skill: {_signed(skill['brier_skill_freq'])} against the frequency "
                   f"null, {_signed(skill['brier_skill_shock'])} against the shock-response "
                   f"null. In sample: the parameters were fitted to this history.")
        ui.markdown_file("history_check.md")
        # Pixel widths and short headers (their meaning in each header's help): the table
        # fits the page at 1280 px, nothing cut off on the right. The actor, the action and
        # the documented month are in the decision's id and window.
        st.dataframe(
            timing, hide_index=True, key="hist_decisions", height=420,
            column_order=["id", "window", "share", "base", "timed", "error_months",
                          "never_share", "reproduced_6m"],
            column_config={
                "id": st.column_config.TextColumn(
                    "decision", width=230,
                    help="The documented decision (catalog id; its actor and action on the "
                         "Timeline tab)."),
                "window": st.column_config.TextColumn(
                    "window", width=130, help="The documented window: month ±2, or the "
                                              "calendar year."),
                "share": st.column_config.ProgressColumn(
                    "in window", min_value=0.0, max_value=1.0, format="percent", width=110,
                    help="Share of runs that make the decision inside its window."),
                "base": st.column_config.NumberColumn(
                    "base", format="percent", width=70,
                    help="Base rate: the share expected for a window of that length."),
                "timed": st.column_config.CheckboxColumn("timed", width=60),
                "error_months": st.column_config.NumberColumn(
                    "error", format="%+.0f", width=60,
                    help="Timing error in months (median first month made minus documented)."),
                "never_share": st.column_config.NumberColumn(
                    "never", format="percent", width=66,
                    help="Share of runs that never make the decision."),
                "reproduced_6m": st.column_config.CheckboxColumn(
                    "±6 m", width=56, help="Made within ±6 months of the documented month.")})
        st.markdown("**Documented turns** (patterns in the trust series)")
        # A table that wraps its text: the long descriptions fit the page.
        st.table(patterns.assign(share=patterns["share"].map("{:.0%}".format))
                 .rename(columns={"share": "share of runs"}), hide_index=True)
