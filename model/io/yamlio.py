"""Safe YAML reading with locations: every value keeps the line and column it came from.

The one YAML reader of the model's input files (scenarios, sweep specs, outcome specs, the event
catalog). Only the YAML safe schema is used (``yaml.SafeLoader``: no Python tags, no code). On top
of it: duplicate keys are refused (or, for readers that report every problem, kept aside with
their locations), and size, nesting depth and alias use are bounded (``Limits``), so a hostile
file cannot exhaust memory. A scalar YAML cannot construct (``!!int x``) is a located error, not
a traceback; a date YAML cannot build (``2011-02-31``, ``2001-13-45``) stays the text written,
for ``model.io.dates`` to refuse where the date is read. Errors are ``YamlError`` with
``file:line:column: message``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from model.io import access
from model.io.errors import ModelInputError

#: Default limits (scenarios, sweep specs, uploads): far above any real file.
MAX_BYTES = 2_000_000
MAX_DEPTH = 40
MAX_ALIASES = 100
MAX_NODES = 20_000

Loc = tuple[int, int]  # 1-based line, column
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


@dataclass(frozen=True)
class Limits:
    """How much a file may hold: bytes, nesting depth, aliases and values (nodes)."""

    max_bytes: int = MAX_BYTES
    max_depth: int = MAX_DEPTH
    max_aliases: int = MAX_ALIASES
    max_nodes: int = MAX_NODES


LIMITS = Limits()


class YamlError(ModelInputError):
    """A file that is not acceptable YAML; the message is located (``file:line:column:``).

    ``file``, ``line``, ``column`` (0 where unknown) and ``problem`` give the parts, for readers
    that format their own messages."""

    def __init__(self, file: str, problem: str, line: int = 0, column: int = 0):
        self.file, self.problem, self.line, self.column = file, problem, line, column
        where = file + (f":{line}" if line else "") + (f":{column}" if line and column else "")
        super().__init__(f"{where}: {problem}")


def _at(file: str, mark: Any, problem: str) -> YamlError:
    """A ``YamlError`` at a PyYAML mark (0-based line and column)."""
    return YamlError(file, problem, mark.line + 1, mark.column + 1)


@dataclass
class Located:
    """A parsed document and the location of each value, by its path of keys and indices."""

    data: Any
    file: str
    locs: dict[tuple, Loc] = field(default_factory=dict)
    #: Location of each mapping key (by the path of its value), for 'unknown key' messages.
    key_locs: dict[tuple, Loc] = field(default_factory=dict)
    #: Keys given twice in one mapping, as (path of the key, location of the repeat); only with
    #: ``duplicates="keep_first"`` (otherwise the first repeat is an error).
    duplicates: list[tuple[tuple, Loc]] = field(default_factory=list)

    def _known(self, path: tuple | list) -> tuple:
        p = tuple(path)
        while p and p not in self.locs:
            p = p[:-1]
        return p

    def where(self, path: tuple | list) -> str:
        """``file:line:col`` of the deepest known prefix of ``path``."""
        line, col = self.locs.get(self._known(path), (1, 1))
        return f"{self.file}:{line}:{col}"

    def where_key(self, path: tuple | list) -> str:
        """``file:line:col`` of the key of ``path`` (of its value if the key is unknown)."""
        if tuple(path) in self.key_locs:
            line, col = self.key_locs[tuple(path)]
            return f"{self.file}:{line}:{col}"
        return self.where(path)

    def line(self, path: tuple | list) -> int:
        """Line of the deepest known prefix of ``path``: its key's line where it has a key (a
        block mapping or list starts on the line after its key), else its value's."""
        p = self._known(path)
        return self.key_locs.get(p, self.locs.get(p, (1, 1)))[0]


class _Builder:
    """Turns a composed node tree into Python values, recording locations and bounds."""

    def __init__(self, loader: yaml.SafeLoader, file: str, limits: Limits, keep_first: bool):
        self.loader, self.file, self.limits, self.keep_first = loader, file, limits, keep_first
        self.nodes = 0
        self.doc = Located(data=None, file=file)

    def build(self, node: yaml.Node) -> Located:
        self.doc.data = self.value(node, (), 0)
        return self.doc

    def value(self, node: yaml.Node, path: tuple, depth: int) -> Any:
        if depth > self.limits.max_depth:
            raise _at(self.file, node.start_mark,
                      f"nesting deeper than {self.limits.max_depth} levels")
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise YamlError(self.file, f"more than {self.limits.max_nodes} values (alias "
                                       f"expansion or a huge file)")
        self.doc.locs[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_TAGS:
            raise _at(self.file, node.start_mark,
                      f"tag {node.tag!r} is not allowed (only plain YAML is accepted: no "
                      f"!!python or custom tags)")
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(v, (*path, i), depth + 1) for i, v in enumerate(node.value)]
        return self.scalar(node)

    def mapping(self, node: yaml.MappingNode, path: tuple, depth: int) -> dict:
        self.loader.flatten_mapping(node)
        out: dict = {}
        for k_node, v_node in node.value:
            key = self.scalar(k_node) if isinstance(k_node, yaml.ScalarNode) else None
            if not isinstance(key, str | int | float | bool):
                raise _at(self.file, k_node.start_mark, "keys must be plain scalars")
            loc = (k_node.start_mark.line + 1, k_node.start_mark.column + 1)
            if key in out:
                if not self.keep_first:
                    raise YamlError(self.file, f"duplicate key {key!r}", *loc)
                self.doc.duplicates.append(((*path, key), loc))
                continue
            self.doc.key_locs[(*path, key)] = loc
            out[key] = self.value(v_node, (*path, key), depth + 1)
        return out

    def scalar(self, node: yaml.Node) -> Any:
        """The scalar's value. A plain scalar that looks like a date but is none (``2011-02-31``,
        ``2001-13-45``; YAML's constructor fails on it with a bare ``ValueError``) is kept as the
        text written, for the validator that reads the date to refuse with its own context; any
        other scalar YAML cannot construct (``!!int x``) is a located error."""
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            if node.tag == _TIMESTAMP_TAG and self.loader.timestamp_regexp.match(node.value):
                return node.value
            tag = node.tag.rsplit(":", 1)[-1]
            why = f" ({exc})" if type(exc) is ValueError else ""
            raise _at(self.file, node.start_mark,
                      f"{node.value!r} is not a valid {tag}{why}; quote it to keep it as text",
                      ) from None


class _CountingLoader(yaml.SafeLoader):
    """SafeLoader that bounds aliases, nesting depth and the number of nodes while composing, so
    a billion-laughs, deeply nested or huge file is refused early (before any recursion limit or
    memory is reached)."""

    limits = LIMITS
    alias_count = 0
    depth = 0
    node_count = 0

    def _fail(self, message: str) -> None:
        raise _at(self.name, self.peek_event().start_mark, message)

    def compose_node(self, parent, index):
        lim = self.limits
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > lim.max_aliases:
                self._fail(f"more than {lim.max_aliases} aliases")
        self.node_count += 1
        if self.node_count > lim.max_nodes:
            self._fail(f"more than {lim.max_nodes} values (a huge file)")
        self.depth += 1
        try:
            if self.depth > lim.max_depth + 1:
                self._fail(f"nesting deeper than {lim.max_depth} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _syntax_error(file: str, exc: yaml.YAMLError) -> YamlError:
    if not isinstance(exc, yaml.MarkedYAMLError):
        return YamlError(file, f"invalid YAML ({exc})")
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if "!!python" in str(exc) or "could not determine a constructor" in str(exc):
        problem = f"{problem} (only plain YAML is accepted: no !!python or custom tags)"
    return _at(file, mark, problem) if mark else YamlError(file, problem)


def loads(text: str, file: str = "<string>", *, limits: Limits = LIMITS,
          duplicates: Literal["refuse", "keep_first"] = "refuse",
          expected: str = "a YAML mapping") -> Located:
    """Parse YAML text into a ``Located`` document (safe schema only).

    ``limits`` bounds the text; ``duplicates="keep_first"`` keeps the first of a repeated key
    and lists the repeats in ``Located.duplicates`` instead of refusing the file; ``expected``
    says what an empty file should have held."""
    if len(text) > limits.max_bytes or len(text.encode("utf-8", "surrogatepass")) > (
            limits.max_bytes):
        raise YamlError(file, f"text is more than {limits.max_bytes:,} bytes; the limit is "
                              f"{limits.max_bytes:,}")
    if not text.strip():
        raise YamlError(file, f"the file is empty; expected {expected}")
    try:
        loader = _CountingLoader(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise YamlError(file, f"unacceptable character #x{exc.character:04x}: control "
                              f"characters are not allowed in YAML text", line, col) from None
    loader.name, loader.limits = file, limits
    try:
        node = loader.get_single_node()
        if node is None:
            raise YamlError(file, f"the file holds no YAML document; expected {expected}")
        return _Builder(loader, file, limits, duplicates == "keep_first").build(node)
    except yaml.YAMLError as exc:
        raise _syntax_error(file, exc) from None
    finally:
        loader.dispose()


def load(path: str | Path, *, limits: Limits = LIMITS,
         duplicates: Literal["refuse", "keep_first"] = "refuse",
         expected: str = "a YAML mapping") -> Located:
    """Read and parse a YAML file (as ``loads``), refusing binary, non-UTF-8 and oversized files
    clearly."""
    name = str(path)
    kind = dataclasses.replace(access.SCENARIO, what="a YAML file", max_bytes=limits.max_bytes)
    try:
        raw = access.read_bytes(path, kind, shown=name)
        if b"\x00" in raw:
            raise YamlError(name, "looks like a binary file (NUL bytes); expected YAML text")
        text = access.decode(raw, kind, name)
    except access.AccessError as exc:
        raise YamlError(name, exc.problem, exc.line) from None
    return loads(text, name, limits=limits, duplicates=duplicates, expected=expected)
