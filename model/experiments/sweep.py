"""Batch sweeps: sample parameters, run the batched engine in chunks, stream outcomes to Parquet,
resume, and analyse (Sobol, Morris, rank correlations, scatter plots).

This module is the public face of sweeps; the work is done in:

- ``model.experiments.spec``: the YAML spec, its validation and the ``Sweep`` (``load_spec``,
  ``from_mapping``, ``sample_matrix``, ``series_names``);
- ``model.experiments.samplers``: the samplers' options and draws (scipy, SALib);
- ``model.experiments.compute``: one chunk on a worker (``ChunkTask``, ``compute_chunk``);
- ``model.experiments.folder``: the output folder, a ``model.io.store`` chunk store, and its
  readers (``read_manifest``, ``load_results``, ``load_timeseries``, ``load_samples``);
- ``model.experiments.run``: ``run_sweep`` on an executor of ``model.engine.executors``
  (this process, local processes, Dask);
- ``model.experiments.analysis`` and ``plots``: ``analyze`` and its figures.

See ``docs/sweeps.md`` for the spec format and the folder layout.
"""

from __future__ import annotations

from model.engine.executors import CONNECT_TIMEOUT
from model.experiments.analysis import Analysis, analyze
from model.experiments.compute import ChunkOut, ChunkTask, chunk_tasks, compute_chunk
from model.experiments.folder import (
    ANALYSIS,
    DEFAULT_CHUNK,
    MANIFEST,
    PARTS,
    SAMPLES,
    TIMESERIES,
    check_out_dir,
    done_chunks,
    load_results,
    load_samples,
    load_timeseries,
    manifest_for,
    part_name,
    read_manifest,
    sweep_store,
)
from model.experiments.run import SweepReport, run_sweep
from model.experiments.samplers import SAMPLER_MODELS as _SAMPLER_MODELS
from model.experiments.samplers import SAMPLERS
from model.experiments.spec import (
    FORMAT,
    ID_COLUMNS,
    MAX_RUNS,
    MAX_SEED,
    PARAMS,
    Dim,
    Sweep,
    SweepError,
    _SpecModel,
    from_mapping,
    load_spec,
    sample_matrix,
    series_names,
)

__all__ = [
    "ANALYSIS", "CONNECT_TIMEOUT", "DEFAULT_CHUNK", "FORMAT", "ID_COLUMNS", "MANIFEST",
    "MAX_RUNS", "MAX_SEED", "PARAMS", "PARTS", "SAMPLERS", "SAMPLES", "TIMESERIES",
    "_SAMPLER_MODELS",
    "Analysis", "ChunkOut", "ChunkTask", "Dim", "Sweep", "SweepError", "SweepReport",
    "_SpecModel", "analyze", "check_out_dir", "chunk_tasks", "compute_chunk", "done_chunks",
    "from_mapping", "load_results", "load_samples", "load_spec", "load_timeseries",
    "manifest_for", "part_name", "read_manifest", "run_sweep", "sample_matrix", "series_names",
    "sweep_store",
]
