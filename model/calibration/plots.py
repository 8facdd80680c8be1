"""The calibration report's figures (PNG files, matplotlib's file-only Agg backend): prior vs
posterior marginals, the most correlated posterior pairs, simulated history bands against the
documented timeline, and the identification bars."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from model.analysis.history import patterns
from model.calibration.fit import Calibration
from model.calibration.scoring import SPLIT
from model.core import params as P
from model.core import spec
from model.engine.runner import Results
from model.inputs.catalog import load_catalog
from model.io import atomic


def _plt():
    """matplotlib's pyplot on the file-only Agg backend."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _savefig(fig, path: Path) -> Path:
    """Save ``fig`` to ``path`` atomically (``model.io.atomic``) and close it."""
    try:
        return atomic.save_figure(path, fig, dpi=90, bbox_inches="tight")
    finally:
        _plt().close(fig)


def plot_marginals(cal: Calibration, ident: pd.DataFrame, path: Path) -> Path:
    """Prior (wave 0) vs weighted posterior histogram of every parameter, most narrowed
    first."""
    plt = _plt()
    post = cal.posterior_frame()
    w = post["weight"].to_numpy()
    order = ident.sort_values("sd_ratio")["parameter"].tolist()
    n = len(order)
    cols = 10
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.0 * cols, 1.55 * rows))
    for ax in np.ravel(axes)[n:]:
        ax.axis("off")
    for ax, name in zip(np.ravel(axes), order, strict=False):
        k = cal.names.index(name)
        lo, hi = cal.problem.lo[k], cal.problem.hi[k]
        bins = np.linspace(lo, hi, 21)
        ax.hist(cal.problem.to_values(cal.u[cal.wave == 0])[:, k], bins=bins, density=True,
                color="0.8", label="prior (wave 0)")
        ax.hist(post[name], bins=bins, weights=w, density=True, color="tab:blue", alpha=0.75,
                label="posterior")
        ax.axvline(P.table()[name].default, color="tab:red", lw=1)
        ax.set_title(name, fontsize=7)
        ax.tick_params(labelsize=5)
        ax.set_yticks([])
    fig.suptitle("Prior (grey) vs weighted posterior (blue); red: table default. Ordered from "
                 "most to least narrowed (posterior sd / prior sd)", fontsize=10)
    fig.tight_layout()
    return _savefig(fig, path)


def correlated_pairs(cal: Calibration, n_pairs: int = 6) -> list[tuple[str, str, float]]:
    """The ``n_pairs`` parameter pairs of largest |correlation| in the posterior."""
    x = cal.posterior_frame()[list(cal.names)].to_numpy()
    ok = x.std(axis=0) > 0
    c = np.zeros((x.shape[1], x.shape[1]))
    if ok.sum() > 1:
        c[np.ix_(ok, ok)] = np.corrcoef(x[:, ok], rowvar=False)
    iu = np.triu_indices(x.shape[1], 1)
    top = np.argsort(-np.abs(c[iu]))[:n_pairs]
    return [(cal.names[iu[0][t]], cal.names[iu[1][t]], float(c[iu][t])) for t in top]


def plot_pairs(cal: Calibration, path: Path, n_pairs: int = 6
               ) -> tuple[Path, list[tuple[str, str, float]]]:
    """Scatter plots of the most correlated posterior pairs (marker size: weight)."""
    plt = _plt()
    post = cal.posterior_frame()
    w = post["weight"].to_numpy()
    pairs = correlated_pairs(cal, n_pairs)
    fig, axes = plt.subplots(2, 3, figsize=(12, 7.5))
    for ax, (a, b, r) in zip(np.ravel(axes), pairs, strict=False):
        ax.scatter(post[a], post[b], s=6 + 400 * w, alpha=0.6)
        ax.set_xlabel(a)
        ax.set_ylabel(b)
        ax.set_title(f"r = {r:+.2f}")
    fig.suptitle("Most correlated parameter pairs in the posterior (marker size: weight)")
    fig.tight_layout()
    return _savefig(fig, path), pairs


def _band(ax, dates, arr, color, label) -> None:
    q = np.quantile(arr, [0.05, 0.5, 0.95], axis=0)
    ax.fill_between(dates, q[0], q[2], color=color, alpha=0.2)
    ax.plot(dates, q[1], color=color, label=label, lw=1.2)


def _timeline(axes) -> None:
    """The documented decisions, shocks, turns and aid figures behind the bands."""
    cat = load_catalog()
    for ev in cat.decisions():
        for ax in axes:
            ax.axvline(pd.Timestamp(ev.month), color="0.85", lw=0.6, zorder=0)
    for ev in cat.shocks():
        for ax in axes[:2]:
            ax.axvline(pd.Timestamp(ev.month), color="tab:red", lw=0.5, alpha=0.4, zorder=0)
    for p in patterns():
        for ax in axes[:2]:
            ax.axvspan(pd.Timestamp(p.after[0]), pd.Timestamp(p.after[1]), color="tab:purple",
                       alpha=0.08)
            ax.text(pd.Timestamp(p.after[0]), 0.02, p.id, fontsize=7, color="tab:purple",
                    transform=ax.get_xaxis_transform())
    # documented aid figures as monthly levels
    axes[2].hlines(1000 / 12, pd.Timestamp("2011-01"), pd.Timestamp("2011-12"), color="k",
                   lw=2, label="'$1 bln a year' (2011)")
    axes[2].hlines(7500 / 60, pd.Timestamp("2009-10"), pd.Timestamp("2014-09"), color="k",
                   lw=2, ls="--", label="$7.5 bn / 5 yr civilian (2009-14)")


def plot_bands(res_by: Mapping[str, Results], path: Path) -> Path:
    """Median and 5-95 % bands of trust both ways and US aid, one colour per parameter
    source, against the documented timeline."""
    plt = _plt()
    first = next(iter(res_by.values()))
    dates = pd.to_datetime(pd.Series(first.dates), format="%Y-%m")
    fig, axes = plt.subplots(3, 1, figsize=(13, 11), sharex=True)
    colors = {"table defaults": "tab:gray", f"posterior (fit .. {SPLIT})": "tab:orange",
              "posterior (fit on all)": "tab:blue"}
    for label, res in res_by.items():
        col = colors.get(label, "tab:green")
        _band(axes[0], dates, res.trust_series("PAK_MIL", "US").astype(float), col,
              f"{label}")
        _band(axes[1], dates, res.trust_series("US", "PAK_MIL").astype(float), col, label)
        _band(axes[2], dates, res.aid[:, :, spec.AID_MIL].astype(float)
              + res.aid[:, :, spec.AID_CIV].astype(float), col, label)
    axes[0].set_ylabel("trust PAK_MIL -> US")
    axes[1].set_ylabel("trust US -> PAK_MIL")
    axes[2].set_ylabel("US aid to Pakistan ($M / month)")
    _timeline(axes)
    for ax in axes:
        ax.legend(fontsize=7, loc="upper left")
    axes[0].set_title("Simulated history, median and 5-95 % band; grey lines: documented "
                      "decisions, red: shocks, purple: windows of the documented turns")
    fig.tight_layout()
    return _savefig(fig, path)


def plot_identification(ident: pd.DataFrame, path: Path) -> Path:
    """Posterior sd / prior sd per parameter (blue: identified)."""
    plt = _plt()
    d = ident.sort_values("sd_ratio")
    fig, ax = plt.subplots(figsize=(8, max(6, 0.16 * len(d))))
    ax.barh(d["parameter"], d["sd_ratio"], color=np.where(d["identified"], "tab:blue",
                                                           "0.7"))
    ax.axvline(0.7, color="tab:red", lw=0.8)
    ax.set_xlabel("posterior sd / prior sd (blue: identified)")
    ax.tick_params(axis="y", labelsize=6)
    ax.invert_yaxis()
    fig.tight_layout()
    return _savefig(fig, path)
