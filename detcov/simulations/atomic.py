"""Invoke-AtomicRedTeam's CSV execution log (``Invoke-AtomicTest … -LoggingModule Default-ExecutionLogger``).

Shape from redcanaryco/invoke-atomicredteam ``Public/Default-ExecutionLogger.psm1`` (Export-Csv -NoTypeInformation,
so every cell is quoted): ``Execution Time (UTC)`` (``%Y-%m-%dT%H:%M:%SZ``), ``Execution Time (Local)``,
``Technique``, ``Test Number``, ``Test Name``, ``Hostname``, ``IP Address``, ``Username``, ``GUID``, ``ProcessId``,
``ExitCode``. The log records executions only; a purple team adds its verdict as extra columns ``Detected``,
``Blocked``, ``AlertId`` (and optionally ``System Group``, ``Notes``), which detcov reads. Without them a row is kept
with a note and proves nothing.
"""

from __future__ import annotations

from pathlib import Path

from detcov.attack import AttackKB
from detcov.errors import IssueCollector, Location
from detcov.simulations.model import (
    NO_OUTCOME,
    TestResult,
    join_notes,
    parse_flag,
    required_time,
    resolve_technique,
    text_or_none,
)
from detcov.simulations.table import Spec, fold, read_rows

SPEC: Spec = {
    "time": ("Execution Time (UTC)",),
    "local": ("Execution Time (Local)",),
    "technique": ("Technique",),
    "number": ("Test Number",),
    "name": ("Test Name",),
    "host": ("Hostname",),
    "ip": ("IP Address",),
    "user": ("Username",),
    "guid": ("GUID",),
    "pid": ("ProcessId",),
    "exit": ("ExitCode",),
    # the purple team's outcome columns (not written by Invoke-AtomicRedTeam)
    "detected": ("Detected",),
    "blocked": ("Blocked",),
    "alert_id": ("AlertId", "Alert ID"),
    "system_group": ("System Group", "system_group"),
    "notes": ("Notes",),
}
REQUIRED = ("time", "technique", "number", "name", "host")
SIGNATURE = frozenset(fold(SPEC[f][0]) for f in ("time", "technique", "number", "name"))


def read(path: Path, text: str, kb: AttackKB, issues: IssueCollector) -> list[TestResult]:
    out: list[TestResult] = []
    for row in read_rows(path, text, SPEC, REQUIRED, "atomic-red-team", issues):
        where = Location(str(path), row.line)
        tid, moved = resolve_technique(kb, row.get("technique"), where, issues)
        date = required_time(row.get("time"), where, "Execution Time (UTC)",
                             "keep the log as Invoke-AtomicRedTeam wrote it", issues)
        detected = parse_flag(row.get("detected"), where, "Detected", issues)
        blocked = parse_flag(row.get("blocked"), where, "Blocked", issues)
        if tid is None or date is None:
            continue
        exit_code = row.get("exit")
        ran = f"exit code {exit_code}" if exit_code else ""
        bare = NO_OUTCOME if detected is None and blocked is None else ""
        out.append(TestResult(tid, f"{row.get('technique')}-{row.get('number')} {row.get('name')}".strip(), date,
                              detected, blocked, str(where), host=text_or_none(row.get("host")),
                              system_group=text_or_none(row.get("system_group")),
                              alert_id=text_or_none(row.get("alert_id")), tool="atomic-red-team",
                              note=join_notes(row.get("notes"), moved, ran, bare)))
    return out
