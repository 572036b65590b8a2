"""VECTR test-case CSV export (SecurityRiskAdvisors VECTR, purple-team tracking).

Shape from SecurityRiskAdvisors/vectr-tools ``vectr_tools/csv_import_example/sample_data/DEMO_PURPLE_CE.csv`` (a
VECTR export) and its ``models.py``: ``AssessmentGroup, Campaign, Phase, Variant, MitreID, CapecId, Method, Status,
Outcome, Alert Severity, Alert Triggered, Activity Logged, Outcome Notes, Detection Recommendations, SourceIps,
TargetAssets, ExpectedDetectionLayers, DetectingTools, Start Time, Start Time Epoch, Stop Time, Stop Time Epoch,
Detection Time, Detection Time Epoch, Organizations, Tags, Objective, Command, References, Liklihood, Risk,
Internal/External, Stealth, Attack Vector, Attack Complexity, Privileges Required, Attacker Tools``. Outcome is
``Blocked`` / ``Detected`` / ``NotDetected`` / ``TBD`` (per-tool mode, VECTR 9.6+, also ``Alerted`` / ``Logged`` /
``None`` / ``N/A``, docs.vectr.io "Recording Defense Outcomes"); Alert Triggered and Activity Logged are Yes / No /
TBD. ``TargetAssets`` may list several hosts: one result per host. detcov also reads ``Alert ID`` and
``System Group`` columns if a team adds them.
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
    "technique": ("MitreID",),
    "test": ("Variant",),
    "outcome": ("Outcome",),
    "start": ("Start Time",),
    "start_epoch": ("Start Time Epoch",),
    "stop": ("Stop Time",),
    "stop_epoch": ("Stop Time Epoch",),
    "detection_time": ("Detection Time",),
    "detection_epoch": ("Detection Time Epoch",),
    "hosts": ("TargetAssets",),
    "alert_triggered": ("Alert Triggered",),
    "activity_logged": ("Activity Logged",),
    "severity": ("Alert Severity",),
    "notes": ("Outcome Notes",),
    "status": ("Status",),
    "alert_id": ("Alert ID",),         # not a VECTR column: a team's addition
    "system_group": ("System Group",),  # not a VECTR column: a team's addition
    # VECTR columns detcov does not need (known, so not reported)
    "_context": ("AssessmentGroup", "Campaign", "Phase", "CapecId", "Method", "Detection Recommendations",
                 "SourceIps", "ExpectedDetectionLayers", "DetectingTools", "Organizations", "Tags", "Objective",
                 "Command", "References", "Liklihood", "Risk", "Internal/External", "Stealth", "Attack Vector",
                 "Attack Complexity", "Privileges Required", "Attacker Tools"),
}
REQUIRED = ("technique", "test", "outcome", "start")
SIGNATURE = frozenset(fold(n) for n in ("MitreID", "Variant", "Outcome"))
# folded outcome -> (detected, blocked, note); anything else is an error
OUTCOMES: dict[str, tuple[bool | None, bool | None, str]] = {
    "blocked": (None, True, "VECTR outcome Blocked"),
    "detected": (True, False, "VECTR outcome Detected"),
    "alerted": (True, False, "VECTR outcome Alerted"),
    "notdetected": (False, False, "VECTR outcome NotDetected"),
    "logged": (False, False, "VECTR outcome Logged: telemetry but no alert"),
    "none": (False, False, "VECTR outcome None"),
    "tbd": (None, None, "VECTR outcome TBD"),
    "na": (None, None, "VECTR outcome N/A"),
    "": (None, None, ""),
}


def read(path: Path, text: str, kb: AttackKB, issues: IssueCollector) -> list[TestResult]:
    out: list[TestResult] = []
    untagged = 0
    for row in read_rows(path, text, SPEC, REQUIRED, "vectr", issues):
        if not row.get("technique"):
            untagged += 1  # VECTR test cases need not carry a MITRE id
            continue
        out += _results(row, Location(str(path), row.line), kb, issues)
    if untagged:
        issues.warning(f"{untagged} VECTR test case(s) have no MitreID; skipped", Location(str(path)),
                       "map the test cases to ATT&CK techniques in VECTR to count them")
    return out


def _results(row: Row, where: Location, kb: AttackKB, issues: IssueCollector) -> list[TestResult]:
    tid, moved = resolve_technique(kb, row.get("technique"), where, issues)
    date = required_time(row.get("start") or row.get("start_epoch") or row.get("stop") or row.get("stop_epoch"),
                         where, "Start Time", "record when the test case ran (Start Time)", issues)
    outcome = OUTCOMES.get(fold(row.get("outcome")))
    if outcome is None:
        issues.error(f"Outcome is {row.get('outcome')!r}", where,
                     "use a VECTR outcome: Blocked, Detected, NotDetected, TBD (or Alerted, Logged, None, N/A)")
        return []
    detected, blocked, said = outcome
    if blocked and detected is None:
        detected = parse_flag(row.get("alert_triggered"), where, "Alert Triggered", issues)
    if tid is None or date is None:
        return []
    detection_time = parse_time(row.get("detection_time") or row.get("detection_epoch"), where, "Detection Time",
                                issues)
    extra = [f"detected at {detection_time}" if detected and detection_time else "",
             f"alert severity {row.get('severity')}" if fold(row.get("severity")) not in ("", "tbd") else "",
             f"activity logged: {row.get('activity_logged')}" if fold(row.get("activity_logged")) not in ("", "tbd")
             else "", f"status {row.get('status')}" if row.get("status") else ""]
    bare = NO_OUTCOME.replace("execution log only", "outcome not recorded in VECTR") \
        if detected is None and blocked is None else ""
    note = join_notes(row.get("notes"), moved, said, *extra, bare)
    hosts: list[str | None] = [h.strip() for h in row.get("hosts").split(",") if h.strip()] or [None]
    return [TestResult(tid, row.get("test"), date, detected, blocked, str(where), host=host,
                       system_group=text_or_none(row.get("system_group")), alert_id=text_or_none(row.get("alert_id")),
                       tool="vectr", note=join_notes(note, f"target {i} of {len(hosts)}" if len(hosts) > 1 else ""))
            for i, host in enumerate(hosts, start=1)]
