"""The batched engine: scenario + parameters + seeds -> arrays of runs x months.

``simulate`` is the Python entry point; ``iter_chunks`` yields the same results chunk by chunk so
that callers (the CLI, sweeps) can stream them to disk with flat memory.

Seeds: run ``i`` of master seed ``S`` draws its random numbers from
``SeedSequence(S, spawn_key=(i,))`` and nothing else, so a run's numbers do not depend on the
batch size, the chunking, the process count or the order in which runs are computed. Seed 0 is a
seed like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from model.core import kernel, spec
from model.core import params as P
from model.engine.executors import process_pool
from model.engine.paramsets import draw_params, load_posterior, posterior_exists
from model.inputs.compiled import Compiled, compile_scenario
from model.inputs.scenario import Scenario, load_scenario

DEFAULT_CHUNK = 1024


def run_seed(seed: int, run: int) -> np.random.SeedSequence:
    """The seed sequence of run ``run`` under master seed ``seed`` (both >= 0)."""
    if int(seed) < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.SeedSequence(int(seed), spawn_key=(int(run),))


def draw_uniforms(seed: int, runs: Sequence[int], months: int) -> np.ndarray:
    """Decision draws u[run, month, actor] in [0, 1), each run from its own stream."""
    out = np.empty((len(runs), months, spec.N_ACTORS))
    for k, i in enumerate(runs):
        out[k] = np.random.Generator(np.random.PCG64(run_seed(seed, i))).random(
            (months, spec.N_ACTORS))
    return out


def initial_state(sc: Scenario, prm: Mapping[str, float]) -> tuple[np.ndarray, ...]:
    """Initial (r, s, a0, b0, aid, x) of one run from its parameters and the scenario.

    Trust starts at the historical baselines of the parameter table (neutral 0.5 elsewhere),
    overridden by the scenario's ``initial.trust``, held with ``prior_strength`` pseudo-counts.
    """
    t0 = np.full((spec.N_ACTORS, spec.N_ACTORS), 0.5)
    ix = spec.ACTOR_INDEX

    def both(a: str, b: str, v: float) -> None:
        t0[ix[a], ix[b]] = v
        t0[ix[b], ix[a]] = v

    t0[ix["PAK_MIL"], ix["US"]] = prm["baseline_mil_us"]
    t0[ix["US"], ix["PAK_MIL"]] = prm["baseline_us_mil"]
    t0[ix["PAK_CIV"], ix["US"]] = prm["baseline_civ_us"]
    t0[ix["US"], ix["PAK_CIV"]] = prm["baseline_us_civ"]
    both("PAK_MIL", "TALIBAN", prm["baseline_mil_taliban"])
    both("PAK_MIL", "INDIA", prm["baseline_mil_india"])
    both("US", "INDIA", prm["baseline_us_india"])
    for key, v in sc.initial.trust.items():
        a, _, b = key.partition("->")
        t0[ix[a], ix[b]] = v
    np.fill_diagonal(t0, 1.0)
    n0 = prm["prior_strength"]
    a0, b0 = n0 * t0, n0 * (1.0 - t0)
    r = np.zeros_like(t0)
    s = np.zeros_like(t0)
    aid = np.zeros(len(spec.AID_FLOWS))
    for k, (d, rcp) in enumerate(spec.AID_FLOWS):
        aid[k] = sc.initial.aid.get(f"{d}->{rcp}", 0.0)
    x = np.array([prm[v.initial] if isinstance(v.initial, str) else v.initial
                  for v in spec.STATE_VARS], dtype=np.float64)
    for name, v in sc.initial.state.items():
        x[spec.STATE_INDEX[name]] = v
    return r, s, a0, b0, aid, x


@dataclass
class Results:
    """Arrays of a batch of runs. Step 0 is the initial state, step k the state after k months.

    - ``trust``: runs x (months+1) x 5 x 5, ``trust[..., i, j]`` = trust of actor i in actor j;
    - ``aid``: runs x (months+1) x 2 ($M per month; flows in ``spec.AID_FLOWS``);
    - ``state``: runs x (months+1) x N_STATE (``spec.STATE_VARS``);
    - ``actions``: runs x months x 5, the index (into ``spec.ACTIONS``) each actor chose;
    - ``ledger`` (trace only): runs x months x channels x 27, each channel's share of every
      trust cell's and aid flow's change; ``event_ledger``: runs x events x 27.
    """

    scenario: Scenario
    seed: int
    run_ids: np.ndarray
    dates: list[str]
    params: np.ndarray
    trust: np.ndarray
    aid: np.ndarray
    state: np.ndarray
    actions: np.ndarray
    ledger: np.ndarray | None = None
    event_ledger: np.ndarray | None = None
    event_ids: tuple[str, ...] = field(default_factory=tuple)
    event_months: tuple[int, ...] = field(default_factory=tuple)

    @property
    def runs(self) -> int:
        return self.trust.shape[0]

    @property
    def months(self) -> int:
        return self.trust.shape[1] - 1

    def __getattr__(self, name: str):
        # Each scalar state variable is also an attribute: results.public_hostility -> runs x T+1.
        idx = spec.STATE_INDEX.get(name)
        if idx is None:
            raise AttributeError(name)
        return self.__dict__["state"][..., idx]

    def trust_series(self, source: str, target: str) -> np.ndarray:
        """runs x (months+1) trust of ``source`` in ``target``."""
        return self.trust[:, :, spec.ACTOR_INDEX[source], spec.ACTOR_INDEX[target]]

    def action_count(self, action: str) -> np.ndarray:
        """runs x months: 1 where the action's actor chose it that month."""
        a = spec.ACTIONS[spec.ACTION_INDEX[action]]
        return (self.actions[:, :, spec.ACTOR_INDEX[a.actor]] == spec.ACTION_INDEX[action])

    def bands(self, quantiles: Sequence[float] = (0.05, 0.5, 0.95)) -> pd.DataFrame:
        """Ensemble bands: for every metric of ``to_frame`` except actions (trust per pair, aid
        per flow, each state variable) and every step, the quantiles over runs (default the
        median and the 5-95% band) and the mean. Columns: metric, source, target, step, date,
        q05, q50, q95 (named by quantile), mean."""
        series, labels = [], []
        for i, a in enumerate(spec.ACTORS):
            for j, b in enumerate(spec.ACTORS):
                if i != j:
                    series.append(self.trust[:, :, i, j])
                    labels.append(("trust", a, b))
        for k, (d, rcp) in enumerate(spec.AID_FLOWS):
            series.append(self.aid[:, :, k])
            labels.append(("aid", d, rcp))
        for k, v in enumerate(spec.STATE_VARS):
            series.append(self.state[:, :, k])
            labels.append((v.name, "", ""))
        vals = np.stack(series, axis=2).astype(np.float64)        # runs x steps x series
        q = np.quantile(vals, list(quantiles), axis=0)           # quantiles x steps x series
        nt, ns = vals.shape[1], vals.shape[2]
        dates = pd.to_datetime(pd.Series(self.dates), format="%Y-%m").to_numpy()
        out = pd.DataFrame({
            "metric": np.repeat([lab[0] for lab in labels], nt),
            "source": np.repeat([lab[1] for lab in labels], nt),
            "target": np.repeat([lab[2] for lab in labels], nt),
            "step": np.tile(np.arange(nt), ns),
            "date": np.tile(dates, ns),
        })
        for qi, qv in enumerate(quantiles):
            out[f"q{round(qv * 100):02d}"] = q[qi].T.ravel()
        out["mean"] = vals.mean(axis=0).T.ravel()
        return out

    def to_frame(self) -> pd.DataFrame:
        """Long table: run, step, date, metric, source, target, value.

        Metrics: ``trust`` (source trusts target), ``aid`` (US -> recipient, $M/month), each
        scalar state variable by name (source/target empty), and ``action`` (source = actor,
        target = the action's name, value = its index in ``spec.ACTIONS``; steps 1..months).
        """
        return pd.concat(list(self._frames()), ignore_index=True)

    def _frames(self) -> Iterator[pd.DataFrame]:
        nr, nt = self.runs, self.months + 1
        steps = np.arange(nt)
        dates = pd.to_datetime(pd.Series(self.dates), format="%Y-%m").to_numpy()
        run_col = np.repeat(self.run_ids, nt)
        step_col = np.tile(steps, nr)
        date_col = np.tile(dates, nr)
        def block(metric: str, source: str, target: str, values: np.ndarray,
                  run=run_col, step=step_col, date=date_col) -> pd.DataFrame:
            n = values.size
            return pd.DataFrame({
                "run": run, "step": step, "date": date,
                "metric": np.full(n, metric, dtype=object),
                "source": np.full(n, source, dtype=object),
                "target": np.full(n, target, dtype=object),
                "value": values.astype(np.float64).ravel(),
            })

        for i, a in enumerate(spec.ACTORS):
            for j, b in enumerate(spec.ACTORS):
                if i != j:
                    yield block("trust", a, b, self.trust[:, :, i, j])
        for k, (d, rcp) in enumerate(spec.AID_FLOWS):
            yield block("aid", d, rcp, self.aid[:, :, k])
        for k, v in enumerate(spec.STATE_VARS):
            yield block(v.name, "", "", self.state[:, :, k])
        if self.months:
            arun = np.repeat(self.run_ids, self.months)
            astep = np.tile(steps[1:], nr)
            adate = np.tile(dates[1:], nr)
            names = np.array([a.name for a in spec.ACTIONS], dtype=object)
            for i, a in enumerate(spec.ACTORS):
                codes = self.actions[:, :, i].ravel()
                df = block("action", a, "", codes, arun, astep, adate)
                df["target"] = names[codes]
                yield df


def _kernel(comp: Compiled, m0: int, m1: int, rec: np.ndarray, state: list[np.ndarray],
            u: np.ndarray, trace: bool) -> dict[str, np.ndarray]:
    """Advance the runs' ``state`` (updated in place) through months [m0, m1) of ``comp``."""
    n, months = rec.shape[0], m1 - m0
    r, s, a0, b0, aid, x = state
    trust = np.empty((n, months + 1, spec.N_ACTORS, spec.N_ACTORS), dtype=np.float32)
    aid_out = np.empty((n, months + 1, len(spec.AID_FLOWS)), dtype=np.float32)
    x_out = np.empty((n, months + 1, spec.N_STATE), dtype=np.float32)
    acts = np.empty((n, months, spec.N_ACTORS), dtype=np.int8)
    n_ev = len(comp.ev_ids)
    n_trig = len(comp.trig_ids)
    trig = comp.trig.copy()
    trig[:, 2:4] -= m0  # trigger windows in this phase's months
    if trace:
        n_ch = kernel.NCH + max(1, comp.max_events_per_month) + n_trig
        led = np.zeros((n, months, kernel.NCH, kernel.NLEDGER), dtype=np.float32)
        led_ev = np.zeros((n, max(1, n_ev + n_trig), kernel.NLEDGER), dtype=np.float32)
    else:
        n_ch = 1
        led = np.zeros((n, 1, 1, 1), dtype=np.float32)
        led_ev = np.zeros((n, 1, 1), dtype=np.float32)
    kernel.run_batch(rec, r, s, a0, b0, aid, x, u, comp.forced[m0:m1], comp.ev_action,
                     comp.ev_actor, comp.ev_target, comp.ev_goldstein, comp.ev_material,
                     comp.ev_severity, comp.month_ptr[m0:m1 + 1], comp.eff_event, comp.eff_var,
                     comp.eff_mode, comp.eff_value, n_ch, trust, aid_out, x_out, acts, led,
                     led_ev, comp.forbid[m0:m1], comp.hold[m0:m1], comp.cond, comp.cond_value,
                     trig)
    out = {"trust": trust, "aid": aid_out, "state": x_out, "actions": acts}
    if trace:
        keep = (comp.ev_month >= m0) & (comp.ev_month < m1)
        out["ledger"] = led
        # Scheduled events of this phase, then the triggers (which may fire in any month).
        out["event_ledger"] = np.concatenate(
            [led_ev[:, :n_ev][:, keep], led_ev[:, n_ev:n_ev + n_trig]], axis=1)
        out["event_ids"] = (tuple(np.asarray(comp.ev_ids, dtype=object)[keep])
                            + tuple(f"trigger {t}" for t in comp.trig_ids))
        out["event_months"] = (tuple(int(m) for m in comp.ev_month[keep])
                               + (m0,) * n_trig)
    return out


def _initial_states(sc: Scenario, rows: list[dict]) -> list[np.ndarray]:
    """Stacked initial (r, s, a0, b0, aid, x) of a chunk; computed once per distinct row."""
    cache: dict[int, tuple] = {}
    init = []
    for row in rows:
        it = cache.get(id(row))
        if it is None:
            it = cache[id(row)] = initial_state(sc, row)
        init.append(it)
    return [np.stack([it[k] for it in init]) for k in range(6)]


def _run_chunk(comp: Compiled, seed: int, run_ids: np.ndarray, overrides: list[dict],
               trace: bool) -> dict[str, np.ndarray]:
    """Run the kernel on one chunk of runs; pure function of its inputs.

    A branch scenario runs its parent (with the parent's parameters) up to the branch month and
    itself from there on, on the same random streams, so before the branch its runs equal the
    parent's. ``overrides`` are the per-run parameter overrides.
    """
    months = comp.months
    prm_rows = merge_rows(comp.scenario, overrides)
    rec = P.records(prm_rows)
    u = draw_uniforms(seed, run_ids, months)
    if comp.parent is None:
        state = _initial_states(comp.scenario, prm_rows)
        out = _kernel(comp, 0, months, rec, state, u, trace)
    else:
        m = comp.branch
        parent_rows = merge_rows(comp.parent.scenario, overrides)
        state = _initial_states(comp.parent.scenario, parent_rows)
        first = _kernel(comp.parent, 0, m, P.records(parent_rows), state, u[:, :m], trace)
        second = _kernel(comp, m, months, rec, state, u[:, m:], trace)
        out = {k: np.concatenate([first[k], second[k][:, 1:]], axis=1)
               for k in ("trust", "aid", "state")}
        out["actions"] = np.concatenate([first["actions"], second["actions"]], axis=1)
        if trace:
            out["ledger"] = np.concatenate([first["ledger"], second["ledger"]], axis=1)
            out["event_ledger"] = np.concatenate(
                [first["event_ledger"], second["event_ledger"]], axis=1)
            out["event_ids"] = first["event_ids"] + second["event_ids"]
            out["event_months"] = first["event_months"] + second["event_months"]
    out["params"] = rec
    return out


def _as_scenario(scenario: Scenario | str | Path | Mapping) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, Mapping):
        from model.inputs.scenario import from_mapping

        return from_mapping(dict(scenario))
    return load_scenario(scenario)


def run_overrides(runs: int, params: Mapping | Sequence[Mapping] | None,
                  where: str = "params") -> list[dict]:
    """Validated per-run parameter overrides (the same dict object for all runs when ``params``
    is one mapping). ``params`` is one mapping for all runs or a sequence, one per run."""
    if params is None or isinstance(params, Mapping):
        row = {k: P.check(k, v, where) for k, v in (params or {}).items()}
        return [row] * runs
    rows = list(params)
    if len(rows) != runs:
        raise P.ParameterError(f"{where}: got {len(rows)} parameter sets for {runs} runs")
    return [{k: P.check(k, v, where) for k, v in row.items()} for row in rows]


def merge_rows(sc: Scenario, overrides: Sequence[dict]) -> list[dict]:
    """Full parameter mappings: table defaults < scenario overrides < per-run overrides."""
    base = P.resolve(sc.params, where="scenario params")
    cache: dict[int, dict] = {}
    out = []
    for ov in overrides:
        row = cache.get(id(ov))
        if row is None:
            row = cache[id(ov)] = {**base, **ov}
        out.append(row)
    return out


def param_rows(sc: Scenario, runs: int, params: Mapping | Sequence[Mapping] | None,
               where: str = "params") -> list[dict]:
    """Full parameter mappings, one per run: table defaults < scenario overrides < ``params``."""
    return merge_rows(sc, run_overrides(runs, params, where))


def _chunk_rows(sc: Scenario, runs: int, seed: int, params, overrides: Mapping | None
                ) -> Callable[[int, int], list[dict]]:
    """A function (lo, hi) -> the per-run parameter overrides of runs lo..hi-1.

    ``params``: None (the shipped calibrated posterior, or the table's defaults where none is
    shipped), "default" (the table's defaults and the scenario's values), "posterior" (one set
    per run drawn from the shipped calibrated posterior by the run's own seed stream; the
    scenario's own values win), a path to a posterior CSV, one mapping for all runs (on top of
    the table's defaults), or a sequence of mappings (one per run). ``overrides`` apply on top of
    any of these.
    """
    extra = run_overrides(1, overrides, where="overrides")[0]
    if params is None:
        params = "posterior" if posterior_exists() else "default"
    if isinstance(params, str | Path) and (str(params) == "posterior"
                                           or str(params).endswith(".csv")):
        post = load_posterior(None if str(params) == "posterior" else params)
        keep = tuple(sc.params)

        def from_posterior(lo: int, hi: int) -> list[dict]:
            rows = draw_params(seed, range(lo, hi), post, exclude=keep)
            return [{**r, **extra} for r in rows]

        return from_posterior
    if isinstance(params, str):
        if params != "default":
            raise P.ParameterError(f"params: expected 'default', 'posterior', a posterior .csv "
                                   f"file, a mapping or a list of mappings, got {params!r}")
        params = None
    rows = run_overrides(runs, params)
    if extra:
        rows = [{**r, **extra} for r in rows]
    return lambda lo, hi: rows[lo:hi]


def iter_chunks(scenario, runs: int = 1, seed: int = 0, months: int | None = None,
                params=None, trace: bool = False, chunk: int = DEFAULT_CHUNK,
                workers: int = 1, overrides: Mapping | None = None) -> Iterator[Results]:
    """Yield Results for consecutive chunks of runs (run ids 0..runs-1, in order).

    ``params`` and ``overrides``: see ``_chunk_rows``. ``workers > 1`` computes chunks in that
    many processes; the numbers are the same.
    """
    sc = _as_scenario(scenario)
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    run_seed(seed, 0)  # a bad seed is refused before the posterior draws use it
    comp = compile_scenario(sc, months)
    rows_of = _chunk_rows(sc, runs, seed, params, overrides)
    merge_rows(sc, rows_of(0, 1))  # validates the parameters before any work
    dates = comp.dates()
    bounds = [(lo, min(lo + chunk, runs)) for lo in range(0, runs, chunk)]

    def wrap(lo: int, hi: int, out: dict) -> Results:
        return Results(scenario=sc, seed=seed, run_ids=np.arange(lo, hi), dates=dates,
                       params=out["params"], trust=out["trust"], aid=out["aid"],
                       state=out["state"], actions=out["actions"], ledger=out.get("ledger"),
                       event_ledger=out.get("event_ledger"),
                       event_ids=out.get("event_ids", comp.ev_ids),
                       event_months=out.get("event_months", tuple(map(int, comp.ev_month))))

    if workers <= 1 or len(bounds) == 1:
        for lo, hi in bounds:
            yield wrap(lo, hi, _run_chunk(comp, seed, np.arange(lo, hi), rows_of(lo, hi), trace))
        return
    with process_pool(workers) as pool:
        futs = [pool.submit(_run_chunk, comp, seed, np.arange(lo, hi), rows_of(lo, hi), trace)
                for lo, hi in bounds]
        for (lo, hi), fut in zip(bounds, futs, strict=True):
            yield wrap(lo, hi, fut.result())


def run_block(scenario, seed: int, run_ids: Sequence[int], params: Sequence[Mapping],
              months: int | None = None, trace: bool = False) -> Results:
    """Run an arbitrary block of run ids (e.g. one chunk of a sweep) with one parameter mapping
    per run. Run ``i`` gives the same numbers here as run ``i`` of ``simulate`` with the same
    seed and parameters, so blocks can be computed anywhere, in any order, and resumed."""
    sc = _as_scenario(scenario)
    comp = compile_scenario(sc, months)
    ids = np.asarray(run_ids, dtype=np.int64)
    out = _run_chunk(comp, seed, ids, run_overrides(len(ids), list(params)), trace)
    return Results(scenario=sc, seed=seed, run_ids=ids, dates=comp.dates(),
                   params=out["params"], trust=out["trust"], aid=out["aid"],
                   state=out["state"], actions=out["actions"], ledger=out.get("ledger"),
                   event_ledger=out.get("event_ledger"),
                   event_ids=out.get("event_ids", comp.ev_ids),
                   event_months=out.get("event_months", tuple(map(int, comp.ev_month))))


def concat(parts: Sequence[Results]) -> Results:
    """Join chunk Results (same scenario and seed) into one."""
    first = parts[0]
    if len(parts) == 1:
        return first

    def cat(name: str):
        vals = [getattr(p, name) for p in parts]
        return None if vals[0] is None else np.concatenate(vals)

    return Results(scenario=first.scenario, seed=first.seed, run_ids=cat("run_ids"),
                   dates=first.dates, params=cat("params"), trust=cat("trust"), aid=cat("aid"),
                   state=cat("state"), actions=cat("actions"), ledger=cat("ledger"),
                   event_ledger=cat("event_ledger"), event_ids=first.event_ids,
                   event_months=first.event_months)


def simulate(scenario, runs: int = 1, seed: int = 0, months: int | None = None,
             params=None, trace: bool = False, chunk: int = DEFAULT_CHUNK,
             workers: int = 1, overrides: Mapping | None = None) -> Results:
    """Run ``runs`` simulations of a scenario and return their arrays.

    ``scenario``: a Scenario, a path to a YAML file, or a mapping. ``params``: None (the
    default: per-run draws from the shipped calibrated posterior), "posterior" (the same),
    "default" (the parameter table's values), a posterior CSV, a mapping for all runs (on top of
    the table's values) or one mapping per run; ``overrides`` go on top. ``trace=True`` keeps
    the explanation ledger.
    """
    return concat(list(iter_chunks(scenario, runs, seed, months, params, trace, chunk, workers,
                                   overrides)))
