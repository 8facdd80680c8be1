"""The student's page (``/join``): join with the code and a name, then follow the session.

Built for a phone (360 px wide): one column, short texts. The device token handed out at join is
kept in the browser session and in the page's address (``?me=``), so a refresh, a reconnect or a
server restart resumes the same student. The live part polls the store every ``live.POLL_S``
seconds (``st.fragment(run_every=...)``).
"""

from __future__ import annotations

import secrets

import pandas as pd
import streamlit as st

from dashboard import core
from dashboard.classroom import game, live
from dashboard.classroom.rules import ClassroomError
from model.core import spec

KEY = "cls_device"


def _client() -> str:
    """A key for the flood limit of joins: this browser session (a random token kept in its
    session state; ``st.session_state`` itself is one proxy shared by every session, so its
    ``id`` would put a whole class under one key and refuse the class's joins as a flood)."""
    return st.session_state.setdefault("cls_client", secrets.token_hex(8))


def _leave() -> None:
    st.session_state.pop(KEY, None)
    st.query_params.pop("me", None)


def join_form() -> None:
    svc = live.service()
    with st.form("cls_join_form"):
        code = st.text_input("Join code", value=st.query_params.get("code", ""), max_chars=12,
                             key="cls_join_code", placeholder="e.g. K7QX2D")
        name = st.text_input("Your name", max_chars=40, key="cls_join_name",
                             help="Leave empty in an anonymous session.")
        go = st.form_submit_button("Join", type="primary", use_container_width=True)
    if go:
        try:
            device = svc.join(code, name, client=_client())
        except ClassroomError as exc:
            st.error(str(exc))
            return
        st.session_state[KEY] = device
        st.query_params["me"] = device
        st.query_params.pop("code", None)
        st.rerun()


def _lesson(v: dict, device: str) -> None:
    svc = live.service()
    s = svc.store.session(v["code"])
    svc.prefetch(s)                            # the reveal's answer, computed before it is asked
    L = svc.lessons[s["ref"]]
    pr = L.prediction
    with st.expander("The question", expanded=v["state"] == "open"):
        st.markdown(core.escape_money(L.sections["The question"]))
    st.caption(f"{v['answered']} of {v['joined']} have answered")
    if v["state"] == "open":
        with st.form("cls_predict_form"):
            val = st.slider(pr.label, min_value=pr.lo, max_value=pr.hi,
                            value=v["mine"] if v["mine"] is not None else pr.default,
                            step=pr.step, key="cls_predict_value")
            send = st.form_submit_button("Submit my prediction", type="primary",
                                         use_container_width=True)
        if send:
            try:
                svc.predict(device, val)
                v["mine"] = float(val)
            except ClassroomError as exc:
                st.error(str(exc))
    if v["mine"] is not None:
        st.success(f"Your prediction: **{v['mine']:g}{pr.unit}**")
    elif v["state"] != "open":
        st.info("Predictions are closed.")
    if "class_values" in v:
        ans = svc.answer(s)
        st.markdown("#### The reveal")
        st.info(ans.headline)
        fig = live.shared_figure(
            ans, ("reveal", tuple(v["class_values"]), v["mine"]),
            lambda: live.reveal_figure(v["class_values"], pr.lo, pr.hi, pr.unit, ans, v["mine"]))
        st.plotly_chart(fig, theme=None, key="cls_reveal_chart",
                        config={"displayModeBar": False, "responsive": True})
        st.markdown(core.escape_money(L.sections["What happened"]))
    elif v["state"] != "open":
        st.caption("Waiting for the teacher to reveal the answer…")


def _vote(v: dict, device: str) -> None:
    svc = live.service()
    team = v["team"]
    acts = game.repertoire(team["actor"])
    helps = {a.name: a.help for a in spec.ACTIONS}
    label = f"Your vote for {team['actor']} in {game.month_label(v['start'], v['month'])}"
    pick = st.radio(label, acts, key=f"cls_vote_pick_{v['month']}",
                    index=acts.index(v["my_vote"]) if v["my_vote"] in acts else 0,
                    captions=[helps.get(a, "") for a in acts])
    if st.button("Send my vote", type="primary", key="cls_vote_send",
                 use_container_width=True):
        try:
            svc.vote(device, team["id"], v["month"], pick)
            v["my_vote"] = pick
        except ClassroomError as exc:
            st.error(str(exc))
    if v["my_vote"]:
        st.success(f"Your vote: **{v['my_vote']}**")
    if v["team_votes"]:
        st.caption("Your team's votes: " + ", ".join(f"{a} ×{n}"
                                                     for a, n in v["team_votes"].items()))


def _game(v: dict, device: str) -> None:
    svc = live.service()
    svc.tick(v["code"])                        # the timer: any device's poll may advance
    s = svc.store.session(v["code"])
    team = v["team"]
    st.markdown(f"**{team['name']}** — you play **{team['actor']}** "
                f"({spec.ACTOR_NAMES[team['actor']]})" if team else "Waiting for a team…")
    done = v["month"] >= v["length"]
    st.progress(min(1.0, v["month"] / v["length"]),
                text=f"{v['month']} of {v['length']} months played")
    if v["left_s"] is not None and not done:
        st.caption(f"⏱ {v['left_s']:.0f} s left this month")
    moved = [t["actor"] for t in v["teams"] if v["moved"].get(t["id"])]
    st.caption("Teams with votes this month: " + (", ".join(moved) or "none yet"))
    if v["state"] == "open" and not v["paused"] and team:
        _vote(v, device)
    state = svc.game_state(s)
    focus = team["actor"] if team else None
    fig = live.shared_figure(state, ("network", focus),
                             lambda: live.network_figure(state, focus))
    st.plotly_chart(fig, theme=None, key="cls_game_net",
                    config={"displayModeBar": False, "responsive": True})
    if v["moves"]:
        last = max(m["month"] for m in v["moves"])
        st.markdown(f"**Moves in {game.month_label(v['start'], last)}**")
        st.dataframe(pd.DataFrame([{"actor": m["actor"],
                                    "move": m["action"] or "the model's rule",
                                    "by": m["by"]} for m in v["moves"]
                                   if m["month"] == last]), hide_index=True,
                     key="cls_game_moves")
    for n in v["news"][:4]:
        st.caption(n)


@st.fragment(run_every=live.POLL_S)
def follow(device: str) -> None:
    """The live part of the page: redrawn every POLL_S seconds from the store."""
    svc = live.service()
    try:
        v = svc.student_view(device)
    except ClassroomError as exc:
        st.error(str(exc))
        st.button("Join again", on_click=_leave, key="cls_rejoin")
        return
    st.markdown(f"**{v['title']}**  \nYou are **{v['name']}** · code `{v['code']}`")
    if v["paused"]:
        st.warning("The teacher has paused the session.")
    if v["state"] == "ended":
        st.info("The session has ended. Thank you!")
    for e in v["injects"]:
        st.warning(f"Breaking: {e.get('actor')} {e.get('action')} in {e.get('date')} "
                   f"(injected by the teacher)")
    if v["kind"] == "lesson":
        _lesson(v, device)
    else:
        _game(v, device)


#: On a phone the dashboard's navigation would cover the page: the student page hides it.
PHONE_CSS = ("<style>@media (max-width: 700px) {section[data-testid='stSidebar'],"
             "[data-testid='stSidebarCollapsedControl'],[data-testid='stExpandSidebarButton']"
             "{display:none !important}}</style>")


def render() -> None:
    st.set_page_config(initial_sidebar_state="collapsed")
    st.html(PHONE_CSS)
    st.title("Join the class")
    device = st.session_state.get(KEY) or st.query_params.get("me")
    if not device:
        join_form()
        return
    st.session_state[KEY] = device
    follow(device)
    st.button("Leave this session", on_click=_leave, key="cls_leave")
