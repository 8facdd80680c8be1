"""Shared helpers for the engine's test layers: small scenarios built in Python, scripted events,
quiet parameter sets that silence the agents, and ensemble statistics.

The tests address the model only through its public faces (``model.core.spec``,
``model.core.params``,
``model.inputs.scenario``, ``model.engine.runner``, the kernel's documented rules and the Mesa
face).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from model.core import params as P
from model.core import spec
from model.engine.runner import Results, simulate
from model.inputs.scenario import Scenario, from_mapping, month_label

settings.register_profile(
    "engine", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.load_profile("engine")

START = "2001-01"
#: Shifts every seed the helpers use; run the suite with a few values to check that the
#: ensemble margins hold for other seeds too (``AFPAK_TEST_SEED_OFFSET=1000 pytest ...``).
SEED_OFFSET = int(os.environ.get("AFPAK_TEST_SEED_OFFSET", "0"))

#: Every decision intercept at its lower bound: the agents hold unless a mechanism pulls them.
QUIET: dict[str, float] = {n: P.table()[n].lo for n in P.names() if n.startswith("bias_")}


def month(m: int, start: str = START) -> str:
    """'YYYY-MM' of month index ``m`` (0 = the scenario's first month)."""
    return month_label(start, m)


def event(eid: str, m: int, action: str | None = None, severity: float = 1.0, *,
          actor: str | None = None, target: str | None = None, cameo: str | None = None,
          effects: Mapping[str, Mapping[str, float]] | None = None) -> dict:
    """A scripted exogenous event in month ``m``, typed by an action (its actor inferred) or by
    a CAMEO code with an explicit actor and target."""
    ev: dict = {"id": eid, "date": month(m), "severity": float(severity)}
    if action is not None:
        ev["action"] = action
        ev["actor"] = spec.ACTIONS[spec.ACTION_INDEX[action]].actor
    if actor is not None:
        ev["actor"] = actor
    if target is not None:
        ev["target"] = target
    if cameo is not None:
        ev["cameo"] = cameo
    if effects:
        ev["effects"] = {k: dict(v) for k, v in effects.items()}
    return ev


def scenario(events: Iterable[dict] = (), months: int = 24, *, trust: Mapping | None = None,
             aid: Mapping | None = None, state: Mapping | None = None,
             params: Mapping | None = None, name: str = "test") -> Scenario:
    """A validated scenario from Python values (through ``from_mapping``, as a YAML file would)."""
    return from_mapping({
        "name": name, "start": START, "months": months,
        "params": dict(params or {}),
        "initial": {"trust": dict(trust or {}), "aid": dict(aid or {}),
                    "state": dict(state or {})},
        "events": list(events),
    })


def run(sc: Scenario, runs: int = 1, seed: int = 0, params: Mapping | None = None,
        **kw) -> Results:
    return simulate(sc, runs=runs, seed=seed + SEED_OFFSET, params=dict(params or {}), **kw)


def freq(res: Results, action: str, months: slice = slice(None)) -> float:
    """Share of (run, month) cells in which the action's actor chose it."""
    return float(res.action_count(action)[:, months].mean())


def share_runs(res: Results, action: str, months: slice = slice(None)) -> float:
    """Share of runs in which the action was chosen at least once in the months."""
    return float(res.action_count(action)[:, months].any(axis=1).mean())


def trust_at(res: Results, src: str, dst: str, step: int) -> float:
    """Ensemble mean of src's trust in dst at a step (step k = after k months)."""
    return float(res.trust_series(src, dst)[:, step].astype(np.float64).mean())


def state_at(res: Results, var: str, step: int) -> float:
    return float(res.state[:, step, spec.STATE_INDEX[var]].astype(np.float64).mean())


@pytest.fixture(scope="session")
def defaults() -> dict[str, float]:
    return P.defaults()


#: Test layers: each folder of tests/ is a marker; ``unit`` marks the folders that mirror a
#: subpackage of ``model`` (``pytest -m unit``, ``pytest -m mechanisms``, ``-m "not browser"``).
SUBPACKAGES = ("io", "core", "inputs", "engine", "analysis", "calibration", "experiments",
               "adapters", "cli")
LAYERS = (*SUBPACKAGES, "mechanisms", "properties", "determinism", "scenarios", "dashboard",
          "browser", "classroom", "house")


def pytest_collection_modifyitems(config, items):
    from pathlib import Path

    here = Path(__file__).resolve().parent
    for item in items:
        try:
            folder = Path(item.fspath).resolve().relative_to(here).parts[0]
        except ValueError:
            continue
        if folder in LAYERS:
            item.add_marker(getattr(pytest.mark, folder))
        if folder in SUBPACKAGES:
            item.add_marker(pytest.mark.unit)
        if "browser" in Path(item.fspath).name:
            item.add_marker(pytest.mark.browser)
