"""Comparing two scenarios: what differs, by how much (with intervals), and why.

``compare(a, b)`` runs both as ensembles with the same seeds (common random numbers, so the
difference is the scenarios', not the dice's) and the explanation ledger on. For each large
difference in a trust series it sums the ledger from the start to that month, per mechanism and
per exogenous event, and names the contributions that differ most between A and B.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from model.core import kernel, spec
from model.engine.runner import Results, simulate

KEY_PAIRS = (("PAK_MIL", "US"), ("US", "PAK_MIL"), ("PAK_CIV", "US"), ("US", "PAK_CIV"),
             ("PAK_MIL", "INDIA"), ("US", "TALIBAN"))
KEY_ACTIONS = ("MIL_CLOSE_ROUTE", "MIL_EVICT_DRONES", "US_SUSPEND_AID", "US_CIV_AID",
               "US_STRIKE", "MIL_MEDIATE", "CIV_SEEK_BACKING", "MIL_DEFY", "TAL_ATTACK")


def interval(v: np.ndarray) -> tuple[float, float, float]:
    """Median and 5-95% interval of an ensemble's values."""
    q5, q50, q95 = np.quantile(np.asarray(v, dtype=np.float64), [0.05, 0.5, 0.95])
    return float(q50), float(q5), float(q95)


def fmt(iv: tuple[float, float, float], digits: int = 2) -> str:
    return f"{iv[0]:.{digits}f} [{iv[1]:.{digits}f}, {iv[2]:.{digits}f}]"


@dataclass
class Comparison:
    """The result of ``compare``: a table of quantities and a plain-language summary."""

    name_a: str
    name_b: str
    table: pd.DataFrame
    summary: list[str]
    reasons: list[str]
    a: Results = field(repr=False)
    b: Results = field(repr=False)

    def text(self) -> str:
        lines = [f"A = {self.name_a}, B = {self.name_b} ({self.a.runs} runs each, same seeds)",
                 "", *self.summary]
        if self.reasons:
            lines += ["", "Why:", *self.reasons]
        return "\n".join(lines)


def _yearly_steps(res: Results) -> dict[str, int]:
    """Step of each December (the state at the end of the year) inside the run."""
    return {d[:4]: k for k, d in enumerate(res.dates) if d.endswith("-12") and k > 0}


def _share_any(res: Results, action: str) -> float:
    return float(res.action_count(action).any(axis=1).mean())


def _contributions(res: Results, cell: int, step: int) -> dict[str, float]:
    """Mean (over runs) cumulative contribution of each channel and event to a ledger cell
    (trust i->j as i*5+j, or aid 25+k) from the start up to ``step``."""
    out = {}
    mech = res.ledger[:, :step, :, cell].astype(np.float64).sum(axis=1).mean(axis=0)
    for c, name in enumerate(kernel.CHANNELS):
        out[f"mechanism {name}"] = float(mech[c])
    for e, (eid, month) in enumerate(zip(res.event_ids, res.event_months, strict=True)):
        if month < step:
            out[f"event {eid}"] = float(res.event_ledger[:, e, cell].astype(np.float64).mean())
    return out


def compare(a, b, runs: int = 200, seed: int = 0, months: int | None = None,
            params=None) -> Comparison:
    """Run scenarios ``a`` and ``b`` (paths, Scenarios or mappings) and compare them."""
    ra = simulate(a, runs=runs, seed=seed, months=months, params=params, trace=True)
    rb = simulate(b, runs=runs, seed=seed, months=months, params=params, trace=True)
    if ra.dates != rb.dates:
        raise ValueError("the two scenarios cover different months; compare needs the same "
                         f"window ({ra.dates[0]}..{ra.dates[-1]} vs {rb.dates[0]}..{rb.dates[-1]})")
    rows = []
    summary = []
    reasons = []
    na, nb = ra.scenario.name, rb.scenario.name
    # Discrete outcomes: shares of runs.
    for act in KEY_ACTIONS:
        sa, sb = _share_any(ra, act), _share_any(rb, act)
        rows.append({"quantity": f"share of runs with {act}", "A": sa, "B": sb,
                     "A_lo": np.nan, "A_hi": np.nan, "B_lo": np.nan, "B_hi": np.nan})
        if abs(sa - sb) >= 0.05:
            a_ = spec.ACTIONS[spec.ACTION_INDEX[act]]
            what = a_.help.rstrip(".")
            what = what[:1].lower() + what[1:]  # keep NATO, US, A. Q. Khan as written
            summary.append(f"{a_.actor} chooses {act} ({what}) in "
                           f"{sa:.0%} of runs under A and {sb:.0%} under B.")
    route = spec.STATE_INDEX["supply_route_open"]
    ca = (ra.state[:, 1:, route] < 0.5).sum(axis=1)
    cb = (rb.state[:, 1:, route] < 0.5).sum(axis=1)
    ia, ib = interval(ca), interval(cb)
    rows.append({"quantity": "months supply route closed", "A": ia[0], "B": ib[0],
                 "A_lo": ia[1], "A_hi": ia[2], "B_lo": ib[1], "B_hi": ib[2]})
    sa, sb = float((ca > 0).mean()), float((cb > 0).mean())
    summary.append(f"The supply route closes in {sa:.0%} of runs under A and {sb:.0%} under B "
                   f"(months closed: {fmt(ia, 0)} vs {fmt(ib, 0)}).")
    for k, (d, rcp) in enumerate(spec.AID_FLOWS):
        ta = ra.aid[:, 1:, k].astype(np.float64).sum(axis=1) / 1000
        tb = rb.aid[:, 1:, k].astype(np.float64).sum(axis=1) / 1000
        ia, ib = interval(ta), interval(tb)
        rows.append({"quantity": f"total aid {d}->{rcp} ($bn)", "A": ia[0], "B": ib[0],
                     "A_lo": ia[1], "A_hi": ia[2], "B_lo": ib[1], "B_hi": ib[2]})
        if abs(ia[0] - ib[0]) > 0.1 * max(abs(ia[0]), abs(ib[0]), 1e-9):
            summary.append(f"Total aid {d}->{rcp}: ${fmt(ia, 1)} bn under A vs "
                           f"${fmt(ib, 1)} bn under B.")
    # Trust: at each year-end; the largest median differences get a sentence and a reason.
    years = _yearly_steps(ra)
    diffs = []
    for src, tgt in KEY_PAIRS:
        sa_, sb_ = ra.trust_series(src, tgt), rb.trust_series(src, tgt)
        for year, step in years.items():
            ia, ib = interval(sa_[:, step]), interval(sb_[:, step])
            rows.append({"quantity": f"trust {src}->{tgt} end {year}", "A": ia[0], "B": ib[0],
                         "A_lo": ia[1], "A_hi": ia[2], "B_lo": ib[1], "B_hi": ib[2]})
            diffs.append((abs(ia[0] - ib[0]), src, tgt, year, step, ia, ib))
    diffs.sort(key=lambda t: -t[0])
    used = set()
    for gap, src, tgt, year, step, ia, ib in diffs:
        if gap < 0.02 or (src, tgt) in used or len(used) >= 3:
            continue
        used.add((src, tgt))
        summary.append(f"{src}->{tgt} trust at the end of {year}: {fmt(ia)} under A vs "
                       f"{fmt(ib)} under B.")
        cell = spec.ACTOR_INDEX[src] * spec.N_ACTORS + spec.ACTOR_INDEX[tgt]
        ctr_a, ctr_b = _contributions(ra, cell, step), _contributions(rb, cell, step)
        keys = set(ctr_a) | set(ctr_b)
        delta = sorted(((ctr_a.get(k, 0.0) - ctr_b.get(k, 0.0), k) for k in keys),
                       key=lambda t: -abs(t[0]))
        parts = [f"{k} ({v:+.3f})" for v, k in delta[:3] if abs(v) >= 0.005]
        if parts:
            reasons.append(f"{src}->{tgt} {year} (A minus B = {ia[0] - ib[0]:+.3f}): "
                           + "; ".join(parts) + ".")
    if not summary:
        summary.append("No difference of note between A and B.")
    return Comparison(name_a=na, name_b=nb, table=pd.DataFrame(rows), summary=summary,
                      reasons=reasons, a=ra, b=rb)


def plot(cmp: Comparison, path: Path) -> Path:
    """Median and 5-95% bands of key series under A and B, as a PNG."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    series = [("trust PAK_MIL->US", lambda r: r.trust_series("PAK_MIL", "US")),
              ("trust US->PAK_MIL", lambda r: r.trust_series("US", "PAK_MIL")),
              ("aid US->PAK_MIL ($M/month)", lambda r: r.aid[:, :, 0]),
              ("public hostility", lambda r: r.public_hostility)]
    dates = pd.to_datetime(pd.Series(cmp.a.dates), format="%Y-%m")
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), sharex=True)
    colors = {"A": "#0072B2", "B": "#D55E00"}  # Okabe-Ito: colour-blind safe
    for ax, (title, get) in zip(axes.ravel(), series, strict=True):
        for label, res, name in (("A", cmp.a, cmp.name_a), ("B", cmp.b, cmp.name_b)):
            v = get(res).astype(np.float64)
            q5, q50, q95 = np.quantile(v, [0.05, 0.5, 0.95], axis=0)
            ax.fill_between(dates, q5, q95, color=colors[label], alpha=0.2, linewidth=0)
            ax.plot(dates, q50, color=colors[label], label=f"{label}: {name}")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="best", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, format="png")
    plt.close(fig)
    return path
