"""The session's rules, as pure functions: input checks, vote tallies, month resolution,
timeouts and the flood limit. No I/O: the service calls these before it stores anything, so a
refused input leaves the store untouched.
"""

from __future__ import annotations

import math
import re
import secrets
import string
import time
import unicodedata
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

#: Join codes: six characters without look-alikes (no 0/O, 1/I/L).
CODE_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "0O1IL")
CODE_LENGTH = 6
MAX_NAME = 24
MAX_PARTICIPANTS = 120
#: A join code stops working this long after the session was created.
CODE_LIFETIME_S = 24 * 3600
#: Flood limit: at most this many submissions per device in the window.
FLOOD_EVENTS = 12
FLOOD_WINDOW_S = 10.0
MODES = ("majority", "captain")
MAX_TEAMS = 5


class ClassroomError(ValueError):
    """An input the session refuses; the message is shown on the device that sent it."""


# ------------------------------------------------------------------------------ identities
def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def new_token() -> str:
    return secrets.token_urlsafe(24)


def normalise_code(code: object) -> str:
    """An upper-case join code; ClassroomError when it cannot be one."""
    text = str(code or "").strip().upper().replace(" ", "").replace("-", "")
    if len(text) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in text):
        raise ClassroomError(f"{str(code)[:20]!r} is not a join code: a code has "
                             f"{CODE_LENGTH} letters and digits, as shown on the teacher's screen")
    return text


def clean_name(name: object) -> str:
    """A display name: trimmed, NFC, no control or format characters, at most MAX_NAME."""
    text = unicodedata.normalize("NFC", str(name or "")).strip()
    if not text:
        raise ClassroomError("type a name (or ask the teacher for an anonymous session)")
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise ClassroomError("the name contains control characters; use letters, digits and "
                             "spaces")
    if len(text) > MAX_NAME:
        raise ClassroomError(f"the name is too long ({len(text)} characters; at most "
                             f"{MAX_NAME})")
    return re.sub(r"\s+", " ", text)


def name_key(name: str) -> str:
    """What two names must not share in one session (case and width folded)."""
    return unicodedata.normalize("NFKC", name).casefold()


def check_code_alive(state: str, created: float, now: float) -> None:
    if state == "ended":
        raise ClassroomError("this session has ended; ask the teacher for the new code")
    if now - created > CODE_LIFETIME_S:
        raise ClassroomError("this join code has expired; ask the teacher for a new one")


# ------------------------------------------------------------------------------- lessons
def check_prediction(value: object, lo: float, hi: float) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ClassroomError(f"{str(value)[:20]!r} is not a number") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        raise ClassroomError(f"a prediction must lie between {lo:g} and {hi:g}")
    return v


# --------------------------------------------------------------------------------- games
@dataclass(frozen=True)
class Team:
    id: int
    name: str
    actor: str
    captain: int | None = None


@dataclass(frozen=True)
class Move:
    """A team's move in one month: ``action`` None means the model played the actor's rule."""

    team: int
    actor: str
    action: str | None
    by: str          # 'captain', 'majority', 'unanimous' or 'model'
    counts: dict


def check_vote(*, team: Team | None, voted_team: object, month: object, current: int,
               state: str, paused: bool, action: str, repertoire: Sequence[str]) -> int:
    """The month of a valid vote; ClassroomError saying why a vote is refused."""
    if team is None:
        raise ClassroomError("you are not in a team yet; the teacher assigns the teams")
    try:
        voted, month_i = int(voted_team), int(month)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ClassroomError("a vote names a team and a month") from None
    if voted != team.id:
        raise ClassroomError("you can only vote for your own team's move")
    if state == "ended":
        raise ClassroomError("the game has ended")
    if paused:
        raise ClassroomError("the teacher has paused the game; wait a moment")
    if state != "open":
        raise ClassroomError("moves are not open right now")
    if month_i != current:
        raise ClassroomError("that month has closed; the game has moved on")
    if action not in repertoire:
        raise ClassroomError(f"{str(action)[:30]!r} is not a move of {team.actor}")
    return month_i


def tally(votes: Iterable[tuple[int, str]]) -> tuple[str | None, dict]:
    """(winning action, counts) of (participant, action) votes; a tie goes to the action voted
    first, so the result never depends on dictionary order."""
    votes = list(votes)
    counts = Counter(a for _, a in votes)
    if not counts:
        return None, {}
    best = max(counts.values())
    first = next(a for _, a in votes if counts[a] == best)
    return first, dict(counts)


def team_ready(team: Team, members: Sequence[int], votes: Mapping[int, str], mode: str) -> bool:
    """Has the team made its move (without waiting for the timer)?"""
    if mode == "captain" and team.captain is not None:
        return team.captain in votes
    return bool(members) and all(m in votes for m in members)


def resolve(team: Team, votes: Sequence[tuple[int, str]], mode: str) -> Move:
    """A team's move from its votes (in the order cast): the captain's vote in captain mode,
    otherwise the majority; no vote at all, the model plays the actor's own rule."""
    action, counts = tally(votes)
    if mode == "captain" and team.captain is not None:
        mine = [a for p, a in votes if p == team.captain]
        if mine:
            return Move(team.id, team.actor, mine[-1], "captain", counts)
    if action is None:
        return Move(team.id, team.actor, None, "model", counts)
    by = "unanimous" if len(counts) == 1 else "majority"
    return Move(team.id, team.actor, action, by, counts)


def timed_out(opened: float | None, timer_s: float, now: float, paused: bool) -> bool:
    return bool(timer_s) and opened is not None and not paused and now - opened >= timer_s


def check_teams(actors: Sequence[str], known: Sequence[str]) -> list[str]:
    actors = list(actors)
    if not 1 <= len(actors) <= MAX_TEAMS:
        raise ClassroomError(f"a game has one to {MAX_TEAMS} teams")
    if len(set(actors)) != len(actors):
        raise ClassroomError("two teams cannot play the same actor")
    bad = [a for a in actors if a not in known]
    if bad:
        raise ClassroomError(f"unknown actor(s) {bad}")
    return actors


def smallest_team(sizes: Mapping[int, int]) -> int:
    """The team a newcomer joins: the smallest, the first of equals."""
    return min(sizes, key=lambda t: (sizes[t], t))


# ----------------------------------------------------------------------------- flood limit
class FloodLimit:
    """At most ``events`` submissions per key in any ``window`` seconds (kept in memory)."""

    def __init__(self, events: int = FLOOD_EVENTS, window: float = FLOOD_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.events, self.window, self.clock = events, window, clock
        self._seen: dict[str, deque] = {}

    def check(self, key: str) -> None:
        now = self.clock()
        q = self._seen.setdefault(key, deque())
        while q and now - q[0] > self.window:
            q.popleft()
        if len(q) >= self.events:
            raise ClassroomError("too many submissions from this device; wait a few seconds")
        q.append(now)
