"""Sweep results for the Sweeps page: open a results folder, or run a small sweep here.

A sweep results folder holds Parquet parts with one row per run (parameter columns and outcome
columns), a ``manifest.json`` describing them, and optionally ``sensitivity*.csv`` tables of
sensitivity indices. The page reads such folders only under the configured results roots
(``results_roots``: ``out/`` unless ``AFPAK_RESULTS`` names others), through the project's
file-access policy (``model.io.access``): ``find_folders`` lists the folders there (symbolic
links are not followed), ``load`` opens a listed name and nothing else, refuses a folder whose
files are too big before reading them, reads only the parameter, outcome and run-id columns,
and says what is wrong in one message that never names a server path. ``small_sweep`` runs a
small sweep of a few parameters over their bounds through ``model.experiments.sweep`` (its
samplers, outcome registry, store and analysis), for a quick look when no folder is at hand.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from model.analysis import outcomes as O
from model.core import params as P
from model.experiments import analysis as manalysis
from model.experiments import sweep as msweep
from model.inputs.scenario import Scenario, load_scenario
from model.io import access
from model.io.paths import ROOT, SCENARIOS

#: Columns that identify a run rather than describe it.
ID_COLUMNS = {"run", "run_id", "seed", "chunk", "sample", "replicate", "point", "index", "id"}
#: The environment variable that names the results roots (folders separated by ``os.pathsep``;
#: relative to the repository); unset: ``out/`` only.
ROOTS_ENV = "AFPAK_RESULTS"
#: Most bytes on disk the page reads from one folder (its run tables and sensitivity tables).
MAX_DISK_BYTES = 200_000_000
#: Most bytes the run table may take once decoded (rows x columns x 8): Parquet compresses
#: well, and 72 MB on disk once became 3.1 GB in memory.
MAX_TABLE_BYTES = 400_000_000
#: Most runs drawn in a scatter plot (a random subset above it, said in the caption).
MAX_SCATTER_POINTS = 20_000
#: Most rows shown in the table of runs (the first ones; the CLI reads the rest).
MAX_TABLE_ROWS = 2_000
#: Fewer runs than this: the page's rank-correlation screening is flagged as unreliable.
MIN_SCREENING_RUNS = 30


#: A folder that is not a readable sweep results folder, or a small sweep that cannot run: the
#: package's own error type.
SweepError = msweep.SweepError


@dataclass
class Sweep:
    """A loaded sweep: one row per run, which columns are parameters and which outcomes.

    ``name`` is the folder as the page lists it (``out/NAME``); ``notes`` are the warnings of
    the sweep's own analysis (a sample too small for its indices, indices whose interval is
    wider than themselves); ``params_text`` says where the parameters not swept come from."""

    name: str
    frame: pd.DataFrame
    parameters: list[str]
    outcomes: list[str]
    manifest: dict = field(default_factory=dict)
    sensitivity: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    params_text: str | None = None


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


# ------------------------------------------------------------------------ results roots
def results_roots() -> dict[str, Path]:
    """The folders the page may read results from, by the label it shows (``out/``).

    ``AFPAK_RESULTS`` (folders separated by ``os.pathsep``, relative to the repository or
    absolute) replaces the default ``out/``; it is the server's setting, not the visitor's."""
    raw = os.environ.get(ROOTS_ENV, "").strip()
    if not raw:
        return {"out/": access.RESULTS}
    roots = {}
    for item in (s.strip() for s in raw.split(os.pathsep)):
        if item:
            p = Path(item).expanduser()
            roots[item.rstrip("/") + "/"] = p if p.is_absolute() else ROOT / p
    return roots


def find_folders(roots: Mapping[str, Path] | None = None) -> list[str]:
    """The results folders under the roots, as names the page lists (``out/NAME``): folders
    holding a ``manifest.json``, at most three levels down, symbolic links not followed."""
    roots = results_roots() if roots is None else roots
    found = []
    for label, root in roots.items():
        for rel in access.list_results(root):
            folder = rel.parent.as_posix()
            if folder != ".":
                found.append(label + folder)
    return sorted(set(found))


def resolve(name: str, roots: Mapping[str, Path] | None = None) -> Path:
    """The folder of a listed name; one ``AccessError`` for a name that is outside the roots,
    missing or not a folder (the message reveals nothing about other paths)."""
    roots = results_roots() if roots is None else roots
    text = str(name).strip()
    refusal = access.AccessError(text, f"is not a results folder under {' or '.join(roots)}; "
                                       f"choose one of the folders listed")
    for label, root in roots.items():
        if text.startswith(label):
            try:
                return access.results_path(text[len(label):], root, label=label)
            except access.AccessError:
                raise refusal from None
    raise refusal


def stamp(name: str, roots: Mapping[str, Path] | None = None) -> float:
    """When a listed folder last changed (its manifest and its parts folder; 0 when unknown):
    a cache key, so that new parts are seen."""
    try:
        path = resolve(name, roots)
        return max(os.stat(p).st_mtime for p in (path / "manifest.json", path / msweep.PARTS)
                   if os.path.lexists(p))
    except (OSError, ValueError, access.AccessError):
        return 0.0


def _manifest(folder: Path, name: str) -> dict:
    path = folder / "manifest.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(access.read_text(path, access.MANIFEST, shown=f"{name}/manifest.json"))
    except json.JSONDecodeError as exc:
        raise SweepError(f"{name}/manifest.json: not a readable JSON manifest ({exc})"
                         ) from None
    if not isinstance(data, dict):
        raise SweepError(f"{name}/manifest.json: expected a JSON object, got "
                         f"{type(data).__name__}")
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
        if "caveat" in cols:
            out["caveat"] = df[cols["caveat"]].fillna("").astype(str)
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
        if "caveat" in cols:
            part["caveat"] = df[cols["caveat"]].fillna("").astype(str)
        rows.append(part)
    if not rows:
        raise SweepError(f"{source}: no numeric index columns (expected e.g. S1, ST)")
    return pd.concat(rows, ignore_index=True)


def read_sensitivity(path: Path, shown: str | None = None) -> pd.DataFrame:
    """``sensitivity_long`` of a CSV file (a regular file within the size limit of a table);
    SweepError when it is not a readable table. ``shown``: the file as messages name it."""
    shown = shown or path.name
    try:
        with access.open_input(path, access.TABLE, shown=shown) as fh:
            df = pd.read_csv(fh)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SweepError(f"{shown}: not a readable CSV table ({exc})") from None
    return sensitivity_long(df, shown)


def _sensitivity_files(path: Path) -> list[Path]:
    """The folder's sensitivity tables (relative): ``sensitivity*.csv`` and the analysis's
    ``sobol``/``morris``/``spearman`` tables; symbolic links are not followed."""
    found = access.list_results(path, "*.csv", max_depth=1, max_bytes=access.TABLE.max_bytes)
    return [r for r in found if (len(r.parts) == 1 and r.stem.startswith("sensitivity")) or (
        r.parts[0] == msweep.ANALYSIS and (r.stem in ("sobol", "morris", "spearman")
                                           or r.stem.startswith("sensitivity")))]


def _clean(exc: Exception, path: Path, name: str) -> str:
    """An error's message with the folder's server path replaced by its listed name."""
    return str(exc).replace(str(path), name)


def _files(path: Path, name: str, rels: Sequence[Path]) -> int:
    """Bytes on disk of the files the page would read; ``AccessError`` above the limit."""
    total = sum(access.check_load_size(path / r, access.PARQUET_PART.max_bytes,
                                       shown=f"{name}/{r.as_posix()}") for r in rels)
    if total > MAX_DISK_BYTES:
        raise access.AccessError(name, f"holds {total / 1e6:,.1f} MB of results; the page "
                                       f"loads at most {MAX_DISK_BYTES / 1e6:,.1f} MB; analyse "
                                       f"it with `python -m model analyze` instead")
    return total


def _check_decoded(rows: int, columns: int, name: str) -> None:
    need = rows * max(columns, 1) * 8
    if need > MAX_TABLE_BYTES:
        raise access.AccessError(name, f"holds {rows:,} runs x {columns} columns (about "
                                       f"{need / 1e6:,.0f} MB in memory); the page loads at "
                                       f"most {MAX_TABLE_BYTES / 1e6:,.0f} MB; analyse it with "
                                       f"`python -m model analyze` instead")


def _part_files(path: Path) -> list[Path]:
    """Parquet files with one row per run (relative): everything but the sample matrix, the
    time series and hidden files; symbolic links are not followed."""
    return [r for r in access.list_results(path, "*.parquet",
                                           max_bytes=access.PARQUET_PART.max_bytes)
            if r.name != msweep.SAMPLES and msweep.TIMESERIES not in r.parts[:-1]]


def _columns(params: list[str], outcomes: list[str], have: Sequence[str]) -> list[str]:
    ids = [c for c in have if c.lower() in ID_COLUMNS]
    return [*ids, *params, *[c for c in outcomes if c not in params]]


def _load_ours(path: Path, name: str, man: dict) -> tuple[pd.DataFrame, list[str], list[str]]:
    """A folder written by ``python -m model sweep``: its manifest names the columns."""
    params, outcomes = _names(man.get("parameters")), _names(man.get("outcomes"))
    _files(path, name, [r for r in _part_files(path) if r.parts[0] == msweep.PARTS])
    cols = _columns(params, outcomes, list(msweep.ID_COLUMNS))
    _check_decoded(int(man.get("runs") or 0), len(cols), name)
    try:
        df = msweep.load_results(path, columns=cols, complete=False)
    except (OSError, pa.ArrowException, KeyError, msweep.SweepError) as exc:
        raise SweepError(f"{name}: the sweep's parts cannot be read "
                         f"({_clean(exc, path, name)})") from None
    if df.empty:
        raise SweepError(f"{name}: the sweep has no finished chunks yet")
    return df, params, outcomes


def _load_parts(path: Path, name: str, man: dict) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Any other folder of Parquet parts: parameter columns by name (or the manifest's list),
    outcomes the other numeric columns; only those columns are read."""
    parts = _part_files(path)
    if not parts:
        raise SweepError(f"{name}: no Parquet files; this is not a sweep results folder "
                         "(expected *.parquet parts with one row per run, and manifest.json)")
    _files(path, name, parts)
    numeric: list[str] = []
    have: dict[Path, set[str]] = {}
    rows = 0
    for rel in parts:
        try:
            meta = pq.read_metadata(path / rel)
            schema = meta.schema.to_arrow_schema()
        except (OSError, pa.ArrowException) as exc:
            raise SweepError(f"{name}/{rel.as_posix()}: not a readable Parquet file "
                             f"({_clean(exc, path, name)})") from None
        rows += meta.num_rows
        names = have[rel] = set(schema.names)
        if {"metric", "step", "value"} <= names:
            raise SweepError(f"{name}: holds a long time-series table (run, step, metric, "
                             "value) as written by `python -m model run --out`, not sweep "
                             "results with one row per run")
        numeric += [f.name for f in schema if (pa.types.is_integer(f.type)
                    or pa.types.is_floating(f.type)) and f.name not in numeric]
    declared = _names(man.get("parameters")) or (
        _names(man.get("uncertainties")) + _names(man.get("levers")))
    params = ([c for c in declared if c in numeric] if declared
              else [c for c in numeric if c in P.table()])
    declared_out = _names(man.get("outcomes"))
    outcomes = [c for c in declared_out if c in numeric] if declared_out else [
        c for c in numeric if c not in params and c.lower() not in ID_COLUMNS]
    if not params:
        raise SweepError(f"{name}: no parameter columns (expected columns named after the "
                         "model's parameters, or a manifest.json listing 'parameters')")
    if not outcomes:
        raise SweepError(f"{name}: no numeric outcome columns besides the parameters")
    cols = _columns(params, outcomes, numeric)
    _check_decoded(rows, len(cols), name)
    frames = []
    for rel in parts:
        try:
            frames.append(pq.read_table(path / rel, columns=[c for c in cols if c in have[rel]])
                          .to_pandas())
        except (OSError, pa.ArrowException) as exc:
            raise SweepError(f"{name}/{rel.as_posix()}: not a readable Parquet file "
                             f"({_clean(exc, path, name)})") from None
    try:
        df = pd.concat(frames, ignore_index=True)
    except (TypeError, ValueError) as exc:
        raise SweepError(f"{name}: the Parquet parts do not share one table ({exc})") from None
    return df, params, outcomes


def _params_text(man: dict) -> str | None:
    """Where a sweep's parameters not swept came from (None: not recorded)."""
    if man.get("params_text"):
        return str(man["params_text"])
    if man.get("format") == msweep.FORMAT:
        from model.experiments.spec import PARAMS_TEXT

        return PARAMS_TEXT.get(man.get("params") or "default")
    return None


def _notes(man: dict, sens: pd.DataFrame | None) -> list[str]:
    """The warnings of the sweep's analysis: a sample too small, indices flagged unreliable."""
    notes = []
    if man.get("format") == msweep.FORMAT:
        try:
            warn = manalysis.size_warning(man)
        except (KeyError, TypeError):
            warn = None
        if warn:
            notes.append(warn)
    if sens is not None and "caveat" in sens:
        flagged = sens[sens["caveat"].astype(str).str.len() > 0]
        for out, part in flagged.groupby("outcome", sort=True):
            notes.append(f"warning: outcome {out}: {part['parameter'].nunique()} parameter(s) "
                         f"have an index whose confidence interval is wider than the index, "
                         f"or outside [0, 1]: read them as unknown")
    return notes


def load(name: str, roots: Mapping[str, Path] | None = None) -> Sweep:
    """Read a results folder listed by ``find_folders``; raises ``SweepError`` (an
    ``AccessError`` for a name that is not a listed folder or a folder too big) saying what is
    wrong, naming the folder as listed, never its server path.

    A folder written by ``python -m model sweep`` (manifest format ``afpak-sweep/1``) is read
    with ``model.experiments.sweep``; any other folder of Parquet files with one row per run
    works too, its parameter columns recognised by name (or listed in its ``manifest.json``).
    Only the run-id, parameter and outcome columns are read.
    """
    name = str(name).strip()
    if not name:
        raise SweepError("no folder chosen: choose one of the results folders listed")
    path = resolve(name, roots)
    manifest = _manifest(path, name)
    if manifest.get("format") == msweep.FORMAT:
        df, params, outcomes = _load_ours(path, name, manifest)
    else:
        df, params, outcomes = _load_parts(path, name, manifest)
    params = [c for c in params if c in df and pd.api.types.is_numeric_dtype(df[c])]
    outcomes = [c for c in outcomes if c in df and pd.api.types.is_numeric_dtype(df[c])]
    if not params:
        raise SweepError(f"{name}: no parameter columns (expected columns named after the "
                         "model's parameters, or a manifest.json listing 'parameters')")
    sens = [read_sensitivity(path / r, f"{name}/{r.as_posix()}")
            for r in _sensitivity_files(path)]
    table = pd.concat(sens, ignore_index=True) if sens else None
    return Sweep(name=name, frame=df, parameters=params, outcomes=outcomes, manifest=manifest,
                 sensitivity=table, notes=_notes(manifest, table),
                 params_text=_params_text(manifest))


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
    #: The analysis's warnings (a sample too small for its indices, flagged indices).
    notes: list[str] = field(default_factory=list)
    #: Where the parameters not varied come from (e.g. per-run posterior draws).
    params_text: str = ""


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
    to a temporary folder that is removed afterwards) and its analysis gives the indices, with
    its warnings. The parameters not varied come from where the package's sweeps take them by
    default (per-run draws from the calibrated posterior, when one is shipped).
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
    notes = [n for n in an.notes if n.startswith("warning")]
    return SmallSweep(df, names, list(SMALL_OUTCOMES), sens, method, "model.experiments.sweep",
                      notes, sw.params_text())


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
