"""The classroom's pure rules and its SQLite store."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from dashboard.classroom import rules
from dashboard.classroom.rules import ClassroomError, Team
from dashboard.classroom.store import Store, digest


# ------------------------------------------------------------------------------- rules
def test_codes_are_six_unambiguous_characters():
    code = rules.new_code()
    assert len(code) == 6
    assert not set(code) & set("0O1IL")
    assert rules.normalise_code(f" {code.lower()[:3]}-{code.lower()[3:]} ") == code
    for bad in ("", "ABC", "ABCDEFG", "ABCDE0", None, "ÄBCDEF"):
        with pytest.raises(ClassroomError, match="not a join code"):
            rules.normalise_code(bad)


@pytest.mark.parametrize(("raw", "why"), [
    ("", "type a name"), ("   ", "type a name"), ("x" * 25, "too long"),
    ("bad\x00name", "control"), ("new\nline", "control"), ("rtl\u202eflip", "control"),
    ("bell\x07", "control")])
def test_bad_names_are_refused(raw, why):
    with pytest.raises(ClassroomError, match=why):
        rules.clean_name(raw)


def test_names_are_tidied_and_keys_fold_case():
    assert rules.clean_name("  Ana   María ") == "Ana María"
    assert rules.name_key("ANA") == rules.name_key("ana") == rules.name_key("ａｎａ")


def test_code_lifetime_and_ended_sessions():
    rules.check_code_alive("open", 0.0, 10.0)
    with pytest.raises(ClassroomError, match="ended"):
        rules.check_code_alive("ended", 0.0, 10.0)
    with pytest.raises(ClassroomError, match="expired"):
        rules.check_code_alive("open", 0.0, rules.CODE_LIFETIME_S + 1)


@pytest.mark.parametrize("bad", [-1, 101, "nan", "inf", "abc", None, ""])
def test_predictions_outside_the_range_are_refused(bad):
    with pytest.raises(ClassroomError):
        rules.check_prediction(bad, 0, 100)


def test_prediction_in_range():
    assert rules.check_prediction("42.5", 0, 100) == 42.5
    assert rules.check_prediction(0, 0, 100) == 0.0


def test_tally_majority_and_tie_goes_to_the_first_cast():
    assert rules.tally([]) == (None, {})
    assert rules.tally([(1, "A"), (2, "B"), (3, "B")]) == ("B", {"A": 1, "B": 2})
    assert rules.tally([(1, "B"), (2, "A"), (3, "A"), (4, "B")])[0] == "B"


def test_resolve_majority_captain_and_model():
    t = Team(1, "T", "US")
    assert rules.resolve(t, [(1, "X"), (2, "Y"), (3, "Y")], "majority").action == "Y"
    assert rules.resolve(t, [(1, "X"), (2, "X")], "majority").by == "unanimous"
    cap = Team(1, "T", "US", captain=1)
    mv = rules.resolve(cap, [(1, "X"), (2, "Y"), (3, "Y")], "captain")
    assert (mv.action, mv.by) == ("X", "captain")
    # the captain did not vote: the majority decides
    assert rules.resolve(cap, [(2, "Y")], "captain").action == "Y"
    none = rules.resolve(t, [], "majority")
    assert (none.action, none.by) == (None, "model")


def test_team_ready():
    t = Team(1, "T", "US")
    assert not rules.team_ready(t, [], {}, "majority")
    assert not rules.team_ready(t, [1, 2], {1: "X"}, "majority")
    assert rules.team_ready(t, [1, 2], {1: "X", 2: "Y"}, "majority")
    assert rules.team_ready(Team(1, "T", "US", 2), [1, 2], {2: "Y"}, "captain")


def test_timeouts():
    assert not rules.timed_out(100.0, 0, 1e9, False)      # no timer
    assert not rules.timed_out(100.0, 60, 159.0, False)
    assert rules.timed_out(100.0, 60, 160.0, False)
    assert not rules.timed_out(100.0, 60, 1e9, True)       # paused


def _vote(**kw):
    args = {"team": Team(7, "T", "US"), "voted_team": 7, "month": 2, "current": 2,
            "state": "open", "paused": False, "action": "US_ENGAGE",
            "repertoire": ["US_HOLD", "US_ENGAGE"]}
    args.update(kw)
    return rules.check_vote(**args)


@pytest.mark.parametrize(("kw", "why"), [
    ({"team": None}, "not in a team"), ({"voted_team": 8}, "own team"),
    ({"month": 1}, "closed"), ({"state": "closed"}, "not open"), ({"state": "ended"}, "ended"),
    ({"paused": True}, "paused"), ({"action": "MIL_COOPERATE"}, "not a move"),
    ({"voted_team": "x"}, "names a team")])
def test_bad_votes(kw, why):
    assert _vote() == 2
    with pytest.raises(ClassroomError, match=why):
        _vote(**kw)


def test_team_checks_and_balancing():
    assert rules.check_teams(["US", "INDIA"], ["US", "INDIA"]) == ["US", "INDIA"]
    for bad in ([], ["US", "US"], ["MARS"], ["US"] * 6):
        with pytest.raises(ClassroomError):
            rules.check_teams(bad, ["US", "INDIA"])
    assert rules.smallest_team({3: 2, 1: 1, 2: 1}) == 1


def test_flood_limit():
    now = [0.0]
    fl = rules.FloodLimit(events=3, window=10, clock=lambda: now[0])
    for _ in range(3):
        fl.check("a")
    with pytest.raises(ClassroomError, match="too many"):
        fl.check("a")
    fl.check("b")                       # another device is not affected
    now[0] = 11.0
    fl.check("a")                       # the window has passed


# ------------------------------------------------------------------------------- store
def _session(store: Store, code: str = "ABCDEF") -> int:
    return store.create_session(code=code, teacher_token="secret", kind="game", ref="history",
                                title="t", config={"x": 1}, runs=5, seed=3, anonymous=False,
                                teams=[("A", "US"), ("B", "INDIA")])


def test_store_is_wal_and_survives_reopening(tmp_path):
    path = tmp_path / "c.db"
    s = Store(path)
    assert s.db().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s.db().execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    sid = _session(s)
    s.close()
    again = Store(path)                 # the schema is created only if missing
    row = again.session("ABCDEF")
    assert (row["id"], row["seed"], row["runs"]) == (sid, 3, 5)
    assert row["teacher_hash"] == digest("secret") != "secret"
    assert [t["actor"] for t in again.teams(sid)] == ["US", "INDIA"]


def test_store_lists_and_deletes_sessions(tmp_path):
    s = Store(tmp_path / "c.db")
    a, b = _session(s, "AAAAAA"), _session(s, "BBBBBB")
    assert {r["code"] for r in s.sessions()} == {"AAAAAA", "BBBBBB"}
    s.delete_session(a)
    assert [r["id"] for r in s.sessions()] == [b]
    assert s.teams(a) == []


def test_store_data_folder_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AFPAK_CLASSROOM_DIR", str(tmp_path / "here"))
    s = Store()
    assert s.path == tmp_path / "here" / "classroom.sqlite3"
    assert s.path.exists()


def test_a_failed_transaction_stores_nothing(tmp_path):
    s = Store(tmp_path / "c.db")
    sid = _session(s)
    def fail() -> None:
        with s.tx() as db:
            db.execute("INSERT INTO journal (session_id, at, text) VALUES (?, 0, 'x')", (sid,))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail()
    assert [r["text"] for r in s.journal(sid)] == ["session ABCDEF started (game: t)"]


def test_one_live_vote_per_student_and_month(tmp_path):
    s = Store(tmp_path / "c.db")
    sid = _session(s)
    with s.tx() as db:
        db.execute("INSERT INTO votes (session_id, team_id, participant_id, month, action, at) "
                   "VALUES (?, 1, 1, 0, 'A', 0)", (sid,))
    with pytest.raises(sqlite3.IntegrityError), s.tx() as db:
        db.execute("INSERT INTO votes (session_id, team_id, participant_id, month, action, at) "
                   "VALUES (?, 1, 1, 0, 'B', 0)", (sid,))


def test_one_connection_per_thread(tmp_path):
    s = Store(tmp_path / "c.db")
    sid = _session(s)
    seen, errors = [], []

    def work(i: int) -> None:
        try:
            with s.tx() as db:
                db.execute("INSERT INTO journal (session_id, at, text) VALUES (?, 0, ?)",
                           (sid, f"t{i}"))
            seen.append(id(s.db()))
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(s.journal(sid)) == 9


def test_join_url_and_qr_code():
    from dashboard.classroom import net

    url = net.join_url("192.168.1.20", 8501, "ABCDEF")
    assert url == "http://192.168.1.20:8501/join?code=ABCDEF"
    assert net.qr_png(url).startswith(b"\x89PNG")
    host = net.lan_address()
    assert host.count(".") == 3
