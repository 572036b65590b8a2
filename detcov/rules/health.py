"""Rule health ("correct configuration"): does a rule really detect, given what the institution collects?

A rule counts as detection only when it runs (enabled or experimental), maps to a usable ATT&CK technique, and
the telemetry it needs reaches the SIEM on at least one of its platforms. One :class:`RuleHealth` per rule:

* ``disabled``          the rule does not run (disabled, deprecated)
* ``unmapped``          no ATT&CK technique at all
* ``unknown-technique`` techniques written, none usable in the loaded ATT&CK (unknown / deprecated ids)
* ``missing-log-source`` none of its log-source alternatives is collected (``missing`` names what is lacking)
* ``unverified-log-source`` the rule declares no log source, or none the mapping tables know: cannot be
checked
* ``healthy``

A log-source need is met when one of its device types is collected (if the telemetry lists device types) *and*
its data components are collected on one of the rule's platforms (if the telemetry lists components). The
rule's
platforms are its own, else its log source's, else its techniques'.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from detcov.attack import AttackKB
from detcov.datasources.telemetry import CollectedTelemetry
from detcov.rules.model import LogSourceNeed, LogSourceReq, Rule


class HealthOutcome(StrEnum):
    HEALTHY = "healthy"
    DISABLED = "disabled"
    MISSING_LOG_SOURCE = "missing-log-source"
    UNMAPPED = "unmapped"
    UNKNOWN_TECHNIQUE = "unknown-technique"
    UNVERIFIED = "unverified-log-source"


@dataclass(frozen=True, slots=True)
class RuleHealth:
    rule: Rule
    outcome: HealthOutcome
    detail: str = ""
    missing: tuple[str, ...] = ()  # what is not collected, one line per log-source alternative

    @property
    def healthy(self) -> bool:
        return self.outcome is HealthOutcome.HEALTHY


def assess(rules: Iterable[Rule], kb: AttackKB, telemetry: CollectedTelemetry) -> list[RuleHealth]:
    """The health of each rule, in order."""
    return [assess_rule(rule, kb, telemetry) for rule in rules]


def rule_platforms(rule: Rule, kb: AttackKB) -> tuple[str, ...]:
    if rule.platforms:
        return rule.platforms
    found: dict[str, None] = {}
    for tid in rule.technique_ids:
        technique = kb.technique(tid)
        found.update(dict.fromkeys(technique.platforms if technique else ()))
    return tuple(found)


def assess_rule(rule: Rule, kb: AttackKB, telemetry: CollectedTelemetry) -> RuleHealth:
    if not rule.status.active:
        return RuleHealth(rule, HealthOutcome.DISABLED, rule.raw_status or rule.status.value)
    if not rule.techniques:
        return RuleHealth(rule, HealthOutcome.UNMAPPED, "no ATT&CK technique id in the rule")
    if not rule.technique_ids:
        notes = "; ".join(r.note for r in rule.unusable_techniques)
        return RuleHealth(
            rule,
            HealthOutcome.UNKNOWN_TECHNIQUE,
            notes,
            tuple(r.id or r.raw for r in rule.unusable_techniques),
        )
    mapped = [req for req in rule.log_sources if req.mapped]
    if not mapped:
        detail = (
            "declares no log source"
            if not rule.log_sources
            else "log source not in the mapping tables: " + ", ".join(rule.log_source_labels)
        )
        return RuleHealth(rule, HealthOutcome.UNVERIFIED, detail)
    platforms = rule_platforms(rule, kb)
    for req in mapped:
        if all(need_met(need, telemetry, platforms) for need in req.needs):
            return RuleHealth(rule, HealthOutcome.HEALTHY, f"{req.kind} {req.value} is collected")
    missing = tuple(describe_missing(req, telemetry, platforms, kb) for req in mapped)
    return RuleHealth(rule, HealthOutcome.MISSING_LOG_SOURCE, "none of its log sources is collected", missing)


def need_met(need: LogSourceNeed, telemetry: CollectedTelemetry, platforms: tuple[str, ...]) -> bool:
    if need.device_types and telemetry.device_types and not need.device_types & telemetry.device_types:
        return False
    if need.components and telemetry.components:
        where: tuple[str | None, ...] = platforms or (None,)
        return any(all(telemetry.has_component(dc, p) for dc in need.components) for p in where)
    return bool(need.device_types and telemetry.device_types)


def describe_missing(
    req: LogSourceReq, telemetry: CollectedTelemetry, platforms: tuple[str, ...], kb: AttackKB
) -> str:
    """``index logs-aws.cloudtrail-*: needs device aws-cloudtrail; Cloud Service Modification on IaaS``."""
    parts: list[str] = []
    for need in req.needs:
        if need_met(need, telemetry, platforms):
            continue
        if need.device_types and telemetry.device_types and not need.device_types & telemetry.device_types:
            parts.append("device " + " or ".join(sorted(need.device_types)))
        if need.components and telemetry.components:
            names = sorted(dc.name for c in need.components if (dc := kb.data_component(c)) is not None)
            parts.append(f"{' + '.join(names)} on {' or '.join(platforms) or 'any platform'}")
    return f"{req.kind} {req.value}: needs {'; '.join(parts) or 'an unmapped source'}"
