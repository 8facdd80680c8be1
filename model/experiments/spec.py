"""The sweep spec: its YAML form, its validation (every problem reported with ``file:line:col``)
and the validated ``Sweep`` that the rest of ``model.experiments`` runs.

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

``load_spec(path)`` reads and validates a file, ``from_mapping(data)`` a parsed mapping;
``Sweep.spec_dict()`` is everything that determines the numbers (hashed to decide whether a
folder can be resumed).

The parameters a sweep does not vary (``params``, ``PARAMS``): ``posterior`` (the default when
a calibrated posterior is shipped, as for ``simulate(params=None)``): each run draws its set from
the posterior by its own seed stream (``model.engine.paramsets``), the scenario's own values
winning; ``default``: the parameter table's defaults and the scenario's values. ``fixed`` and the
swept parameters go on top of either. The choice and the posterior file's checksum are part of
the spec hash.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from model.analysis import outcomes as O
from model.core import params as P
from model.core import spec
from model.engine import paramsets
from model.experiments.samplers import SAMPLER_MODELS, SAMPLERS, StrictBool, StrictInt, draw
from model.inputs.compiled import compile_scenario
from model.inputs.scenario import MAX_MONTHS, Scenario, load_scenario
from model.io import yamlio
from model.io.errors import ModelInputError
from model.io.store import file_digest

FORMAT = "afpak-sweep/1"
MAX_RUNS = 100_000_000
MAX_SEED = 2**63 - 1
#: Columns of every part file besides the parameters and the outcomes.
ID_COLUMNS = ("run_id", "sample", "replicate", "seed")
#: Where the parameters a sweep does not vary come from (spec ``params``, ``--params``).
PARAMS = ("posterior", "default")
#: What each choice means, in the words of the spec summary.
PARAMS_TEXT = {"posterior": "per-run draws from the calibrated posterior",
               "default": "the parameter table's defaults"}


class SweepError(ModelInputError):
    """A sweep spec or output folder that cannot be used; the message says where and why."""


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
    params: Literal["posterior", "default"] | None = None


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
    #: "posterior" or "default" (``PARAMS``): where the parameters not swept come from
    params: str = "default"
    #: sha256 of the posterior file drawn from (``params == "posterior"``)
    posterior_sha256: str | None = None

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
            "params": self.params,
            "posterior_sha256": self.posterior_sha256,
        }

    def posterior(self) -> paramsets.Posterior | None:
        """The posterior the runs draw from (None with ``params: default``)."""
        return paramsets.load_posterior() if self.params == "posterior" else None

    def params_text(self) -> str:
        """Where the parameters not swept come from, in words (for the summary)."""
        text = PARAMS_TEXT[self.params]
        if self.fixed:
            text += f", with {', '.join(self.fixed)} fixed"
        return text

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
    """The scenario a spec names: relative to the spec's folder, else to the project folder, or
    absolute; confined to those two folders (a symbolic link that leads out is refused, so no
    other file's lines are ever quoted in a message). ``FileNotFoundError`` (the places looked
    in) when it is in neither; ``AccessError`` when it lies outside or is not a regular file."""
    from model.io import access
    from model.io.paths import ROOT

    name = os.path.expanduser(text)
    roots = {"the project folder": ROOT}
    folders: list[Path] = []
    if spec_file is not None:
        here = Path(os.path.dirname(os.path.abspath(spec_file)))
        roots[f"the folder of {spec_file}"] = here
        folders.append(here)
    folders.append(ROOT)
    found = access.find_named(name, folders, roots, access.SCENARIO, what="the scenario")
    if found is None:
        raise FileNotFoundError(", ".join(str(f / name) for f in dict.fromkeys(folders)))
    return found


Where = Callable[..., str]


def _scenario_of(top: _SpecModel, scenario: Scenario | None, spec_file: Path | None,
                 at: Where) -> tuple[Scenario, str]:
    """The spec's scenario (or the one given in Python) and the path it was read from."""
    if scenario is not None:
        return scenario, "<given>"
    try:
        path = _resolve_scenario(top.scenario, spec_file)
    except FileNotFoundError as exc:
        raise SweepError(f"{at('scenario')}: scenario: no scenario file {top.scenario!r} "
                         f"(looked in {exc})") from None
    except ModelInputError as exc:   # outside the spec's and the project's folders
        raise SweepError(f"{at('scenario')}: scenario: {exc}") from None
    try:
        sc = load_scenario(path)
    except ModelInputError as exc:
        raise SweepError(f"{at('scenario')}: scenario {top.scenario!r} is not valid:\n{exc}"
                         ) from None
    return sc, str(path)


def _check_sampler(raw: str | dict, doc: yamlio.Located | None, at: Where,
                   errors: list[str]) -> tuple[Any, dict[str, Any] | None]:
    """The sampler's method and validated options (None when invalid)."""
    opts = {"method": raw} if isinstance(raw, str) else dict(raw)
    method = opts.get("method")
    if method not in SAMPLERS:
        where = at("sampler") if isinstance(raw, str) else at("sampler", "method")
        what = "missing 'method'" if method is None else f"unknown sampler {method!r}"
        errors.append(f"{where}: sampler: {what}{P.suggest(str(method), SAMPLERS)}; "
                      f"expected one of: {', '.join(SAMPLERS)}")
        return method, None
    model = SAMPLER_MODELS[method]
    try:
        return method, model.model_validate(opts).model_dump()
    except ValidationError as exc:
        errors += _fmt_errors(exc, doc, ("sampler",), list(model.model_fields))
        return method, None


def _levels_dim(name: str, levels: Any, at: Where, errors: list[str]) -> Dim | None:
    where, dotted = at("parameters", name), f"parameters.{name}"
    if not isinstance(levels, list) or not levels:
        errors.append(f"{where}: {dotted}.levels: expected a list of values")
        return None
    try:
        vals = tuple(P.check(name, v) for v in levels)
    except P.ParameterError as exc:
        errors.append(f"{at('parameters', name, 'levels')}: {dotted}.levels: {exc} "
                      f"(the parameter table's bounds)")
        return None
    if len(set(vals)) != len(vals):
        errors.append(f"{where}: {dotted}.levels: repeated level in {list(vals)}")
        return None
    return Dim(name, min(vals), max(vals), vals)


def _range_dim(name: str, entry: Any, p: P.Param, at: Where, errors: list[str]) -> Dim | None:
    where, dotted = at("parameters", name), f"parameters.{name}"
    if isinstance(entry, Mapping) and set(entry) == {"lo", "hi"}:
        lo, hi = entry["lo"], entry["hi"]
    elif isinstance(entry, list) and len(entry) == 2:
        lo, hi = entry
    else:
        errors.append(f"{where}: {dotted}: expected [lo, hi], {{lo: .., hi: ..}} or "
                      f"{{levels: [..]}}, got {entry!r}")
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
               for v in (lo, hi)):
        errors.append(f"{where}: {dotted}: bounds must be finite numbers, got [{lo}, {hi}]")
        return None
    if not lo < hi:
        errors.append(f"{where}: {dotted}: lower bound {lo} must be below the upper bound {hi}")
        return None
    if lo < p.lo or hi > p.hi:
        errors.append(f"{where}: {dotted}: bounds [{lo}, {hi}] lie outside the parameter "
                      f"table's bounds [{p.lo}, {p.hi}] ({p.unit}) for {name!r}")
        return None
    return Dim(name, float(lo), float(hi))


def _check_parameters(parameters: dict[str, Any], at: Where, errors: list[str]) -> list[Dim]:
    """One Dim per swept parameter, each inside the parameter table's bounds."""
    dims: list[Dim] = []
    table = P.table()
    if not parameters:
        errors.append(f"{at('parameters')}: parameters: give at least one parameter to sweep")
    for name, entry in parameters.items():
        if name not in table:
            errors.append(f"{at('parameters', name)}: parameters.{name}: unknown parameter "
                          f"{name!r}{P.suggest(str(name), table)} (see python -m model params)")
            continue
        if isinstance(entry, Mapping) and set(entry) == {"levels"}:
            dim = _levels_dim(name, entry["levels"], at, errors)
        else:
            dim = _range_dim(name, entry, table[name], at, errors)
        if dim is not None:
            dims.append(dim)
    return dims


def _check_fixed(top: _SpecModel, at: Where, errors: list[str]) -> dict[str, float]:
    """Parameters held at a value other than the table's default (not swept)."""
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
    return fixed


def _check_size(n: int | None, method: str, sampler: dict, dims: Sequence[Dim], given: bool,
                file: str, at: Where, errors: list[str]) -> int | None:
    """The sample size N as the sampler needs it (``given``: the spec has a 'samples' key)."""
    if method == "factorial":
        if n is not None:
            errors.append(f"{at('samples')}: samples: a factorial sweep takes its size from "
                          f"the levels (product of the levels); drop 'samples'")
        return None
    for d in dims:
        if d.levels is not None:
            errors.append(f"{at('parameters', d.name)}: parameters.{d.name}: explicit "
                          f"levels are for the factorial sampler; give [lo, hi] for {method}")
    if n is None:
        errors.append(f"{at('samples') if given else file}: samples: the "
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
    return n


def _check_timeseries(value: bool | list[str], at: Where, errors: list[str]) -> tuple[str, ...]:
    """The series to store per run and step (``true``: every series)."""
    ts_all = series_names()
    if value is True:
        return ts_all
    if value is False:
        return ()
    ts = tuple(value)
    for k, s in enumerate(ts):
        if s not in ts_all:
            errors.append(f"{at('timeseries', k)}: timeseries: unknown series {s!r}"
                          f"{P.suggest(s, ts_all)}; expected names like trust_PAK_MIL_US, "
                          f"aid_US_PAK_MIL, public_hostility, action_US")
    if len(set(ts)) != len(ts):
        errors.append(f"{at('timeseries')}: timeseries: a series is listed twice")
    return ts


def _top_level(data: Any, doc: yamlio.Located | None, file: str,
               scenario: Scenario | None) -> _SpecModel:
    if not isinstance(data, dict):
        raise SweepError(f"{file}:1:1: expected a mapping of sweep keys at the top level, got "
                         f"{type(data).__name__}")
    if scenario is not None and "scenario" not in data:
        data = {**data, "scenario": "<given>"}
    try:
        return _SpecModel.model_validate(data)
    except ValidationError as exc:
        raise SweepError("\n".join(_fmt_errors(exc, doc, (), list(_SpecModel.model_fields)))
                         ) from None


def _params_choice(given: str | None, at: Where, errors: list[str]) -> tuple[str, str | None]:
    """The resolved ``params`` choice and the posterior's checksum (None for "default")."""
    if given is not None and given not in PARAMS:
        errors.append(f"{at('params')}: params: expected one of {', '.join(PARAMS)}, got "
                      f"{given!r}")
        return "default", None
    choice = given or ("posterior" if paramsets.posterior_exists() else "default")
    if choice == "default":
        return choice, None
    try:
        paramsets.load_posterior()
        return choice, file_digest(paramsets.POSTERIOR_PATH)
    except (ModelInputError, OSError) as exc:
        errors.append(f"{at('params')}: params: posterior: {exc}")
        return choice, None


def from_mapping(data: Any, doc: yamlio.Located | None = None, spec_file: Path | None = None,
                 samples: int | None = None, scenario: Scenario | None = None,
                 params: str | None = None) -> Sweep:
    """Validate a parsed spec into a Sweep (``samples`` overrides the spec's N, ``params`` its
    ``params``, as --params does).

    Raises SweepError listing every problem with ``file:line:col``. ``scenario`` (a Scenario)
    replaces the spec's ``scenario`` path (for callers that build sweeps in Python).
    """
    file = doc.file if doc is not None else "<sweep>"

    def at(*path) -> str:
        return doc.where(path) if doc is not None else file

    top = _top_level(data, doc, file, scenario)
    errors: list[str] = []
    sc, sc_path = _scenario_of(top, scenario, spec_file, at)
    months = top.months if top.months is not None else sc.months
    try:
        compile_scenario(sc, months)
    except ModelInputError as exc:
        errors.append(f"{at('months')}: months: {exc}")
    method, sampler = _check_sampler(top.sampler, doc, at, errors)
    dims = _check_parameters(top.parameters, at, errors)
    fixed = _check_fixed(top, at, errors)
    n = samples if samples is not None else top.samples
    if sampler is not None:
        n = _check_size(n, method, sampler, dims, "samples" in data, file, at, errors)
    reserved = dict.fromkeys(ID_COLUMNS, "a column of every sweep row")
    reserved.update({d.name: "a swept parameter's column" for d in dims})
    try:
        outs = O.parse(top.outcomes, doc, ("outcomes",), sc.start, months, reserved)
    except O.OutcomeError as exc:
        errors.append(str(exc))
        outs = []
    ts = _check_timeseries(top.timeseries, at, errors)
    choice, post_sha = _params_choice(params if params is not None else top.params, at, errors)
    if errors:
        raise SweepError("\n".join(errors))

    sw = Sweep(scenario=sc, scenario_path=sc_path, months=months, dims=tuple(dims),
               sampler=sampler or {}, samples=n, replicates=top.replicates, seed=top.seed,
               outcomes=tuple(outs), timeseries=ts, fixed=fixed,
               name=top.name or (Path(file).stem if doc is not None else "sweep"),
               description=top.description, spec_file=str(spec_file) if spec_file else None,
               params=choice, posterior_sha256=post_sha)
    if sw.runs > MAX_RUNS:
        raise SweepError(f"{file}: the sweep has {sw.rows:,} samples x {sw.replicates} "
                         f"replicates = {sw.runs:,} runs; the limit is {MAX_RUNS:,}")
    return sw


def load_spec(path: str | Path, samples: int | None = None, params: str | None = None
              ) -> Sweep:
    """Read and validate a sweep spec file (``samples`` overrides its N, as --samples;
    ``params`` its ``params``, as --params)."""
    doc = yamlio.load(path)
    return from_mapping(doc.data, doc, Path(path), samples=samples, params=params)


def sample_matrix(sw: Sweep) -> np.ndarray:
    """rows x parameters, in the spec's parameter order, clipped to the bounds (to the last bit:
    samplers scale with floating point)."""
    lo = np.array([x.lo for x in sw.dims])
    hi = np.array([x.hi for x in sw.dims])
    try:
        x = draw(sw.sampler, sw.problem(), sw.samples, sw.seed, [sw.grid(d) for d in sw.dims]
                 if sw.method == "factorial" else [])
    except (ValueError, UserWarning) as exc:
        raise SweepError(f"{sw.spec_file or '<sweep>'}: sampler {sw.method}: the sample "
                         f"cannot be drawn: {exc}") from None
    x = np.clip(np.asarray(x, dtype=np.float64), lo, hi)
    if x.shape != (sw.rows, len(sw.dims)):
        raise RuntimeError(f"sampler {sw.method} gave {x.shape}, expected "
                           f"{(sw.rows, len(sw.dims))}")
    return x
