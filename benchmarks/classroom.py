"""Load benchmark of the networked classroom: 40 scripted students, one lesson, a 12-month game in
5 teams, 10 forced reconnects and one server restart mid-game.

The students are threads that call the classroom service exactly as the student page's fragment
does every ``--poll`` seconds (``student_view``, ``tick``, the lesson's answer after the reveal,
the game's state), against a real SQLite store on disk. Why not 40 browsers: Streamlit speaks its
own protobuf protocol over a websocket, so a plain HTTP client cannot stand in for a page, and 40
headless Chromium pages do not fit a 2-core machine beside the server; the browser test drives
real pages (a teacher and three students). What this measures is the part that grows with the
class: the store under 40 concurrent pollers and one engine run per month for all of them.

Latency: from the teacher's action (reveal, inject, advance; a month that advances because every
team has voted counts from the moment it closed) to the moment each of the 40 devices has drawn
it (its view shows it and, for a month, the new state is computed): the 95th percentile over all
(action, device) pairs. Lost: every prediction and vote a device was told was accepted must be in
the store at the end (the last one per student and month).

    uv run --frozen python benchmarks/classroom.py [--students 40] [--poll 2]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

# `python benchmarks/classroom.py` puts benchmarks/ first on the path, where dashboard.py (the
# dashboard's benchmark) would hide the dashboard package: the repository root goes first.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from dashboard.classroom import game  # noqa: E402
from dashboard.classroom.rules import ClassroomError  # noqa: E402
from dashboard.classroom.service import Classroom  # noqa: E402
from dashboard.classroom.store import Store  # noqa: E402
from model.core import spec  # noqa: E402


class Server:
    """The service, replaceable mid-run (a restart: a new store connection, empty caches)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.svc = Classroom(Store(path))
        self.up = threading.Event()
        self.up.set()

    def restart(self) -> float:
        self.up.clear()
        time.sleep(0.5)                          # in-flight calls finish
        game._cache.clear()
        t0 = time.perf_counter()
        self.svc = Classroom(Store(self.path))
        self.up.set()
        return time.perf_counter() - t0


class Device(threading.Thread):
    """One student's device: polls, predicts, votes; remembers what the server accepted."""

    def __init__(self, server: Server, code: str, i: int, poll: float, seen: dict,
                 stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.server, self.i, self.poll, self.seen, self.stop = server, i, poll, seen, stop
        self.rng = random.Random(i)
        self.device = server.svc.join(code, f"student {i:02d}", client=str(i))
        self.accepted: dict = {}
        self.reconnect_at: float | None = None
        self.errors: list[str] = []

    def draw(self) -> None:
        svc = self.server.svc
        v = svc.student_view(self.device)
        s = svc.store.session(v["code"])
        if v["kind"] == "lesson":
            marks = [f"state:{v['state']}", f"injects:{len(v['injects'])}"]
            if v["state"] == "revealed":
                svc.answer(s)
            if v["state"] == "open" and v["mine"] is None:
                self.accepted[("pred",)] = svc.predict(self.device, self.rng.randint(0, 20) * 5)
        else:
            svc.tick(v["code"])
            svc.game_state(s)
            marks = [f"month:{v['month']}", f"injects:{len(v['injects'])}"]
            if v["state"] == "open" and v["my_vote"] is None and self.wants_to_vote(v):
                action = self.rng.choice(game.repertoire(v["team"]["actor"]))
                try:
                    svc.vote(self.device, v["team"]["id"], v["month"], action)
                    self.accepted[("vote", v["month"])] = action
                except ClassroomError as exc:
                    if "closed" not in str(exc):
                        raise
        now = time.perf_counter()
        for m in marks:
            self.seen.setdefault((m, self.i), now)

    def wants_to_vote(self, v: dict) -> bool:
        # in months 3, 7 and 11 a quarter of the class is slow: the teacher advances
        return not (v["month"] in (3, 7, 11) and self.i % 4 == 0)

    def run(self) -> None:
        while not self.stop.is_set():
            self.server.up.wait()
            if self.reconnect_at and time.perf_counter() >= self.reconnect_at:
                self.reconnect_at = None
                time.sleep(3.0)                  # the phone drops off, then comes back
            try:
                self.draw()
            except ClassroomError as exc:
                self.errors.append(str(exc))
            except Exception as exc:  # noqa: BLE001 (a benchmark reports every failure)
                self.errors.append(repr(exc))
            self.stop.wait(self.poll * (0.9 + 0.2 * self.rng.random()))


def wait_all(seen: dict, mark: str, n: int, timeout: float = 60) -> None:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        if sum(1 for (m, _) in list(seen) if m == mark) >= n:
            return
        time.sleep(0.05)
    raise TimeoutError(f"not every device saw {mark}")


def latencies(seen: dict, mark: str, t0: float, n: int) -> list[float]:
    return [seen[(mark, i)] - t0 for i in range(n) if (mark, i) in seen]


def lesson(server: Server, n: int, poll: float) -> tuple[list[float], int]:
    svc = server.svc
    code, tok = svc.start_lesson("route_2011", runs=100)
    seen: dict = {}
    stop = threading.Event()
    devs = [Device(server, code, i, poll, seen, stop) for i in range(n)]
    for d in devs:
        d.start()
    lat = []
    deadline = time.perf_counter() + 60
    while len(svc.store.predictions(svc.session(code)["id"])) < n:
        if time.perf_counter() > deadline:
            raise TimeoutError("predictions did not arrive")
        time.sleep(0.1)
    for action, mark in ((lambda: svc.set_state(code, tok, "closed"), "state:closed"),
                         (lambda: svc.inject(code, tok, {
                             "id": "teacher_1_us_strike", "date": "2011-08", "actor": "US",
                             "action": "US_STRIKE", "severity": 3.0, "target": "PAK_MIL"}),
                          "injects:1"),
                         (lambda: svc.set_state(code, tok, "revealed"), "state:revealed")):
        t0 = time.perf_counter()
        action()
        wait_all(seen, mark, n)
        lat += latencies(seen, mark, t0, n)
    stop.set()
    for d in devs:
        d.join()
    sid = svc.session(code)["id"]
    stored = {r["name"]: r["value"] for r in svc.store.predictions(sid)}
    lost = sum(1 for d in devs if stored.get(f"student {d.i:02d}") != d.accepted.get(("pred",)))
    return lat, lost


def play(server: Server, n: int, poll: float, months: int) -> dict:
    svc = server.svc
    code, tok = svc.start_game(list(spec.ACTORS), length=months, runs=game.DEFAULT_RUNS)
    seen: dict = {}
    stop = threading.Event()
    devs = [Device(server, code, i, poll, seen, stop) for i in range(n)]
    for d in devs:
        d.start()
    lat, out = [], {"reconnects": 0, "restart_s": None}
    for k in range(1, months + 1):
        if k == 6:                                # 10 phones drop off and come back
            for d in devs[:10]:
                d.reconnect_at = time.perf_counter()
            out["reconnects"] = 10
        if k == 4:
            t0 = time.perf_counter()
            server.svc.inject(code, tok, {"id": "teacher_g_strike", "date": "2011-09",
                                          "actor": "US", "action": "US_STRIKE",
                                          "severity": 3.0, "target": "PAK_MIL"})
            wait_all(seen, "injects:1", n)
            lat += latencies(seen, "injects:1", t0, n)
        if k == 9:
            out["restart_s"] = server.restart()
        end = time.perf_counter() + 90
        while server.svc.session(code)["month"] < k:
            if time.perf_counter() > end:
                raise TimeoutError(f"month {k} did not come")
            if k - 1 in (3, 7, 11) and _voted(server.svc, code, k - 1) >= n - n // 4:
                with contextlib.suppress(ClassroomError):
                    server.svc.advance(code, tok)
            time.sleep(0.05)
        sid = server.svc.session(code)["id"]
        closed = max(m["at"] for m in server.svc.store.moves(sid) if m["month"] == k - 1)
        t0 = time.perf_counter() - (time.time() - closed)
        wait_all(seen, f"month:{k}", n, timeout=90)
        lat += latencies(seen, f"month:{k}", t0, n)
    stop.set()
    for d in devs:
        d.join()
    sid = server.svc.session(code)["id"]
    stored = {(r["participant_id"], r["month"]): r["action"]
              for r in server.svc.store.votes(sid)}
    ids = {p["name"]: p["id"] for p in server.svc.store.participants(sid)}
    expected = [(ids[f"student {d.i:02d}"], key[1], a) for d in devs
                for key, a in d.accepted.items()]
    out["votes"] = len(expected)
    out["lost"] = sum(1 for pid, m, a in expected if stored.get((pid, m)) != a)
    out["lat"] = lat
    out["engine_runs"] = game.engine_runs
    out["errors"] = sorted({e for d in devs for e in d.errors})
    return out


def _voted(svc: Classroom, code: str, month: int) -> int:
    return len(svc.store.votes(svc.session(code)["id"], month))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--students", type=int, default=40)
    ap.add_argument("--poll", type=float, default=2.0, help="seconds between a device's polls")
    ap.add_argument("--months", type=int, default=12)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="classroom-bench-"))
    try:
        server = Server(folder / "bench.sqlite3")
        t = time.perf_counter()
        lat_l, lost_l = lesson(server, args.students, args.poll)
        t_lesson = time.perf_counter() - t
        t = time.perf_counter()
        g = play(server, args.students, args.poll, args.months)
        t_game = time.perf_counter() - t
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lat = np.array(lat_l + g["lat"])
    print(f"students: {args.students}, poll every {args.poll:g} s, 5 teams, {args.months} months")
    print(f"lesson: {t_lesson:.0f} s, predictions lost: {lost_l} of {args.students}; "
          f"p95 latency (close, inject, reveal) {np.percentile(lat_l, 95):.2f} s")
    print(f"game: {t_game:.0f} s, votes accepted {g['votes']}, lost {g['lost']}; "
          f"{g['reconnects']} forced reconnects; server restart at month 9 "
          f"({g['restart_s']:.2f} s to reopen the store)")
    print(f"p95 latency, game (inject, advances) {np.percentile(g['lat'], 95):.2f} s")
    print(f"all teacher actions -> every device: p50 {np.percentile(lat, 50):.2f} s, "
          f"p95 {np.percentile(lat, 95):.2f} s, max {lat.max():.2f} s over {lat.size} pairs")
    print(f"engine runs in the game: {g['engine_runs']} (one per month, inject and restart)")
    print(f"peak memory (this process: service + store + 40 device threads): {peak:.0f} MiB")
    if g["errors"]:
        print("device messages:", g["errors"][:5])


if __name__ == "__main__":
    main()
