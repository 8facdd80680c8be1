"""What a student's device and the teacher's console may do: each call checks its input with
``rules``, then writes it to the ``store`` in one transaction. A refused call raises
``ClassroomError`` (its message is for the device that sent it) and stores nothing.

Teacher calls need the session's teacher token (only its hash is stored); student calls need the
device token handed out at join (only its hash is stored). Every device reads the same session
through ``student_view``: its own answers, the class's aggregate, never another student's answer.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Callable

from dashboard import lessons
from dashboard.classroom import game, rules
from dashboard.classroom.rules import ClassroomError
from dashboard.classroom.store import Store, digest
from model.core import spec
from model.inputs.scenario import month_label
from model.io.errors import ModelInputError

LESSON_RUNS = 100


class Classroom:
    """The classroom service over one store (thread-safe; one per server process)."""

    def __init__(self, store: Store | None = None, clock: Callable[[], float] = time.time,
                 flood: rules.FloodLimit | None = None) -> None:
        self.store = store or Store()
        self.clock = clock
        self.flood = flood or rules.FloodLimit()
        self.lessons = lessons.load_lessons()
        self._flood_lock = threading.Lock()

    # ================================================================= starting a session
    def _new_code(self) -> str:
        for _ in range(50):
            code = rules.new_code()
            if self.store.session(code) is None:
                return code
        raise ClassroomError("could not find a free join code")  # pragma: no cover

    def start_lesson(self, lesson_id: str, *, runs: int = LESSON_RUNS, seed: int = 0,
                     anonymous: bool = False) -> tuple[str, str]:
        """A lesson session with predictions open: (join code, teacher token)."""
        if lesson_id not in self.lessons:
            raise ClassroomError(f"unknown lesson {lesson_id!r}")
        code, token = self._new_code(), rules.new_token()
        self.store.create_session(code=code, teacher_token=token, kind="lesson", ref=lesson_id,
                                  title=self.lessons[lesson_id].title, config={}, runs=runs,
                                  seed=seed, anonymous=anonymous, now=self.clock())
        return code, token

    def start_game(self, actors: list[str], *, start: str = game.DEFAULT_START,
                   length: int = game.DEFAULT_LENGTH, mode: str = "majority",
                   timer_s: float = 0, runs: int = game.DEFAULT_RUNS, seed: int = 0,
                   anonymous: bool = False) -> tuple[str, str]:
        """A team game (one team per actor in ``actors``): (join code, teacher token)."""
        actors = rules.check_teams(actors, spec.ACTORS)
        if mode not in rules.MODES:
            raise ClassroomError(f"mode must be one of {rules.MODES}")
        if not 1 <= int(length) <= game.MAX_LENGTH:
            raise ClassroomError(f"a game lasts 1 to {game.MAX_LENGTH} months")
        try:
            game.window(start, int(length))
        except (ValueError, ModelInputError) as exc:
            raise ClassroomError(str(exc)) from None
        code, token = self._new_code(), rules.new_token()
        config = {"start": start, "length": int(length), "mode": mode,
                  "timer_s": float(timer_s)}
        teams = [(f"Team {spec.ACTOR_NAMES[a]}", a) for a in actors]
        self.store.create_session(code=code, teacher_token=token, kind="game", ref=game.SCENARIO,
                                  title=f"Game from {start}, {length} months: "
                                        + ", ".join(actors),
                                  config=config, runs=runs, seed=seed, anonymous=anonymous,
                                  teams=teams, now=self.clock())
        return code, token

    # ================================================================= looking things up
    def session(self, code: str):
        row = self.store.session(rules.normalise_code(code))
        if row is None:
            raise ClassroomError("no session has this code; check it on the teacher's screen")
        return row

    def teacher(self, code: str, token: str):
        """The session, if ``token`` is its teacher token; ClassroomError otherwise."""
        row = self.session(code)
        if not token or not hmac.compare_digest(digest(str(token)), row["teacher_hash"]):
            raise ClassroomError("only the teacher's console can do this (the teacher token "
                                 "does not match)")
        return row

    def me(self, device: str):
        """(participant, session) of a device token; ClassroomError if unknown."""
        p = self.store.participant(str(device or "")) if device else None
        if p is None:
            raise ClassroomError("this device has not joined a session; join with the code")
        return p, self.store.session_by_id(p["session_id"])

    def _throttle(self, key: str) -> None:
        with self._flood_lock:
            self.flood.check(key)

    # ================================================================= students
    def join(self, code: str, name: str = "", client: str = "") -> str:
        """Join a session; returns the device token (keep it to come back after a refresh)."""
        self._throttle(f"join:{client}")
        row = self.session(code)
        rules.check_code_alive(row["state"], row["created"], self.clock())
        device = rules.new_token()
        with self.store.tx() as db:
            n = db.execute("SELECT COUNT(*) FROM participants WHERE session_id = ?",
                           (row["id"],)).fetchone()[0]
            if n >= rules.MAX_PARTICIPANTS:
                raise ClassroomError("this session is full")
            if row["anonymous"] and not str(name or "").strip():
                name = f"Student {n + 1}"
            clean = rules.clean_name(name)
            key = rules.name_key(clean)
            if db.execute("SELECT 1 FROM participants WHERE session_id = ? AND name_key = ?",
                          (row["id"], key)).fetchone():
                raise ClassroomError(f"someone in this session is already called {clean!r}; "
                                     "choose another name")
            team = None
            if row["kind"] == "game":
                sizes = {t["id"]: t["n"] for t in db.execute(
                    "SELECT t.id, (SELECT COUNT(*) FROM participants p WHERE p.team_id = t.id) "
                    "AS n FROM teams t WHERE t.session_id = ?", (row["id"],))}
                team = rules.smallest_team(sizes)
            db.execute("INSERT INTO participants (session_id, name, name_key, device_hash, "
                       "team_id, joined) VALUES (?,?,?,?,?,?)",
                       (row["id"], clean, key, digest(device), team, self.clock()))
            self.store.update_session(db, row["id"])
        return device

    def predict(self, device: str, value: object) -> float:
        self._throttle(f"dev:{device}")
        p, s = self.me(device)
        if s["kind"] != "lesson":
            raise ClassroomError("this session has no prediction to make")
        if s["state"] != "open":
            raise ClassroomError("predictions are closed" if s["state"] != "ended"
                                 else "the session has ended")
        pr = self.lessons[s["ref"]].prediction
        v = rules.check_prediction(value, pr.lo, pr.hi)
        with self.store.tx() as db:
            state = db.execute("SELECT state FROM sessions WHERE id = ?", (s["id"],)).fetchone()
            if state[0] != "open":
                raise ClassroomError("predictions are closed")
            db.execute("INSERT INTO predictions (session_id, participant_id, value, at) "
                       "VALUES (?,?,?,?) ON CONFLICT (session_id, participant_id) "
                       "DO UPDATE SET value = excluded.value, at = excluded.at",
                       (s["id"], p["id"], v, self.clock()))
            self.store.update_session(db, s["id"])
        return v

    def _team(self, sid: int, team_id: int | None) -> rules.Team | None:
        for t in self.store.teams(sid):
            if t["id"] == team_id:
                return rules.Team(t["id"], t["name"], t["actor"], t["captain_id"])
        return None

    def vote(self, device: str, team_id: object, month: object, action: str) -> None:
        """A student's vote for their team's move in the current month (a new vote replaces
        their earlier one in the same month)."""
        self._throttle(f"dev:{device}")
        p, s = self.me(device)
        if s["kind"] != "game":
            raise ClassroomError("this session is not a game")
        team = self._team(s["id"], p["team_id"])
        with self.store.tx() as db:
            s = db.execute("SELECT * FROM sessions WHERE id = ?", (s["id"],)).fetchone()
            m = rules.check_vote(team=team, voted_team=team_id, month=month,
                                 current=s["month"], state=s["state"], paused=bool(s["paused"]),
                                 action=action,
                                 repertoire=game.repertoire(team.actor) if team else [])
            db.execute("INSERT INTO votes (session_id, team_id, participant_id, month, action, "
                       "at) VALUES (?,?,?,?,?,?) ON CONFLICT (session_id, participant_id, month)"
                       " WHERE undone = 0 DO UPDATE SET action = excluded.action, "
                       "at = excluded.at", (s["id"], team.id, p["id"], m, action, self.clock()))
            self.store.update_session(db, s["id"])
        self.tick(s["code"])

    # ================================================================= game turns
    def _members(self, sid: int) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for p in self.store.participants(sid):
            if p["team_id"] is not None:
                out.setdefault(p["team_id"], []).append(p["id"])
        return out

    def _ready(self, s) -> bool:
        cfg = json.loads(s["config"])
        members = self._members(s["id"])
        votes: dict[int, dict[int, str]] = {}
        for v in self.store.votes(s["id"], s["month"]):
            votes.setdefault(v["team_id"], {})[v["participant_id"]] = v["action"]
        teams = [rules.Team(t["id"], t["name"], t["actor"], t["captain_id"])
                 for t in self.store.teams(s["id"])]
        return all(rules.team_ready(t, members.get(t.id, []), votes.get(t.id, {}), cfg["mode"])
                   for t in teams)

    def _warm(self, sid: int) -> None:
        """Start computing a game's new state at once, so that the devices' next polls find it
        ready (one engine run; the devices that ask meanwhile wait for the same run)."""
        s = self.store.session_by_id(sid)
        if s is not None and s["kind"] == "game":
            threading.Thread(target=self._warm_now, args=(sid,), daemon=True).start()

    def _warm_now(self, sid: int) -> None:
        try:
            self.game_state(self.store.session_by_id(sid))
        finally:
            self.store.close()

    def tick(self, code: str) -> bool:
        """Advance a game's month when every team has moved or the timer ran out (any device's
        poll calls this; only one advance happens). True when it advanced."""
        s = self.session(code)
        if s["kind"] != "game" or s["state"] != "open" or s["paused"]:
            return False
        cfg = json.loads(s["config"])
        due = rules.timed_out(s["month_opened"], cfg["timer_s"], self.clock(),
                              bool(s["paused"])) or self._ready(s)
        if due and self._advance(s["id"], s["month"]) is not None:
            self._warm(s["id"])
            return True
        return False

    def _advance(self, sid: int, expected: int) -> list[rules.Move] | None:
        """Close month ``expected``: each team's move from its votes (the model plays a team
        that did not vote), then open the next month. None if another call advanced first."""
        with self.store.tx() as db:
            s = db.execute("SELECT * FROM sessions WHERE id = ?", (sid,)).fetchone()
            if s["month"] != expected or s["state"] != "open":
                return None
            cfg = json.loads(s["config"])
            moves = []
            for t in db.execute("SELECT * FROM teams WHERE session_id = ? ORDER BY idx", (sid,)):
                team = rules.Team(t["id"], t["name"], t["actor"], t["captain_id"])
                votes = [(v["participant_id"], v["action"]) for v in db.execute(
                    "SELECT participant_id, action FROM votes WHERE session_id = ? AND "
                    "team_id = ? AND month = ? AND undone = 0 ORDER BY at, id",
                    (sid, t["id"], expected))]
                mv = rules.resolve(team, votes, cfg["mode"])
                moves.append(mv)
                db.execute("INSERT INTO moves (session_id, team_id, actor, month, action, by, "
                           "counts, at) VALUES (?,?,?,?,?,?,?,?)",
                           (sid, mv.team, mv.actor, expected, mv.action, mv.by,
                            json.dumps(mv.counts), self.clock()))
                label = month_label(cfg["start"], expected)
                self.store.note(db, sid, (
                    f"{label}: {team.name} chose {mv.action} ({mv.by}, {sum(mv.counts.values())}"
                    " vote(s))" if mv.action else
                    f"{label}: {team.name} did not move in time; the model played "
                    f"{team.actor}'s own rule"))
            nxt = expected + 1
            self.store.update_session(db, sid, month=nxt, month_opened=self.clock(),
                                      state="closed" if nxt >= cfg["length"] else "open")
        return moves

    # ================================================================= the teacher
    def set_state(self, code: str, token: str, state: str) -> None:
        """Open or close predictions, or reveal the answer (lessons)."""
        s = self.teacher(code, token)
        if state not in ("open", "closed", "revealed"):
            raise ClassroomError(f"unknown state {state!r}")
        if s["state"] == "ended":
            raise ClassroomError("the session has ended (read-only)")
        with self.store.tx() as db:
            self.store.update_session(db, s["id"], state=state)
            self.store.note(db, s["id"], f"teacher: {state}")

    def pause(self, code: str, token: str, paused: bool) -> None:
        s = self.teacher(code, token)
        with self.store.tx() as db:
            fields: dict = {"paused": int(paused)}
            if s["month_opened"] is not None and bool(paused) != bool(s["paused"]):
                # while paused, month_opened holds the time already spent: the timer resumes
                # where it stopped
                fields["month_opened"] = self.clock() - s["month_opened"]
            self.store.update_session(db, s["id"], **fields)
            self.store.note(db, s["id"], "teacher: paused" if paused else "teacher: resumed")

    def advance(self, code: str, token: str) -> list[rules.Move]:
        s = self.teacher(code, token)
        if s["kind"] != "game" or s["state"] != "open":
            raise ClassroomError("there is no open month to advance")
        moves = self._advance(s["id"], s["month"])
        if moves is None:
            raise ClassroomError("the month has just advanced; look again")
        self._warm(s["id"])
        return moves

    def undo(self, code: str, token: str) -> None:
        """Take back the last month: its moves and votes are kept (marked undone), the month
        opens again."""
        s = self.teacher(code, token)
        if s["kind"] != "game" or s["month"] == 0:
            raise ClassroomError("there is no month to undo")
        if s["state"] == "ended":
            raise ClassroomError("the session has ended (read-only)")
        k = s["month"] - 1
        with self.store.tx() as db:
            db.execute("UPDATE moves SET undone = 1 WHERE session_id = ? AND month = ?",
                       (s["id"], k))
            db.execute("UPDATE votes SET undone = 1 WHERE session_id = ? AND month >= ?",
                       (s["id"], k))
            self.store.update_session(db, s["id"], month=k, state="open",
                                      month_opened=self.clock())
            self.store.note(db, s["id"], f"teacher: undid month "
                            f"{month_label(json.loads(s['config'])['start'], k)}")
        self._warm(s["id"])

    def inject(self, code: str, token: str, event: dict) -> None:
        """Add an event to the session's world (every device sees it; the answers change)."""
        s = self.teacher(code, token)
        if s["state"] == "ended":
            raise ClassroomError("the session has ended (read-only)")
        injects = [*self.store.injects(s["id"]), dict(event)]
        try:
            if s["kind"] == "lesson":
                lessons.scenario_texts(self.lessons[s["ref"]], tuple(injects))
            else:
                cfg = json.loads(s["config"])
                game.game_text(cfg["start"], cfg["length"], (), injects)
        except ModelInputError as exc:
            raise ClassroomError(f"this event cannot be injected: {exc}") from None
        with self.store.tx() as db:
            db.execute("INSERT INTO injects (session_id, event, at) VALUES (?,?,?)",
                       (s["id"], json.dumps(event), self.clock()))
            self.store.update_session(db, s["id"])
            self.store.note(db, s["id"], f"teacher injected: {event.get('actor')} "
                            f"{event.get('action')} in {event.get('date')}")
        self._warm(s["id"])

    def end(self, code: str, token: str) -> None:
        s = self.teacher(code, token)
        with self.store.tx() as db:
            self.store.update_session(db, s["id"], state="ended", ended=self.clock())
            self.store.note(db, s["id"], "teacher: session ended")

    def assign(self, code: str, token: str, participant_id: int, team_id: int,
               captain: bool = False) -> None:
        """Move a student to a team (and make them its captain)."""
        s = self.teacher(code, token)
        if self._team(s["id"], team_id) is None:
            raise ClassroomError("no such team in this session")
        with self.store.tx() as db:
            if db.execute("UPDATE participants SET team_id = ? WHERE id = ? AND session_id = ?",
                          (team_id, participant_id, s["id"])).rowcount != 1:
                raise ClassroomError("no such student in this session")
            db.execute("UPDATE teams SET captain_id = NULL WHERE captain_id = ?",
                       (participant_id,))
            if captain:
                db.execute("UPDATE teams SET captain_id = ? WHERE id = ?",
                           (participant_id, team_id))
            self.store.update_session(db, s["id"])

    def delete(self, code: str, token: str) -> None:
        self.store.delete_session(self.teacher(code, token)["id"])

    # ================================================================= views
    def _answer_job(self, s) -> tuple[tuple, Callable[[], lessons.Answer]]:
        injects = tuple(self.store.injects(s["id"]))
        key = ("lesson", s["ref"], s["runs"], s["seed"], json.dumps(injects, sort_keys=True))
        return key, lambda: lessons.answer(self.lessons[s["ref"]], s["runs"], s["seed"],
                                           injects)

    def answer(self, s) -> lessons.Answer:
        """The model's answer to a lesson session (one computation for every device)."""
        return game.cached(*self._answer_job(s))

    def prefetch(self, s) -> bool:
        """Start computing a lesson's answer in the background while predictions are open or
        closed (and again after an inject), so that the reveal shows at once on every device
        instead of making them all wait for the ensembles. True when a computation started."""
        if s["kind"] != "lesson" or s["state"] not in ("open", "closed"):
            return False
        return game.prefetch(*self._answer_job(s))

    def moves(self, s) -> list[tuple[int, str, str | None]]:
        return [(m["month"], m["actor"], m["action"]) for m in self.store.moves(s["id"])]

    def game_state(self, s, month: int | None = None) -> game.State:
        cfg = json.loads(s["config"])
        return game.state(s["id"], s["month"] if month is None else month, cfg["start"],
                          cfg["length"], self.moves(s), self.store.injects(s["id"]), s["runs"],
                          s["seed"])

    def student_view(self, device: str) -> dict:
        """Everything a student's device shows: the session, their own answers and the class's
        aggregates (other students' answers only as anonymous values after the reveal)."""
        p, s = self.me(device)
        sid = s["id"]
        view = {"code": s["code"], "kind": s["kind"], "title": s["title"], "state": s["state"],
                "paused": bool(s["paused"]), "version": s["version"], "name": p["name"],
                "participant": p["id"], "injects": self.store.injects(sid),
                "joined": len(self.store.participants(sid))}
        if s["kind"] == "lesson":
            preds = self.store.predictions(sid)
            view["mine"] = next((r["value"] for r in preds if r["participant_id"] == p["id"]),
                                None)
            view["answered"] = len(preds)
            if s["state"] == "revealed" or (s["state"] == "ended" and preds):
                view["class_values"] = sorted(r["value"] for r in preds)
            return view
        cfg = json.loads(s["config"])
        teams = self.store.teams(sid)
        mine = next((t for t in teams if t["id"] == p["team_id"]), None)
        votes = self.store.votes(sid, s["month"])
        view.update(month=s["month"], length=cfg["length"], start=cfg["start"],
                    mode=cfg["mode"], timer_s=cfg["timer_s"],
                    left_s=max(0.0, cfg["timer_s"] - (self.clock() - s["month_opened"]))
                    if cfg["timer_s"] and not s["paused"] else None,
                    team=dict(mine) if mine else None,
                    teams=[dict(t) for t in teams],
                    moved={t["id"]: any(v["team_id"] == t["id"] for v in votes) for t in teams},
                    my_vote=next((v["action"] for v in votes if v["participant_id"] == p["id"]),
                                 None),
                    team_votes={a: sum(1 for v in votes if v["team_id"] == p["team_id"]
                                       and v["action"] == a)
                                for a in {v["action"] for v in votes
                                          if v["team_id"] == p["team_id"]}},
                    moves=[dict(m) for m in self.store.moves(sid)],
                    news=[r["text"] for r in self.store.journal(sid, 6)])
        return view

    def teacher_view(self, code: str, token: str) -> dict:
        """Everything the console shows, names and answers included."""
        s = self.teacher(code, token)
        sid = s["id"]
        preds = {r["participant_id"]: r["value"] for r in self.store.predictions(sid)}
        votes = self.store.votes(sid, s["month"]) if s["kind"] == "game" else []
        people = [{"id": p["id"], "name": p["name"], "team": p["team_id"],
                   "prediction": preds.get(p["id"]),
                   "voted": next((v["action"] for v in votes if v["participant_id"] == p["id"]),
                                 None)}
                  for p in self.store.participants(sid)]
        return {"session": dict(s), "config": json.loads(s["config"]), "people": people,
                "teams": [dict(t) for t in self.store.teams(sid)],
                "moves": [dict(m) for m in self.store.moves(sid)],
                "injects": self.store.injects(sid),
                "journal": [(r["at"], r["text"]) for r in self.store.journal(sid)]}
