"""The classroom service: sessions, joins, predictions, team votes, turns, timeouts, undo, the
teacher token, abuse, and a restart that resumes exactly (state derived from the store)."""

from __future__ import annotations

import time

import pytest

from dashboard.classroom import game, rules
from dashboard.classroom.rules import ClassroomError
from dashboard.classroom.service import Classroom
from dashboard.classroom.store import Store

RUNS = 8


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def cls(tmp_path, clock):
    return Classroom(Store(tmp_path / "c.db"), clock=clock)


def counts(c: Classroom) -> dict[str, int]:
    db = c.store.db()
    return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("sessions", "participants", "predictions", "votes", "moves", "injects")}


# ----------------------------------------------------------------------------- lessons
def test_lesson_join_predict_reveal(cls):
    code, tok = cls.start_lesson("route_2011", runs=RUNS)
    a = cls.join(code, "Ana", client="1")
    b = cls.join(code.lower(), "Ben", client="2")
    cls.predict(a, 30)
    cls.predict(a, 35)                                  # a new prediction replaces the old
    cls.predict(b, 80)
    v = cls.student_view(a)
    assert (v["mine"], v["answered"]) == (35, 2)
    assert "class_values" not in v                      # nothing of others before the reveal
    cls.set_state(code, tok, "closed")
    with pytest.raises(ClassroomError, match="closed"):
        cls.predict(b, 10)
    cls.set_state(code, tok, "revealed")
    v = cls.student_view(b)
    assert (v["class_values"], v["mine"]) == ([35, 80], 80)
    assert "Ana" not in str(v)                          # no names of other students
    ans = cls.answer(cls.session(code))
    assert len(ans.distribution()) or ans.share is not None
    tv = cls.teacher_view(code, tok)
    assert {p["name"]: p["prediction"] for p in tv["people"]} == {"Ana": 35, "Ben": 80}


def test_refused_inputs_store_nothing(cls):
    code, _tok = cls.start_lesson("route_2011", runs=RUNS)
    a = cls.join(code, "Ana", client="1")
    cls.predict(a, 50)
    before = counts(cls)
    for call, why in [
        (lambda: cls.join("ZZZZZZ", "Eve"), "no session"),
        (lambda: cls.join("nonsense!", "Eve"), "not a join code"),
        (lambda: cls.join(code, "ana"), "already called"),
        (lambda: cls.join(code, "x" * 200), "too long"),
        (lambda: cls.join(code, "a\x1bb"), "control"),
        (lambda: cls.predict(a, 101), "between"),
        (lambda: cls.predict(a, "NaN"), "between"),
        (lambda: cls.predict("forged-device", 10), "not joined"),
        (lambda: cls.set_state(code, "wrong", "revealed"), "only the teacher"),
        (lambda: cls.set_state(code, "", "revealed"), "only the teacher"),
        (lambda: cls.end(code, None), "only the teacher"),
        (lambda: cls.teacher_view(code, "guess"), "only the teacher"),
        (lambda: cls.inject(code, "guess", {}), "only the teacher"),
        (lambda: cls.delete(code, "guess"), "only the teacher"),
    ]:
        with pytest.raises(ClassroomError, match=why):
            call()
    assert counts(cls) == before
    assert cls.student_view(a)["mine"] == 50
    assert cls.session(code)["state"] == "open"


def test_expired_and_ended_codes(cls, clock):
    code, _tok = cls.start_lesson("route_2011", runs=RUNS)
    clock.t += rules.CODE_LIFETIME_S + 1
    with pytest.raises(ClassroomError, match="expired"):
        cls.join(code, "Late")
    code2, tok2 = cls.start_lesson("route_2011", runs=RUNS)
    cls.end(code2, tok2)
    with pytest.raises(ClassroomError, match="ended"):
        cls.join(code2, "Late")


def test_flood_from_one_device_is_cut(cls):
    code, _ = cls.start_lesson("route_2011", runs=RUNS)
    a = cls.join(code, "Ana", client="1")
    b = cls.join(code, "Ben", client="2")
    for i in range(rules.FLOOD_EVENTS):
        cls.predict(a, i)
    with pytest.raises(ClassroomError, match="too many"):
        cls.predict(a, 99)
    cls.predict(b, 7)                                  # others are not affected
    assert cls.student_view(a)["mine"] == rules.FLOOD_EVENTS - 1


def test_anonymous_sessions_name_students(cls):
    code, _ = cls.start_lesson("route_2011", runs=RUNS, anonymous=True)
    a = cls.join(code, "", client="1")
    assert cls.student_view(a)["name"] == "Student 1"


def test_inject_reaches_devices_and_changes_the_answer(cls):
    code, tok = cls.start_lesson("route_2011", runs=RUNS)
    a = cls.join(code, "Ana")
    before = cls.answer(cls.session(code)).headline
    # A strike that kills soldiers (M3: the army retaliates for its soldiers killed).
    ev = {"id": "teacher_1_us_strike", "date": "2011-08", "actor": "US",
          "action": "US_STRIKE", "severity": 3.0, "target": "PAK_MIL",
          "effects": {"sovereignty_grievance": {"add": 26.0}}}
    cls.inject(code, tok, ev)
    assert cls.student_view(a)["injects"] == [ev]
    assert cls.answer(cls.session(code)).headline != before
    with pytest.raises(ClassroomError, match="cannot be injected"):
        cls.inject(code, tok, {"id": "x", "date": "1800-01", "actor": "US",
                               "action": "US_STRIKE"})
    assert len(cls.student_view(a)["injects"]) == 1


# ------------------------------------------------------------------------------- games
def _game(cls, **kw):
    kw = {"length": 3, "runs": RUNS, **kw}
    code, tok = cls.start_game(["PAK_MIL", "US"], **kw)
    devs = [cls.join(code, f"s{i}", client=str(i)) for i in range(4)]
    return code, tok, devs


def _team_vote(cls, dev, pick=1):
    v = cls.student_view(dev)
    action = game.repertoire(v["team"]["actor"])[pick]
    cls.vote(dev, v["team"]["id"], v["month"], action)
    return action


def test_teams_are_balanced_and_all_votes_advance(cls):
    code, _tok, devs = _game(cls)
    teams = [cls.student_view(d)["team"]["actor"] for d in devs]
    assert sorted(teams) == ["PAK_MIL", "PAK_MIL", "US", "US"]
    for d in devs[:-1]:
        _team_vote(cls, d)
    assert cls.session(code)["month"] == 0              # one student has not voted
    _team_vote(cls, devs[-1])
    s = cls.session(code)
    assert s["month"] == 1
    moves = cls.store.moves(s["id"])
    assert {m["actor"]: m["by"] for m in moves} == {"PAK_MIL": "unanimous", "US": "unanimous"}
    # the month has closed: a late vote for it is refused, nothing stored
    v = cls.student_view(devs[0])
    with pytest.raises(ClassroomError, match="closed"):
        cls.vote(devs[0], v["team"]["id"], 0, game.repertoire(v["team"]["actor"])[0])
    other = next(t["id"] for t in v["teams"] if t["id"] != v["team"]["id"])
    with pytest.raises(ClassroomError, match="own team"):
        cls.vote(devs[0], other, 1, game.repertoire(v["team"]["actor"])[0])
    with pytest.raises(ClassroomError, match="not a move"):
        cls.vote(devs[0], v["team"]["id"], 1, "IND_HOLD")
    assert len(cls.store.votes(s["id"], 1)) == 0


def test_timer_lets_the_model_play_a_silent_team(cls, clock):
    code, _tok, devs = _game(cls, timer_s=60)
    pak = [d for d in devs if cls.student_view(d)["team"]["actor"] == "PAK_MIL"]
    _team_vote(cls, pak[0], 2)
    assert not cls.tick(code)
    clock.t += 61
    assert cls.tick(code)
    assert not cls.tick(code)                           # only one advance per month
    s = cls.session(code)
    moves = {m["actor"]: (m["action"], m["by"]) for m in cls.store.moves(s["id"])}
    assert moves["US"] == (None, "model")
    assert moves["PAK_MIL"][1] == "unanimous"
    assert any("did not move in time; the model played US" in n
               for n in cls.student_view(devs[0])["news"])
    st = cls.game_state(s)
    assert (st.last["US"][2], st.last["PAK_MIL"][2]) == ("model", "team")
    assert st.last["PAK_MIL"][0] == moves["PAK_MIL"][0]


def test_pause_stops_votes_and_the_timer(cls, clock):
    code, tok, devs = _game(cls, timer_s=60)
    clock.t += 30
    cls.pause(code, tok, True)
    with pytest.raises(ClassroomError, match="paused"):
        _team_vote(cls, devs[0])
    clock.t += 1000
    assert not cls.tick(code)
    cls.pause(code, tok, False)
    clock.t += 29
    assert not cls.tick(code)
    clock.t += 2
    assert cls.tick(code)


def test_captain_decides(cls):
    code, tok, devs = _game(cls, mode="captain")
    s = cls.session(code)
    v = cls.student_view(devs[0])
    cls.assign(code, tok, v["participant"], v["team"]["id"], captain=True)
    mate = next(d for d in devs[1:] if cls.student_view(d)["team"]["id"] == v["team"]["id"])
    _team_vote(cls, mate, 2)
    _team_vote(cls, devs[0], 1)
    cls.advance(code, tok)
    mv = next(m for m in cls.store.moves(s["id"]) if m["team_id"] == v["team"]["id"])
    assert (mv["action"], mv["by"]) == (game.repertoire(v["team"]["actor"])[1], "captain")


def test_undo_reopens_the_month_and_keeps_the_record(cls):
    code, tok, devs = _game(cls)
    for d in devs:
        _team_vote(cls, d)
    sid = cls.session(code)["id"]
    assert cls.session(code)["month"] == 1
    cls.undo(code, tok)
    s = cls.session(code)
    assert (s["month"], s["state"]) == (0, "open")
    assert cls.store.moves(sid) == []
    assert len(cls.store.moves(sid, undone=True)) == 2     # archived, not deleted
    assert cls.student_view(devs[0])["my_vote"] is None
    _team_vote(cls, devs[0], 2)                             # the month can be played again
    with pytest.raises(ClassroomError, match="no month"):
        cls.undo(code, tok)


def test_game_ends_after_its_length_and_the_teacher_can_end(cls):
    code, tok, devs = _game(cls, length=2)
    cls.advance(code, tok)
    cls.advance(code, tok)
    assert cls.session(code)["state"] == "closed"
    with pytest.raises(ClassroomError, match="no open month"):
        cls.advance(code, tok)
    cls.end(code, tok)
    with pytest.raises(ClassroomError, match="ended"):
        _team_vote(cls, devs[0])


def test_restart_resumes_exactly(tmp_path, clock):
    path = tmp_path / "c.db"
    one = Classroom(Store(path), clock=clock)
    code, tok, devs = _game(one)
    for d in devs:
        _team_vote(one, d, 1)
    s1 = one.session(code)
    st1 = one.game_state(s1)
    game._cache.clear()                                    # a new process: nothing cached
    two = Classroom(Store(path), clock=clock)
    s2 = two.session(code)
    assert s2["month"] == 1
    st2 = two.game_state(s2)
    assert st2.last == st1.last
    assert (st2.trust == st1.trust).all()
    assert st2.route_open == st1.route_open
    assert two.student_view(devs[0])["name"] == "s0"        # the device token still works
    assert two.teacher_view(code, tok)["session"]["code"] == code


def test_one_engine_run_per_month_for_every_device(cls):
    code, _tok, devs = _game(cls)
    for d in devs:
        _team_vote(cls, d)
    before = game.engine_runs
    s = cls.session(code)
    states = [cls.game_state(cls.session(code)) for _ in devs]
    assert game.engine_runs - before <= 1
    assert all(x is states[0] for x in states)
    assert s["month"] == 1


def test_the_answer_is_prefetched_once_before_the_reveal(cls):
    code, tok = cls.start_lesson("route_2011", runs=RUNS, seed=3)
    s = cls.session(code)
    started = cls.prefetch(s)
    again = cls.prefetch(s)                              # computing or cached: not twice
    key, _ = cls._answer_job(s)
    for _ in range(600):                                 # the background computation ends
        if key in game._cache:
            break
        time.sleep(0.1)
    assert (started, again) == (True, False)
    assert key in game._cache
    assert cls.answer(s) is game._cache[key]            # the reveal reads the same answer
    cls.set_state(code, tok, "revealed")
    assert cls.prefetch(cls.session(code)) is False      # nothing to prefetch after it


def test_devices_share_one_figure_per_state_and_focus():
    from dashboard.classroom import live

    built = []

    def build(tag):
        def make():
            built.append(tag)
            return object()
        return make

    a, b = object(), object()                            # two cached states
    f1 = live.shared_figure(a, ("network", "US"), build("a-US"))
    f2 = live.shared_figure(a, ("network", "US"), build("again"))
    f3 = live.shared_figure(a, ("network", "INDIA"), build("a-INDIA"))
    f4 = live.shared_figure(b, ("network", "US"), build("b-US"))
    assert f1 is f2
    assert f1 is not f3
    assert f1 is not f4
    assert built == ["a-US", "a-INDIA", "b-US"]
