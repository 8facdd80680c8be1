"""Classroom: guided lessons (predict, then reveal the model's answer and the record), the
teacher's panel, and playing as an actor."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, core, lessons, play, ui
from dashboard.classroom import console
from model.analysis import robustness
from model.analysis import summary as S
from model.core import spec
from model.inputs.scenario import month_index, month_label
from model.io.errors import ModelInputError

st.title("Classroom")
ui.markdown_file("classroom.md")
runs, seed = ui.ensemble_controls("cls", runs=100)
LESSONS = lessons.load_lessons()


@st.cache_data(max_entries=32, show_spinner=False)
def lesson_answer(lesson_id: str, runs: int, seed: int, injected: tuple) -> lessons.Answer:
    """The model's answer to a lesson (``injected``: events as tuples of key/value pairs)."""
    return lessons.answer(LESSONS[lesson_id], runs, seed, tuple(dict(e) for e in injected))


def window_of(frame: pd.DataFrame, lo: str, hi: str) -> pd.DataFrame:
    when = frame["date"].dt.strftime("%Y-%m")
    return frame[(when >= lo) & (when <= hi)]


tab_lessons, tab_play, tab_live = st.tabs(["Lessons", "Play as an actor", "Live session"],
                                         key="cls_tab",
                                         on_change="rerun", default="Lessons")

# -------------------------------------------------------------------------------- lessons
with tab_lessons:
    if tab_lessons.open:
        lid = st.selectbox("Lesson", list(LESSONS), format_func=lambda k: LESSONS[k].title,
                           key="cls_lesson", persist_state="session")
        L = LESSONS[lid]
        st.header(L.title)
        st.caption(f"{L.summary} · about {L.minutes} minutes")
        st.markdown(core.escape_money(lessons.section(L, "The question")))

        inj_key = f"cls_inject_{lid}"
        injected: list[dict] = st.session_state.setdefault(inj_key, [])
        inj_t = tuple(tuple(sorted(e.items(), key=lambda kv: kv[0])) for e in injected)
        committed_key = f"cls_committed_{lid}"
        committed = st.session_state.get(committed_key)
        pr = L.prediction

        with st.container(border=True):
            st.markdown("**Your prediction**")
            value = st.slider(pr.label, min_value=pr.lo, max_value=pr.hi, value=pr.default,
                              step=pr.step, key=f"cls_pred_{lid}", disabled=committed is not None)
            if committed is None:
                if st.button("Commit my prediction", type="primary", key=f"cls_commit_{lid}"):
                    st.session_state[committed_key] = float(value)
                    st.session_state["cls_scroll"] = True    # bring the answer into view
                    st.rerun()
                st.caption("The model's answer and the record are revealed once you commit.")
            else:
                st.success(f"Prediction committed: **{committed:g}{pr.unit}**")

                def _uncommit(k: str = committed_key) -> None:
                    st.session_state.pop(k, None)

                st.button("Change my prediction", key=f"cls_uncommit_{lid}",
                          on_click=_uncommit)

        if committed is not None:
            try:
                ans = lesson_answer(lid, runs, seed, inj_t)
            except ModelInputError as exc:
                ui.show_error(f"error: {exc}", "The lesson's scenario could not be run")
                st.stop()
            st.subheader("What the model says", anchor=ui.ANSWER_ANCHOR)
            if st.session_state.pop("cls_scroll", False):
                ui.scroll_to(ui.ANSWER_ANCHOR)
            if injected:
                st.caption(f"Including {len(injected)} event(s) injected by the teacher.")
            st.info(ans.headline)
            st.caption(f"Across the posterior's parameter sets, the change is "
                       f"**{ans.robustness}** (robust: the same sign in at least "
                       f"{robustness.ROBUST_SHARE:.0%} of the sets; otherwise it depends on "
                       "the calibration).")
            ui.plot(charts.prediction_vs_model(
                committed, pr.lo, pr.hi, pr.unit, model_values=ans.per_run,
                model_share=ans.share, title="Your prediction and the model's runs"),
                key=f"cls_reveal_{lid}")
            rows = [{"quantity": L.outcome.label, "unchanged": ans.base,
                     L.variant_label: ans.variant}]
            rows += [{"quantity": q, "unchanged": b, L.variant_label: v} for q, b, v in ans.also]
            # A table that wraps its text: every column fits the page, long headers included.
            st.table(pd.DataFrame(rows), hide_index=True)
            if "What the model says" in L.sections:
                st.markdown(core.escape_money(lessons.section(L, "What the model says", ans)))
            base_text, var_text = lessons.scenario_texts(L, tuple(injected))
            lo = month_label(L.outcome.start, -24)
            hi = month_label(L.outcome.end, 24)
            keys = core.series_keys()
            frames = {"unchanged": window_of(core.bands(base_text, runs, seed), lo, hi),
                      L.variant_label: window_of(core.bands(var_text, runs, seed), lo, hi)}
            marks = core.window_events(core.events(), lo, hi)
            ui.plot(charts.band_panels(frames, list(L.series), keys, events=marks,
                                       colours={"unchanged": charts.HISTORY_COLOUR,
                                                L.variant_label: charts.OKABE_ITO["blue"]},
                                       panel_height=190),
                    key=f"cls_bands_{lid}")

            st.subheader("What happened")
            st.markdown(core.escape_money(lessons.section(L, "What happened", ans)))
            ev = core.events()
            for r in ev[ev["id"].isin(L.events)].sort_values("month").itertuples():
                st.markdown(core.escape_money(
                    f"- **{r.month}** — {r.actor} → {r.target} ({r.kind}): “{r.quote}” "
                    f"<small>— {r.outlet}</small>"), unsafe_allow_html=True)

        # ----------------------------------------------------------------- teacher's panel
        # Keyed and tracked: the panel stays open while the page reruns (an injection, a poll).
        panel = st.expander("Teacher's panel", icon=":material/co_present:",
                            key=f"cls_panel_{lid}", on_change="rerun")
        with panel:
            st.markdown("#### Teacher notes")
            try:
                ans_n = lesson_answer(lid, runs, seed, inj_t)
            except ModelInputError as exc:
                ui.show_error(f"error: {exc}", "The lesson's scenario could not be run")
                st.stop()
            st.markdown(core.escape_money(lessons.section(L, "Teacher notes", ans_n)))

            st.markdown("#### Poll the class")
            poll_text = st.text_area(
                "The class's predictions (one per student: commas, spaces or new lines)",
                key=f"cls_poll_{lid}", placeholder="40, 55, 20, 70, 35",
                help=f"Numbers between {pr.lo:g} and {pr.hi:g} ({pr.label}).")
            poll, problems = lessons.parse_predictions(poll_text, pr.lo, pr.hi)
            if problems:
                st.error("Some entries were left out: " + "; ".join(problems[:8])
                         + (" …" if len(problems) > 8 else ""))
            reveal = st.toggle("Show the model's answer on the chart", value=False,
                               key=f"cls_poll_reveal_{lid}")
            ans_t = ans_n
            if poll or reveal:
                ui.plot(charts.poll_histogram(
                    poll, pr.lo, pr.hi, pr.unit,
                    model_values=ans_t.per_run if reveal else None,
                    model_share=ans_t.share if reveal else None,
                    title="The class's predictions" + (" and the model's runs" if reveal
                                                        else "")), key=f"cls_poll_{lid}_chart")

            st.markdown("#### Inject an event")
            with st.form(f"cls_inject_form_{lid}"):
                f1, f2, f3, f4 = st.columns(4)
                months = [month_label(L.outcome.start, k) for k in range(-24, 13)]
                i_date = f1.select_slider("Month", options=months, value=L.outcome.start,
                                          key=f"cls_i_date_{lid}")
                i_action = f2.selectbox("Action", [a.name for a in spec.ACTIONS
                                                   if not a.name.endswith("_HOLD")],
                                        index=[a.name for a in spec.ACTIONS
                                               if not a.name.endswith("_HOLD")
                                               ].index("US_STRIKE"),
                                        key=f"cls_i_action_{lid}")
                i_sev = f3.number_input("Severity", min_value=0.0, max_value=100.0, value=1.0,
                                        step=0.5, key=f"cls_i_sev_{lid}")
                i_killed = f4.number_input(
                    "Soldiers killed", min_value=0, max_value=10_000, value=0, step=1,
                    key=f"cls_i_killed_{lid}",
                    help="Pakistani soldiers killed by the act: the army's grievance, which its "
                         "retaliation (closing the route, evicting the drones) answers (M3)")
                add = st.form_submit_button("Inject into the lesson's world")
            if add:
                act = spec.ACTIONS[spec.ACTION_INDEX[i_action]]
                new = {"id": f"teacher_{len(injected) + 1}_{i_action.lower()}",
                       "date": i_date, "actor": act.actor, "action": i_action,
                       "severity": float(i_sev)}
                if act.target:
                    new["target"] = act.target
                if i_killed:
                    new["effects"] = {"sovereignty_grievance": {"add": float(i_killed)}}
                try:
                    lessons.scenario_texts(L, (*injected, new))
                except ModelInputError as exc:
                    ui.show_error(f"error: {exc}", "This event cannot be injected")
                else:
                    injected.append(new)
                    st.rerun()
            for e in injected:
                killed = e.get("effects", {}).get("sovereignty_grievance", {}).get("add")
                st.markdown(f"- `{e['id']}`: {e['actor']} {e['action']} in {e['date']}, "
                            f"severity {e['severity']:g}"
                            + (f", {killed:g} soldiers killed" if killed else ""))
            if injected:
                st.button("Remove the injected events", key=f"cls_i_clear_{lid}",
                          on_click=injected.clear)

            st.markdown("#### Debrief")
            md = lessons.debrief(L, ans_n, runs, seed, committed, poll, tuple(injected))
            st.download_button("Export the debrief (markdown)", data=md,
                               file_name=f"debrief-{lid}.md", mime="text/markdown",
                               key=f"cls_debrief_{lid}", on_click="ignore")

# ---------------------------------------------------------------------- play as an actor
with tab_play:
    if tab_play.open:
        ui.markdown_file("play.md")
        text = core.history_text()
        sc = core.parse(text)
        g = st.session_state.get("play")
        if g is None:
            c1, c2, c3 = st.columns(3)
            actor = c1.selectbox("Play as", spec.ACTORS, index=1, key="play_actor",
                                 format_func=lambda a: f"{a} — {spec.ACTOR_NAMES[a]}")
            months = [month_label(sc.start, k) for k in range(sc.months)]
            start = c2.select_slider("From", options=months, value="2011-05", key="play_start")
            length = c3.slider("Months to play", 3, 24, 12, key="play_len")
            if st.button("Start the game", type="primary", key="play_go"):
                if month_index(sc.start, start) + length > sc.months:
                    ui.show_error(f"{length} months from {start} run past the end of the "
                                  f"history ({month_label(sc.start, sc.months - 1)})",
                                  "The game does not fit in the history")
                else:
                    st.session_state["play"] = {"actor": actor, "start": start,
                                                "length": int(length), "choices": []}
                    st.rerun()
            st.stop()

        actor, start, length, choices = g["actor"], g["start"], g["length"], g["choices"]
        m0 = month_index(sc.start, start)
        k = len(choices)
        res = play.forced_results(text, actor, start, tuple(choices), runs, seed)

        def _undo() -> None:
            if st.session_state["play"]["choices"]:
                st.session_state["play"]["choices"].pop()

        def _quit() -> None:
            st.session_state.pop("play", None)

        top1, top2, top3 = st.columns([4, 1, 1])
        top1.markdown(f"### Playing {actor} ({spec.ACTOR_NAMES[actor]}) from {start}")
        top2.button("Undo last move", key="play_undo", on_click=_undo, disabled=k == 0)
        top3.button("New game", key="play_quit", on_click=_quit)
        st.progress(k / length, text=f"{k} of {length} months played")

        step = m0 + k
        left, right = st.columns([3, 2])
        with left:
            now = play.state_at(res, step)
            ui.plot(charts.network(now["trust"], now["aid"], None,
                                   title=f"Start of {month_label(sc.start, step)}",
                                   focus=actor),
                    key="play_network")
            st.caption(f"Median of {runs} runs. The supply route is open in "
                       f"{now['route_open']:.0%} of them.")
        with right:
            if k:
                st.markdown(f"**Last month ({month_label(sc.start, step - 1)})** you chose "
                            f"`{choices[-1]}`. The others:")
                others = play.others_moves(res, step - 1, actor)
                others["share of runs"] = others["share of runs"].map("{:.0%}".format)
                st.table(others, hide_index=True)      # wraps: every column fits the page
            if k < length:
                acts = play.repertoire(actor)
                pick = st.radio(f"**Your move in {month_label(sc.start, step)}**",
                                [a.name for a in acts], key=f"play_move_{k}",
                                captions=[a.help for a in acts])
                if st.button("Commit this move", type="primary", key="play_commit"):
                    st.session_state["play"]["choices"].append(pick)
                    st.rerun()

        if k == length:
            st.subheader("How history might have gone")
            base = core.ensemble(text, runs, seed)
            lo_m, hi_m = month_label(start, -24), month_label(start, length + 24)
            keys = core.series_keys()
            frames = {"model plays all": window_of(core.band_frame(base), lo_m, hi_m),
                      "your class": window_of(core.band_frame(res), lo_m, hi_m)}
            end = month_label(start, length + 11)
            table = S.compare_questions(base, res, [
                S.Question("route_closed", start, end), S.Question("drones_off", start, end),
                S.Question("trust", start, end, "PAK_MIL->US"),
                S.Question("trust", start, end, "US->PAK_MIL"),
                S.Question("aid", start, end, "US->PAK_MIL"),
                S.Question("state", start, end, "public_hostility"),
            ], "the model's own play", "your class's play")
            st.markdown("\n".join(f"- {s}" for s in table["sentence"]))
            ui.plot(charts.band_panels(
                frames, ["trust PAK_MIL->US", "trust US->PAK_MIL", "aid US->PAK_MIL",
                         "state supply_route_open"], keys,
                events=core.window_events(core.events(), lo_m, hi_m),
                colours={"model plays all": charts.HISTORY_COLOUR,
                         "your class": charts.OKABE_ITO["vermillion"]}, panel_height=180),
                key="play_bands")
            st.markdown(f"**What {actor} actually did** (documented decisions, {start} to "
                        f"{month_label(start, length - 1)}):")
            ev = core.events()
            real = ev[(ev["actor"] == actor) & (ev["kind"] == "decision")
                      & (ev["month"] >= start) & (ev["month"] <= month_label(start, length - 1))]
            moves = pd.DataFrame({"month": [month_label(start, i) for i in range(length)],
                                  "your class": choices})
            moves["documented"] = [", ".join(real[real["month"] == m]["action"].dropna())
                                   for m in moves["month"]]
            st.dataframe(moves, hide_index=True, key="play_moves")
            for r in real.sort_values("month").itertuples():
                st.markdown(core.escape_money(f"- **{r.month}** `{r.action}` — “{r.quote}” "
                                              f"<small>({r.outlet})</small>"),
                            unsafe_allow_html=True)
            if real.empty:
                st.caption("The catalog records no decision of this actor in these months.")
            st.download_button(
                "Download this game as a scenario (YAML)",
                data=play.game_text(text, actor, start, tuple(choices)),
                file_name=f"game-{actor.lower()}-{start}.yaml", mime="application/x-yaml",
                key="play_dl", on_click="ignore",
                help="The history with the class's moves as interventions; run it again with "
                     "`python -m model run FILE`.")

# ------------------------------------------------ live session: students on their own devices
with tab_live:
    if tab_live.open:
        console.render()
