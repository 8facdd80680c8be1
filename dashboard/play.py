"""Play as an actor: the class chooses one actor's action each month, the model plays the rest.

The class's choices become interventions of the scenario (``force`` the actor's action in that
month), so every run of the ensemble sees the same choices and the other four actors react to
them with their own rules; before and after the game the actor decides by its own rule again.
The game is an ordinary scenario: its YAML can be downloaded and rerun with the CLI.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard import core
from model.core import spec
from model.engine.runner import Results
from model.inputs.scenario import month_index, month_label
from model.io.errors import ModelInputError


def repertoire(actor: str) -> list[spec.Action]:
    """The actions an actor can choose, status quo first."""
    lo, hi = spec.ACTOR_ACTIONS[actor]
    return list(spec.ACTIONS[lo:hi])


def game_text(text: str, actor: str, start: str, choices: tuple[str, ...]) -> str:
    """The scenario with the class's moves as month-long ``force`` interventions."""
    sc = core.parse(text)
    if actor not in spec.ACTOR_INDEX:
        raise ModelInputError(f"unknown actor {actor!r}")
    m0 = month_index(sc.start, start)
    if m0 < 0 or m0 + len(choices) > sc.months:
        raise ModelInputError(f"the moves from {start} ({len(choices)} months) do not fit in "
                              f"the scenario window {sc.start} .. "
                              f"{month_label(sc.start, sc.months - 1)}")
    for name in choices:
        idx = spec.ACTION_INDEX.get(name)
        if idx is None or spec.ACTIONS[idx].actor != actor:
            raise ModelInputError(f"{name!r} is not an action of {actor}")
    moves = [{"from": month_label(start, k), "to": month_label(start, k), "actor": actor,
              "force": name, "note": "the class's move"} for k, name in enumerate(choices)]
    return core.edited(text, interventions=moves or None)


def forced_results(text: str, actor: str, start: str, choices: tuple[str, ...], runs: int,
                   seed: int) -> Results:
    """An ensemble in which ``actor`` takes ``choices`` (action names) in the months from
    ``start`` on; run i uses the same random stream as run i of the unchanged scenario."""
    return core.ensemble(game_text(text, actor, start, choices), runs, seed)


def others_moves(res: Results, month: int, actor: str) -> pd.DataFrame:
    """What the other actors did in month ``month`` (index from the scenario start): each one's
    most frequent action across runs, its share and its help text."""
    rows = []
    for a in spec.ACTORS:
        if a == actor:
            continue
        col = res.actions[:, month, spec.ACTOR_INDEX[a]].astype(np.int64)
        counts = np.bincount(col, minlength=spec.N_ACTIONS)
        top = int(counts.argmax())
        rows.append({"actor": a, "most runs": spec.ACTIONS[top].name,
                     "share of runs": counts[top] / res.runs,
                     "what it means": spec.ACTIONS[top].help})
    return pd.DataFrame(rows)


def state_at(res: Results, step: int) -> dict[str, float]:
    """Median trust matrix, aid and the supply-route share at one step (for the picture)."""
    return {
        "trust": np.median(res.trust[:, step].astype(np.float64), axis=0),
        "aid": np.median(res.aid[:, step].astype(np.float64), axis=0),
        "route_open": float((res.supply_route_open[:, step] > 0.5).mean()),
    }
