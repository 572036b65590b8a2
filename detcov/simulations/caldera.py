"""MITRE Caldera operation results: the operation report and the operation event logs (both JSON).

Shapes from mitre/caldera ``app/objects/c_operation.py``:

* ``Operation.report`` (GUI "Download report", ``POST /api/v2/operations/{id}/report``): ``{name, host_group:
  [agent…], start, steps: {paw: {steps: [{link_id, ability_id, command, plaintext_command, delegated, run, status,
  platform, executor, pid, description, name, attack: {tactic, technique_name, technique_id}, output?,
  agent_reported_time?}]}}, finish, planner, adversary, jitter, objectives, facts, skipped_abilities}``;
* ``Operation.event_logs`` (``…/event-logs``, also written to ``reports_dir/event_logs``): ``[{command,
  plaintext_command, delegated_timestamp, collected_timestamp, finished_timestamp, status, platform, executor, pid,
  agent_metadata: {paw, group, host, …}, ability_metadata: {ability_id, ability_name, ability_description},
  operation_metadata: {operation_name, operation_start, operation_adversary}, attack_metadata: {tactic,
  technique_name, technique_id}, output?, agent_reported_time?}]``.

Link status codes (``app/objects/secondclass/c_link.py``): 0 success, 1 error, 124 timeout ran; -2 discarded, -3
queued, -4 untrusted, -1 paused, -5 high-visibility never ran and are skipped. Caldera records no detection outcome:
detcov reads ``detected``, ``blocked``, ``alert_id``, ``system_group``, ``notes`` when a purple team adds them to a
step or event; without them a result is kept with a note and proves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detcov.attack import AttackKB
from detcov.errors import DetcovError, IssueCollector, Location
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

RAN = {0: "status 0 (success)", 1: "status 1 (error: the command failed, perhaps blocked)", 124: "status 124 (timeout)"}
REPORT = ("name", "host_group", "start", "steps", "finish", "planner", "adversary", "jitter", "objectives", "facts",
          "skipped_abilities")
STEP = ("link_id", "ability_id", "command", "plaintext_command", "delegated", "run", "status", "platform",
        "executor", "pid", "description", "name", "attack", "output", "agent_reported_time")
EVENT = ("command", "plaintext_command", "delegated_timestamp", "collected_timestamp", "finished_timestamp",
         "status", "platform", "executor", "pid", "agent_metadata", "ability_metadata", "operation_metadata",
         "attack_metadata", "output", "agent_reported_time")


@dataclass(frozen=True, slots=True)
class Link:
    """One executed link, whichever of the two shapes it came from."""

    technique: Any
    ability: str
    ability_id: str
    when: Any
    status: Any
    host: str | None
    obj: dict[str, Any]


def is_report(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("steps"), dict) and "host_group" in doc


def is_event_log(doc: Any) -> bool:
    return isinstance(doc, list) and bool(doc) and all(isinstance(e, dict) and "attack_metadata" in e for e in doc)


def read(path: Path, doc: Any, kb: AttackKB, issues: IssueCollector) -> list[TestResult]:
    keys = KeyCheck()
    if is_report(doc):
        links = _report_links(path, doc, keys)
    elif is_event_log(doc):
        links = _event_links(doc, keys)
    else:
        raise DetcovError("is neither a Caldera operation report nor its event logs", location=at(path, "$"),
                          hint="download the operation's report or event logs (JSON) from Caldera")
    out: list[TestResult] = []
    skipped = 0
    for json_path, link in links:
        where = at(path, json_path)
        if link.status not in RAN:
            skipped += 1
            continue
        result = _result(link, where, kb, issues)
        if result is not None:
            out.append(result)
    if skipped:
        issues.warning(f"{skipped} Caldera link(s) never ran (discarded, queued, paused or untrusted); skipped",
                       at(path, "$"), "only links with status 0, 1 or 124 are results")
    report_unknown(keys.unknown, at(path, "$"), "Caldera fields", STEP if is_report(doc) else EVENT, issues)
    return out


def _report_links(path: Path, doc: dict[str, Any], keys: KeyCheck) -> list[tuple[str, Link]]:
    keys.check(doc, REPORT, "$")
    hosts = {a.get("paw"): text_or_none(a.get("host")) for a in as_list(doc.get("host_group")) if isinstance(a, dict)}
    out: list[tuple[str, Link]] = []
    for paw, agent_steps in doc["steps"].items():
        for i, step in enumerate(as_list(as_dict(agent_steps).get("steps"))):
            if not isinstance(step, dict):
                raise DetcovError("step is not an object", location=at(path, f"$.steps.{paw}.steps[{i}]"),
                                  hint="download the operation report again from Caldera")
            keys.check(step, STEP, "$.steps.<paw>.steps[]")
            attack = as_dict(step.get("attack"))
            out.append((f"$.steps.{paw}.steps[{i}]",
                        Link(attack.get("technique_id"), str(step.get("name") or ""), str(step.get("ability_id") or ""),
                             step.get("run") or step.get("delegated"), step.get("status"), hosts.get(paw) or paw,
                             step)))
    return out


def _event_links(doc: list[dict[str, Any]], keys: KeyCheck) -> list[tuple[str, Link]]:
    out: list[tuple[str, Link]] = []
    for i, event in enumerate(doc):
        keys.check(event, EVENT, "$[]")
        ability, agent = as_dict(event.get("ability_metadata")), as_dict(event.get("agent_metadata"))
        out.append((f"$[{i}]", Link(as_dict(event.get("attack_metadata")).get("technique_id"),
                                    str(ability.get("ability_name") or ""), str(ability.get("ability_id") or ""),
                                    event.get("finished_timestamp") or event.get("delegated_timestamp"),
                                    event.get("status"), _host(agent), event)))
    return out


def _host(agent: dict[str, Any]) -> str | None:
    return text_or_none(agent.get("host")) or text_or_none(agent.get("paw"))


def _result(link: Link, where: Location, kb: AttackKB, issues: IssueCollector) -> TestResult | None:
    tid, moved = resolve_technique(kb, link.technique, where, issues)
    date = required_time(link.when, where, "run/delegated time", "download the operation results again from Caldera",
                         issues)
    outcome = outcome_of(link.obj, where, issues)
    if tid is None or date is None:
        return None
    bare = NO_OUTCOME if outcome.detected is None and outcome.blocked is None else ""
    test = f"{link.ability} [{link.ability_id}]" if link.ability_id else link.ability
    return TestResult(tid, test, date, outcome.detected, outcome.blocked, str(where), host=link.host,
                      system_group=outcome.system_group, alert_id=outcome.alert_id, tool="caldera",
                      note=join_notes(outcome.notes, moved, RAN[link.status], bare))
