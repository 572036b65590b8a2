"""The PDCA part of the history store: each quarter's action plan and KPI targets, as they stood when recorded.

Tables (created on first use, beside the scan tables; a store without them simply has no actions yet):

* ``action_states`` — one row per action per quarter (id, title, owner, due, status, opened, closed, source, …);
* ``kpi_targets`` — the target of each KPI that applied to the quarter, and the amber margin;
* ``plan_files`` — which file each was read from and its SHA-256 (for the report's evidence appendix).

Recording a quarter's plan replaces that quarter's rows in one transaction; other quarters are untouched, so the
report can say which of last quarter's actions were done, are late or were dropped.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detcov.outputs.history.quarters import parse_quarter, quarter_key
from detcov.outputs.history.store import connect

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS action_states (quarter TEXT NOT NULL, id TEXT NOT NULL, title TEXT NOT NULL,"
    " owner TEXT, due TEXT, status TEXT NOT NULL, opened TEXT, closed TEXT, source TEXT, techniques TEXT,"
    " kpi TEXT, detail TEXT, note TEXT, gap TEXT, PRIMARY KEY (quarter, id));"
    "CREATE TABLE IF NOT EXISTS kpi_targets (quarter TEXT NOT NULL, kpi TEXT NOT NULL, target REAL NOT NULL,"
    " amber_margin REAL NOT NULL, PRIMARY KEY (quarter, kpi));"
    "CREATE TABLE IF NOT EXISTS plan_files (quarter TEXT NOT NULL, kind TEXT NOT NULL, path TEXT, sha256 TEXT,"
    " recorded_at TEXT NOT NULL, PRIMARY KEY (quarter, kind));"
)
_TABLES = ("action_states", "kpi_targets", "plan_files")


@dataclass(frozen=True, slots=True)
class ActionState:
    """One action as it stood in one quarter."""

    id: str
    title: str
    owner: str
    due: str
    status: str  # open | in-progress | done | dropped
    opened: str = ""
    closed: str = ""
    source: str = ""
    techniques: tuple[str, ...] = ()
    kpi: str = ""
    detail: str = ""
    note: str = ""
    gap: str = ""  # the gap class the action was seeded from


@dataclass(frozen=True, slots=True)
class Target:
    kpi: str
    target: float
    amber_margin: float


@dataclass(frozen=True, slots=True)
class PlanFileRecord:
    kind: str  # actions | targets
    path: str
    sha256: str


@dataclass(frozen=True, slots=True)
class PlanHistory:
    """Every recorded quarter's actions and targets, oldest quarter first."""

    actions: Mapping[str, tuple[ActionState, ...]]
    targets: Mapping[str, tuple[Target, ...]]
    files: Mapping[str, tuple[PlanFileRecord, ...]]

    def quarters(self) -> list[str]:
        return sorted(set(self.actions) | set(self.targets), key=quarter_key)


_COLUMNS = [f.name for f in fields(ActionState)]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _ensure(conn: sqlite3.Connection) -> None:
    conn.executescript(f"BEGIN IMMEDIATE;{SCHEMA}COMMIT;")


def record_plan(store: Path, quarter: str, *, actions: Sequence[ActionState] | None = None,
                targets: Sequence[Target] | None = None, files: Iterable[PlanFileRecord] = ()) -> None:
    """Store ``quarter``'s action plan and/or targets (each replaces that quarter's previous record)."""
    quarter = parse_quarter(quarter)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with connect(store, write=True) as conn:
        _ensure(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if actions is not None:
                conn.execute("DELETE FROM action_states WHERE quarter = ?", (quarter,))
                conn.executemany(
                    f"INSERT INTO action_states (quarter, {', '.join(_COLUMNS)}) VALUES "
                    f"({', '.join('?' * (len(_COLUMNS) + 1))})",
                    [(quarter, *(";".join(v) if isinstance(v, tuple) else v
                                 for v in (getattr(a, c) for c in _COLUMNS))) for a in actions])
            if targets is not None:
                conn.execute("DELETE FROM kpi_targets WHERE quarter = ?", (quarter,))
                conn.executemany("INSERT INTO kpi_targets VALUES (?, ?, ?, ?)",
                                 [(quarter, t.kpi, t.target, t.amber_margin) for t in targets])
            for f in files:
                conn.execute("INSERT OR REPLACE INTO plan_files VALUES (?, ?, ?, ?, ?)",
                             (quarter, f.kind, f.path, f.sha256, now))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _has_tables(conn: sqlite3.Connection) -> bool:
    names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return set(_TABLES) <= names


def read_plans(store: Path) -> PlanHistory:
    """Every quarter's recorded actions and targets (empty when none were ever recorded)."""
    actions: dict[str, list[ActionState]] = {}
    targets: dict[str, list[Target]] = {}
    files: dict[str, list[PlanFileRecord]] = {}
    with connect(store, write=False) as conn:
        if not _has_tables(conn):
            return PlanHistory({}, {}, {})
        for row in conn.execute(f"SELECT quarter, {', '.join(_COLUMNS)} FROM action_states ORDER BY quarter, rowid"):
            values: dict[str, Any] = {k: "" if v is None else v for k, v in zip(_COLUMNS, row[1:], strict=True)}
            values["techniques"] = tuple(t for t in str(values["techniques"]).split(";") if t)
            actions.setdefault(row[0], []).append(ActionState(**values))
        for q, kpi, target, margin in conn.execute("SELECT quarter, kpi, target, amber_margin FROM kpi_targets"):
            targets.setdefault(q, []).append(Target(kpi, float(target), float(margin)))
        for q, kind, path, sha in conn.execute("SELECT quarter, kind, path, sha256 FROM plan_files"):
            files.setdefault(q, []).append(PlanFileRecord(kind, path or "", sha or ""))
    order = sorted(set(actions) | set(targets) | set(files), key=quarter_key)
    return PlanHistory({q: tuple(actions[q]) for q in order if q in actions},
                       {q: tuple(targets[q]) for q in order if q in targets},
                       {q: tuple(files[q]) for q in order if q in files})
