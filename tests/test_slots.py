"""Models built slot by slot (hot paths: placed rules, shared rule health) equal those built by their __init__."""

from __future__ import annotations

import dataclasses

import pytest

from detcov.attack import IdResolution, IdStatus
from detcov.errors import Location
from detcov.rules import HealthOutcome, Rule, RuleFormat, RuleHealth, RuleStatus
from detcov.rules.health import GroupHealth
from detcov.rules.model import LogSourceNeed, LogSourceReq, rule_from_fields
from detcov.slots import slot_builder

T1 = IdResolution("T1059.001", "T1059.001", "T1059.001", IdStatus.CURRENT)
OLD = IdResolution("T1086", "T1086", "T1059.001", IdStatus.REVOKED)
NEED = LogSourceNeed("sigma windows/process_creation", frozenset({"Process Creation"}))


def _rule(**changes: object) -> Rule:
    fields = {"format": RuleFormat.SIGMA, "location": Location("r.yml", 3), "id": "r1", "title": "Encoded PowerShell",
              "status": RuleStatus.EXPERIMENTAL, "raw_status": "experimental", "severity": "high",
              "techniques": (OLD, T1), "tactics": ("execution",), "log_sources": (LogSourceReq("sigma", "x", (NEED,)),),
              "platforms": ("Windows",), "notes": ("n",), "applicable_to": ("A",), "siems": ("splunk",)}
    return Rule(**{**fields, **changes})  # type: ignore[arg-type]


def test_rule_from_fields_equals_the_constructor_and_derives_technique_ids() -> None:
    rule = _rule()
    values = [getattr(rule, f.name) for f in dataclasses.fields(Rule) if f.init]
    built = rule_from_fields(values)
    assert built == rule and built.technique_ids == ("T1059.001",) == rule.technique_ids
    assert {f.name: getattr(built, f.name) for f in dataclasses.fields(Rule)} == \
        {f.name: getattr(rule, f.name) for f in dataclasses.fields(Rule)}
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.id = "other"  # type: ignore[misc]


def test_copies_with_changes_rederive_what_depends_on_them() -> None:
    rule = _rule(applicable_to=(), siems=())
    assert rule.placed(("B",), ("elastic",)) == _rule(applicable_to=("B",), siems=("elastic",))
    assert rule._with(techniques=(OLD,)).technique_ids == ("T1059.001",)
    assert rule._with(techniques=()).technique_ids == ()


def test_slot_builder_sets_every_field_init_false_ones_too() -> None:
    rule = _rule()
    group = GroupHealth("A", "splunk", HealthOutcome.HEALTHY, "", devices=("edr",))
    made = RuleHealth(rule, HealthOutcome.HEALTHY, "", (), (group,))
    built = slot_builder(RuleHealth)((rule, HealthOutcome.HEALTHY, "", (), (group,), {"A": group},
                                      "Encoded PowerShell [sigma]"))
    assert built == made and built.label == made.label and built.by_group == made.by_group
    with pytest.raises(ValueError):
        slot_builder(RuleHealth)((rule,))  # every field, or nothing
