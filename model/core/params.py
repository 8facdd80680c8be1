"""The parameter table: one record per parameter, read from ``model/data/parameters.yaml``.

Every other place that needs a parameter's name, default, bounds, unit or help (the Mesa
constructor, scenarios, the CLI, sweeps, the dashboard) asks this module; none keeps a copy.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, model_validator

from model.core.spec import ACTIONS
from model.io import yamlio
from model.io.errors import ModelInputError

#: Where the table lives, as error messages name it.
TABLE_FILE = "model/data/parameters.yaml"
#: The shortest reason a ``fixed:`` entry may give (a word or two says nothing about why).
MIN_REASON = 15


class SeedSource(BaseModel):
    """A parameter grounded in one of the source articles, by a verbatim quote."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    seed: str
    quote: str


class RefSource(BaseModel):
    """A parameter grounded in the literature (or declared a modelling assumption)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ref: str


class Param(BaseModel):
    """One model parameter: its default, bounds, unit, mechanism group, help and source."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    default: float
    lo: float
    hi: float
    unit: str
    group: Literal[
        "trust", "memory", "decision", "aid", "aid_compliance", "india_factor", "sovereignty",
        "attribution", "civmil", "defiance", "mediation", "dependence", "balance", "war",
    ]
    help: str
    source: SeedSource | RefSource
    #: Why the parameter is not calibrated (it keeps its default); None: it is calibrated.
    fixed: StrictStr | None = Field(None, min_length=MIN_REASON)

    @model_validator(mode="after")
    def _bounds(self) -> Param:
        if not (self.lo <= self.default <= self.hi):
            raise ValueError(f"default {self.default} outside [{self.lo}, {self.hi}]")
        return self


class ParameterError(ModelInputError):
    """An unknown parameter name or a value outside the table's bounds."""


#: What each field of a table entry must be, for error messages.
EXPECTED = {
    "fixed": (f"a reason of at least {MIN_REASON} characters, in quotes, saying why the "
              f"parameter is not calibrated (it then keeps its default), e.g. fixed: \"a unit, "
              f"not a behaviour\"; leave the field out to calibrate it"),
    "group": "one of the mechanism groups listed in model/core/params.py (Param.group)",
    "source": "{seed: FILE, quote: VERBATIM} or {ref: REFERENCE}",
}


def _entry_error(doc: yamlio.Located, name: str, exc: ValidationError) -> ParameterError:
    """A ``ParameterError`` naming the file, the line, the field and what it expects."""
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err["loc"] else ""
    path = (name, field) if field else (name,)
    where = doc.where_key(path) if field in doc.data.get(name, {}) else doc.where_key((name,))
    what = EXPECTED.get(field, err["msg"])
    got = f"; got {err['input']!r}" if field and "input" in err and err["type"] != "missing" else ""
    return ParameterError(f"{where}: parameter {name!r}: {field or 'entry'}: {err['msg']}{got}"
                          + (f"; expected {what}" if what != err["msg"] else ""))


def load_table(text: str, file: str = TABLE_FILE) -> dict[str, Param]:
    """The table from the text of a parameters file; a bad entry is a ``ParameterError`` naming
    ``file``, the line, the field and what it expects."""
    doc = yamlio.loads(text, file, limits=yamlio.Limits(max_nodes=200_000))
    if not isinstance(doc.data, dict):
        raise ParameterError(f"{file}: expected a mapping of parameter name -> entry")
    table: dict[str, Param] = {}
    for name, rec in doc.data.items():
        if not isinstance(rec, dict):
            raise ParameterError(f"{doc.where((name,))}: parameter {name!r}: expected a mapping "
                                 f"of default, lo, hi, unit, group, help, source")
        if "fixed" in rec and rec["fixed"] is None:     # `fixed:` with nothing after it
            raise ParameterError(f"{doc.where_key((name, 'fixed'))}: parameter {name!r}: fixed: "
                                 f"empty; expected {EXPECTED['fixed']}")
        try:
            table[name] = Param(name=name, **rec)
        except ValidationError as exc:
            raise _entry_error(doc, name, exc) from None
    return table


@cache
def _table() -> dict[str, Param]:
    text = resources.files("model.data").joinpath("parameters.yaml").read_text(encoding="utf-8")
    table = load_table(text)
    missing = [f"bias_{a.name.lower()}" for a in ACTIONS
               if not a.name.endswith("_HOLD") and f"bias_{a.name.lower()}" not in table]
    if missing:
        raise RuntimeError(f"parameters.yaml lacks decision intercepts: {missing}")
    return table


def table() -> dict[str, Param]:
    """All parameters by name, in table order."""
    return _table()


def names() -> tuple[str, ...]:
    """Parameter names in table order (the order of a parameter vector)."""
    return tuple(_table())


@cache
def dtype() -> np.dtype:
    """Structured dtype with one float64 field per parameter: the kernel's parameter record."""
    return np.dtype([(n, "f8") for n in _table()])


def defaults() -> dict[str, float]:
    """Default value of every parameter."""
    return {n: p.default for n, p in _table().items()}


def fixed() -> dict[str, str]:
    """The parameters the table fixes at their default (``fixed:``), with the reason given."""
    return {n: p.fixed for n, p in _table().items() if p.fixed is not None}


def suggest(name: str, choices) -> str:
    """A ' (did you mean X?)' hint for a misspelt name, or ''."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check(name: str, value, where: str = "") -> float:
    """Validate one parameter value against the table; return it as float.

    Raises ParameterError naming the parameter, the value and the bounds.
    """
    tab = _table()
    prefix = f"{where}: " if where else ""
    if name not in tab:
        raise ParameterError(f"{prefix}unknown parameter {name!r}{suggest(name, tab)}")
    p = tab[name]
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise ParameterError(
            f"{prefix}parameter {name!r} must be a number in [{p.lo}, {p.hi}], got {value!r}")
    v = float(value)
    if not math.isfinite(v) or not (p.lo <= v <= p.hi):
        raise ParameterError(
            f"{prefix}parameter {name!r} = {value!r} is outside its bounds [{p.lo}, {p.hi}] "
            f"({p.unit})")
    return v


def check_column(name: str, values, where: str = "") -> np.ndarray:
    """Validate one parameter's values (one per run) at once; return them as float64.

    The same rule and messages as ``check``: the first bad value is reported by ``check``."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    p = _table().get(name)
    ok = (p is not None and arr is not None and arr.ndim == 1
          and not any(isinstance(x, bool) for x in np.asarray(values, dtype=object).ravel())
          and bool(np.all(np.isfinite(arr) & (arr >= p.lo) & (arr <= p.hi))))
    if ok:
        return arr
    for x in np.atleast_1d(np.asarray(values, dtype=object)):
        check(name, x, where)
    raise ParameterError(f"{where + ': ' if where else ''}parameter {name!r}: expected one "
                         f"number per run")


def resolve(overrides: Mapping[str, float] | None = None, where: str = "") -> dict[str, float]:
    """Defaults updated by validated overrides."""
    values = defaults()
    for k, v in (overrides or {}).items():
        values[k] = check(k, v, where)
    return values


def records(rows: list[Mapping[str, float]]) -> np.ndarray:
    """A structured parameter array (one record per run) from full parameter mappings."""
    out = np.empty(len(rows), dtype=dtype())
    for name in names():
        out[name] = [row[name] for row in rows]
    return out


@cache
def _provenance() -> dict[str, list[tuple[str, float]]]:
    import csv

    path = resources.files("model.data").joinpath("provenance.csv")
    out: dict[str, list[tuple[str, float]]] = {}
    if not path.is_file():
        return out
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["parameter"], []).append((row["target"], float(row["strength"])))
    return out


def calibrated_from(name: str, top: int = 3) -> str:
    """'calibrated from: ...' — the calibration targets that inform a parameter most
    (``model/data/provenance.csv``, written by ``python -m model calibrate``), or ''."""
    rows = sorted(_provenance().get(name, []), key=lambda t: -abs(t[1]))[:top]
    if not rows:
        return ""
    return "calibrated from: " + ", ".join(f"{t} ({v:+.2f})" for t, v in rows)
