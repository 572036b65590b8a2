"""Sigma v2 correlation rules (hand-written after the Sigma correlation specification v2.0): counted as rules with
their own tags and the log sources of the rules they reference; building blocks accounted for; health."""

from __future__ import annotations

from pathlib import Path

import pytest

from detcov.attack import AttackKB
from detcov.datasources.telemetry import CollectedTelemetry
from detcov.rules import HealthOutcome, LogSourceNeed, RuleSet, assess, read_rules

pytestmark = pytest.mark.attack_real

FAILED = """title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource: {product: windows, service: security}
detection: {selection: {EventID: [529, 4625]}, condition: selection}
"""
SUCCESS_LINUX = """title: Successful SSH login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
name: successful_login
logsource: {product: linux, service: auth}
detection: {keywords: ['Accepted password'], condition: keywords}
"""
CHAIN = """title: Many failed logins followed by a success
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
status: test
tags: [attack.credential-access, attack.t1110.001]
correlation:
    type: temporal_ordered
    rules: [multiple_failed_login, successful_login]
    group-by: [User]
    timespan: 10m
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
name: multiple_failed_login
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [User]
    timespan: 10m
    condition: {gte: 10}
---
""" + FAILED + "---\n" + SUCCESS_LINUX


def _read(tmp_path: Path, kb: AttackKB, **files: str) -> RuleSet:
    for name, text in files.items():
        (tmp_path / f"{name}.yml").write_text(text, encoding="utf-8")
    return read_rules(tmp_path, kb)


def test_chained_correlation_in_one_file(tmp_path: Path, kb18: AttackKB) -> None:
    rs = _read(tmp_path, kb18, mr_bruteforce=CHAIN)
    (rule,) = rs.rules
    (result,) = rs.files
    assert result.rules == 1 and result.items_skipped == 3  # every document accounted for
    assert rule.title == "Many failed logins followed by a success" and rule.severity == "high"
    assert rule.technique_ids == ("T1110.001",) and rule.tactics == ("credential-access",)
    assert rule.correlation is not None and rule.correlation.type == "temporal_ordered"
    assert rule.correlation.unresolved == () and rule.correlation.group_by == ("User",)
    (req,) = rule.log_sources  # temporal: both referenced log sources at once (through the chained event_count)
    assert [n.label for n in req.needs] == ["product:windows service:security", "product:linux service:auth"]
    assert set(rule.platforms) == {"Windows", "Linux"}
    assert "temporal_ordered of multiple_failed_login, successful_login by User within 10m" in rule.query
    skipped = [i.message for i in result.issues]
    assert any("Multiple failed logons" in m and "building block" in m for m in skipped)
    lines = sorted(i.location.line for i in result.issues if i.location and i.location.line)
    assert lines == [12, 22, 28]  # the first line of each document


def test_count_over_several_rules_needs_any_one(tmp_path: Path, kb18: AttackKB) -> None:
    corr = """title: Logins from many sources
id: c1
tags: [attack.t1110.003]
correlation:
    type: value_count
    rules: [failed_login, successful_login]
    group-by: [User]
    timespan: 1h
    condition: {field: SourceIp, gte: 20}
---
""" + FAILED + "---\n" + SUCCESS_LINUX
    (rule,) = _read(tmp_path, kb18, mr_spray=corr).rules
    assert [r.value for r in rule.log_sources] == ["product:windows service:security", "product:linux service:auth"]


def test_references_to_other_files_are_linked(tmp_path: Path, kb18: AttackKB) -> None:
    corr = """title: Brute force by id
id: c2
tags: [attack.t1110.001]
correlation: {type: event_count, rules: [53ba33fd-3a50-4468-a5ef-c583635cfa92, no_such_rule], group-by: [User],
              timespan: 5m, condition: {gte: 10}}
"""
    rs = _read(tmp_path, kb18, base=FAILED, mr_count=corr)
    by_id = {r.id: r for r in rs.rules}
    assert set(by_id) == {"c2", "53ba33fd-3a50-4468-a5ef-c583635cfa92"}  # the base rule stands on its own here
    linked = by_id["c2"]
    assert [r.value for r in linked.log_sources] == ["product:windows service:security"]
    assert linked.correlation is not None and linked.correlation.unresolved == ("no_such_rule",)
    assert any("no_such_rule: not found among the rules read" in n for n in linked.notes)


def test_generate_keeps_the_referenced_rules(tmp_path: Path, kb18: AttackKB) -> None:
    corr = """title: Count with generate
id: c3
tags: [attack.t1110]
correlation: {type: event_count, rules: [failed_login], group-by: [User], timespan: 5m, condition: {gte: 5},
              generate: true}
---
""" + FAILED
    rs = _read(tmp_path, kb18, mr_gen=corr)
    assert sorted(r.title for r in rs.rules) == ["Count with generate", "Single failed login"]


def _need_telemetry(needs: tuple[LogSourceNeed, ...]) -> CollectedTelemetry:
    by_platform: dict[str, frozenset[str]] = {}
    for need in needs:
        for platform in need.platforms:
            by_platform[platform] = by_platform.get(platform, frozenset()) | need.components
    return CollectedTelemetry(by_platform, {}, frozenset(d for n in needs for d in n.device_types))


def test_health_needs_every_log_source_of_a_temporal_correlation(tmp_path: Path, kb18: AttackKB) -> None:
    (rule,) = _read(tmp_path, kb18, mr_bruteforce=CHAIN).rules
    windows, linux = rule.log_sources[0].needs
    (both,) = assess([rule], kb18, _need_telemetry((windows, linux)))
    (one,) = assess([rule], kb18, _need_telemetry((windows,)))
    assert both.outcome is HealthOutcome.HEALTHY
    assert one.outcome is HealthOutcome.MISSING_LOG_SOURCE


def test_correlation_without_references_is_unverified(tmp_path: Path, kb18: AttackKB) -> None:
    corr = """title: Dangling
id: c4
tags: [attack.t1110]
correlation: {type: temporal, rules: [nowhere], group-by: [User], timespan: 5m}
"""
    rs = _read(tmp_path, kb18, mr_dangling=corr)
    (health,) = assess(rs.rules, kb18, _need_telemetry(()))
    assert health.outcome is HealthOutcome.UNVERIFIED and health.detail == "declares no log source"
