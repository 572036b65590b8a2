"""The history store: one SQLite file, one row set per recorded quarter.

Tables: ``quarters`` (fingerprints, ATT&CK version, the whole ``summary.json``), ``kpis`` (one row per KPI, for
SQL users), ``techniques`` / ``rules`` / ``devices`` (the scan's tables, same column names) and ``extra_tables``
(gaps and recommendations as JSON rows). A quarter is written in one ``BEGIN IMMEDIATE`` … ``COMMIT``
transaction with SQLite's rollback journal: a process killed mid-write leaves the previous state intact, and the
file stays a single file at rest (no WAL side files).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detcov.coverage.summary import Summary
from detcov.errors import DetcovError, Location
from detcov.fileio import check_output, make_folder
from detcov.outputs.history.quarters import parse_quarter, quarter_key
from detcov.outputs.history.snapshot import TABLES, Snapshot, check_snapshot, read_scan, row_from, to_cell

SCHEMA_VERSION = 2  # 2: devices.reaches (the SIEMs a device's logs really reach); a schema-1 store is migrated
# when written to and read as it is (missing columns take the row's defaults)
APPLICATION_ID = 0x64637631  # "dcv1" in SQLite's header: `PRAGMA application_id` says the file is detcov's
_SQL_TYPES = {"bool": "INTEGER", "int": "INTEGER", "float": "REAL"}
KPI_NAMES = ("visibility", "detection", "blocking", "validated")


def _columns(cls: type[Any]) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _create_table(name: str, cls: type[Any]) -> str:
    cols = ", ".join(f"{f.name} {_SQL_TYPES.get(str(f.type), 'TEXT')}" for f in dataclasses.fields(cls))
    return (f"CREATE TABLE IF NOT EXISTS {name} (quarter TEXT NOT NULL, {cols});"
            f"CREATE INDEX IF NOT EXISTS {name}_quarter ON {name}(quarter);")


SCHEMA = "".join([
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    "CREATE TABLE IF NOT EXISTS quarters (quarter TEXT PRIMARY KEY, recorded_at TEXT NOT NULL, source TEXT,"
    " attack_version TEXT, attack_sha256 TEXT, inventory_sha256 TEXT, rules_sha256 TEXT, institution TEXT,"
    " summary_json TEXT NOT NULL);",
    "CREATE TABLE IF NOT EXISTS kpis (quarter TEXT NOT NULL, kpi TEXT NOT NULL, covered INTEGER, total INTEGER,"
    " percent REAL, weighted_percent REAL, PRIMARY KEY (quarter, kpi));",
    "CREATE TABLE IF NOT EXISTS extra_tables (quarter TEXT NOT NULL, name TEXT NOT NULL, rows_json TEXT NOT NULL,"
    " PRIMARY KEY (quarter, name));",
    *(_create_table(name, cls) for name, cls in TABLES.items()),
])
_PER_QUARTER = ("quarters", "kpis", "extra_tables", *TABLES)


def _broken_store(store: Path, exc: Exception) -> DetcovError:
    return DetcovError(f"not a readable detcov history store ({exc})", location=Location.of(store),
                       hint="pass the SQLite file written by `detcov history record`, or a new path")


@contextmanager
def connect(store: Path, *, write: bool) -> Iterator[sqlite3.Connection]:
    """A connection in autocommit mode (transactions are explicit); read-only unless ``write``."""
    store = Path(store)
    if not write and not store.is_file():
        raise DetcovError("no history store here", location=Location.of(store),
                          hint="record a scan first: `detcov history record --scan-dir OUT --quarter 2026Q3`")
    if write:
        check_output(store)
        make_folder(store.parent)
    # Readers open read-write when they may, so SQLite can roll back a hot journal left by a killed writer.
    mode = "rwc" if write else ("rw" if os.access(store, os.W_OK) else "ro")
    uri = f"{store.resolve().as_uri()}?mode={mode}"
    try:
        with closing(sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)) as conn:
            conn.execute("PRAGMA journal_mode=DELETE" if write else "PRAGMA query_only=1")
            _check_schema(conn, store, write)
            yield conn
    except sqlite3.DatabaseError as exc:
        raise _broken_store(store, exc) from exc


def _check_owner(conn: sqlite3.Connection, store: Path) -> None:
    """Refuse a SQLite file of another application (detcov would add its tables to it)."""
    if conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID:
        return
    tables = sorted(n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    if not tables:
        return  # a new, empty database
    if {"meta", "quarters"} <= set(tables) and conn.execute(
            "SELECT 1 FROM meta WHERE key = 'schema_version'").fetchone():
        return  # a detcov store written before the application id was set
    raise DetcovError(f"not a detcov history store: another application's SQLite database (tables: "
                      f"{', '.join(tables[:6])}{' …' if len(tables) > 6 else ''})", location=Location.of(store),
                      hint="choose a new file for the history store (--store, or 'history:' in the scan config)")


def _stored_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _migrate(conn: sqlite3.Connection) -> str:
    """SQL that brings an older store's tables to this schema (columns added since; their old rows read NULL)."""
    out = []
    for name, cls in TABLES.items():
        have = set(_stored_columns(conn, name))
        if have:
            out += [f"ALTER TABLE {name} ADD COLUMN {f.name} {_SQL_TYPES.get(str(f.type), 'TEXT')};"
                    for f in dataclasses.fields(cls) if f.name not in have]
    return "".join(out)


def _check_schema(conn: sqlite3.Connection, store: Path, write: bool) -> None:
    _check_owner(conn, store)
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() \
        if _stored_columns(conn, "meta") else None
    if row is not None and int(row[0]) > SCHEMA_VERSION:
        raise DetcovError(f"history schema {row[0]} is newer than this detcov understands",
                          location=Location.of(store), hint="upgrade detcov")
    if write:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in (_migrate(conn) + SCHEMA).split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    elif row is None:
        raise DetcovError("history schema ? is newer than this detcov understands", location=Location.of(store),
                          hint="upgrade detcov")


# ----- writing -------------------------------------------------------------------------------------
def _insert_rows(conn: sqlite3.Connection, name: str, quarter: str, rows: Sequence[Any]) -> None:
    if not rows:
        return
    cols = _columns(type(rows[0]))
    sql = f"INSERT INTO {name} (quarter, {', '.join(cols)}) VALUES ({', '.join('?' * (len(cols) + 1))})"
    conn.executemany(sql, ([quarter, *(to_cell(getattr(r, c)) for c in cols)] for r in rows))


def _insert_quarter(conn: sqlite3.Connection, snap: Snapshot) -> None:
    s = snap.summary
    conn.execute("INSERT INTO quarters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (snap.quarter, snap.recorded_at or datetime.now(UTC).isoformat(timespec="seconds"), snap.source,
                  s.attack.version, s.attack.sha256, s.scope.inventory_sha256, s.scope.rules_sha256,
                  s.scope.institution, s.model_dump_json()))
    conn.executemany("INSERT INTO kpis VALUES (?, ?, ?, ?, ?, ?)",
                     [(snap.quarter, k, r.covered, r.total, r.percent, r.weighted_percent)
                      for k in KPI_NAMES for r in [getattr(s.kpis, k)]])
    conn.executemany("INSERT INTO extra_tables VALUES (?, ?, ?)",
                     [(snap.quarter, n, json.dumps([dict(r) for r in rows], ensure_ascii=False))
                      for n, rows in snap.extra.items()])


def write_snapshot(store: Path, snap: Snapshot, *, replace: bool = False) -> None:
    """Store one quarter atomically; :class:`DetcovError` if it is there already and not ``replace``."""
    quarter = parse_quarter(snap.quarter)
    snap = dataclasses.replace(snap, quarter=quarter)
    problems = check_snapshot(snap)
    if problems:
        raise DetcovError(issues=problems)
    with connect(store, write=True) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            exists = conn.execute("SELECT 1 FROM quarters WHERE quarter = ?", (quarter,)).fetchone()
            if exists and not replace:
                raise DetcovError(f"{quarter} is already recorded", location=Location.of(store),
                                  hint="pass --replace to overwrite it")
            for table in _PER_QUARTER:
                conn.execute(f"DELETE FROM {table} WHERE quarter = ?", (quarter,))
            _insert_quarter(conn, snap)
            for name in TABLES:
                _insert_rows(conn, name, quarter, getattr(snap, name))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def record_scan(store: Path, quarter: str, scan_dir: Path, *, replace: bool = False) -> None:
    """Record the scan folder ``scan_dir`` as ``quarter`` (``2026Q3``) in the history store ``store``."""
    write_snapshot(Path(store), read_scan(Path(scan_dir), parse_quarter(quarter)), replace=replace)


# ----- reading -------------------------------------------------------------------------------------
def stored_quarters(store: Path) -> list[str]:
    with connect(store, write=False) as conn:
        found = [q for (q,) in conn.execute("SELECT quarter FROM quarters")]
    return sorted(found, key=quarter_key)


def _read_rows(conn: sqlite3.Connection, name: str, quarter: str) -> tuple[Any, ...]:
    """The rows of one quarter; a column an older schema lacks takes the row's default."""
    cls = TABLES[name]
    stored = set(_stored_columns(conn, name))
    cols = [c for c in _columns(cls) if c in stored]
    cursor = conn.execute(f"SELECT {', '.join(cols)} FROM {name} WHERE quarter = ? ORDER BY rowid", (quarter,))
    return tuple(row_from(cls, dict(zip(cols, values, strict=True))) for values in cursor)


def read_snapshot(store: Path, quarter: str) -> Snapshot:
    quarter = parse_quarter(quarter)
    with connect(store, write=False) as conn:
        row = conn.execute("SELECT recorded_at, source, summary_json FROM quarters WHERE quarter = ?",
                           (quarter,)).fetchone()
        if row is None:
            have = ", ".join(sorted((q for (q,) in conn.execute("SELECT quarter FROM quarters")), key=quarter_key))
            raise DetcovError(f"{quarter} is not recorded (recorded: {have or 'none'})", location=Location.of(store),
                              hint="record it with `detcov history record --quarter " + quarter + "`")
        tables = {name: _read_rows(conn, name, quarter) for name in TABLES}
        extra = {name: tuple(json.loads(rows)) for name, rows in
                 conn.execute("SELECT name, rows_json FROM extra_tables WHERE quarter = ?", (quarter,))}
    return Snapshot(quarter, _summary(row[2], store, quarter), tables["techniques"], tables["rules"],
                    tables["devices"], extra, recorded_at=row[0], source=row[1] or "")


def _summary(text: str | bytes, store: Path, quarter: str) -> Summary:
    try:
        return Summary.model_validate_json(text)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise DetcovError(f"the summary stored for {quarter} is corrupt ({str(exc).splitlines()[0]})",
                          location=Location.of(store),
                          hint=f"record {quarter} again with `detcov history record --replace`") from exc


def read_summaries(store: Path) -> dict[str, Summary]:
    """Every quarter's summary, in quarter order (cheap: no tables)."""
    with connect(store, write=False) as conn:
        rows = list(conn.execute("SELECT quarter, summary_json FROM quarters"))
    return {q: _summary(js, store, q) for q, js in sorted(rows, key=lambda r: quarter_key(r[0]))}
