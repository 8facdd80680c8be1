"""Chart builders: data in, plotly figure out. No Streamlit, no model runs.

Colours are the Okabe–Ito palette (Okabe & Ito 2008), which stays distinguishable under the
common colour-vision deficiencies; trust is shown on a diverging vermillion–grey–blue scale. Fonts
are large enough for a projector at 1280x800.
"""

from __future__ import annotations

import itertools
import math
import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
}
GREY = "#8C8C8C"
ACTORS = ("US", "PAK_MIL", "PAK_CIV", "TALIBAN", "INDIA")
ACTOR_COLOURS = {
    "US": OKABE_ITO["blue"], "PAK_MIL": OKABE_ITO["green"], "PAK_CIV": OKABE_ITO["purple"],
    "TALIBAN": OKABE_ITO["black"], "INDIA": OKABE_ITO["orange"], "OTHER": GREY,
}
KIND_COLOURS = {"shock": OKABE_ITO["vermillion"], "decision": OKABE_ITO["blue"],
                "context": GREY}
KIND_SYMBOLS = {"shock": "diamond", "decision": "circle", "context": "square"}
#: Colours of scenarios drawn together: first, second, third ...
SCENARIO_COLOURS = (OKABE_ITO["blue"], OKABE_ITO["vermillion"], OKABE_ITO["green"],
                    OKABE_ITO["purple"], OKABE_ITO["orange"], OKABE_ITO["sky"])
HISTORY_COLOUR = "#555555"
#: Diverging trust scale: 0 = distrust (vermillion), 0.5 = neutral (grey), 1 = trust (blue).
TRUST_SCALE = ((0.0, OKABE_ITO["vermillion"]), (0.5, "#BBBBBB"), (1.0, OKABE_ITO["blue"]))
AID_COLOUR = OKABE_ITO["green"]
FONT = {"family": "Source Sans Pro, DejaVu Sans, Arial, sans-serif", "size": 15,
        "color": "#1F1F1F"}

#: Node positions of the network picture: the US on top, Pakistan's two centres of power at the
#: bottom, the Taliban on the west and India on the east.
NODE_XY = {"US": (0.0, 1.0), "INDIA": (0.95, 0.25), "PAK_MIL": (0.55, -0.85),
           "PAK_CIV": (-0.55, -0.85), "TALIBAN": (-0.95, 0.25)}


#: Pixel rows at the top of a figure: the title, each row of the legend, a row of labels that
#: sit just above the plot (panel titles, the labels of vertical lines).
TITLE_PX, LEGEND_ROW_PX, LABEL_ROW_PX, TOP_PAD_PX = 34, 34, 24, 8
#: The narrowest a figure is drawn (a half column on a 1024-px projector, with the sidebar): the
#: legend's rows are reserved for this width, so that it cannot wrap into what lies below it at
#: any width. Figures drawn across the whole page (``band_panels``) pass their own.
NARROWEST_PX = 280
FULL_WIDTH_PX = 560
DEFAULT_HEIGHT = 450


def legend_entries(fig: go.Figure) -> list[str]:
    """The names the figure's legend shows (plotly's rule: the traces not hidden from it, when
    there are two or more of them or the legend is switched on)."""
    names = [str(t.name) for t in fig.data
             if t.showlegend is not False and t.name and t.visible is not False]
    shown = fig.layout.showlegend
    if shown is False or (shown is None and len(names) < 2):
        return []
    return names


def legend_rows(names: Sequence[str], width: int = NARROWEST_PX, title: str = "") -> int:
    """Rows a horizontal legend of these entries needs at ``width`` pixels (a generous estimate:
    symbol and gap 46 px, 8.5 px a character at the dashboard's 15-px font)."""
    if not names:
        return 0
    rows, used = 1, 8.5 * len(title) + (12 if title else 0)
    for n in names:
        w = 46 + 8.5 * len(n)
        if used and used + w > width:
            rows, used = rows + 1, 0.0
        used += w
    return rows


def _labels_above_plot(fig: go.Figure) -> bool:
    """Whether an annotation sits just above the plot area (a panel title, a line's label)."""
    for a in fig.layout.annotations or ():
        y, ref = a.y, str(a.yref or "paper")
        if y is not None and y >= 0.99 and a.yanchor == "bottom" and (
                ref == "paper" or ref.endswith("domain")):
            return True
    return False


def style(fig: go.Figure, title: str | None = None, height: int | None = None,
          narrowest: int = NARROWEST_PX) -> go.Figure:
    """The dashboard's common look: white background, large fonts, and a top margin laid out in
    rows that cannot overlap: the title, then the legend (its rows reserved for the narrowest
    width the figure is drawn at), then any labels just above the plot; the legend is placed in
    pixels from the top (container coordinates), so that it never lies over the title, a panel
    title or the plot."""
    if height is not None:
        fig.update_layout(height=height)
    h = fig.layout.height or DEFAULT_HEIGHT
    legend_title = (fig.layout.legend.title.text or "") if fig.layout.legend else ""
    rows = legend_rows(legend_entries(fig), narrowest, title=legend_title)
    title_px = TITLE_PX if title else 0
    top = (TOP_PAD_PX + title_px + rows * LEGEND_ROW_PX
           + (LABEL_ROW_PX if _labels_above_plot(fig) else 0))
    fig.update_layout(
        template="plotly_white", font=FONT, hoverlabel={"font_size": 14},
        title={"text": title, "x": 0.0, "xanchor": "left", "xref": "container",
               "y": 1.0, "yanchor": "top", "yref": "container", "pad": {"t": 8, "l": 12},
               "font": {"size": 18}} if title else None,
        margin={"l": 60, "r": 20, "t": max(top, 24), "b": 40},
        legend={"orientation": "h", "xref": "container", "x": 0.0, "xanchor": "left",
                "yref": "container", "y": 1.0 - (TOP_PAD_PX + title_px) / h,
                "yanchor": "top", "itemsizing": "constant"},
    )
    return fig


def _hex_rgb(h: str) -> tuple[int, int, int]:
    h = h.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def rgba(colour: str, alpha: float) -> str:
    """'#0072B2', 0.2 -> 'rgba(0,114,178,0.2)'."""
    r, g, b = _hex_rgb(colour)
    return f"rgba({r},{g},{b},{alpha})"


def trust_colour(value: float) -> str:
    """The colour of a trust value on ``TRUST_SCALE`` (values outside [0, 1] are clipped)."""
    v = min(1.0, max(0.0, float(value))) if math.isfinite(value) else 0.5
    for (p0, c0), (p1, c1) in itertools.pairwise(TRUST_SCALE):
        if v <= p1:
            t = (v - p0) / (p1 - p0)
            a, b = _hex_rgb(c0), _hex_rgb(c1)
            r, g, bl = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
            return f"#{r:02X}{g:02X}{bl:02X}"
    return TRUST_SCALE[-1][1]


def wrap(text: str, width: int = 60) -> str:
    """Wrap text for a hover label (``<br>`` line breaks)."""
    return "<br>".join(textwrap.wrap(str(text), width)) if text else ""


# -------------------------------------------------------------------------------- timeline
def timeline(events: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Documented events as dots on one lane per actor over time, coloured by kind.

    ``events``: the catalog table (columns id, when, actor, target, kind, event_type,
    goldstein, quote, outlet, perspective). Events of the same actor and month are spread
    vertically within the lane so none hides another. Hovering shows the quote and its source.
    """
    fig = go.Figure()
    lanes = [*ACTORS, "OTHER"]
    lane_y = {a: len(lanes) - 1 - i for i, a in enumerate(lanes)}
    if len(events):
        ev = events.sort_values(["when", "id"]).copy()
        rank = ev.groupby(["actor", "when"]).cumcount()
        size = ev.groupby(["actor", "when"])["id"].transform("count")
        ev["y"] = ev["actor"].map(lane_y) + (rank - (size - 1) / 2) * 0.18
        for kind in ("shock", "decision", "context"):
            sub = ev[ev["kind"] == kind]
            if sub.empty:
                continue
            hover = [
                f"<b>{r.id}</b><br>{r.month} · {r.event_type} (Goldstein {r.goldstein:+.1f})"
                f"<br>{r.actor} → {r.target}<br><i>“{wrap(r.quote)}”</i>"
                f"<br>— {wrap(r.outlet, 60)}<br><span style='font-size:12px'>"
                f"{wrap(r.perspective, 70)}</span>"
                for r in sub.itertuples()]
            fig.add_trace(go.Scatter(
                x=sub["when"], y=sub["y"], mode="markers", name=kind,
                marker={"size": 12, "color": KIND_COLOURS[kind], "symbol": KIND_SYMBOLS[kind],
                        "line": {"width": 1, "color": "white"}},
                hovertext=hover, hoverinfo="text",
            ))
    fig.update_yaxes(tickvals=list(lane_y.values()), ticktext=list(lane_y),
                     range=[-0.7, len(lanes) - 0.3], showgrid=True, zeroline=False)
    fig.update_xaxes(title=None)
    style(fig, title, height=380)
    fig.update_layout(legend_title_text="kind")
    return fig


# --------------------------------------------------------------------------------- network
def _curve(p: np.ndarray, q: np.ndarray, bend: float, shrink: float, n: int = 24
           ) -> np.ndarray:
    """Points of a quadratic Bezier from p to q bent to the right of the direction p->q,
    trimmed by ``shrink`` at both ends (the node's radius)."""
    d = q - p
    length = float(np.hypot(*d))
    normal = np.array([d[1], -d[0]]) / max(length, 1e-9)
    ctrl = (p + q) / 2 + normal * bend * length
    t = np.linspace(shrink / length, 1 - shrink / length, n)[:, None]
    return (1 - t) ** 2 * p + 2 * (1 - t) * t * ctrl + t**2 * q


def _trust_edges(trust: np.ndarray, xy: dict, focus: str | None, shrink: float
                 ) -> tuple[list[go.Scatter], list[dict]]:
    """One curve and arrowhead per directed pair (labelled with its value around ``focus``)."""
    traces: list[go.Scatter] = []
    notes: list[dict] = []
    for i, a in enumerate(ACTORS):
        for j, b in enumerate(ACTORS):
            if i == j:
                continue
            v = float(trust[i][j])
            pts = _curve(xy[a], xy[b], 0.12, shrink)
            lit = focus is None or focus in (a, b)
            colour = trust_colour(v) if lit else rgba(trust_colour(v), 0.22)
            traces.append(go.Scatter(
                x=pts[:, 0], y=pts[:, 1], mode="lines", showlegend=False,
                line={"color": colour, "width": 1.5 + 7 * v},
                hoverinfo="text", hovertext=f"{a} trusts {b}: {v:.2f}",
            ))
            notes.append({"x": pts[-1, 0], "y": pts[-1, 1], "ax": pts[-4, 0], "ay": pts[-4, 1],
                          "xref": "x", "yref": "y", "axref": "x", "ayref": "y", "text": "",
                          "showarrow": True, "arrowhead": 2, "arrowsize": 1.0,
                          "arrowwidth": max(1.5, 1 + 3 * v), "arrowcolor": colour})
            if focus is not None and lit:
                mid = pts[int(len(pts) * 0.62)]
                notes.append({"x": mid[0], "y": mid[1], "text": f"{v:.2f}", "showarrow": False,
                              "font": {"size": 13, "color": "#1F1F1F"},
                              "bgcolor": "rgba(255,255,255,0.85)", "borderpad": 1})
    return traces, notes


def _aid_flows(aid: Sequence[float], xy: dict, shrink: float
               ) -> tuple[list[go.Scatter], dict[str, str]]:
    """A dotted flow from the US to each recipient, and the amount to write under it."""
    traces: list[go.Scatter] = []
    aid_text: dict[str, str] = {}
    for k, rcp in enumerate(("PAK_MIL", "PAK_CIV")):
        amount = float(aid[k]) if k < len(aid) else 0.0
        p, q = xy["US"], xy[rcp]
        d = (q - p) / np.hypot(*(q - p))
        p2, q2 = p + d * shrink * 1.2, q - d * shrink * 1.4
        traces.append(go.Scatter(
            x=[p2[0], q2[0]], y=[p2[1], q2[1]], mode="lines", showlegend=False,
            line={"color": rgba(AID_COLOUR, 0.6), "width": 1.5 + min(12.0, amount / 12.0),
                  "dash": "dot"},
            hoverinfo="text", hovertext=f"US aid to {rcp}: {amount:.0f} $M/month",
        ))
        aid_text[rcp] = f"aid ${amount:.0f}M/mo"
    return traces, aid_text


def _network_key() -> dict:
    """The key, as one line of text: a colour bar or a legend would take space from the
    picture."""
    chip = "<span style='color:{}'>■</span>"
    return {
        "x": 0.5, "y": -0.01, "xref": "paper", "yref": "paper", "xanchor": "center",
        "yanchor": "top", "showarrow": False, "font": {"size": 13},
        "text": (f"{chip.format(OKABE_ITO['vermillion'])} 0 distrust "
                 f"{chip.format('#BBBBBB')} 0.5 {chip.format(OKABE_ITO['blue'])} 1 trust"
                 f" · wider: more trust<br>the arrow points at the trusted actor · "
                 f"<span style='color:{AID_COLOUR}'>┅</span> US aid"),
    }


def network(trust: np.ndarray, aid: Sequence[float], actions: Mapping[str, str] | None = None,
            title: str | None = None, focus: str | None = None,
            height: int = 560) -> go.Figure:
    """The five actors at one month: directed trust as edge colour and width, US aid as flows.

    ``trust``: 5 x 5 (row trusts column, order ``ACTORS``); ``aid``: $M/month to PAK_MIL and
    PAK_CIV (a dotted flow, its amount under the recipient); ``actions``: a caption under each
    actor (e.g. its most frequent action);
    ``focus``: an actor whose ties are labelled with their values while the others fade.
    Each directed pair is a curve bent to its right, so A→B and B→A lie side by side; the
    arrowhead points at the trusted actor.
    """
    xy = {a: np.array(NODE_XY[a], dtype=float) for a in ACTORS}
    shrink = 0.17
    traces, notes = _trust_edges(trust, xy, focus, shrink)
    flows, aid_text = _aid_flows(aid, xy, shrink)
    traces += flows
    traces.append(go.Scatter(
        x=[xy[a][0] for a in ACTORS], y=[xy[a][1] for a in ACTORS], mode="markers+text",
        showlegend=False, text=[f"<b>{a}</b>" for a in ACTORS], textposition="middle center",
        textfont={"size": 12, "color": "white"},
        marker={"size": 70, "color": [ACTOR_COLOURS[a] for a in ACTORS],
                "line": {"width": 3 if focus else 2,
                         "color": ["#F0E442" if a == focus else "white" for a in ACTORS]}},
        hoverinfo="text",
        hovertext=[f"{a}: {actions.get(a, '')}" if actions else a for a in ACTORS],
    ))
    for a in ACTORS:
        lines = [t for t in ((actions or {}).get(a, ""), aid_text.get(a, "")) if t]
        if not lines:
            continue
        x, y = xy[a]
        top = y > 0.9
        notes.append({"x": x, "y": y + (0.2 if top else -0.2), "text": "<br>".join(lines),
                      "showarrow": False, "yanchor": "bottom" if top else "top",
                      "font": {"size": 13}, "bgcolor": "rgba(255,255,255,0.8)"})
    notes.append(_network_key())
    fig = go.Figure(data=traces)
    fig.update_layout(annotations=notes)
    fig.update_xaxes(visible=False, range=[-1.35, 1.35])
    fig.update_yaxes(visible=False, range=[-1.3, 1.42], scaleanchor="x", scaleratio=1)
    style(fig, title, height=height)
    fig.update_layout(showlegend=False, margin={"l": 0, "r": 0, "b": 46})
    return fig


# ----------------------------------------------------------------------------------- bands
def _band_traces(df: pd.DataFrame, colour: str, name: str, show_legend: bool,
                 hover_label: str) -> list[go.Scatter]:
    x = pd.to_datetime(df["date"])
    band = go.Scatter(
        x=pd.concat([x, x[::-1]]), y=pd.concat([df["q95"], df["q05"][::-1]]),
        fill="toself", fillcolor=rgba(colour, 0.18), line={"width": 0}, hoverinfo="skip",
        name=f"{name} 5–95%", legendgroup=name, showlegend=False,
    )
    line = go.Scatter(
        x=x, y=df["q50"], mode="lines", line={"color": colour, "width": 2.5}, name=name,
        legendgroup=name, showlegend=show_legend,
        customdata=np.stack([df["q05"], df["q95"]], axis=1),
        hovertemplate=(f"{name}<br>{hover_label}<br>%{{x|%Y-%m}}: median %{{y:.3g}}"
                       "<br>5–95%: %{customdata[0]:.3g} – %{customdata[1]:.3g}<extra></extra>"),
    )
    return [band, line]


def stacked_layout(heights: Sequence[float], titles: Sequence[str], gap_px: int = 48,
                   height: int = 600) -> tuple[dict, list[str]]:
    """Layout of panels stacked on one shared time axis (top panel first).

    Returns the layout dict and each panel's y-axis reference ('y', 'y2', ...). Built by hand:
    ``make_subplots`` costs a quarter of a second per figure.
    """
    n = len(heights)
    plot_px = max(1.0, height - 100 - gap_px * (n - 1))
    gap = gap_px / (plot_px + gap_px * (n - 1)) if n > 1 else 0.0
    unit = (1.0 - gap * (n - 1)) / max(sum(heights), 1e-9)
    layout: dict = {"annotations": [], "shapes": []}
    refs = []
    top = 1.0
    for r, (h, t) in enumerate(zip(heights, titles, strict=True), start=1):
        lo = max(0.0, top - h * unit)
        name = "yaxis" if r == 1 else f"yaxis{r}"
        layout[name] = {"domain": [lo, top], "anchor": "x"}
        refs.append("y" if r == 1 else f"y{r}")
        layout["annotations"].append({
            "text": t, "x": 0.0, "y": top, "xref": "paper", "yref": "paper",
            "xanchor": "left", "yanchor": "bottom", "showarrow": False,
            "font": {"size": 15}})
        top = lo - gap
    layout["xaxis"] = {"anchor": refs[-1] if refs else "y", "domain": [0.0, 1.0]}
    return layout, refs


def band_panels(frames: Mapping[str, pd.DataFrame], series: Sequence[str],
                labels: Mapping[str, str] | None = None,
                events: pd.DataFrame | None = None,
                colours: Mapping[str, str] | None = None,
                title: str | None = None, panel_height: int = 230) -> go.Figure:
    """Median line and 5–95% band of each series, one panel per series, each scenario in its
    own colour; optionally the documented events as a strip on top and dotted lines at shocks.

    ``frames``: scenario label -> band table (columns series, date, q05, q50, q95);
    ``series``: series keys to draw; ``labels``: series key -> panel title;
    ``events``: catalog rows (id, when, kind, actor, target, quote, outlet) to mark.
    """
    labels = labels or {}
    colours = dict(colours or {})
    for k, name in enumerate(frames):
        colours.setdefault(name, SCENARIO_COLOURS[k % len(SCENARIO_COLOURS)])
    has_events = events is not None and len(events) > 0
    heights = ([0.35] if has_events else []) + [1.0] * len(series)
    titles = (["documented events"] if has_events else []) + [labels.get(s, s) for s in series]
    height = max(260, 90 + panel_height * len(series) + (90 if has_events else 0))
    layout, refs = stacked_layout(heights, titles, height=height)
    panel_refs = refs[1:] if has_events else refs
    traces = []
    for k, (key, yref) in enumerate(zip(series, panel_refs, strict=True)):
        for name, df in frames.items():
            sub = df[df["series"] == key]
            if sub.empty:
                continue
            for tr in _band_traces(sub, colours[name], name, show_legend=k == 0,
                                   hover_label=labels.get(key, key)):
                tr.update(xaxis="x", yaxis=yref)
                traces.append(tr)
        if key.startswith("trust "):
            layout["yaxis" + yref[1:]]["range"] = [0, 1]
    if has_events:
        ev = events.sort_values("when")
        for kind, y in (("shock", 1), ("decision", 0)):
            sub = ev[ev["kind"] == kind]
            if sub.empty:
                continue
            traces.append(go.Scatter(
                x=sub["when"], y=[y] * len(sub), mode="markers", name=f"documented {kind}",
                xaxis="x", yaxis="y",
                marker={"size": 10, "color": KIND_COLOURS[kind], "symbol": KIND_SYMBOLS[kind]},
                hoverinfo="text",
                hovertext=[f"<b>{e.id}</b> ({e.month})<br>{e.actor} → {e.target}"
                           f"<br><i>“{wrap(e.quote)}”</i><br>— {wrap(e.outlet)}"
                           for e in sub.itertuples()],
            ))
        layout["yaxis"].update(tickvals=[0, 1], ticktext=["decision", "shock"],
                               range=[-0.6, 1.6], showgrid=False)
        line = {"color": rgba(KIND_COLOURS["shock"], 0.45), "width": 1, "dash": "dot"}
        layout["shapes"] = [{"type": "line", "x0": e.when, "x1": e.when, "y0": 0, "y1": 1,
                             "xref": "x", "yref": f"{r} domain", "line": line}
                            for e in ev[ev["kind"] == "shock"].itertuples()
                            for r in panel_refs]
    fig = go.Figure(data=traces, layout=layout)
    fig.update_layout(hovermode="closest")
    return style(fig, title, height=height, narrowest=FULL_WIDTH_PX)


# -------------------------------------------------------------------------- distributions
def poll_histogram(predictions: Sequence[float], lo: float, hi: float, unit: str = "",
                   model_values: Sequence[float] | None = None,
                   model_share: tuple[float, float, float] | None = None,
                   history: float | None = None, title: str | None = None,
                   bins: int = 20) -> go.Figure:
    """The class's predictions as a histogram against the model's answer.

    ``model_values``: one value per run (drawn as a second histogram, both as % of their
    total); ``model_share``: (estimate, low, high) of a share, drawn as a line with its
    interval; ``history``: the documented value, a dashed black line.
    """
    fig = go.Figure()
    size = (hi - lo) / bins if hi > lo else 1.0
    xbins = {"start": lo, "end": hi + size * 1e-6, "size": size}
    if model_values is not None and len(model_values):
        fig.add_trace(go.Histogram(
            x=list(model_values), xbins=xbins, histnorm="percent", name="model (share of runs)",
            marker={"color": rgba(OKABE_ITO["blue"], 0.55)},
        ))
    if len(predictions):
        fig.add_trace(go.Histogram(
            x=list(predictions), xbins=xbins, histnorm="percent",
            name=f"class predictions (n={len(predictions)})",
            marker={"color": rgba(OKABE_ITO["orange"], 0.75),
                    "line": {"color": "#8A5A00", "width": 1}},
        ))
    if model_share is not None and math.isfinite(model_share[0]):
        m, a, b = model_share
        fig.add_vrect(x0=a, x1=b, fillcolor=rgba(OKABE_ITO["blue"], 0.15), line_width=0)
        fig.add_vline(x=m, line={"color": OKABE_ITO["blue"], "width": 4},
                      annotation_text=f"model {m:.0f}{unit}", annotation_position="top")
    if history is not None:
        fig.add_vline(x=history, line={"color": "black", "width": 2, "dash": "dash"},
                      annotation_text="history", annotation_position="top left")
    fig.update_layout(barmode="overlay", bargap=0.05)
    fig.update_xaxes(range=[lo - size / 2, hi + size / 2], title=unit.strip() or None)
    if fig.data:
        fig.update_yaxes(title="% of class / of runs")
    else:
        fig.update_yaxes(visible=False, range=[0, 1])
    return style(fig, title, height=360)


def prediction_vs_model(prediction: float, lo: float, hi: float, unit: str = "",
                        model_values: Sequence[float] | None = None,
                        model_share: tuple[float, float, float] | None = None,
                        title: str | None = None) -> go.Figure:
    """One student's committed prediction against the model's answer."""
    fig = poll_histogram([], lo, hi, unit, model_values=model_values,
                         model_share=model_share, title=title)
    fig.add_vline(x=prediction, line={"color": OKABE_ITO["orange"], "width": 4},
                  annotation_text="your prediction", annotation_position="bottom right")
    return fig


# ------------------------------------------------------------------------------- outcomes
def outcome_shares(table: pd.DataFrame, name_a: str = "A", name_b: str = "B",
                   title: str | None = None) -> go.Figure:
    """Yes/no outcomes of two scenarios: share of runs with its 95% interval, side by side.

    ``table``: rows of ``model.analysis.summary.compare_questions`` (outcome, binary, a, a_lo,
    a_hi, b, b_lo, b_hi).
    """
    sub = table[table["binary"]].iloc[::-1]
    fig = go.Figure()
    for col, name, colour, dy in (("a", name_a, SCENARIO_COLOURS[0], 0.15),
                                  ("b", name_b, SCENARIO_COLOURS[1], -0.15)):
        y = np.arange(len(sub)) + dy
        fig.add_trace(go.Scatter(
            x=100 * sub[col], y=y, mode="markers", name=name,
            marker={"size": 13, "color": colour, "symbol": "circle" if col == "a" else "diamond"},
            error_x={"type": "data", "symmetric": False,
                     "array": 100 * (sub[f"{col}_hi"] - sub[col]),
                     "arrayminus": 100 * (sub[col] - sub[f"{col}_lo"]),
                     "color": colour, "thickness": 2, "width": 6},
            hovertemplate=f"{name}: %{{x:.0f}}% of runs<extra></extra>",
        ))
    fig.update_yaxes(tickvals=np.arange(len(sub)), ticktext=[wrap(t, 48) for t in sub["outcome"]],
                     range=[-0.6, len(sub) - 0.4], automargin=True)
    fig.update_xaxes(range=[-3, 103], title="% of runs (95% interval)")
    return style(fig, title, height=110 + 58 * max(1, len(sub)))


def sensitivity_bars(df: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Sensitivity indices per parameter as horizontal bars with their confidence intervals.

    ``df``: columns parameter, index (e.g. S1, ST), value, and optionally lo, hi. Parameters
    are sorted by their largest index.
    """
    order = df.groupby("parameter")["value"].max().sort_values().index.tolist()
    fig = go.Figure()
    for k, (idx, part) in enumerate(df.groupby("index", sort=True)):
        sub = part.set_index("parameter").reindex(order).dropna(subset=["value"])
        err = None
        if {"lo", "hi"} <= set(sub.columns) and sub[["lo", "hi"]].notna().any().any():
            err = {"type": "data", "symmetric": False,
                   "array": (sub["hi"] - sub["value"]).clip(lower=0).fillna(0),
                   "arrayminus": (sub["value"] - sub["lo"]).clip(lower=0).fillna(0),
                   "color": "#333333", "thickness": 1.5}
        fig.add_trace(go.Bar(
            y=sub.index, x=sub["value"], orientation="h", name=str(idx), error_x=err,
            marker={"color": SCENARIO_COLOURS[k % len(SCENARIO_COLOURS)]},
        ))
    fig.update_layout(barmode="group")
    fig.update_xaxes(title="index", zeroline=True, zerolinecolor="#888888")
    return style(fig, title, height=140 + 34 * max(1, len(order)) * max(1, df["index"].nunique()))


def sweep_scatter(df: pd.DataFrame, x: str, y: str, colour: str | None = None,
                  title: str | None = None, bins: int = 10) -> go.Figure:
    """One outcome against one parameter, one dot per run, with the binned median as a guide."""
    fig = go.Figure()
    marker = {"size": 7, "opacity": 0.55, "color": OKABE_ITO["blue"]}
    if colour and colour in df.columns:
        marker.update(color=df[colour], colorscale="Cividis", showscale=True,
                      colorbar={"title": {"text": colour}})
    fig.add_trace(go.Scattergl(x=df[x], y=df[y], mode="markers", marker=marker, name="runs",
                               hovertemplate=f"{x}=%{{x:.3g}}<br>{y}=%{{y:.3g}}<extra></extra>"))
    data = df[[x, y]].dropna()
    if len(data) >= 2 * bins and data[x].min() < data[x].max():
        cut = pd.qcut(data[x], q=bins, duplicates="drop")
        med = data.groupby(cut, observed=True).agg(x=(x, "median"), y=(y, "median"))
        fig.add_trace(go.Scatter(x=med["x"], y=med["y"], mode="lines+markers",
                                 name="binned median",
                                 line={"color": OKABE_ITO["vermillion"], "width": 3}))
    fig.update_xaxes(title=x)
    fig.update_yaxes(title=y)
    return style(fig, title, height=420)
