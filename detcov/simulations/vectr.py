"""VECTR test-case CSV export (SecurityRiskAdvisors VECTR, purple-team tracking).

Fields and outcome values follow VECTR's documentation (docs.vectr.io "Recording Defense Outcomes") and the
feature breakdowns in SecurityRiskAdvisors/VECTR ``media/`` (v4.2, v5.3, v7.1.1): a test case has a MITRE id, a
name/variant, start/stop times, target assets, an **Outcome** — legacy mode ``Blocked`` / ``Detected`` /
``Not Detected`` / ``TBD``, per-tool mode (VECTR 9.6+) ``Blocked`` / ``Alerted`` / ``Logged`` / ``None`` / ``N/A``
/ ``TBD`` — plus ``Alert Triggered`` (for Blocked), ``Activity Logged`` (for Not Detected), ``Alert Severity``,
``Detection Time`` and ``Outcome Notes``. Column names are matched case- and punctuation-insensitively with the
aliases below; columns detcov does not read are reported once.
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
    parse_time,
    required_time,
    resolve_technique,
    text_or_none,
)
from detcov.simulations.table import Row, Spec, fold, read_rows

SPEC: Spec = {
    "technique": ("MitreId", "Mitre ID", "MITRE ATT&CK ID", "Technique ID"),
    "test": ("Variant", "Test Case", "Test Case Name", "Name"),
    "outcome": ("Outcome",),
    "start": ("Start Time", "StartTime", "Start"),
    "stop": ("Stop Time", "StopTime", "Stop"),
    "detection_time": ("Detection Time", "DetectionTime"),
    "host": ("Target Assets", "Targets", "Target"),
    "alert_triggered": ("Alert Triggered",),
    "activity_logged": ("Activity Logged",),
    "severity": ("Alert Severity",),
    "alert_id": ("Alert ID", "AlertId", "Detection ID"),
    "notes": ("Outcome Notes",),
    "status": ("Status",),
    "system_group": ("System Group",),
    # known VECTR test-case fields detcov does not need (no warning)
    "_context": ("Assessment", "Campaign", "Method", "Objective", "Phase", "Tactic", "Tags", "Description",
                 "Source Assets", "Sources", "Source IPs", "Attacker Tools", "Defenses", "Expected Detection Layers",
                 "Detecting Defense Tools", "Operator Guidance", "Red Team Details", "Outcome Path", "References"),
}
REQUIRED = ("technique", "test", "outcome", "start")
SIGNATURE = frozenset(fold(n) for n in ("Outcome",))
# outcome -> (detected, blocked, note); absent: the value is an error
OUTCOMES: dict[str, tuple[bool | None, bool | None, str]] = {
    "blocked": (None, True, "VECTR outcome Blocked"),
    "detected": (True, False, "VECTR outcome Detected"),
    "alerted": (True, False, "VECTR outcome Alerted"),
    "not detected": (False, False, "VECTR outcome Not Detected"),
    "logged": (False, False, "VECTR outcome Logged: telemetry but no alert"),
    "none": (False, False, "VECTR outcome None"),
    "tbd": (None, None, "VECTR outcome TBD"),
    "n a": (None, None, "VECTR outcome N/A"),
    "": (None, None, ""),
}


def read(path: Path, text: str, kb: AttackKB, issues: IssueCollector) -> list[TestResult]:
    out: list[TestResult] = []
    for row in read_rows(path, text, SPEC, REQUIRED, "vectr", issues):
        where = Location(str(path), row.line)
        result = _result(row, where, kb, issues)
        if result is not None:
            out.append(result)
    return out


def _result(row: Row, where: Location, kb: AttackKB, issues: IssueCollector) -> TestResult | None:
    tid, moved = resolve_technique(kb, row.get("technique"), where, issues)
    date = required_time(row.get("start") or row.get("stop"), where, "Start Time",
                         "record when the test case ran (Start Time)", issues)
    outcome = OUTCOMES.get(fold(row.get("outcome")))
    if outcome is None:
        issues.error(f"Outcome is {row.get('outcome')!r}", where,
                     "use a VECTR outcome: Blocked, Detected, Alerted, Logged, Not Detected, None, N/A, TBD")
        return None
    detected, blocked, said = outcome
    if blocked and detected is None:
        detected = parse_flag(row.get("alert_triggered"), where, "Alert Triggered", issues)
    if tid is None or date is None:
        return None
    detection_time = parse_time(row.get("detection_time"), where, "Detection Time", issues)
    extra = [f"detected at {detection_time}" if detection_time else "",
             f"alert severity {row.get('severity')}" if row.get("severity") else "",
             f"activity logged: {row.get('activity_logged')}" if row.get("activity_logged") else "",
             f"status {row.get('status')}" if row.get("status") else ""]
    bare = NO_OUTCOME.replace("execution log only", "outcome not recorded in VECTR") if detected is None \
        and blocked is None else ""
    return TestResult(tid, row.get("test"), date, detected, blocked, str(where), host=text_or_none(row.get("host")),
                      system_group=text_or_none(row.get("system_group")), alert_id=text_or_none(row.get("alert_id")),
                      tool="vectr", note=join_notes(row.get("notes"), moved, said, *extra, bare))
