"""Batch sweeps: sample parameters, run the batched engine in chunks, stream outcomes to Parquet,
resume, and analyse (Sobol, Morris, rank correlations, scatter plots).

A sweep is described by a YAML spec (see ``docs/sweeps.md``)::

    scenario: ../history.yaml          # relative to the spec file, else to the repository
    sampler: {method: sobol, second_order: false}
    samples: 64                        # N (Sobol: a power of two)
    replicates: 2
    seed: 7
    parameters:
      sovereignty_weight: [1.0, 6.0]   # [lo, hi] inside the parameter table's bounds
    outcomes:
      route_closed: months_route_closed

Layout of an output folder ``DIR``::

    manifest.json        spec, spec hash, sampler, N, run and chunk layout
    samples.parquet      the sample matrix (one row per sample, one column per parameter)
    parts/part-000000.parquet ...        one row per run: run_id, sample, replicate, seed,
                                         the sampled parameters, the outcomes
    timeseries/part-000000.parquet ...   (timeseries only) one row per run and step

Runs are numbered ``run_id = sample * replicates + replicate`` and chunk ``k`` holds run ids
``[k * chunk, (k + 1) * chunk)``. Run ``run_id`` draws its random numbers from
``SeedSequence(seed, spawn_key=(run_id,))`` (``model.engine.runner``), so a chunk gives the same
numbers
wherever and whenever it is computed: a rerun of the same command completes the missing chunks
only, and the result equals an uninterrupted sweep's. Part files are written to a temporary name
and renamed into place, so a folder only ever holds complete parts.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import re
import resource
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from model.analysis import outcomes as O
from model.core import params as P
from model.core import spec
from model.inputs.compiled import compile_scenario
from model.inputs.scenario import MAX_MONTHS, Scenario, load_scenario, month_label
from model.io import yamlio
from model.io.errors import ModelInputError

FORMAT = "afpak-sweep/1"
MANIFEST = "manifest.json"
SAMPLES = "samples.parquet"
PARTS = "parts"
TIMESERIES = "timeseries"
ANALYSIS = "analysis"
DEFAULT_CHUNK = 512
MAX_RUNS = 100_000_000
MAX_SEED = 2**63 - 1
SAMPLERS = ("factorial", "lhs", "sobol", "morris")
#: How long --scheduler waits to reach a Dask scheduler.
CONNECT_TIMEOUT = "10s"
#: Columns of every part file besides the parameters and the outcomes.
ID_COLUMNS = ("run_id", "sample", "replicate", "seed")


class SweepError(ModelInputError):
    """A sweep spec or output folder that cannot be used; the message says where and why."""


# --- spec ----------------------------------------------------------------------------------------

StrictInt = Annotated[int, Strict()]
StrictBool = Annotated[bool, Strict()]


class _SpecModel(BaseModel):
    """Top level of a sweep spec (the entries are checked further by ``from_mapping``)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    description: str = ""
    scenario: str
    parameters: dict[str, Any]
    sampler: str | dict[str, Any]
    samples: StrictInt | None = Field(None, ge=1)
    replicates: StrictInt = Field(1, ge=1, le=1_000_000)
    seed: StrictInt = Field(0, ge=0, le=MAX_SEED)
    months: StrictInt | None = Field(None, ge=1, le=MAX_MONTHS)
    outcomes: dict[str, Any]
    timeseries: StrictBool | list[str] = False
    fixed: dict[str, Any] = Field(default_factory=dict)


class _Factorial(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["factorial"]
    #: Evenly spaced levels for each parameter given as [lo, hi] (lo and hi included).
    levels: StrictInt = Field(3, ge=2, le=1000)


class _Lhs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["lhs"]
    scramble: StrictBool = True
    optimization: Literal["random-cd", "lloyd"] | None = None


class _Sobol(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["sobol"]
    #: Saltelli's extension for second-order indices (2D+2 rows per N instead of D+2).
    second_order: StrictBool = False
    scramble: StrictBool = True


class _Morris(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["morris"]
    levels: StrictInt = Field(4, ge=2, le=1000)
    optimal_trajectories: StrictInt | None = Field(None, ge=2)
    local_optimization: StrictBool = True


_SAMPLER_MODELS: dict[str, type[BaseModel]] = {
    "factorial": _Factorial, "lhs": _Lhs, "sobol": _Sobol, "morris": _Morris}


@dataclass(frozen=True)
class Dim:
    """One swept parameter: a range [lo, hi] or (factorial) explicit levels."""

    name: str
    lo: float
    hi: float
    levels: tuple[float, ...] | None = None

    def as_dict(self) -> dict:
        d: dict[str, Any] = {"name": self.name, "lo": self.lo, "hi": self.hi}
        if self.levels is not None:
            d["levels"] = list(self.levels)
        return d


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: everything needed to sample and run it, nothing left to check."""

    scenario: Scenario
    scenario_path: str
    months: int
    dims: tuple[Dim, ...]
    sampler: dict[str, Any]
    samples: int | None
    replicates: int
    seed: int
    outcomes: tuple[O.Outcome, ...]
    timeseries: tuple[str, ...] = ()
    fixed: dict[str, float] = field(default_factory=dict)
    name: str = "sweep"
    description: str = ""
    spec_file: str | None = None

    @property
    def method(self) -> str:
        return self.sampler["method"]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dims)

    @property
    def rows(self) -> int:
        """Rows of the sample matrix (parameter vectors)."""
        d = len(self.dims)
        n = self.samples or 0
        if self.method == "factorial":
            return math.prod(len(self.grid(dim)) for dim in self.dims)
        if self.method == "sobol":
            return n * (2 * d + 2 if self.sampler["second_order"] else d + 2)
        if self.method == "morris":
            return (self.sampler.get("optimal_trajectories") or n) * (d + 1)
        return n

    @property
    def runs(self) -> int:
        return self.rows * self.replicates

    def grid(self, dim: Dim) -> tuple[float, ...]:
        """Factorial levels of one dimension."""
        if dim.levels is not None:
            return dim.levels
        return tuple(float(v) for v in np.linspace(dim.lo, dim.hi, self.sampler["levels"]))

    def problem(self) -> dict:
        """The SALib problem dict."""
        return {"num_vars": len(self.dims), "names": list(self.names),
                "bounds": [[d.lo, d.hi] for d in self.dims]}

    def spec_dict(self) -> dict:
        """Everything that determines the numbers, as JSON values (hashed for resume)."""
        return {
            "format": FORMAT,
            "scenario": self.scenario.model_dump(mode="json"),
            "months": self.months,
            "parameters": [d.as_dict() for d in self.dims],
            "sampler": dict(self.sampler),
            "samples": self.samples,
            "replicates": self.replicates,
            "seed": self.seed,
            "outcomes": [o.as_dict() for o in self.outcomes],
            "timeseries": list(self.timeseries),
            "fixed": dict(self.fixed),
            "base_parameters": P.resolve(self.scenario.params),
        }

    def spec_hash(self) -> str:
        text = json.dumps(self.spec_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def sample_matrix(self) -> np.ndarray:
        """The sample matrix, rows x parameters, from the sampler (never hand-written)."""
        return sample_matrix(self)


def _fmt_errors(exc: ValidationError, doc: yamlio.Located | None, base: tuple,
                fields: Sequence[str]) -> list[str]:
    out = []
    for err in exc.errors():
        loc = (*base, *err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        key = str(err["loc"][-1]) if err["loc"] else ""
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {key!r}{P.suggest(key, fields)}; expected one of: " + \
                  ", ".join(fields)
        elif err["type"] == "missing":
            msg = f"missing required key {key!r}"
        path = ".".join(str(p) for p in loc) or "(top level)"
        where = doc.where(loc) if doc is not None else "<sweep>"
        out.append(f"{where}: {path}: {msg}")
    return out


def series_names() -> tuple[str, ...]:
    """Names of the time series a sweep can store (``timeseries: [...]``)."""
    out = [f"trust_{a}_{b}" for a in spec.ACTORS for b in spec.ACTORS if a != b]
    out += [f"aid_{d}_{r}" for d, r in spec.AID_FLOWS]
    out += [v.name for v in spec.STATE_VARS]
    out += [f"action_{a}" for a in spec.ACTORS]
    return tuple(out)


def _resolve_scenario(text: str, spec_file: Path | None) -> Path:
    from model.io.paths import ROOT

    p = Path(text).expanduser()
    if p.is_absolute():
        return p
    tried = []
    for base in ([spec_file.resolve().parent] if spec_file else []) + [Path.cwd(), ROOT]:
        cand = base / p
        tried.append(str(cand))
        if cand.is_file():
            return cand
    raise FileNotFoundError(", ".join(dict.fromkeys(tried)))


def from_mapping(data: Any, doc: yamlio.Located | None = None, spec_file: Path | None = None,
                 samples: int | None = None, scenario: Scenario | None = None) -> Sweep:
    """Validate a parsed spec into a Sweep (``samples`` overrides the spec's N).

    Raises SweepError listing every problem with ``file:line:col``. ``scenario`` (a Scenario)
    replaces the spec's ``scenario`` path (for callers that build sweeps in Python).
    """
    file = doc.file if doc is not None else "<sweep>"

    def at(*path) -> str:
        return doc.where(path) if doc is not None else file

    if not isinstance(data, dict):
        raise SweepError(f"{file}:1:1: expected a mapping of sweep keys at the top level, got "
                         f"{type(data).__name__}")
    if scenario is not None and "scenario" not in data:
        data = {**data, "scenario": "<given>"}
    try:
        top = _SpecModel.model_validate(data)
    except ValidationError as exc:
        raise SweepError("\n".join(_fmt_errors(exc, doc, (), list(_SpecModel.model_fields)))
                         ) from None
    errors: list[str] = []

    # scenario and window
    if scenario is not None:
        sc, sc_path = scenario, "<given>"
    else:
        try:
            path = _resolve_scenario(top.scenario, spec_file)
        except FileNotFoundError as exc:
            raise SweepError(f"{at('scenario')}: scenario: no scenario file {top.scenario!r} "
                             f"(looked in {exc})") from None
        try:
            sc = load_scenario(path)
        except ModelInputError as exc:
            raise SweepError(f"{at('scenario')}: scenario {top.scenario!r} is not valid:\n{exc}"
                             ) from None
        sc_path = str(path)
    months = top.months if top.months is not None else sc.months
    try:
        compile_scenario(sc, months)
    except ModelInputError as exc:
        errors.append(f"{at('months')}: months: {exc}")

    # sampler
    raw = top.sampler
    sampler: dict[str, Any] | None = None
    opts = {"method": raw} if isinstance(raw, str) else dict(raw)
    method = opts.get("method")
    if method not in SAMPLERS:
        where = at("sampler") if isinstance(raw, str) else at("sampler", "method")
        what = "missing 'method'" if method is None else f"unknown sampler {method!r}"
        errors.append(f"{where}: sampler: {what}{P.suggest(str(method), SAMPLERS)}; "
                      f"expected one of: {', '.join(SAMPLERS)}")
    else:
        model = _SAMPLER_MODELS[method]
        try:
            sampler = model.model_validate(opts).model_dump()
        except ValidationError as exc:
            errors += _fmt_errors(exc, doc, ("sampler",), list(model.model_fields))

    # parameters
    dims: list[Dim] = []
    table = P.table()
    if not top.parameters:
        errors.append(f"{at('parameters')}: parameters: give at least one parameter to sweep")
    for name, entry in top.parameters.items():
        where, dotted = at("parameters", name), f"parameters.{name}"
        if name not in table:
            errors.append(f"{where}: {dotted}: unknown parameter {name!r}"
                          f"{P.suggest(str(name), table)} (see python -m model params)")
            continue
        p = table[name]
        levels = None
        if isinstance(entry, Mapping) and set(entry) == {"levels"}:
            levels = entry["levels"]
            if not isinstance(levels, list) or not levels:
                errors.append(f"{where}: {dotted}.levels: expected a list of values")
                continue
            try:
                vals = tuple(P.check(name, v) for v in levels)
            except P.ParameterError as exc:
                errors.append(f"{at('parameters', name, 'levels')}: {dotted}.levels: {exc} "
                              f"(the parameter table's bounds)")
                continue
            if len(set(vals)) != len(vals):
                errors.append(f"{where}: {dotted}.levels: repeated level in {list(vals)}")
                continue
            dims.append(Dim(name, min(vals), max(vals), vals))
            continue
        if isinstance(entry, Mapping) and set(entry) == {"lo", "hi"}:
            lo, hi = entry["lo"], entry["hi"]
        elif isinstance(entry, list) and len(entry) == 2:
            lo, hi = entry
        else:
            errors.append(f"{where}: {dotted}: expected [lo, hi], {{lo: .., hi: ..}} or "
                          f"{{levels: [..]}}, got {entry!r}")
            continue
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                   for v in (lo, hi)):
            errors.append(f"{where}: {dotted}: bounds must be finite numbers, got [{lo}, {hi}]")
            continue
        if not lo < hi:
            errors.append(f"{where}: {dotted}: lower bound {lo} must be below the upper bound {hi}")
            continue
        if lo < p.lo or hi > p.hi:
            errors.append(f"{where}: {dotted}: bounds [{lo}, {hi}] lie outside the parameter "
                          f"table's bounds [{p.lo}, {p.hi}] ({p.unit}) for {name!r}")
            continue
        dims.append(Dim(name, float(lo), float(hi)))

    # fixed parameters
    fixed: dict[str, float] = {}
    for name, v in top.fixed.items():
        try:
            fixed[name] = P.check(name, v)
        except P.ParameterError as exc:
            errors.append(f"{at('fixed', name)}: fixed.{name}: {exc}")
            continue
        if name in top.parameters:
            errors.append(f"{at('fixed', name)}: fixed.{name}: {name!r} is also swept under "
                          f"'parameters'; keep it in one place")

    # sampler x parameters x samples
    n = samples if samples is not None else top.samples
    if sampler is not None:
        if method == "factorial":
            if n is not None:
                errors.append(f"{at('samples')}: samples: a factorial sweep takes its size from "
                              f"the levels (product of the levels); drop 'samples'")
                n = None
        else:
            for d in dims:
                if d.levels is not None:
                    errors.append(f"{at('parameters', d.name)}: parameters.{d.name}: explicit "
                                  f"levels are for the factorial sampler; give [lo, hi] for "
                                  f"{method}")
            if n is None:
                errors.append(f"{at('samples') if 'samples' in data else file}: samples: the "
                              f"{method} sampler needs 'samples' (N) or --samples")
            elif method == "sobol" and (n < 2 or n & (n - 1)):
                lo2 = 2 ** max(1, int(math.log2(n)))
                hi2 = lo2 * 2 if lo2 < n else lo2
                errors.append(f"{at('samples')}: samples: the sobol sampler (Saltelli's scheme) "
                              f"needs N to be a power of two >= 2, got {n}; use {lo2}"
                              + (f" or {hi2}" if hi2 != lo2 else ""))
            elif method == "morris":
                if n < 2:
                    errors.append(f"{at('samples')}: samples: morris needs at least 2 "
                                  f"trajectories, got {n}")
                if sampler["levels"] % 2:
                    errors.append(f"{at('sampler', 'levels')}: sampler.levels: morris needs an "
                                  f"even number of grid levels, got {sampler['levels']}")
                ot = sampler.get("optimal_trajectories")
                if ot is not None and ot > n:
                    errors.append(f"{at('sampler', 'optimal_trajectories')}: "
                                  f"sampler.optimal_trajectories: {ot} is more than the "
                                  f"{n} trajectories sampled (samples)")

    # outcomes and time series
    reserved = dict.fromkeys(ID_COLUMNS, "a column of every sweep row")
    reserved.update({d.name: "a swept parameter's column" for d in dims})
    try:
        outs = O.parse(top.outcomes, doc, ("outcomes",), sc.start, months, reserved)
    except O.OutcomeError as exc:
        errors.append(str(exc))
        outs = []
    ts_all = series_names()
    if top.timeseries is True:
        ts: tuple[str, ...] = ts_all
    elif top.timeseries is False:
        ts = ()
    else:
        ts = tuple(top.timeseries)
        for k, s in enumerate(ts):
            if s not in ts_all:
                errors.append(f"{at('timeseries', k)}: timeseries: unknown series {s!r}"
                              f"{P.suggest(s, ts_all)}; expected names like trust_PAK_MIL_US, "
                              f"aid_US_PAK_MIL, public_hostility, action_US")
        if len(set(ts)) != len(ts):
            errors.append(f"{at('timeseries')}: timeseries: a series is listed twice")
    if errors:
        raise SweepError("\n".join(errors))

    sw = Sweep(scenario=sc, scenario_path=sc_path, months=months, dims=tuple(dims),
               sampler=sampler or {}, samples=n, replicates=top.replicates, seed=top.seed,
               outcomes=tuple(outs), timeseries=ts, fixed=fixed,
               name=top.name or (Path(file).stem if doc is not None else "sweep"),
               description=top.description, spec_file=str(spec_file) if spec_file else None)
    if sw.runs > MAX_RUNS:
        raise SweepError(f"{file}: the sweep has {sw.rows:,} samples x {sw.replicates} "
                         f"replicates = {sw.runs:,} runs; the limit is {MAX_RUNS:,}")
    return sw


def load_spec(path: str | Path, samples: int | None = None) -> Sweep:
    """Read and validate a sweep spec file (``samples`` overrides its N, as --samples)."""
    doc = yamlio.load(path)
    return from_mapping(doc.data, doc, Path(path), samples=samples)


# --- sampling ------------------------------------------------------------------------------------

def sample_matrix(sw: Sweep) -> np.ndarray:
    """rows x parameters, in the spec's parameter order, clipped to the bounds (to the last bit:
    samplers scale with floating point)."""
    d = len(sw.dims)
    lo = np.array([x.lo for x in sw.dims])
    hi = np.array([x.hi for x in sw.dims])
    s = sw.sampler
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        try:
            if sw.method == "factorial":
                grids = [sw.grid(x) for x in sw.dims]
                x = np.array(list(itertools.product(*grids)), dtype=np.float64).reshape(-1, d)
            elif sw.method == "lhs":
                from scipy.stats import qmc

                eng = qmc.LatinHypercube(d=d, scramble=s["scramble"],
                                         optimization=s["optimization"],
                                         rng=np.random.default_rng(sw.seed))
                x = qmc.scale(eng.random(sw.samples), lo, hi)
            elif sw.method == "sobol":
                from SALib.sample import sobol as sobol_sample

                x = sobol_sample.sample(sw.problem(), sw.samples,
                                        calc_second_order=s["second_order"],
                                        scramble=s["scramble"], seed=sw.seed)
            elif sw.method == "morris":
                from SALib.sample import morris as morris_sample

                x = morris_sample.sample(sw.problem(), sw.samples, num_levels=s["levels"],
                                         optimal_trajectories=s["optimal_trajectories"],
                                         local_optimization=s["local_optimization"],
                                         seed=sw.seed)
            else:  # pragma: no cover - excluded by validation
                raise SweepError(f"unknown sampler {sw.method!r}")
        except (ValueError, UserWarning) as exc:
            raise SweepError(f"{sw.spec_file or '<sweep>'}: sampler {sw.method}: the sample "
                             f"cannot be drawn: {exc}") from None
    x = np.clip(np.asarray(x, dtype=np.float64), lo, hi)
    if x.shape != (sw.rows, d):
        raise RuntimeError(f"sampler {sw.method} gave {x.shape}, expected {(sw.rows, d)}")
    return x


# --- one chunk (runs on a worker) ----------------------------------------------------------------

@dataclass(frozen=True)
class ChunkTask:
    """Everything a worker needs to compute one chunk; picklable, small."""

    index: int
    run_lo: int
    run_hi: int
    scenario: Scenario
    months: int
    seed: int
    replicates: int
    names: tuple[str, ...]
    matrix: np.ndarray          # (run_hi - run_lo) x parameters, one row per run
    fixed: dict[str, float]
    outcomes: tuple[O.Outcome, ...]
    timeseries: tuple[str, ...]
    #: numba threads for the kernel: None = numba's default (all cores, for the in-process
    #: backend); 1 in worker processes, where the processes are the parallelism.
    numba_threads: int | None = None


@dataclass
class ChunkOut:
    """What a worker sends back: the rows of its chunk (and time series on request)."""

    index: int
    table: pa.Table
    series: pa.Table | None
    pid: int
    maxrss_kib: int
    seconds: float


def compute_chunk(task: ChunkTask) -> ChunkOut:
    """Run one chunk on the batched engine and reduce it to one row per run."""
    from model.engine.runner import run_block

    if task.numba_threads:
        import numba

        numba.set_num_threads(min(task.numba_threads, numba.config.NUMBA_NUM_THREADS))
    t0 = time.perf_counter()
    ids = np.arange(task.run_lo, task.run_hi, dtype=np.int64)
    rows = [{**task.fixed, **dict(zip(task.names, map(float, v), strict=True))}
            for v in task.matrix]
    res = run_block(task.scenario, task.seed, ids, rows, task.months)
    cols: dict[str, Any] = {
        "run_id": pa.array(ids, pa.int64()),
        "sample": pa.array(ids // task.replicates, pa.int64()),
        "replicate": pa.array((ids % task.replicates).astype(np.int32), pa.int32()),
        "seed": pa.array(np.full(len(ids), task.seed, dtype=np.int64), pa.int64()),
    }
    for k, name in enumerate(task.names):
        cols[name] = pa.array(task.matrix[:, k].astype(np.float64), pa.float64())
    for name, vals in O.compute_all(task.outcomes, res).items():
        cols[name] = pa.array(vals, pa.float64())
    series = _series_table(res, ids, task.timeseries) if task.timeseries else None
    return ChunkOut(index=task.index, table=pa.table(cols), series=series, pid=os.getpid(),
                    maxrss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                    seconds=time.perf_counter() - t0)


def _series_table(res, ids: np.ndarray, names: Sequence[str]) -> pa.Table:
    n, t1 = res.runs, res.months + 1
    cols: dict[str, Any] = {
        "run_id": pa.array(np.repeat(ids, t1), pa.int64()),
        "step": pa.array(np.tile(np.arange(t1, dtype=np.int32), n), pa.int32()),
        "date": pa.DictionaryArray.from_arrays(
            pa.array(np.tile(np.arange(t1, dtype=np.int32), n)), pa.array(res.dates)),
    }
    ix = spec.ACTOR_INDEX
    for name in names:
        if name.startswith("trust_"):
            a, b = _split_pair(name.removeprefix("trust_"))
            vals = res.trust[:, :, ix[a], ix[b]]
        elif name.startswith("aid_"):
            a, b = _split_pair(name.removeprefix("aid_"))
            vals = res.aid[:, :, spec.AID_FLOWS.index((a, b))]
        elif name.startswith("action_"):
            acts = np.full((n, t1), -1, dtype=np.int8)
            acts[:, 1:] = res.actions[:, :, ix[name.removeprefix("action_")]]
            cols[name] = pa.array(acts.ravel(), pa.int8())
            continue
        else:
            vals = res.state[:, :, spec.STATE_INDEX[name]]
        cols[name] = pa.array(np.ascontiguousarray(vals, dtype=np.float32).ravel(), pa.float32())
    return pa.table(cols)


def _split_pair(text: str) -> tuple[str, str]:
    for a in spec.ACTORS:
        if text.startswith(a + "_") and text[len(a) + 1:] in spec.ACTOR_INDEX:
            return a, text[len(a) + 1:]
    raise ValueError(f"not a pair of actors: {text!r}")


# --- output folder -------------------------------------------------------------------------------

def part_name(k: int) -> str:
    return f"part-{k:06d}.parquet"


_PART_RE = re.compile(r"^part-(\d{6})\.parquet$")
_OWN = {MANIFEST, SAMPLES, PARTS, TIMESERIES, ANALYSIS}


def _atomic_write(table: pa.Table, path: Path) -> None:
    """Write a Parquet file under a temporary name, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _atomic_text(text: str, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def read_manifest(out: str | Path) -> dict:
    """The manifest of a sweep folder; SweepError when the folder is not a sweep."""
    d = Path(out)
    m = d / MANIFEST
    if not d.is_dir():
        raise SweepError(f"{out}: no such folder (expected a sweep output folder)")
    if not m.is_file():
        raise SweepError(f"{out}: not a sweep folder (no {MANIFEST}); give the --out folder of "
                         f"'python -m model sweep'")
    try:
        man = json.loads(m.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SweepError(f"{m}: unreadable manifest ({exc})") from None
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        raise SweepError(f"{m}: not a sweep manifest of format {FORMAT}")
    return man


def _layout(runs: int, chunk: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + chunk, runs)) for lo in range(0, runs, chunk)]


def _part_ok(path: Path, rows: int) -> bool:
    try:
        return pq.read_metadata(path).num_rows == rows
    except (OSError, pa.ArrowException):
        return False


def done_chunks(out: Path, man: dict) -> set[int]:
    """Indices of the chunks whose part files are complete."""
    bounds = _layout(man["runs"], man["chunk"])
    done = set()
    for k, (lo, hi) in enumerate(bounds):
        if not _part_ok(out / PARTS / part_name(k), hi - lo):
            continue
        if man["timeseries"] and not _part_ok(out / TIMESERIES / part_name(k),
                                              (hi - lo) * (man["months"] + 1)):
            continue
        done.add(k)
    return done


def _clean_temp(out: Path) -> None:
    for sub in (PARTS, TIMESERIES):
        d = out / sub
        if d.is_dir():
            for f in d.iterdir():
                if f.name.startswith(".") and f.name.endswith(".tmp"):
                    f.unlink(missing_ok=True)


def _describe_diff(old: dict, new: dict) -> str:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    parts = []
    for k in keys:
        a, b = json.dumps(old.get(k))[:80], json.dumps(new.get(k))[:80]
        parts.append(f"  {k}: folder has {a}, this spec has {b}")
    return "\n".join(parts)


def check_out_dir(out: Path, sw: Sweep) -> dict | None:
    """Refuse folders that hold something else; return the manifest when resuming."""
    if out.exists() and not out.is_dir():
        raise SweepError(f"--out {out}: exists and is not a folder")
    if not out.exists():
        return None
    if (out / MANIFEST).exists():
        man = read_manifest(out)
        if man.get("spec_hash") != sw.spec_hash():
            diff = _describe_diff(man.get("spec", {}), sw.spec_dict())
            raise SweepError(
                f"--out {out}: the folder holds a different sweep (spec hash "
                f"{man.get('spec_hash', '?')[:12]}, this spec {sw.spec_hash()[:12]}); it can "
                f"only be resumed with the same spec. Differences:\n{diff}\nUse a new --out "
                f"folder, or delete this one to start over.")
        return man
    others = [p.name for p in out.iterdir() if p.name not in _OWN and not p.name.startswith(".")]
    if others:
        raise SweepError(f"--out {out}: the folder exists and is not a sweep folder (it holds "
                         f"{', '.join(sorted(others)[:5])}); give a new or empty folder")
    return None


def _manifest(sw: Sweep, chunk: int) -> dict:
    bounds = _layout(sw.runs, chunk)
    import SALib

    try:
        from importlib.metadata import version

        versions = {p: version(p) for p in ("numpy", "scipy", "SALib", "pyarrow")}
    except Exception:  # noqa: BLE001 - versions are informative only
        versions = {"SALib": getattr(SALib, "__version__", "?")}
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
        "outcomes": [{**o.as_dict(), "unit": o.unit} for o in sw.outcomes],
        "timeseries": list(sw.timeseries),
        "samples_file": SAMPLES,
        "chunk": chunk,
        "chunks": len(bounds),
        "parts": f"{PARTS}/part-NNNNNN.parquet",
        "run_id": "sample * replicates + replicate; chunk k holds run ids "
                  "[k * chunk, min((k + 1) * chunk, runs))",
        "rng": "run run_id draws from numpy SeedSequence(seed, spawn_key=(run_id,))",
        "versions": versions,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# --- execution backends ---------------------------------------------------------------------------

def _ignore_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Backend:
    """Where chunks run: in this process, a process pool or a Dask cluster."""

    window = 1
    workers = 1
    label = "this process"
    numba_threads: int | None = None

    def submit(self, task: ChunkTask):
        raise NotImplementedError

    def wait(self, futures: Iterable) -> list:
        raise NotImplementedError

    def close(self) -> None:
        return None


class _Computed:
    """A finished 'future' of the inline backend (hashed by identity)."""

    __slots__ = ("value",)

    def __init__(self, value: ChunkOut) -> None:
        self.value = value

    def cancel(self) -> bool:
        return False


class _Inline(_Backend):
    def submit(self, task: ChunkTask):
        return _Computed(compute_chunk(task))

    def wait(self, futures):
        return list(futures)

    @staticmethod
    def result(fut) -> ChunkOut:
        return fut.value


class _Processes(_Backend):
    def __init__(self, workers: int) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        # forkserver: workers start from a clean single-threaded process (no fork of the
        # driver's threads) that has imported the model once; they ignore Ctrl-C, which the
        # driver handles.
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["model.experiments.sweep"])
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                        initializer=_ignore_sigint)
        self.workers = workers
        self.window = 2 * workers
        self.label = f"{workers} local processes"
        self.numba_threads = 1

    def submit(self, task):
        return self.pool.submit(compute_chunk, task)

    def wait(self, futures):
        from concurrent.futures import FIRST_COMPLETED, wait

        return list(wait(list(futures), return_when=FIRST_COMPLETED).done)

    @staticmethod
    def result(fut) -> ChunkOut:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return fut.result()
        except BrokenProcessPool:
            raise SweepError("a worker process died (out of memory or killed); the finished "
                             "chunks are saved: run the same command again to resume") from None

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class _Dask(_Backend):
    def __init__(self, client, cluster=None, label: str = "dask", own: bool = True) -> None:
        self.client = client
        self.cluster = cluster
        self.own = own
        nthreads = sum(client.nthreads().values()) or 1
        self.workers = nthreads
        self.window = max(2, 2 * nthreads)
        self.label = label
        self.numba_threads = 1

    def submit(self, task):
        return self.client.submit(compute_chunk, task, pure=False,
                                  key=f"sweep-chunk-{task.index:06d}-{os.urandom(4).hex()}")

    def wait(self, futures):
        from distributed import wait

        return list(wait(list(futures), return_when="FIRST_COMPLETED").done)

    @staticmethod
    def result(fut) -> ChunkOut:
        out = fut.result()
        fut.release()
        return out

    def close(self) -> None:
        if self.own:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _backend(workers: int, dask: str | None, scheduler: str | None, client) -> _Backend:
    if client is not None:
        return _Dask(client, label=f"dask client {client.scheduler.address}", own=False)
    if scheduler is not None:
        from distributed import Client

        try:
            cl = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise SweepError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there "
                             f"({exc}); start one with 'dask scheduler'") from None
        return _Dask(cl, label=f"dask scheduler {scheduler}")
    if dask == "local":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        return _Dask(Client(cluster), cluster, label=f"dask LocalCluster of {workers} worker(s)")
    if dask is not None:
        raise SweepError(f"--dask {dask}: expected 'local' (or use --scheduler ADDR)")
    if workers > 1:
        return _Processes(workers)
    return _Inline()


# --- running -------------------------------------------------------------------------------------

@dataclass
class SweepReport:
    """What a sweep call did."""

    out: Path
    runs: int
    chunks: int
    computed_chunks: int
    computed_runs: int
    resumed_chunks: int
    seconds: float
    backend: str
    driver_maxrss_kib: int = 0
    worker_maxrss_kib: dict[int, int] = field(default_factory=dict)
    compute_seconds: float = 0.0

    @property
    def runs_per_s(self) -> float:
        return self.computed_runs / self.seconds if self.seconds > 0 else float("nan")

    def text(self) -> str:
        lines = [f"sweep folder {self.out}: {self.runs:,} runs in {self.chunks} chunk(s)"]
        if self.resumed_chunks:
            lines.append(f"resumed: {self.resumed_chunks} chunk(s) were already complete")
        lines.append(f"computed {self.computed_chunks} chunk(s), {self.computed_runs:,} runs in "
                     f"{self.seconds:.1f} s ({self.runs_per_s:,.0f} runs/s) on {self.backend}")
        return "\n".join(lines)


def _tasks(sw: Sweep, x: np.ndarray, bounds: list[tuple[int, int]], todo: Iterable[int],
           numba_threads: int | None = None) -> Iterator[ChunkTask]:
    for k in todo:
        lo, hi = bounds[k]
        ids = np.arange(lo, hi)
        yield ChunkTask(index=k, run_lo=lo, run_hi=hi, scenario=sw.scenario, months=sw.months,
                        seed=sw.seed, replicates=sw.replicates, names=sw.names,
                        matrix=x[ids // sw.replicates], fixed=sw.fixed,
                        outcomes=sw.outcomes, timeseries=sw.timeseries,
                        numba_threads=numba_threads)


def run_sweep(sw: Sweep, out: str | Path, *, workers: int = 1, dask: str | None = None,
              scheduler: str | None = None, client=None, chunk: int = DEFAULT_CHUNK,
              progress: bool = True, on_chunk: Callable[[int, int], None] | None = None,
              log: Callable[[str], None] | None = None) -> SweepReport:
    """Run (or resume) a sweep into folder ``out``.

    The folder is checked before anything is written; a folder holding the same sweep is
    resumed (only missing chunks run; the folder's chunk size is kept), one holding anything else
    is refused. ``workers > 1``: a local process pool; ``dask="local"``: a Dask LocalCluster of
    ``workers`` single-threaded processes; ``scheduler``: an existing Dask scheduler;
    ``client``: an existing ``distributed.Client``. ``on_chunk(index, chunks_done)`` is called
    after each part file is in place.
    """
    say = log or (lambda s: print(s, file=sys.stderr))  # noqa: T201
    out = Path(out)
    if chunk < 1:
        raise SweepError(f"--chunk must be >= 1, got {chunk}")
    man = check_out_dir(out, sw)
    x = sw.sample_matrix()
    if man is not None and man["chunk"] != chunk:
        say(f"resuming with the folder's chunk size {man['chunk']} (not {chunk})")
        chunk = man["chunk"]
    backend = _backend(workers, dask, scheduler, client)
    t0 = time.perf_counter()
    try:
        if man is None:
            out.mkdir(parents=True, exist_ok=True)
            _atomic_write(pa.table({n: x[:, k] for k, n in enumerate(sw.names)}), out / SAMPLES)
            man = _manifest(sw, chunk)
            _atomic_text(json.dumps(man, indent=1), out / MANIFEST)
        else:
            saved = pq.read_table(out / SAMPLES).to_pandas()[list(sw.names)].to_numpy()
            if saved.shape != x.shape or not np.array_equal(saved, x):
                say("note: this installation draws a different sample matrix than the folder's; "
                    "resuming with the folder's samples.parquet")
                x = saved
        (out / PARTS).mkdir(exist_ok=True)
        if sw.timeseries:
            (out / TIMESERIES).mkdir(exist_ok=True)
        _clean_temp(out)
        bounds = _layout(sw.runs, chunk)
        done = done_chunks(out, man)
        todo = [k for k in range(len(bounds)) if k not in done]
        if done:
            say(f"resuming {out}: {len(done)} of {len(bounds)} chunk(s) already complete")
        report = SweepReport(out=out, runs=sw.runs, chunks=len(bounds), computed_chunks=0,
                             computed_runs=0, resumed_chunks=len(done), seconds=0.0,
                             backend=backend.label)
        _drive(backend, _tasks(sw, x, bounds, todo, backend.numba_threads), out, report,
               progress, on_chunk,
               initial=sum(bounds[k][1] - bounds[k][0] for k in done), total=sw.runs,
               name=sw.name, n_done=len(done))
    finally:
        backend.close()
    report.seconds = time.perf_counter() - t0
    report.driver_maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return report


def _drive(backend: _Backend, tasks: Iterator[ChunkTask], out: Path, report: SweepReport,
           progress: bool, on_chunk, initial: int, total: int, name: str, n_done: int) -> None:
    from tqdm import tqdm

    bar = tqdm(total=total, initial=initial, unit="run", unit_scale=True, dynamic_ncols=True,
               desc=f"sweep {name}", disable=not progress, file=sys.stderr, smoothing=0.05)
    pending: dict = {}
    finished = n_done

    def fill() -> None:
        while len(pending) < backend.window:
            t = next(tasks, None)
            if t is None:
                return
            pending[backend.submit(t)] = t

    try:
        fill()
        while pending:
            for fut in backend.wait(pending):
                pending.pop(fut)
                res = backend.result(fut)
                if res.series is not None:
                    _atomic_write(res.series, out / TIMESERIES / part_name(res.index))
                _atomic_write(res.table, out / PARTS / part_name(res.index))
                n = res.table.num_rows
                finished += 1
                report.computed_chunks += 1
                report.computed_runs += n
                report.compute_seconds += res.seconds
                report.worker_maxrss_kib[res.pid] = max(
                    report.worker_maxrss_kib.get(res.pid, 0), res.maxrss_kib)
                bar.update(n)
                if on_chunk is not None:
                    on_chunk(res.index, finished)
            fill()
    finally:
        for fut in pending:
            with contextlib.suppress(Exception):
                fut.cancel()
        bar.close()


# --- reading results -----------------------------------------------------------------------------

def load_results(out: str | Path, columns: Sequence[str] | None = None,
                 complete: bool = True) -> pd.DataFrame:
    """All rows of a sweep folder, sorted by run_id (``complete``: refuse an unfinished one)."""
    out = Path(out)
    man = read_manifest(out)
    done = sorted(done_chunks(out, man))
    if complete and len(done) < man["chunks"]:
        raise SweepError(f"{out}: the sweep is incomplete ({len(done)} of {man['chunks']} chunks "
                         f"done); run the same 'python -m model sweep' command again to finish "
                         f"it")
    cols = list(columns) if columns is not None else None
    tables = [pq.read_table(out / PARTS / part_name(k), columns=cols) for k in done]
    if not tables:
        return pd.DataFrame(columns=cols or [])
    df = pa.concat_tables(tables).to_pandas()
    if "run_id" in df:
        df = df.sort_values("run_id", kind="stable").reset_index(drop=True)
    return df


def load_timeseries(out: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Time series of a sweep stored with ``timeseries``: one row per run and step."""
    out = Path(out)
    man = read_manifest(out)
    if not man["timeseries"]:
        raise SweepError(f"{out}: the sweep stored no time series (set 'timeseries: true')")
    done = sorted(done_chunks(out, man))
    tables = [pq.read_table(out / TIMESERIES / part_name(k), columns=columns) for k in done]
    return pa.concat_tables(tables).to_pandas()


def load_samples(out: str | Path) -> pd.DataFrame:
    return pq.read_table(Path(out) / SAMPLES).to_pandas()


# --- analysis ------------------------------------------------------------------------------------

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
    method = man["sampler"]
    opts = man["sampler_options"]
    tables: dict[str, pd.DataFrame] = {}
    extra: dict[str, pd.DataFrame] = {}
    notes: list[str] = []
    for name in outs:
        y = means[name].to_numpy(dtype=np.float64)
        constant = bool(np.ptp(y) == 0)
        if constant:
            notes.append(f"note: outcome {name} is constant over the sweep; its indices are "
                         f"undefined (NaN)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if method == "sobol":
                from SALib.analyze import sobol as sobol_analyze

                # a Generator: SALib reads an int seed of 0 as "no seed"
                r = sobol_analyze.analyze(problem, y, calc_second_order=opts["second_order"],
                                          num_resamples=resamples, conf_level=conf_level,
                                          seed=np.random.default_rng(seed))
                tab = pd.DataFrame({"parameter": names, "S1": r["S1"], "S1_conf": r["S1_conf"],
                                    "ST": r["ST"], "ST_conf": r["ST_conf"]})
                if opts["second_order"]:
                    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
                    extra[name] = pd.DataFrame({
                        "parameter_1": [names[i] for i, _ in pairs],
                        "parameter_2": [names[j] for _, j in pairs],
                        "S2": [r["S2"][i, j] for i, j in pairs],
                        "S2_conf": [r["S2_conf"][i, j] for i, j in pairs]})
            elif method == "morris":
                from SALib.analyze import morris as morris_analyze

                r = morris_analyze.analyze(problem, samples.to_numpy(dtype=np.float64), y,
                                           num_resamples=resamples, conf_level=conf_level,
                                           num_levels=opts["levels"],
                                           seed=np.random.default_rng(seed))
                tab = pd.DataFrame({"parameter": names, "mu": r["mu"], "mu_star": r["mu_star"],
                                    "sigma": r["sigma"], "mu_star_conf": r["mu_star_conf"]})
            else:
                from scipy.stats import spearmanr

                rho, pval = [], []
                for n in names:
                    xv = samples[n].to_numpy(dtype=np.float64)
                    if constant or np.ptp(xv) == 0:
                        rho.append(np.nan)
                        pval.append(np.nan)
                        continue
                    res = spearmanr(xv, y)
                    rho.append(float(res.statistic))
                    pval.append(float(res.pvalue))
                tab = pd.DataFrame({"parameter": names, "spearman_rho": rho, "p_value": pval})
        tables[name] = tab
    kind = {"sobol": "sobol", "morris": "morris"}.get(method, "spearman")
    header = (f"{kind} analysis of sweep {man['name']!r} ({method}, {man['rows']:,} samples x "
              f"{man['replicates']} replicate(s) = {man['runs']:,} runs; scenario "
              f"{man['scenario_name']!r}, {man['months']} months; outcomes averaged over "
              f"replicates)")
    dest = Path(dest) if dest is not None else out / ANALYSIS
    dest.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    long = pd.concat([t.assign(outcome=n) for n, t in tables.items()], ignore_index=True)
    long = long[["outcome", *[c for c in long.columns if c != "outcome"]]]
    files.append(_write_csv(long, dest / f"{kind}.csv"))
    if extra:
        s2 = pd.concat([t.assign(outcome=n) for n, t in extra.items()], ignore_index=True)
        files.append(_write_csv(s2[["outcome", *[c for c in s2 if c != "outcome"]]],
                                dest / "sobol_S2.csv"))
    if plots:
        for name, tab in tables.items():
            files.append(_bar_chart(kind, name, tab, dest))
        full = load_results(out, columns=["run_id", "sample", *outs])
        for name in outs:
            files.append(_scatter(name, full, samples, names, dest))
    return Analysis(method=kind, tables=tables, files=files, notes=notes, header=header)


def _write_csv(df: pd.DataFrame, path: Path) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        df.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def _save(fig, path: Path) -> Path:
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def _bar_chart(kind: str, name: str, tab: pd.DataFrame, dest: Path) -> Path:
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


def _scatter(name: str, df: pd.DataFrame, samples: pd.DataFrame, names: Sequence[str],
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
