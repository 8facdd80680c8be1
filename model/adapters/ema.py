"""The model as an EMA Workbench model (``ema_workbench.Model``, function based).

Uncertainties are ``RealParameter``s named and bounded by the parameter table (all of it, a
list of names, or a mapping ``name -> (lo, hi)`` inside the table's bounds); outcomes are
``ScalarOutcome``s named after outcomes of ``model.analysis.outcomes`` (default
``model.analysis.outcomes.DEFAULT``)::

    from ema_workbench import SequentialEvaluator, perform_experiments
    from model.adapters.ema import make_model

    m = make_model("scenarios/history.yaml", parameters=["retaliation_gain", "forgetting"])
    experiments, outcomes = perform_experiments(m, 100, evaluator=SequentialEvaluator(m))

Each experiment runs ``replicates`` runs with run ids ``0 .. replicates-1`` of master seed
``seed`` (common random numbers: every experiment sees the same random draws, so differences
between experiments come from the parameters) and reports the mean of each outcome over them.
The callable is a picklable object, so ``MultiprocessingEvaluator`` works as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.analysis import outcomes as O
from model.core import params as P
from model.inputs.compiled import compile_scenario
from model.inputs.scenario import Scenario, load_scenario
from model.io.errors import ModelInputError


class ExperimentFunction:
    """``f(**parameters) -> {outcome: value}``: the model run behind the EMA ``Model``."""

    def __init__(self, scenario: Scenario, outcomes: Sequence[O.Outcome], seed: int,
                 months: int | None, replicates: int, fixed: Mapping[str, float]) -> None:
        self.scenario = scenario
        self.outcomes = tuple(outcomes)
        self.seed = int(seed)
        self.months = months
        self.replicates = int(replicates)
        self.fixed = dict(fixed)

    def __call__(self, **params: Any) -> dict[str, float]:
        from model.engine.runner import run_block

        prm = {**self.fixed, **{k: float(v) for k, v in params.items()}}
        res = run_block(self.scenario, self.seed, np.arange(self.replicates),
                        [prm] * self.replicates, self.months)
        return {k: float(v.mean()) for k, v in O.compute_all(self.outcomes, res).items()}


def uncertainty_bounds(parameters: Sequence[str] | Mapping[str, Sequence[float]] | None
                       ) -> dict[str, tuple[float, float]]:
    """Validated (lo, hi) per parameter: the table's, or narrower ones inside them."""
    table = P.table()
    if parameters is None:
        return {n: (p.lo, p.hi) for n, p in table.items() if p.lo < p.hi}
    items = (parameters.items() if isinstance(parameters, Mapping)
             else ((n, None) for n in parameters))
    out: dict[str, tuple[float, float]] = {}
    for name, rng in items:
        if name not in table:
            raise P.ParameterError(f"unknown parameter {name!r}{P.suggest(name, table)}")
        p = table[name]
        if rng is None:
            lo, hi = p.lo, p.hi
        else:
            lo, hi = (float(v) for v in rng)
            if not lo < hi or lo < p.lo or hi > p.hi:
                raise P.ParameterError(
                    f"parameter {name!r}: bounds [{lo}, {hi}] must be increasing and lie inside "
                    f"the parameter table's bounds [{p.lo}, {p.hi}] ({p.unit})")
        out[name] = (lo, hi)
    return out


def make_model(scenario: str | Path | Scenario | None = None,
               parameters: Sequence[str] | Mapping[str, Sequence[float]] | None = None,
               outcomes: Mapping[str, Any] | None = None, seed: int = 0,
               months: int | None = None, replicates: int = 1,
               fixed: Mapping[str, float] | None = None, name: str = "afpak"):
    """An ``ema_workbench.Model`` of a scenario (default: the history replay).

    ``parameters``: None (every parameter of the table), names, or ``name -> (lo, hi)``;
    ``outcomes``: a mapping as in a sweep spec's ``outcomes`` (default ``outcomes.DEFAULT``);
    ``fixed``: values for parameters that are not uncertain.
    """
    from ema_workbench import Model, RealParameter, ScalarOutcome

    if scenario is None:
        from model.io.paths import SCENARIOS

        scenario = SCENARIOS / "history.yaml"
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    comp = compile_scenario(sc, months)
    if replicates < 1:
        raise ModelInputError(f"replicates must be >= 1, got {replicates}")
    bounds = uncertainty_bounds(parameters)
    fixed_v = {k: P.check(k, v, where="fixed") for k, v in (fixed or {}).items()}
    both = sorted(set(fixed_v) & set(bounds))
    if both:
        raise ModelInputError(f"parameters both fixed and uncertain: {', '.join(both)}")
    outs = O.parse(dict(outcomes or O.DEFAULT), start=sc.start, months=comp.months,
                   reserved=dict.fromkeys(bounds, "an uncertainty"))
    model = Model(name, function=ExperimentFunction(sc, outs, seed, months, replicates, fixed_v))
    model.uncertainties = [RealParameter(n, lo, hi) for n, (lo, hi) in bounds.items()]
    model.outcomes = [ScalarOutcome(o.name) for o in outs]
    return model
