"""Documented history: the event catalog, its sources and the accounts on which they disagree.

The catalog (``model/data/events.yaml``) lists every dated event in the source articles
(``model/data/sources/*.txt``, described in ``model/data/sources.yaml``), each with its source file
and a short verbatim quote. Shocks enter a history replay from outside; decisions are the moves of
the modelled actors that the agents' rules should reproduce (the calibration targets); context is
background. The records and their rules are ``model.inputs.catalog_schema``; the vocabulary
(actors, CAMEO codes, actions, state variables) is ``model.core.spec``.

The YAML files are read with ``model.io.yamlio`` (safe, located, bounded by ``CATALOG_LIMITS``;
each article by ``MAX_ARTICLE_BYTES``). Loading validates everything and reports *all* problems
at once, each as ``FILE:LINE: event 'ID': what was expected``. Adding an article needs no code:
drop its ``.txt`` into the sources folder, add a record to ``sources.yaml`` and cite it from
``events.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from model.inputs.catalog_schema import (
    KINDS,
    OTHER,
    PARTIES,
    Conflict,
    Event,
    RecordProblemsError,
    Source,
    quote_found,
    squash,
)
from model.io import yamlio
from model.io.dates import date_span, parse_date
from model.io.errors import ModelInputError
from model.io.paths import DATA as DATA_DIR

EVENTS_PATH = DATA_DIR / "events.yaml"
SOURCES_PATH = DATA_DIR / "sources.yaml"
SOURCES_DIR = DATA_DIR / "sources"

__all__ = [
    "CATALOG_LIMITS", "FRAME_COLUMNS", "KINDS", "MAX_ARTICLE_BYTES", "OTHER", "PARTIES", "Catalog",
    "CatalogError", "Conflict", "Event", "Source", "date_span", "format_events", "load_catalog",
    "parse_date", "quote_found",
]

#: Bounds on ``events.yaml`` and ``sources.yaml``: the shipped catalog is about 60 kB and 3,000
#: values, so these leave room for some fifty times as many events (the default YAML limits,
#: made for scenarios, would stop it at about seven times).
CATALOG_LIMITS = yamlio.Limits(max_bytes=10_000_000, max_nodes=200_000)
#: Bound on one source article (the shipped ones are 4-14 kB).
MAX_ARTICLE_BYTES = 5_000_000

FRAME_COLUMNS: tuple[str, ...] = (
    "id", "date", "month", "precision", "actor", "target", "actor_name", "target_name", "cameo",
    "event_type", "goldstein", "kind", "action", "magnitude_value", "magnitude_unit", "source",
    "outlet", "perspective", "quote",
)


class CatalogError(ModelInputError):
    """The catalog or its sources are invalid (a ``ValueError``; the CLI reports it like any bad
    input). ``problems`` lists every problem found, each as ``FILE:LINE: event 'ID': what was
    expected``."""

    def __init__(self, problems: Iterable[str]):
        self.problems: list[str] = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the event catalog:"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


# --------------------------------------------------------------------------------- YAML input
class _Problems:
    """Collects problems as ``FILE:LINE: WHAT 'ID': message``."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, file: Path | str, line: int, what: str, message: str) -> None:
        where = f"{file}:{line}" if line else f"{file}"
        self.items.append(f"{where}: {what}: {message}" if what else f"{where}: {message}")

    def from_validation(self, doc: yamlio.Located, record: tuple, what: str,
                        exc: ValidationError) -> None:
        """Every error of a record's validation, at the line of the key it concerns."""
        for err in exc.errors():
            loc = (*record, *err["loc"])
            inner = (err.get("ctx") or {}).get("error")
            if isinstance(inner, RecordProblemsError):
                for key, message in inner.items:
                    self.add(doc.file, doc.line((*loc, key)), what, message)
                continue
            self.add(doc.file, doc.line(loc), what, _describe(err))

    def duplicates(self, doc: yamlio.Located, record: tuple, what: str) -> None:
        """Keys given twice anywhere inside the record at path ``record``."""
        n = len(record)
        for path, (line, _) in doc.duplicates:
            if len(path) > n and path[:n] == record:
                self.add(doc.file, line, what, f"duplicate key '{path[-1]}'")


def _describe(err: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "missing":
        return f"missing required field '{loc}'"
    if kind == "extra_forbidden":
        return f"unknown field '{loc}'"
    message = err["msg"].removeprefix("Value error, ")
    return f"{loc}: {message}" if loc else message


def _read_yaml(path: Path, key: str, problems: _Problems) -> yamlio.Located | None:
    """The YAML document in ``path`` (repeated keys kept aside, to be reported with their
    records), or None after reporting why it cannot be read."""
    try:
        return yamlio.load(path, limits=CATALOG_LIMITS, duplicates="keep_first",
                           expected=f"a mapping with '{key}:'")
    except yamlio.YamlError as exc:
        problems.add(path, exc.line, "", f"invalid YAML: {exc.problem}" if exc.line
                     else exc.problem)
        return None


def _top_list(doc: yamlio.Located | None, key: str, problems: _Problems, *,
              required: bool) -> list:
    """The list under a top-level key, reporting a wrong shape."""
    if doc is None:  # already reported by _read_yaml
        return []
    if not isinstance(doc.data, dict):
        problems.add(doc.file, doc.line(()), "", f"expected a mapping with '{key}:'")
        return []
    if key not in doc.data:
        if required:
            problems.add(doc.file, doc.line(()), "", f"missing top-level key '{key}:'")
        return []
    items = doc.data[key]
    if not isinstance(items, list):
        problems.add(doc.file, doc.line((key,)), "", f"'{key}:' must be a list")
        return []
    return items


def _check_top_keys(doc: yamlio.Located | None, allowed: tuple[str, ...],
                    problems: _Problems) -> None:
    if doc is None or not isinstance(doc.data, dict):
        return
    for key in doc.data:
        if key not in allowed:
            problems.add(doc.file, doc.line((key,)), "",
                         f"unknown top-level key {key!r}; expected {', '.join(allowed)}")
    for path, (line, _) in doc.duplicates:
        if len(path) == 1:
            problems.add(doc.file, line, "", f"duplicate top-level key {path[0]!r}")


def _record_name(item: Any, key: str, index: int) -> str:
    name = item.get(key) if isinstance(item, dict) else None
    return repr(name) if isinstance(name, str) else f"#{index + 1}"


def _read_article(file: Path) -> str:
    """The text of a source article; ``OSError``, ``UnicodeDecodeError`` or ``ValueError`` (too
    large) when it cannot be used."""
    size = file.stat().st_size
    if size > MAX_ARTICLE_BYTES:
        raise ValueError(f"it is {size:,} bytes; the limit is {MAX_ARTICLE_BYTES:,}")
    return file.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------ catalog
@dataclass(frozen=True, eq=False)
class Catalog:
    """The validated catalog: ``events`` (sorted by month, then date), ``sources`` by file name,
    ``conflicts`` (the disagreeing accounts), and the paths it was loaded from."""

    events: list[Event]
    sources: dict[str, Source]
    conflicts: list[Conflict]
    events_path: Path
    sources_path: Path
    sources_dir: Path

    def event(self, event_id: str) -> Event:
        """The event with this id (``KeyError`` if there is none)."""
        for ev in self.events:
            if ev.id == event_id:
                return ev
        raise KeyError(event_id)

    def conflict(self, conflict_id: str) -> Conflict:
        """The conflict record with this id (``KeyError`` if there is none)."""
        for c in self.conflicts:
            if c.id == conflict_id:
                return c
        raise KeyError(conflict_id)

    def source_text(self, file: str) -> str:
        """The full text of a source article."""
        if file not in self.sources:
            raise KeyError(file)
        return (self.sources_dir / file).read_text(encoding="utf-8")

    def frame(self) -> pd.DataFrame:
        """One row per event with the columns in ``FRAME_COLUMNS``, sorted by month (then date and
        id), the source's outlet and perspective joined in."""
        rows = [
            {
                "id": ev.id, "date": ev.date, "month": ev.month, "precision": ev.precision,
                "actor": ev.actor, "target": ev.target, "actor_name": ev.actor_name,
                "target_name": ev.target_name, "cameo": ev.cameo, "event_type": ev.event_type,
                "goldstein": ev.goldstein, "kind": ev.kind, "action": ev.action,
                "magnitude_value": ev.magnitude.value if ev.magnitude else None,
                "magnitude_unit": ev.magnitude.unit if ev.magnitude else None,
                "source": ev.source, "outlet": self.sources[ev.source].outlet,
                "perspective": self.sources[ev.source].perspective, "quote": squash(ev.quote),
            }
            for ev in self.events
        ]
        df = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
        df["magnitude_value"] = df["magnitude_value"].astype("float64")
        df["goldstein"] = df["goldstein"].astype("float64")
        return df.sort_values(["month", "date", "id"], kind="stable").reset_index(drop=True)

    def filter(
        self,
        actor: str | None = None,
        kind: str | None = None,
        start: str | None = None,
        end: str | None = None,
        cameo: str | None = None,
    ) -> list[Event]:
        """Events matching every given criterion, in month order.

        ``actor`` matches the event's actor or its target; ``kind`` is shock, decision or context;
        ``start``/``end`` ("YYYY" or "YYYY-MM") bound the event's ``month`` inclusively; ``cameo``
        matches the code and its sub-codes (``"19"`` matches 19, 191 and 195), as CAMEO is a tree.
        """
        if actor is not None and actor not in PARTIES:
            raise ValueError(f"unknown actor {actor!r}; expected one of {', '.join(PARTIES)}")
        if kind is not None and kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        lo = date_span(start, allow=("year", "month"))[0] if start is not None else None
        hi = date_span(end, allow=("year", "month"))[1] if end is not None else None
        return [
            ev for ev in self.events
            if (actor is None or actor in (ev.actor, ev.target))
            and (kind is None or ev.kind == kind)
            and (lo is None or ev.month >= lo)
            and (hi is None or ev.month <= hi)
            and (cameo is None or ev.cameo.startswith(cameo))
        ]

    def decisions(self) -> list[Event]:
        """Documented decisions of the modelled actors (each with its action): what the agents'
        rules should reproduce in a history replay."""
        return [ev for ev in self.events if ev.kind == "decision" and ev.action is not None]

    def shocks(self) -> list[Event]:
        """Events that enter a history replay from outside the agents' rules."""
        return [ev for ev in self.events if ev.kind == "shock"]


def load_catalog(
    events_path: Path | str | None = None,
    sources_path: Path | str | None = None,
    sources_dir: Path | str | None = None,
) -> Catalog:
    """Load and validate a catalog; raise ``CatalogError`` listing every problem.

    Defaults: the packaged ``model/data/events.yaml``; ``sources.yaml`` next to the events file;
    the ``sources/`` folder next to ``sources.yaml``. The packaged catalog is loaded once and
    cached (treat it as read-only)."""
    if events_path is None and sources_path is None and sources_dir is None:
        return _default_catalog()
    events = Path(events_path) if events_path is not None else EVENTS_PATH
    sources = Path(sources_path) if sources_path is not None else events.parent / "sources.yaml"
    folder = Path(sources_dir) if sources_dir is not None else sources.parent / "sources"
    return _load(events, sources, folder)


@cache
def _default_catalog() -> Catalog:
    return _load(EVENTS_PATH, SOURCES_PATH, SOURCES_DIR)


def _load(events_path: Path, sources_path: Path, sources_dir: Path) -> Catalog:
    reader = _Reader()
    reader.read_sources(sources_path, sources_dir)
    doc = _read_yaml(events_path, "events", reader.problems)
    _check_top_keys(doc, ("events", "conflicts"), reader.problems)
    events = reader.read_events(doc)
    conflicts = reader.read_conflicts(doc, events)
    if reader.problems.items:
        raise CatalogError(reader.problems.items)
    # Month order is what every consumer wants; the stable sort keeps file order within a date.
    events.sort(key=lambda ev: (ev.month, ev.date))
    return Catalog(events, reader.sources, conflicts, events_path, sources_path, sources_dir)


class _Reader:
    """Reads the catalog's files record by record, collecting every problem: the source records
    and their texts first, then the events and conflicts that quote them."""

    def __init__(self) -> None:
        self.problems = _Problems()
        self.sources: dict[str, Source] = {}
        self.texts: dict[str, str] = {}

    def read_sources(self, path: Path, folder: Path) -> None:
        """Source records by file name, and the text of each file found on disk."""
        doc = _read_yaml(path, "sources", self.problems)
        _check_top_keys(doc, ("sources",), self.problems)
        for i, item in enumerate(_top_list(doc, "sources", self.problems, required=True)):
            what, rec = f"source {_record_name(item, 'file', i)}", ("sources", i)
            self.problems.duplicates(doc, rec, what)
            try:
                src = Source.model_validate(item)
            except ValidationError as exc:
                self.problems.from_validation(doc, rec, what, exc)
                continue
            if src.file in self.sources:
                self.problems.add(path, doc.line(rec), what, "duplicate record for this file")
                continue
            self.sources[src.file] = src
            self._read_text(folder / src.file, doc, rec, what)
        if folder.is_dir():
            for file in sorted(folder.glob("*.txt")):
                if file.name not in self.sources:
                    self.problems.add(file, 0, "", f"source file has no record in {path}")
        elif doc is not None:
            self.problems.add(folder, 0, "", "sources folder not found")

    def _read_text(self, file: Path, doc: yamlio.Located, rec: tuple, what: str) -> None:
        line = doc.line((*rec, "file"))
        try:
            self.texts[file.name] = _read_article(file)
        except FileNotFoundError:
            self.problems.add(doc.file, line, what, f"file missing on disk: {file}")
        except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            self.problems.add(doc.file, line, what, f"cannot read {file}: {exc}")

    def _check_quote(self, doc: yamlio.Located, path: tuple, what: str, source: str,
                     quote: str) -> None:
        """The quote at ``path`` is verbatim in its source (the ``source`` key beside it)."""
        source_line = doc.line((*path[:-1], "source"))
        if source not in self.sources:
            self.problems.add(doc.file, source_line, what,
                              f"source {source!r} has no record in sources.yaml (or an invalid "
                              f"one)")
        elif source not in self.texts:
            self.problems.add(doc.file, source_line, what,
                              f"source file {source!r} is missing on disk or unreadable")
        elif not quote_found(quote, self.texts[source]):
            self.problems.add(doc.file, doc.line(path), what,
                              f"quote not found verbatim in {source} (whitespace aside): "
                              f"{quote!r}")

    def read_events(self, doc: yamlio.Located | None) -> list[Event]:
        events: list[Event] = []
        first_line: dict[str, int] = {}
        for i, item in enumerate(_top_list(doc, "events", self.problems, required=True)):
            what, rec = f"event {_record_name(item, 'id', i)}", ("events", i)
            line = doc.line(rec)
            if not isinstance(item, dict):
                self.problems.add(doc.file, line, what, "expected a mapping")
                continue
            self.problems.duplicates(doc, rec, what)
            try:
                ev = Event.model_validate(item)
            except ValidationError as exc:
                self.problems.from_validation(doc, rec, what, exc)
                ev = None
            # Duplicate ids and quotes are checked even when other fields are broken.
            ev_id = item.get("id")
            if isinstance(ev_id, str):
                if ev_id in first_line:
                    self.problems.add(doc.file, line, what,
                                      f"duplicate id (first used at line {first_line[ev_id]})")
                else:
                    first_line[ev_id] = line
            source, quote = item.get("source"), item.get("quote")
            if isinstance(source, str) and isinstance(quote, str):
                self._check_quote(doc, (*rec, "quote"), what, source, quote)
            if ev is not None:
                ev._file, ev._line = doc.file, line
                events.append(ev)
        return events

    def read_conflicts(self, doc: yamlio.Located | None, events: list[Event]) -> list[Conflict]:
        conflicts: list[Conflict] = []
        lines: dict[str, int] = {}
        for i, item in enumerate(_top_list(doc, "conflicts", self.problems, required=False)):
            what, rec = f"conflict {_record_name(item, 'id', i)}", ("conflicts", i)
            if not isinstance(item, dict):
                self.problems.add(doc.file, doc.line(rec), what, "expected a mapping")
                continue
            self.problems.duplicates(doc, rec, what)
            try:
                conflict = Conflict.model_validate(item)
            except ValidationError as exc:
                self.problems.from_validation(doc, rec, what, exc)
                continue
            if conflict.id in lines:
                self.problems.add(doc.file, doc.line(rec), what,
                                  f"duplicate id (first used at line {lines[conflict.id]})")
                continue
            lines[conflict.id] = doc.line(rec)
            for j, account in enumerate(conflict.accounts):
                self._check_quote(doc, (*rec, "accounts", j, "quote"), what, account.source,
                                  account.quote)
            conflicts.append(conflict)
        if doc is not None:
            self._check_conflicts_used(doc.file, events, conflicts, lines)
        return conflicts

    def _check_conflicts_used(self, file: str, events: list[Event], conflicts: list[Conflict],
                              lines: dict[str, int]) -> None:
        """Each event's conflict has a record, and each record is used by an event."""
        used = {ev.conflict for ev in events if ev.conflict is not None}
        for ev in events:
            if ev.conflict is not None and ev.conflict not in lines:
                self.problems.add(file, ev._line, f"event {ev.id!r}",
                                  f"conflict {ev.conflict!r} has no record under 'conflicts:'")
        for conflict in conflicts:
            if conflict.id not in used:
                self.problems.add(file, lines[conflict.id], f"conflict {conflict.id!r}",
                                  "no event refers to this conflict (set `conflict:` on the "
                                  "event the model uses)")


# ------------------------------------------------------------------------------------ listing
def _party(code: str, name: str | None) -> str:
    return name if code == OTHER and name else code


def format_events(events: Iterable[Event]) -> str:
    """A readable listing, one event per two lines: month, actor->target, event type (CAMEO code,
    Goldstein weight), kind (and action), id; then the quote and its source, indented."""
    lines: list[str] = []
    for ev in events:
        who = f"{_party(ev.actor, ev.actor_name)} -> {_party(ev.target, ev.target_name)}"
        kind = f"{ev.kind}:{ev.action}" if ev.action else ev.kind
        size = (f" [{ev.magnitude.value:g} {ev.magnitude.unit}]" if ev.magnitude else "")
        lines.append(
            f"{ev.month}  {who:<28}  {ev.event_type} ({ev.cameo}, {ev.goldstein:+.1f}){size}"
            f"  {kind}  {ev.id}"
        )
        lines.append(f"         \"{squash(ev.quote)}\" ({ev.source})")
    return "\n".join(lines)
