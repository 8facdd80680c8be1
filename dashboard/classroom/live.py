"""What the student page and the console share: the one service of the server process, the
polling interval, and the pictures (the reveal histogram, the game's network)."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable

import plotly.graph_objects as go
import streamlit as st

from dashboard import charts
from dashboard.classroom import game
from dashboard.classroom.service import Classroom

#: Seconds between two polls of a device (``st.fragment(run_every=...)``); the environment
#: variable ``AFPAK_CLASSROOM_POLL`` overrides it.
POLL_S = float(os.environ.get("AFPAK_CLASSROOM_POLL", "2"))


@st.cache_resource(show_spinner=False)
def service() -> Classroom:
    """The classroom service of this server (one store, one cache, every session); the engine's
    kernel loads in the background as it starts."""
    threading.Thread(target=game.warm_up, daemon=True, name="classroom-warm-up").start()
    return Classroom()


#: Figures drawn for devices, shared: 40 devices polling every 2 s would otherwise build the same
#: plotly figure 20 times a second (about 30 ms each, under the one interpreter lock).
FIGURES = 256
_figures: OrderedDict = OrderedDict()
_figures_lock = threading.Lock()


def shared_figure(owner: object, key: tuple, build: Callable[[], go.Figure]) -> go.Figure:
    """``build()`` once per (``owner``, ``key``) (an LRU of FIGURES entries). ``owner`` is the
    cached object the figure draws (a game state, a lesson's answer): each entry holds it, so its
    ``id`` cannot be reused while the entry lives. Streamlit only reads a figure it is given
    (``st.plotly_chart`` serialises it), so one object serves every device."""
    full = (id(owner), *key)
    with _figures_lock:
        if full in _figures:
            _figures.move_to_end(full)
            return _figures[full][1]
    fig = build()
    with _figures_lock:
        _figures[full] = (owner, fig)
        while len(_figures) > FIGURES:
            _figures.popitem(last=False)
    return fig


def reveal_figure(values: list[float], lo: float, hi: float, unit: str, answer,
                  mine: float | None = None, height: int = 340) -> go.Figure:
    """The class's predictions against the model's runs, the student's own marked."""
    fig = charts.poll_histogram(values, lo, hi, unit, model_values=answer.per_run,
                                model_share=answer.share,
                                title="The class and the model")
    if mine is not None:
        fig.add_vline(x=mine, line={"color": "black", "width": 3, "dash": "dot"},
                      annotation_text=f"you: {mine:g}{unit}", annotation_position="bottom right")
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      legend={"orientation": "h", "y": -0.25})
    return fig


def network_figure(state, focus: str | None, height: int = 420) -> go.Figure:
    acts = {a: f"{act} ({by})" for a, (act, _share, by) in state.last.items()}
    fig = charts.network(state.trust, state.aid, acts or None,
                         title=f"Start of {state.label}", focus=focus, height=height)
    fig.update_layout(margin={"l": 5, "r": 5, "t": 40, "b": 5})
    return fig
