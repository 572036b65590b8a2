"""Shared plumbing of the rule readers: the read context (ATT&CK look-ups memoised), safe file/YAML/JSON
loading, and small coercion helpers for the loosely typed fields real rule files have."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from detcov.attack import AttackKB, IdResolution
from detcov.errors import Issue, Location, Severity
from detcov.rules.logsources import LogSourceMapper, mapper_for
from detcov.rules.model import Rule
from detcov.usertext import TextProblem, decode_text

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_YAML_NODES = 200_000  # expanded size of a YAML document (aliases counted every time they are used)
SEVERITIES = {
    "informational": "informational",
    "info": "informational",
    "low": "low",
    "medium": "medium",
    "moderate": "medium",
    "high": "high",
    "critical": "critical",
}


class SkipFile(Exception):
    """The whole file is not read; ``reason`` (``kind: detail``) is what the user sees."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Parsed:
    """What a reader got out of one file."""

    rules: list[Rule] = field(default_factory=list)
    items_skipped: int = 0
    issues: list[Issue] = field(default_factory=list)

    def skip_item(self, message: str, location: Location, severity: Severity = Severity.INFO) -> None:
        self.items_skipped += 1
        self.issues.append(Issue(message, location, severity=severity))

    def extend(self, other: Parsed) -> None:
        self.rules.extend(other.rules)
        self.items_skipped += other.items_skipped
        self.issues.extend(other.issues)


class ReadContext:
    """One ATT&CK version's look-ups for a whole read: ids, tactics and log sources, each resolved once."""

    def __init__(self, kb: AttackKB, *, queries: bool = True) -> None:
        self.kb = kb
        self.queries = queries  # keep each rule's query text (a scan does not: readers may skip building it)
        self.maps: LogSourceMapper = mapper_for(kb)
        self._ids: dict[str, IdResolution] = self.maps.resolutions  # shared by every read against this kb
        self._tactics: dict[str, str | None] = self.maps.tactics

    def resolve(self, raw: str) -> IdResolution:
        res = self._ids.get(raw)
        if res is None:
            res = self._ids[raw] = self.kb.resolve(raw)
        return res

    def techniques(self, raws: Iterable[Any]) -> tuple[IdResolution, ...]:
        """Normalised, de-duplicated technique ids; non-strings are ignored, invalid strings kept
        (reported)."""
        out: dict[str, IdResolution] = {}
        for raw in raws:
            if isinstance(raw, str) and raw.strip():
                res = self.resolve(raw.strip())
                out.setdefault(res.id or res.raw, res)
        return tuple(out.values())

    def tactic(self, raw: str) -> str | None:
        if raw not in self._tactics:
            tac = self.kb.tactic(re.sub(r"(?<=[a-z])(?=[A-Z])", " ", raw))  # CamelCase (Sentinel) → words
            self._tactics[raw] = tac.shortname if tac else None
        return self._tactics[raw]

    def tactics(self, raws: Iterable[Any]) -> tuple[str, ...]:
        found = (self.tactic(r) for r in raws if isinstance(r, str) and r.strip())
        return tuple(dict.fromkeys(t for t in found if t))


# ----- loading ----------------------------------------------------------------------------------------------
def decode(data: bytes) -> str:
    """Bytes → text (see :func:`detcov.usertext.decode_text`); anything else skips the file with the reason."""
    try:
        return decode_text(data)
    except TextProblem as exc:
        where = f" at line {exc.line}" if exc.line and exc.line > 1 else ""
        raise SkipFile(f"{exc.message}{where}" + ("" if exc.message.startswith("binary") else f": {exc.hint}")) \
            from exc


def yaml_documents(text: str, shallow: frozenset[str] = frozenset()) -> list[Any]:
    """Every YAML document of a text (PyYAML's C safe loader); bad YAML and alias bombs become
    :class:`SkipFile`.

    ``shallow``: top-level keys whose contents are not needed in depth (a Sigma ``detection``: only its
    ``condition`` counts). Of their mapping, only entries holding a scalar or a list of scalars are built; deeper
    values are None. Building Python objects is most of a YAML load, and a scan reads 100,000 rules."""
    try:
        docs = [d for d in _load_all(text, shallow) if d is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
        raise SkipFile(f"malformed YAML{where}: {problem}") from exc
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise SkipFile(f"malformed YAML: {' '.join(str(exc).split())[:200]}") from exc
    if "&" in text and "*" in text and any(_expanded_size(d, {}) > MAX_YAML_NODES for d in docs):
        raise SkipFile(f"malformed YAML: aliases expand to more than {MAX_YAML_NODES:,} nodes (alias bomb)")
    return docs


def _load_all(text: str, shallow: frozenset[str]) -> list[Any]:
    """The documents, built straight from the parser's events (:class:`_Events`); a file with anchors, aliases,
    merge keys, tagged collections or complex keys is built from PyYAML's node graph instead (:func:`_from_nodes`),
    which gives the same values (tests compare both on every corpus file)."""
    try:
        return _Events(text, shallow).documents()
    except _UseNodes:
        return list(_from_nodes(text, shallow))


class _UseNodes(Exception):
    """The events hold something only PyYAML's composer handles (anchors, aliases, merge keys, tags on
    collections, non-scalar keys)."""


class _Events:
    """A YAML text's documents built from the C parser's events, without PyYAML's node graph: scalars are resolved
    and constructed by the safe loader's own resolver and constructors, so every value is the one
    ``yaml.safe_load`` gives (plain strings, the common case, skip both calls). ``shallow`` as in
    :func:`yaml_documents`."""

    def __init__(self, text: str, shallow: frozenset[str]) -> None:
        self.loader = yaml.CSafeLoader(text)
        self.get: Callable[[], Any] = self.loader.get_event  # one event, from libyaml
        self.resolve: Callable[[type[Node], str, tuple[bool, bool]], str] = self.loader.resolve
        self.shallow = shallow
        resolvers = self.loader.yaml_implicit_resolvers
        self.plain_str = None not in resolvers and not self.loader.yaml_path_resolvers
        self.first = frozenset(k for k in resolvers if k)  # first characters some implicit resolver looks at

    def documents(self) -> list[Any]:
        loader, get = self.loader, self.get
        try:
            get()  # stream start
            docs = []
            while not isinstance(loader.peek_event(), StreamEndEvent):
                get()  # document start
                docs.append(self.node(get(), top=True))
                get()  # document end
                loader.constructed_objects = {}
            return docs
        finally:
            loader.dispose()

    def node(self, event: Event, top: bool = False) -> Any:
        if isinstance(event, ScalarEvent):
            return self.scalar(event)
        _plain_collection(event)
        if isinstance(event, SequenceStartEvent):
            items = []
            while not isinstance(nxt := self.get(), SequenceEndEvent):
                items.append(self.node(nxt))
            return items
        if top and self.shallow:
            return self.mapping(lambda key, value: self.flat(value) if key in self.shallow
                                and isinstance(value, MappingStartEvent) else self.node(value))
        return self.mapping(lambda _, value: self.node(value))

    def mapping(self, build: Callable[[Any, Event], Any]) -> dict[Any, Any]:
        """A mapping's entries up to its end, each value built by ``build(key, first event)``."""
        out: dict[Any, Any] = {}
        while not isinstance(nxt := self.get(), MappingEndEvent):
            key = self.node(nxt)
            if isinstance(key, list | dict):
                raise _UseNodes
            out[key] = build(key, self.get())
        return out

    def scalar(self, event: ScalarEvent) -> Any:
        if event.anchor is not None:
            raise _UseNodes
        value, tag = event.value, event.tag
        if tag is None or tag == "!":
            if self.plain_str and (not event.implicit[0] or (value and value[0] not in self.first)):
                return value
            tag = self.resolve(ScalarNode, value, event.implicit)
            if tag == _STR:
                return value
            if tag == _MERGE:
                raise _UseNodes
        start: Any = event.start_mark  # libyaml's marks, which PyYAML's nodes take as their own
        end: Any = event.end_mark
        return self.loader.construct_object(ScalarNode(tag, value, start, end, event.style), deep=True)

    def flat(self, start: MappingStartEvent) -> dict[Any, Any]:
        """A shallow key's mapping: entries holding a scalar or a list of scalars; deeper values are None."""
        _plain_collection(start)
        return self.mapping(lambda _, value: self.flat_value(value))

    def flat_value(self, event: Event) -> Any:
        if isinstance(event, ScalarEvent):
            return self.scalar(event)
        _plain_collection(event)
        scalars: list[ScalarEvent] = []
        flat = isinstance(event, SequenceStartEvent)
        depth = 1
        while depth:  # the value's events, kept only while they are a list of scalars
            nxt = self.get()
            if isinstance(nxt, AliasEvent) or getattr(nxt, "anchor", None) is not None:
                raise _UseNodes
            if isinstance(nxt, CollectionStartEvent):
                depth, flat = depth + 1, False
            elif isinstance(nxt, CollectionEndEvent):
                depth -= 1
            elif flat:
                scalars.append(nxt)
        return [self.scalar(s) for s in scalars] if flat else None


def _plain_collection(event: Event) -> None:
    """A collection's start event the events path builds as PyYAML would; an alias, an anchor or a tag is
    :class:`_UseNodes`."""
    if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None or \
            getattr(event, "tag", None) not in (None, "!"):
        raise _UseNodes


def _from_nodes(text: str, shallow: frozenset[str]) -> Iterator[Any]:
    if not shallow:
        yield from yaml.load_all(text, Loader=yaml.CSafeLoader)
        return
    loader = yaml.CSafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if not isinstance(node, MappingNode) or any(k.tag == _MERGE for k, _ in node.value):
                yield loader.construct_document(node)
                continue
            doc = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                shallow_map = key in shallow and isinstance(value_node, MappingNode) and not any(
                    k.tag == _MERGE for k, _ in value_node.value)
                doc[key] = _shallow(loader, value_node) if shallow_map else loader.construct_object(value_node,
                                                                                                   deep=True)
            loader.constructed_objects, loader.recursive_objects = {}, {}
            yield doc
    finally:
        loader.dispose()


def _shallow(loader: yaml.CSafeLoader, node: MappingNode) -> dict[Any, Any]:
    def flat(v: Node) -> bool:
        return isinstance(v, ScalarNode) or (isinstance(v, SequenceNode)
                                             and all(isinstance(x, ScalarNode) for x in v.value))

    return {loader.construct_object(k, deep=True): loader.construct_object(v, deep=True) if flat(v) else None
            for k, v in node.value}


_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"


def _expanded_size(node: Any, memo: dict[int, int]) -> int:
    """Number of nodes a document has when its aliases are expanded; shared nodes are sized once."""
    if not isinstance(node, dict | list):
        return 1
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # cycles (recursive aliases) count once
    values = node.values() if isinstance(node, dict) else node
    size = 1 + sum(_expanded_size(v, memo) for v in values)
    memo[key] = size
    return size


def first_line(text: str, pattern: str, default: int = 1) -> int:
    """1-based line of the first match of a multi-line regex, else ``default``."""
    match = re.search(pattern, text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else default


# ----- coercion helpers -------------------------------------------------------------------------------------
def as_list(value: Any) -> list[Any]:
    """A YAML/JSON value that should be a list: lists as is, one scalar → [scalar], None → []."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def strings(value: Any) -> list[str]:
    return [v.strip() for v in as_list(value) if isinstance(v, str) and v.strip()]


def text(value: Any, default: str = "") -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return default


def get(mapping: Any, *keys: str) -> Any:
    """Nested ``mapping[k1][k2]...``, None when any level is missing or not a mapping."""
    for key in keys:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


def severity(value: Any) -> str | None:
    return SEVERITIES.get(value.strip().lower()) if isinstance(value, str) else None


def truthy(value: Any) -> bool | None:
    """Booleans as config files write them (``true``, ``1``, ``yes``); None when absent or unreadable."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("1", "true", "yes", "on", "enabled"):
            return True
        if low in ("0", "false", "no", "off", "disabled"):
            return False
    return None
