"""Named scalar outcomes of a run: one number per run, computed from batched ``Results``.

``run``'s summary, ``compare`` (``model.analysis.compare``), sweeps (``model.experiments.sweep``),
the EMA Workbench adapter (``model.adapters.ema``), the dashboard's Compare page and its lessons
pick outcomes from one registry, :data:`KINDS`. An outcome is a *kind* (``mean_trust``,
``total_aid`` ...) with validated options (a pair of actors, a flow, a period ...) under a name
of the user's choosing, e.g. in a sweep spec::

    outcomes:
      route_closed: months_route_closed                 # a kind without options
      trust_mil_us_2011: {kind: mean_trust, pair: PAK_MIL->US, period: [2011-01, 2011-12]}
      aid_mil_2002_2011: {kind: total_aid, flow: US->PAK_MIL, period: [2002-01, 2011-12]}

Months and steps: month ``m`` of a run (0 = the scenario's first month) is decided in
``actions[:, m]`` and its result is the state at step ``m + 1``. A ``period: [FROM, TO]``
(``YYYY-MM``, both included) therefore selects actions ``m0..m1`` and steps ``m0+1..m1+1``;
without a period an outcome covers every month of the run (steps ``1..T``). Kinds that read the
state take ``at``: ``end`` (the default, as above) or ``start``, the state at the start of each
month of the period (steps ``m0..m1``, the step dated ``YYYY-MM`` in ``Results.dates``, the long
table and the charts; the run's last step counts as the start of the month after its last).

Each kind says whether it is a yes/no question (``binary``: 1.0/0.0 per run, summarised as a
share of runs) and how to name it in tables and sentences (``noun``, ``claim``), so that a kind
added here reaches ``run``'s summary, ``compare``, sweeps, EMA, the dashboard and the lessons
(``model.analysis.summary`` formats and summarises them). The standard sets they show are at the
end of this file. Adding an outcome is a change to this file only: a function decorated with
:func:`register` (and, to show it by default, a line in one of the standard sets).

Every outcome is a function of one run's arrays only, reduced in float64 over a contiguous copy,
so its value does not depend on the batch, the chunking or the process that computed it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
)

from model.core import params as P
from model.core import spec
from model.inputs.scenario import known_action, known_state_var
from model.io.errors import ModelInputError

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class OutcomeError(ModelInputError):
    """An outcome that cannot be computed (unknown kind, bad options, period outside the run)."""


# --- option models -------------------------------------------------------------------------------

def _month_text(v: Any) -> Any:
    """YAML reads ``2011-01-15`` as a date; outcomes work in months ('YYYY-MM')."""
    if isinstance(v, dt.date):
        return f"{v.year:04d}-{v.month:02d}"
    return v


class _Opts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Period(_Opts):
    #: ``[FROM, TO]`` as 'YYYY-MM' (both included); None: the whole run.
    period: tuple[str, str] | None = None

    @field_validator("period", mode="before")
    @classmethod
    def _period(cls, v: Any) -> Any:
        if v is None:
            return v
        if not isinstance(v, list | tuple) or len(v) != 2:
            raise ValueError("expected [FROM, TO] with two months as YYYY-MM")
        out = [_month_text(x) for x in v]
        from model.inputs.scenario import parse_month

        for x in out:
            if not isinstance(x, str):
                raise ValueError(f"expected a month as YYYY-MM, got {x!r}")
            parse_month(x)
        if out[0][:7] > out[1][:7]:
            raise ValueError(f"period [{out[0]}, {out[1]}] ends before it starts (an empty "
                             "period)")
        return (out[0][:7], out[1][:7])


def _pair(v: str) -> str:
    a, arrow, b = str(v).partition("->")
    if not arrow or a not in spec.ACTOR_INDEX or b not in spec.ACTOR_INDEX or a == b:
        hint = ""
        for part in (a, b):
            if part and part not in spec.ACTOR_INDEX:
                hint = P.suggest(part, spec.ACTORS)
        raise ValueError(f"pair {v!r}: expected 'SOURCE->TARGET' (A->B) with two different actors "
                         f"among {', '.join(spec.ACTORS)}{hint}")
    return v


FLOWS = tuple(f"{d}->{r}" for d, r in spec.AID_FLOWS)


def _flow(v: str) -> str:
    if v != "all" and v not in FLOWS:
        raise ValueError(f"unknown aid flow {v!r}; expected one of {', '.join(FLOWS)} or "
                         f"all{P.suggest(v, FLOWS)}")
    return v


#: Validated field types, one per vocabulary (pydantic ``AfterValidator``).
Pair = Annotated[str, AfterValidator(_pair)]
Flow = Annotated[str, AfterValidator(_flow)]
ActionName = Annotated[str, AfterValidator(known_action)]
StateVarName = Annotated[str, AfterValidator(known_state_var)]


class _PairOpts(_Opts):
    pair: Pair


class _StatePeriod(_Period):
    #: Which state of each month: at its ``end`` (after its decisions) or its ``start``.
    at: Literal["end", "start"] = "end"


class _PairPeriod(_StatePeriod):
    pair: Pair


class _FlowPeriod(_StatePeriod):
    #: 'US->PAK_MIL', 'US->PAK_CIV' or 'all' (their sum).
    flow: Flow = "all"


class _ActionPeriod(_Period):
    action: ActionName


class _VarOpts(_Opts):
    var: StateVarName


class _VarPeriod(_StatePeriod):
    var: StateVarName


class _Decisions(_Period):
    #: +- months within which a documented decision counts as reproduced (as history-check).
    window: Annotated[int, Strict()] = Field(6, ge=0, le=120)


# --- the registry --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    """One outcome kind: its options model, its computation and its documentation.

    ``binary``: a yes/no question (values 1.0/0.0); ``noun``: what one value is, for tables, with
    ``{pair}``, ``{action}``, ``{flow}``, ``{var}`` (``{var_words}``: with spaces) filled from
    the options; ``claim``: for yes/no kinds, the sentence the share of runs is a share of;
    ``note``: a unit shown after the noun, e.g. '$M/month'.
    """

    name: str
    options: type[_Opts]
    compute: Callable[[Any, Any], np.ndarray]
    unit: str
    help: str
    binary: bool = False
    noun: str = ""
    claim: str = ""
    note: str = ""


#: Outcome kinds by name.
KINDS: dict[str, Kind] = {}


def register(name: str, options: type[_Opts], unit: str, help: str, **text: Any):
    """Decorator adding a kind: ``fn(res, options) -> one float64 per run``; ``text``: the
    ``binary``, ``noun``, ``claim`` and ``note`` fields of :class:`Kind`."""
    def deco(fn):
        KINDS[name] = Kind(name, options, fn, unit, help, **text)
        return fn
    return deco




def _f64(x: np.ndarray) -> np.ndarray:
    """A contiguous float64 copy: reductions along the last axis are then per-run pairwise sums
    whose result does not depend on how many runs share the array."""
    return np.ascontiguousarray(x, dtype=np.float64)


def _months(res, period: tuple[str, str] | None) -> tuple[int, int]:
    """Month indices [m0, m1) of a period inside a run (the whole run without one)."""
    if period is None:
        return 0, res.months
    from model.inputs.scenario import month_index

    start = res.dates[0]
    m0, m1 = month_index(start, period[0]), month_index(start, period[1]) + 1
    return max(m0, 0), min(m1, res.months)


def _steps(res, o: _StatePeriod) -> slice:
    """The steps a state outcome reads: the end of each month of the period (steps m0+1..m1)
    or, with ``at: start``, its start (steps m0..m1-1, up to the run's last step T)."""
    if o.at == "end":
        m0, m1 = _months(res, o.period)
        return slice(m0 + 1, m1 + 1)
    if o.period is None:
        return slice(0, res.months)
    from model.inputs.scenario import month_index

    start = res.dates[0]
    m0, m1 = month_index(start, o.period[0]), month_index(start, o.period[1]) + 1
    return slice(max(m0, 0), min(m1, res.months + 1))


def _cell(pair: str) -> tuple[int, int]:
    a, _, b = pair.partition("->")
    return spec.ACTOR_INDEX[a], spec.ACTOR_INDEX[b]


def _flows(flow: str) -> list[int]:
    """Columns of ``Results.aid`` of a flow ('all': every one)."""
    return list(range(len(FLOWS))) if flow == "all" else [FLOWS.index(flow)]


def _below_half(res, o: _StatePeriod, var: str) -> np.ndarray:
    """runs x steps: where a 0/1 state variable (route open, drones based) is 0."""
    return res.state[:, _steps(res, o), spec.STATE_INDEX[var]] < 0.5


@register("final_trust", _PairOpts, "trust 0..1",
          "Trust of SOURCE in TARGET at the end of the run (pair: SOURCE->TARGET).",
          noun="trust {pair}")
def _final_trust(res, o: _PairOpts) -> np.ndarray:
    i, j = _cell(o.pair)
    return _f64(res.trust[:, -1, i, j])


@register("mean_trust", _PairPeriod, "trust 0..1",
          "Mean trust of SOURCE in TARGET over the months of the period (pair, period, at).",
          noun="{pair} trust")
def _mean_trust(res, o: _PairPeriod) -> np.ndarray:
    i, j = _cell(o.pair)
    return _f64(res.trust[:, _steps(res, o), i, j]).mean(axis=1)


@register("min_trust", _PairPeriod, "trust 0..1",
          "Lowest trust of SOURCE in TARGET over the months of the period (pair, period, at).",
          noun="lowest {pair} trust")
def _min_trust(res, o: _PairPeriod) -> np.ndarray:
    i, j = _cell(o.pair)
    return _f64(res.trust[:, _steps(res, o), i, j]).min(axis=1)


@register("total_aid", _FlowPeriod, "$M",
          "US aid paid over the period, $M (flow: US->PAK_MIL, US->PAK_CIV or all; at).",
          noun="total aid {flow}", note="$M")
def _total_aid(res, o: _FlowPeriod) -> np.ndarray:
    steps = _steps(res, o)
    out = np.zeros(res.runs)
    for k in _flows(o.flow):
        out += _f64(res.aid[:, steps, k]).sum(axis=1)
    return out


@register("months_route_closed", _StatePeriod, "months",
          "Months in the period at whose end (at: start, whose start) the NATO supply route was "
          "closed (period, at).",
          noun="months supply route closed")
def _months_route_closed(res, o: _StatePeriod) -> np.ndarray:
    return _below_half(res, o, "supply_route_open").sum(axis=1).astype(np.float64)


@register("action_count", _ActionPeriod, "months",
          "Months in the period in which the action's actor chose the action (action).",
          noun="{action} (times)")
def _action_count(res, o: _ActionPeriod) -> np.ndarray:
    m0, m1 = _months(res, o.period)
    return res.action_count(o.action)[:, m0:m1].sum(axis=1).astype(np.float64)


@register("route_closed", _StatePeriod, "yes/no",
          "Whether the NATO supply route is closed at some point of the period (period, at).",
          binary=True, noun="supply route closed at some point",
          claim="the supply route is closed at some point")
def _route_closed(res, o: _StatePeriod) -> np.ndarray:
    return _below_half(res, o, "supply_route_open").any(axis=1).astype(np.float64)


@register("drones_off", _StatePeriod, "yes/no",
          "Whether no US drones are on Pakistani bases at some point of the period (period, at).",
          binary=True, noun="no US drones on Pakistani bases at some point",
          claim="US drones are off Pakistani bases at some point")
def _drones_off(res, o: _StatePeriod) -> np.ndarray:
    return _below_half(res, o, "drone_basing").any(axis=1).astype(np.float64)


@register("action_chosen", _ActionPeriod, "yes/no",
          "Whether the action's actor chooses the action at least once in the period (action).",
          binary=True, noun="{action} chosen at least once",
          claim="{action} is chosen at least once")
def _action_chosen(res, o: _ActionPeriod) -> np.ndarray:
    m0, m1 = _months(res, o.period)
    return res.action_count(o.action)[:, m0:m1].any(axis=1).astype(np.float64)


@register("action_share", _ActionPeriod, "share 0..1",
          "Share of the period's months in which the action's actor chose the action (action).",
          noun="share of months with {action}")
def _action_share(res, o: _ActionPeriod) -> np.ndarray:
    m0, m1 = _months(res, o.period)
    if m1 <= m0:
        return np.zeros(res.runs)
    return res.action_count(o.action)[:, m0:m1].mean(axis=1)


@register("mean_aid", _FlowPeriod, "$M/month",
          "Mean US aid per month over the period, $M (flow: US->PAK_MIL, US->PAK_CIV or all; at).",
          noun="aid {flow}", note="$M/month")
def _mean_aid(res, o: _FlowPeriod) -> np.ndarray:
    steps = _steps(res, o)
    out = np.zeros(res.runs)
    for k in _flows(o.flow):
        out += _f64(res.aid[:, steps, k]).mean(axis=1)
    return out


@register("final_state", _VarOpts, "the variable's unit",
          "A scalar state variable at the end of the run (var, e.g. public_hostility).",
          noun="{var_words} (final)")
def _final_state(res, o: _VarOpts) -> np.ndarray:
    return _f64(res.state[:, -1, spec.STATE_INDEX[o.var]])


@register("mean_state", _VarPeriod, "the variable's unit",
          "Mean of a scalar state variable over the months of the period (var, period, at).",
          noun="{var_words}")
def _mean_state(res, o: _VarPeriod) -> np.ndarray:
    return _f64(res.state[:, _steps(res, o), spec.STATE_INDEX[o.var]]).mean(axis=1)


@register("decisions_reproduced", _Decisions, "decisions",
          "Documented decisions (model/data/events.yaml) that the run makes within +-window months "
          "(window, default 6; period limits which documented decisions count).",
          noun="documented decisions reproduced")
def _decisions_reproduced(res, o: _Decisions) -> np.ndarray:
    from model.analysis.history import decision_hits, scored_decisions

    since, until = o.period if o.period is not None else (None, None)
    decs = scored_decisions(res.dates[0], res.months, since=since, until=until)
    hits, _ = decision_hits(res, decs, o.window)
    return hits.sum(axis=1).astype(np.float64)


# --- bound outcomes ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """A named, validated outcome; ``compute(res)`` gives one float64 per run."""

    name: str
    kind: str
    options: _Opts

    def compute(self, res) -> np.ndarray:
        out = np.asarray(KINDS[self.kind].compute(res, self.options), dtype=np.float64)
        if out.shape != (res.runs,):
            raise RuntimeError(f"outcome {self.name}: expected {res.runs} values, got {out.shape}")
        return out

    def as_dict(self) -> dict:
        """JSON-able description (used in sweep manifests and spec hashes). ``at: end``, the
        default, is left out: descriptions written before ``at`` existed keep their hash."""
        opts = self.options.model_dump(mode="json", exclude_defaults=False)
        if opts.get("at") == "end":
            del opts["at"]
        return {"name": self.name, "kind": self.kind, **opts}

    @property
    def unit(self) -> str:
        return KINDS[self.kind].unit

    @property
    def binary(self) -> bool:
        """Whether this is a yes/no outcome (values 1.0/0.0)."""
        return KINDS[self.kind].binary


def compute_all(outcomes, res) -> dict[str, np.ndarray]:
    """Every outcome of a batch of runs, by name."""
    return {o.name: o.compute(res) for o in outcomes}


def kinds_help() -> str:
    """One line per outcome kind with its options (for --help texts and docs)."""
    lines = []
    for k in KINDS.values():
        opts = ", ".join(k.options.model_fields) or "-"
        lines.append(f"  {k.name:22s} options: {opts:22s} {k.help}")
    return "\n".join(lines)


def _loc(doc, path: tuple) -> str:
    return doc.where(path) if doc is not None else "<outcomes>"


def _err_text(exc: ValidationError, kind: Kind, doc, base: tuple) -> list[str]:
    out = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not isinstance(p, int))
        msg = err["msg"].removeprefix("Value error, ")
        field = str(loc[0]) if loc else ""
        if err["type"] == "extra_forbidden":
            fields = list(kind.options.model_fields)
            msg = (f"unknown option {field!r} for outcome kind {kind.name}"
                   f"{P.suggest(field, fields)}; its options: {', '.join(fields) or 'none'}")
        elif err["type"] == "missing":
            msg = f"outcome kind {kind.name} needs the option {field!r}"
        path = ".".join(str(p) for p in (*base, *loc))
        out.append(f"{_loc(doc, (*base, *loc))}: {path}: {msg}")
    return out


def make(name: str, kind: str, **options) -> Outcome:
    """One outcome from Python values, e.g. ``make("t", "final_trust", pair="US->PAK_MIL")``."""
    return parse({name: {"kind": kind, **options}})[0]


def _entry(entry: Any) -> tuple[Any, dict, str]:
    """(kind name, options, problem) of one outcome entry: a kind name, or a mapping with
    ``kind`` and the options."""
    if isinstance(entry, str):
        return entry, {}, ""
    if isinstance(entry, Mapping):
        opts = dict(entry)
        kind_name = opts.pop("kind", None)
        if kind_name is None:
            return None, opts, f"missing 'kind' (one of {', '.join(KINDS)})"
        return kind_name, opts, ""
    return None, {}, f"expected an outcome kind or a mapping with 'kind', got {entry!r}"


def parse(data: Any, doc=None, base: tuple = ("outcomes",), start: str | None = None,
          months: int | None = None, reserved: Mapping[str, str] | None = None
          ) -> list[Outcome]:
    """Validate a mapping ``name -> kind`` or ``name -> {kind: ..., option: ...}``.

    ``doc`` (a ``yamlio.Located``) locates messages; ``start``/``months`` (the run window)
    check that periods lie inside the run; ``reserved`` maps names the outcomes may not take to
    the reason. Raises OutcomeError listing every problem.
    """
    errors: list[str] = []
    out: list[Outcome] = []
    if not isinstance(data, Mapping) or not data:
        raise OutcomeError(f"{_loc(doc, base)}: {'.'.join(base)}: expected a mapping of outcome "
                           f"names to kinds, e.g. 'route_closed: months_route_closed'; kinds:\n"
                           f"{kinds_help()}")
    for name, entry in data.items():
        path = (*base, name)
        where = _loc(doc, path)
        dotted = ".".join(str(p) for p in path)
        if not isinstance(name, str) or not NAME_RE.match(name):
            errors.append(f"{where}: {dotted}: outcome names must be identifiers (letters, digits, "
                          f"underscores; not starting with a digit), got {name!r}")
            continue
        if reserved and name in reserved:
            errors.append(f"{where}: {dotted}: the name {name!r} is taken ({reserved[name]})")
            continue
        kind_name, opts, problem = _entry(entry)
        if problem:
            errors.append(f"{where}: {dotted}: {problem}")
            continue
        kind = KINDS.get(kind_name) if isinstance(kind_name, str) else None
        if kind is None:
            errors.append(f"{_loc(doc, (*path, 'kind')) if isinstance(entry, Mapping) else where}:"
                          f" {dotted}: unknown outcome kind {kind_name!r}"
                          f"{P.suggest(str(kind_name), KINDS)}; known kinds: {', '.join(KINDS)}")
            continue
        try:
            options = kind.options.model_validate(opts)
        except ValidationError as exc:
            errors.extend(_err_text(exc, kind, doc, path))
            continue
        period = getattr(options, "period", None)
        if period is not None and start is not None and months is not None:
            from model.inputs.scenario import month_index, month_label

            last = month_label(start, months - 1)
            if month_index(start, period[0]) < 0 or month_index(start, period[1]) >= months:
                errors.append(f"{_loc(doc, (*path, 'period'))}: {dotted}.period: "
                              f"[{period[0]}, {period[1]}] is not inside the run "
                              f"{start} .. {last}")
                continue
        out.append(Outcome(name=name, kind=kind.name, options=options))
    if errors:
        raise OutcomeError("\n".join(errors))
    return out


# --- the standard sets: what `run`, `compare`, the EMA adapter and the dashboard show -------------
# Entries are outcome specs as in a sweep's ``outcomes:`` (a kind, or a mapping with ``kind`` and
# options); adding a line here adds the outcome to what that command or page shows.

#: A default set for the history scenario (used by the EMA adapter).
DEFAULT = {
    "final_trust_mil_us": {"kind": "final_trust", "pair": "PAK_MIL->US"},
    "mean_trust_us_mil": {"kind": "mean_trust", "pair": "US->PAK_MIL"},
    "total_aid": {"kind": "total_aid", "flow": "all"},
    "months_route_closed": "months_route_closed",
    "strikes": {"kind": "action_count", "action": "US_STRIKE"},
}

#: Aid totals are shown in $bn by ``run`` and ``compare`` (``total_aid`` is in $M).
PER_BN = 1000.0


#: ``run``'s summary: (label, outcome spec, divisor) -> median and 5-95% over the runs.
RUN_SUMMARY: list[tuple[str, Any, float]] = [
    *((f"trust {a}->{b}", {"kind": "final_trust", "pair": f"{a}->{b}"}, 1.0)
      for a, b in (("PAK_MIL", "US"), ("US", "PAK_MIL"), ("PAK_CIV", "US"), ("US", "PAK_CIV"))),
    *((f"total aid {f} ($bn)", {"kind": "total_aid", "flow": f}, PER_BN) for f in FLOWS),
    ("months supply route closed", "months_route_closed", 1.0),
    ("public hostility (final)", {"kind": "final_state", "var": "public_hostility"}, 1.0),
    *((f"{act} (times)", {"kind": "action_count", "action": act}, 1.0)
      for act in ("US_MIL_AID", "US_CIV_AID", "US_SUSPEND_AID", "US_STRIKE", "MIL_COOPERATE",
                  "MIL_HEDGE", "MIL_CLOSE_ROUTE", "MIL_REOPEN_ROUTE", "MIL_EVICT_DRONES",
                  "MIL_MEDIATE", "CIV_SEEK_BACKING", "TAL_ATTACK")),
]

#: ``compare``: the actions whose share of runs is compared (each a sentence when it differs).
COMPARE_ACTIONS = ("MIL_CLOSE_ROUTE", "MIL_EVICT_DRONES", "US_SUSPEND_AID", "US_CIV_AID",
                   "US_STRIKE", "MIL_MEDIATE", "CIV_SEEK_BACKING", "MIL_DEFY", "TAL_ATTACK")
#: ``compare``: the trust pairs compared at each year's end.
COMPARE_PAIRS = (("PAK_MIL", "US"), ("US", "PAK_MIL"), ("PAK_CIV", "US"), ("US", "PAK_CIV"),
                 ("PAK_MIL", "INDIA"), ("US", "TALIBAN"))
#: ``compare``: further rows of its table (label, spec, divisor), after the aid totals.
COMPARE_EXTRA: list[tuple[str, Any, float]] = []

#: The dashboard's standard questions over a period (the Compare page, the classroom's game),
#: in the order shown; the Compare page puts trust of a chosen pair in a chosen year third.
QUESTIONS: list[Any] = [
    "route_closed",
    "drones_off",
    {"kind": "mean_aid", "flow": "US->PAK_MIL"},
    {"kind": "mean_aid", "flow": "US->PAK_CIV"},
    {"kind": "action_chosen", "action": "US_SUSPEND_AID"},
    {"kind": "action_chosen", "action": "US_STRIKE"},
    {"kind": "action_chosen", "action": "MIL_MEDIATE"},
    {"kind": "action_share", "action": "MIL_HEDGE"},
    {"kind": "mean_state", "var": "public_hostility"},
]
