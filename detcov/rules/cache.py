"""A cache of parsed rule files, so a second scan of an unchanged rule folder parses nothing. No pickle.

One cache file per rule source (the paths one :func:`~detcov.rules.read_rules` call reads) and read setup: the
key covers those paths, the format filter, CSV column names, the size limit, the ATT&CK bundle's SHA-256 (rules
are normalised against it), detcov's version and the shipped log-source mapping tables. Inside, each rule file
is an entry keyed by its path and checked against its size and modification time (nanoseconds); a changed,
new or deleted file is parsed again or dropped, the others are taken as they are.

File layout: JSON lines written with orjson. A header (magic, format, detcov version, key); the tables of the
technique resolutions and log-source requirements that rules share (a cached rule is a few small lists, and shared
objects stay shared in memory); then the files, at most :data:`FILES_PER_LINE` per line, each with its stat stamp,
its accounting, its content SHA-256 and its rules; last a trailer with the number of lines, their length and
SHA-256. Lines are written and read one at a time, so 100,000 rules never sit in memory twice. A truncated, corrupt
or foreign file fails the header or trailer test and is rebuilt; writes are atomic.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

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
    Rule,
    RuleFormat,
    RuleStatus,
    rule_from_fields,
)

MAGIC = "detcov-rule-cache"
_T = TypeVar("_T")
FORMAT = 3
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


# ----- codec: rules as rows; resolutions and log-source requirements as shared tables ---------------------------
def _loc(loc: Location | None) -> list[Any] | None:
    return None if loc is None else [loc.path, loc.line, loc.column]


def _unloc(row: list[Any] | None) -> Location | None:
    return None if row is None else Location(row[0], row[1], row[2])


def _issue(issue: Issue) -> list[Any]:
    return [issue.message, _loc(issue.location), issue.hint, issue.severity.value]


def _unissue(row: list[Any]) -> Issue:
    return Issue(row[0], _unloc(row[1]), row[2], Severity(row[3]))


@dataclass
class _Tables:
    """Interning tables: each distinct resolution / need / requirement is written once and read back once.
    :meth:`dump_new` gives the entries added since its last call (each line carries the ones its rows introduce)."""

    ids: dict[IdResolution, int] = field(default_factory=dict)
    needs: dict[LogSourceNeed, int] = field(default_factory=dict)
    reqs: dict[LogSourceReq, int] = field(default_factory=dict)
    dumped: tuple[int, int, int] = (0, 0, 0)

    def id_(self, res: IdResolution) -> int:
        return self.ids.setdefault(res, len(self.ids))

    def req(self, req: LogSourceReq) -> int:
        if req not in self.reqs:
            for need in req.needs:
                self.needs.setdefault(need, len(self.needs))
            self.reqs[req] = len(self.reqs)
        return self.reqs[req]

    def dump_new(self) -> dict[str, list[Any]]:
        i, n, r = self.dumped
        self.dumped = (len(self.ids), len(self.needs), len(self.reqs))
        return {
            "ids": [[x.raw, x.id, x.current, x.status.value, x.chain, x.suggestions, x.detail, x.release]
                    for x in list(self.ids)[i:]],
            "needs": [[x.label, sorted(x.components), sorted(x.device_types), x.platforms, sorted(x.products),
                       x.ml_job, x.custom_table] for x in list(self.needs)[n:]],
            "reqs": [[x.kind, x.value, [self.needs[k] for k in x.needs]] for x in list(self.reqs)[r:]],
        }


def _rule_row(rule: Rule, tables: _Tables) -> list[Any]:
    return [rule.format.value, _loc(rule.location), rule.id, rule.title, rule.status.value, rule.raw_status,
            rule.severity, [tables.id_(t) for t in rule.techniques], rule.tactics,
            [tables.req(r) for r in rule.log_sources], rule.platforms, rule.query, rule.notes, rule.score,
            rule.applicable_to, rule.siems, rule.name, _correlation(rule.correlation)]


def _correlation(c: Correlation | None) -> list[Any] | None:
    return None if c is None else [c.type, c.rules, c.group_by, c.timespan, c.unresolved]


def _uncorrelation(row: list[Any] | None) -> Correlation | None:
    return None if row is None else Correlation(row[0], tuple(row[1]), tuple(row[2]), row[3], tuple(row[4]))


def _file_row(path: str, e: Entry, tables: _Tables) -> list[Any]:
    r = e.result
    return [path, e.stamp[0], e.stamp[1], r.sha256, r.format.value if r.format else None, r.skipped,
            r.items_skipped, [_issue(i) for i in r.issues], [_rule_row(x, tables) for x in e.rules]]


def encode(key: str, entries: Mapping[str, Entry]) -> Iterator[bytes]:
    """The cache file, line by line (see the module docstring): nothing but one line is built at a time."""
    tables = _Tables()
    items = list(entries.items())
    digest, size, lines = hashlib.sha256(), 0, 0
    yield orjson.dumps({"magic": MAGIC, "format": FORMAT, "detcov": __version__, "key": key}) + b"\n"
    for start in range(0, len(items), FILES_PER_LINE):
        rows = [_file_row(p, e, tables) for p, e in items[start:start + FILES_PER_LINE]]
        line = orjson.dumps({**tables.dump_new(), "files": rows}) + b"\n"
        digest.update(line)
        size, lines = size + len(line), lines + 1
        yield line
    yield orjson.dumps({"lines": lines, "bytes": size, "sha256": digest.hexdigest()})


@dataclass
class _Decoder:
    """Rebuilds rows against the shared tables of one cache file (extended line by line)."""

    ids: list[IdResolution] = field(default_factory=list)
    needs: list[LogSourceNeed] = field(default_factory=list)
    reqs: list[LogSourceReq] = field(default_factory=list)
    formats: dict[str, RuleFormat] = field(default_factory=lambda: {f.value: f for f in RuleFormat})
    statuses: dict[str, RuleStatus] = field(default_factory=lambda: {s.value: s for s in RuleStatus})
    shared: dict[Any, Any] = field(default_factory=dict)  # one object per repeated value (tags, platforms …)

    def line(self, data: dict[str, Any]) -> Iterator[tuple[str, Entry]]:
        self.ids += [IdResolution(a, b, c, IdStatus(d), tuple(e), tuple(f), g, h)
                     for a, b, c, d, e, f, g, h in data["ids"]]
        self.needs += [LogSourceNeed(a, frozenset(b), frozenset(c), tuple(d), frozenset(e), f, g)
                       for a, b, c, d, e, f, g in data["needs"]]
        self.reqs += [LogSourceReq(a, b, tuple(self.needs[i] for i in c)) for a, b, c in data["reqs"]]
        return ((row[0], self.entry(row)) for row in data["files"])

    def one(self, value: _T) -> _T:
        found: _T = self.shared.setdefault(value, value)
        return found

    def rule(self, path: str, row: list[Any]) -> Rule:
        f, loc, rid, title, status, raw_status, sev, techs, tacs, lss, plats, query, notes, score, app, siems, name, \
            corr = row
        share = self.one
        return rule_from_fields([
            self.formats[f], Location(path if loc[0] == path else loc[0], loc[1], loc[2]), rid, title,
            self.statuses[status], raw_status and share(raw_status), sev and share(sev),
            tuple([self.ids[i] for i in techs]), share(tuple(tacs)), tuple([self.reqs[i] for i in lss]),
            share(tuple(plats)), query, tuple(notes), score, share(tuple(app)), share(tuple(siems)), name,
            _uncorrelation(corr)])

    def entry(self, row: list[Any]) -> Entry:
        path, size, mtime, sha, fmt, skipped, items_skipped, issues, rules = row
        decoded = tuple(self.rule(path, r) for r in rules)
        result = FileResult(path, self.formats[fmt] if fmt else None, len(decoded), skipped, items_skipped,
                            tuple(_unissue(i) for i in issues), sha)
        return Entry((size, mtime), result, decoded)


# ----- the file ---------------------------------------------------------------------------------------------
def load(key: str, directory: Path | None = None) -> dict[str, Entry]:
    """The cached entries for this key; empty when absent, stale, truncated or corrupt."""
    try:
        with cache_path(key, directory).open("rb") as fh:
            header = orjson.loads(fh.readline())
            if header != {"magic": MAGIC, "format": FORMAT, "detcov": __version__, "key": key}:
                return {}
            return _read_body(fh)
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return {}


def _read_body(fh: BinaryIO) -> dict[str, Entry]:
    digest, size, lines = hashlib.sha256(), 0, 0
    decoder = _Decoder()
    out: dict[str, Entry] = {}
    for line in fh:
        if not line.endswith(b"\n"):  # the trailer
            trailer = orjson.loads(line)
            ok = trailer == {"lines": lines, "bytes": size, "sha256": digest.hexdigest()}
            return out if ok else {}
        digest.update(line)
        size, lines = size + len(line), lines + 1
        out.update(decoder.line(orjson.loads(line)))
    return {}  # no trailer: truncated


def save(key: str, entries: Mapping[str, Entry], directory: Path | None = None) -> None:
    """Write the entries (those not modified in the last :data:`RACY_SECONDS`); a read-only cache only costs speed."""
    recent = time.time_ns() - int(RACY_SECONDS * 1e9)
    kept = {p: e for p, e in entries.items() if e.stamp[1] < recent}
    with contextlib.suppress(OSError):
        atomic_write(cache_path(key, directory), encode(key, kept))


def fresh(entries: Mapping[str, Entry], listed: Iterable[tuple[str, Stamp]]) -> dict[str, Entry]:
    """The entries whose file still has the stamp they were parsed with."""
    return {path: e for path, st in listed if (e := entries.get(path)) is not None and e.stamp == st}
