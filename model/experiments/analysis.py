"""Sensitivity analysis of a finished sweep, matched to its sampler: Sobol indices and Morris
elementary effects from ``SALib.analyze``, Spearman rank correlations from ``scipy.stats`` for
LHS and factorial sweeps. Outcomes are averaged over replicates first.

Every Sobol and Morris index comes with its bootstrap confidence interval (SALib's ``*_conf``
half-widths), printed and written; a ``caveat`` column flags an index whose interval is wider
than the index itself, or a Sobol index outside [0, 1], and a warning is printed when the sample
is below ``SOBOL_MIN_N`` base samples (Sobol) or ``MORRIS_MIN_TRAJECTORIES`` trajectories
(Morris): such indices mean nothing yet.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from model.experiments import plots as figures
from model.experiments.folder import ANALYSIS, load_results, load_samples, read_manifest
from model.experiments.spec import SweepError
from model.io import atomic

#: Sobol base samples N below which the indices are flagged as unreliable (Saltelli's
#: estimators need several hundred base samples; SALib's examples use 1024).
SOBOL_MIN_N = 256
#: Morris trajectories below which mu* is flagged as unreliable (10-20 are the usual advice).
MORRIS_MIN_TRAJECTORIES = 10
#: The indices checked against their intervals, per kind: (index, its ``*_conf`` column).
CHECKED = {"sobol": (("S1", "S1_conf"), ("ST", "ST_conf")),
           "morris": (("mu_star", "mu_star_conf"),)}


@dataclass
class Analysis:
    """Sensitivity indices per outcome and the files written."""

    method: str
    tables: dict[str, pd.DataFrame]
    files: list[Path]
    notes: list[str]
    header: str

    def text(self) -> str:
        lines = [self.header]
        for name, df in self.tables.items():
            lines.append("")
            lines.append(f"outcome {name}")
            lines.append(df.to_string(index=False, float_format=lambda v: f"{v:9.4f}"))
        lines.extend(self.notes)
        if self.files:
            lines.append("")
            lines.append(f"wrote {len(self.files)} file(s) to {self.files[0].parent}")
        return "\n".join(lines)


def _replicate_means(df: pd.DataFrame, outcomes: Sequence[str], rows: int) -> pd.DataFrame:
    means = df.groupby("sample", sort=True)[list(outcomes)].mean()
    if len(means) != rows or not np.array_equal(means.index.to_numpy(), np.arange(rows)):
        raise SweepError(f"the sweep has rows for {len(means)} of {rows} samples")
    return means


@dataclass(frozen=True)
class _Setup:
    """What every outcome's analysis needs from the folder and the command line."""

    method: str
    opts: dict
    problem: dict
    names: list[str]
    samples: pd.DataFrame
    resamples: int
    conf_level: float
    seed: int


def _sobol(s: _Setup, y: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    from SALib.analyze import sobol as sobol_analyze

    names = s.names
    # a Generator: SALib reads an int seed of 0 as "no seed"
    r = sobol_analyze.analyze(s.problem, y, calc_second_order=s.opts["second_order"],
                              num_resamples=s.resamples, conf_level=s.conf_level,
                              seed=np.random.default_rng(s.seed))
    tab = pd.DataFrame({"parameter": names, "S1": r["S1"], "S1_conf": r["S1_conf"],
                        "ST": r["ST"], "ST_conf": r["ST_conf"]})
    if not s.opts["second_order"]:
        return tab, None
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    s2 = pd.DataFrame({"parameter_1": [names[i] for i, _ in pairs],
                       "parameter_2": [names[j] for _, j in pairs],
                       "S2": [r["S2"][i, j] for i, j in pairs],
                       "S2_conf": [r["S2_conf"][i, j] for i, j in pairs]})
    return tab, s2


def _morris(s: _Setup, y: np.ndarray) -> pd.DataFrame:
    from SALib.analyze import morris as morris_analyze

    r = morris_analyze.analyze(s.problem, s.samples.to_numpy(dtype=np.float64), y,
                               num_resamples=s.resamples, conf_level=s.conf_level,
                               num_levels=s.opts["levels"], seed=np.random.default_rng(s.seed))
    return pd.DataFrame({"parameter": s.names, "mu": r["mu"], "mu_star": r["mu_star"],
                         "sigma": r["sigma"], "mu_star_conf": r["mu_star_conf"]})


def _spearman(s: _Setup, y: np.ndarray, constant: bool) -> pd.DataFrame:
    from scipy.stats import spearmanr

    rho, pval = [], []
    for n in s.names:
        xv = s.samples[n].to_numpy(dtype=np.float64)
        if constant or np.ptp(xv) == 0:
            rho.append(np.nan)
            pval.append(np.nan)
            continue
        res = spearmanr(xv, y)
        rho.append(float(res.statistic))
        pval.append(float(res.pvalue))
    return pd.DataFrame({"parameter": s.names, "spearman_rho": rho, "p_value": pval})


def _indices(s: _Setup, y: np.ndarray, constant: bool
             ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The table of one outcome (and the Sobol S2 pairs when asked for)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if s.method == "sobol":
            return _sobol(s, y)
        if s.method == "morris":
            return _morris(s, y), None
        return _spearman(s, y, constant), None


def caveats(kind: str, tab: pd.DataFrame) -> list[str]:
    """Per row of an index table: what makes its indices meaningless ("" when nothing): an
    interval wider than the index, or a Sobol index outside [0, 1]."""
    out = []
    for _, row in tab.iterrows():
        why = []
        for index, conf in CHECKED.get(kind, ()):
            v, c = float(row[index]), float(row[conf])
            if not (np.isfinite(v) and np.isfinite(c)):
                continue
            if c > abs(v):
                why.append(f"{index} CI wider than {index}")
            if kind == "sobol" and not -c <= v <= 1 + c:
                why.append(f"{index} outside [0, 1]")
        out.append("; ".join(why))
    return out


def size_warning(man: dict) -> str | None:
    """A warning when the sweep is too small for its indices to mean anything."""
    opts = man.get("sampler_options") or {}
    if man["sampler"] == "sobol" and man["samples"] < SOBOL_MIN_N:
        return (f"warning: N = {man['samples']} Sobol base samples is below {SOBOL_MIN_N}: the "
                f"indices and their intervals are not reliable at this size (totals above 1, "
                f"negative first-order indices); use samples: {SOBOL_MIN_N} or more")
    trajectories = opts.get("optimal_trajectories") or man["samples"]
    if man["sampler"] == "morris" and trajectories < MORRIS_MIN_TRAJECTORIES:
        return (f"warning: {trajectories} Morris trajectories is below "
                f"{MORRIS_MIN_TRAJECTORIES}: mu* and sigma are not reliable at this size; use "
                f"samples: {MORRIS_MIN_TRAJECTORIES} or more")
    return None


def _flag(kind: str, tables: dict[str, pd.DataFrame], notes: list[str]) -> None:
    """Add the ``caveat`` column to each table and a note per outcome with flagged indices."""
    if kind not in CHECKED:
        return
    for name, tab in tables.items():
        tab["caveat"] = caveats(kind, tab)
        bad = int((tab["caveat"] != "").sum())
        if bad:
            notes.append(f"warning: outcome {name}: {bad} of {len(tab)} parameter(s) have an "
                         f"index whose confidence interval is wider than the index, or outside "
                         f"[0, 1] (see 'caveat'); read them as unknown")


def _outcome_first(df: pd.DataFrame) -> pd.DataFrame:
    return df[["outcome", *[c for c in df.columns if c != "outcome"]]]


def _write(kind: str, tables: dict[str, pd.DataFrame], extra: dict[str, pd.DataFrame],
           dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    long = pd.concat([t.assign(outcome=n) for n, t in tables.items()], ignore_index=True)
    files = [atomic.write_csv(dest / f"{kind}.csv", _outcome_first(long))]
    if extra:
        s2 = pd.concat([t.assign(outcome=n) for n, t in extra.items()], ignore_index=True)
        files.append(atomic.write_csv(dest / "sobol_S2.csv", _outcome_first(s2)))
    return files


def analyze(out: str | Path, dest: str | Path | None = None, resamples: int = 1000,
            conf_level: float = 0.95, seed: int = 0, plots: bool = True) -> Analysis:
    """Sensitivity analysis of a finished sweep, matched to its sampler.

    Sobol sweeps: first-order (S1) and total (ST) indices with bootstrap confidence intervals
    (``SALib.analyze.sobol``); Morris: mu*, sigma and mu* confidence (``SALib.analyze.morris``);
    LHS and factorial: Spearman rank correlations. Outcomes are averaged over replicates first.
    Writes ``<method>.csv`` (and ``sobol_S2.csv``), bar charts and scatter plots (PNG, via
    matplotlib) to ``dest`` (default ``out/analysis``).
    """
    out = Path(out)
    man = read_manifest(out)
    if not 0 < conf_level < 1:
        raise SweepError(f"--conf-level must lie strictly between 0 and 1, got {conf_level}")
    names = [p["name"] for p in man["parameters"]]
    outs = [o["name"] for o in man["outcomes"]]
    df = load_results(out, columns=["run_id", "sample", "replicate", *outs])
    samples = load_samples(out)[names]
    means = _replicate_means(df, outs, man["rows"])
    problem = {"num_vars": len(names), "names": names,
               "bounds": [[p["lo"], p["hi"]] for p in man["parameters"]]}
    setup = _Setup(man["sampler"], man["sampler_options"], problem, names, samples, resamples,
                   conf_level, seed)
    tables: dict[str, pd.DataFrame] = {}
    extra: dict[str, pd.DataFrame] = {}
    notes: list[str] = []
    for name in outs:
        y = means[name].to_numpy(dtype=np.float64)
        constant = bool(np.ptp(y) == 0)
        if constant:
            notes.append(f"note: outcome {name} is constant over the sweep; its indices are "
                         f"undefined (NaN)")
        tables[name], s2 = _indices(setup, y, constant)
        if s2 is not None:
            extra[name] = s2
    kind = {"sobol": "sobol", "morris": "morris"}.get(setup.method, "spearman")
    _flag(kind, tables, notes)
    if (warn := size_warning(man)) is not None and kind in CHECKED:
        notes.insert(0, warn)
    header = _header(kind, man, setup)
    dest = Path(dest) if dest is not None else out / ANALYSIS
    files = _write(kind, tables, extra, dest)
    if plots:
        files += _figures(kind, tables, out, outs, samples, names, dest)
    return Analysis(method=kind, tables=tables, files=files, notes=notes, header=header)


def _header(kind: str, man: dict, s: _Setup) -> str:
    text = (f"{kind} analysis of sweep {man['name']!r} ({s.method}, {man['rows']:,} "
            f"samples x {man['replicates']} replicate(s) = {man['runs']:,} runs; scenario "
            f"{man['scenario_name']!r}, {man['months']} months; parameters not swept: "
            f"{man.get('params_text', 'the parameter table defaults')}; outcomes averaged "
            f"over replicates)")
    if kind in CHECKED:
        text += (f"\n*_conf: half-width of the {s.conf_level:.0%} bootstrap confidence "
                 f"interval ({s.resamples} resamples)")
    return text


def _figures(kind: str, tables: dict[str, pd.DataFrame], out: Path, outs: Sequence[str],
             samples: pd.DataFrame, names: Sequence[str], dest: Path) -> list[Path]:
    files = [figures.bar_chart(kind, name, tab, dest) for name, tab in tables.items()]
    full = load_results(out, columns=["run_id", "sample", *outs])
    files += [figures.scatter(name, full, samples, names, dest) for name in outs]
    return files
