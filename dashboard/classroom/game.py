"""A team game's simulation state, derived from the stored moves, injects and seed.

The teams' moves become month-long ``force`` interventions of the history scenario (as in
``dashboard.play``, for up to five actors at once); the model plays every actor no team holds,
and any team that did not move in a month, with its own rules, in every run of the ensemble.
Nothing of the simulation is stored: the state after month k is a pure function of (scenario,
moves before k, injects, runs, seed), so a restart resumes exactly. One engine run per month and
session serves every device: the result is cached per (session, month, inputs) and computed
once under a lock while other devices wait for it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dashboard import core
from model.analysis import summary as S
from model.core import spec
from model.engine.runner import Results, simulate
from model.inputs.scenario import month_index, month_label

SCENARIO = core.HISTORY
DEFAULT_START = "2011-05"
DEFAULT_LENGTH = 12
MAX_LENGTH = 24
DEFAULT_RUNS = 50
#: Months simulated after the game's last month (the debrief's "how it might have gone").
AFTER = 12
CACHE_SIZE = 64


def repertoire(actor: str) -> list[str]:
    """The action names an actor can choose, status quo first."""
    lo, hi = spec.ACTOR_ACTIONS[actor]
    return [a.name for a in spec.ACTIONS[lo:hi]]


def window(start: str, length: int) -> tuple[str, int]:
    """(the history scenario's text, month index of the game's start); the whole history runs
    (its scripted events reach past any game's window)."""
    text = core.shipped_text(SCENARIO)
    sc = core.parse(text)
    m0 = month_index(sc.start, start)
    if m0 < 0 or m0 + length > sc.months:
        raise ValueError(f"a {length}-month game from {start} does not fit in the history "
                         f"({sc.start} .. {month_label(sc.start, sc.months - 1)})")
    return text, m0


def game_text(start: str, length: int, moves: Sequence[tuple[int, str, str | None]],
              injects: Sequence[dict] = ()) -> str:
    """The scenario with the teams' moves ((game month, actor, action or None)) as ``force``
    interventions and the teacher's injected events."""
    text, _ = window(start, length)
    forced = [{"from": month_label(start, k), "to": month_label(start, k), "actor": actor,
               "force": action, "note": "a team's move"}
              for k, actor, action in moves if action]
    return core.edited(text, events=[dict(e) for e in injects] or None,
                       interventions=forced or None)


@dataclass(frozen=True)
class State:
    """What every device shows at the start of game month ``month``."""

    month: int
    label: str
    trust: np.ndarray
    aid: np.ndarray
    route_open: float
    #: Last month's moves: actor -> (action, share of runs, 'team' or 'model').
    last: dict


_cache: OrderedDict = OrderedDict()
_locks: dict = {}
_guard = threading.Lock()
#: How many ensembles this process has run (the benchmark checks: one per month and session).
engine_runs = 0


def _ensemble(text: str, runs: int, seed: int) -> Results:
    global engine_runs  # noqa: PLW0603
    engine_runs += 1
    return simulate(core.parse(text), runs=int(runs), seed=int(seed))


def cached(key: tuple, compute):
    """``compute()`` once per key across threads (an LRU of CACHE_SIZE entries)."""
    with _guard:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        with _guard:
            if key in _cache:
                return _cache[key]
        value = compute()
        with _guard:
            _cache[key] = value
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
            _locks.pop(key, None)
    return value


def prefetch(key: tuple, compute) -> bool:
    """Start ``cached(key, compute)`` in a background thread unless the value is cached or
    already being computed: what the teacher's next action will show is ready before it comes.
    True when a computation started."""
    with _guard:
        if key in _cache or key in _locks:
            return False
        _locks[key] = threading.Lock()
    threading.Thread(target=cached, args=(key, compute), daemon=True,
                     name="classroom-prefetch").start()
    return True


def warm_up() -> None:
    """Load the engine's compiled kernel (numba's on-disk cache) and the history scenario once,
    so that the first device of a fresh server does not wait for it."""
    text, _ = window(DEFAULT_START, 1)
    simulate(core.parse(text), runs=2, seed=0)


def _summarise(res: Results, m0: int, month: int, start: str, held: dict) -> State:
    step = m0 + month
    last = {}
    if month > 0:
        for a in spec.ACTORS:
            col = res.actions[:, step - 1, spec.ACTOR_INDEX[a]].astype(np.int64)
            counts = np.bincount(col, minlength=spec.N_ACTIONS)
            top = int(counts.argmax())
            forced = held.get(a) is not None
            last[a] = (spec.ACTIONS[top].name, float(counts[top] / res.runs),
                       "team" if forced else "model")
    return State(month=month, label=month_label(start, month),
                 trust=np.median(res.trust[:, step].astype(np.float64), axis=0),
                 aid=np.median(res.aid[:, step].astype(np.float64), axis=0),
                 route_open=float((res.supply_route_open[:, step] > 0.5).mean()),
                 last=last)


def state(session_id: int, month: int, start: str, length: int,
          moves: Sequence[tuple[int, str, str | None]], injects: Sequence[dict], runs: int,
          seed: int) -> State:
    """The state at the start of game month ``month`` (moves of earlier months applied)."""
    played = tuple(tuple(m) for m in moves if m[0] < month)
    key = ("state", session_id, month, start, length, played, _digest(injects), runs, seed)

    def compute() -> State:
        text = game_text(start, length, played, injects)
        _, m0 = window(start, length)
        held = {a: act for k, a, act in played if k == month - 1}
        return _summarise(_ensemble(text, runs, seed), m0, month, start, held)

    return cached(key, compute)


def _digest(injects: Sequence[dict]) -> str:
    return hashlib.sha1(json.dumps(list(injects), sort_keys=True).encode(),
                        usedforsecurity=False).hexdigest()


QUESTIONS = (("route_closed", ""), ("drones_off", ""), ("trust", "PAK_MIL->US"),
             ("trust", "US->PAK_MIL"), ("aid", "US->PAK_MIL"), ("state", "public_hostility"))


def outcome(session_id: int, start: str, length: int,
            moves: Sequence[tuple[int, str, str | None]], injects: Sequence[dict], runs: int,
            seed: int) -> list[str]:
    """The model's answers at the end: the class's world against the model playing all."""
    moves = tuple(tuple(m) for m in moves)
    end = month_label(start, length + AFTER - 1)
    key = ("outcome", session_id, start, length, moves, _digest(injects), runs, seed)

    def compute() -> list[str]:
        text = game_text(start, length, moves, injects)
        base_text = game_text(start, length, (), injects)
        base, res = _ensemble(base_text, runs, seed), _ensemble(text, runs, seed)
        table = S.compare_questions(base, res, [S.Question(k, start, end, s)
                                                for k, s in QUESTIONS],
                                    "the model's own play", "the class's play")
        return list(table["sentence"])

    return cached(key, compute)
