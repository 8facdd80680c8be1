"""The kernel's arguments as a few named bundles of arrays (NamedTuples that Numba compiles).

- ``State``: one run's state (or, with a leading runs axis on every array, a batch's);
- ``Inputs``: a scenario compiled for a span of months (``Events``, ``Effects``, ``Plan``,
  ``Triggers``), shared by every run of a batch; built by ``model.inputs.compiled``;
- ``Series``: the output series of one run (or, with a leading runs axis, a batch's);
- ``Scratch``: the month loop's working buffers (the kernel makes them).

The engine (``model.engine``) and the Mesa face (``model.adapters.mesa_model``) pass the same
bundles to the same kernel functions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class State(NamedTuple):
    """The state of a run: trust evidence, aid and the scalar state (``spec.STATE_VARS``)."""

    r: np.ndarray     # NA x NA fast cooperative evidence of row about column
    s: np.ndarray     # NA x NA fast defecting evidence
    a0: np.ndarray    # NA x NA permanent memory, cooperative pseudo-counts
    b0: np.ndarray    # NA x NA permanent memory, defecting pseudo-counts
    aid: np.ndarray   # aid flows ($M per month, ``spec.AID_FLOWS``)
    x: np.ndarray     # scalar state (``spec.STATE_VARS``)


class Events(NamedTuple):
    """Events: the scheduled ones sorted by month, then one act per trigger (never scheduled)."""

    action: np.ndarray     # int64: action index typing the event, -1 none
    actor: np.ndarray      # int64: actor index, -1 other
    target: np.ndarray     # int64: target actor index, -1 none
    goldstein: np.ndarray  # float64: Goldstein weight of its CAMEO type
    material: np.ndarray   # bool: material (not verbal) act
    severity: np.ndarray   # float64
    month_ptr: np.ndarray  # int64, months + 1: month m's events are month_ptr[m]..month_ptr[m+1]


class Effects(NamedTuple):
    """State effects of events: ``layout.EFF_SET`` or ``EFF_ADD`` ``value`` to state ``var``."""

    event: np.ndarray  # int64: the event (index into Events) whose effect it is
    var: np.ndarray    # int64: state variable index
    mode: np.ndarray   # int64: layout.EFF_*
    value: np.ndarray  # float64


class Plan(NamedTuple):
    """Interventions, month by month."""

    forced: np.ndarray  # int64, months x actors: action forced, -1 free
    forbid: np.ndarray  # bool, months x actions: ruled out
    hold: np.ndarray    # float64, months x layout.NHOLD: value held, NaN free


class Triggers(NamedTuple):
    """Triggers (one row each) and their conditions (one row each; all must hold)."""

    event: np.ndarray         # int64: the trigger's act in Events
    once: np.ndarray          # bool: fires at most once
    first: np.ndarray         # int64: first month it may fire
    last: np.ndarray          # int64: last month it may fire
    cond_trigger: np.ndarray  # int64: the trigger a condition belongs to
    cond_kind: np.ndarray     # int64: layout.COND_*
    cond_a: np.ndarray        # int64: trust row, aid flow or state variable
    cond_b: np.ndarray        # int64: trust column (else 0)
    cond_op: np.ndarray       # int64: layout.OP_*
    cond_value: np.ndarray    # float64: threshold


class Inputs(NamedTuple):
    """A scenario's arrays for a span of months (month 0 = the span's first month)."""

    events: Events
    effects: Effects
    plan: Plan
    triggers: Triggers


class Series(NamedTuple):
    """Output series of a run: step 0 is the initial state, step k the state after k months."""

    trust: np.ndarray         # steps x NA x NA
    aid: np.ndarray           # steps x aid flows
    x: np.ndarray             # steps x N_STATE
    actions: np.ndarray       # months x NA (int8)
    ledger: np.ndarray        # months x layout.NCH x layout.NLEDGER (trace; else 1 x 1 x 1)
    event_ledger: np.ndarray  # events + triggers x layout.NLEDGER (trace; else 1 x 1)


class Scratch(NamedTuple):
    """The month loop's working buffers (``n_ch`` channels, ``n_trig`` triggers)."""

    fired: np.ndarray      # n_trig bool: fires this month
    done: np.ndarray       # n_trig bool: has fired
    T: np.ndarray          # NA x NA trust
    actions: np.ndarray    # NA int64: this month's choices
    led_trust: np.ndarray  # n_ch x NA x NA
    led_aid: np.ndarray    # n_ch x aid flows
    util: np.ndarray       # NACT
    avail: np.ndarray      # NACT bool
    dx: np.ndarray         # N_STATE
    dev: np.ndarray        # n_ch x 2 x NA x NA
    daid: np.ndarray       # n_ch x aid flows
