"""Unit layer: the ``fixed:`` field of the parameter table (a parameter kept at its default and
not calibrated, with the reason recorded in the table)."""

from __future__ import annotations

import re

import pytest

from model.core import params as P

ENTRY = """\
alpha:
  default: 1.0
  lo: 0.0
  hi: 2.0
  unit: ratio
  group: trust
  help: A parameter.
  source: {ref: "a reference"}
"""


def test_shipped_table_fixes_the_documented_figures_with_their_reasons():
    fixed = P.fixed()
    assert {"civ_package_months", "aid_ref"} <= set(fixed)
    assert "five years" in fixed["civ_package_months"]
    assert "$1 bln a year" in fixed["aid_ref"]
    assert all(P.table()[n].fixed == why for n, why in fixed.items())
    # the rest are fixed by the screening (docs/parsimony.md), each with its rank
    screened = {n: why for n, why in fixed.items() if n not in ("civ_package_months", "aid_ref")}
    assert all(re.match(r"screening \(docs/parsimony.md\): rank \d+ of \d+", why)
               for why in screened.values()), screened
    assert len(P.names()) - len(fixed) <= 30


def test_a_fixed_entry_loads_with_its_reason():
    reason = "a unit, not a behaviour; nothing to fit"
    tab = P.load_table(ENTRY + f'  fixed: "{reason}"\n', "t.yaml")
    assert tab["alpha"].fixed == reason
    assert P.load_table(ENTRY, "t.yaml")["alpha"].fixed is None


@pytest.mark.parametrize(("value", "match"), [
    ("3", r"got 3"),                       # a number is not a reason
    ("true", r"got True"),
    ('"short"', r"at least 15"),           # too short to say why
    ("", r"empty"),                        # nothing after the key
    ("[a, b]", r"got \['a', 'b'\]"),
])
def test_a_bad_fixed_field_names_file_line_and_what_is_expected(value, match):
    text = ENTRY + f"  fixed: {value}\n"
    with pytest.raises(P.ParameterError) as err:
        P.load_table(text, "t.yaml")
    msg = str(err.value)
    assert msg.startswith("t.yaml:9:"), msg                # the line of the fixed: key
    assert "'alpha'" in msg
    assert "fixed" in msg
    assert "expected a reason" in msg
    assert __import__("re").search(match, msg), msg


def test_other_bad_fields_are_located_too():
    with pytest.raises(P.ParameterError, match=r"t\.yaml:6:.*group"):
        P.load_table(ENTRY.replace("group: trust", "group: nonsense"), "t.yaml")
    with pytest.raises(P.ParameterError, match=r"t\.yaml:1:.*'alpha'.*expected a mapping"):
        P.load_table("alpha: 3\n", "t.yaml")
    with pytest.raises(P.ParameterError, match=r"t\.yaml:.*'alpha'.*colour"):
        P.load_table(ENTRY + "  colour: red\n", "t.yaml")


def test_a_parameter_named_twice_is_refused():
    with pytest.raises(P.ModelInputError, match=r"t\.yaml:9"):
        P.load_table(ENTRY + ENTRY, "t.yaml")
