"""Figures of a sweep analysis: a bar chart of the indices per outcome and scatter plots of each
outcome against each parameter (matplotlib's object API, no global state; written atomically).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from model.io import atomic


def _save(fig, path: Path) -> Path:
    return atomic.save_figure(path, fig, dpi=110, bbox_inches="tight")


def bar_chart(kind: str, name: str, tab: pd.DataFrame, dest: Path) -> Path:
    from matplotlib.figure import Figure

    n = len(tab)
    fig = Figure(figsize=(max(5.0, 0.9 * n + 2), 3.8))
    ax = fig.add_subplot()
    xs = np.arange(n)
    if kind == "sobol":
        ax.bar(xs - 0.2, tab["S1"], 0.4, yerr=tab["S1_conf"], capsize=3, label="S1 (first order)")
        ax.bar(xs + 0.2, tab["ST"], 0.4, yerr=tab["ST_conf"], capsize=3, label="ST (total)")
        ax.set_ylabel("Sobol index")
    elif kind == "morris":
        ax.bar(xs - 0.2, tab["mu_star"], 0.4, yerr=tab["mu_star_conf"], capsize=3, label="mu*")
        ax.bar(xs + 0.2, tab["sigma"], 0.4, label="sigma")
        ax.set_ylabel("elementary effects")
    else:
        ax.bar(xs, tab["spearman_rho"], 0.6, label="Spearman rho")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_ylabel("rank correlation")
    ax.set_xticks(xs, tab["parameter"], rotation=35, ha="right")
    ax.set_title(f"{name}: {kind}")
    ax.legend(frameon=False)
    return _save(fig, dest / f"{kind}_{name}.png")


def scatter(name: str, df: pd.DataFrame, samples: pd.DataFrame, names: Sequence[str],
             dest: Path, max_points: int = 20_000) -> Path:
    from matplotlib.figure import Figure

    if len(df) > max_points:
        df = df.iloc[np.sort(np.random.default_rng(0).choice(len(df), max_points,
                                                             replace=False))]
    y = df[name].to_numpy()
    k = len(names)
    ncol = min(k, 3)
    nrow = math.ceil(k / ncol)
    fig = Figure(figsize=(4.0 * ncol, 3.2 * nrow))
    for i, p in enumerate(names):
        ax = fig.add_subplot(nrow, ncol, i + 1)
        x = samples[p].to_numpy()[df["sample"].to_numpy()]
        ax.scatter(x, y, s=4, alpha=0.35, linewidths=0, rasterized=True)
        ax.set_xlabel(p)
        ax.set_ylabel(name)
    fig.suptitle(f"{name} against each parameter ({len(df):,} runs)")
    return _save(fig, dest / f"scatter_{name}.png")
