"""An agent-based model of trust, aid and action among the US, Pakistan's army and civilian
government, the Taliban and India, calibrated from dated events in the source articles.

Quick start::

    from model import simulate
    res = simulate("scenarios/baseline.yaml", runs=100, seed=0)
    res.trust_series("PAK_MIL", "US")   # runs x (months + 1)
    res.to_frame()                       # long table
"""

from model.engine.runner import Results, iter_chunks, simulate
from model.inputs.scenario import Scenario, load_scenario

__all__ = ["Results", "Scenario", "iter_chunks", "load_scenario", "simulate"]
