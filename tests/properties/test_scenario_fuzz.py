"""Fuzzing the scenario reader: mutated shipped scenarios never crash it.

Take the shipped scenarios, then delete keys, rename keys with typos, replace values with values of
random types, add keys, or mutate the YAML text itself. Whatever comes out, ``loads_scenario``
either returns a scenario (which then compiles) or raises a ``ModelInputError``
(``ScenarioError``, ``YamlError`` or ``ParameterError``) with a message naming the upload;
never another exception.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.core import spec
from model.core.params import ParameterError
from model.inputs.compiled import compile_scenario
from model.inputs.scenario import ScenarioError, loads_scenario
from model.io.errors import ModelInputError
from model.io.yamlio import YamlError
from model.io.yamlio import load as load_yaml

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
TEXTS = {p.name: p.read_text(encoding="utf-8") for p in SHIPPED}
MAPPINGS = {p.name: load_yaml(p).data for p in SHIPPED}
INPUT_ERRORS = (ScenarioError, YamlError, ParameterError)
FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

#: Words of the scenario vocabulary, so that mutations reach the deeper validators.
WORDS = sorted({
    *spec.ACTORS, "OTHER", *spec.ACTION_INDEX, *spec.STATE_INDEX, "US->PAK_MIL", "US->PAK_CIV",
    "PAK_MIL->US", "trust PAK_MIL->US", "aid US->PAK_MIL", "action US",
    "2001-01", "2011-11", "2011-11-26", "2011-13", "11/2011", "1998-01", "2030-01", "9999-12",
    "0000-01", "history.yaml", "baseline.yaml", "salala_strike_2011", "abbottabad_raid_2011",
    "shock", "decision", "set", "add", "remove", "shift", "scale", "months", "by", "from", "to",
    "force", "forbid", "hold", "when", "then", "once", "action", "severity", "effects",
    "talks > 0.5", "trust[PAK_MIL->US] < 0.2", "aid[US->PAK_MIL] >= 50", "forgetting", "057",
    "x" * 300,  # longer than a file name may be
})

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-10**30, max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(WORDS), st.dates(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.text(max_size=12), st.sampled_from(WORDS)),
                                            inner, max_size=4)),
    max_leaves=12,
)


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside nested dicts and lists (the root is ())."""
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _get(obj: Any, path: tuple) -> Any:
    for p in path:
        obj = obj[p]
    return obj


def _typo(word: str, data: st.DataObject) -> str:
    """The word with one character dropped, doubled, swapped or replaced (or cased)."""
    if not word:
        return "x"
    i = data.draw(st.integers(0, len(word) - 1))
    kind = data.draw(st.sampled_from(["drop", "double", "swap", "replace", "case"]))
    if kind == "drop":
        return word[:i] + word[i + 1:] or "x"
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    if kind == "swap" and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "case":
        return word.swapcase()
    return word[:i] + data.draw(st.characters(codec="utf-8")) + word[i + 1:]


def _mutate(doc: Any, data: st.DataObject) -> Any:
    path = data.draw(st.sampled_from(_paths(doc)))
    node = _get(doc, path)
    ops = ["replace"]
    if isinstance(node, dict):
        ops += ["add_key"] + (["delete_key", "rename_key"] if node else [])
    if isinstance(node, list):
        ops += ["append"] + (["delete_item"] if node else [])
    op = data.draw(st.sampled_from(ops))
    if op == "replace":
        new = data.draw(values)
        if not path:
            return new
        _get(doc, path[:-1])[path[-1]] = new
    elif op == "add_key":
        key = data.draw(st.one_of(st.sampled_from(WORDS), st.text(max_size=12), st.integers()))
        node[key] = data.draw(values)
    elif op == "delete_key":
        del node[data.draw(st.sampled_from(sorted(node, key=str)))]
    elif op == "rename_key":
        key = data.draw(st.sampled_from(sorted(node, key=str)))
        new_key = _typo(str(key), data)
        if new_key not in node:
            node[new_key] = node.pop(key)
    elif op == "append":
        node.append(data.draw(values))
    else:
        del node[data.draw(st.integers(0, len(node) - 1))]
    return doc


def _assert_no_crash(text: str) -> None:
    """The reader either accepts the text (and the scenario compiles) or raises a located
    ModelInputError; anything else is a crash."""
    error: ModelInputError | None = None
    try:
        sc = loads_scenario(text)
        compile_scenario(sc, min(sc.months, 36))
    except ModelInputError as exc:
        error = exc
    if error is not None:
        assert isinstance(error, INPUT_ERRORS), type(error)
        assert str(error).strip(), "empty message"
        assert "<upload>" in str(error), str(error)


@FUZZ
@given(name=st.sampled_from(sorted(MAPPINGS)), n=st.integers(1, 3), data=st.data())
def test_mutated_mappings(name, n, data):
    """Structural mutations of a shipped scenario, dumped with yaml.safe_dump."""
    doc = copy.deepcopy(MAPPINGS[name])
    for _ in range(n):
        doc = _mutate(doc, data)
    try:
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        return  # not representable as YAML: nothing to read
    _assert_no_crash(text)


#: YAML-ish fragments for text mutations.
FRAGMENTS = [
    ":", ": ", "- ", "-", "[", "]", "{", "}", ",", "&a ", "*a", "!!str ", "!!python/tuple ", "|",
    ">", "'", '"', "#", "\n", "  ", "\t", "? ", "<<: ", "---\n", "...\n", "~", ".nan", ".inf",
    "-.inf", "1e400", "0x1F", "0o17", "yes", "no", "null", "%YAML 1.2\n", "!tag ", "\\",
    "trust[PAK_MIL->US] << 0.2", "__import__('os')", "2011-13", "months: 0\n", "extends: x\n",
]


@st.composite
def text_mutations(draw, printable: bool) -> str:
    text = draw(st.sampled_from(sorted(TEXTS.values())))
    chars = (st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]) if printable
             else st.characters(codec="utf-8"))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "fragment", "dup_line", "swap_lines"]))
        if op == "insert":
            text = text[:i] + draw(st.text(chars, min_size=1, max_size=8)) + text[i:]
        elif op == "delete":
            j = draw(st.integers(i, min(len(text), i + 40)))
            text = text[:i] + text[j:]
        elif op == "fragment":
            text = text[:i] + draw(st.sampled_from(FRAGMENTS)) + text[i:]
        else:
            lines = text.split("\n")
            a = draw(st.integers(0, len(lines) - 1))
            b = draw(st.integers(0, len(lines) - 1))
            if op == "dup_line":
                lines.insert(b, lines[a])
            else:
                lines[a], lines[b] = lines[b], lines[a]
            text = "\n".join(lines)
    return text


@FUZZ
@given(text=text_mutations(printable=True))
def test_mutated_text_printable(text):
    """Text mutations with printable characters and YAML fragments."""
    _assert_no_crash(text)


@FUZZ
@given(text=text_mutations(printable=False))
def test_mutated_text_any_characters(text):
    """Text mutations with any Unicode characters (controls included): refused, not crashed."""
    _assert_no_crash(text)
