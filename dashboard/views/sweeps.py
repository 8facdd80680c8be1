"""Sweeps: open a sweep results folder (or run a small sweep here); sensitivity indices with
intervals and outcome-vs-parameter scatter plots."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import charts, core, sweeps, ui
from model.core import params as P
from model.io.errors import ModelInputError
from model.io.paths import ROOT

st.title("Sweeps")
ui.markdown_file("sweeps.md")


@st.cache_data(max_entries=8, show_spinner=False)
def open_folder(path: str, stamp: float) -> sweeps.Sweep:
    """Load a results folder (``stamp``: its modification time, so new parts are seen)."""
    del stamp
    return sweeps.load(path)


@st.cache_data(max_entries=8, show_spinner=False)
def run_small(text: str, names: tuple[str, ...], n: int, seed: int,
              method: str) -> sweeps.SmallSweep:
    return sweeps.small_sweep(core.parse(text), names, n, seed, method)


def show(frame: pd.DataFrame, params: list[str], outcomes: list[str],
         sens: pd.DataFrame | None, prefix: str, note: str) -> None:
    """Sensitivity bars and the scatter of one outcome against one parameter."""
    out = st.selectbox("Outcome", outcomes, key=f"{prefix}_outcome")
    left, right = st.columns([1, 1])
    with left:
        table = None
        if sens is not None and not sens.empty:
            table = sens[sens["outcome"] == out] if out in set(sens["outcome"]) else None
            if table is None or table.empty:
                st.caption(f"The folder's sensitivity tables do not cover {out}; a quick "
                           "rank-correlation screening is shown instead.")
                table = None
        if table is None:
            table = sweeps.rank_sensitivity(frame, params, out)
            note = "Spearman rank correlation with a bootstrap 90% interval (a screening)."
        ui.plot(charts.sensitivity_bars(table, title=f"Sensitivity of {out}"),
                key=f"{prefix}_sens")
        st.caption(note)
    with right:
        c1, c2 = st.columns(2)
        x = c1.selectbox("Parameter", params, key=f"{prefix}_x")
        colour = c2.selectbox("Colour by", ["(none)", *[p for p in params if p != x]],
                              key=f"{prefix}_colour")
        ui.plot(charts.sweep_scatter(frame, x, out, None if colour == "(none)" else colour,
                                     title=f"{out} against {x}"), key=f"{prefix}_scatter")
    with st.expander("The table (one row per run)"):
        st.dataframe(frame, hide_index=True, key=f"{prefix}_frame", height=300)


mode = st.radio("Source", ["open a results folder", "run a small sweep here"],
                horizontal=True, key="sw_mode", persist_state="session")

if mode == "open a results folder":
    found = [str(p.relative_to(ROOT)) for p in sweeps.find_folders()]
    c1, c2 = st.columns([1, 2])

    def _use_found() -> None:
        pick = st.session_state.get("sw_found")
        if pick and pick != "(type a path)":
            st.session_state["sw_path"] = pick

    if found:
        c1.selectbox("Folders found", ["(type a path)", *found], key="sw_found",
                     on_change=_use_found)
    else:
        c1.caption("No sweep folders under results/, out/ or sweeps/ yet. Write one with "
                   "`python -m model sweep scenarios/sweeps/baseline_lhs.yaml --out "
                   "out/baseline_lhs`.")
    typed = c2.text_input("Results folder", key="sw_path", placeholder="out/baseline_lhs",
                          persist_state="session",
                          help="Relative to the repository, or absolute.")
    if not typed.strip():
        st.info("Enter the path of a sweep results folder.")
        st.stop()
    target = Path(typed.strip()).expanduser()
    target = target if target.is_absolute() else ROOT / target
    try:
        stamp = max((f.stat().st_mtime for f in target.rglob("*")), default=0.0) \
            if target.is_dir() else 0.0
    except OSError:
        stamp = 0.0
    try:
        sw = open_folder(str(target), stamp)
    except ModelInputError as exc:
        ui.show_error(f"error: {exc}", "This folder cannot be opened as sweep results")
        st.stop()
    man = sw.manifest
    st.success(f"**{man.get('name', sw.path.name)}** — {len(sw.frame):,} runs, "
               f"{len(sw.parameters)} parameters, {len(sw.outcomes)} outcomes"
               + (f"; sampler {man['sampler']}" if man.get("sampler") else "")
               + (f"; scenario {man['scenario_name']}" if man.get("scenario_name") else ""))
    if man:
        with st.expander("manifest.json"):
            st.json(man, expanded=False)
    note = ("Indices from the folder's analysis tables (bars: estimate; whiskers: confidence "
            "interval)." if sw.sensitivity is not None else "")
    show(sw.frame, sw.parameters, sw.outcomes, sw.sensitivity, "swf", note)
else:
    names = list(P.table())
    c1, c2, c3, c4 = st.columns([3, 1, 1, 1], vertical_alignment="bottom")
    chosen = c1.multiselect("Parameters to vary (over their full bounds)", names,
                            default=["aid_compliance", "sovereignty_weight", "india_penalty"],
                            key="sw_params", max_selections=8)
    method = c2.selectbox("Sampler", ["lhs", "sobol"], key="sw_method",
                          help="lhs: Latin hypercube, Spearman rank correlations; sobol: "
                               "Saltelli's scheme, first-order and total Sobol indices with "
                               "bootstrap intervals (N x (parameters + 2) runs).")
    n = c3.select_slider("Points (N)", options=[16, 32, 64, 128, 256], value=64, key="sw_n")
    seed = c4.number_input("Seed", min_value=0, max_value=core.MAX_SEED, value=0, key="sw_seed")
    scen = st.selectbox("Scenario", list(core.shipped()), key="sw_scenario")
    if st.button("Run the sweep", type="primary", key="sw_run"):
        st.session_state["sw_job"] = (core.shipped_text(scen), tuple(chosen), int(n),
                                      int(seed), method)
    job = st.session_state.get("sw_job")
    if not job:
        st.info("Choose parameters and press **Run the sweep** (one run per point).")
        st.stop()
    try:
        with st.spinner("Running the sweep …"):
            small = run_small(*job)
    except ModelInputError as exc:
        ui.show_error(f"error: {exc}", "This sweep cannot be run")
        st.stop()
    st.success(f"{len(small.frame):,} runs ({small.method}, via {small.engine}); "
               f"parameters {', '.join(small.parameters)}.")
    note = ("Sobol indices (S1 first order, ST total) with bootstrap confidence intervals."
            if small.method == "sobol" else
            "Spearman rank correlation of each parameter with the outcome.")
    show(small.frame, small.parameters, small.outcomes, small.sensitivity, "sws", note)
