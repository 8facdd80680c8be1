"""The kernel's integer layouts, derived from the vocabulary (``model.core.spec``) in one place.

The kernel addresses actors, aid flows, state variables, actions, trace channels, condition kinds
and comparisons, effect modes and held quantities by integer index. Every index here is looked up
by name in one of ``spec``'s lists, so nothing is numbered by hand: reorder or extend a list in
``spec`` and every index follows. The scenario compiler (``model.inputs``) writes the same codes
that the kernel reads (``COND_*``, ``OP_*``, ``EFF_*``, ``HOLD_INDEX``).
"""

from __future__ import annotations

import numpy as np

from model.core import spec

# --- actors -------------------------------------------------------------------------------------
_ACT = spec.ACTOR_INDEX
US, MIL, CIV, TAL, IND = (_ACT[a] for a in ("US", "PAK_MIL", "PAK_CIV", "TALIBAN", "INDIA"))
NA = spec.N_ACTORS

# --- aid flows ----------------------------------------------------------------------------------
AID_MIL, AID_CIV = spec.AID_MIL, spec.AID_CIV
N_AID = len(spec.AID_FLOWS)
#: Names of the aid flows as scenarios write them ("US->PAK_MIL"), in kernel order.
AID_KEYS: tuple[str, ...] = tuple(f"{d}->{r}" for d, r in spec.AID_FLOWS)

# --- scalar state -------------------------------------------------------------------------------
_X = spec.STATE_INDEX
X_HOST, X_CIVMIL, X_ROUTE = _X["public_hostility"], _X["civmil_balance"], _X["supply_route_open"]
X_DRONES, X_TALSTR, X_FORCE = _X["drone_basing"], _X["taliban_strength"], _X["us_force"]
X_INDIA, X_PROXY, X_EXIT = _X["india_engagement"], _X["proxy_support"], _X["us_exit_pressure"]
X_TALKS, X_GRIEV, X_COERCE = _X["talks"], _X["sovereignty_grievance"], _X["us_coercion"]
X_ATTACKS, X_APPEALS = _X["attack_tempo"], _X["civ_appeals"]
X_CLOSED, X_PACKAGE = _X["route_closed_months"], _X["civ_package_left"]
X_EXPOSURE = _X["army_exposure"]
NX = spec.N_STATE
#: Bounds of every scalar state variable: the kernel clips the state to them.
X_LO = np.array([v.lo for v in spec.STATE_VARS])
X_HI = np.array([v.hi for v in spec.STATE_VARS])

# --- what interventions may hold: the scalar state, then the aid flows ---------------------------
HOLD_KEYS: tuple[str, ...] = (*(v.name for v in spec.STATE_VARS), *AID_KEYS)
HOLD_INDEX: dict[str, int] = {k: i for i, k in enumerate(HOLD_KEYS)}
#: Index of the first aid flow in a hold row: ``hold[HOLD_AID + AID_MIL]``.
HOLD_AID = HOLD_INDEX[AID_KEYS[0]]
NHOLD = len(HOLD_KEYS)

# --- actions ------------------------------------------------------------------------------------
_A = spec.ACTION_INDEX
US_HOLD, US_ENGAGE, US_MIL_AID, US_CIV_AID = (_A[n] for n in (
    "US_HOLD", "US_ENGAGE", "US_MIL_AID", "US_CIV_AID"))
US_PRESSURE, US_THREATEN, US_STRIKE, US_SUSPEND_AID = (_A[n] for n in (
    "US_PRESSURE", "US_THREATEN", "US_STRIKE", "US_SUSPEND_AID"))
US_PARTNER_INDIA, US_BACK_CIVILIANS, US_NEGOTIATE = (_A[n] for n in (
    "US_PARTNER_INDIA", "US_BACK_CIVILIANS", "US_NEGOTIATE"))
MIL_HOLD, MIL_COOPERATE, MIL_HEDGE, MIL_DEFY = (_A[n] for n in (
    "MIL_HOLD", "MIL_COOPERATE", "MIL_HEDGE", "MIL_DEFY"))
MIL_CLOSE_ROUTE, MIL_REOPEN_ROUTE, MIL_EVICT_DRONES = (_A[n] for n in (
    "MIL_CLOSE_ROUTE", "MIL_REOPEN_ROUTE", "MIL_EVICT_DRONES"))
MIL_MEDIATE, MIL_PRESSURE_CIV = _A["MIL_MEDIATE"], _A["MIL_PRESSURE_CIV"]
CIV_HOLD, CIV_ALIGN, CIV_SEEK_BACKING, CIV_DEFY = (_A[n] for n in (
    "CIV_HOLD", "CIV_ALIGN", "CIV_SEEK_BACKING", "CIV_DEFY"))
TAL_HOLD, TAL_ATTACK, TAL_NEGOTIATE = (_A[n] for n in ("TAL_HOLD", "TAL_ATTACK", "TAL_NEGOTIATE"))
IND_HOLD, IND_ENGAGE_AFG, IND_PARTNER_US, IND_PRESSURE_PAK = (_A[n] for n in (
    "IND_HOLD", "IND_ENGAGE_AFG", "IND_PARTNER_US", "IND_PRESSURE_PAK"))
NACT = spec.N_ACTIONS

#: Per action: actor index, target index (-1 none), Goldstein weight, material flag.
ACT_ACTOR = np.array([_ACT[a.actor] for a in spec.ACTIONS], dtype=np.int64)
ACT_TARGET = np.array([_ACT[a.target] if a.target else -1 for a in spec.ACTIONS], dtype=np.int64)
ACT_GOLDSTEIN = np.array([a.goldstein for a in spec.ACTIONS], dtype=np.float64)
ACT_MATERIAL = np.array([a.material for a in spec.ACTIONS], dtype=np.bool_)
#: First and one-past-last action index of each actor's repertoire.
ACT_LO = np.array([spec.ACTOR_ACTIONS[a][0] for a in spec.ACTORS], dtype=np.int64)
ACT_HI = np.array([spec.ACTOR_ACTIONS[a][1] for a in spec.ACTORS], dtype=np.int64)
MAX_REPERTOIRE = int((ACT_HI - ACT_LO).max())

# --- trace channels -----------------------------------------------------------------------------
#: Channel names, in ledger order (``spec.CHANNELS`` gives each one's meaning).
CHANNELS: tuple[str, ...] = tuple(name for name, _ in spec.CHANNELS)
_CH = {c: i for i, c in enumerate(CHANNELS)}
CH_MEMORY, CH_DIRECT, CH_AID, CH_INDIA = (_CH[c] for c in (
    "memory", "direct", "aid_compliance", "india_factor"))
CH_SOV, CH_ATTR, CH_CIVMIL, CH_DEFY = (_CH[c] for c in (
    "sovereignty", "attribution", "civmil", "defiance"))
CH_MED, CH_DEP, CH_BALANCE, CH_POLICY = (_CH[c] for c in (
    "mediation", "dependence", "balance", "aid_policy"))
NCH = len(CHANNELS)
#: Ledger columns: the trust cells (row-major, ``i * NA + j``), then the aid flows from ``LED_AID``.
LED_AID = NA * NA
NLEDGER = LED_AID + N_AID

# --- trigger conditions and event effects (written by model.inputs.compiled) ---------------------
COND_TRUST, COND_AID, COND_STATE = (
    spec.CONDITION_KINDS.index(k) for k in ("trust", "aid", "state"))
OP_LT, OP_LE, OP_GT, OP_GE = (spec.CONDITION_OPS.index(o) for o in ("<", "<=", ">", ">="))
EFF_SET, EFF_ADD = (spec.EFFECT_MODES.index(m) for m in ("set", "add"))
