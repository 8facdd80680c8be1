"""About: the model's ODD documentation, its sources and its parameter table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import core, ui
from model.core import params as P
from model.inputs.catalog import load_catalog

st.title("About the model")
ui.markdown_file("about.md")

tab_odd, tab_src, tab_par, tab_conf = st.tabs(
    ["ODD documentation", "Sources", "Parameters", "Where the sources disagree"],
    key="about_tab", on_change="rerun", default="ODD documentation")

with tab_odd:
    if tab_odd.open:
        sections = core.odd_sections()
        names = list(sections)
        pick = st.selectbox("Section of docs/ODD.md", names, key="about_section",
                            format_func=lambda s: s or "Introduction")
        st.markdown(sections[pick])

with tab_src:
    if tab_src.open:
        st.markdown("The five articles the model's events and mechanisms come from, each with "
                    "its outlet, kind and perspective (`model/data/sources.yaml`).")
        src = core.sources()
        for r in src.itertuples():
            with st.container(border=True):
                st.markdown(f"**{r.title}**" + (f" — {r.author}" if r.author else "")
                            + f"  \n{r.outlet} · *{r.kind}* · published {r.published}"
                            + (" (inferred)" if r.published_inferred else "")
                            + f" · file `{r.file}` · weight {r.weight:g}")
                st.markdown(f"**Perspective:** {r.perspective}")
                if r.weight_why:
                    st.caption(f"Weight: {r.weight_why}")
        n = core.events().groupby("source").size().rename("events cited")
        st.dataframe(src[["file", "outlet", "kind", "published", "weight"]]
                     .merge(n, left_on="file", right_index=True, how="left"),
                     hide_index=True, key="about_sources")

with tab_par:
    if tab_par.open:
        rows = [{"name": p.name, "group": p.group, "default": p.default, "lo": p.lo,
                 "hi": p.hi, "unit": p.unit, "help": p.help, "source": core.param_source(p)}
                for p in P.table().values()]
        groups = ["all", *core.param_groups()]
        g = st.selectbox("Mechanism group", groups, key="about_group")
        df = pd.DataFrame(rows)
        if g != "all":
            df = df[df["group"] == g]
        st.dataframe(df, hide_index=True, key="about_params", height=480,
                     column_config={"help": st.column_config.TextColumn(width="large"),
                                    "source": st.column_config.TextColumn(width="large")})

with tab_conf:
    if tab_conf.open:
        st.markdown("Where two sources give different accounts of the same fact, the catalog "
                    "keeps both and says which one the model uses, and why.")
        for c in load_catalog().conflicts:
            with st.container(border=True):
                st.markdown(f"**{c.topic}** (`{c.id}`) — the model uses **{c.model_uses}**")
                for a in c.accounts:
                    st.markdown(core.escape_money(f"- {a.value}: “{a.quote}” (`{a.source}`)"))
                st.caption(c.why)
