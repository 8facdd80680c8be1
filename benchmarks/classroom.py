"""Load benchmark of the networked classroom through the real Streamlit server: 40 scripted
students on the student page (``/join``), one lesson, a 12-month game in 5 teams, 10 devices that
drop off and come back mid-game (5 reconnect their websocket, 5 reload the page) and one server
restart mid-game.

Each student is a websocket client that speaks Streamlit's own protocol, as a browser tab does:
it opens ``/_stcore/stream``, asks for a run of the ``join`` page with its address's query string,
reads the protobuf messages the server sends (texts, widgets, the run's end, the fragment's
``auto_rerun`` timer), re-runs the live fragment every time the server's timer says, and
answers through the page's own widgets (the join form, the prediction form, the vote radio and
button) by sending their widget states, exactly as the browser sends a click. The server is
``streamlit run dashboard/app.py`` in its own process, with its own classroom service and store;
nothing of the server is imported here. The teacher acts through a classroom service in this
process on the same SQLite file (a second process on the store, as a console tab is a second
session); its pre-computation of a new month is switched off, so every engine run happens in the
server when the devices ask for the new month.

Latency: from the teacher's action (close, inject, reveal, advance; a month that advances because
every team has voted counts from the moment it closed) to the end of the first run on each device
whose page shows it (the run's messages have all arrived: the texts, the network figure): the
95th percentile over all (action, device) pairs. Lost: every prediction and vote a device's page
confirmed ("Your prediction: …", "Your vote: …") must be in the store at the end. Peak memory: the
server process's high-water mark (``VmHWM``), for each of its two lives (before and after the
restart).

    uv run --frozen python benchmarks/classroom.py [--students 40] [--poll 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parents[1]
# `python benchmarks/classroom.py` puts benchmarks/ first on the path, where dashboard.py
# (the dashboard's benchmark) would hide the dashboard package: the repository root goes first.
sys.path[0] = str(ROOT)

from dashboard.classroom.rules import ClassroomError  # noqa: E402
from dashboard.classroom.service import Classroom  # noqa: E402
from dashboard.classroom.store import DB_NAME, Store  # noqa: E402
from model.core import spec  # noqa: E402

MONTHS = re.compile(r"(\d+) of (\d+) months played")
MINE = re.compile(r"Your prediction: \*\*([-\d.]+)")
VOTE = re.compile(r"Your vote: \*\*(\w+)\*\*")


# ===================================================================================== server
class Server:
    """``streamlit run dashboard/app.py`` in its own process (started, stopped, restarted)."""

    def __init__(self, folder: Path, port: int, poll: float) -> None:
        self.port, self.folder = port, folder
        self.env = {**os.environ, "AFPAK_CLASSROOM_DIR": str(folder),
                    "AFPAK_CLASSROOM_POLL": str(poll)}
        self.proc: subprocess.Popen | None = None
        self.peaks: list[float] = []
        self.log = open(folder / "server.log", "wb")  # noqa: SIM115 (closed in stop)

    def start(self, timeout: float = 120) -> float:
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
             "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{self.port}/_stcore/health"
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}); see "
                                   f"{self.folder / 'server.log'}")
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
            time.sleep(0.2)
        raise TimeoutError("the server did not come up")

    def cpu_s(self) -> float:
        """CPU seconds the server process has used (user + system)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")  # pragma: no cover

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.peaks.append(self.peak_mib())
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> float:
        """Stop the server and start a new one on the same port and store: seconds the
        classroom was unreachable (until its health check answers again)."""
        t0 = time.perf_counter()
        self.stop()
        self.start()
        return time.perf_counter() - t0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ===================================================================================== devices
class Page:
    """One student's browser tab on ``/join``, speaking Streamlit's websocket protocol."""

    def __init__(self, port: int, i: int, code: str, seen: dict) -> None:
        self.url = f"ws://127.0.0.1:{port}/_stcore/stream"
        self.i, self.seen = i, seen
        self.name = f"student {i:02d}"
        self.query = f"code={code}"
        self.rng = random.Random(i)
        self.session_id = ""
        self.ws = None
        self.timers: dict[str, asyncio.Task] = {}
        self.texts: list[str] = []
        self.widgets: dict[str, tuple[str, object]] = {}   # label -> (kind, element)
        self.accepted: dict = {}
        self.sent: list[float] = []
        self.runs: list[tuple[float, float]] = []      # (sent, finished) of each run
        self.errors: list[str] = []
        self.run_errors = 0
        self.acting: asyncio.Task | None = None
        self.drop: float = 0.0               # seconds to stay away at the next drop
        self.reload = False                  # the next drop is a page reload (a new session)
        self.dropped = asyncio.Event()
        self.stop = False
        self.slow_months: tuple[int, ...] = (3, 7, 11) if i % 4 == 0 else ()

    # ----------------------------------------------------------------- sending
    def _client_state(self, msg: BackMsg, fragment: str = "") -> None:
        cs = msg.rerun_script
        cs.query_string = self.query
        cs.page_name = "join"
        if fragment:
            cs.fragment_id = fragment
            cs.is_auto_rerun = True
        cs.context_info.timezone = "UTC"
        cs.context_info.url = f"http://127.0.0.1/join?{self.query}"

    async def _send(self, msg: BackMsg) -> None:
        self.sent.append(time.perf_counter())
        with contextlib.suppress(websockets.ConnectionClosed, AttributeError):
            await self.ws.send(msg.SerializeToString())

    async def rerun(self, widgets: dict | None = None, fragment: str = "") -> None:
        """A run of the page (or of one fragment), with the given widget states."""
        msg = BackMsg()
        self._client_state(msg, fragment)
        for wid, (field, value) in (widgets or {}).items():
            w = msg.rerun_script.widget_states.widgets.add()
            w.id = wid
            if field == "double_array_value":
                w.double_array_value.data.extend(value)
            else:
                setattr(w, field, value)
        await self._send(msg)

    def _stop_timers(self) -> None:
        for t in self.timers.values():
            t.cancel()
        self.timers.clear()

    async def _every(self, fragment: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.rerun(fragment=fragment)

    # ----------------------------------------------------------------- receiving
    def _element(self, fm: ForwardMsg) -> None:
        el = fm.delta.new_element
        kind = el.WhichOneof("type")
        if kind is None:
            return
        sub = getattr(el, kind)
        if kind == "alert" and sub.format == sub.ERROR:
            self.errors.append(sub.body)
        if kind == "exception":
            self.errors.append(f"exception: {sub.message}")
        for field in ("body", "text", "label"):
            if hasattr(sub, field) and getattr(sub, field):
                self.texts.append(getattr(sub, field))
        if hasattr(sub, "id") and hasattr(sub, "label"):
            self.widgets[sub.label] = (kind, sub)

    async def _receive(self) -> None:
        async for raw in self.ws:
            fm = ForwardMsg()
            fm.ParseFromString(raw)
            what = fm.WhichOneof("type")
            if what == "new_session":
                if fm.new_session.initialize.session_id:
                    self.session_id = fm.new_session.initialize.session_id
                self.texts, self.widgets = [], {}
                if not fm.metadata.run.fragment_ids:     # a whole-page run: as the browser,
                    self._stop_timers()                  # drop the fragments' old timers
            elif what == "delta":
                self._element(fm)
            elif what == "page_info_changed":
                self.query = fm.page_info_changed.query_string
            elif what == "auto_rerun":
                fid = fm.auto_rerun.fragment_id
                if fid not in self.timers:
                    self.timers[fid] = asyncio.create_task(
                        self._every(fid, fm.auto_rerun.interval))
            elif what == "script_finished":
                await self._finished()

    # ----------------------------------------------------------------- what the student does
    async def _finished(self) -> None:
        now = time.perf_counter()
        errors_before = self.run_errors
        self.run_errors = len(self.errors)
        if self.sent:
            self.runs.append((self.sent.pop(0), now))
        texts = self.texts
        marks = [f"injects:{sum(t.startswith('Breaking:') for t in texts)}"]
        if any("Waiting for the teacher to reveal" in t for t in texts):
            marks.append("state:closed")
        if any("The reveal" in t for t in texts):
            marks.append("state:revealed")
        month = next((int(m.group(1)) for t in texts if (m := MONTHS.search(t))), None)
        if month is not None:      # a device that skipped a month (two advances between two
            marks += [f"month:{k}" for k in range(month + 1)]   # polls) has shown it too
        for m in marks:
            self.seen.setdefault((m, self.i), now)
        for t in texts:
            if m := MINE.search(t):
                self.accepted[("pred",)] = float(m.group(1))
            if (m := VOTE.search(t)) and month is not None:
                self.accepted[("vote", month)] = m.group(1)
        if self.acting is None or self.acting.done():      # the page keeps drawing meanwhile
            wait = 2.0 if self.run_errors > errors_before else 0.0   # refused: wait, then retry
            self.acting = asyncio.create_task(self._act(self.widgets, month, wait))

    async def _act(self, w: dict, month: int | None, wait: float) -> None:
        """What the student does on the page a run has drawn (``w``: its widgets)."""
        await asyncio.sleep(wait)
        if "Join code" in w and "Join" in w:
            await self.rerun({w["Join code"][1].id: ("string_value", self.query.split("=")[-1]),
                              w["Your name"][1].id: ("string_value", self.name),
                              w["Join"][1].id: ("trigger_value", True)})
            return
        slider = next((el for kind, el in w.values() if kind == "slider"), None)
        if slider is not None and ("pred",) not in self.accepted:
            value = float(self.rng.randint(0, 20) * 5)
            value = min(max(value, slider.min), slider.max)
            await asyncio.sleep(self.rng.uniform(0, 2))       # the student thinks
            await self.rerun({slider.id: ("double_array_value", [value]),
                              w["Submit my prediction"][1].id: ("trigger_value", True)})
            return
        radio = next((el for kind, el in w.values()
                      if kind == "radio" and el.label.startswith("Your vote")), None)
        if (radio is not None and month is not None and ("vote", month) not in self.accepted
                and month not in self.slow_months):
            pick = self.rng.choice(list(radio.options))       # a radio sends its option
            await asyncio.sleep(self.rng.uniform(1, 6))        # the team talks it over
            await self.rerun({radio.id: ("string_value", pick),
                              w["Send my vote"][1].id: ("trigger_value", True)})

    # ----------------------------------------------------------------- the connection
    async def run(self) -> None:
        while not self.stop:
            try:
                protocols = ["streamlit", "PLACEHOLDER_AUTH_TOKEN"]
                if self.session_id and not self.reload:
                    protocols.append(self.session_id)
                self.reload = False
                async with websockets.connect(self.url, subprotocols=protocols,
                                              max_size=None, open_timeout=10) as ws:
                    self.ws = ws
                    await self.rerun()
                    recv = asyncio.create_task(self._receive())
                    drop = asyncio.create_task(self.dropped.wait())
                    await asyncio.wait({recv, drop}, return_when=asyncio.FIRST_COMPLETED)
                    for t in (recv, drop):
                        t.cancel()
            except (TimeoutError, OSError, websockets.WebSocketException):
                pass
            self._stop_timers()
            if self.dropped.is_set():            # the phone leaves, then comes back
                self.dropped.clear()
                await asyncio.sleep(self.drop)
            elif not self.stop:
                await asyncio.sleep(0.5 + self.rng.random())   # the browser's back-off


# ===================================================================================== the class
async def wait_all(pages: list[Page], mark: str, timeout: float = 90) -> None:
    end = time.perf_counter() + timeout
    seen = pages[0].seen
    while time.perf_counter() < end:
        if all((mark, p.i) in seen for p in pages):
            return
        await asyncio.sleep(0.05)
    late = [p for p in pages if (mark, p.i) not in seen]
    what = "; ".join(f"{p.name}: last run {[t[:50] for t in p.texts[-4:]]}, errors "
                     f"{p.errors[-2:]}, {len(p.timers)} timer(s)" for p in late[:3])
    raise TimeoutError(f"{len(late)} of {len(pages)} devices did not show {mark} ({what})")


def latencies(seen: dict, mark: str, t0: float, n: int) -> list[float]:
    return [seen[(mark, i)] - t0 for i in range(n) if (mark, i) in seen]


def teacher(folder: Path) -> Classroom:
    svc = Classroom(Store(folder / DB_NAME))
    svc._warm = lambda sid: None
    return svc


async def _class(port: int, code: str, n: int) -> tuple[list[Page], dict, list[asyncio.Task]]:
    seen: dict = {}
    pages = [Page(port, i, code, seen) for i in range(n)]
    tasks = []
    for p in pages:                      # the class arrives over a few seconds
        tasks.append(asyncio.create_task(p.run()))
        await asyncio.sleep(0.1)
    return pages, seen, tasks


async def _dismiss(pages: list[Page], tasks: list[asyncio.Task]) -> None:
    for p in pages:
        p.stop = True
        for t in p.timers.values():
            t.cancel()
        if p.ws is not None:
            with contextlib.suppress(Exception):
                await p.ws.close()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def lesson(svc: Classroom, port: int, n: int) -> dict:
    code, tok = svc.start_lesson("route_2011", runs=100)
    pages, seen, tasks = await _class(port, code, n)
    sid = svc.session(code)["id"]
    end = time.perf_counter() + 120
    while len(svc.store.predictions(sid)) < n:
        if time.perf_counter() > end:
            raise TimeoutError(f"{len(svc.store.predictions(sid))} of {n} predictions came")
        await asyncio.sleep(0.1)
    await asyncio.sleep(4)               # every page has drawn its confirmation
    lat, per = [], {}
    for action, mark in ((lambda: svc.set_state(code, tok, "closed"), "state:closed"),
                         (lambda: svc.inject(code, tok, {
                             "id": "teacher_1_us_strike", "date": "2011-08", "actor": "US",
                             "action": "US_STRIKE", "severity": 3.0, "target": "PAK_MIL"}),
                          "injects:1"),
                         (lambda: svc.set_state(code, tok, "revealed"), "state:revealed")):
        t0 = time.perf_counter()
        action()
        await wait_all(pages, mark)
        lat += latencies(seen, mark, t0, n)
        per[mark] = latencies(seen, mark, t0, n)
    await _dismiss(pages, tasks)
    stored = {r["participant_id"]: r["value"] for r in svc.store.predictions(sid)}
    ids = {p["name"]: p["id"] for p in svc.store.participants(sid)}
    confirmed = {p.name: p.accepted.get(("pred",)) for p in pages}
    lost = sum(1 for name, v in confirmed.items()
               if v is None or stored.get(ids.get(name)) != v)
    return {"lat": lat, "per": per, "lost": lost,
            "confirmed": sum(v is not None for v in confirmed.values()),
            "errors": sorted({e for p in pages for e in p.errors})}


async def play(svc: Classroom, server: Server, port: int, n: int, months: int) -> dict:
    code, tok = svc.start_game(list(spec.ACTORS), length=months)
    pages, seen, tasks = await _class(port, code, n)
    sid = svc.session(code)["id"]
    while len(svc.store.participants(sid)) < n:
        await asyncio.sleep(0.1)
    lat, out = [], {"restart_s": float("nan"), "per": {}}
    for k in range(1, months + 1):
        if k == 6:                                        # 10 phones drop off and come back
            for p in pages[:10]:
                p.drop, p.reload = 3.0, p.i % 2 == 1
                p.dropped.set()
        if k == 4:
            t0 = time.perf_counter()
            svc.inject(code, tok, {"id": "teacher_g_strike", "date": "2011-09", "actor": "US",
                                   "action": "US_STRIKE", "severity": 3.0, "target": "PAK_MIL"})
            await wait_all(pages, "injects:1")
            lat += latencies(seen, "injects:1", t0, n)
            out["per"]["game inject"] = latencies(seen, "injects:1", t0, n)
        if k == 9:
            out["restart_s"] = await asyncio.to_thread(server.restart)
        end = time.perf_counter() + 120
        while svc.session(code)["month"] < k:
            if time.perf_counter() > end:
                raise TimeoutError(f"month {k} did not come")
            if k - 1 in (3, 7, 11) and len(svc.store.votes(sid, k - 1)) >= n - n // 4:
                with contextlib.suppress(ClassroomError):
                    svc.advance(code, tok)
            await asyncio.sleep(0.05)
        closed = max(m["at"] for m in svc.store.moves(sid) if m["month"] == k - 1)
        t0 = time.perf_counter() - (time.time() - closed)
        await wait_all(pages, f"month:{k}", timeout=120)
        lat += latencies(seen, f"month:{k}", t0, n)
        out["per"][f"month:{k}"] = latencies(seen, f"month:{k}", t0, n)
    await _dismiss(pages, tasks)
    stored = {(r["participant_id"], r["month"]): r["action"] for r in svc.store.votes(sid)}
    ids = {p["name"]: p["id"] for p in svc.store.participants(sid)}
    confirmed = [(ids[p.name], key[1], a) for p in pages for key, a in p.accepted.items()]
    out.update(lat=lat, votes=len(confirmed),
               lost=sum(1 for pid, m, a in confirmed if stored.get((pid, m)) != a),
               errors=sorted({e for p in pages for e in p.errors}),
               model_moves=sum(1 for m in svc.store.moves(sid) if m["by"] == "model"))
    return out


async def main_async(args: argparse.Namespace, folder: Path) -> None:
    port = args.port or free_port()
    server = Server(folder, port, args.poll)
    try:
        up = server.start()
        print(f"server up in {up:.1f} s on port {port}", flush=True)
        svc = teacher(folder)
        t = time.perf_counter()
        les = await lesson(svc, port, args.students)
        t_lesson = time.perf_counter() - t
        print(f"lesson done in {t_lesson:.0f} s", flush=True)
        t = time.perf_counter()
        g = await play(svc, server, port, args.students, args.months)
        t_game = time.perf_counter() - t
    finally:
        server.stop()
        server.log.close()
    lat = np.array(les["lat"] + g["lat"])
    print(f"students: {args.students} websocket clients, page re-run every {args.poll:g} s "
          f"(the fragment's timer), 5 teams, {args.months} months")
    print(f"lesson: {t_lesson:.0f} s; predictions confirmed {les['confirmed']} of "
          f"{args.students}, lost {les['lost']}; p95 (close, inject, reveal) "
          f"{np.percentile(les['lat'], 95):.2f} s")
    print(f"game: {t_game:.0f} s; votes confirmed {g['votes']}, lost {g['lost']}; 10 devices "
          f"dropped at month 6 (5 reconnect, 5 reload); server restart at month 9 "
          f"(unreachable {g['restart_s']:.1f} s); moves the model played {g['model_moves']}")
    print(f"p95 latency, game (inject, advances incl. the restart) "
          f"{np.percentile(g['lat'], 95):.2f} s")
    print(f"all teacher actions -> every device: p50 {np.percentile(lat, 50):.2f} s, "
          f"p95 {np.percentile(lat, 95):.2f} s, max {lat.max():.2f} s over {lat.size} pairs")
    print("peak memory of the server process (VmHWM): "
          + ", ".join(f"{p:.0f} MiB" for p in server.peaks)
          + " (before / after the restart)")
    for mark, xs in {**les["per"], **g["per"]}.items():
        print(f"  {mark:>16}: p50 {np.percentile(xs, 50):.2f} s, max {max(xs):.2f} s")
    for e in (les["errors"] + g["errors"])[:5]:
        print("device message:", e)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--students", type=int, default=40)
    ap.add_argument("--poll", type=float, default=2.0, help="the fragment's re-run interval (s)")
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="classroom-server-bench-"))
    try:
        asyncio.run(main_async(args, folder))
    except (TimeoutError, RuntimeError) as exc:
        log = (folder / "server.log").read_text(errors="replace")[-3000:]
        sys.exit(f"benchmark failed: {exc}\n--- server log (tail) ---\n{log}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
