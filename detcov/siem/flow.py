"""Log-flow evidence: does each device's log source really reach its SIEM, and when did it last send?

An *observation* is one (index, sourcetype) pair of a Splunk, one table of a Sentinel / Defender workspace or one
index / data stream of an Elastic cluster, with its last event time and how many events (or usage records) the
source counted. Observations come from files an air-gapped SOC can export, or from ``detcov pull`` snapshots:

* Splunk ``| tstats count latest(_time) as lastTime where index=* by index, sourcetype`` exported as CSV;
* a Sentinel / Log Analytics ``Usage`` query exported as CSV (``DataType`` + a last-time column);
* Elastic ``GET _cat/indices?format=json`` (document counts, no time) and ``GET _data_stream/_stats`` (last time);
* detcov's own flow CSV (``siem,index,sourcetype,table,last_seen,count``) that the connectors write.

Files without a ``siem`` column belong to the SIEM their name says: ``splunk.csv`` or ``splunk.tstats.csv`` → SIEM
``splunk``. :func:`match_flow` matches the inventory's declared ``feeds:`` (glob patterns) to observations and
says, per (device, SIEM): flowing, silent since, never seen, or unknown, with the evidence that decides.
"""

from __future__ import annotations

import bisect
import csv
import fnmatch
import functools
import io
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from detcov.csvsafe import csv_text, restore
from detcov.errors import Issue, Location, Severity

FEED_KEYS = ("index", "sourcetype", "table")
FLOW_CSV_COLUMNS = ("siem", "index", "sourcetype", "table", "last_seen", "count")
MANIFEST_NAME = "manifest.json"
FLOW_SUFFIXES = frozenset({".csv", ".json"})
_TIME_COLUMNS = ("last_seen", "lasttime", "last_time", "latest(_time)", "latest_time", "lastseen", "lastingestion",
                 "last_ingestion", "max_timegenerated", "lasteventtime", "last_event", "timegenerated", "_time")
_COUNT_COLUMNS = ("count", "count_", "records", "recordcount", "events", "docs.count", "hours")
_TABLE_COLUMNS = ("datatype", "table", "type", "tablename")
_CTIME_FORMATS = ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y, %I:%M:%S.%f %p", "%m/%d/%Y, %I:%M:%S %p",
                  "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S")
_BACKING_INDEX = re.compile(r"^\.ds-(?P<stream>.+)-\d{4}\.\d{2}\.\d{2}-\d{6}$")


class FlowState(StrEnum):
    FLOWING = "flowing"
    SILENT = "silent"
    NEVER_SEEN = "never-seen"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class FlowObservation:
    """One index/sourcetype (Splunk), table (Sentinel, Defender) or index/data stream (Elastic) as a SIEM saw it."""

    siem: str
    index: str | None
    sourcetype: str | None
    table: str | None
    last_seen: datetime | None  # UTC; None when the source gives no time (Elastic _cat/indices)
    count: int  # events (Splunk, Elastic), usage records (Sentinel Usage), whatever the source counted
    source: str  # file:line or connector


@dataclass(frozen=True, slots=True)
class FlowStatus:
    """A device's log flow into one SIEM, with the evidence that decides it."""

    device: str
    siem: str
    state: FlowState
    last_seen: datetime | None
    evidence: str  # "index=edr sourcetype=mde:* last event 2026-11-30T23:59Z (flow/splunk.csv:4)"


# ----- times ------------------------------------------------------------------------------------------------
def parse_time(value: Any) -> datetime | None:
    """A timestamp as exports write it → aware UTC datetime: epoch seconds or milliseconds, ISO 8601, Splunk's
    ``ctime`` (``11/30/2026 23:59:00``) and the Azure portal's CSV export (``11/30/2026, 11:59:00.000 PM``).
    Times without a zone are taken as UTC. None when empty or unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return _epoch(float(value))
    text = str(value).strip()
    if not text:
        return None
    try:
        return _epoch(float(text))
    except ValueError:
        pass
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        parsed = next((p for p in (_strptime(text, f) for f in _CTIME_FORMATS) if p is not None), None)
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _epoch(seconds: float) -> datetime | None:
    if seconds > 1e11:  # milliseconds (Elastic maximum_timestamp)
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _strptime(text: str, fmt: str) -> datetime | None:
    try:
        return datetime.strptime(text, fmt)
    except ValueError:
        return None


def format_time(when: datetime) -> str:
    """``2026-11-30T23:59Z``: minutes are enough for log flow."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


# ----- loading ----------------------------------------------------------------------------------------------
def siem_of_file(path: Path) -> str:
    """The SIEM id a file without a ``siem`` column belongs to: its name up to the first dot."""
    return path.name.split(".", 1)[0]


def iter_flow_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Every flow file under the paths. A folder holding a pull manifest (``detcov pull --out``) contributes the
    flow file its manifest lists and nothing else (its rules/ are not flow evidence)."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        found: list[Path] = []
        for folder, dirs, names in os.walk(path):
            dirs.sort()
            if MANIFEST_NAME in names:
                dirs[:] = []
                found.extend(_manifest_flow_files(Path(folder), Path(folder, MANIFEST_NAME)))
                continue
            found.extend(Path(folder, n) for n in sorted(names) if Path(n).suffix.lower() in FLOW_SUFFIXES)
        yield from found


def _manifest_flow_files(folder: Path, manifest: Path) -> Iterator[Path]:
    try:
        doc = orjson.loads(manifest.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        yield manifest  # reported by the loader as unreadable
        return
    part = (doc.get("parts") or {}).get("flow") if isinstance(doc, Mapping) else None
    name = part.get("file") if isinstance(part, Mapping) else None
    if isinstance(name, str):
        yield folder / name


def load_flow(paths: Sequence[Path]) -> tuple[list[FlowObservation], list[Issue]]:
    """Every observation in the files (or folders) given, and the problems found: an unreadable or unknown file
    is an error naming it and the export to use; a row without a usable name or time is a warning."""
    observations: list[FlowObservation] = []
    issues: list[Issue] = []
    for path in iter_flow_files(paths):
        if not path.is_file():
            issues.append(Issue("no such log-flow file or folder", Location.of(path),
                                "check the log_flow path (a file, a folder, or a `detcov pull` output folder)"))
            continue
        try:
            data = path.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            issues.append(Issue(f"unreadable log-flow file: {exc}", Location.of(path), "export it again as UTF-8"))
            continue
        found, problems = read_flow_text(path, data)
        observations.extend(found)
        issues.extend(problems)
    return observations, issues


def read_flow_text(path: Path, data: str) -> tuple[list[FlowObservation], list[Issue]]:
    """One file's text → observations (format recognised from the content)."""
    if path.suffix.lower() == ".json" or data.lstrip().startswith(("{", "[")):
        return _read_json(path, data)
    return _read_csv(path, data)


def _read_csv(path: Path, data: str) -> tuple[list[FlowObservation], list[Issue]]:
    reader = csv.reader(io.StringIO(data))
    header = next(reader, None)
    if not header:
        return [], [Issue("empty log-flow file", Location.of(path, 1), "export the flow query again")]
    columns = {h.strip().lower().split(" [")[0]: i for i, h in enumerate(header)}  # "LastSeen [UTC]" → lastseen
    kind = _csv_kind(columns)
    if kind is None:
        return [], [Issue(
            f"not a log-flow CSV (columns: {', '.join(header[:6])})", Location.of(path, 1),
            "export `| tstats count latest(_time) as lastTime where index=* by index, sourcetype` (Splunk), a "
            "`Usage | summarize LastSeen=max(TimeGenerated), Records=count() by DataType` query (Sentinel), or "
            f"detcov's flow CSV ({','.join(FLOW_CSV_COLUMNS)})")]
    out: list[FlowObservation] = []
    issues: list[Issue] = []
    default_siem = siem_of_file(path)
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        obs = _csv_observation(kind, columns, row, default_siem, f"{path}:{number}")
        if isinstance(obs, str):
            issues.append(Issue(obs, Location.of(path, number), "fix or remove the row",
                                severity=Severity.WARNING))
        else:
            out.append(obs)
    return out, issues


def _csv_kind(columns: Mapping[str, int]) -> str | None:
    if "siem" in columns and "last_seen" in columns:
        return "detcov"
    if "index" in columns and "sourcetype" in columns:
        return "splunk"
    if any(c in columns for c in _TABLE_COLUMNS) and any(c in columns for c in _TIME_COLUMNS):
        return "sentinel"
    return None


def _cell(columns: Mapping[str, int], row: Sequence[str], names: Iterable[str]) -> str | None:
    for name in names:
        i = columns.get(name)
        if i is not None and i < len(row) and row[i].strip():
            return row[i].strip()
    return None


def _csv_observation(kind: str, columns: Mapping[str, int], row: Sequence[str], default_siem: str,
                     source: str) -> FlowObservation | str:
    if kind == "detcov":  # detcov's own flow CSV: cells were neutralised on writing (flow_csv)
        row = [restore(cell) for cell in row]
    siem = (_cell(columns, row, ("siem",)) if kind == "detcov" else None) or default_siem
    index = _cell(columns, row, ("index",)) if kind != "sentinel" else None
    sourcetype = _cell(columns, row, ("sourcetype",)) if kind != "sentinel" else None
    table = _cell(columns, row, ("table",) if kind == "detcov" else _TABLE_COLUMNS) if kind != "splunk" else None
    if not (index or sourcetype or table):
        return "row names no index, sourcetype or table"
    raw_time = _cell(columns, row, _TIME_COLUMNS)
    last_seen = parse_time(raw_time)
    if raw_time is not None and last_seen is None:
        return f"unreadable time {raw_time!r} (write ISO 8601, e.g. 2026-11-30T23:59:00Z, or epoch seconds)"
    raw_count = _cell(columns, row, _COUNT_COLUMNS)
    count = _count(raw_count) if raw_count is not None else 1  # a Usage row without a count is one record
    if count is None:
        return f"unreadable count {raw_count!r} (write a whole number)"
    return FlowObservation(siem, index, sourcetype, table, last_seen, count, source)


def _count(value: Any) -> int | None:
    try:
        return int(float(str(value).replace(",", "")))
    except ValueError:
        return None


def _read_json(path: Path, data: str) -> tuple[list[FlowObservation], list[Issue]]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return [], [Issue(f"malformed JSON: {exc}", Location.of(path), "export it again")]
    siem = siem_of_file(path)
    lines = _line_finder(data)
    if isinstance(doc, list) and all(isinstance(i, Mapping) and "index" in i for i in doc):
        return _cat_indices(path, doc, siem, lines)
    if isinstance(doc, Mapping) and isinstance(doc.get("data_streams"), list):
        return _data_stream_stats(path, doc["data_streams"], siem, lines)
    return [], [Issue("not a log-flow JSON file", Location.of(path),
                      "export `GET _cat/indices?format=json` or `GET _data_stream/_stats` (Elastic)")]


def _line_finder(data: str) -> Callable[[str], int | None]:
    """name → 1-based line of its first quoted occurrence (JSON exports are pretty-printed one value a line)."""
    def find(name: str) -> int | None:
        at = data.find(f'"{name}"')
        return data.count("\n", 0, at) + 1 if at >= 0 else None
    return find


def stream_name(index: str) -> str:
    """A data stream's backing index (``.ds-logs-x-default-2026.11.30-000001``) → its stream (``logs-x-default``)."""
    match = _BACKING_INDEX.match(index)
    return match.group("stream") if match else index


def _cat_indices(path: Path, rows: list[Any], siem: str, lines: Callable[[str], int | None]
                 ) -> tuple[list[FlowObservation], list[Issue]]:
    out: list[FlowObservation] = []
    issues: list[Issue] = []
    for row in rows:
        name = str(row.get("index") or "").strip()
        count = _count(row.get("docs.count") if row.get("docs.count") is not None else 0)
        where = Location.of(path, lines(name))
        if not name or count is None:
            issues.append(Issue(f"index entry without a name or docs.count ({name or '?'})", where,
                                "export with `?format=json&h=index,docs.count`", Severity.WARNING))
            continue
        out.append(FlowObservation(siem, stream_name(name), None, None, None, count, str(where)))
    return out, issues


def _data_stream_stats(path: Path, streams: list[Any], siem: str, lines: Callable[[str], int | None]
                       ) -> tuple[list[FlowObservation], list[Issue]]:
    out: list[FlowObservation] = []
    issues: list[Issue] = []
    for item in streams:
        name = str(item.get("data_stream") or "").strip() if isinstance(item, Mapping) else ""
        last = parse_time(item.get("maximum_timestamp")) if name else None
        where = Location.of(path, lines(name) if name else None)
        if not name:
            issues.append(Issue("data stream entry without a name", where, "export `GET _data_stream/_stats`",
                                Severity.WARNING))
            continue
        # _data_stream/_stats has no document count; a maximum_timestamp means at least one event
        out.append(FlowObservation(siem, name, None, None, last, 1 if last else 0, str(where)))
    return out, issues


def table_observation(siem: str, row: Mapping[str, Any], table_key: str, count_key: str, default_count: int,
                      source: str) -> FlowObservation | None:
    """A query-result row (``{table_key: name, count_key: n, "LastSeen": time}``) → a table observation."""
    table, count = row.get(table_key), row.get(count_key)
    if not isinstance(table, str) or not table:
        return None
    return FlowObservation(siem, None, None, table, parse_time(row.get("LastSeen")),
                           int(count) if isinstance(count, int | float) else default_count, source)


# ----- the connectors' snapshot -----------------------------------------------------------------------------
def flow_csv(observations: Iterable[FlowObservation]) -> bytes:
    """detcov's flow CSV, one observation a row (what ``detcov pull`` writes, and what :func:`load_flow` reads).

    Index, sourcetype and table names come from the SIEM's API, so every cell is neutralised like every other CSV
    detcov writes (:mod:`detcov.csvsafe`); :func:`load_flow` restores them."""
    return csv_text(FLOW_CSV_COLUMNS, (
        [o.siem, o.index or "", o.sourcetype or "", o.table or "",
         o.last_seen.astimezone(UTC).isoformat().replace("+00:00", "Z") if o.last_seen else "", o.count]
        for o in observations)).encode()


# ----- matching ---------------------------------------------------------------------------------------------
def feed_label(feed: Mapping[str, str]) -> str:
    """``index=edr sourcetype=mde:*``: a feed as the evidence names it."""
    return " ".join(f"{k}={feed[k]}" for k in FEED_KEYS if feed.get(k))


def feed_matches(feed: Mapping[str, str], obs: FlowObservation) -> bool:
    """Every pattern the feed gives matches the observation's field (case-insensitive globs); a feed with no
    pattern matches nothing."""
    given = [(k, feed[k]) for k in FEED_KEYS if feed.get(k)]
    if not given:
        return False
    for key, pattern in given:
        value = getattr(obs, key)
        if value is None or _glob(pattern)(value.lower()) is None:
            return False
    return True


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str) -> Callable[[str], re.Match[str] | None]:
    return re.compile(fnmatch.translate(pattern.lower())).match


class _ObservationIndex:
    """One SIEM's observations sorted per field, so a feed's candidates are found by the literal prefix of its
    pattern (bisect) instead of a scan of every row: 300 devices against a 5,000-row tstats export stay fast."""

    def __init__(self, observations: Sequence[FlowObservation]) -> None:
        self.observations = observations
        self.sorted: dict[str, tuple[list[str], list[FlowObservation]]] = {}
        for key in FEED_KEYS:
            pairs = sorted(((v.lower(), o) for o in observations if (v := getattr(o, key))), key=lambda p: p[0])
            self.sorted[key] = ([p[0] for p in pairs], [p[1] for p in pairs])

    def candidates(self, feed: Mapping[str, str]) -> Sequence[FlowObservation]:
        best: Sequence[FlowObservation] = self.observations
        for key in FEED_KEYS:
            pattern = feed.get(key)
            if not pattern:
                continue
            prefix = re.split(r"[*?\[]", pattern.lower(), maxsplit=1)[0]
            values, obs = self.sorted[key]
            lo = bisect.bisect_left(values, prefix)
            hi = bisect.bisect_left(values, prefix + "\U0010ffff") if prefix else len(values)
            if hi - lo < len(best):
                best = obs[lo:hi]
        return best

    def matching(self, feed: Mapping[str, str]) -> list[FlowObservation]:
        return [o for o in self.candidates(feed) if feed_matches(feed, o)]


def _newest(observations: Sequence[FlowObservation]) -> FlowObservation | None:
    dated = [o for o in observations if o.last_seen is not None]
    return max(dated, key=lambda o: o.last_seen or datetime.min.replace(tzinfo=UTC)) if dated else None


def _feed_status(feed: Mapping[str, str], matched: Sequence[FlowObservation], as_of: datetime,
                 silent_after: timedelta) -> tuple[FlowState, datetime | None, str]:
    label = feed_label(feed)
    newest = _newest(matched)
    if newest is not None and newest.last_seen is not None:
        age = as_of - newest.last_seen
        if age > silent_after:
            return (FlowState.SILENT, newest.last_seen,
                    f"{label} silent since {format_time(newest.last_seen)} ({_days(age)} before "
                    f"{format_time(as_of)}; {newest.source})")
        return FlowState.FLOWING, newest.last_seen, f"{label} last event {format_time(newest.last_seen)} " \
                                                    f"({newest.source})"
    counted = [o for o in matched if o.count > 0]
    if counted:
        total = sum(o.count for o in counted)
        return (FlowState.UNKNOWN, None,
                f"{label} has {total:,} events but no event time ({counted[0].source}; export the last event "
                "time too, e.g. _data_stream/_stats)")
    where = f" ({matched[0].source})" if matched else ""
    return FlowState.NEVER_SEEN, None, f"{label} never seen{' (0 events)' if matched else ''}{where}"


def _days(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} days"


_RANK = {FlowState.FLOWING: 0, FlowState.SILENT: 1, FlowState.UNKNOWN: 2, FlowState.NEVER_SEEN: 3}


def _device_status(device: str, siem: str, feeds: Sequence[Mapping[str, str]],
                   observations: _ObservationIndex | None, as_of: datetime, silent_after: timedelta) -> FlowStatus:
    if not feeds:
        return FlowStatus(device, siem, FlowState.UNKNOWN, None,
                          f"no feeds declared for SIEM {siem} (add feeds: with its index / sourcetype / table)")
    if observations is None:
        return FlowStatus(device, siem, FlowState.UNKNOWN, None, f"no log-flow evidence loaded for SIEM {siem}")
    per_feed = [_feed_status(f, observations.matching(f), as_of, silent_after) for f in feeds]
    # the device reaches the SIEM when any of its feeds does: its state is its best feed's, the others are noted
    best = min(per_feed, key=lambda s: (_RANK[s[0]], -(s[1].timestamp() if s[1] else 0)))
    others = [text for state, _, text in per_feed if text != best[2] and state is not FlowState.FLOWING]
    evidence = "; ".join([best[2], *others])
    return FlowStatus(device, siem, best[0], best[1], evidence)


def match_flow(
    devices: Sequence[tuple[str, str, Sequence[Mapping[str, str]]]],
    observations: Sequence[FlowObservation],
    as_of: datetime,
    silent_after: timedelta,
) -> dict[tuple[str, str], FlowStatus]:
    """(device, SIEM) → its flow status. ``devices`` are (device name, SIEM id, that device's feeds for that SIEM:
    mappings with optional ``index`` / ``sourcetype`` / ``table`` glob patterns).

    * flowing: a matching observation's last event is at most ``silent_after`` before ``as_of``;
    * silent: the newest matching event is older than that;
    * never-seen: no observation of that SIEM matches any feed (or the ones that do counted 0 events);
    * unknown: no feeds declared for that SIEM, no evidence loaded for that SIEM at all, or events counted
      without a time (a ``_cat/indices`` export) — the claim in the inventory stands.
    """
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    by_siem: dict[str, list[FlowObservation]] = {}
    for obs in observations:
        by_siem.setdefault(obs.siem, []).append(obs)
    indexes = {siem: _ObservationIndex(found) for siem, found in by_siem.items()}
    return {(name, siem): _device_status(name, siem, feeds, indexes.get(siem), as_of, silent_after)
            for name, siem, feeds in devices}


def evidence_time(observations: Sequence[FlowObservation], siem: str) -> datetime | None:
    """The newest event any source of a SIEM shows: a good ``as_of`` for an export taken some time ago (silence is
    then measured against the moment of the export, not against today)."""
    newest = _newest([o for o in observations if o.siem == siem])
    return newest.last_seen if newest else None


def unknown_siems(observations: Sequence[FlowObservation], siem_ids: Iterable[str]) -> list[Issue]:
    """A warning per SIEM named in the evidence that the inventory does not declare (a misnamed export)."""
    known = set(siem_ids)
    first: dict[str, str] = {}
    for obs in observations:
        first.setdefault(obs.siem, obs.source)
    return [Issue(f"log-flow evidence for SIEM {siem!r}, which the inventory's siems: does not declare",
                  Location(src.rsplit(":", 1)[0]),
                  f"name the file after a SIEM id ({', '.join(sorted(known)) or 'none declared'}), e.g. "
                  f"{next(iter(sorted(known)), 'splunk')}.csv, or add a siem column", Severity.WARNING)
            for siem, src in first.items() if siem not in known]
