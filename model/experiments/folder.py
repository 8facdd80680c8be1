"""The output folder of a sweep: a resumable chunk store (``model.io.store``) and its readers.

Layout of an output folder ``DIR``::

    manifest.json        spec, spec hash, sampler, N, run and chunk layout
    samples.parquet      the sample matrix (one row per sample, one column per parameter)
    parts/part-000000.parquet ...        one row per run: run_id, sample, replicate, seed,
                                         the sampled parameters, the outcomes
    timeseries/part-000000.parquet ...   (timeseries only) one row per run and step
    analysis/            what ``analyze`` writes (by default)

Runs are numbered ``run_id = sample * replicates + replicate`` and chunk ``k`` holds run ids
``chunk_bounds(runs, chunk)[k]`` = ``[k * chunk, min((k + 1) * chunk, runs))``. The store gives
the rest (``model.io.store``): one writer at a time (``.lock``), part files written atomically
and sealed (``.part-NNNNNN.parquet.check``: the spec hash and the part's sha256), and a part counts
as done only when its seal matches this spec and its bytes and it reads back with its chunk's row
count; anything else (another sweep's part, changed bytes) is recomputed, and the readers here
never read it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from model.experiments.spec import FORMAT, Sweep, SweepError
from model.inputs.scenario import month_label
from model.io.store import MANIFEST, Parts, Store, chunk_bounds

SAMPLES = "samples.parquet"
PARTS = "parts"
TIMESERIES = "timeseries"
ANALYSIS = "analysis"
DEFAULT_CHUNK = 512

ROWS = Parts(PARTS, "part-{:06d}.parquet")
SERIES = Parts(TIMESERIES, "part-{:06d}.parquet")

__all__ = ["ANALYSIS", "DEFAULT_CHUNK", "MANIFEST", "PARTS", "ROWS", "SAMPLES", "SERIES",
           "TIMESERIES", "check_out_dir", "done_chunks", "load_results", "load_samples",
           "load_timeseries", "manifest_for", "part_name", "read_manifest", "rejected_text",
           "sweep_store"]


def sweep_store(out: str | Path) -> Store:
    """The chunk store of sweep folder ``out``."""
    return Store(out, FORMAT, (ROWS, SERIES), files=(SAMPLES, ANALYSIS), key="spec",
                 what="sweep", theirs="this spec",
                 hint="; give the --out folder of 'python -m model sweep'", error=SweepError)


def part_name(k: int) -> str:
    return ROWS.name(k)


def read_manifest(out: str | Path) -> dict:
    """The manifest of a sweep folder; SweepError when the folder is not a sweep."""
    return sweep_store(out).read_manifest()


def check_out_dir(out: Path, sw: Sweep, fresh: bool = False) -> dict | None:
    """Refuse folders that hold something else; return the manifest when resuming (None for a
    new or empty folder, or with ``fresh``, when the folder's sweep will be replaced)."""
    return sweep_store(out).check(sw.spec_dict(), fresh=fresh)


def done_chunks(out: Path | Store, man: dict) -> set[int]:
    """Indices of the chunks whose part files are complete (sealed for this spec, bytes intact,
    the chunk's row count); given a store, its ``rejected`` says why the others present don't
    count."""
    st = out if isinstance(out, Store) else sweep_store(out)
    bounds = chunk_bounds(man["runs"], man["chunk"])
    done = st.done(ROWS, {k: hi - lo for k, (lo, hi) in enumerate(bounds)})
    if man["timeseries"]:
        steps = man["months"] + 1
        done &= st.done(SERIES, {k: (hi - lo) * steps for k, (lo, hi) in enumerate(bounds)
                                 if k in done})
    return done


def _versions() -> dict[str, str]:
    try:
        from importlib.metadata import version

        return {p: version(p) for p in ("numpy", "scipy", "SALib", "pyarrow")}
    except Exception:  # noqa: BLE001 - versions are informative only
        import SALib

        return {"SALib": getattr(SALib, "__version__", "?")}


def manifest_for(sw: Sweep, chunk: int) -> dict:
    """The manifest of a new sweep folder (``spec`` decides whether it can be resumed)."""
    return {
        "format": FORMAT,
        "name": sw.name,
        "description": sw.description,
        "spec_file": sw.spec_file,
        "spec_hash": sw.spec_hash(),
        "spec": sw.spec_dict(),
        "scenario_path": sw.scenario_path,
        "scenario_name": sw.scenario.name,
        "start": sw.scenario.start,
        "months": sw.months,
        "dates": [sw.scenario.start, month_label(sw.scenario.start, sw.months)],
        "sampler": sw.method,
        "sampler_options": sw.sampler,
        "samples": sw.samples,
        "rows": sw.rows,
        "replicates": sw.replicates,
        "runs": sw.runs,
        "seed": sw.seed,
        "parameters": [d.as_dict() for d in sw.dims],
        "fixed": sw.fixed,
        "params": sw.params,
        "params_text": sw.params_text(),
        "outcomes": [{**o.as_dict(), "unit": o.unit} for o in sw.outcomes],
        "timeseries": list(sw.timeseries),
        "samples_file": SAMPLES,
        "chunk": chunk,
        "chunks": len(chunk_bounds(sw.runs, chunk)),
        "parts": f"{PARTS}/part-NNNNNN.parquet",
        "run_id": "sample * replicates + replicate; chunk k holds run ids "
                  "[k * chunk, min((k + 1) * chunk, runs))",
        "rng": "run run_id draws from numpy SeedSequence(seed, spawn_key=(run_id,))",
        "versions": _versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# --- reading results -----------------------------------------------------------------------------

def load_results(out: str | Path, columns: Sequence[str] | None = None,
                 complete: bool = True) -> pd.DataFrame:
    """All rows of a sweep folder, sorted by run_id (``complete``: refuse an unfinished one)."""
    import pyarrow as pa

    out = Path(out)
    st = sweep_store(out)
    man = st.read_manifest()
    done = sorted(done_chunks(st, man))
    if complete and len(done) < man["chunks"]:
        raise SweepError(f"{out}: the sweep is incomplete ({len(done)} of {man['chunks']} chunks "
                         f"done){rejected_text(st)}; run the same 'python -m model sweep' "
                         f"command again to finish it")
    cols = list(columns) if columns is not None else None
    tables = [st.read_table(ROWS, k, cols) for k in done]
    if not tables:
        return pd.DataFrame(columns=cols or [])
    df = pa.concat_tables(tables).to_pandas()
    if "run_id" in df:
        df = df.sort_values("run_id", kind="stable").reset_index(drop=True)
    return df


def load_timeseries(out: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Time series of a sweep stored with ``timeseries``: one row per run and step."""
    import pyarrow as pa

    out = Path(out)
    st = sweep_store(out)
    man = st.read_manifest()
    if not man["timeseries"]:
        raise SweepError(f"{out}: the sweep stored no time series (set 'timeseries: true')")
    done = sorted(done_chunks(st, man))
    return pa.concat_tables([st.read_table(SERIES, k, columns) for k in done]).to_pandas()


def load_samples(out: str | Path) -> pd.DataFrame:
    """The sample matrix of a sweep folder: one row per sample, one column per parameter."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(out) / SAMPLES
    try:
        return pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise SweepError(f"{path}: unreadable sample matrix ({exc}); use --fresh to start "
                         f"over in this folder, or another --out") from None


def rejected_text(st: Store, limit: int = 5) -> str:
    """``; N part(s) do not count: name: why, ...`` for the parts the store rejected."""
    if not st.rejected:
        return ""
    items = [f"{name}: {why}" for name, why in sorted(st.rejected.items())[:limit]]
    more = f", and {len(st.rejected) - limit} more" if len(st.rejected) > limit else ""
    return f"; {len(st.rejected)} part(s) do not count ({'; '.join(items)}{more})"
