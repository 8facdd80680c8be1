"""The teacher's console (Classroom page, 'Live session' tab) and the student page (/join)
under Streamlit's AppTest, sharing one store on disk as two devices of one server would."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.classroom import live

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")


@pytest.fixture(autouse=True)
def store_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AFPAK_CLASSROOM_DIR", str(tmp_path))
    live.service.clear()
    yield tmp_path
    live.service.clear()


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [e.value for e in at.success]
                     + [e.value for e in at.info] + [e.value for e in at.caption]
                     + [e.value for e in at.warning])


def console() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["cls_tab"] = "Live session"
    at.session_state["cls_runs"] = 20
    at.run()
    at.switch_page("views/classroom.py").run()
    ok(at)
    return at


def student(code: str, name: str, joins: bool = True) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["code"] = code
    at.run()
    at.switch_page("views/join.py").run()
    ok(at)
    assert at.text_input(key="cls_join_code").value == code
    at.text_input(key="cls_join_name").input(name)
    button(at, "Join").click().run()
    ok(at)
    assert ("cls_device" in at.session_state) == joins
    return at


def test_a_lesson_from_start_to_reveal():
    t = console()
    button(t, "Start the session").click().run()
    ok(t)
    code = t.session_state["cls_live"]["code"]
    assert f"Join code: `{code}`" in text(t)
    assert "/join?code=" + code in text(t)
    a, b = student(code, "Ana"), student(code, "Ben")
    a.slider(key="cls_predict_value").set_value(30)
    button(a, "Submit my prediction").click().run()
    ok(a)
    assert not a.error, a.error[0].value
    assert "Your prediction: **30%**" in text(a)
    bad = student(code, "ana", joins=False)                                # a duplicate name
    assert "already called" in bad.error[0].value
    t.run()
    assert "2 joined · 1 answered" in text(t)
    t.button(key="cls_live_reveal").click().run()
    ok(t)
    assert t.get("plotly_chart")
    for s in (a, b):
        s.run()
        ok(s)
        assert "The reveal" in text(s)
        assert s.get("plotly_chart")
    assert "Predictions are closed" not in text(a)
    csv = next(d for d in t.get("download_button") if "CSV" in d.proto.label)
    assert csv is not None


def test_the_flood_limit_of_joins_is_per_device_not_per_class():
    # A class joins at once: each browser session has its own flood key. (It was the id of
    # st.session_state, one proxy for every session: the class shared one key and the third
    # join of a 2-per-window limit was refused as a flood.)
    from dashboard.classroom import rules

    svc = live.service()
    code, _ = svc.start_lesson("route_2011", runs=20)
    svc.flood = rules.FloodLimit(events=2, window=60)
    pages = [student(code, name) for name in ("Ana", "Ben", "Cem", "Dev")]
    keys = {p.session_state["cls_client"] for p in pages}
    assert len(keys) == 4
    assert len(svc.store.participants(svc.session(code)["id"])) == 4


def test_a_wrong_code_is_refused_on_the_device():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("views/join.py").run()
    at.text_input(key="cls_join_code").input("QQQQQQ")
    at.text_input(key="cls_join_name").input("Eve")
    button(at, "Join").click().run()
    ok(at)
    assert "no session has this code" in at.error[0].value
    assert "cls_device" not in at.session_state


def test_a_game_month_from_the_console():
    t = console()
    t.radio(key="cls_live_kind").set_value("a team game").run()
    t.multiselect(key="cls_live_actors").set_value(["PAK_MIL", "US"])
    t.slider(key="cls_live_len").set_value(2)
    button(t, "Start the session").click().run()
    ok(t)
    code = t.session_state["cls_live"]["code"]
    a, b = student(code, "Ana"), student(code, "Ben")
    assert "you play" in text(a)
    button(a, "Send my vote").click().run()
    ok(a)
    assert "Your vote:" in text(a)
    t.run()
    t.button(key="cls_live_advance").click().run()
    ok(t)
    assert "month 1 of 2" in text(t)
    for s in (a, b):
        s.run()
        ok(s)
        assert "1 of 2 months played" in str([p.proto for p in s.get("progress")])
    t.button(key="cls_live_undo").click().run()
    ok(t)
    assert "month 0 of 2" in text(t)
