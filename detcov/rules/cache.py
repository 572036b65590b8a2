"""A cache of parsed rule files, so a second scan of an unchanged rule folder parses nothing. No pickle.

One cache file per rule source (the paths one :func:`~detcov.rules.read_rules` call reads) and read setup: the
key covers those paths, the format filter, CSV column names, the size limit, the ATT&CK bundle's SHA-256 (rules
are normalised against it), detcov's version and the shipped log-source mapping tables. Inside, each rule file
is an entry keyed by its path and checked against its size and modification time (nanoseconds); a changed,
new or deleted file is parsed again or dropped, the others are taken as they are.

File layout: JSON lines written with orjson. A header (magic, format, detcov version, key); an index of the files
with their stat stamps (what a scan compares with the folder before decoding anything); then the files, a few
hundred per line, each with its accounting, its content SHA-256 and its rules. Each line is self-contained: it
carries the tables of what its rules share (technique resolutions and sets, log-source requirements and sets, small
repeated values), so a cached rule is a few numbers and its own texts, shared objects stay shared in memory, and a
parse worker writes the line of the files it parsed (no rule is pickled back to the reading process, which decodes
the line as a warm read would). Last, a trailer with the number of lines, their length and SHA-256. Lines are
written and read one at a time, so 100,000 rules never sit in memory twice. A truncated, corrupt or foreign file
fails the header or trailer test and is rebuilt; writes are atomic.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, NamedTuple

import orjson

from detcov import __version__
from detcov.attack import IdResolution, IdStatus
from detcov.attack.cache import cache_dir
from detcov.errors import Issue, Location, Severity
from detcov.fileio import atomic_write
from detcov.rules.model import (
    Correlation,
    FileResult,
    LogSourceNeed,
    LogSourceReq,
    Placement,
    Rule,
    RuleFormat,
    RuleStatus,
    current_ids,
    rule_from_fields,
)
from detcov.slots import slot_builder

MAGIC = "detcov-rule-cache"
FORMAT = 4
FILES_PER_LINE = 500
RACY_SECONDS = 2.0
"""A file modified this recently may change again within the same timestamp tick: it is not cached (git's
"racy" rule)."""

Stamp = tuple[int, int]  # (size, mtime_ns)

# The fields the codec below writes, per model, in order. A model that gains a field no longer matches: the cache
# is then not used (correct results, no speed) and tests/test_rules_cache.py fails until the codec learns it.
CODEC_FIELDS: dict[type, tuple[str, ...]] = {
    Rule: ("format", "location", "id", "title", "status", "raw_status", "severity", "techniques", "tactics",
           "log_sources", "platforms", "query", "notes", "score", "applicable_to", "siems", "name", "correlation"),
    IdResolution: ("raw", "id", "current", "status", "chain", "suggestions", "detail", "release"),
    LogSourceNeed: ("label", "components", "device_types", "platforms", "products", "ml_job", "custom_table"),
    LogSourceReq: ("kind", "value", "needs"),
    Correlation: ("type", "rules", "group_by", "timespan", "unresolved"),
    FileResult: ("path", "format", "rules", "skipped", "items_skipped", "issues", "sha256"),
    Location: ("path", "line", "column"),
    Issue: ("message", "location", "hint", "severity"),
}


def codec_matches() -> bool:
    """Does the codec cover every field of the models it stores (derived, ``init=False`` fields are rebuilt)?"""
    return all(tuple(f.name for f in dataclasses.fields(cls) if f.init) == names
               for cls, names in CODEC_FIELDS.items())


@dataclass(frozen=True, slots=True)
class Entry:
    """One rule file as it was parsed: its accounting (with its content hash) and its rules (the stamp it was parsed
    with is the cache index's)."""

    result: FileResult
    rules: tuple[Rule, ...]


def stamp_of(st: Any) -> Stamp:
    return (int(st.st_size), int(st.st_mtime_ns))


def _mappings_digest() -> str:
    digest = hashlib.sha256()
    folder = files("detcov.rules").joinpath("mappings")
    for item in sorted(folder.iterdir(), key=lambda t: t.name):
        if item.name.endswith(".yaml"):
            digest.update(item.name.encode() + b"\0" + item.read_bytes())
    return digest.hexdigest()


def cache_key(paths: Sequence[str], kb_sha256: str, options: Mapping[str, Any]) -> str:
    """The cache file's key: what the parsed rules depend on, besides the files themselves."""
    material = {"paths": [str(Path(p).resolve()) for p in paths], "attack": kb_sha256, "detcov": __version__,
                "mappings": _mappings_digest(), **options}
    return hashlib.sha256(orjson.dumps(material, option=orjson.OPT_SORT_KEYS)).hexdigest()


def cache_path(key: str, directory: Path | None = None) -> Path:
    return (directory or cache_dir()) / "rules" / f"{key[:32]}.json"


# ----- codec: rules as rows; what rules share (resolutions, log-source requirements, small values) as tables ------
def _issue(issue: Issue) -> list[Any]:
    loc = issue.location
    return [issue.message, None if loc is None else [loc.path, loc.line, loc.column], issue.hint,
            issue.severity.value]


def _unissue(row: list[Any]) -> Issue:
    loc = row[1]
    return Issue(row[0], None if loc is None else Location(loc[0], loc[1], loc[2]), row[2], Severity(row[3]))


Value = str | tuple[str, ...] | None  # a small value many rules repeat (tactics, platforms, SIEMs, severity …)


@dataclass
class _Tables:
    """One line's interning tables: each distinct resolution, need, requirement, small value and technique or
    log-source set of its rows is written once and read back once."""

    ids: dict[IdResolution, int] = field(default_factory=dict)
    needs: dict[LogSourceNeed, int] = field(default_factory=dict)
    reqs: dict[LogSourceReq, int] = field(default_factory=dict)
    vals: dict[Value, int] = field(default_factory=dict)
    techsets: dict[tuple[IdResolution, ...], int] = field(default_factory=dict)
    reqsets: dict[tuple[LogSourceReq, ...], int] = field(default_factory=dict)

    def val(self, value: Value) -> int:
        return self.vals.setdefault(value, len(self.vals))

    def techset(self, techniques: tuple[IdResolution, ...]) -> int:
        if techniques not in self.techsets:
            for res in techniques:
                self.ids.setdefault(res, len(self.ids))
            self.techsets[techniques] = len(self.techsets)
        return self.techsets[techniques]

    def reqset(self, reqs: tuple[LogSourceReq, ...]) -> int:
        if reqs not in self.reqsets:
            for req in reqs:
                if req not in self.reqs:
                    for need in req.needs:
                        self.needs.setdefault(need, len(self.needs))
                    self.reqs[req] = len(self.reqs)
            self.reqsets[reqs] = len(self.reqsets)
        return self.reqsets[reqs]

    def dump(self) -> dict[str, list[Any]]:
        return {
            "ids": [[x.raw, x.id, x.current, x.status.value, x.chain, x.suggestions, x.detail, x.release]
                    for x in self.ids],
            "needs": [[x.label, sorted(x.components), sorted(x.device_types), x.platforms, sorted(x.products),
                       x.ml_job, x.custom_table] for x in self.needs],
            "reqs": [[x.kind, x.value, [self.needs[k] for k in x.needs]] for x in self.reqs],
            "vals": list(self.vals),
            "techsets": [[self.ids[x] for x in t] for t in self.techsets],
            "reqsets": [[self.reqs[x] for x in q] for q in self.reqsets],
        }


def _rule_row(path: str, rule: Rule, tables: _Tables) -> list[Any]:
    loc, val = rule.location, tables.val
    return [rule.format.value, [loc.line, loc.column] if loc.path == path else [loc.path, loc.line, loc.column],
            rule.id, rule.title, rule.status.value, val(rule.raw_status), val(rule.severity),
            tables.techset(rule.techniques), val(rule.tactics), tables.reqset(rule.log_sources), val(rule.platforms),
            rule.query, rule.notes, rule.score, val(rule.applicable_to), val(rule.siems), rule.name,
            _correlation(rule.correlation)]


def _correlation(c: Correlation | None) -> list[Any] | None:
    return None if c is None else [c.type, c.rules, c.group_by, c.timespan, c.unresolved]


def _uncorrelation(row: list[Any] | None) -> Correlation | None:
    return None if row is None else Correlation(row[0], tuple(row[1]), tuple(row[2]), row[3], tuple(row[4]))


def _file_row(path: str, e: Entry, tables: _Tables) -> list[Any]:
    r = e.result
    return [path, r.sha256, r.format.value if r.format else None, r.skipped, r.items_skipped,
            [_issue(i) for i in r.issues], [_rule_row(path, x, tables) for x in e.rules]]


class Line(NamedTuple):
    """One line of a cache file: its bytes, how many files it holds, and those of them to keep when it is saved
    again. Self-contained (its own tables), so a parse worker writes it, and lines are kept, dropped or cut
    (:func:`save`) without decoding a rule."""

    data: bytes
    rows: int
    paths: tuple[str, ...]


def encode_line(items: Sequence[tuple[str, Entry]]) -> Line:
    tables = _Tables()
    rows = [_file_row(path, e, tables) for path, e in items]  # first: the tables are what the rows use
    return Line(orjson.dumps({**tables.dump(), "files": rows}) + b"\n", len(rows), tuple(path for path, _ in items))


def encode_lines(items: Sequence[tuple[str, Entry]]) -> list[Line]:
    return [encode_line(items[start:start + FILES_PER_LINE]) for start in range(0, len(items), FILES_PER_LINE)]


_build_location = slot_builder(Location)
_build_result = slot_builder(FileResult)
_EMPTY: tuple[Any, ...] = ()


class Shared:
    """What the lines decoded in one read share: equal table entries of different lines are one object (a rule's
    resolutions, log sources and small values are then shared across the whole read, as parsing makes them)."""

    def __init__(self) -> None:
        self.ids: dict[tuple[Any, ...], IdResolution] = {}
        self.needs: dict[tuple[Any, ...], LogSourceNeed] = {}
        self.reqs: dict[tuple[Any, ...], LogSourceReq] = {}
        self.vals: dict[Value, Value] = {}
        self.techsets: dict[tuple[int, ...], tuple[tuple[IdResolution, ...], tuple[str, ...]]] = {}
        self.reqsets: dict[tuple[int, ...], tuple[LogSourceReq, ...]] = {}

    def id_(self, row: list[Any]) -> IdResolution:
        raw, tid, current, status, chain, suggestions, detail, release = row
        key = (raw, tid, current, status, tuple(chain), tuple(suggestions), detail, release)
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = IdResolution(raw, tid, current, IdStatus(status), key[4], key[5], detail, release)
        return found

    def need(self, row: list[Any]) -> LogSourceNeed:
        key = (row[0], *map(tuple, row[1:5]), row[5], row[6])
        found = self.needs.get(key)
        if found is None:
            found = self.needs[key] = LogSourceNeed(row[0], frozenset(row[1]), frozenset(row[2]), key[3],
                                                    frozenset(row[4]), row[5], row[6])
        return found

    def req(self, kind: str, value: str, needs: tuple[LogSourceNeed, ...]) -> LogSourceReq:
        key = (kind, value, *map(id, needs))  # needs are shared: by identity
        found = self.reqs.get(key)
        if found is None:
            found = self.reqs[key] = LogSourceReq(kind, value, needs)
        return found

    def val(self, value: Any) -> Value:
        found: Value = tuple(value) if isinstance(value, list) else value
        return self.vals.setdefault(found, found)

    def techset(self, ids: list[IdResolution]) -> tuple[tuple[IdResolution, ...], tuple[str, ...]]:
        key = tuple(map(id, ids))
        found = self.techsets.get(key)
        if found is None:
            techniques = tuple(ids)
            found = self.techsets[key] = (techniques, current_ids(techniques))
        return found

    def reqset(self, reqs: list[LogSourceReq]) -> tuple[LogSourceReq, ...]:
        return self.reqsets.setdefault(tuple(map(id, reqs)), tuple(reqs))


class _Decoder:
    """Rebuilds the rows of one line against its tables (their entries ``shared`` with the read's other lines);
    with a ``placement``, each rule is built where its rule source deploys it (no placed copy made afterwards)."""

    formats: ClassVar[dict[str, RuleFormat]] = {f.value: f for f in RuleFormat}
    statuses: ClassVar[dict[str, RuleStatus]] = {s.value: s for s in RuleStatus}

    def __init__(self, data: dict[str, Any], placement: Placement | None, shared: Shared) -> None:
        self.placement = placement
        ids = [shared.id_(row) for row in data["ids"]]
        needs = [shared.need(row) for row in data["needs"]]
        reqs = [shared.req(kind, value, tuple([needs[i] for i in found])) for kind, value, found in data["reqs"]]
        self.vals = [shared.val(v) for v in data["vals"]]
        self.techsets = [shared.techset([ids[i] for i in found]) for found in data["techsets"]]
        self.reqsets = [shared.reqset([reqs[i] for i in found]) for found in data["reqsets"]]

    def entry(self, row: list[Any]) -> Entry:
        path, sha, fmt, skipped, items_skipped, issues, rows = row
        rules = tuple([self.rule(path, r) for r in rows])
        result = _build_result((path, self.formats[fmt] if fmt else None, len(rules), skipped, items_skipped,
                                tuple([_unissue(i) for i in issues]) if issues else _EMPTY, sha))
        return Entry(result, rules)

    def rule(self, path: str, row: list[Any]) -> Rule:
        f, loc, rid, title, status, raw_status, sev, techs, tacs, lss, plats, query, notes, score, app, siems, name, \
            corr = row
        vals, fmt = self.vals, self.formats[f]
        techniques, technique_ids = self.techsets[techs]
        applicable_to, runs_on = vals[app], vals[siems]
        if self.placement is not None:
            applicable_to = applicable_to or self.placement.applicable_to
            runs_on = runs_on or self.placement.siems.get(fmt.family, ())
        return rule_from_fields([
            fmt, _build_location((path, loc[0], loc[1]) if len(loc) == 2 else loc), rid, title,
            self.statuses[status], vals[raw_status], vals[sev], techniques, vals[tacs], self.reqsets[lss], vals[plats],
            query, tuple(notes) if notes else _EMPTY, score, applicable_to, runs_on, name,
            None if corr is None else _uncorrelation(corr)], technique_ids)


def decode_line(line: bytes, placement: Placement | None = None, shared: Shared | None = None) -> dict[str, Entry]:
    """The entries of one line; with ``placement``, their rules placed."""
    return _decoded(orjson.loads(line), placement, None, shared or Shared())


def _decoded(data: dict[str, Any], placement: Placement | None, wanted: Collection[str] | None, shared: Shared
             ) -> dict[str, Entry]:
    decoder = _Decoder(data, placement, shared)
    return {row[0]: decoder.entry(row) for row in data["files"] if wanted is None or row[0] in wanted}


# ----- the file ---------------------------------------------------------------------------------------------
class Stored:
    """An opened cache file: :attr:`index` (every file it holds and the stamp it was parsed with) at once, the
    files themselves decoded by :meth:`read`, one line at a time."""

    def __init__(self, fh: BinaryIO, key: str) -> None:
        self._fh = fh
        header = orjson.loads(fh.readline())
        if header != {"magic": MAGIC, "format": FORMAT, "detcov": __version__, "key": key}:
            raise ValueError("another cache")
        self._digest, self._size, self._lines = hashlib.sha256(), 0, 0
        index = self._fh.readline()
        self._count(index)
        listed = orjson.loads(index)["files"]
        self.index: dict[str, Stamp] = {path: (size, mtime) for path, size, mtime in listed}
        if len(self.index) != len(listed):
            raise ValueError("a file listed twice")

    def _count(self, line: bytes) -> None:
        if not line.endswith(b"\n"):
            raise ValueError("truncated")
        self._digest.update(line)
        self._size, self._lines = self._size + len(line), self._lines + 1

    def read(self, wanted: Collection[str], placement: Placement | None = None, *, keep: bool = False,
             shared: Shared | None = None) -> tuple[dict[str, Entry], list[Line]]:
        """The entries of the files in ``wanted`` (the others are not decoded); with ``placement``, their rules
        placed; and, when ``keep``, the lines as read (to be saved again: :func:`save`). Empty when the trailer does
        not vouch for every line (truncated, corrupt)."""
        out: dict[str, Entry] = {}
        kept: list[Line] = []
        rows = 0
        shared = shared or Shared()
        for line in self._fh:
            if not line.endswith(b"\n"):  # the trailer
                trailer = orjson.loads(line)
                ok = trailer == {"lines": self._lines, "bytes": self._size, "sha256": self._digest.hexdigest()}
                return (out, kept) if ok and rows == len(self.index) else ({}, [])
            self._count(line)
            data = orjson.loads(line)
            if any(row[0] not in self.index for row in data["files"]):
                raise ValueError("a file not in the index")
            out.update(_decoded(data, placement, wanted, shared))
            rows += len(data["files"])
            if keep and (paths := tuple(row[0] for row in data["files"] if row[0] in wanted)):
                kept.append(Line(line, len(data["files"]), paths))
        return {}, []  # no trailer: truncated


@contextlib.contextmanager
def opened(key: str, directory: Path | None = None) -> Iterator[Stored | None]:
    """The cache file of this key, opened (None when absent, foreign, of another detcov or unreadable)."""
    try:
        fh = cache_path(key, directory).open("rb")
    except OSError:
        yield None
        return
    with fh:
        try:
            stored = Stored(fh, key)
        except _BROKEN:
            stored = None
        yield stored


_BROKEN = (OSError, ValueError, KeyError, TypeError, IndexError)  # what a damaged cache file raises while read


def read(stored: Stored | None, wanted: Collection[str], placement: Placement | None = None, *, keep: bool = False,
         shared: Shared | None = None) -> tuple[dict[str, Entry], list[Line]]:
    """:meth:`Stored.read`, nothing when there is no cache or it is damaged."""
    if stored is None:
        return {}, []
    try:
        return stored.read(wanted, placement, keep=keep, shared=shared)
    except _BROKEN:
        return {}, []


def load(key: str, directory: Path | None = None, placement: Placement | None = None) -> dict[str, Entry]:
    """Every cached entry of this key; empty when absent, stale, truncated or corrupt."""
    with opened(key, directory) as stored:
        return read(stored, stored.index if stored else (), placement)[0]


def save(key: str, lines: Iterable[Line], stamps: Mapping[str, Stamp], directory: Path | None = None) -> None:
    """Write the cache file of ``lines``: of each, the files of its :attr:`~Line.paths` listed in ``stamps`` (with
    that stamp) and not modified in the last :data:`RACY_SECONDS`, each file once. A line with files left out is
    cut (its rows only; its tables are kept). A read-only cache only costs speed."""
    recent = time.time_ns() - int(RACY_SECONDS * 1e9)
    index: dict[str, Stamp] = {}
    body: list[bytes] = []
    for line in lines:
        kept = {path: st for path in line.paths if path not in index and (st := stamps.get(path)) and st[1] < recent}
        if len(kept) == line.rows:
            body.append(line.data)
        elif kept:
            data = orjson.loads(line.data)
            rows = {r[0]: r for r in reversed(data["files"]) if r[0] in kept}  # a path twice: its first row
            body.append(orjson.dumps({**data, "files": [rows[path] for path in kept]}) + b"\n")
        index.update(kept)
    with contextlib.suppress(OSError):
        atomic_write(cache_path(key, directory), _file(key, index, body))


def _file(key: str, index: Mapping[str, Stamp], body: Sequence[bytes]) -> Iterator[bytes]:
    digest, size, count = hashlib.sha256(), 0, 0
    yield orjson.dumps({"magic": MAGIC, "format": FORMAT, "detcov": __version__, "key": key}) + b"\n"
    for line in (orjson.dumps({"files": [[path, st[0], st[1]] for path, st in index.items()]}) + b"\n", *body):
        digest.update(line)
        size, count = size + len(line), count + 1
        yield line
    yield orjson.dumps({"lines": count, "bytes": size, "sha256": digest.hexdigest()})
