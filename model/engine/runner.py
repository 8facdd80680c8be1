"""The batched engine: scenario + parameters + seeds -> arrays of runs x months.

``simulate`` is the Python entry point; ``iter_chunks`` yields the same results chunk by chunk so
that callers (the CLI, sweeps) can stream them to disk with flat memory; ``run_block`` runs any
block of run ids (a sweep's or a calibration's chunk).

Seeds: run ``i`` of master seed ``S`` draws its random numbers from
``SeedSequence(S, spawn_key=(i,))`` and nothing else, so a run's numbers do not depend on the
batch size, the chunking, the process count or the order in which runs are computed. Seed 0 is a
seed like any other.

Everything per run travels as arrays: parameter sets as ``paramsets.Columns`` laid over the
scenario's record, initial states and random numbers stacked over runs, and the kernel writes
straight into the result arrays (``results.allocate``), which ``simulate`` allocates once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from model.core import kernel, layout, rng, spec
from model.core import params as P
from model.core.bundles import Series, State
from model.engine.executors import process_pool
from model.engine.paramsets import Columns, base_record, param_source, records, row_columns
from model.engine.results import Results, allocate, concat
from model.inputs.compiled import Compiled, compile_scenario
from model.inputs.scenario import Scenario, load_scenario

__all__ = ["DEFAULT_CHUNK", "Results", "concat", "draw_uniforms", "initial_state",
           "initial_states", "iter_chunks", "param_record", "run_block", "run_seed", "simulate"]

DEFAULT_CHUNK = 1024


def run_seed(seed: int, run: int) -> np.random.SeedSequence:
    """The seed sequence of run ``run`` under master seed ``seed`` (both >= 0)."""
    if int(seed) < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.SeedSequence(int(seed), spawn_key=(int(run),))


def draw_uniforms(seed: int, runs: Sequence[int], months: int) -> np.ndarray:
    """Decision draws u[run, month, actor] in [0, 1), each run from its own stream: those of
    ``Generator(PCG64(run_seed(seed, run))).random((months, actors))`` (``model.core.rng``)."""
    out = np.empty((len(runs), months, spec.N_ACTORS))
    return rng.fill_uniforms(seed, runs, out)  # numpy's numbers, compiled and parallel


_BASELINES = (  # (truster, trusted, parameter, both ways)
    ("PAK_MIL", "US", "baseline_mil_us", False), ("US", "PAK_MIL", "baseline_us_mil", False),
    ("PAK_CIV", "US", "baseline_civ_us", False), ("US", "PAK_CIV", "baseline_us_civ", False),
    ("PAK_MIL", "TALIBAN", "baseline_mil_taliban", True),
    ("PAK_MIL", "INDIA", "baseline_mil_india", True), ("US", "INDIA", "baseline_us_india", True),
)


def initial_states(sc: Scenario, rec: np.ndarray) -> State:
    """Initial ``State`` of each run (leading axis) from its parameter record and the scenario.

    Trust starts at the historical baselines of the parameter table (neutral 0.5 elsewhere),
    overridden by the scenario's ``initial.trust``, held with ``prior_strength`` pseudo-counts.
    """
    n, ix = len(rec), spec.ACTOR_INDEX
    t0 = np.full((n, spec.N_ACTORS, spec.N_ACTORS), 0.5)
    for a, b, name, both in _BASELINES:
        t0[:, ix[a], ix[b]] = rec[name]
        if both:
            t0[:, ix[b], ix[a]] = rec[name]
    for key, v in sc.initial.trust.items():
        a, _, b = key.partition("->")
        t0[:, ix[a], ix[b]] = v
    diag = np.arange(spec.N_ACTORS)
    t0[:, diag, diag] = 1.0
    n0 = rec["prior_strength"][:, None, None]
    aid = np.zeros((n, layout.N_AID))
    for k, key in enumerate(layout.AID_KEYS):
        aid[:, k] = sc.initial.aid.get(key, 0.0)
    x = np.empty((n, spec.N_STATE))
    for k, v in enumerate(spec.STATE_VARS):
        x[:, k] = rec[v.initial] if isinstance(v.initial, str) else v.initial
    for name, v in sc.initial.state.items():
        x[:, spec.STATE_INDEX[name]] = v
    return State(r=np.zeros_like(t0), s=np.zeros_like(t0), a0=n0 * t0, b0=n0 * (1.0 - t0),
                 aid=aid, x=x)


def param_record(prm: Mapping[str, float]) -> np.ndarray:
    """The kernel's parameter record (0-d) of one full parameter mapping."""
    rec = np.empty((), dtype=P.dtype())
    for name in P.names():
        rec[name] = prm[name]
    return rec


def initial_state(sc: Scenario, prm: Mapping[str, float]) -> State:
    """The initial ``State`` of one run with the full parameter mapping ``prm``."""
    return State(*(a[0] for a in initial_states(sc, param_record(prm)[None])))


def _c(a: np.ndarray) -> np.ndarray:
    """``a`` itself when C-contiguous (the layout the kernel is compiled for), else a copy."""
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _phase(comp: Compiled, m0: int, m1: int, rec: np.ndarray, st: State, u: np.ndarray,
           out: dict[str, np.ndarray], trace: bool, done: np.ndarray) -> np.ndarray | None:
    """Advance the runs' state ``st`` (in place) through months [m0, m1) of ``comp``, writing
    steps m0..m1 and the months' actions (and ledger) into ``out``; returns the phase's event
    ledger (its scheduled events, then its triggers) when tracing. ``done`` (runs x the
    phase's triggers): which have fired, updated in place."""
    n, n_ev, n_trig = len(rec), len(comp.ev_ids), len(comp.trig_ids)
    views = {k: out[k][:, m0:m1 + 1] for k in ("trust", "aid", "state")}
    views.update({k: out[k][:, m0:m1] for k in ("actions", "ledger") if k in out})
    series = {k: _c(v) for k, v in views.items()}
    if trace:
        n_ch = layout.NCH + max(1, comp.max_events_per_month) + n_trig
        led_ev = np.zeros((n, max(1, n_ev + n_trig), layout.NLEDGER), dtype=np.float32)
    else:
        n_ch = 1
        series["ledger"] = np.zeros((n, 1, 1, 1), dtype=np.float32)
        led_ev = np.zeros((n, 1, 1), dtype=np.float32)
    kernel.run_batch(rec, st, _c(u), comp.inputs(m0, m1), n_ch,
                     Series(series["trust"], series["aid"], series["state"], series["actions"],
                            series["ledger"], led_ev), done)
    for k, v in views.items():
        if series[k] is not v:
            v[...] = series[k]
    if not trace:
        return None
    keep = (comp.ev_month >= m0) & (comp.ev_month < m1)
    return np.concatenate([led_ev[:, :n_ev][:, keep], led_ev[:, n_ev:n_ev + n_trig]], axis=1)


def carry_triggers(done: np.ndarray, n_trig: int) -> np.ndarray:
    """The fired flags of a phase with ``n_trig`` triggers, from the previous phase's ``done``
    (runs x its triggers): a branch lists its parent's triggers first (``inputs.branch``), so a
    ``once`` trigger that fired before the branch month stays spent after it."""
    new = np.zeros((done.shape[0], n_trig), dtype=np.bool_)
    k = min(n_trig, done.shape[1])
    new[:, :k] = done[:, :k]
    return new


def _phases(comp: Compiled) -> list[tuple[Compiled, int, int]]:
    """(compiled scenario, first month, end month) of each phase (``Compiled.phases``)."""
    return comp.phases()


def _phase_columns(comp: Compiled, runs: int, seed: int, params, overrides: Mapping | None
                   ) -> Callable[[int, int], list[Columns]]:
    """A function (lo, hi) -> the per-run parameter columns of runs lo..hi-1, one per phase.

    Every phase gets the same draws and overrides; each phase's own scenario values win over
    the posterior (``param_source``), so a branch's parameters act from its month on and its
    runs use exactly its parent's parameters before it. Phases whose scenarios set the same
    names share one source."""
    scenarios = [c.scenario for c, _, _ in _phases(comp)]
    keys = [frozenset(sc.params) for sc in scenarios]
    sources = {}
    for key, sc in zip(keys, scenarios, strict=True):
        if key not in sources:
            sources[key] = param_source(sc.params, runs, seed, params, overrides)

    def columns(lo: int, hi: int) -> list[Columns]:
        got = {k: src(lo, hi) for k, src in sources.items()}
        return [got[k] for k in keys]
    return columns


def _events(comp: Compiled) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Ids and months of the event ledger's rows: per phase its scheduled events, then its
    triggers (which may fire in any month of the phase; their month is its first)."""
    ids: tuple[str, ...] = ()
    months: tuple[int, ...] = ()
    for c, m0, m1 in _phases(comp):
        keep = (c.ev_month >= m0) & (c.ev_month < m1)
        ids += tuple(np.asarray(c.ev_ids, dtype=object)[keep]) + tuple(
            f"trigger {t}" for t in c.trig_ids)
        months += tuple(int(m) for m in c.ev_month[keep]) + (m0,) * len(c.trig_ids)
    return ids, months


def _run_chunk(comp: Compiled, seed: int, run_ids: np.ndarray, columns: Sequence[Columns],
               trace: bool, out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Run the kernel on one chunk of runs; a pure function of its inputs. ``columns``: the
    per-run parameter values of each phase (``_phase_columns``); ``out``: the arrays to write
    into (allocated when None).

    A branch scenario runs its parent up to the branch month on the same random streams and
    with the parent's parameters, so before the branch its runs equal the parent's."""
    n = len(run_ids)
    if out is None:
        out = allocate(n, comp.months, len(_events(comp)[0]) if trace else None)
    u = draw_uniforms(seed, run_ids, comp.months)
    st = None
    done = np.zeros((n, 0), dtype=np.bool_)
    ledgers = []
    for (c, m0, m1), cols in zip(_phases(comp), columns, strict=True):
        rec = records(base_record(c.scenario.params, "scenario params"), n, cols)
        st = initial_states(c.scenario, rec) if st is None else st
        done = carry_triggers(done, len(c.trig_ids))
        ledgers.append(_phase(c, m0, m1, rec, st, u[:, m0:m1], out, trace, done))
    if trace:
        out["event_ledger"][...] = np.concatenate(ledgers, axis=1)
    if "params" in out:  # the scenario's own (the last phase's) parameters
        out["params"][...] = rec
    else:
        out["params"] = rec
    return out


def _as_scenario(scenario: Scenario | str | Path | Mapping) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, Mapping):
        from model.inputs.scenario import from_mapping

        return from_mapping(dict(scenario))
    return load_scenario(scenario)


def _results(sc: Scenario, comp: Compiled, seed: int, ids: np.ndarray,
             out: dict[str, np.ndarray]) -> Results:
    ev_ids, ev_months = _events(comp)
    return Results(scenario=sc, seed=seed, run_ids=ids, dates=comp.dates(),
                   params=out["params"], trust=out["trust"], aid=out["aid"],
                   state=out["state"], actions=out["actions"], ledger=out.get("ledger"),
                   event_ledger=out.get("event_ledger"), event_ids=ev_ids,
                   event_months=ev_months)


def _chunks(sc: Scenario, comp: Compiled, runs: int, seed: int, params, trace: bool,
            chunk: int, workers: int, overrides: Mapping | None,
            into: dict[str, np.ndarray] | None = None) -> Iterator[tuple[int, int, dict]]:
    """(lo, hi, arrays) of consecutive chunks; with ``into``, written into its rows lo..hi."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    run_seed(seed, 0)  # a bad seed is refused before the posterior draws use it
    base_record(sc.params, "scenario params")  # validates the scenario's values before any work
    cols_of = _phase_columns(comp, runs, seed, params, overrides)
    bounds = [(lo, min(lo + chunk, runs)) for lo in range(0, runs, chunk)]

    def view(lo: int, hi: int) -> dict | None:
        return None if into is None else {k: v[lo:hi] for k, v in into.items()}

    if workers <= 1 or len(bounds) == 1:
        for lo, hi in bounds:
            yield lo, hi, _run_chunk(comp, seed, np.arange(lo, hi), cols_of(lo, hi), trace,
                                     view(lo, hi))
        return
    with process_pool(workers) as pool:
        futs = [pool.submit(_run_chunk, comp, seed, np.arange(lo, hi), cols_of(lo, hi), trace)
                for lo, hi in bounds]
        for (lo, hi), fut in zip(bounds, futs, strict=True):
            part = fut.result()
            if into is not None:
                for k, v in view(lo, hi).items():
                    v[...] = part[k]
            yield lo, hi, part


def iter_chunks(scenario, runs: int = 1, seed: int = 0, months: int | None = None,
                params=None, trace: bool = False, chunk: int = DEFAULT_CHUNK,
                workers: int = 1, overrides: Mapping | None = None) -> Iterator[Results]:
    """Yield Results for consecutive chunks of runs (run ids 0..runs-1, in order).

    ``params`` and ``overrides``: see ``paramsets.param_source``. ``workers > 1`` computes
    chunks in that many processes; the numbers are the same.
    """
    sc = _as_scenario(scenario)
    comp = compile_scenario(sc, months)
    for lo, hi, out in _chunks(sc, comp, runs, seed, params, trace, chunk, workers, overrides):
        yield _results(sc, comp, seed, np.arange(lo, hi), out)


def run_block(scenario, seed: int, run_ids: Sequence[int],
              params: Sequence[Mapping] | Mapping[str, Sequence[float]],
              months: int | None = None, trace: bool = False) -> Results:
    """Run an arbitrary block of run ids (e.g. one chunk of a sweep) with one parameter mapping
    per run (or the same as columns: name -> one value per run). Run ``i`` gives the same
    numbers here as run ``i`` of ``simulate`` with the same seed and parameters, so blocks can be
    computed anywhere, in any order, and resumed."""
    sc = _as_scenario(scenario)
    comp = compile_scenario(sc, months)
    ids = np.asarray(run_ids, dtype=np.int64)
    if isinstance(params, Mapping):
        cols = {k: P.check_column(k, v, "params") for k, v in params.items()}
        n_rows = {len(v) for v in cols.values()} or {len(ids)}
    else:
        rows = list(params)
        cols, n_rows = row_columns(rows), {len(rows)}
    if n_rows != {len(ids)}:
        raise P.ParameterError(f"params: got {n_rows.pop()} parameter sets for {len(ids)} runs")
    base_record(sc.params, "scenario params")
    phases = [cols] * len(_phases(comp))  # explicit values: the same in every phase
    return _results(sc, comp, seed, ids, _run_chunk(comp, seed, ids, phases, trace))


def simulate(scenario, runs: int = 1, seed: int = 0, months: int | None = None,
             params=None, trace: bool = False, chunk: int = DEFAULT_CHUNK,
             workers: int = 1, overrides: Mapping | None = None) -> Results:
    """Run ``runs`` simulations of a scenario and return their arrays.

    ``scenario``: a Scenario, a path to a YAML file, or a mapping. ``params``: None (the
    default: per-run draws from the shipped calibrated posterior), "posterior" (the same),
    "default" (the parameter table's values), a posterior CSV, a mapping for all runs (on top of
    the table's values) or one mapping per run; ``overrides`` go on top. ``trace=True`` keeps
    the explanation ledger. The arrays are allocated once and each chunk is written into them.
    """
    sc = _as_scenario(scenario)
    comp = compile_scenario(sc, months)
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    into = allocate(runs, comp.months, len(_events(comp)[0]) if trace else None)
    into["params"] = np.empty(runs, dtype=P.dtype())
    for _ in _chunks(sc, comp, runs, seed, params, trace, chunk, workers, overrides, into):
        pass
    return _results(sc, comp, seed, np.arange(runs), into)
