"""Safe YAML reading with locations: every value keeps the line and column it came from.

Only the YAML safe schema is used (``yaml.SafeLoader``: no Python tags, no code). On top of it:
duplicate keys are rejected, and size, nesting depth and alias use are bounded, so a hostile file
cannot exhaust memory. Errors are ``YamlError`` with ``file:line:column: message``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from model.io.errors import ModelInputError

MAX_BYTES = 2_000_000
MAX_DEPTH = 40
MAX_ALIASES = 100
MAX_NODES = 20_000

Loc = tuple[int, int]  # 1-based line, column
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class YamlError(ModelInputError):
    """A file that is not acceptable YAML; the message is located."""


@dataclass
class Located:
    """A parsed document and the location of each value, by its path of keys and indices."""

    data: Any
    file: str
    locs: dict[tuple, Loc] = field(default_factory=dict)
    #: Location of each mapping key (by the path of its value), for 'unknown key' messages.
    key_locs: dict[tuple, Loc] = field(default_factory=dict)

    def where(self, path: tuple | list) -> str:
        """``file:line:col`` of the deepest known prefix of ``path``."""
        p = tuple(path)
        while p and p not in self.locs:
            p = p[:-1]
        line, col = self.locs.get(p, (1, 1))
        return f"{self.file}:{line}:{col}"

    def where_key(self, path: tuple | list) -> str:
        """``file:line:col`` of the key of ``path`` (of its value if the key is unknown)."""
        if tuple(path) in self.key_locs:
            line, col = self.key_locs[tuple(path)]
            return f"{self.file}:{line}:{col}"
        return self.where(path)


def _convert(node: yaml.Node, loader: yaml.SafeLoader, path: tuple, locs: dict, state: dict,
             depth: int, file: str) -> Any:
    if depth > MAX_DEPTH:
        raise YamlError(f"{file}:{node.start_mark.line + 1}:{node.start_mark.column + 1}: "
                        f"nesting deeper than {MAX_DEPTH} levels")
    state["nodes"] += 1
    if state["nodes"] > MAX_NODES:
        raise YamlError(f"{file}: more than {MAX_NODES} values (alias expansion or a huge file)")
    locs[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_TAGS:
        raise YamlError(f"{file}:{node.start_mark.line + 1}:{node.start_mark.column + 1}: "
                        f"tag {node.tag!r} is not allowed (only plain YAML is accepted: no "
                        f"!!python or custom tags)")
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict = {}
        for k_node, v_node in node.value:
            key = loader.construct_object(k_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                raise YamlError(f"{file}:{k_node.start_mark.line + 1}:"
                                f"{k_node.start_mark.column + 1}: keys must be plain scalars")
            if key in out:
                raise YamlError(f"{file}:{k_node.start_mark.line + 1}:"
                                f"{k_node.start_mark.column + 1}: duplicate key {key!r}")
            state["key_locs"][(*path, key)] = (k_node.start_mark.line + 1,
                                               k_node.start_mark.column + 1)
            out[key] = _convert(v_node, loader, (*path, key), locs, state, depth + 1, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(v, loader, (*path, i), locs, state, depth + 1, file)
                for i, v in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


class _CountingLoader(yaml.SafeLoader):
    """SafeLoader that bounds aliases, nesting depth and the number of nodes while composing, so
    a billion-laughs, deeply nested or huge file is refused early (before any recursion limit or
    memory is reached)."""

    alias_count = 0
    depth = 0
    node_count = 0

    def _fail(self, message: str) -> None:
        mark = self.peek_event().start_mark
        raise YamlError(f"{self.name}:{mark.line + 1}:{mark.column + 1}: {message}")

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                self._fail(f"more than {MAX_ALIASES} aliases")
        self.node_count += 1
        if self.node_count > MAX_NODES:
            self._fail(f"more than {MAX_NODES} values (a huge file)")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH + 1:
                self._fail(f"nesting deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def loads(text: str, file: str = "<string>") -> Located:
    """Parse YAML text into a ``Located`` document (safe schema only)."""
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise YamlError(f"{file}: text is more than {MAX_BYTES:,} bytes; the limit is "
                        f"{MAX_BYTES:,}")
    if not text.strip():
        raise YamlError(f"{file}: the file is empty; expected a YAML mapping")
    try:
        loader = _CountingLoader(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise YamlError(f"{file}:{line}:{col}: unacceptable character #x{exc.character:04x}: "
                        f"control characters are not allowed in YAML text") from None
    loader.name = file
    try:
        node = loader.get_single_node()
        if node is None:
            raise YamlError(f"{file}: the file holds no YAML document")
        locs: dict = {}
        key_locs: dict = {}
        data = _convert(node, loader, (), locs, {"nodes": 0, "key_locs": key_locs}, 0, file)
    except YamlError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        problem = exc.problem or exc.context or "invalid YAML"
        if "!!python" in str(exc) or "could not determine a constructor" in str(exc):
            problem = f"{problem} (only plain YAML is accepted: no !!python or custom tags)"
        raise YamlError(f"{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"{file}: invalid YAML ({exc})") from None
    finally:
        loader.dispose()
    return Located(data=data, file=file, locs=locs, key_locs=key_locs)


def load(path: str | Path) -> Located:
    """Read and parse a YAML file, refusing binary, non-UTF-8 and oversized files clearly."""
    p = Path(path)
    name = str(path)
    try:
        if not p.exists():
            raise YamlError(f"{name}: no such file")
        if p.is_dir():
            raise YamlError(f"{name}: is a folder, expected a YAML file")
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise YamlError(f"{name}: file is {size:,} bytes; the limit is {MAX_BYTES:,}")
        raw = p.read_bytes()
    except OSError as exc:  # a name too long, no permission, ...
        raise YamlError(f"{name}: cannot read the file ({exc.strerror or exc})") from None
    if b"\x00" in raw:
        raise YamlError(f"{name}: looks like a binary file (NUL bytes); expected YAML text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlError(f"{name}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                        f"offset {exc.start}); save the file as UTF-8") from None
    return loads(text.removeprefix("\ufeff"), name)
