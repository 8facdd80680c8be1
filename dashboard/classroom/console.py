"""The teacher's console (a tab of the Classroom page): start a session for a lesson or a game,
show its join code, LAN address and QR code, follow who joined and answered, and run it: open
and close predictions, reveal, inject an event, pause, advance, undo, end, export the debrief
and the per-student CSV. The console holds the session's teacher token in the browser session;
any other device that opens this page sees only the start form.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import streamlit as st

from dashboard.classroom import export, game, live, net
from dashboard.classroom.rules import ClassroomError
from model.core import spec
from model.inputs.scenario import month_label

KEY = "cls_live"


def _run(call, *args) -> None:
    """A console action; a refusal is shown, never raised."""
    try:
        call(*args)
    except ClassroomError as exc:
        st.session_state["cls_live_error"] = str(exc)


def _start_form() -> None:
    svc = live.service()
    kind = st.radio("A session for", ["a lesson", "a team game"], horizontal=True,
                    key="cls_live_kind")
    with st.form("cls_live_start"):
        if kind == "a lesson":
            lid = st.selectbox("Lesson", list(svc.lessons),
                               format_func=lambda k: svc.lessons[k].title, key="cls_live_lesson")
        else:
            c1, c2 = st.columns(2)
            actors = c1.multiselect("Teams play (one team per actor; the model plays the rest)",
                                    spec.ACTORS, default=["PAK_MIL", "US"],
                                    key="cls_live_actors", max_selections=5)
            start = c2.text_input("First month", value=game.DEFAULT_START, key="cls_live_start_m")
            length = c1.slider("Months", 1, game.MAX_LENGTH, game.DEFAULT_LENGTH,
                               key="cls_live_len")
            mode = c2.radio("A team's move is", ["majority", "captain"], horizontal=True,
                            key="cls_live_mode",
                            captions=["the most votes", "the captain's vote"])
            timer = c1.number_input("Timer per month (seconds, 0 = none)", 0, 3600, 0, step=30,
                                    key="cls_live_timer")
        anonymous = st.checkbox("Anonymous (students need no name)", key="cls_live_anon")
        go = st.form_submit_button("Start the session", type="primary")
    if go:
        try:
            if kind == "a lesson":
                code, token = svc.start_lesson(lid, anonymous=anonymous)
            else:
                code, token = svc.start_game(actors, start=start.strip(), length=length,
                                             mode=mode, timer_s=timer, anonymous=anonymous)
        except ClassroomError as exc:
            st.error(str(exc))
            return
        st.session_state[KEY] = {"code": code, "token": token}
        st.rerun()
    with st.expander("Reopen a session (its code and teacher token)"):
        with st.form("cls_live_reopen"):
            code = st.text_input("Join code", key="cls_live_re_code")
            token = st.text_input("Teacher token", type="password", key="cls_live_re_token")
            again = st.form_submit_button("Reopen")
        if again:
            try:
                svc.teacher(code, token)
            except ClassroomError as exc:
                st.error(str(exc))
            else:
                st.session_state[KEY] = {"code": code.strip().upper(), "token": token}
                st.rerun()
        rows = svc.store.sessions()
        if rows:
            st.dataframe(pd.DataFrame([{
                "code": r["code"], "kind": r["kind"], "title": r["title"], "state": r["state"],
                "students": r["n"],
                "started": dt.datetime.fromtimestamp(r["created"]).strftime("%Y-%m-%d %H:%M")}
                for r in rows]), hide_index=True, key="cls_live_sessions")


def _header(code: str, token: str) -> None:
    port = int(st.get_option("server.port") or 8501)
    url = net.join_url(net.lan_address(), port, code)
    left, right = st.columns([3, 1])
    left.markdown(f"### Join code: `{code}`")
    left.markdown(f"Students open **{url}** (same Wi-Fi) or scan the code.")
    left.caption("Or open /join on this server and type the code.")
    with left.expander("Teacher token (keep it to reopen this console elsewhere)"):
        st.code(token, language=None)
    right.image(net.qr_png(url), caption="Scan to join", width=170)


@st.fragment(run_every=live.POLL_S)
def _who(code: str, token: str) -> None:
    svc = live.service()
    try:
        svc.tick(code)
        tv = svc.teacher_view(code, token)
    except ClassroomError as exc:
        st.error(str(exc))
        return
    s, people = tv["session"], tv["people"]
    svc.prefetch(svc.session(code))            # the reveal's answer, before the teacher asks
    teams = {t["id"]: t["actor"] for t in tv["teams"]}
    state = s["state"] + (" (paused)" if s["paused"] else "")
    if s["kind"] == "lesson":
        n = sum(p["prediction"] is not None for p in people)
        st.markdown(f"**{len(people)} joined · {n} answered · {state}**")
        frame = pd.DataFrame([{"name": p["name"], "answered": p["prediction"] is not None,
                               "prediction": p["prediction"]} for p in people])
    else:
        cfg = tv["config"]
        st.markdown(f"**{len(people)} joined · month {s['month']} of {cfg['length']} "
                    f"({month_label(cfg['start'], min(s['month'], cfg['length'] - 1))}) · "
                    f"{state}**")
        frame = pd.DataFrame([{"name": p["name"], "team": teams.get(p["team"], ""),
                               "vote this month": p["voted"] or ""} for p in people])
    if not frame.empty:
        st.dataframe(frame, hide_index=True, key="cls_live_people", height=220)
    for _, text in tv["journal"][:5]:
        st.caption(text)


def _inject_form(code: str, token: str, when: str) -> None:
    svc = live.service()
    with st.form("cls_live_inject"):
        c1, c2, c3 = st.columns(3)
        date = c1.text_input("Month", value=when, key="cls_live_i_date")
        names = [a.name for a in spec.ACTIONS if not a.name.endswith("_HOLD")]
        action = c2.selectbox("Action", names, index=names.index("US_STRIKE"),
                              key="cls_live_i_action")
        sev = c3.number_input("Severity", 0.0, 100.0, 3.0, step=0.5, key="cls_live_i_sev")
        add = st.form_submit_button("Inject (pushed to every device)")
    if add:
        act = spec.ACTIONS[spec.ACTION_INDEX[action]]
        n = len(svc.store.injects(svc.session(code)["id"]))
        ev = {"id": f"teacher_{n + 1}_{action.lower()}", "date": date.strip(),
              "actor": act.actor, "action": action, "severity": float(sev)}
        if act.target:
            ev["target"] = act.target
        _run(svc.inject, code, token, ev)


def _controls(code: str, token: str) -> None:
    svc = live.service()
    s = svc.teacher(code, token)
    ended = s["state"] == "ended"
    cols = st.columns(5)
    if s["kind"] == "lesson":
        cols[0].button("Open predictions", key="cls_live_open", disabled=ended,
                       on_click=_run, args=(svc.set_state, code, token, "open"))
        cols[1].button("Close predictions", key="cls_live_close", disabled=ended,
                       on_click=_run, args=(svc.set_state, code, token, "closed"))
        cols[2].button("Reveal", type="primary", key="cls_live_reveal", disabled=ended,
                       on_click=_run, args=(svc.set_state, code, token, "revealed"))
        when = svc.lessons[s["ref"]].outcome.start
    else:
        cols[0].button("Advance the month", type="primary", key="cls_live_advance",
                       disabled=s["state"] != "open", on_click=_run,
                       args=(svc.advance, code, token))
        cols[1].button("Undo a month", key="cls_live_undo", disabled=ended or s["month"] == 0,
                       on_click=_run, args=(svc.undo, code, token))
        cols[2].button("Resume" if s["paused"] else "Pause", key="cls_live_pause",
                       disabled=ended, on_click=_run,
                       args=(svc.pause, code, token, not s["paused"]))
        when = json.loads(s["config"])["start"]
    cols[3].button("End the session", key="cls_live_end", disabled=ended,
                   on_click=_run, args=(svc.end, code, token))
    cols[4].button("Leave the console", key="cls_live_leave",
                   on_click=lambda: st.session_state.pop(KEY, None))
    if not ended:
        _inject_form(code, token, when)
    if s["kind"] == "lesson" and s["state"] == "revealed":
        tv = svc.teacher_view(code, token)
        pr = svc.lessons[s["ref"]].prediction
        vals = [p["prediction"] for p in tv["people"] if p["prediction"] is not None]
        st.plotly_chart(live.reveal_figure(vals, pr.lo, pr.hi, pr.unit, svc.answer(s)),
                        theme=None, key="cls_live_reveal_chart")
    if s["kind"] == "game":
        st.plotly_chart(live.network_figure(svc.game_state(s), None, height=460), theme=None,
                        key="cls_live_net")


def _exports(code: str, token: str) -> None:
    svc = live.service()
    st.markdown("#### Export")
    c1, c2, c3 = st.columns(3)
    c1.download_button("Debrief (markdown)", data=export.debrief_markdown(svc, code, token),
                       file_name=f"debrief-{code}.md", mime="text/markdown",
                       key="cls_live_md", on_click="ignore")
    if c2.toggle("Prepare the PDF", key="cls_live_pdf_on"):
        c2.download_button("Debrief (PDF)", data=export.debrief_pdf(svc, code, token),
                           file_name=f"debrief-{code}.pdf", mime="application/pdf",
                           key="cls_live_pdf", on_click="ignore")
    c3.download_button("Students (CSV)", data=export.student_csv(svc, code, token),
                       file_name=f"students-{code}.csv", mime="text/csv",
                       key="cls_live_csv", on_click="ignore")
    with st.popover("Delete this session"):
        st.caption("Deletes every answer of this session from the store.")
        if st.button("Delete for good", key="cls_live_delete"):
            _run(svc.delete, code, token)
            st.session_state.pop(KEY, None)
            st.rerun()


def render() -> None:
    """The console: the start form, or the running session."""
    err = st.session_state.pop("cls_live_error", None)
    if err:
        st.error(err)
    cur = st.session_state.get(KEY)
    if cur is None:
        _start_form()
        return
    code, token = cur["code"], cur["token"]
    try:
        live.service().teacher(code, token)
    except ClassroomError as exc:
        st.error(str(exc))
        st.session_state.pop(KEY, None)
        return
    _header(code, token)
    _who(code, token)
    _controls(code, token)
    _exports(code, token)
