"""ATTiRe JSON execution logs (``Invoke-AtomicTest … -LoggingModule Attire-ExecutionLogger``, VECTR imports them).

Shape from redcanaryco/invoke-atomicredteam ``Public/Attire-ExecutionLogger.psm1`` (ATTiRe 1.1, Security Risk
Advisors): ``{"attire-version", "execution-data": {"execution-source", "execution-id", "execution-category": {name,
abbreviation}, "execution-command", "target": {user, host, ip, path}, "time-generated"}, "procedures": [{
"mitre-technique-id", "procedure-name", "procedure-id": {type, id}, "procedure-description", "order", "steps": [{
order, "time-start", "time-stop", executor, command, "process-id", "exit-code", "is-timeout", output}]}]}``.
The log has no outcome; detcov reads ``detected``, ``blocked``, ``alert-id``, ``system-group``, ``notes`` when a
purple team adds them to a procedure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from detcov.attack import AttackKB
from detcov.errors import DetcovError, IssueCollector
from detcov.simulations.jsondoc import KeyCheck, as_dict, as_list, at, outcome_of
from detcov.simulations.model import (
    NO_OUTCOME,
    TestResult,
    join_notes,
    report_unknown,
    required_time,
    resolve_technique,
    text_or_none,
)

TOP = ("attire-version", "execution-data", "procedures")
EXECUTION = ("execution-source", "execution-id", "execution-category", "execution-command", "target",
             "time-generated")
TARGET = ("user", "host", "ip", "path")
PROCEDURE = ("mitre-technique-id", "procedure-name", "procedure-id", "procedure-description", "order", "steps")
STEP = ("order", "time-start", "time-stop", "executor", "command", "process-id", "exit-code", "is-timeout", "output")


def is_attire(doc: Any) -> bool:
    return isinstance(doc, dict) and "attire-version" in doc


def read(path: Path, doc: Any, kb: AttackKB, issues: IssueCollector) -> list[TestResult]:
    if not isinstance(doc, dict) or not isinstance(doc.get("procedures"), list):
        raise DetcovError("ATTiRe log has no 'procedures' list", location=at(path, "$"),
                          hint="use the JSON that Attire-ExecutionLogger wrote")
    keys = KeyCheck()
    keys.check(doc, TOP, "$")
    execution = as_dict(doc.get("execution-data"))
    keys.check(execution, EXECUTION, "$.execution-data")
    target = as_dict(execution.get("target"))
    keys.check(target, TARGET, "$.execution-data.target")
    host = text_or_none(target.get("host"))
    generated = execution.get("time-generated")
    out: list[TestResult] = []
    for i, proc in enumerate(as_list(doc.get("procedures"))):
        where = at(path, f"$.procedures[{i}]")
        if not isinstance(proc, dict):
            issues.error("procedure is not an object", where, "use the JSON that Attire-ExecutionLogger wrote")
            continue
        keys.check(proc, PROCEDURE, "$.procedures[]")
        steps = [s for s in as_list(proc.get("steps")) if isinstance(s, dict)]
        for step in steps:
            keys.check(step, STEP, "$.procedures[].steps[]")
        result = _procedure(proc, steps, where, host, generated, kb, issues)
        if result is not None:
            out.append(result)
    report_unknown(keys.unknown, at(path, "$"), "ATTiRe fields", PROCEDURE, issues)
    return out


def _procedure(proc: dict[str, Any], steps: list[dict[str, Any]], where: Any, host: str | None, generated: Any,
               kb: AttackKB, issues: IssueCollector) -> TestResult | None:
    tid, moved = resolve_technique(kb, proc.get("mitre-technique-id"), where, issues)
    started = next((s.get("time-start") for s in steps if s.get("time-start")), generated)
    date = required_time(started, where, "time-start (and the log's time-generated)",
                         "use the JSON that Attire-ExecutionLogger wrote", issues)
    outcome = outcome_of(proc, where, issues)
    if tid is None or date is None:
        return None
    codes = ", ".join(str(s.get("exit-code")) for s in steps if s.get("exit-code") is not None)
    timeouts = any(s.get("is-timeout") is True for s in steps)
    bare = NO_OUTCOME if outcome.detected is None and outcome.blocked is None else ""
    name = f"{proc.get('mitre-technique-id')}-{proc.get('order')} {proc.get('procedure-name') or ''}".strip()
    return TestResult(tid, name, date, outcome.detected, outcome.blocked, str(where), host=host,
                      system_group=outcome.system_group, alert_id=outcome.alert_id, tool="attire",
                      note=join_notes(outcome.notes, moved, f"exit code {codes}" if codes else "",
                                      "timed out" if timeouts else "", bare))
