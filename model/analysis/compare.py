"""Comparing two scenarios: what differs, by how much (with intervals), and why.

``compare(a, b)`` runs both as ensembles with the same seeds (common random numbers, so the
difference is the scenarios', not the dice's) and the explanation ledger on. Where the runs take
their parameters from the posterior, both use the same parameter sets (``model.analysis.
robustness``: ``DEFAULT_SETS`` sets, round-robin over the runs), so that intervals are over runs
drawn across the sets and each difference comes with the share of sets in which it has the same
sign, labelled "robust" or "depends on the calibration". For each large difference in a trust
series it sums the ledger from the start to that month, per mechanism and per exogenous event,
and names the contributions that differ most between A and B.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from model.analysis import outcomes as O
from model.analysis import robustness as R
from model.analysis.summary import interval
from model.core import kernel, spec
from model.engine.runner import Results
from model.io.errors import ModelInputError

KEY_PAIRS = O.COMPARE_PAIRS
KEY_ACTIONS = O.COMPARE_ACTIONS


def fmt(iv: tuple[float, float, float], digits: int = 2) -> str:
    return f"{iv[0]:.{digits}f} [{iv[1]:.{digits}f}, {iv[2]:.{digits}f}]"


def _values(ra: Results, rb: Results, kind: str, per: float = 1.0, **options
            ) -> tuple[np.ndarray, np.ndarray]:
    """A registry outcome under A and under B (divided by ``per``)."""
    o = O.make("x", kind, **options)
    return o.compute(ra) / per, o.compute(rb) / per


def _row(label: str, ia: tuple, ib: tuple) -> dict:
    return {"quantity": label, "A": ia[0], "B": ib[0],
            "A_lo": ia[1], "A_hi": ia[2], "B_lo": ib[1], "B_hi": ib[2]}


def _robust(va: np.ndarray, vb: np.ndarray, design: R.Design | None
            ) -> tuple[dict, R.Robustness | None]:
    """The robustness columns of a row (B − A, mean of paired runs; the smallest and largest
    set's mean; the same-sign share and its label) and the ``Robustness`` (None: one set)."""
    rob = R.measure(va, vb, design) if design is not None else None
    diff = float(np.mean(np.asarray(vb, float) - np.asarray(va, float)))
    if rob is None:
        return {"difference": diff, "set_min": np.nan, "set_max": np.nan, "same_sign": np.nan,
                "robustness": R.NOT_MEASURED}, None
    return {"difference": diff, "set_min": float(rob.per_set.min()),
            "set_max": float(rob.per_set.max()), "same_sign": rob.share,
            "robustness": rob.label}, rob


def _tag(rob: R.Robustness | None) -> str:
    """The label appended to a headline sentence."""
    return f" [{rob.text()}]" if rob is not None else ""


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
    design: R.Design | None = None

    def text(self) -> str:
        lines = [f"A = {self.name_a}, B = {self.name_b} ({self.a.runs} runs each, same seeds)",
                 self.design.describe() if self.design is not None else
                 "one parameter set for every run: robustness across parameter sets not measured",
                 "", *self.summary]
        if self.design is not None:
            lines += ["", f"[robust]: the difference (B - A, mean of paired runs) has the same "
                      f"sign in >= {R.ROBUST_SHARE:.0%} of the parameter sets (each set's mean "
                      "over its runs); otherwise it [depends on the calibration]. Sets from one "
                      "fit only: another fit may differ more."]
        if self.reasons:
            lines += ["", "Why:", *self.reasons]
        return "\n".join(lines)


def _yearly_steps(res: Results) -> dict[str, int]:
    """Step of each December (the state at the end of the year) inside the run."""
    return {d[:4]: k for k, d in enumerate(res.dates) if d.endswith("-12") and k > 0}


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
            params=None, sets: int = R.DEFAULT_SETS) -> Comparison:
    """Run scenarios ``a`` and ``b`` (paths, Scenarios or mappings) and compare them; where
    ``params`` is a posterior (default: the shipped one), on ``sets`` parameter sets shared by A
    and B (``robustness.simulate_pair``)."""
    ra, rb, design = R.simulate_pair(a, b, runs=runs, seed=seed, months=months, params=params,
                                     sets=sets, trace=True)
    if ra.dates != rb.dates:
        raise ModelInputError("the two scenarios cover different months; compare needs the same "
                         f"window ({ra.dates[0]}..{ra.dates[-1]} vs {rb.dates[0]}..{rb.dates[-1]})")
    rows: list[dict] = []
    summary: list[str] = []
    na, nb = ra.scenario.name, rb.scenario.name
    _action_shares(ra, rb, design, rows, summary)
    _route_and_aid(ra, rb, design, rows, summary)
    for label, spec_, per in O.COMPARE_EXTRA:
        o = O.parse({"x": spec_})[0]
        va, vb = o.compute(ra) / per, o.compute(rb) / per
        rows.append({**_row(label, interval(va), interval(vb)), **_robust(va, vb, design)[0]})
    reasons = _trust(ra, rb, design, rows, summary)
    if not summary:
        summary.append("No difference of note between A and B.")
    return Comparison(name_a=na, name_b=nb, table=pd.DataFrame(rows), summary=summary,
                      reasons=reasons, a=ra, b=rb, design=design)


def _action_shares(ra: Results, rb: Results, design: R.Design | None, rows: list[dict],
                   summary: list[str]) -> None:
    """Discrete outcomes: the share of runs in which each key action is chosen."""
    for act in KEY_ACTIONS:
        va, vb = _values(ra, rb, "action_chosen", action=act)
        sa, sb = float(va.mean()), float(vb.mean())
        cols, rob = _robust(va, vb, design)
        rows.append({"quantity": f"share of runs with {act}", "A": sa, "B": sb,
                     "A_lo": np.nan, "A_hi": np.nan, "B_lo": np.nan, "B_hi": np.nan, **cols})
        if abs(sa - sb) >= 0.05:
            a_ = spec.ACTIONS[spec.ACTION_INDEX[act]]
            what = a_.help.rstrip(".")
            what = what[:1].lower() + what[1:]  # keep NATO, US, A. Q. Khan as written
            summary.append(f"{a_.actor} chooses {act} ({what}) in "
                           f"{sa:.0%} of runs under A and {sb:.0%} under B.{_tag(rob)}")


def _route_and_aid(ra: Results, rb: Results, design: R.Design | None, rows: list[dict],
                   summary: list[str]) -> None:
    """Months the route is closed, whether it closes at all, and the aid totals ($bn)."""
    ca, cb = _values(ra, rb, "months_route_closed")
    ia, ib = interval(ca), interval(cb)
    rows.append({**_row("months supply route closed", ia, ib), **_robust(ca, cb, design)[0]})
    va, vb = _values(ra, rb, "route_closed")
    sa, sb = float(va.mean()), float(vb.mean())
    rob = _robust(va, vb, design)[1]
    summary.append(f"The supply route closes in {sa:.0%} of runs under A and {sb:.0%} under B "
                   f"(months closed: {fmt(ia, 0)} vs {fmt(ib, 0)}).{_tag(rob)}")
    for flow in O.FLOWS:
        ta, tb = _values(ra, rb, "total_aid", O.PER_BN, flow=flow)
        ia, ib = interval(ta), interval(tb)
        cols, rob = _robust(ta, tb, design)
        rows.append({**_row(f"total aid {flow} ($bn)", ia, ib), **cols})
        if abs(ia[0] - ib[0]) > 0.1 * max(abs(ia[0]), abs(ib[0]), 1e-9):
            summary.append(f"Total aid {flow}: ${fmt(ia, 1)} bn under A vs "
                           f"${fmt(ib, 1)} bn under B.{_tag(rob)}")


def _trust(ra: Results, rb: Results, design: R.Design | None, rows: list[dict],
           summary: list[str]) -> list[str]:
    """Trust at each year-end; the largest median differences get a sentence and a reason."""
    years = _yearly_steps(ra)
    diffs = []
    for src, tgt in KEY_PAIRS:
        for year, step in years.items():
            month = ra.dates[step]
            va, vb = _values(ra, rb, "mean_trust", pair=f"{src}->{tgt}", at="start",
                             period=[month, month])
            ia, ib = interval(va), interval(vb)
            cols, rob = _robust(va, vb, design)
            rows.append({**_row(f"trust {src}->{tgt} end {year}", ia, ib), **cols})
            diffs.append((abs(ia[0] - ib[0]), src, tgt, year, step, ia, ib, rob))
    diffs.sort(key=lambda t: -t[0])
    used: set[tuple[str, str]] = set()
    reasons = []
    for gap, src, tgt, year, step, ia, ib, rob in diffs:
        if gap < 0.02 or (src, tgt) in used or len(used) >= 3:
            continue
        used.add((src, tgt))
        summary.append(f"{src}->{tgt} trust at the end of {year}: {fmt(ia)} under A vs "
                       f"{fmt(ib)} under B.{_tag(rob)}")
        cell = spec.ACTOR_INDEX[src] * spec.N_ACTORS + spec.ACTOR_INDEX[tgt]
        ctr_a, ctr_b = _contributions(ra, cell, step), _contributions(rb, cell, step)
        keys = set(ctr_a) | set(ctr_b)
        delta = sorted(((ctr_a.get(k, 0.0) - ctr_b.get(k, 0.0), k) for k in keys),
                       key=lambda t: -abs(t[0]))
        parts = [f"{k} ({v:+.3f})" for v, k in delta[:3] if abs(v) >= 0.005]
        if parts:
            reasons.append(f"{src}->{tgt} {year} (A minus B = {ia[0] - ib[0]:+.3f}): "
                           + "; ".join(parts) + ".")
    return reasons


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


def write(cmp: Comparison, out: Path) -> list[Path]:
    """``comparison.csv`` (the table), ``summary.md`` (the text) and ``comparison.png`` (the
    bands) in folder ``out``, each written atomically; returns their paths."""
    from model.io.atomic import atomic_output, write_csv, write_text

    out.mkdir(parents=True, exist_ok=True)
    csv = write_csv(out / "comparison.csv", cmp.table, index=False)
    md = write_text(out / "summary.md",
                    f"# {cmp.name_a} vs {cmp.name_b}\n\n" + cmp.text() + "\n", fsync=False)
    with atomic_output(out / "comparison.png", fsync=False) as tmp:
        plot(cmp, tmp)
    return [csv, md, out / "comparison.png"]
