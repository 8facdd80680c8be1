"""The classroom's store: one SQLite file (WAL mode, busy timeout), one connection per thread.

Holds sessions (join code, the teacher token's hash, lesson or game, state, the game's seed and
ensemble size), participants (display name unique per session, a device token's hash, team),
predictions, teams, votes, moves, injected events and a journal of what happened. Everything a
device or the console shows is read from here, so a server restart, a reconnect or a refresh
resumes where the session was. Nothing in this module decides what is allowed: see ``rules``.

The data folder is ``out/classroom/`` unless ``AFPAK_CLASSROOM_DIR`` names another.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from model.io.paths import ROOT

ENV_DIR = "AFPAK_CLASSROOM_DIR"
DB_NAME = "classroom.sqlite3"
BUSY_MS = 10_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, teacher_hash TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('lesson', 'game')), ref TEXT NOT NULL,
    title TEXT NOT NULL, config TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'open'
        CHECK (state IN ('open', 'closed', 'revealed', 'ended')),
    paused INTEGER NOT NULL DEFAULT 0, anonymous INTEGER NOT NULL DEFAULT 0,
    runs INTEGER NOT NULL, seed INTEGER NOT NULL,
    month INTEGER NOT NULL DEFAULT 0, month_opened REAL,
    version INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, ended REAL);
CREATE TABLE IF NOT EXISTS participants (
    id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions ON DELETE CASCADE,
    name TEXT NOT NULL, name_key TEXT NOT NULL, device_hash TEXT NOT NULL UNIQUE,
    team_id INTEGER, joined REAL NOT NULL, UNIQUE (session_id, name_key));
CREATE TABLE IF NOT EXISTS predictions (
    session_id INTEGER NOT NULL REFERENCES sessions ON DELETE CASCADE,
    participant_id INTEGER NOT NULL REFERENCES participants ON DELETE CASCADE,
    value REAL NOT NULL, at REAL NOT NULL, PRIMARY KEY (session_id, participant_id));
CREATE TABLE IF NOT EXISTS teams (
    id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions ON DELETE CASCADE,
    idx INTEGER NOT NULL, name TEXT NOT NULL, actor TEXT NOT NULL, captain_id INTEGER,
    UNIQUE (session_id, actor));
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions ON DELETE CASCADE,
    team_id INTEGER NOT NULL, participant_id INTEGER NOT NULL, month INTEGER NOT NULL,
    action TEXT NOT NULL, at REAL NOT NULL, undone INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX IF NOT EXISTS one_vote ON votes (session_id, participant_id, month)
    WHERE undone = 0;
CREATE TABLE IF NOT EXISTS moves (
    id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions ON DELETE CASCADE,
    team_id INTEGER NOT NULL, actor TEXT NOT NULL, month INTEGER NOT NULL, action TEXT,
    by TEXT NOT NULL, counts TEXT NOT NULL, at REAL NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS injects (
    id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions ON DELETE CASCADE,
    event TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions ON DELETE CASCADE,
    at REAL NOT NULL, text TEXT NOT NULL);
"""


def data_dir() -> Path:
    """The classroom's data folder (``AFPAK_CLASSROOM_DIR`` or ``out/classroom``)."""
    return Path(os.environ.get(ENV_DIR) or ROOT / "out" / "classroom")


def digest(token: str) -> str:
    """The stored form of a secret token (tokens themselves are never stored)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Store:
    """The classroom database. Thread-safe: each thread gets its own connection."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else data_dir() / DB_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.db().executescript(SCHEMA)   # idempotent (IF NOT EXISTS); its own transaction

    # ------------------------------------------------------------------ connections
    def db(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, isolation_level=None,
                                  check_same_thread=True)
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(f"PRAGMA busy_timeout={BUSY_MS}")
            con.execute("PRAGMA foreign_keys=ON")
            con.execute("PRAGMA synchronous=NORMAL")
            self._local.con = con
        return con

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE: writers queue on the busy timeout)."""
        con = self.db()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    def one(self, sql: str, *args) -> sqlite3.Row | None:
        return self.db().execute(sql, args).fetchone()

    def all(self, sql: str, *args) -> list[sqlite3.Row]:
        return self.db().execute(sql, args).fetchall()

    # ------------------------------------------------------------------ sessions
    def create_session(self, *, code: str, teacher_token: str, kind: str, ref: str, title: str,
                       config: dict, runs: int, seed: int, anonymous: bool,
                       teams: list[tuple[str, str]] = (), now: float | None = None) -> int:
        now = time.time() if now is None else now
        with self.tx() as db:
            cur = db.execute(
                "INSERT INTO sessions (code, teacher_hash, kind, ref, title, config, runs, "
                "seed, anonymous, created, month_opened) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (code, digest(teacher_token), kind, ref, title, json.dumps(config), int(runs),
                 int(seed), int(anonymous), now, now))
            sid = int(cur.lastrowid)
            db.executemany("INSERT INTO teams (session_id, idx, name, actor) VALUES (?,?,?,?)",
                           [(sid, i, name, actor) for i, (name, actor) in enumerate(teams)])
            db.execute("INSERT INTO journal (session_id, at, text) VALUES (?,?,?)",
                       (sid, now, f"session {code} started ({kind}: {title})"))
        return sid

    def session(self, code: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM sessions WHERE code = ?", code)

    def session_by_id(self, sid: int) -> sqlite3.Row | None:
        return self.one("SELECT * FROM sessions WHERE id = ?", sid)

    def sessions(self) -> list[sqlite3.Row]:
        """Every session, newest first, with its participant count (no answers)."""
        return self.all("SELECT s.id, s.code, s.kind, s.title, s.state, s.created, s.ended, "
                        "(SELECT COUNT(*) FROM participants p WHERE p.session_id = s.id) AS n "
                        "FROM sessions s ORDER BY s.created DESC, s.id DESC")

    def update_session(self, db: sqlite3.Connection, sid: int, **fields) -> None:
        """Set fields of a session inside a transaction; bumps its version (devices redraw)."""
        cols = ", ".join(f"{k} = ?" for k in fields)
        sep = ", " if cols else ""
        db.execute(f"UPDATE sessions SET {cols}{sep}version = version + 1 WHERE id = ?",
                   (*fields.values(), sid))

    def note(self, db: sqlite3.Connection, sid: int, text: str) -> None:
        db.execute("INSERT INTO journal (session_id, at, text) VALUES (?,?,?)",
                   (sid, time.time(), text))

    def delete_session(self, sid: int) -> None:
        with self.tx() as db:
            for table in ("journal", "injects", "moves", "votes", "predictions", "teams",
                          "participants"):
                db.execute(f"DELETE FROM {table} WHERE session_id = ?", (sid,))
            db.execute("DELETE FROM sessions WHERE id = ?", (sid,))

    # ------------------------------------------------------------------ reads
    def participants(self, sid: int) -> list[sqlite3.Row]:
        return self.all("SELECT * FROM participants WHERE session_id = ? ORDER BY id", sid)

    def participant(self, device_token: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM participants WHERE device_hash = ?", digest(device_token))

    def teams(self, sid: int) -> list[sqlite3.Row]:
        return self.all("SELECT * FROM teams WHERE session_id = ? ORDER BY idx", sid)

    def predictions(self, sid: int) -> list[sqlite3.Row]:
        return self.all("SELECT p.participant_id, p.value, p.at, q.name FROM predictions p "
                        "JOIN participants q ON q.id = p.participant_id "
                        "WHERE p.session_id = ? ORDER BY p.participant_id", sid)

    def votes(self, sid: int, month: int | None = None, *, undone: bool = False
              ) -> list[sqlite3.Row]:
        sql = ("SELECT v.*, q.name FROM votes v JOIN participants q ON q.id = v.participant_id "
               "WHERE v.session_id = ?" + ("" if undone else " AND v.undone = 0"))
        args: list = [sid]
        if month is not None:
            sql += " AND v.month = ?"
            args.append(month)
        return self.all(sql + " ORDER BY v.at, v.id", *args)

    def moves(self, sid: int, *, undone: bool = False) -> list[sqlite3.Row]:
        return self.all("SELECT * FROM moves WHERE session_id = ?"
                        + ("" if undone else " AND undone = 0") + " ORDER BY month, team_id",
                        sid)

    def injects(self, sid: int) -> list[dict]:
        return [json.loads(r["event"]) for r in
                self.all("SELECT event FROM injects WHERE session_id = ? ORDER BY id", sid)]

    def journal(self, sid: int, limit: int = 200) -> list[sqlite3.Row]:
        return self.all("SELECT at, text FROM journal WHERE session_id = ? ORDER BY id DESC "
                        "LIMIT ?", sid, limit)
