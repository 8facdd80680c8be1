"""Sweep results for the Sweeps page: open a results folder, or run a small sweep here.

A sweep results folder holds Parquet parts with one row per run (parameter columns and outcome
columns), a ``manifest.json`` describing them, and optionally ``sensitivity*.csv`` tables of
sensitivity indices. ``load`` reads such a folder and refuses anything else with a message that
says what was expected; it never writes. ``small_sweep`` runs a small sweep of a few parameters
over their bounds through ``model.experiments.sweep`` (its samplers, outcome registry, store and
analysis), for a quick look when no folder is at hand.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from model.analysis import outcomes as O
from model.core import params as P
from model.experiments import sweep as msweep
from model.inputs.scenario import Scenario, load_scenario
from model.io.paths import ROOT, SCENARIOS

#: Columns that identify a run rather than describe it.
ID_COLUMNS = {"run", "run_id", "seed", "chunk", "sample", "replicate", "point", "index", "id"}
#: Where the page looks for results folders.
SEARCH_DIRS = ("results", "out", "sweeps", "reports")


#: A folder that is not a readable sweep results folder, or a small sweep that cannot run: the
#: package's own error type.
SweepError = msweep.SweepError


@dataclass
class Sweep:
    """A loaded sweep: one row per run, which columns are parameters and which outcomes."""

    path: Path
    frame: pd.DataFrame
    parameters: list[str]
    outcomes: list[str]
    manifest: dict = field(default_factory=dict)
    sensitivity: pd.DataFrame | None = None


def _names(spec) -> list[str]:
    """Column names from a manifest entry: a list of names, of {name: ...} records, or a
    mapping name -> anything."""
    if spec is None:
        return []
    if isinstance(spec, dict):
        return [str(k) for k in spec]
    out = []
    for item in spec:
        if isinstance(item, dict) and "name" in item:
            out.append(str(item["name"]))
        elif isinstance(item, str):
            out.append(item)
    return out


def _manifest(folder: Path) -> dict:
    path = folder / "manifest.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SweepError(f"{path}: not a readable JSON manifest ({exc})") from None
    if not isinstance(data, dict):
        raise SweepError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


#: Index columns to draw, by the analysis that wrote them (others are shown in the table).
PREFERRED_INDEXES = (("S1", "ST"), ("mu_star", "sigma"), ("spearman_rho",))
NOT_INDEXES = {"p_value", "pvalue", "p", "mu"}


def sensitivity_long(df: pd.DataFrame, source: str = "") -> pd.DataFrame:
    """A sensitivity table as long rows: outcome, parameter, index, value, lo, hi.

    Accepts a long table (columns parameter, index, value and lo/hi or conf) or a wide one in
    SALib's shape (a parameter column, index columns such as S1, ST, mu_star, and their
    ``*_conf`` half-widths), as ``model.experiments.sweep.analyze`` writes them.
    """
    cols = {c.lower(): c for c in df.columns}
    pcol = next((cols[c] for c in ("parameter", "param", "name", "names") if c in cols), None)
    if pcol is None:
        text_cols = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])
                     and c.lower() != "outcome"]
        pcol = text_cols[0] if text_cols else None
    if pcol is None:
        raise SweepError(f"{source}: no parameter column (expected 'parameter')")
    ocol = cols.get("outcome")
    outcome = df[ocol].astype(str) if ocol else (Path(source).stem or "outcome")
    if "index" in cols and "value" in cols:
        out = pd.DataFrame({"parameter": df[pcol].astype(str), "index": df[cols["index"]],
                            "value": pd.to_numeric(df[cols["value"]], errors="coerce")})
        if "lo" in cols and "hi" in cols:
            out["lo"], out["hi"] = df[cols["lo"]], df[cols["hi"]]
        elif "conf" in cols:
            out["lo"] = out["value"] - df[cols["conf"]]
            out["hi"] = out["value"] + df[cols["conf"]]
        else:
            out["lo"] = out["hi"] = np.nan
        out["outcome"] = outcome
        return out
    numeric = [c for c in df.columns if c not in (pcol, ocol) and
               pd.api.types.is_numeric_dtype(df[c]) and not c.lower().endswith("_conf")
               and c.lower() not in NOT_INDEXES]
    for pref in PREFERRED_INDEXES:
        if all(c in numeric for c in pref):
            numeric = list(pref)
            break
    rows = []
    for c in numeric:
        conf = next((df[x] for x in df.columns if x.lower() == f"{c.lower()}_conf"), None)
        part = pd.DataFrame({"parameter": df[pcol].astype(str), "index": c,
                             "value": df[c].astype(float)})
        part["lo"] = part["value"] - conf if conf is not None else np.nan
        part["hi"] = part["value"] + conf if conf is not None else np.nan
        part["outcome"] = outcome
        rows.append(part)
    if not rows:
        raise SweepError(f"{source}: no numeric index columns (expected e.g. S1, ST)")
    return pd.concat(rows, ignore_index=True)


def read_sensitivity(path: Path) -> pd.DataFrame:
    """``sensitivity_long`` of a CSV file; SweepError when it is not a readable table."""
    try:
        df = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        raise SweepError(f"{path}: not a readable CSV table ({exc})") from None
    return sensitivity_long(df, str(path))


def _parts(path: Path) -> list[Path]:
    """Parquet files with one row per run: everything but the sample matrix, the time series
    and temporary files."""
    out = []
    for p in sorted(path.rglob("*.parquet")):
        rel = p.relative_to(path).parts
        if p.name.startswith(".") or p.name == "samples.parquet" or "timeseries" in rel[:-1]:
            continue
        out.append(p)
    return out


def _sensitivity_files(path: Path) -> list[Path]:
    files = sorted(path.glob("sensitivity*.csv"))
    analysis = path / "analysis"
    if analysis.is_dir():
        files += sorted(p for p in analysis.glob("*.csv")
                        if p.stem in ("sobol", "morris", "spearman")
                        or p.stem.startswith("sensitivity"))
    return files


def load(folder: str | Path) -> Sweep:
    """Read a sweep results folder; raises ``SweepError`` saying what is wrong with it.

    A folder written by ``python -m model sweep`` (manifest format ``afpak-sweep/1``) is read
    with ``model.experiments.sweep``; any other folder of Parquet files with one row per run works
    too, its
    parameter columns recognised by name (or listed in a ``manifest.json``).
    """
    text = str(folder).strip()
    if not text:
        raise SweepError("no folder given: enter the path of a sweep results folder")
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = ROOT / path
    if not path.exists():
        raise SweepError(f"{path}: no such folder")
    if not path.is_dir():
        raise SweepError(f"{path}: is a file; expected a sweep results folder (Parquet parts "
                         "with one row per run, and manifest.json)")
    manifest = _manifest(path)
    if manifest.get("format") == msweep.FORMAT:
        try:
            df = msweep.load_results(path, complete=False)
        except (OSError, pa.ArrowException, KeyError) as exc:
            raise SweepError(f"{path}: the sweep's parts cannot be read ({exc})") from None
        if df.empty:
            raise SweepError(f"{path}: the sweep has no finished chunks yet")
    else:
        parts = _parts(path)
        if not parts:
            raise SweepError(f"{path}: no Parquet files; this is not a sweep results folder "
                             "(expected *.parquet parts with one row per run, and "
                             "manifest.json)")
        frames = []
        for part in parts:
            try:
                frames.append(pq.read_table(part).to_pandas())
            except (OSError, pa.ArrowException) as exc:
                raise SweepError(f"{part}: not a readable Parquet file ({exc})") from None
        try:
            df = pd.concat(frames, ignore_index=True)
        except (TypeError, ValueError) as exc:
            raise SweepError(f"{path}: the Parquet parts do not share one table ({exc})"
                             ) from None
    if {"metric", "step", "value"} <= set(df.columns):
        raise SweepError(f"{path}: holds a long time-series table (run, step, metric, value) "
                         "as written by `python -m model run --out`, not sweep results with "
                         "one row per run")
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    declared = _names(manifest.get("parameters")) or (
        _names(manifest.get("uncertainties")) + _names(manifest.get("levers")))
    params = [c for c in declared if c in df.columns] if declared else [
        c for c in numeric if c in P.table()]
    params = [c for c in params if c in numeric]
    declared_out = _names(manifest.get("outcomes"))
    outcomes = [c for c in declared_out if c in numeric] if declared_out else [
        c for c in numeric if c not in params and c.lower() not in ID_COLUMNS]
    if not params:
        raise SweepError(f"{path}: no parameter columns (expected columns named after the "
                         "model's parameters, or a manifest.json listing 'parameters')")
    if not outcomes:
        raise SweepError(f"{path}: no numeric outcome columns besides the parameters")
    sens = [read_sensitivity(p) for p in _sensitivity_files(path)]
    return Sweep(path=path, frame=df, parameters=params, outcomes=outcomes, manifest=manifest,
                 sensitivity=pd.concat(sens, ignore_index=True) if sens else None)


def find_folders(root: Path = ROOT, depth: int = 3) -> list[Path]:
    """Folders under the usual results places that hold a manifest.json and Parquet files."""
    found = []
    for name in SEARCH_DIRS:
        base = root / name
        if not base.is_dir():
            continue
        for manifest in base.rglob("manifest.json"):
            folder = manifest.parent
            if len(folder.relative_to(base).parts) < depth and any(folder.rglob("*.parquet")):
                found.append(folder)
    return sorted(set(found))


# ---------------------------------------------------------------------- a small sweep here
#: Outcomes of a sweep run from the page, in ``model.analysis.outcomes`` spec form: the model's
#: default
#: set, with the army's hedging in place of US strikes.
SMALL_OUTCOMES = {**{k: v for k, v in O.DEFAULT.items() if k != "strikes"},
                  "hedging": {"kind": "action_count", "action": "MIL_HEDGE"}}


@dataclass
class SmallSweep:
    """The result of a sweep run from the page: one row per run and the sensitivity table."""

    frame: pd.DataFrame
    parameters: list[str]
    outcomes: list[str]
    sensitivity: pd.DataFrame
    method: str
    engine: str


def _spec(names: Sequence[str], n: int, seed: int, method: str) -> dict:
    tab = P.table()
    return {"name": "dashboard", "sampler": {"method": method}, "samples": int(n),
            "replicates": 1, "seed": int(seed),
            "parameters": {k: [tab[k].lo, tab[k].hi] for k in names},
            "outcomes": SMALL_OUTCOMES}


def sample(names: Sequence[str], n: int, seed: int, sc: Scenario | None = None
           ) -> pd.DataFrame:
    """The package's Latin hypercube sample of ``n`` points over the table bounds of the
    parameters (``model.experiments.sweep.sample_matrix``)."""
    sc = sc if sc is not None else load_scenario(SCENARIOS / "baseline.yaml")
    sw = msweep.from_mapping(_spec(list(names), n, seed, "lhs"), scenario=sc)
    return pd.DataFrame(msweep.sample_matrix(sw), columns=list(names))


def small_sweep(sc: Scenario, names: Sequence[str], n: int, seed: int,
                method: str = "lhs") -> SmallSweep:
    """Sample ``names`` over their table bounds and run one model run per point.

    The sweep runs through ``model.experiments.sweep`` (sampler ``lhs`` or ``sobol``, written
    to a temporary folder that is removed afterwards) and its analysis gives the indices.
    """
    names = list(names)
    if not names:
        raise SweepError("choose at least one parameter to vary")
    if n < 2:
        raise SweepError(f"a sweep needs at least 2 points, got {n}")
    if method == "sobol" and n & (n - 1):
        raise SweepError(f"a Sobol sweep needs a power of two points, got {n}")
    sw = msweep.from_mapping(_spec(names, n, seed, method), scenario=sc)
    with tempfile.TemporaryDirectory(prefix="afpak-dashboard-sweep-") as tmp:
        out = Path(tmp) / "sweep"
        msweep.run_sweep(sw, out, progress=False, log=lambda _msg: None)
        df = msweep.load_results(out)
        an = msweep.analyze(out, dest=Path(tmp) / "analysis", plots=False)
    sens = pd.concat([sensitivity_long(t.assign(outcome=k), k)
                      for k, t in an.tables.items()], ignore_index=True)
    return SmallSweep(df, names, list(SMALL_OUTCOMES), sens, method, "model.experiments.sweep")


def rank_sensitivity(df: pd.DataFrame, params: Sequence[str], outcome: str, boot: int = 200,
                     seed: int = 0) -> pd.DataFrame:
    """Spearman rank correlation of each parameter with an outcome, with a bootstrap 90%
    interval: a quick screening index when the folder has no sensitivity table."""
    data = df[[*params, outcome]].dropna()
    ranks = data.rank().to_numpy()
    rng = np.random.default_rng(seed)
    n = len(ranks)
    rows = []
    for k, name in enumerate(params):
        x, y = ranks[:, k], ranks[:, -1]

        def rho(ix: np.ndarray, x=x, y=y) -> float:
            a, b = x[ix], y[ix]
            if a.std() == 0 or b.std() == 0:
                return 0.0
            return float(np.corrcoef(a, b)[0, 1])

        est = rho(np.arange(n)) if n > 2 else np.nan
        bs = [rho(rng.integers(0, n, n)) for _ in range(boot)] if n > 2 else [np.nan]
        lo, hi = np.nanquantile(bs, [0.05, 0.95]) if n > 2 else (np.nan, np.nan)
        rows.append({"parameter": name, "index": "Spearman ρ", "value": est, "lo": lo,
                     "hi": hi, "outcome": outcome})
    return pd.DataFrame(rows)
