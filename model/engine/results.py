"""The results of a batch of runs: arrays of runs x months, and their tables and bands.

``Results`` holds what the engine computed; ``allocate`` makes the empty arrays that the engine
writes into (one block for all runs of a ``simulate``, no concatenation); ``concat`` joins
chunks that were computed apart.

Precision: trust, aid and state are stored as float32 (the kernel computes in float64 and
rounds each recorded value once; float32's 7 significant digits are more than any output or
target reads), actions as int8, parameters as float64 records (the kernel's own input, exact).
``simulate(runs=20_000)`` over 240 months holds about 890 MB (trust 482 MB, state 328 MB, aid
39 MB, actions 24 MB, parameters 17 MB).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.core import layout, spec
from model.inputs.scenario import Scenario

#: Stored dtype of the float series (trust, aid, state) and of the actions.
SERIES_DTYPE = np.float32
ACTIONS_DTYPE = np.int8


def allocate(n: int, months: int, ledger_events: int | None = None) -> dict[str, np.ndarray]:
    """Empty result arrays for ``n`` runs of ``months`` months (with the trace's ledgers when
    ``ledger_events`` gives the number of event ledger rows)."""
    steps = months + 1
    out = {
        "trust": np.empty((n, steps, spec.N_ACTORS, spec.N_ACTORS), dtype=SERIES_DTYPE),
        "aid": np.empty((n, steps, layout.N_AID), dtype=SERIES_DTYPE),
        "state": np.empty((n, steps, spec.N_STATE), dtype=SERIES_DTYPE),
        "actions": np.empty((n, months, spec.N_ACTORS), dtype=ACTIONS_DTYPE),
    }
    if ledger_events is not None:
        out["ledger"] = np.zeros((n, months, layout.NCH, layout.NLEDGER), dtype=SERIES_DTYPE)
        out["event_ledger"] = np.zeros((n, ledger_events, layout.NLEDGER), dtype=SERIES_DTYPE)
    return out


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

    def frames(self) -> Iterator[pd.DataFrame]:
        """The long table of ``to_frame`` block by block (one metric, source and target each),
        in its row order: for writers that stream it (``model.io.longtable``)."""
        return self._frames()

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
