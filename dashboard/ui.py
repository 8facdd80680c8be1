"""Small Streamlit helpers shared by the pages (layout only; no computation)."""

from __future__ import annotations

import hashlib

import plotly.graph_objects as go
import streamlit as st

from dashboard import core

RUN_CHOICES = (20, 50, 100, 200, 500, 1000)
PLOT_CONFIG = {"displaylogo": False, "responsive": True,
               "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def plot(fig: go.Figure, key: str) -> None:
    """Draw a figure with the dashboard's own colours (not Streamlit's theme)."""
    st.plotly_chart(fig, theme=None, key=key, config=PLOT_CONFIG)


def ensemble_controls(prefix: str, where=None, runs: int = core.DEFAULT_RUNS
                      ) -> tuple[int, int]:
    """Ensemble size and master seed widgets; returns (runs, seed)."""
    box = where if where is not None else st.sidebar
    n = box.select_slider("Runs in the ensemble", options=RUN_CHOICES, value=runs,
                          key=f"{prefix}_runs", persist_state="session",
                          help="How many runs of the model, each with its own random stream. "
                               "Bands show the 5–95% range across runs.")
    seed = box.number_input("Master seed", min_value=0, max_value=core.MAX_SEED,
                            value=core.DEFAULT_SEED, step=1, key=f"{prefix}_seed",
                            persist_state="session",
                            help="Same seed, same numbers. Run i always uses stream i of it.")
    return int(n), int(seed)


def show_error(message: str, title: str = "This input cannot be used") -> None:
    """A located error, as the command line prints it, in a red box."""
    st.error(f"**{title}**\n\n```text\n{message}\n```")


def short_hash(text: str) -> str:
    """An 8-character id of a text (widget keys that must change with the scenario)."""
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]


def markdown_file(name: str) -> None:
    """Render a prose file from ``dashboard/content``."""
    st.markdown(core.escape_money(core.content(name)))
