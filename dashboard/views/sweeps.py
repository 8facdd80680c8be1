"""Sweeps: open a sweep results folder (or run a small sweep here); sensitivity indices with
their confidence intervals and outcome-vs-parameter scatter plots.

Folders are chosen from a list of those under the server's results roots (``out/`` by default;
``dashboard.sweeps.results_roots``): nothing else can be opened from this page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import charts, core, sweeps, ui
from model.core import params as P
from model.engine import paramsets
from model.io.errors import ModelInputError

st.title("Sweeps")
ui.markdown_file("sweeps.md")


@st.cache_data(max_entries=2, show_spinner=False)
def open_folder(name: str, stamp: float, roots: tuple[tuple[str, str], ...]) -> sweeps.Sweep:
    """Load a listed results folder (``stamp``: when it last changed, so new parts are seen;
    ``roots``: the results roots, part of the key)."""
    del stamp
    return sweeps.load(name, {k: Path(v) for k, v in roots})


@st.cache_data(max_entries=4, show_spinner=False)
def run_small(text: str, names: tuple[str, ...], n: int, seed: int,
              method: str) -> sweeps.SmallSweep:
    return sweeps.small_sweep(core.parse(text), names, n, seed, method)


def _interval_table(table: pd.DataFrame) -> None:
    """The indices with their confidence intervals (and the analysis's caveats), as numbers."""
    cols = [c for c in ("parameter", "index", "value", "lo", "hi", "caveat") if c in table]
    with st.expander("The indices with their confidence intervals"):
        st.dataframe(table[cols].sort_values(["index", "value"], ascending=[True, False]),
                     hide_index=True, width="stretch",
                     column_config={"value": st.column_config.NumberColumn("estimate",
                                                                           format="%.3f"),
                                    "lo": st.column_config.NumberColumn("CI low", format="%.3f"),
                                    "hi": st.column_config.NumberColumn("CI high",
                                                                        format="%.3f")})


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
            if len(frame) < sweeps.MIN_SCREENING_RUNS:
                st.warning(f"Only {len(frame)} runs: too few for rank correlations to mean "
                           f"much (their intervals are wide); use at least "
                           f"{sweeps.MIN_SCREENING_RUNS}.")
        ui.plot(charts.sensitivity_bars(table, title=f"Sensitivity of {out}"),
                key=f"{prefix}_sens")
        st.caption(note)
        _interval_table(table)
    with right:
        c1, c2 = st.columns(2)
        x = c1.selectbox("Parameter", params, key=f"{prefix}_x")
        colour = c2.selectbox("Colour by", ["(none)", *[p for p in params if p != x]],
                              key=f"{prefix}_colour")
        shown = frame
        if len(frame) > sweeps.MAX_SCATTER_POINTS:
            shown = frame.sample(sweeps.MAX_SCATTER_POINTS, random_state=0)
            st.caption(f"A random {sweeps.MAX_SCATTER_POINTS:,} of the {len(frame):,} runs.")
        ui.plot(charts.sweep_scatter(shown, x, out, None if colour == "(none)" else colour,
                                     title=f"{out} against {x}"), key=f"{prefix}_scatter")
    with st.expander("The table (one row per run)"):
        if len(frame) > sweeps.MAX_TABLE_ROWS:
            st.caption(f"The first {sweeps.MAX_TABLE_ROWS:,} of {len(frame):,} runs.")
        st.dataframe(frame.head(sweeps.MAX_TABLE_ROWS), hide_index=True, key=f"{prefix}_frame",
                     height=300)


def params_line(text: str | None) -> None:
    """Where the parameters a sweep does not vary come from."""
    if text:
        st.markdown(f"**Parameters not varied:** {text} (as in the History, What-if and "
                    "Compare pages, unless the sweep was run with `--params default`).")
    else:
        st.markdown("**Parameters not varied:** not recorded in this folder's manifest (sweeps "
                    "written before the posterior became the default used the parameter "
                    "table's defaults).")


def notes(lines: list[str]) -> None:
    """The analysis's warnings (a sample too small for its indices, flagged indices)."""
    for line in lines:
        text = line.removeprefix("warning: ")
        st.warning(text[:1].upper() + text[1:])


mode = st.radio("Source", ["open a results folder", "run a small sweep here"],
                horizontal=True, key="sw_mode", persist_state="session")

if mode == "open a results folder":
    roots = sweeps.results_roots()
    where = " or ".join(f"`{k}`" for k in roots)
    found = sweeps.find_folders(roots)
    if not found:
        st.info(f"No sweep results folder under {where} yet. Write one with `python -m model "
                "sweep scenarios/sweeps/baseline_lhs.yaml --out out/baseline_lhs`.")
        st.stop()
    pick = st.selectbox("Results folder", found, key="sw_folder", persist_state="session",
                        help=f"The folders under {where} that hold a manifest.json. The page "
                             "reads results from there only.")
    try:
        sw = open_folder(pick, sweeps.stamp(pick, roots),
                         tuple((k, str(v)) for k, v in roots.items()))
    except ModelInputError as exc:
        ui.show_error(f"error: {exc}", "This folder cannot be opened as sweep results")
        st.stop()
    man = sw.manifest
    st.success(f"**{man.get('name', sw.name)}** — {len(sw.frame):,} runs, "
               f"{len(sw.parameters)} parameters, {len(sw.outcomes)} outcomes"
               + (f"; sampler {man['sampler']}" if man.get("sampler") else "")
               + (f"; scenario {man['scenario_name']}" if man.get("scenario_name") else ""))
    params_line(sw.params_text)
    notes(sw.notes)
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
    st.caption("The parameters not varied are drawn for each run from the calibrated posterior, "
               "as on the other pages." if paramsets.posterior_exists() else
               "No calibrated posterior is shipped: the parameters not varied take the "
               "parameter table's defaults.")
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
    params_line(small.params_text)
    notes(small.notes)
    note = ("Sobol indices (S1 first order, ST total) with bootstrap confidence intervals."
            if small.method == "sobol" else
            "Spearman rank correlation of each parameter with the outcome.")
    show(small.frame, small.parameters, small.outcomes, small.sensitivity, "sws", note)
