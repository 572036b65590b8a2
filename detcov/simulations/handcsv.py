"""The hand-written CSV of simulation results (detcov's own format, any purple-team tracker can export it).

Header (case-insensitive): ``technique, test, date, detected, blocked`` and optionally ``host, system_group,
alert_id, notes``. ``detected`` / ``blocked``: yes/no, true/false, 1/0; empty = not checked. ``date``: ISO 8601.
"""

from __future__ import annotations

from pathlib import Path

from detcov.attack import AttackKB
from detcov.errors import IssueCollector, Location
from detcov.simulations.model import TestResult, join_notes, parse_flag, required_time, resolve_technique, text_or_none
from detcov.simulations.table import Spec, read_rows

SPEC: Spec = {
    "technique": ("technique", "technique id"),
    "test": ("test", "test name"),
    "date": ("date", "time", "datetime"),
    "detected": ("detected",),
    "blocked": ("blocked",),
    "host": ("host", "hostname"),
    "system_group": ("system_group", "group"),
    "alert_id": ("alert_id", "alertid"),
    "notes": ("notes", "note", "comment"),
}
REQUIRED = ("technique", "test", "date", "detected", "blocked")


def read(path: Path, text: str, kb: AttackKB, issues: IssueCollector) -> list[TestResult]:
    out: list[TestResult] = []
    for row in read_rows(path, text, SPEC, REQUIRED, "csv", issues):
        where = Location(str(path), row.line)
        tid, moved = resolve_technique(kb, row.get("technique"), where, issues)
        date = required_time(row.get("date"), where, "date", "give the day the test ran (2025-11-12)", issues)
        detected = parse_flag(row.get("detected"), where, "detected", issues)
        blocked = parse_flag(row.get("blocked"), where, "blocked", issues)
        if tid is None or date is None:
            continue
        out.append(TestResult(tid, row.get("test"), date, detected, blocked, str(where),
                              host=text_or_none(row.get("host")), system_group=text_or_none(row.get("system_group")),
                              alert_id=text_or_none(row.get("alert_id")), tool="csv",
                              note=join_notes(row.get("notes"), moved)))
    return out
