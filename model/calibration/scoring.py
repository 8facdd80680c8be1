"""The history check of a calibration: history runs with a posterior (or the table's defaults)
scored by ``history-check`` (``model.analysis.history``) in sample, out of sample and in all."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from model.analysis.history import score
from model.calibration.problem import history_scenario
from model.engine import runner as engine
from model.engine.paramsets import Posterior, draw_params, load_posterior
from model.inputs.scenario import month_label

SPLIT = "2011-12"                    # end of the fitting period of the validation run


def history_runs(params: str | Path | Mapping | None, runs: int, seed: int,
                 months: int | None = None) -> engine.Results:
    """History replay with the posterior (a path or Posterior: per-run draws), table defaults
    (``None``) or one mapping for all runs."""
    sc = history_scenario()
    if params is None or isinstance(params, Mapping):
        return engine.simulate(sc, runs=runs, seed=seed, months=months,
                               params=dict(params or {}))
    post = params if isinstance(params, Posterior) else load_posterior(params)
    rows = draw_params(seed, range(runs), post, exclude=tuple(sc.params))
    return engine.simulate(sc, runs=runs, seed=seed, months=months, params=rows)


def split_scores(res: engine.Results, split: str = SPLIT) -> dict:
    """history-check scores of a history ensemble: in sample (up to ``split``), out of sample
    (after it) and all."""
    nxt = month_label(split, 1)
    return {"in": score(res, until=split), "out": score(res, since=nxt), "all": score(res)}
