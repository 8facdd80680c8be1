"""Small Streamlit helpers shared by the pages (layout only; no computation), and the
dashboard's error boundary (``run_guarded``)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pyarrow as pa
import streamlit as st
import yaml

from dashboard import core
from model.io import access
from model.io.errors import ModelInputError

LOG = logging.getLogger("dashboard")
#: Errors in the data a page reads (a table, a YAML or JSON file, a Parquet part).
DATA_ERRORS = (pd.errors.ParserError, pd.errors.EmptyDataError, pa.ArrowException,
               json.JSONDecodeError, UnicodeDecodeError, yaml.YAMLError)
#: The title of the message shown for an error the boundary did not expect.
UNEXPECTED = "Something went wrong on this page"

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
    """A located error, as the command line prints it, in a red box (project files named
    relative to the project: the server's own folders are not shown)."""
    message = str(message).replace(str(core.ROOT) + os.sep, "")
    st.error(f"**{title}**\n\n```text\n{message}\n```")


#: The anchor of the Classroom's answer ("What the model says").
ANSWER_ANCHOR = "the-models-answer"


def scroll_to(anchor: str) -> None:
    """Scroll the page so that the element with this anchor (a heading's ``anchor=``) is at the
    top of the window: a revealed answer must not land below the fold of a projector
    (1024x768). Runs once, where it is called. (No '<' or '>' in the script: Streamlit drops
    a script that holds them.)"""
    st.html("<script>(function(){var n=0;function go(){var e=document.getElementById("
            f"{anchor!r});if(e){{e.scrollIntoView({{block:'start'}});}}"
            "n+=1;if(n!==6){setTimeout(go,250);}}setTimeout(go,100);})();</script>",
            unsafe_allow_javascript=True)


def short_hash(text: str) -> str:
    """An 8-character id of a text (widget keys that must change with the scenario)."""
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]


def markdown_file(name: str) -> None:
    """Render a prose file from ``dashboard/content``."""
    st.markdown(core.escape_money(core.content(name)))


# ------------------------------------------------------------------------ error boundary
def shown_path(path: str | os.PathLike | None) -> str:
    """A file as a message may name it: relative to the project when inside it, else only its
    name (a server path outside the project is never shown)."""
    if not path:
        return "a file"
    p = Path(os.fsdecode(path))
    try:
        return p.resolve().relative_to(core.ROOT).as_posix()
    except (ValueError, OSError):
        return p.name or "a file"


def failure(exc: BaseException) -> tuple[str, str]:
    """(title, message) for an error that reached the boundary: what happened, naming the file
    as ``shown_path`` does, and what to do."""
    if isinstance(exc, ModelInputError):
        return "This input cannot be used", (f"error: {exc}\n\nFix the file named above (or "
                                             "choose another) and try again.")
    if isinstance(exc, OSError):
        err = access.explain_os_error(exc, shown_path(exc.filename), action="read")
        return "A file could not be read", (f"error: {err}\n\nReload the page; if it happens "
                                            "again, tell whoever runs this dashboard.")
    if isinstance(exc, MemoryError):
        return "Not enough memory for this request", (
            "error: the server ran out of memory. Use fewer runs, or run the scenario from "
            "the command line: python -m model run FILE --runs N --out runs.parquet")
    if isinstance(exc, DATA_ERRORS):
        mark = getattr(exc, "problem_mark", None)
        where = getattr(exc, "filename", None) or getattr(mark, "name", None)
        what = f"{shown_path(where)}: its data" if where else "a data file the page reads"
        detail = str(exc).replace(str(core.ROOT) + os.sep, "")[:300]
        return "A data file could not be read", (
            f"error: {what} cannot be read ({type(exc).__name__}: {detail}).\n\nCheck or "
            "regenerate the file, then reload the page.")
    return UNEXPECTED, (f"error: {type(exc).__name__}. The details are in the server's log. "
                        "Reload the page; if it happens again, report what you did.")


def run_guarded(page) -> None:
    """Run a page; an error it raises becomes a message (``failure``), never a traceback.
    Streamlit's own stop and rerun signals are not errors and pass through."""
    try:
        page.run()
    except Exception as exc:  # the boundary: every error becomes a message
        LOG.exception("error on a dashboard page")
        title, message = failure(exc)
        show_error(message, title)
