"""A cache of parsed rule files, so a second scan of an unchanged rule folder parses nothing. No pickle.

One cache file per rule source (the paths one :func:`~detcov.rules.read_rules` call reads) and read setup: the
key covers those paths, the format filter, CSV column names, the size limit, the ATT&CK bundle's SHA-256 (rules
are normalised against it), detcov's version and the shipped log-source mapping tables. Inside, each rule file
is an entry keyed by its path and checked against its size and modification time (nanoseconds); a changed,
new or deleted file is parsed again or dropped, the others are taken as they are.

File layout: JSON lines written with orjson. A header (magic, format, detcov version, key); an index of the files
with their stat stamps (what a scan compares with the folder before decoding anything); then the files, at most
:data:`FILES_PER_LINE` per line in index order, each with its accounting, its content SHA-256 and its rules, and
the tables of what rules share that its rows introduce (technique resolutions and sets, log-source requirements
and sets, small repeated values: a cached rule is a few numbers and its own texts, and shared objects stay shared
in memory); last a trailer with the number of lines, their length and SHA-256. Lines are written and read one at a
time, so 100,000 rules never sit in memory twice. A truncated, corrupt or foreign file fails the header or trailer
test and is rebuilt; writes are atomic.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, BinaryIO

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
    """One rule file as it was parsed: its stat stamp, its accounting (with its content hash) and its rules."""

    stamp: Stamp
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
    """Interning tables: each distinct resolution, need, requirement, small value and technique or log-source set is
    written once and read back once (100,000 rules: a few thousand entries). :meth:`dump_new` gives the entries
    added since its last call (each line carries the ones its rows introduce, after those they refer to)."""

    ids: dict[IdResolution, int] = field(default_factory=dict)
    needs: dict[LogSourceNeed, int] = field(default_factory=dict)
    reqs: dict[LogSourceReq, int] = field(default_factory=dict)
    vals: dict[Value, int] = field(default_factory=dict)
    techsets: dict[tuple[IdResolution, ...], int] = field(default_factory=dict)
    reqsets: dict[tuple[LogSourceReq, ...], int] = field(default_factory=dict)
    dumped: tuple[int, ...] = (0, 0, 0, 0, 0, 0)

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

    def dump_new(self) -> dict[str, list[Any]]:
        i, n, r, v, t, q = self.dumped
        self.dumped = (len(self.ids), len(self.needs), len(self.reqs), len(self.vals), len(self.techsets),
                       len(self.reqsets))
        return {
            "ids": [[x.raw, x.id, x.current, x.status.value, x.chain, x.suggestions, x.detail, x.release]
                    for x in list(self.ids)[i:]],
            "needs": [[x.label, sorted(x.components), sorted(x.device_types), x.platforms, sorted(x.products),
                       x.ml_job, x.custom_table] for x in list(self.needs)[n:]],
            "reqs": [[x.kind, x.value, [self.needs[k] for k in x.needs]] for x in list(self.reqs)[r:]],
            "vals": list(self.vals)[v:],
            "techsets": [[self.ids[x] for x in s] for s in list(self.techsets)[t:]],
            "reqsets": [[self.reqs[x] for x in s] for s in list(self.reqsets)[q:]],
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
    return [r.sha256, r.format.value if r.format else None, r.skipped, r.items_skipped, [_issue(i) for i in r.issues],
            [_rule_row(path, x, tables) for x in e.rules]]


def _line(items: Sequence[tuple[str, Entry]], tables: _Tables) -> bytes:
    rows = [_file_row(path, e, tables) for path, e in items]  # first: the tables' new entries are the rows'
    return orjson.dumps({**tables.dump_new(), "files": rows}) + b"\n"


def encode(key: str, entries: Mapping[str, Entry]) -> Iterator[bytes]:
    """The cache file, line by line (see the module docstring): nothing but one line is built at a time."""
    tables = _Tables()
    items = list(entries.items())
    digest, size, lines = hashlib.sha256(), 0, 0
    yield orjson.dumps({"magic": MAGIC, "format": FORMAT, "detcov": __version__, "key": key}) + b"\n"
    index = orjson.dumps({"files": [[path, e.stamp[0], e.stamp[1]] for path, e in items]}) + b"\n"
    for line in itertools.chain([index], (_line(items[start:start + FILES_PER_LINE], tables)
                                          for start in range(0, len(items), FILES_PER_LINE))):
        digest.update(line)
        size, lines = size + len(line), lines + 1
        yield line
    yield orjson.dumps({"lines": lines, "bytes": size, "sha256": digest.hexdigest()})


_build_location = slot_builder(Location)
_build_result = slot_builder(FileResult)
_EMPTY: tuple[Any, ...] = ()


@dataclass
class _Decoder:
    """Rebuilds the rows of one cache file against its shared tables (extended line by line); with a
    ``placement``, each rule is built where its rule source deploys it (no placed copy made afterwards)."""

    placement: Placement | None = None
    ids: list[IdResolution] = field(default_factory=list)
    needs: list[LogSourceNeed] = field(default_factory=list)
    reqs: list[LogSourceReq] = field(default_factory=list)
    vals: list[Value] = field(default_factory=list)
    techsets: list[tuple[tuple[IdResolution, ...], tuple[str, ...]]] = field(default_factory=list)  # (+ current ids)
    reqsets: list[tuple[LogSourceReq, ...]] = field(default_factory=list)
    formats: dict[str, RuleFormat] = field(default_factory=lambda: {f.value: f for f in RuleFormat})
    statuses: dict[str, RuleStatus] = field(default_factory=lambda: {s.value: s for s in RuleStatus})

    def tables(self, data: dict[str, Any]) -> None:
        self.ids += [IdResolution(a, b, c, IdStatus(d), tuple(e), tuple(f), g, h)
                     for a, b, c, d, e, f, g, h in data["ids"]]
        self.needs += [LogSourceNeed(a, frozenset(b), frozenset(c), tuple(d), frozenset(e), f, g)
                       for a, b, c, d, e, f, g in data["needs"]]
        self.reqs += [LogSourceReq(a, b, tuple([self.needs[i] for i in c])) for a, b, c in data["reqs"]]
        self.vals += [tuple(v) if isinstance(v, list) else v for v in data["vals"]]
        for ids in data["techsets"]:
            techniques = tuple([self.ids[i] for i in ids])
            self.techsets.append((techniques, current_ids(techniques)))
        self.reqsets += [tuple([self.reqs[i] for i in reqs]) for reqs in data["reqsets"]]

    def entry(self, path: str, stamp: Stamp, row: list[Any]) -> Entry:
        sha, fmt, skipped, items_skipped, issues, rows = row
        rules = tuple([self.rule(path, r) for r in rows])
        result = _build_result((path, self.formats[fmt] if fmt else None, len(rules), skipped, items_skipped,
                                tuple([_unissue(i) for i in issues]) if issues else _EMPTY, sha))
        return Entry(stamp, result, rules)

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


# ----- the file ---------------------------------------------------------------------------------------------
class Stored:
    """An opened cache file: :attr:`index` (every file it holds and the stamp it was parsed with) at once, the
    files themselves decoded by :meth:`entries`, one line at a time."""

    def __init__(self, fh: BinaryIO, key: str) -> None:
        self._fh = fh
        header = orjson.loads(fh.readline())
        if header != {"magic": MAGIC, "format": FORMAT, "detcov": __version__, "key": key}:
            raise ValueError("another cache")
        self._digest, self._size, self._lines = hashlib.sha256(), 0, 0
        listed = orjson.loads(self._line())["files"]
        self.index: dict[str, Stamp] = {path: (size, mtime) for path, size, mtime in listed}
        if len(self.index) != len(listed):
            raise ValueError("a file listed twice")

    def _line(self) -> bytes:
        line = self._fh.readline()
        if not line.endswith(b"\n"):
            raise ValueError("truncated")
        self._digest.update(line)
        self._size, self._lines = self._size + len(line), self._lines + 1
        return line

    def entries(self, wanted: Collection[str], placement: Placement | None = None) -> dict[str, Entry]:
        """The entries of the files in ``wanted`` (the others are not decoded); with ``placement``, their rules
        placed. Empty when the file's trailer does not vouch for every line (truncated, corrupt)."""
        decoder, out = _Decoder(placement), dict[str, Entry]()
        paths = iter(self.index.items())
        for line in self._fh:
            if not line.endswith(b"\n"):  # the trailer
                trailer = orjson.loads(line)
                ok = trailer == {"lines": self._lines, "bytes": self._size, "sha256": self._digest.hexdigest()}
                return out if ok and next(paths, None) is None else {}
            self._digest.update(line)
            self._size, self._lines = self._size + len(line), self._lines + 1
            data = orjson.loads(line)
            decoder.tables(data)
            for row in data["files"]:
                path, stamp = next(paths)
                if path in wanted:
                    out[path] = decoder.entry(path, stamp, row)
        return {}  # no trailer: truncated


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
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            stored = None
        yield stored


def load(key: str, directory: Path | None = None, placement: Placement | None = None) -> dict[str, Entry]:
    """Every cached entry of this key; empty when absent, stale, truncated or corrupt."""
    with opened(key, directory) as stored:
        return _entries(stored, stored.index if stored else (), placement)


def _entries(stored: Stored | None, wanted: Collection[str], placement: Placement | None) -> dict[str, Entry]:
    if stored is None:
        return {}
    try:
        return stored.entries(wanted, placement)
    except (OSError, ValueError, KeyError, TypeError, IndexError, StopIteration):
        return {}


def fresh_entries(stored: Stored | None, listed: Iterable[tuple[str, Stamp]], placement: Placement | None = None
                  ) -> tuple[dict[str, Entry], bool]:
    """The entries whose file still has the stamp it was parsed with, and whether the cache holds exactly the
    ``listed`` files, all fresh (nothing to parse, nothing to save). Only then are their rules placed
    (``placement``): a cache to be saved again keeps the rules as their files say."""
    listed = list(listed)
    index = stored.index if stored else {}
    wanted = {path for path, st in listed if index.get(path) == st}
    exact = len(wanted) == len(listed) == len(index)
    entries = _entries(stored, wanted, placement if exact else None)
    return entries, exact and len(entries) == len(wanted)


def save(key: str, entries: Mapping[str, Entry], directory: Path | None = None) -> None:
    """Write the entries (those not modified in the last :data:`RACY_SECONDS`); a read-only cache only costs speed."""
    recent = time.time_ns() - int(RACY_SECONDS * 1e9)
    kept = {p: e for p, e in entries.items() if e.stamp[1] < recent}
    with contextlib.suppress(OSError):
        atomic_write(cache_path(key, directory), encode(key, kept))
