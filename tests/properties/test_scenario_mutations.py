"""Property tests (hypothesis): scenario files mutated in their dates, numbers and keys, run through
the command line (``validate`` and a short ``run``), end in success or in a clear message with
exit 2 — never a traceback, never an "internal error".

Dates and numbers are mutated in the YAML *text* (so that unquoted YAML timestamps such as
``2001-13-45``, ``.nan``, ``.inf`` and huge integers reach the reader as YAML parses them); keys
are mutated in the parsed mapping (deleted, renamed with a typo, renamed to another key of the
schema, added, set to a value of another type). The shipped scenarios are the seeds; they are
copied beside the mutants so that ``extends`` finds its parents. Examples per property:
``AFPAK_HYPOTHESIS_EXAMPLES`` (default 60).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
TEXTS = {p.name: p.read_text(encoding="utf-8") for p in SHIPPED}
EXAMPLES = int(os.environ.get("AFPAK_HYPOTHESIS_EXAMPLES", "60"))
PROPS = settings(max_examples=EXAMPLES, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.function_scoped_fixture])

DATE = re.compile(r"(?<![\w.-])\d{4}-\d{2}(?:-\d{2})?(?![\w.-])")
NUMBER = re.compile(r"(?<![\w.-])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.-])")

#: Date-like values: impossible months and days, YAML timestamps, other shapes and types.
BAD_DATES = ["2001-13-45", "2001-02-30", "2001-13", "2001-00", "0000-01", "9999-12", "99999-01",
             "2001", "2001-1", "1-1", "2001-01-01T00:00:00", "2001-01-01 25:00:00", "-2001-01",
             "2001/01", "null", "~", ".inf", "true", "[]", "{}", "''", "2001-01-01", "1900-01",
             "2200-06", "'2001-13'", "2001-06-31", "1e4"]
#: Number-like values: NaN, infinities, extremes, other notations and types.
BAD_NUMBERS = [".nan", ".NaN", ".inf", "-.inf", "nan", "1e308", "-1e308", "1e-320", "0", "-0",
               "-1", "-1000000", "9" * 400, "0x1F", "0o17", "1_000", "true", "null", "''",
               "[]", "{}", "1.5.2", "2001-13-45", "+1", "1e999", "'1'", "!!float 3"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A folder holding copies of the shipped scenarios (the parents of ``extends``)."""
    out = tmp_path_factory.mktemp("mutations")
    for p in SHIPPED:
        shutil.copy(p, out / p.name)
    return out


def _check(folder: Path, text: str, capsys, tag: str) -> None:
    """``validate`` and a one-run ``run`` of the mutant: exit 0, or exit 2 with a message."""
    path = folder / f"mutant_{tag}.yaml"
    path.write_text(text, encoding="utf-8")
    for argv in (["validate", str(path)], ["run", str(path), "--runs", "2", "--months", "3"]):
        try:
            rc = main(argv)
        except SystemExit as exc:  # pragma: no cover - argparse only
            rc = exc.code
        cap = capsys.readouterr()
        shown = f"{argv}\n--- mutant ---\n{text[:3000]}\n--- stderr ---\n{cap.err}"
        assert "Traceback" not in cap.err + cap.out, shown
        assert "internal error" not in cap.err, shown
        assert rc in (0, 2), shown
        if rc == 2:
            assert cap.err.strip(), shown
        if argv[0] == "validate" and rc == 2:
            return  # invalid: run would say the same


def _replace_nth(text: str, pattern: re.Pattern, n: int, new: str) -> str | None:
    hits = list(pattern.finditer(text))
    if not hits:
        return None
    m = hits[n % len(hits)]
    return text[:m.start()] + new + text[m.end():]


@PROPS
@given(name=st.sampled_from(sorted(TEXTS)), n=st.integers(0, 500),
       new=st.one_of(st.sampled_from(BAD_DATES),
                     st.builds(lambda y, m, d: f"{y:04d}-{m:02d}" + (f"-{d:02d}" if d else ""),
                               st.integers(0, 9999), st.integers(0, 99), st.integers(0, 40))))
def test_mutated_dates(folder, capsys, name, n, new):
    text = _replace_nth(TEXTS[name], DATE, n, new)
    if text is not None:
        _check(folder, text, capsys, "date")


@PROPS
@given(name=st.sampled_from(sorted(TEXTS)), n=st.integers(0, 500),
       new=st.one_of(st.sampled_from(BAD_NUMBERS),
                     st.floats(allow_nan=True, allow_infinity=True).map(repr),
                     st.integers(-(10**30), 10**30).map(str)))
def test_mutated_numbers(folder, capsys, name, n, new):
    text = _replace_nth(TEXTS[name], NUMBER, n, new)
    if text is not None:
        _check(folder, text, capsys, "number")


def _paths(node: Any, at: tuple = ()) -> list[tuple]:
    """Paths (tuples of keys / indices) of every mapping in a parsed document."""
    out = []
    if isinstance(node, dict):
        out.append(at)
        for k, v in node.items():
            out += _paths(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*at, i))
    return out


def _get(node: Any, path: tuple) -> Any:
    for k in path:
        node = node[k]
    return node


KEYS = ["start", "months", "extends", "branch", "params", "events", "remove", "month", "id",
        "effects", "actor", "action", "severity", "interventions", "name", "description",
        "aid", "initial", "shift", "scale", "from", "to", "kind", "when", "set", "add"]
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(),
                   st.text(max_size=12), st.lists(st.integers(0, 3), max_size=3),
                   st.dictionaries(st.sampled_from(KEYS), st.integers(0, 3), max_size=2))


@PROPS
@given(name=st.sampled_from(sorted(TEXTS)), pick=st.integers(0, 10**6),
       op=st.sampled_from(["delete", "typo", "rename", "add", "retype"]),
       key=st.sampled_from(KEYS), value=VALUES)
def test_mutated_keys(folder, capsys, name, pick, op, key, value):
    doc = yaml.safe_load(TEXTS[name])
    maps = [p for p in _paths(doc) if _get(doc, p)]
    node = _get(doc, maps[pick % len(maps)])
    keys = list(node)
    old = keys[pick % len(keys)]
    if op == "delete":
        del node[old]
    elif op == "typo":
        node[str(old)[:-1] + "x"] = node.pop(old)
    elif op == "rename":
        node[key] = node.pop(old)
    elif op == "add":
        node[key] = value
    else:
        node[old] = value
    _check(folder, yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), capsys, "key")
