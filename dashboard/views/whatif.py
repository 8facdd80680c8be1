"""What-if: build a scenario from a shipped one or an uploaded file, run an ensemble, compare
it with the replayed history, download the scenario and the results."""

from __future__ import annotations

import math

import streamlit as st

from dashboard import charts, core, ui
from model.core import params as P
from model.core import spec
from model.io.errors import ModelInputError

st.title("What-if")
ui.markdown_file("whatif.md")

# --------------------------------------------------------------------------- base scenario
names = list(core.shipped())
c1, c2 = st.columns([1, 2])
src = c1.radio("Start from", ["a shipped scenario", "a scenario file"], key="wi_src",
               horizontal=False, persist_state="session")
if src == "a shipped scenario":
    base_name = c2.selectbox("Scenario", names, index=names.index(core.HISTORY), key="wi_base",
                             help="The YAML files in scenarios/.", persist_state="session")
    base_text = core.shipped_text(base_name)
else:
    up = c2.file_uploader("Scenario file (YAML)", type=["yaml", "yml"], key="wi_upload",
                          help="A scenario in the format of scenarios/*.yaml. It is checked "
                               "exactly as `python -m model run FILE` checks it.")
    if up is None:
        st.info("Upload a scenario file, or start from a shipped scenario.")
        st.stop()
    base_text, err = core.check_upload(up.name, up.getvalue())
    if err:
        ui.show_error(err, f"{up.name} is not a runnable scenario")
        st.info("Fix the file and upload it again, or start from a shipped scenario. "
                "Nothing was run or saved.")
        st.stop()
    base_name = up.name.rsplit(".", 1)[0]
sc = core.parse(base_text)
bid = ui.short_hash(base_text)
c2.caption(f"**{sc.name}** — {sc.start}, {sc.months} months. {sc.description}")
notes = getattr(sc, "teacher_notes", None) or {}
if notes:
    with c2.expander("Teacher notes of this scenario"):
        for k, v in notes.items():
            st.markdown(f"**{k.replace('_', ' ').capitalize()}.** {core.escape_money(v)}")

tab_par, tab_shock, tab_event, tab_window = st.tabs(
    ["Parameters", "Documented shocks", "Add an event", "Window"])

# ------------------------------------------------------------------------------ parameters
groups = core.param_groups()


def _base_value(p) -> float:
    return float(sc.params.get(p.name, p.default))


def _pkey(name: str) -> str:
    return f"wp_{bid}_{name}"


with tab_par:
    g = st.selectbox("Mechanism group", list(groups), key="wi_group", persist_state="session",
                     format_func=lambda k: f"{k.replace('_', ' ')} ({len(groups[k])})",
                     help="The parameter table, by the mechanism each parameter belongs to.")
    cols = st.columns(2)
    for k, p in enumerate(groups[g]):
        step = core.param_step(p)
        digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0
        cols[k % 2].slider(
            f"{p.name} ({p.unit})", min_value=float(p.lo), max_value=float(p.hi),
            value=_base_value(p), step=step, format=f"%.{digits}f", key=_pkey(p.name),
            persist_state="session",
            help=f"{p.help}\n\nDefault {p.default:g}, bounds [{p.lo:g}, {p.hi:g}] {p.unit}. "
                 f"{core.param_source(p)}\n\n{P.calibrated_from(p.name)}")

changed: dict[str, float] = {}
for plist in groups.values():
    for p in plist:
        v = st.session_state.get(_pkey(p.name))
        if v is not None and not math.isclose(float(v), _base_value(p), rel_tol=1e-9,
                                              abs_tol=1e-12):
            changed[p.name] = float(v)


def _reset_params() -> None:
    for plist in groups.values():
        for p in plist:
            st.session_state.pop(_pkey(p.name), None)


with tab_par:
    if changed:
        st.markdown("**Changed from the scenario:** " + ", ".join(
            f"`{k}` = {v:g}" for k, v in changed.items()))
        st.button("Reset all parameters", key="wi_reset", on_click=_reset_params)

# ---------------------------------------------------------------------------------- shocks
use_catalog = None
exclude: list[str] = []
severity: dict[str, float] = {}
with tab_shock:
    if sc.catalog is None:
        st.info("This scenario does not use the documented shocks of the event catalog.")
        use_catalog = st.toggle("Add the documented shocks", value=False, key=f"ws_{bid}_use")
    if sc.catalog is not None or use_catalog:
        shocks = core.shocks_in(base_text)
        if shocks.empty:
            st.caption("No documented shock falls inside this scenario's window.")
        base_sev = dict(sc.catalog.severity) if sc.catalog else {}
        base_exc = set(sc.catalog.exclude) if sc.catalog else set()
        removed = core.removed_by_edits(sc)
        st.caption("Untick a shock to leave it out; severity 1 is one ordinary act of its type.")
        if sc.branch:
            st.info(f"This scenario branches from the one it extends in **{sc.branch}**: its runs "
                    f"are the parent's until then, so the shocks before {sc.branch} cannot be "
                    f"left out or resized here (that would have no effect). Change them in the "
                    f"scenario it extends, or start from it.", icon=":material/call_split:")
        if removed & set(shocks["id"]):
            st.caption("Removed by this scenario's own edits: "
                       + ", ".join(sorted(removed & set(shocks["id"]))) + ".")
        for r in shocks[~shocks["id"].isin(removed)].itertuples():
            fixed = core.before_branch(sc, r.month)
            a, b, c = st.columns([4, 1, 1])
            on = a.checkbox(f"**{r.month}** {r.id} — {r.actor} → {r.target}, *{r.event_type}*",
                            value=r.id not in base_exc, key=f"ws_{bid}_{r.id}_on",
                            help=f"“{r.quote}” ({r.outlet})"
                                 + (f"\n\nBefore the branch month {sc.branch}: the parent's."
                                    if fixed else ""),
                            persist_state="session", disabled=fixed)
            sev = b.number_input("severity", min_value=0.0, max_value=100.0,
                                 value=float(base_sev.get(r.id, 1.0)), step=0.5,
                                 key=f"ws_{bid}_{r.id}_sev", label_visibility="collapsed",
                                 persist_state="session", disabled=fixed or not on)
            c.caption(f"Goldstein {r.goldstein:+.0f}" + (" · before the branch" if fixed else ""))
            if fixed:
                continue
            if not on and r.id not in base_exc:
                exclude.append(r.id)
            if on and not math.isclose(sev, base_sev.get(r.id, 1.0)):
                severity[r.id] = float(sev)

# ------------------------------------------------------------------------------ add event
ev_key = f"wi_events_{bid}"
added: list[dict] = st.session_state.setdefault(ev_key, [])
with tab_event, st.form("wi_add_event", clear_on_submit=False):
    st.caption("An exogenous event entering the run in its month, like the shocks of the "
               "catalog. Give an action of the actor (its CAMEO type follows) or a CAMEO "
               "code, and optionally a direct effect on a state variable.")
    f1, f2, f3 = st.columns(3)
    ev_id = f1.text_input("Id", value=f"my_event_{len(added) + 1}", key="wi_ev_id")
    ev_date = f2.text_input("Month (YYYY-MM)", value="2011-08", key="wi_ev_date")
    ev_actor = f3.selectbox("Actor", core.ALL_ACTORS, key="wi_ev_actor")
    f4, f5, f6 = st.columns(3)
    act_names = ["(none)", *[a.name for a in spec.ACTIONS]]
    ev_action = f4.selectbox("Action", act_names, key="wi_ev_action",
                             help="Must be an action of the chosen actor.")
    ev_cameo = f5.text_input("or CAMEO code", value="", key="wi_ev_cameo",
                             help="Used when no action is chosen, e.g. 195 (air strike).")
    ev_target = f6.selectbox("Target", ["(none)", *core.ALL_ACTORS], key="wi_ev_target")
    f7, f8, f9, f10 = st.columns(4)
    ev_sev = f7.number_input("Severity", min_value=0.0, max_value=100.0, value=1.0, step=0.5,
                             key="wi_ev_sev")
    ev_var = f8.selectbox("Effect on", ["(none)", *[v.name for v in spec.STATE_VARS]],
                          key="wi_ev_var")
    ev_mode = f9.selectbox("Effect", ["set", "add"], key="wi_ev_mode")
    ev_val = f10.number_input("Value", value=0.0, key="wi_ev_val")
    submitted = st.form_submit_button("Add event", type="primary")

if submitted:
    new = {"id": ev_id.strip(), "date": ev_date.strip(), "actor": ev_actor,
           "severity": float(ev_sev)}
    if ev_action != "(none)":
        new["action"] = ev_action
    if ev_cameo.strip():
        new["cameo"] = ev_cameo.strip()
    if ev_target != "(none)":
        new["target"] = ev_target
    if ev_var != "(none)":
        new["effects"] = {ev_var: {ev_mode: float(ev_val)}}
    try:
        core.edited(base_text, events=[*added, new])
    except ModelInputError as exc:
        with tab_event:
            ui.show_error(f"error: {exc}", "This event cannot be added")
    else:
        added.append(new)

with tab_event:
    for i, e in enumerate(added):
        a, b = st.columns([6, 1])
        a.markdown(f"`{e['id']}` {e['date']}: {e['actor']} "
                   f"{e.get('action') or e.get('cameo', '')} → {e.get('target', '–')}, "
                   f"severity {e['severity']:g}"
                   + (f", effects {e['effects']}" if e.get("effects") else ""))
        b.button("Remove", key=f"wi_rm_{i}", on_click=added.pop, args=(i,))

with tab_window:
    months = st.number_input("Months to run", min_value=1, max_value=1200, value=sc.months,
                             step=12, key=f"wi_months_{bid}", disabled=bool(sc.branch),
                             help=f"From {sc.start}. The shipped scenario runs {sc.months}.")
    if sc.branch:
        st.caption(f"A branch keeps the window of the scenario it extends ({sc.start}, "
                   f"{sc.months} months).")
        months = sc.months

# ------------------------------------------------------------------------------ the edits
try:
    wi_text = core.edited(base_text, params=changed or None,
                          months=int(months) if months != sc.months else None,
                          use_catalog=use_catalog, severity=severity or None,
                          exclude=exclude or None, events=list(added) or None)
    edit_error = None
except ModelInputError as exc:
    wi_text, edit_error = None, f"error: {exc}"

st.divider()
r1, r2, r3, r4 = st.columns([1, 1, 1, 1.3], vertical_alignment="bottom")
runs = r1.number_input("Runs", min_value=1, max_value=core.MAX_RUNS, value=core.DEFAULT_RUNS,
                       step=10, key="wi_runs", persist_state="session")
seed = r2.number_input("Master seed", min_value=0, max_value=core.MAX_SEED,
                       value=core.DEFAULT_SEED, key="wi_seed", persist_state="session")
go = r3.button("Run the ensemble", type="primary", key="wi_run", disabled=wi_text is None)
r4.download_button("Download the scenario (YAML)", data=wi_text or base_text,
                   file_name=f"{base_name}-whatif.yaml", mime="application/x-yaml",
                   key="wi_dl_yaml", on_click="ignore", disabled=wi_text is None)
if edit_error:
    ui.show_error(edit_error, "These settings do not make a valid scenario")

if go and wi_text is not None:
    with st.spinner(f"Running {int(runs)} runs …"):
        try:
            core.bands(wi_text, int(runs), int(seed))
        except ModelInputError as exc:
            ui.show_error(f"error: {exc}", "The scenario could not be run")
        else:
            st.session_state["wi_result"] = {"text": wi_text, "runs": int(runs),
                                             "seed": int(seed), "name": base_name}

# -------------------------------------------------------------------------------- results
res = st.session_state.get("wi_result")
if not res:
    st.info("Set up the scenario, then press **Run the ensemble**.")
    st.stop()

if (res["text"], res["runs"], res["seed"]) != (wi_text, int(runs), int(seed)):
    st.warning("The settings have changed since this run: press **Run the ensemble** to "
               "update the results below.")
st.subheader(f"Results: {res['name']} (what-if), {res['runs']} runs, seed {res['seed']}")
keys = core.series_keys()
s1, s2 = st.columns([4, 1])
wanted = core.output_series(core.parse(res["text"]))[:6] or list(core.KEY_SERIES)
series = s1.multiselect("Series", list(keys), default=wanted, format_func=keys.get,
                        key=f"wi_series_{ui.short_hash(res['text'])}", max_selections=6,
                        help="The scenario's own `outputs` first, when it names them.")
with_history = s2.toggle("Show the history replay", value=True, key="wi_hist")
wb = core.bands(res["text"], res["runs"], res["seed"])
frames = {"What-if": wb}
colours = {"What-if": charts.OKABE_ITO["blue"]}
hist_text = core.history_text()
if with_history:
    frames = {"History replay": core.bands(hist_text, res["runs"], res["seed"]), **frames}
    colours["History replay"] = charts.HISTORY_COLOUR
if series:
    ui.plot(charts.band_panels(frames, series, keys, colours=colours), key="wi_bands")

years = core.common_years(hist_text, res["text"])
first = core.first_difference(hist_text, res["text"], res["runs"], res["seed"]) if years else None
branch = core.parse(res["text"]).branch
if first:
    since = branch or first             # a branch is compared from its month
    y = int(since[:4])
    table = core.compare_table(hist_text, res["text"], res["runs"], res["seed"], y,
                               "PAK_MIL->US", "the history replay", "the what-if",
                               (y, min(y + 1, years[-1])), since=since)
    if table is not None:
        where = (f"compared from {branch}, the branch month where the what-if leaves the "
                 f"history; they first differ in {first}" if branch
                 else f"they first differ in {first}")
        st.markdown(f"**Against the history replay** (same seeds; {where}):")
        st.markdown("\n".join(f"- {s}" for s in table["sentence"].head(5)))
        st.caption(core.design_text(res["runs"], res["seed"]))
elif years:
    st.caption("The what-if and the history replay agree in every month they share.")

d1, d2, d3 = st.columns(3)
d1.download_button("Bands (CSV)", data=core.bands_csv(wb), file_name=f"{res['name']}-bands.csv",
                   mime="text/csv", key="wi_dl_bands", on_click="ignore",
                   help="Median, 5% and 95% of every series at every month.")
too_many = res["runs"] > core.MAX_DOWNLOAD_RUNS
why = (f"Every run of up to {core.MAX_DOWNLOAD_RUNS} runs; for more, download the scenario and "
       "run `python -m model run FILE --runs N --out runs.parquet`.")
size = {fmt: core.long_table_size(res["text"], res["runs"], fmt) for fmt in ("csv", "parquet")}
csv_too_big = size["csv"] > core.MAX_DOWNLOAD_BYTES
d2.download_button(f"All runs (CSV, about {core.megabytes(size['csv'])})",
                   data=lambda: core.long_table(res["text"], res["runs"], res["seed"], "csv"),
                   file_name=f"{res['name']}-runs.csv", mime="text/csv", key="wi_dl_csv",
                   on_click="ignore", disabled=too_many or csv_too_big,
                   help="The long table: run, step, date, metric, source, target, value (as "
                        "`python -m model run --out`). " + why)
d3.download_button(f"All runs (Parquet, about {core.megabytes(size['parquet'])})",
                   data=lambda: core.long_table(res["text"], res["runs"], res["seed"],
                                                "parquet"),
                   file_name=f"{res['name']}-runs.parquet",
                   mime="application/vnd.apache.parquet", key="wi_dl_parquet",
                   on_click="ignore", disabled=too_many, help=why)
if too_many:
    st.caption(why)
elif csv_too_big:
    st.warning(f"Every run as CSV would be about {core.megabytes(size['csv'])}, more than the "
               f"page offers ({core.megabytes(core.MAX_DOWNLOAD_BYTES)}): take the Parquet file "
               f"(about {core.megabytes(size['parquet'])}, the same table), or fewer runs.")
elif size["csv"] > core.WARN_DOWNLOAD_BYTES:
    st.warning(f"Every run as CSV is about {core.megabytes(size['csv'])}; the Parquet file "
               f"holds the same table in about {core.megabytes(size['parquet'])}.")
