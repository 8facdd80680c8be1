"""The model's vocabulary: actors, state variables, event types, actions, the trace's channels
and the words of the scenario language's conditions and effects.

One source of truth for each list. The kernel (``model.core.kernel``) addresses the same items by
integer indices, which ``model.core.layout`` derives from these lists (a position in a list is
its index); everything else (scenarios, catalog, results, dashboard) uses the names.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

#: The five modelled actors, in kernel order.
ACTORS: tuple[str, ...] = ("US", "PAK_MIL", "PAK_CIV", "TALIBAN", "INDIA")
ACTOR_NAMES: dict[str, str] = {
    "US": "United States",
    "PAK_MIL": "Pakistani military incl. ISI",
    "PAK_CIV": "Pakistani civilian government",
    "TALIBAN": "Taliban incl. the Haqqani network",
    "INDIA": "India",
}
N_ACTORS = len(ACTORS)
ACTOR_INDEX: dict[str, int] = {a: i for i, a in enumerate(ACTORS)}
US, PAK_MIL, PAK_CIV, TALIBAN, INDIA = (
    ACTOR_INDEX[a] for a in ("US", "PAK_MIL", "PAK_CIV", "TALIBAN", "INDIA"))

#: Aid flows tracked in $M per month, as (donor, recipient).
AID_FLOWS: tuple[tuple[str, str], ...] = (("US", "PAK_MIL"), ("US", "PAK_CIV"))
AID_MIL, AID_CIV = AID_FLOWS.index(("US", "PAK_MIL")), AID_FLOWS.index(("US", "PAK_CIV"))


@dataclass(frozen=True)
class StateVar:
    """A scalar state variable of one run (besides trust and aid)."""

    name: str
    unit: str
    lo: float
    hi: float
    help: str
    #: Initial value: a number, or the name of the parameter giving the natural level.
    initial: float | str = 0.0


#: Scalar state, in kernel order (after trust and aid). Indices: ``model.core.layout``'s ``X_*``.
STATE_VARS: tuple[StateVar, ...] = (
    StateVar("public_hostility", "share 0..1", 0.0, 1.0,
             "Pakistani public hostility to the US: 0 none, 1 universal.", "hostility_natural"),
    StateVar("civmil_balance", "share 0..1", 0.0, 1.0,
             "Civilian share of power over foreign and security policy: 0 army rules, 1 civilian "
             "supremacy.", "civmil_natural"),
    StateVar("supply_route_open", "1/0", 0.0, 1.0,
             "NATO ground supply route through Pakistan: 1 open, 0 closed.", 1.0),
    StateVar("drone_basing", "1/0", 0.0, 1.0,
             "US drones based on Pakistani soil (e.g. Shamsi air base): 1 yes, 0 evicted."),
    StateVar("taliban_strength", "share 0..1", 0.0, 1.0,
             "Taliban/Haqqani strength; their monthly attack propensity scales with it.", 0.3),
    StateVar("us_force", "thousand troops", 0.0, 200.0,
             "US force level in Afghanistan (exogenous driver set by events)."),
    StateVar("india_engagement", "share 0..1", 0.0, 1.0,
             "India's engagement in Afghanistan as perceived from Rawalpindi.", 0.1),
    StateVar("proxy_support", "share 0..1", 0.0, 1.0,
             "PAK_MIL's covert support for Taliban/Haqqani proxies (hedging level).",
             "proxy_natural"),
    StateVar("us_exit_pressure", "share 0..1", 0.0, 1.0,
             "US domestic pressure to leave Afghanistan (war weariness)."),
    StateVar("talks", "share 0..1", 0.0, 1.0,
             "Momentum of US-Taliban negotiations (0 none, 1 agreement in reach)."),
    StateVar("sovereignty_grievance", "soldiers killed", 0.0, 1e6,
             "The army's grievance at its own soldiers killed by US force (e.g. Salala, from the "
             "catalog's death toll; decaying impulse): what its material retaliation answers."),
    StateVar("us_coercion", "acts", 0.0, 1e6,
             "Recent US threats and pressure on PAK_MIL (decaying impulse)."),
    StateVar("attack_tempo", "attacks", 0.0, 1e6,
             "Recent Taliban/Haqqani attacks on US forces (decaying impulse)."),
    StateVar("civ_appeals", "acts", 0.0, 1e6,
             "Recent civilian appeals for US backing against the army (decaying impulse)."),
    StateVar("route_closed_months", "months", 0.0, 1e6,
             "Months the supply route has been closed in its current closure (0 when open)."),
    StateVar("civ_package_left", "months", 0.0, 1e6,
             "Months left of the running civilian aid package after the current one (0: a new "
             "package may start next month)."),
    StateVar("army_exposure", "severity units", 0.0, 1e6,
             "Recent use of force between the army and a state (a war it started, a raid on its "
             "soil): the army's exposure at home (decaying impulse)."),
)
STATE_INDEX: dict[str, int] = {v.name: i for i, v in enumerate(STATE_VARS)}
N_STATE = len(STATE_VARS)


@cache
def event_types() -> dict[str, dict]:
    """CAMEO event types with Goldstein weights, from ``model/data/event_types.yaml``."""
    text = resources.files("model.data").joinpath("event_types.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def goldstein(code: str) -> float:
    """Goldstein weight of a CAMEO code (Goldstein 1992), e.g. ``goldstein("195") == -10``."""
    return float(event_types()[code]["goldstein"])


@dataclass(frozen=True)
class Action:
    """One lever of one actor: what it is, whom it targets, and its CAMEO event type."""

    name: str
    actor: str
    target: str | None
    cameo: str
    help: str

    @property
    def goldstein(self) -> float:
        return goldstein(self.cameo)

    @property
    def material(self) -> bool:
        """Material (costly) acts weigh more as evidence than words (Kydd 2005)."""
        return event_types()[self.cameo]["quad"] in (2, 4)


#: Each actor's repertoire; the order is the kernel's action index. ``HOLD`` is the status quo.
ACTIONS: tuple[Action, ...] = (
    # --- United States -------------------------------------------------------------------------
    Action("US_HOLD", "US", None, "01", "Status quo: no new move towards Pakistan."),
    Action("US_ENGAGE", "US", "PAK_MIL", "051", "Praise and diplomatic engagement."),
    Action("US_MIL_AID", "US", "PAK_MIL", "072",
           "Raise or resume security aid (incl. Coalition Support reimbursements)."),
    Action("US_CIV_AID", "US", "PAK_CIV", "071", "A civilian/economic aid package."),
    Action("US_PRESSURE", "US", "PAK_MIL", "10", "Public pressure: demands, accusations."),
    Action("US_THREATEN", "US", "PAK_MIL", "138",
           "Ultimatum or threat of unilateral action."),
    Action("US_STRIKE", "US", "PAK_MIL", "195",
           "Unilateral operation on Pakistani soil (raid, drone or air strike)."),
    Action("US_SUSPEND_AID", "US", "PAK_MIL", "1622", "Suspend security aid."),
    Action("US_PARTNER_INDIA", "US", "INDIA", "057", "Deepen the partnership with India."),
    Action("US_BACK_CIVILIANS", "US", "PAK_CIV", "04",
           "Broker civilian politics / back civilians against the army."),
    Action("US_NEGOTIATE", "US", "TALIBAN", "046", "Negotiate directly with the Taliban."),
    # --- Pakistani military and ISI ----------------------------------------------------------
    Action("MIL_HOLD", "PAK_MIL", None, "01", "Status quo."),
    Action("MIL_COOPERATE", "PAK_MIL", "US", "062",
           "Cooperate: bases, intelligence, operations against militants."),
    Action("MIL_HEDGE", "PAK_MIL", "TALIBAN", "07",
           "Covert support and sanctuary for Taliban/Haqqani proxies."),
    Action("MIL_DEFY", "PAK_MIL", "US", "12",
           "Defiance on a US demand (e.g. closing the A. Q. Khan probe, the Iran pipeline)."),
    Action("MIL_CLOSE_ROUTE", "PAK_MIL", "US", "191", "Close the NATO supply route."),
    Action("MIL_REOPEN_ROUTE", "PAK_MIL", "US", "08", "Reopen the NATO supply route."),
    Action("MIL_EVICT_DRONES", "PAK_MIL", "US", "166", "Evict US drones from Pakistani bases."),
    Action("MIL_MEDIATE", "PAK_MIL", "TALIBAN", "045", "Mediate US-Taliban talks."),
    Action("MIL_PRESSURE_CIV", "PAK_MIL", "PAK_CIV", "17",
           "Pressure on (or a coup against) the civilian government."),
    # --- Pakistani civilian government -------------------------------------------------------
    Action("CIV_HOLD", "PAK_CIV", None, "01", "Status quo."),
    Action("CIV_ALIGN", "PAK_CIV", "US", "03", "Public alignment with Washington; welcome aid."),
    Action("CIV_SEEK_BACKING", "PAK_CIV", "US", "02",
           "Seek US backing against the army (Kargil 1999, the 2011 memo)."),
    Action("CIV_DEFY", "PAK_CIV", "US", "12", "Public defiance of Washington."),
    # --- Taliban and Haqqani network ---------------------------------------------------------
    Action("TAL_HOLD", "TALIBAN", None, "01", "Lie low."),
    Action("TAL_ATTACK", "TALIBAN", "US", "18", "Attack US/NATO forces."),
    Action("TAL_NEGOTIATE", "TALIBAN", "US", "046", "Negotiate with the US."),
    # --- India --------------------------------------------------------------------------------
    Action("IND_HOLD", "INDIA", None, "01", "Status quo."),
    Action("IND_ENGAGE_AFG", "INDIA", None, "06",
           "Expand engagement in Afghanistan (aid, consulates, influence)."),
    Action("IND_PARTNER_US", "INDIA", "US", "057", "Deepen the partnership with the US."),
    Action("IND_PRESSURE_PAK", "INDIA", "PAK_MIL", "13", "Threats and pressure on Pakistan."),
)
ACTION_INDEX: dict[str, int] = {a.name: i for i, a in enumerate(ACTIONS)}
N_ACTIONS = len(ACTIONS)
#: For each actor, the contiguous slice of its actions in ``ACTIONS``.
ACTOR_ACTIONS: dict[str, tuple[int, int]] = {}
for _i, _a in enumerate(ACTIONS):
    _lo, _hi = ACTOR_ACTIONS.get(_a.actor, (_i, _i))
    ACTOR_ACTIONS[_a.actor] = (min(_lo, _i), _i + 1)
del _i, _a, _lo, _hi

#: Channels of the trace: where each change of trust and aid is booked (the ledger's rows, in
#: order; a traced run's exogenous events and triggers each get a channel after these).
CHANNELS: tuple[tuple[str, str], ...] = (
    ("memory", "M9: forgetting pulls trust back to the historical baseline"),
    ("direct", "the Goldstein-weighted evidence of acts between the pair"),
    ("aid_compliance", "M1"),
    ("india_factor", "M2"),
    ("sovereignty", "M3"),
    ("attribution", "M4"),
    ("civmil", "M5"),
    ("defiance", "M6"),
    ("mediation", "M7"),
    ("dependence", "M8"),
    ("balance", "structural balance among observers"),
    ("aid_policy", "US decisions on aid levels"),
)

#: What a trigger's condition may read: ``trust[A->B]``, ``aid[US->X]`` or a state variable.
CONDITION_KINDS: tuple[str, ...] = ("trust", "aid", "state")
#: The comparisons a condition may make.
CONDITION_OPS: tuple[str, ...] = ("<", "<=", ">", ">=")
#: How an event's effect changes a state variable: ``set`` it to a value or ``add`` to it.
EFFECT_MODES: tuple[str, ...] = ("set", "add")
