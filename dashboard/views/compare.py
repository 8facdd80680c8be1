"""Compare: two scenarios side by side, with intervals and a plain-language summary."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, core, ui
from model.core import spec

st.title("Compare two scenarios")
ui.markdown_file("compare.md")

WHATIF = "what-if (your last run)"
UPLOAD = "upload a file …"
options = list(core.shipped())
if st.session_state.get("wi_result"):
    options.append(WHATIF)
options.append(UPLOAD)


def pick(col, tag: str, default: str) -> tuple[str | None, str]:
    """A scenario chooser; returns (YAML text or None, label)."""
    choice = col.selectbox(f"Scenario {tag}", options, index=options.index(default),
                           key=f"cmp_{tag}", persist_state="session")
    if choice == WHATIF:
        return st.session_state["wi_result"]["text"], "what-if"
    if choice == UPLOAD:
        up = col.file_uploader(f"Scenario {tag} (YAML)", type=["yaml", "yml"],
                               key=f"cmp_up_{tag}")
        if up is None:
            col.info("Upload a scenario file.")
            return None, tag
        text, err = core.check_upload(up.name, up.getvalue())
        if err:
            with col:
                ui.show_error(err, f"{up.name} is not a runnable scenario")
            return None, tag
        return text, up.name.rsplit(".", 1)[0]
    return core.shipped_text(choice), choice


ca, cb = st.columns(2)
whatifs = [o for o in options if o.startswith("whatif_")]
default_b = (WHATIF if WHATIF in options else "whatif_no_salala" if "whatif_no_salala" in options
             else whatifs[0] if whatifs else options[1] if len(options) > 2 else options[0])
text_a, name_a = pick(ca, "A", core.HISTORY)
text_b, name_b = pick(cb, "B", default_b)
for col, text in ((ca, text_a), (cb, text_b)):
    if text is not None:
        sc = core.parse(text)
        col.caption(f"**{sc.name}** — from {sc.start}, {sc.months} months. {sc.description}")
if text_a is None or text_b is None:
    st.stop()

years = core.common_years(text_a, text_b)
if not years:
    ui.show_error("the two scenarios share no month; compare needs overlapping windows",
                  "These scenarios cannot be compared")
    st.stop()
pairs = [f"{a}->{b}" for a in spec.ACTORS for b in spec.ACTORS if a != b]
r1, r2, r3, r4 = st.columns([1, 1, 2, 1], vertical_alignment="bottom")
runs, seed = ui.ensemble_controls("cmp", where=r1)
pair = r3.selectbox("Trust of", pairs, index=pairs.index("PAK_MIL->US"), key="cmp_pair")
year = r3.select_slider("in the year", options=years,
                        value=2011 if 2011 in years else years[-1], key="cmp_year")
if r4.button("Compare", type="primary", key="cmp_run"):
    st.session_state["cmp"] = {"a": text_a, "b": text_b, "name_a": name_a, "name_b": name_b,
                               "runs": runs, "seed": seed}
    with st.spinner("Running both ensembles …"):
        core.bands(text_a, runs, seed)
        core.bands(text_b, runs, seed)

job = st.session_state.get("cmp")
if not job:
    st.info("Choose two scenarios and press **Compare**.")
    st.stop()
if (job["a"], job["b"], job["runs"], job["seed"]) != (text_a, text_b, runs, seed):
    st.warning("The choices have changed since this comparison: press **Compare** to update.")

na, nb = f"A ({job['name_a']})", f"B ({job['name_b']})"
st.subheader(f"{na} vs {nb}: {job['runs']} runs each, same seeds")
first = core.first_difference(job["a"], job["b"], job["runs"], job["seed"])
jid = ui.short_hash(job["a"] + job["b"])
default = (int(first[:4]), min(int(first[:4]) + 1, years[-1])) if first else (years[0], years[-1])
period = st.select_slider(
    "Period of the outcomes below", options=years, value=default, key=f"cmp_period_{jid}",
    help="Starts, by default, in the year A and B first differ"
         + (f" ({first})." if first else "; they never do."))
table = core.compare_table(job["a"], job["b"], job["runs"], job["seed"], year, pair, na, nb,
                           tuple(period))
if table is None:
    ui.show_error("the two scenarios share no month", "No overlap")
    st.stop()
st.markdown("\n".join(f"- {s}" for s in table["sentence"]))
st.caption(core.design_text(job["runs"], job["seed"]))

def cell(row, col: str) -> str:
    v, lo, hi = row[col], row[f"{col}_lo"], row[f"{col}_hi"]
    if pd.isna(v):  # outside the window
        return "–"
    if row["binary"]:
        return f"{v:.0%} [{lo:.0%}, {hi:.0%}]"
    return core.fmt_interval(v, lo, hi, 0 if "$M" in row["outcome"] else 2)


st.markdown("**All outcomes** — share of runs with its 95% interval, or median [5%, 95%] of "
            "runs; robustness: the share of parameter sets in which B − A has the same sign")
shown = table.assign(A=[cell(r, "a") for _, r in table.iterrows()],
                     B=[cell(r, "b") for _, r in table.iterrows()])
st.dataframe(shown[["outcome", "A", "B", "same_sign", "robustness"]].rename(
                 columns={"A": na, "B": nb}),
             hide_index=True, key="cmp_table",
             column_config={"outcome": st.column_config.TextColumn(width="large"),
                            "same_sign": st.column_config.ProgressColumn(
                                "same sign in", min_value=0.0, max_value=1.0,
                                format="percent")})
ui.plot(charts.outcome_shares(table, na, nb, title="Chance of each outcome (% of runs)"),
        key="cmp_shares")

keys = core.series_keys()
series = st.multiselect("Series", list(keys), default=list(core.KEY_SERIES),
                        format_func=keys.get, key="cmp_series", max_selections=6)
if series:
    frames = {na: core.bands(job["a"], job["runs"], job["seed"]),
              nb: core.bands(job["b"], job["runs"], job["seed"])}
    ui.plot(charts.band_panels(frames, series, keys), key="cmp_bands")

why = st.expander("Why do they differ? (the model's explanation ledger)", key="cmp_why",
                  on_change="rerun")
with why:
    if why.open:
        if core.window(job["a"]) != core.window(job["b"]):
            st.info("The explanation needs two scenarios over the same months.")
        else:
            with st.spinner("Running both ensembles with the explanation ledger …"):
                exp = core.explain(job["a"], job["b"], min(job["runs"], 200), job["seed"])
            if exp is None:
                st.info("This version of the model has no `model.analysis.compare` yet.")
            else:
                summary, reasons = exp
                st.markdown("\n".join(f"- {s}" for s in summary))
                if reasons:
                    st.markdown("**Contributions that differ most** (A minus B, mean over "
                                "runs):")
                    st.markdown("\n".join(f"- {r}" for r in reasons))
