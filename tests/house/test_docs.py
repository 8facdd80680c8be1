"""The model documentation (docs/ODD.md) covers the model as the code defines it.

Every expected item is taken from the code (the parameter table, ``model.core.spec``, the kernel's
trace
channels), so a parameter, state variable, action or actor added later fails these tests until the
ODD describes it.

The ODD's parameter table is generated text: when the table in ``model/data/parameters.yaml``
changes, print a fresh one with ``.venv/bin/python tests/house/test_docs.py`` and paste it into the
"Parameter table" section of docs/ODD.md.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from model.calibration.problem import SCREENING_FIX
from model.core import params as P
from model.core import spec

ODD = Path(__file__).resolve().parents[2] / "docs" / "ODD.md"

#: The ODD 2020 sections (Grimm et al. 2020), in their order.
ODD_SECTIONS = (
    "Purpose and patterns",
    "Entities, state variables and scales",
    "Process overview and scheduling",
    "Design concepts",
    "Initialisation",
    "Input data",
    "Submodels",
)


@cache
def odd_text() -> str:
    assert ODD.is_file(), f"{ODD} is missing"
    return ODD.read_text(encoding="utf-8")


@cache
def headings() -> tuple[str, ...]:
    """The text of every Markdown heading, without the hashes."""
    return tuple(m.group(1).strip() for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$",
                                                         odd_text(), flags=re.MULTILINE))


def whole_word(name: str) -> re.Pattern[str]:
    """``name`` not embedded in a longer identifier (letters, digits, underscores)."""
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")


def missing_words(names) -> list[str]:
    text = odd_text()
    return [n for n in names if not whole_word(n).search(text)]


def _num(v: float) -> str:
    return f"{v:g}"


def _cell(text: str) -> str:
    return text.replace("|", r"\|")


def _source(p: P.Param) -> str:
    src = p.source
    return f"seed `{src.seed}`" if isinstance(src, P.SeedSource) else src.ref


def _calibrated(p) -> str:
    """'free', or 'fixed' with the first words of the table's reason."""
    if p.fixed is None:
        return "free"
    return "fixed (screening)" if p.fixed.startswith(SCREENING_FIX) else "fixed (documented)"


def render_parameter_table() -> str:
    """The ODD's parameter table, generated from model/data/parameters.yaml."""
    lines = ["| name | default | lo | hi | unit | group | calibrated | source |",
             "|---|---:|---:|---:|---|---|---|---|"]
    for name, p in P.table().items():
        lines.append(f"| `{name}` | {_num(p.default)} | {_num(p.lo)} | {_num(p.hi)} | "
                     f"{_cell(p.unit)} | {p.group} | {_calibrated(p)} | "
                     f"{_cell(_source(p))} |")
    return "\n".join(lines)


def _split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [c.strip().replace(r"\|", "|") for c in cells]


@cache
def documented_parameter_rows() -> dict[str, list[str]]:
    """Rows of the ODD's parameter table by parameter name: [default, lo, hi, unit, group, ...]."""
    text = odd_text()
    start = re.search(r"^#{1,6}\s+.*Parameter table", text, flags=re.MULTILINE)
    assert start, "docs/ODD.md has no 'Parameter table' heading"
    rows: dict[str, list[str]] = {}
    for line in text[start.end():].splitlines():
        if line.startswith("#"):
            break
        if not line.startswith("| `"):
            continue
        cells = _split_row(line)
        rows[cells[0].strip("`")] = cells[1:]
    return rows


# --- the ODD's structure ------------------------------------------------------------------------


@pytest.mark.parametrize("section", ODD_SECTIONS)
def test_odd_section_heading_present(section):
    assert any(section.lower() in h.lower() for h in headings()), (
        f"docs/ODD.md lacks a heading for the ODD section {section!r}")


def test_odd_sections_in_protocol_order():
    pos = []
    for section in ODD_SECTIONS:
        idx = [i for i, h in enumerate(headings()) if section.lower() in h.lower()]
        assert idx, f"missing section {section!r}"
        pos.append(idx[0])
    assert pos == sorted(pos), "the ODD sections are out of the protocol's order"


def test_event_catalog_heading_present():
    assert any("event catalog" in h.lower() for h in headings())


def test_parameter_table_heading_names_source_of_truth():
    assert any("parameter table" in h.lower() for h in headings())
    assert "model/data/parameters.yaml" in odd_text()


# --- the vocabulary of model.core.spec and the parameter table
# ---------------------------------------


def test_every_parameter_is_named():
    missing = missing_words(P.names())
    assert not missing, f"parameters missing from docs/ODD.md: {missing}"


def test_every_state_variable_is_named():
    missing = missing_words(v.name for v in spec.STATE_VARS)
    assert not missing, f"state variables missing from docs/ODD.md: {missing}"


def test_every_action_is_named():
    missing = missing_words(a.name for a in spec.ACTIONS)
    assert not missing, f"actions missing from docs/ODD.md: {missing}"


def test_every_actor_is_named():
    missing = missing_words(spec.ACTORS)
    assert not missing, f"actors missing from docs/ODD.md: {missing}"


def test_every_aid_flow_is_named():
    missing = [f"{d}->{r}" for d, r in spec.AID_FLOWS if f"{d}->{r}" not in odd_text()]
    assert not missing, f"aid flows missing from docs/ODD.md: {missing}"


def test_every_trace_channel_and_parameter_group_is_named():
    from model.core import kernel

    groups = sorted({p.group for p in P.table().values()})
    missing = missing_words([*kernel.CHANNELS, *groups])
    assert not missing, f"trace channels / parameter groups missing from docs/ODD.md: {missing}"


def test_every_state_variable_has_a_table_row_with_its_unit():
    rows = {}
    for line in odd_text().splitlines():
        if line.startswith("| `"):
            cells = _split_row(line)
            rows.setdefault(cells[0].strip("`"), cells)
    bad = [v.name for v in spec.STATE_VARS
           if v.name not in rows or v.unit not in " ".join(rows[v.name][1:])]
    assert not bad, f"state variables without a table row giving their unit: {bad}"


def test_every_action_has_a_table_row_with_its_cameo_code():
    rows = {}
    for line in odd_text().splitlines():
        if line.startswith("| `"):
            cells = _split_row(line)
            rows.setdefault(cells[0].strip("`"), cells)
    bad = [a.name for a in spec.ACTIONS
           if a.name not in rows or not any(c.split(" ")[0] == a.cameo for c in rows[a.name])]
    assert not bad, f"actions without a table row giving their CAMEO code: {bad}"


# --- the parameter table is in step with model/data/parameters.yaml ----------------------------


def test_parameter_table_lists_every_parameter():
    rows = documented_parameter_rows()
    missing = [n for n in P.names() if n not in rows]
    assert not missing, (f"parameter table of docs/ODD.md lacks {missing}; regenerate it with "
                         f"`.venv/bin/python tests/house/test_docs.py`")


def test_parameter_table_has_no_unknown_parameters():
    unknown = sorted(set(documented_parameter_rows()) - set(P.names()))
    assert not unknown, f"parameter table of docs/ODD.md lists unknown parameters: {unknown}"


def test_parameter_table_matches_defaults_bounds_units_groups():
    rows = documented_parameter_rows()
    stale = []
    for name, p in P.table().items():
        row = rows.get(name)
        if row is None:
            continue
        default, lo, hi, unit, group, calibrated = row[:6]
        if (float(default), float(lo), float(hi), unit, group, calibrated) != (
                p.default, p.lo, p.hi, p.unit, p.group, _calibrated(p)):
            stale.append(name)
    assert not stale, (f"parameter table rows out of step with model/data/parameters.yaml: "
                       f"{stale}; regenerate it with `.venv/bin/python tests/house/test_docs.py`")


def test_whole_word_match_rejects_embedded_names():
    # The matcher must not count a name found only inside a longer identifier.
    assert not whole_word("aid_ref").search("the mil_aid_refill value")
    assert whole_word("aid_ref").search("uses `aid_ref` here")
    assert not whole_word("US").search("US_HOLD")


if __name__ == "__main__":
    print(render_parameter_table())
