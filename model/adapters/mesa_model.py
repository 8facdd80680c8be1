"""The Mesa face of the model: one Agent per actor, on the same compiled kernel.

``AfPakModel`` is a Mesa 3.5 ``Model``; each ``ActorAgent`` decides by calling the kernel's
``decide_actor`` for this run, and the model applies all choices together with the kernel's
``apply_month`` (decide-then-apply). There is no second copy of the dynamics: for the same
scenario, parameters and seed, the numbers equal run 0 of ``model.simulate(..., seed=seed,
params=...)`` with the same parameters (the table's values: ``params="default"``; ``simulate``
alone draws from the calibrated posterior).

The constructor's signature is the parameter table (one keyword per parameter, with its default),
so ``mesa.batch_run(AfPakModel, parameters={...}, rng=[...], max_steps=...)`` works unchanged.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import mesa
import numpy as np

from model.core import kernel, layout, spec
from model.core import params as P
from model.core.bundles import State
from model.engine.paramsets import base_record, records, row_columns
from model.engine.runner import draw_uniforms, initial_states
from model.inputs.compiled import compile_scenario
from model.inputs.scenario import Scenario, load_scenario
from model.io.paths import SCENARIOS

DEFAULT_SCENARIO = SCENARIOS / "baseline.yaml"


class ActorAgent(mesa.Agent):
    """One of the five actors. Its only behaviour is its monthly decision."""

    def __init__(self, model: AfPakModel, actor: str) -> None:
        super().__init__(model)
        self.actor = actor
        self.index = spec.ACTOR_INDEX[actor]
        self.action: int = -1

    @property
    def action_name(self) -> str:
        return spec.ACTIONS[self.action].name if self.action >= 0 else ""

    def decide(self) -> None:
        """Choose this month's action from the start-of-month state (the kernel's rule)."""
        m = self.model
        inp, prm = m.phase
        forced = inp.plan.forced[m.month, self.index]
        if forced >= 0:
            self.action = int(forced)
            return
        self.action = int(kernel.decide_actor(prm, m.st, self.index, m.u[m.month, self.index],
                                              inp.plan.forbid[m.month]))


class AfPakModel(mesa.Model):
    """Trust, aid and action among US, PAK_MIL, PAK_CIV, TALIBAN and INDIA, month by month.

    Keyword arguments: ``scenario`` (a path or Scenario; default ``scenarios/baseline.yaml``),
    ``months`` (default: the scenario's), ``run`` (the run index under the seed, default 0),
    every parameter of the table by name, and Mesa's ``rng`` (an int seed; 0 is a seed).
    """

    def __init__(self, scenario: str | Path | Scenario = DEFAULT_SCENARIO,
                 months: int | None = None, run: int = 0, rng=None, **params) -> None:
        super().__init__(rng=rng)
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.compiled = compile_scenario(sc, months)
        self.months = self.compiled.months
        self.run_index = int(run)
        self.master_seed = int(self._seed)
        cols = row_columns([params], where="AfPakModel")
        self.prm = records(base_record(sc.params, "scenario params"), 1, cols)[0]
        # The run's phases (``Compiled.phases``), as the engine runs them: a branch scenario
        # follows its parent, with the parent's parameters, until the branch month. Each phase:
        # (end month, kernel inputs for all months, parameter record).
        self._phases = [
            (m1, c.inputs(), records(base_record(c.scenario.params, "scenario params"), 1, cols))
            for c, _, m1 in self.compiled.phases()]
        first = self.compiled.phases()[0][0].scenario
        self.st = State(*(a[0] for a in initial_states(first, self._phases[0][2])))
        self.u = draw_uniforms(self.master_seed, [self.run_index], self.months)[0]
        self.month = 0
        self.dates = self.compiled.dates()
        self.actor_agents = [ActorAgent(self, a) for a in spec.ACTORS]
        self._led_t = np.zeros((1, spec.N_ACTORS, spec.N_ACTORS))
        # Trigger state per phase: a branch lists its parent's triggers first, so each phase
        # sees a prefix of one set of flags (a once trigger spent before the branch stays spent).
        n_trig = max(len(inp.triggers.event) for _, inp, _ in self._phases)
        fired, done = np.zeros(n_trig, dtype=bool), np.zeros(n_trig, dtype=bool)
        self._trig_state = {id(inp): (fired[:len(inp.triggers.event)],
                                      done[:len(inp.triggers.event)])
                            for _, inp, _ in self._phases}
        self._led_a = np.zeros((1, layout.N_AID))
        reporters = {"date": lambda m: m.dates[m.month]}
        for i, a in enumerate(spec.ACTORS):
            for j, b in enumerate(spec.ACTORS):
                if i != j:
                    reporters[f"trust {a}->{b}"] = (lambda m, i=i, j=j: m.trust[i, j])
        for k, (d, rcp) in enumerate(spec.AID_FLOWS):
            reporters[f"aid {d}->{rcp}"] = (lambda m, k=k: float(m.aid[k]))
        for k, v in enumerate(spec.STATE_VARS):
            reporters[v.name] = (lambda m, k=k: float(m.x[k]))
        self.datacollector = mesa.DataCollector(
            model_reporters=reporters,
            agent_reporters={"actor": "actor", "action": "action_name"},
        )
        self.datacollector.collect(self)

    @property
    def phase(self):
        """(kernel ``Inputs``, parameter record) in force this month: a branch scenario's
        parent's before the branch month, the scenario's own from then on."""
        _, inp, rec = next((p for p in self._phases if self.month < p[0]), self._phases[-1])
        return inp, rec[0]

    # The run's state, by name (the kernel's ``State`` bundle is ``st``).
    r = property(lambda self: self.st.r)
    s = property(lambda self: self.st.s)
    a0 = property(lambda self: self.st.a0)
    b0 = property(lambda self: self.st.b0)
    aid = property(lambda self: self.st.aid)
    x = property(lambda self: self.st.x)

    @property
    def trust(self) -> np.ndarray:
        """Current 5x5 trust matrix (row trusts column)."""
        out = np.empty((spec.N_ACTORS, spec.N_ACTORS))
        kernel.trust_matrix(self.r, self.s, self.a0, self.b0, out)
        return out

    def step(self) -> None:
        """One month: every agent decides, then the kernel applies all choices and events."""
        if self.month >= self.months:
            self.running = False
            return
        inp, prm = self.phase
        fired, done = self._trig_state[id(inp)]
        # Triggers read the start-of-month state, as the agents do.
        kernel.triggers(self.trust, self.st.aid, self.st.x, self.month, inp.triggers, fired, done)
        self.agents.do("decide")
        actions = np.array([a.action for a in self.actor_agents], dtype=np.int64)
        kernel.apply_month(prm, self.st, actions, inp, self.month, 1, self._led_t, self._led_a,
                           fired)
        self.month += 1
        self.datacollector.collect(self)
        if self.month >= self.months:
            self.running = False


def _signature() -> inspect.Signature:
    base = inspect.signature(AfPakModel.__init__)
    fixed = [p for name, p in base.parameters.items() if name not in ("params", "rng")]
    extra = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=v, annotation=float)
             for n, v in P.defaults().items()]
    rng = base.parameters["rng"].replace(kind=inspect.Parameter.KEYWORD_ONLY)
    return base.replace(parameters=[*fixed, *extra, rng])


# The constructor's signature lists every parameter of the table (for batch_run, IDEs, docs).
AfPakModel.__init__.__signature__ = _signature()
